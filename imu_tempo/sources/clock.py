"""Device clock -> host clock mapping, for display only.

Rep timing in imu-tempo always uses the *device* clock (sample timestamps and
sequence numbers).  The host clock only answers two questions:

* "when, on this computer, did that sample happen?" (display, latency),
* "how long was the device away?" when it came back with a restarted clock,
  so that no device time exists for the outage.

Arrival times are a poor clock: USB and BLE deliver packets in bunches and the
host scheduler adds tens of milliseconds now and then.  But delays are never
negative, so the packets that arrived fastest lie on a straight line
``host = device + offset + skew * device``.  :class:`ClockMap` keeps the
minimum of ``host - device`` per window of device time (the *lower envelope*)
and fits offset and skew through those minima, so bunching and load only make
points *higher* and do not bias the fit.

Everything here is plain arithmetic on floats: no threads, no I/O.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

__all__ = ["ClockMap"]


class ClockMap:
    """Online device-to-host time mapping from the lower envelope of arrival offsets.

    Parameters
    ----------
    window_s : float
        Width of one envelope window in device seconds; the minimum offset per
        window is kept.  About one second keeps a few minimum-delay packets per
        window at any practical packet rate.
    max_windows : int
        How many windows (the most recent ones) the fit uses.  With 1 s windows
        the default covers the last five minutes, plenty to estimate a crystal's
        drift (10-100 ppm) while following slow temperature changes.

    Notes
    -----
    Not thread-safe: one owner feeds and queries it (the decoder that owns it).
    The mapping is ``host_s = device_s + offset_s + skew * (device_s - ref_s)``;
    before two windows exist the skew is taken as zero.
    """

    def __init__(self, *, window_s: float = 1.0, max_windows: int = 300) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be positive, got {window_s!r}")
        if max_windows < 2:
            raise ValueError(f"max_windows must be >= 2, got {max_windows!r}")
        self.window_s = float(window_s)
        # (window index, device_s at the minimum, minimum host-device offset)
        self._windows: deque[list[float]] = deque(maxlen=max_windows)
        self._points = 0
        self._dirty = True
        self._ref_s = 0.0
        self._offset_s = 0.0
        self._skew = 0.0

    # -- feeding -------------------------------------------------------------------
    def add(self, *, device_s: float, host_s: float) -> None:
        """Record that the sample stamped ``device_s`` had arrived by host time ``host_s``.

        Parameters
        ----------
        device_s : float
            Device (session) time of the newest sample in the packet, seconds.
        host_s : float
            Host monotonic time at which the packet was read, seconds.
        """
        if not (math.isfinite(device_s) and math.isfinite(host_s)):
            return
        offset = host_s - device_s
        w = math.floor(device_s / self.window_s)
        if self._windows and self._windows[-1][0] == w:
            if offset < self._windows[-1][2]:
                self._windows[-1][1] = device_s
                self._windows[-1][2] = offset
        elif self._windows and w < self._windows[-1][0]:
            # Device time went backwards (should not happen: callers rebase first).
            self._windows.clear()
            self._windows.append([w, device_s, offset])
        else:
            self._windows.append([w, device_s, offset])
        self._points += 1
        self._dirty = True

    def reset(self) -> None:
        """Forget everything (a different device, or a new session)."""
        self._windows.clear()
        self._points = 0
        self._dirty = True

    # -- queries -------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once any point was added."""
        return self._points > 0

    @property
    def points(self) -> int:
        """Number of (device, host) pairs added."""
        return self._points

    @property
    def skew(self) -> float:
        """Host seconds per device second, minus one (positive: the device clock is slow)."""
        self._fit()
        return self._skew

    @property
    def skew_ppm(self) -> float:
        """:attr:`skew` in parts per million."""
        return self.skew * 1e6

    def to_host(self, device_s: float) -> float:
        """Host monotonic time (seconds) at which device time ``device_s`` happened.

        Raises
        ------
        RuntimeError
            If no point was added yet.
        """
        self._require()
        self._fit()
        return device_s + self._offset_s + self._skew * (device_s - self._ref_s)

    def to_device(self, host_s: float) -> float:
        """Device time (seconds) that corresponds to host time ``host_s``."""
        self._require()
        self._fit()
        # host = d + off + skew (d - ref)  ->  d = (host - off + skew ref) / (1 + skew)
        return (host_s - self._offset_s + self._skew * self._ref_s) / (1.0 + self._skew)

    def latency_s(self, *, device_s: float, host_s: float) -> float:
        """How long after it happened (by the mapping) a sample was seen at ``host_s``."""
        return host_s - self.to_host(device_s)

    # -- internals -----------------------------------------------------------------
    def _require(self) -> None:
        if not self._windows:
            raise RuntimeError("ClockMap has no points yet")

    def _fit(self) -> None:
        if not self._dirty or not self._windows:
            return
        arr = np.asarray([(d, o) for _, d, o in self._windows], dtype=float)
        d, o = arr[:, 0], arr[:, 1]
        ref = float(d.mean())
        if len(d) >= 2 and float(np.ptp(d)) > 0:
            x = d - ref
            slope = float(np.dot(x, o - o.mean()) / np.dot(x, x))
            # A slope of -1 would mean the host clock stands still; clamp far below it.
            slope = max(slope, -0.999)
        else:
            slope = 0.0
        resid = o - (o.mean() + slope * (d - ref))
        # Delays are never negative, so the envelope touches the lowest minimum.
        self._offset_s = float(o.mean() + resid.min())
        self._skew = slope
        self._ref_s = ref
        self._dirty = False
