"""Place decoded frames on the session's device-time axis, and find what is missing.

Every BLE profile hands over frames of ``n`` samples with (at most) one device timestamp each:
of the *first* sample (our NUS firmware, Movesense) or of the *last* one (Polar PMD).
:class:`Timeline` turns that into one time per sample and detects lost data.

Rules (device time drives everything; the host clock is only used across a reconnect
when the device clock itself cannot be trusted):

* Times are the device clock in seconds, unwrapped (u32 counters wrap), relative to the
  first sample of the session (``t = 0``).  The raw device time of ``t = 0`` is kept in
  :attr:`Timeline.origin_raw_s`.
* "last" timestamps are spread the way Polar's SDK does it: with the previous frame's
  last-sample time ``p`` and this frame's ``ts``, the samples sit at ``p + k (ts - p)/n``,
  ``k = 1..n``.  This follows the device's real sample rate, drift included.
* "first" timestamps are spread forward with the current estimate of the device's sample
  period (learned from consecutive frames, starting at ``1/fs_hz``).
* A frame that starts later than one period after the previous sample opens a **gap**:
  its samples are placed from its own timestamp at the nominal spacing (never stretched
  over the hole), and ``dropped`` = the number of sample periods missing.
* Sequence counters, when present, name lost notifications (``lost_frames``); the sample
  count in a gap always comes from time.
* A device clock that runs backwards or jumps implausibly (a device reset, a clock set by
  another app) is re-anchored: the gap is then estimated from host arrival times and the
  placement says so (``reanchored``).

Not thread-safe: call it from the consumer (one task).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .profiles.base import Frame

#: Smoothing of the learned sample period (weight of the newest observation).
_PERIOD_ALPHA = 0.2
#: A learned period may differ from nominal by at most this fraction (else the observation is ignored).
_PERIOD_TOLERANCE = 0.2
#: Device time may run ahead of host time by at most this factor plus slack before we call it a
#: clock jump (generous: host arrival times are bunched, and simulators run faster than real time).
_JUMP_FACTOR = 10.0
_JUMP_SLACK_S = 60.0


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a frame's samples sit on the session time axis.

    Attributes
    ----------
    t_s : ndarray, shape (n,)
        Session device time of each sample (s), strictly increasing and after every earlier sample.
    dropped : int
        Samples missing immediately before this frame (0 when contiguous).
    gap_start_s, gap_end_s : float or None
        Time of the last sample before the gap and the first one after it (when ``dropped``).
    lost_frames : int
        Notifications missing according to the sequence counter (0 without a counter).
    reanchored : str or None
        Why the device clock could not be followed (device reset, clock jump); None normally.
    duplicate : bool
        The frame repeats one already placed (same sequence number); ``t_s`` is empty.
    """

    t_s: np.ndarray
    dropped: int = 0
    gap_start_s: float | None = None
    gap_end_s: float | None = None
    lost_frames: int = 0
    reanchored: str | None = None
    duplicate: bool = False


class Timeline:
    """Session time axis for one device (see the module docstring for the rules).

    Parameters
    ----------
    fs_hz : float
        Nominal sample rate the device was started at.
    """

    def __init__(self, *, fs_hz: float) -> None:
        if not (fs_hz > 0):
            raise ValueError(f"fs_hz must be positive, got {fs_hz!r}")
        self.fs_hz = float(fs_hz)
        self.period_s = 1.0 / self.fs_hz
        self.origin_raw_s: float | None = None
        self._last_t: float | None = None  # session time of the last placed sample
        self._last_host_s: float | None = None
        self._prev_first_t: float | None = None  # for "first" refs: previous frame's first-sample time
        self._prev_n = 0
        self._wrap_offset = 0.0
        self._last_raw: float | None = None
        self._last_seq: int | None = None
        self._reconnected_after_s: float | None = None
        self.samples_placed = 0
        self.samples_dropped = 0
        self.frames_lost = 0

    # -- public -----------------------------------------------------------------------------------

    @property
    def last_t_s(self) -> float | None:
        """Session time of the newest sample placed so far."""
        return self._last_t

    def set_rate(self, fs_hz: float) -> None:
        """The device was (re)started at another nominal rate (e.g. after a reconnect)."""
        self.fs_hz = float(fs_hz)
        self.period_s = 1.0 / self.fs_hz

    def on_reconnect(self, *, host_gap_s: float) -> None:
        """Mark that the next frame comes from a new connection, ``host_gap_s`` after the last one.

        Sequence counters may have restarted; device time is still trusted unless it ran
        backwards or jumped far beyond the host's view of the outage.
        """
        self._reconnected_after_s = max(0.0, float(host_gap_s))
        self._last_seq = None
        self._prev_first_t = None

    def place(self, frame: Frame, *, host_s: float) -> Placement:
        """Place one frame; ``host_s`` is its arrival time on the host (``time.monotonic()``)."""
        n = len(frame)
        lost_frames, duplicate = self._check_seq(frame)
        if duplicate:
            return Placement(t_s=np.empty(0), duplicate=True)
        if frame.t_ref is None or frame.ref is None:
            placement = self._place_untimed(n, host_s)
        else:
            placement = self._place_timed(frame, n, host_s)
        if lost_frames and not placement.dropped:
            # The counter says notifications went missing but time shows no hole: they
            # carried no samples we can place.  Still report them.
            placement = Placement(
                t_s=placement.t_s, dropped=0, lost_frames=lost_frames, reanchored=placement.reanchored
            )
        elif lost_frames:
            placement = Placement(
                t_s=placement.t_s,
                dropped=placement.dropped,
                gap_start_s=placement.gap_start_s,
                gap_end_s=placement.gap_end_s,
                lost_frames=lost_frames,
                reanchored=placement.reanchored,
            )
        self._last_host_s = host_s
        self._reconnected_after_s = None
        if n:
            self._last_t = float(placement.t_s[-1])
        self.samples_placed += n
        self.samples_dropped += placement.dropped
        self.frames_lost += lost_frames
        return placement

    # -- internals --------------------------------------------------------------------------------

    def _check_seq(self, frame: Frame) -> tuple[int, bool]:
        if frame.seq is None:
            return 0, False
        seq, last = int(frame.seq), self._last_seq
        self._last_seq = seq
        if last is None:
            return 0, False
        step = (seq - last) % frame.seq_mod
        if step == 0:
            self._last_seq = last
            return 0, True
        if step > frame.seq_mod // 2:  # counter went backwards: device restarted its stream
            return 0, False
        return step - 1, False

    def _unwrap(self, frame: Frame) -> float:
        raw = float(frame.t_ref)  # type: ignore[arg-type]
        if frame.t_wrap_s and self._last_raw is not None:
            # A drop of more than half the wrap period is a wrap, not a reset.
            if raw + self._wrap_offset < self._last_raw - frame.t_wrap_s / 2:
                self._wrap_offset += frame.t_wrap_s
        value = raw + self._wrap_offset
        self._last_raw = value
        return value

    def _place_timed(self, frame: Frame, n: int, host_s: float) -> Placement:
        raw = self._unwrap(frame)
        period = self.period_s
        if self.origin_raw_s is None:
            first_raw = raw if frame.ref == "first" else raw - (n - 1) * period
            self.origin_raw_s = first_raw
        t_ref = raw - self.origin_raw_s
        first_t = t_ref if frame.ref == "first" else t_ref - (n - 1) * period
        last = self._last_t
        if last is None:  # the very first frame of the session
            return self._forward(first_t, n, frame.ref, t_ref)

        reanchored = self._implausible(first_t, last, host_s)
        if reanchored is not None:
            # Shift the origin so that this frame ends where the host clock says it should:
            # its last sample arrived ``host_gap`` after the previous frame's last sample.
            host_gap = self._host_gap(host_s)
            missing = max(0, int(round(host_gap / period)) - n)
            new_first = last + (missing + 1) * period
            self.origin_raw_s += first_t - new_first
            return self._gap_placement(new_first, n, last, missing, reanchored=reanchored)

        if frame.ref == "last":
            span = t_ref - last
            missing = int(round(span / period)) - n
            if missing <= 0:
                step = span / n
                if abs(step - period) <= _PERIOD_TOLERANCE * period:
                    self._learn(step)
                t = last + step * np.arange(1, n + 1)
                return Placement(t_s=t)
            return self._gap_placement(t_ref - (n - 1) * period, n, last, missing)

        # ref == "first"
        if self._prev_first_t is not None and self._prev_n:
            observed = (first_t - self._prev_first_t) / self._prev_n
            if abs(observed - period) <= _PERIOD_TOLERANCE * period:
                self._learn(observed)
                period = self.period_s
        gap = first_t - last
        missing = int(round(gap / period)) - 1
        if missing <= 0:
            first_t = max(first_t, last + 0.5 * period)  # never overlap the previous frame
            return self._forward(first_t, n, "first", t_ref)
        placement = self._gap_placement(first_t, n, last, missing)
        self._prev_first_t, self._prev_n = first_t, n
        return placement

    def _forward(self, first_t: float, n: int, ref: str | None, t_ref: float) -> Placement:
        period = self.period_s
        t = first_t + period * np.arange(n)
        if ref == "first":
            self._prev_first_t, self._prev_n = first_t, n
        return Placement(t_s=t)

    def _gap_placement(
        self, first_t: float, n: int, last: float, missing: int, *, reanchored: str | None = None
    ) -> Placement:
        t = first_t + self.period_s * np.arange(n)
        return Placement(
            t_s=t,
            dropped=int(missing),
            gap_start_s=last,
            gap_end_s=float(t[0]) if n else first_t,
            reanchored=reanchored,
        )

    def _place_untimed(self, n: int, host_s: float) -> Placement:
        """Protocols without device time: count samples; only a reconnect can show a gap."""
        period = self.period_s
        last = self._last_t
        if last is None:
            self.origin_raw_s = 0.0
            return Placement(t_s=period * np.arange(n))
        if self._reconnected_after_s is not None:
            missing = max(0, int(round(self._host_gap(host_s) / period)) - n)
            if missing:
                first = last + (missing + 1) * period
                return self._gap_placement(first, n, last, missing, reanchored="no device clock")
        return Placement(t_s=last + period * np.arange(1, n + 1))

    def _host_gap(self, host_s: float) -> float:
        if self._reconnected_after_s is not None:
            return self._reconnected_after_s
        if self._last_host_s is None:
            return self.period_s
        return max(self.period_s, host_s - self._last_host_s)

    def _implausible(self, first_t: float, last: float, host_s: float) -> str | None:
        period = self.period_s
        device_gap = first_t - last
        if device_gap < -0.5 * period - 1e-9:
            return f"device clock went back {-device_gap:.3f} s (device reset?)"
        host_gap = (
            self._reconnected_after_s
            if self._reconnected_after_s is not None
            else (host_s - self._last_host_s if self._last_host_s is not None else 0.0)
        )
        if device_gap > _JUMP_FACTOR * host_gap + _JUMP_SLACK_S:
            return f"device clock jumped ahead {device_gap:.1f} s in {host_gap:.1f} s of host time (clock set?)"
        return None

    def _learn(self, observed: float) -> None:
        self.period_s = (1 - _PERIOD_ALPHA) * self.period_s + _PERIOD_ALPHA * observed
