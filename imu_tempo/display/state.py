"""The live view's state: engine events and sample blocks folded into one small JSON document.

The web page, the terminal table and the sound cues all show the same thing:
the last rep, the reps of the current set against the limits, the tempo state,
the set summary once the set ends, and the health of the link.  ``LiveView``
keeps that state; :meth:`LiveView.snapshot` is the whole of it as JSON (the
web page renders nothing else, so a reloaded page or a reconnected socket is
exactly up to date with one message).

Threads: every method runs in the event loop's thread (where ``on_event`` is
called); nothing here blocks or awaits.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..outputs import event_to_json
from ..types import (
    Event,
    FailureEvent,
    GapEvent,
    Rep,
    RepEvent,
    SampleBlock,
    SetEndEvent,
    StatusEvent,
    WarningEvent,
)

#: Link states shown to the athlete, from the sources' status events.
LINK_STATES = {
    "streaming": "streaming",
    "resumed": "streaming",
    "lost": "lost",
    "reconnecting": "reconnecting",
    "ended": "ended",
}
#: Seconds of host time over which the sample rate is measured.
RATE_WINDOW_S = 2.0


def rep_state(rep: Rep) -> str:
    """``"failure"``, ``"warning"`` or ``"ok"``: the colour a rep is shown in."""
    if rep.failure is not None:
        return "failure"
    if rep.warning:
        return "warning"
    return "ok"


class LiveView:
    """What a live display shows, updated event by event.

    Parameters
    ----------
    threshold_s : float
        Absolute limit of a rep's measure (the 1.2 s line), seconds.
    slowdown : float
        Trend limit as a fraction above the set's reference (0.25 = 25 % slower).
    warning_margin : float
        Fraction of a limit within which a rep is a warning.
    measure : {"rep", "concentric"}
        What is timed against the limits (and shown large).
    source : str
        Name of the source, for the header.
    stale_s : float
        A streaming link that delivered no block for this long (host seconds) is
        shown as ``"stalled"`` (the source's own watchdog reports the loss later).
    clock : callable returning float
        Monotonic host clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        threshold_s: float,
        slowdown: float,
        warning_margin: float,
        measure: str,
        source: str = "",
        stale_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold_s = float(threshold_s)
        self.slowdown = float(slowdown)
        self.warning_margin = float(warning_margin)
        self.measure = measure
        self.source = source
        self.stale_s = float(stale_s)
        self._clock = clock
        self.seq = 0
        self.set_index: int | None = None
        self.reps: list[Rep] = []
        self.failure: dict[str, Any] | None = None
        self.summary: dict[str, Any] | None = None
        self.sets_done = 0
        self.total_reps = 0
        self.link_state = "waiting"
        self.link_message = "waiting for the sensor"
        self.fs_hz: float | None = None
        self.samples = 0
        self.dropped = 0
        self.gaps = 0
        self.last_event: dict[str, Any] | None = None
        self._last_block_at: float | None = None
        self._arrivals: deque[tuple[float, int]] = deque()

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> LiveView:
        """A view judging reps as ``settings`` (an :class:`~imu_tempo.settings.Settings`) does."""
        return cls(threshold_s=settings.threshold_s, slowdown=settings.slowdown,
                   warning_margin=settings.warning_margin, measure=settings.measure, **kw)

    # -- input ----------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Fold one engine or status event into the view."""
        self.seq += 1
        self.last_event = event_to_json(event)
        if isinstance(event, RepEvent):
            rep = event.rep
            if rep.set_index != self.set_index:
                self._new_set(rep.set_index)
            self.reps = [r for r in self.reps if r.index != rep.index] + [rep]
            self.total_reps += 1
        elif isinstance(event, WarningEvent):
            self._replace(event.rep)
        elif isinstance(event, FailureEvent):
            if event.rep.set_index != self.set_index:
                self._new_set(event.rep.set_index)
            self._replace(event.rep)
            self.failure = {"rep": event.first_failure_rep, "reason": event.reason}
        elif isinstance(event, SetEndEvent):
            s = event.summary
            if s.index == self.set_index or self.set_index is None:
                self.set_index = s.index
                self.reps = list(s.reps)
            self.sets_done += 1
            js = s.to_json()
            js.pop("reps", None)
            self.summary = js
        elif isinstance(event, GapEvent):
            self.gaps += 1
        elif isinstance(event, StatusEvent):
            state = LINK_STATES.get(event.state)
            if state is not None:
                self.link_state = state
                self.link_message = event.message
            fs = event.details.get("fs_hz")
            if isinstance(fs, (int, float)) and fs > 0:
                self.fs_hz = float(fs)

    def on_block(self, block: SampleBlock) -> None:
        """Count one block (sample rate, drops, data age)."""
        now = self._clock()
        n = len(block)
        self.samples += n
        self.dropped += int(block.dropped)
        self.fs_hz = float(block.fs_hz)
        self._last_block_at = now
        self._arrivals.append((now, n))
        while self._arrivals and now - self._arrivals[0][0] > RATE_WINDOW_S:
            self._arrivals.popleft()
        if self.link_state in ("waiting", "stalled"):
            self.link_state = "streaming"

    def _new_set(self, index: int) -> None:
        self.set_index = index
        self.reps = []
        self.failure = None
        self.summary = None

    def _replace(self, rep: Rep) -> None:
        if rep.set_index == self.set_index:
            self.reps = [rep if r.index == rep.index else r for r in self.reps]

    # -- output ---------------------------------------------------------------------

    def rate_hz(self) -> float | None:
        """Samples per second of host time over the last ``RATE_WINDOW_S`` (None before 2 blocks)."""
        if len(self._arrivals) < 2:
            return None
        now = self._clock()
        t0 = self._arrivals[0][0]
        span = max(now, self._arrivals[-1][0]) - t0
        if span <= 0:
            return None
        return sum(n for _, n in list(self._arrivals)[1:]) / span

    def link(self) -> dict[str, Any]:
        """Link health: state, message, nominal and measured rate (Hz), dropped samples, data age (s)."""
        age = None if self._last_block_at is None else self._clock() - self._last_block_at
        state = self.link_state
        message = self.link_message
        if state == "streaming" and age is not None and age > self.stale_s:
            state = "stalled"
            message = f"no data for {age:.1f} s"
        rate = self.rate_hz() if state == "streaming" else None
        return {
            "state": state,
            "message": message,
            "fs_hz": self.fs_hz,
            "rate_hz": None if rate is None else round(rate, 1),
            "samples": self.samples,
            "dropped": self.dropped,
            "gaps": self.gaps,
            "data_age_s": None if age is None else round(age, 3),
        }

    def trend_limit_s(self) -> float | None:
        """The current set's trend limit in seconds (reference x (1 + slowdown)), if it has a reference."""
        for rep in reversed(self.reps):
            if rep.reference_s is not None:
                return rep.reference_s * (1.0 + self.slowdown)
        return None

    def set_state(self) -> str:
        """``"failure"`` once the set failed, else the last rep's state, else ``"idle"``."""
        if self.failure is not None:
            return "failure"
        if not self.reps:
            return "idle"
        return rep_state(self.reps[-1])

    def rep_json(self, rep: Rep) -> dict[str, Any]:
        value = rep.measure(self.measure)  # type: ignore[arg-type]
        return {
            "index": rep.index,
            "set": rep.set_index,
            "value_s": None if value is None else round(value, 4),
            "duration_s": round(rep.duration_s, 4),
            "concentric_s": None if rep.concentric_s is None else round(rep.concentric_s, 4),
            "slowdown": None if rep.slowdown is None else round(rep.slowdown, 4),
            "trend_limit_s": None if rep.reference_s is None else round(rep.reference_s * (1 + self.slowdown), 4),
            "state": rep_state(rep),
            "failure": rep.failure,
            "gap": rep.gap,
        }

    def snapshot(self) -> dict[str, Any]:
        """The whole view as a JSON-ready dict (what the page renders)."""
        reps = [self.rep_json(r) for r in sorted(self.reps, key=lambda r: r.index)]
        trend = self.trend_limit_s()
        return {
            "seq": self.seq,
            "source": self.source,
            "limits": {
                "threshold_s": self.threshold_s,
                "trend_limit_s": None if trend is None else round(trend, 4),
                "slowdown": self.slowdown,
                "warning_margin": self.warning_margin,
                "measure": self.measure,
            },
            "set": {
                "index": self.set_index,
                "rep_count": len(reps),
                "reps": reps,
                "state": self.set_state(),
                "failure": self.failure,
            },
            "last_rep": reps[-1] if reps else None,
            "summary": self.summary,
            "sets_done": self.sets_done,
            "total_reps": self.total_reps,
            "link": self.link(),
            "event": self.last_event,
        }
