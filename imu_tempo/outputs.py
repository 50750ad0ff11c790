"""Turning engine events into what people and scripts read.

``event_to_json`` is the JSONL contract of ``--jsonl``: one object per event,
``{"event": "rep"|"warning"|"failure"|"set_end"|"status"|"gap", ...}``, with
the same rep fields as the analysis JSON.  ``TextPrinter`` writes one plain
line per event (works in a pipe); the rich terminal view builds on the same
events.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from .types import (
    Event,
    FailureEvent,
    GapEvent,
    RepEvent,
    SetEndEvent,
    StatusEvent,
    WarningEvent,
    _r,
)


def event_to_json(event: Event) -> dict[str, Any]:
    """One event as a JSON-ready dict (the ``--jsonl`` contract)."""
    if isinstance(event, RepEvent):
        return {"event": "rep", **event.rep.to_json()}
    if isinstance(event, WarningEvent):
        return {"event": "warning", "limit": event.limit, **event.rep.to_json()}
    if isinstance(event, FailureEvent):
        return {
            "event": "failure",
            "reason": event.reason,
            "first_failure_rep": event.first_failure_rep,
            **event.rep.to_json(),
        }
    if isinstance(event, SetEndEvent):
        return {"event": "set_end", **event.summary.to_json(), "ended_at_s": _r(event.summary.ended_at_s)}
    if isinstance(event, GapEvent):
        g = event.gap
        return {
            "event": "gap",
            "start_s": _r(g.start_s),
            "end_s": _r(g.end_s),
            "duration_s": _r(g.duration_s),
            "missing": g.missing,
        }
    if isinstance(event, StatusEvent):
        out: dict[str, Any] = {"event": "status", "state": event.state, "message": event.message}
        if event.at_s is not None:
            out["at_s"] = _r(event.at_s)
        out.update(event.details)
        return out
    raise TypeError(f"not an imu-tempo event: {event!r}")


class JsonlPrinter:
    """Writes one JSON object per line and flushes, so a pipe sees each event at once."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event_to_json(event), separators=(",", ":")) + "\n")
        self.stream.flush()


class TextPrinter:
    """Plain one-line-per-event output for terminals and pipes."""

    def __init__(self, stream: TextIO | None = None, *, measure: str = "rep") -> None:
        self.stream = stream or sys.stdout
        self.measure = measure

    def __call__(self, event: Event) -> None:
        line = format_event(event)
        if line:
            self.stream.write(line + "\n")
            self.stream.flush()


def format_event(event: Event) -> str:
    if isinstance(event, RepEvent):
        r = event.rep
        conc = f"{r.concentric_s:5.2f}s" if r.concentric_s is not None else "   -  "
        trend = f"{r.slowdown * 100:+5.0f}%" if r.slowdown is not None else "     "
        flags = []
        if r.failure:
            flags.append(f"FAIL ({r.failure})")
        elif r.warning:
            flags.append("warning")
        if r.gap:
            flags.append("gap in data")
        return (
            f"set {r.set_index} rep {r.index:2d}  {r.duration_s:5.2f}s  concentric {conc}  "
            f"trend {trend}  at {r.start_s:8.2f}s  {' '.join(flags)}".rstrip()
        )
    if isinstance(event, WarningEvent):
        return f"  ! rep {event.rep.index} is close to the {event.limit} limit"
    if isinstance(event, FailureEvent):
        return (
            f"  >>> TEMPO FAILURE in set {event.rep.set_index} at rep {event.first_failure_rep} "
            f"({event.reason}): the set is over for power work"
        )
    if isinstance(event, SetEndEvent):
        s = event.summary
        if s.first_failure_rep is not None:
            how = f"tempo failure at rep {s.first_failure_rep} ({s.failure_reason})"
        else:
            how = s.end_reason
        best = min((r.duration_s for r in s.reps), default=float("nan"))
        return f"== set {s.index}: {s.rep_count} reps, best {best:.2f}s, {how}"
    if isinstance(event, GapEvent):
        g = event.gap
        return f"  ~ gap in data: {g.duration_s:.3f}s ({g.missing} samples missing) at {g.start_s:.2f}s"
    if isinstance(event, StatusEvent):
        return f"[{event.state}] {event.message}"
    return ""
