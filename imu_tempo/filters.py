"""Streaming filters with their state in plain sight.

``StreamingFilter`` wraps ``scipy.signal.lfilter``/``sosfilt`` with an explicit
``zi`` that starts at the first sample's level, so the output does not ring
from zero at start-up.  Filtering a signal in chunks gives the result of one
pass to floating-point rounding (about 1e-15) (the defining test in ``tests/unit/test_filters.py``).

``smoothing_fir`` designs the engine's light, *linear-phase* smoother: its
output is the input smoothed symmetrically around the sample ``delay`` samples
back, so rep boundaries are not shifted by filter phase.
"""

from __future__ import annotations

import bisect
from collections import deque

import numpy as np
from scipy import signal


class StreamingFilter:
    """A causal IIR (second-order sections) or FIR filter applied block by block.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6), optional
        Second-order sections (from ``scipy.signal.butter(..., output="sos")``).
    fir : ndarray, shape (n_taps,), optional
        FIR taps.  Give exactly one of ``sos`` and ``fir``.
    """

    def __init__(self, *, sos: np.ndarray | None = None, fir: np.ndarray | None = None) -> None:
        if (sos is None) == (fir is None):
            raise ValueError("give exactly one of sos= or fir=")
        self.sos = sos
        self.fir = fir
        self.zi: np.ndarray | None = None  # None until the first sample seeds it

    def reset(self) -> None:
        """Forget the state; the next sample seeds it again (used after a long gap)."""
        self.zi = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Filter the next samples of a 1-D signal; returns an array of the same length."""
        if x.shape[0] == 0:
            return x.astype(np.float64, copy=True)
        if self.fir is not None:
            taps = self.fir
            if taps.shape[0] == 1:
                return x * float(taps[0])  # a single tap has no state
            # FIR state = the last len(taps) - 1 inputs (start-up: the first sample's level).
            # Each output is the same dot product whatever the block split.
            if self.zi is None:
                self.zi = np.full(taps.shape[0] - 1, float(x[0]))
            buf = np.concatenate((self.zi, x))
            self.zi = buf[-(taps.shape[0] - 1) :]
            return np.convolve(buf, taps[::-1], mode="valid")
        if self.zi is None:
            self.zi = self._steady_state(float(x[0]))
        y, self.zi = signal.sosfilt(self.sos, x, zi=self.zi)
        return y

    def _steady_state(self, level: float) -> np.ndarray:
        if self.sos is not None:
            return signal.sosfilt_zi(self.sos) * level
        return signal.lfilter_zi(self.fir, 1.0) * level


def smoothing_fir(*, fs_hz: float, half_width_s: float) -> tuple[np.ndarray, int]:
    """A symmetric Hann smoothing kernel and its delay in samples.

    Parameters
    ----------
    fs_hz : float
        Sample rate of the signal.
    half_width_s : float
        Half the kernel's length in seconds.  Rates too low for a kernel of
        at least three taps get the identity (no smoothing, no delay).

    Returns
    -------
    taps : ndarray
        Normalised to unit DC gain.
    delay : int
        Group delay in samples (``(len(taps) - 1) // 2``).
    """
    if fs_hz <= 0:
        raise ValueError(f"fs_hz must be positive, got {fs_hz}")
    half = int(round(half_width_s * fs_hz))
    if half < 1:
        return np.ones(1), 0
    taps = np.hanning(2 * half + 3)[1:-1]
    taps /= taps.sum()
    return taps, half


def sliding_windows(x: np.ndarray, w: int) -> np.ndarray:
    """View ``v`` of a C-contiguous 1-D array with ``v[j] = x[j : j + w]``.

    ``numpy.lib.stride_tricks.sliding_window_view`` without its argument handling, which
    costs more than the windows' work on the engine's short blocks.  Read it; never write to it.
    """
    return np.ndarray((x.shape[0] - w + 1, w), dtype=x.dtype, buffer=x, strides=(x.strides[0],) * 2)


def diff_from(prev: float, x: np.ndarray) -> np.ndarray:
    """``np.diff(x, prepend=prev)`` (the same subtractions) without its overhead on short blocks."""
    d = np.empty(x.shape[0])
    d[0] = x[0] - prev
    np.subtract(x[1:], x[:-1], out=d[1:])
    return d


class SaturationWatch:
    """Notices the first time a sensor sits at the limit of its range (block by block).

    A saturated axis returns its full-scale value for as long as the true value is beyond it:
    ``run`` or more identical samples at the largest ``|value|`` the axis has shown so far, and at
    least ``min_level`` (the smallest full scale such sensors have: a resting axis repeats its
    maximum too).  The rule of :func:`imu_tempo.sources.recording.saturated`, made causal: it can
    only use the maximum so far, which a clipping sensor reaches the first time it clips.
    """

    def __init__(self, *, min_level: float, run: int = 3) -> None:
        self.min_level = float(min_level)
        self.run = int(run)
        self.level: float | None = None  # the limit, once found
        self._top: np.ndarray | None = None
        self._tail: np.ndarray | None = None

    def feed(self, x: np.ndarray) -> int | None:
        """Index into ``x`` (n, axes) of the sample that completes the first saturated run, or None."""
        if self.level is not None or x.shape[0] == 0:
            return None
        tail = self._tail if self._tail is not None else x[:0]
        y = np.concatenate([tail, x])
        ay = np.abs(y)
        top0 = self._top if self._top is not None else np.zeros(y.shape[1])
        top = np.maximum(np.maximum.accumulate(ay, axis=0), top0)
        r = self.run
        self._top = top[-1]
        self._tail = y[-(r - 1):] if r > 1 else y[:0]
        if y.shape[0] < r:
            return None
        ok = (ay >= top * (1.0 - 1e-9)) & (ay >= self.min_level)
        hit = ok[r - 1:].copy()
        for k in range(1, r):
            hit &= (y[r - 1:] == y[r - 1 - k: y.shape[0] - k]) & ok[r - 1 - k: y.shape[0] - k]
        rows = hit.any(axis=1).nonzero()[0]
        if rows.size == 0:
            return None
        i = int(rows[0]) + r - 1  # in y
        self.level = float(ay[i][hit[rows[0]]].max())
        return i - tail.shape[0]


class SampleClock:
    """Where each sample of a stream is due, to tell dropped samples from jittery time stamps.

    A stamp is the sample's device time plus jitter (a coarse clock, a time taken when a packet
    was put together, a phone's sensor batching).  Judged one interval at a time (a drop when two
    stamps lie more than 1.5 periods apart), jitter of a quarter period either way already reads as
    dropped samples, and every 'gap' bridged puts a made-up sample into the signal.  This keeps a
    smoothed copy of the stamps on the nominal grid (each stamp pulls it by ``gain``: an
    exponential average over about ``1 / gain`` samples, which also follows a clock a little off
    its nominal rate) and reports a drop before a sample whose stamp comes more than half a period
    after it was due.  On a regular clock that is the 1.5-period rule; jitter of about a third of
    a period either way passes (the smoothed clock's own noise takes up the rest of the half).

    Parameters
    ----------
    period_s : float
        The nominal sample period.
    gain : float
        How far each stamp pulls the smoothed clock (0-1).
    """

    def __init__(self, *, period_s: float, gain: float = 0.1) -> None:
        if not (period_s > 0 and 0 < gain <= 1):
            raise ValueError(f"need period_s > 0 and 0 < gain <= 1, got {period_s!r}, {gain!r}")
        self.period_s = float(period_s)
        self.gain = float(gain)
        self._due: float | None = None  # the smoothed time of the last sample

    def drops(self, t: np.ndarray) -> list[tuple[int, int]]:
        """Feed the next stamps; return ``(k, missing)`` for each sample ``k`` of ``t`` that
        comes after ``missing`` >= 1 dropped samples.  The first stamp ever only sets the clock."""
        t = np.asarray(t, dtype=np.float64)
        P, a = self.period_s, self.gain
        out: list[tuple[int, int]] = []
        pos = 0
        if self._due is None:
            if t.size == 0:
                return out
            self._due, pos = float(t[0]), 1
        while pos < t.size:
            # without drops: s_k = (1 - a) (s_{k-1} + P) + a t_k, a first-order recursion
            x = a * t[pos:] + (1.0 - a) * P
            s, _ = signal.lfilter([1.0], [1.0, a - 1.0], x, zi=[(1.0 - a) * self._due])
            due = np.concatenate(([self._due], s[:-1])) + P  # when each sample was due
            late = (t[pos:] - due > 0.5 * P).nonzero()[0]
            if late.size == 0:
                self._due = float(s[-1])
                break
            j = int(late[0])
            k = pos + j
            missing = max(1, int(round((t[k] - due[j]) / P)))
            out.append((k, missing))
            expected = due[j] + missing * P
            self._due = expected + a * (float(t[k]) - expected)
            pos = k + 1
        return out


STEP_PERIODS_S = (0.3, 0.75)  # the periods of a walking step (cadence 80-200 steps/min)


def step_periodicity(
    x: np.ndarray, *, fs_hz: float, min_rms: float, periods_s: tuple[float, float] = STEP_PERIODS_S
) -> float:
    """How periodic ``x`` is at a step's period: the best normalised autocorrelation peak at lags
    ``periods_s`` (near 1 while walking, about 0 in lifts).

    ``x`` is a window of a magnitude-like signal sampled at ``fs_hz``; when its RMS variation is
    below ``min_rms`` (same unit), or the window is too short for the lags, the answer is 0: a
    correlation of noise says nothing about steps.
    """
    n = x.shape[0]
    lag_lo = max(1, int(periods_s[0] * fs_hz))
    lag_hi = min(n // 2, int(periods_s[1] * fs_hz) + 1)
    if lag_hi - lag_lo < 3:
        return 0.0
    x = x - x.mean()
    e = float(x @ x)
    if e <= n * min_rms**2:
        return 0.0
    lags = np.arange(lag_lo - 1, lag_hi + 1)
    ac = np.array([x[k:] @ x[: n - k] for k in lags]) / e * n / (n - lags)
    pk = np.flatnonzero((ac[1:-1] > ac[:-2]) & (ac[1:-1] >= ac[2:])) + 1
    return float(max(0.0, ac[pk].max())) if pk.size else 0.0


class NoiseFloor:
    """The sensor's noise level, learned from the signal: the quietest cell of the recent past.

    The signal is cut into cells of ``cell_s`` on a fixed grid of absolute sample indices.
    A cell's noise is the robust standard deviation of its sample-to-sample differences
    (``median |diff| / 0.954``: white noise of sd ``s`` has differences of sd ``s * sqrt 2``),
    which movement inflates and rest does not; the floor is a low percentile (the 10th)
    of the last ``memory_s`` of cells, so a long continuous set does not raise it.  Calling it with a
    block returns, for each sample, the floor known when that sample's cell began, so any
    split of the stream into blocks gives the same values.

    Parameters
    ----------
    fs_hz : float
        Sample rate.
    cell_s, memory_s : float
        Cell length and how far back the floor looks (seconds).
    """

    def __init__(self, *, fs_hz: float, cell_s: float = 0.5, memory_s: float = 120.0) -> None:
        self.K = max(4, int(round(cell_s * fs_hz)))
        self.memory = max(1, int(round(memory_s / cell_s)))
        self.cells: deque[float] = deque()  # recent cells' noise, oldest first
        self.ranked: list[float] = []  # the same, sorted
        self.pos = 0  # absolute index of the next sample
        self.prev: float | None = None  # the last sample (for the difference across blocks)
        self.part: list[np.ndarray] = []  # the open cell's differences so far
        self.floor = float("nan")  # nan until a first cell completes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        out = np.empty(n)
        if n == 0:
            return out
        K = self.K
        d = np.abs(diff_from(x[0] if self.prev is None else self.prev, x))
        self.prev = float(x[-1])
        k = 0
        if self.pos % K:  # finish the open cell
            k = min(K - self.pos % K, n)
            out[:k] = self.floor
            self.part.append(d[:k])
            self.pos += k
            if self.pos % K:
                return out
            self._add(float(_median(np.concatenate(self.part))))
            self.part = []
        m = (n - k) // K  # whole cells: one median call for all of them
        if m:
            meds = _median(d[k : k + m * K].reshape(m, K))
            for j in range(m):
                out[k + j * K : k + (j + 1) * K] = self.floor
                self._add(float(meds[j]))
            k += m * K
            self.pos += m * K
        if k < n:  # open the next cell
            out[k:] = self.floor
            self.part = [d[k:]]
            self.pos += n - k
        return out

    def _add(self, median_abs_diff: float) -> None:
        v = median_abs_diff / 0.954
        self.cells.append(v)
        bisect.insort(self.ranked, v)
        if len(self.cells) > self.memory:
            old = self.cells.popleft()
            del self.ranked[bisect.bisect_left(self.ranked, old)]
        self.floor = self.ranked[int(0.1 * (len(self.ranked) - 1))]  # 10th percentile (nearest rank below)


def _median(x: np.ndarray) -> np.ndarray:
    """``np.median`` along the last axis of an array without NaNs: the same values (the mean of the
    middle two is their sum over 2), without the generic machinery that costs more than a cell's work."""
    k = x.shape[-1] // 2
    if x.shape[-1] % 2:
        return np.partition(x, k, axis=-1)[..., k]
    p = np.partition(x, (k - 1, k), axis=-1)
    return (p[..., k - 1] + p[..., k]) / 2.0
