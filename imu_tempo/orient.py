"""Rep detection from orientation change: a second channel for rotating movements.

The vertical channel (:mod:`imu_tempo.reps`) integrates vertical acceleration and
needs short rests between movements.  Movements that rotate the sensor more than
they lift it (a wrist sensor in curls, triceps extensions, lateral raises, cable
and machine work) give it little to work with.  This channel reads the *direction
of gravity in the sensor frame* instead, so it works for any mount.

Pipeline, all causal and driven only by sample values and absolute indices (so
feeding the same samples in any block sizes gives the same reps):

1. Low-pass the acceleration vector (2nd-order Butterworth, ``lowpass_hz``, ``lfilter``
   with its state kept) and keep every ``D``-th sample at absolute indices
   ``0, D, 2D, ...`` (about 25 Hz).  The unit vector ``u`` is the gravity
   direction (plus the slow part of the linear acceleration).
2. Exponentially weighted mean ``m`` and covariance ``C`` of ``u``
   (time constant ``adapt_s``, ``lfilter`` with state).  The principal axis
   ``e`` of ``C`` (the axis the sensor swings along) is recomputed every
   0.2 s on a fixed grid of indices and kept sign-continuous.
3. The swing signal ``p = (u - m) . e`` (dimensionless, ~ the chord of the
   angle moved).  Its turnarounds are found with a hysteresis that adapts to
   the set: ``h = max(floor, rel_hysteresis * median of the last
   n_swings swings)``, the floor being ``chord(min_rom_deg)`` or, with the magnitude
   included, the smaller of that and ``min_lift_g`` (a press from a wrist that hardly
   turns moves ``p`` by its acceleration along gravity, a few tenths of g), the second term decaying (time constant ``decay_s``)
   while no turnaround comes, so a big setting-up move does not mask the set.
   A turnaround is confirmed when ``p`` moves back by ``h`` or settles (its
   range over ``settle_s`` stays below ``settle_frac * h`` near the extreme
   while |a| holds still too; reopened if ``p`` then moves on the same way),
   which keeps latency low when the lifter pauses between reps.
   A move back that is less than half the swing before it, followed by a move on,
   is a wiggle: both of its turnarounds are forgotten and the swing goes on (not
   when that swing took longer than a period of the set: a set-up move or a drift
   to a new position is not a swing the set's reps can be wiggles of; nor when the
   move back took 0.4 of a period or more: that is a return stroke, however shallow).
4. The set's period: at each turnaround, the autocorrelation of ``u`` (summed
   over the axes, last 8 s, its linear trend removed so a slow set-up move or
   drift in the window does not hide the set's rhythm) gives the dominant period ``T`` (the shortest lag
   whose peak is within 85 % of the best, if the best reaches 0.3; otherwise
   there is no period).  With a period, no turnaround is confirmed within
   ``T / 4`` of the last one, and a rep lasts at least ``0.6 T``: a lift whose
   signal has two bumps per rep is one rep, not two.
5. A rep is *start level -> far turnaround -> start level*: a turnaround ``a``
   and a later one ``c`` of the same kind, the farthest opposite turnaround
   ``b`` between them, with similar swings (ratio >= ``symmetry``), each of which
   turns the sensor by ``min_rom_deg`` or changes ``|a|`` by ``min_lift_g`` (a small
   turn that only passes the lower lift floor is not a rep), at least
   ``0.6 T`` apart and lasting ``[min_rep_s, max_rep_s]``.  Consecutive reps
   share their boundary turnaround: the end of the last rep is tried first as
   the start (the set's phase), then later turnarounds of the same kind.
   Start and end are where ``p`` leaves / reaches the start level
   (``edge_frac`` of the swing), shifted back by the low-pass group delay;
   a rep that goes straight through both its turnarounds (|a| never still
   there: continuous swings) runs from one turnaround to the other instead.
   A run's first rep whose turns are lopsided (the first swing came from
   elsewhere: a kettlebell hiked back from where it was parked) waits for the
   next turnaround: if the rep from its far turnaround is clearly more
   symmetric, the run goes from that kind of turnaround (its phase).

Python work is per block, per turnaround and per rep; the per-sample work is
numpy/scipy.  Indices are absolute sample indices (the count of samples fed
before a sample); fractional values locate boundaries between samples.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace

import numpy as np
from scipy import signal

from .errors import ConfigError
from .filters import sliding_windows, step_periodicity

__all__ = ["OrientRep", "OrientationRepDetector"]

_TARGET_DECIMATED_HZ = 25.0
_AXIS_STEP_S = 0.2
_WIGGLE_FRAC = 0.5  # a move back smaller than this fraction of the swing before it is a wiggle
_WIGGLE_BACK_PERIODS = 0.4  # ... unless the move back lasted this many periods (a return stroke, not a wiggle)
_WIGGLE_SWING_PERIODS = 1.0  # ... or the swing before it lasted longer than this many of the set's periods
_ACF_WINDOW_S = 8.0  # the set's period comes from the autocorrelation over this much history
_ACF_MIN = 0.3  # ... if its best peak reaches this (normalised); else the set has no period
_PEAK_PREFER = 0.85  # the shortest period whose peak is this close to the best one
_GAP_FRAC = 0.25  # turnarounds closer than this fraction of the period to the last are not confirmed
_REP_FRAC = 0.6  # a rep lasts at least this fraction of the period (start to end turnaround)
_GAIT_WINDOW_S = 4.0  # OrientRep.gait: history it looks at ...
_GAIT_MIN_RMS_G = 0.05  # ... if |a| varies at least this much (RMS, g): steps jolt the sensor
_GAIT_LOWPASS_HZ = 4.0  # ... in |a| low-passed at this (or 0.4 x the decimated rate)
_PHASE_SYM = 0.8  # the first rep of a run less symmetric than this waits: does the set run from its far turnaround?
_PHASE_GAIN = 0.15  # ... it does if the rep from there is this much more symmetric (and at least _PHASE_SYM)
_RUN_RATIO = 1.6  # a rep lasting this ratio longer or shorter than the one before starts a new run
_REST_MAG_G = 0.05  # |a| holding within this (g) for _REST_S is the sensor at rest (a pause) ...
_REST_S = 0.2
_SETTLE_MAG_G = 0.1  # a turnaround settles (p flat) only while |a| stays within this over ``settle_s``: a held
# weight trembles (a real wrist's pauses, 0.05-0.1 g), a swing's backswing moves |a| by more (0.12 g and up)
_THROUGH_MAX_S = 0.6  # ... and a turnaround the swing signal stays at for longer is a hold, not gone straight through
_EXTEND_FRAC = 0.3  # a settled turnaround reopens if the signal moves on by this fraction of h
_OUTER_I, _OUTER_J = np.array([0, 1, 2, 0, 0, 1]), np.array([0, 1, 2, 1, 2, 2])  # u_i u_j for the covariance


@dataclass(frozen=True, slots=True)
class OrientRep:
    """A rep found from orientation change.

    Attributes
    ----------
    start, end : float
        Absolute (fractional) sample indices where the movement leaves and
        returns to the start orientation.
    done_at : int
        Absolute index of the sample whose arrival settled the rep (>= ``end``).
    rom_deg : float
        Rotation (degrees): the largest angle between the gravity direction at
        the rep's start (and at its end) and any direction during the rep, averaged.
    gait : float
        How regular the magnitude of the acceleration (low-passed at 4 Hz) was at a
        walking step rate (periods 0.3-0.75 s) over the 4 s before the rep's
        end: the best normalised autocorrelation peak there, near 1 while
        walking (steps), about 0 in lifts.  Lets a caller tell arm swing from reps.
    """

    start: float
    end: float
    done_at: int
    rom_deg: float
    gait: float = 0.0


@dataclass(frozen=True, slots=True)
class _Turn:
    kind: int  # +1 maximum of p, -1 minimum
    j: int  # decimated index of the extreme
    value: float
    confirmed: int  # decimated index whose arrival confirmed it
    h: float  # hysteresis when it was confirmed
    anchor: float  # value of the turnaround before it (where its search started)
    settled: bool = False  # confirmed by settling (a pause), not by moving back


class OrientationRepDetector:
    """Streaming rep detector on the gravity direction (accelerometer only, any mount).

    Parameters
    ----------
    fs_hz : float
        Sample rate of the stream (Hz).
    min_rep_s, max_rep_s : float
        Accepted rep durations (s).
    min_rom_deg : float
        Smallest swing (degrees of rotation) that can be part of a rep.
    lowpass_hz : float
        Cut-off of the causal low-pass that extracts the gravity direction.
    adapt_s : float
        Time constant (s) of the running mean/covariance the swing axis and the
        adaptive hysteresis come from.
    rel_hysteresis : float
        Hysteresis as a fraction of the median of the last ``n_swings`` swings.
    settle_s, settle_frac : float
        A turnaround is also confirmed when the swing signal stays within
        ``settle_frac * h`` for ``settle_s`` seconds.
    symmetry : float
        The smaller of a rep's two swings must be at least this fraction of the larger.
    edge_frac : float
        Rep start/end are where the swing signal is this fraction of the swing
        away from the start level.
    include_magnitude : bool
        Use the low-passed acceleration vector in g instead of its direction, so
        changes of its magnitude (acceleration along gravity: presses, pulldowns
        with a wrist sensor that hardly turns) count as swings too.  On by
        default; ``rom_deg`` is still the rotation.
    decay_s : float
        Time constant (s) of the hysteresis' decay towards the floor between turnarounds.
    n_swings : int
        Number of recent swings the hysteresis adapts to.
    min_lift_g : float
        With ``include_magnitude``: smallest change of the low-passed acceleration's
        magnitude (g) that makes a swing without ``min_rom_deg`` of rotation part of a
        rep.  A 0.4 m lift with a period of 2 s peaks near 0.2 g (``d/2 (2 pi/T)^2``);
        fidgeting hardly changes ``|a|``, and the eccentric half of a lift (its
        second, smaller acceleration swing) should stay under it.

    Notes
    -----
    Not thread-safe: feed it from one thread (or task).  ``feed`` and
    ``finish`` return the reps settled by the samples just given.
    """

    def __init__(
        self,
        *,
        fs_hz: float,
        min_rep_s: float = 0.3,
        max_rep_s: float = 8.0,
        min_rom_deg: float = 15.0,
        lowpass_hz: float = 2.0,
        adapt_s: float = 4.0,
        rel_hysteresis: float = 0.35,
        settle_s: float = 0.25,
        settle_frac: float = 0.15,
        symmetry: float = 0.5,
        edge_frac: float = 0.1,
        include_magnitude: bool = True,
        decay_s: float = 3.0,
        n_swings: int = 4,
        min_lift_g: float = 0.2,
    ) -> None:
        if not (isinstance(fs_hz, (int, float)) and math.isfinite(fs_hz) and fs_hz > 0):
            raise ConfigError(f"fs_hz must be a positive number, got {fs_hz!r}")
        if not 0 < min_rep_s < max_rep_s:
            raise ConfigError(f"need 0 < min_rep_s < max_rep_s, got {min_rep_s!r}, {max_rep_s!r}")
        if not 0 < min_rom_deg < 180:
            raise ConfigError(f"min_rom_deg must be in (0, 180), got {min_rom_deg!r}")
        if not 0 < lowpass_hz < fs_hz / 2:
            raise ConfigError(f"lowpass_hz must be in (0, fs_hz/2 = {fs_hz / 2}), got {lowpass_hz!r}")
        for name, value in (("rel_hysteresis", rel_hysteresis), ("settle_frac", settle_frac),
                            ("symmetry", symmetry), ("edge_frac", edge_frac)):
            if not 0 < value < 1:
                raise ConfigError(f"{name} must be in (0, 1), got {value!r}")
        if not 0 < min_lift_g < 1:
            raise ConfigError(f"min_lift_g must be in (0, 1), got {min_lift_g!r}")
        if adapt_s <= 0 or settle_s <= 0:
            raise ConfigError(f"adapt_s and settle_s must be positive, got {adapt_s!r}, {settle_s!r}")
        self.fs_hz = float(fs_hz)
        self.min_rep_s = float(min_rep_s)
        self.max_rep_s = float(max_rep_s)
        self.min_rom_deg = float(min_rom_deg)
        self.rel_hysteresis = float(rel_hysteresis)
        self.settle_frac = float(settle_frac)
        self.symmetry = float(symmetry)
        self.edge_frac = float(edge_frac)

        self._D = max(1, int(self.fs_hz // _TARGET_DECIMATED_HZ))
        fs_d = self.fs_hz / self._D
        self._fs_d = fs_d
        self._include_mag = include_magnitude
        self._ba = signal.butter(2, lowpass_hz, fs=self.fs_hz)
        # |a| keeps the step band (to ~4 Hz) before decimation; filtering |a| rather than taking
        # |low-passed a| keeps a fast rotation (constant |a|) from looking like steps
        self._ba_mag = signal.butter(2, min(_GAIT_LOWPASS_HZ, 0.4 * fs_d), fs=self.fs_hz)
        # Low-frequency group delay of the 2nd-order Butterworth: sqrt(2) / (2 pi fc).
        self._delay = math.sqrt(2.0) / (2.0 * math.pi * lowpass_hz) * self.fs_hz
        alpha = 1.0 - math.exp(-1.0 / (adapt_s * fs_d))
        self._ew_b = np.array([alpha])
        self._ew_a = np.array([1.0, alpha - 1.0])
        self._axis_step = max(1, int(round(_AXIS_STEP_S * fs_d)))
        self._settle_w = max(2, int(round(settle_s * fs_d)))
        self._rest_w = max(2, int(round(_REST_S * fs_d)))
        self._through_max = _THROUGH_MAX_S * fs_d
        self._chord_min = 2.0 * math.sin(math.radians(self.min_rom_deg) / 2.0)
        self.min_lift_g = float(min_lift_g)
        # the zigzag's floor is the smaller of the two: a swing may be a turn or a lift; which it
        # is (and whether it is big enough) is judged per swing when a rep is assembled (_big_enough)
        self._h_min = min(self._chord_min, self.min_lift_g) if include_magnitude else self._chord_min
        self._keep = int(math.ceil((2.0 * self.max_rep_s + 2.0) * fs_d)) + self._settle_w
        self._max_rep_d = self.max_rep_s * fs_d
        self._decay_d = decay_s * fs_d
        self._n_swings = n_swings
        self._piece = max(32, int(2.0 * fs_d))

        self._n = 0  # raw samples fed
        self._zi: np.ndarray | None = None
        self._ew_zi: np.ndarray | None = None
        self._axis: np.ndarray | None = None  # sign-continuous principal axis
        # decimated history: p and u, base = decimated index of element 0
        self._p = np.empty(0)
        self._u = np.empty((0, 3))
        self._mag = np.empty(0)  # low-passed |acceleration| in g (steps kept), for OrientRep.gait
        self._mag_zi: np.ndarray | None = None
        self._swings: list[float] = []  # recent turnaround-to-turnaround amplitudes of p
        self._last_turn_j = 0
        self._h_big = 0.0  # rel_hysteresis * median of self._swings
        self._base = 0
        # zigzag state
        self._dir = 0  # 0: not started; +1 seeking a maximum; -1 seeking a minimum
        self._ext = 0.0
        self._ext_j = -1
        self._anchor = 0.0
        self._lo = self._hi = 0.0  # undecided state: running extremes since the stream began
        self._lo_j = self._hi_j = 0
        self._turns: list[_Turn] = []
        self._last_end: _Turn | None = None
        self._last_dur = 0.0  # duration of the last rep (raw samples)
        # a run's lopsided first rep waiting for the next turnaround: (rep, its far turnaround, symmetry)
        self._pending: tuple[OrientRep, _Turn, float] | None = None
        self._settled = False  # the last turnaround was confirmed by settling, not by moving back
        self._inherit_end = False
        self._merged: _Turn | None = None  # set when a wiggle pair was merged away
        self._period_d = 0.0  # dominant period of the set (decimated samples), 0 when there is none
        self._gap_d = 0.0  # smallest spacing of turnarounds (decimated samples), from the period
        self._acf_w = int(round(min(_ACF_WINDOW_S, self._keep / fs_d - 1.0) * fs_d))

    # ------------------------------------------------------------------ public
    def feed(self, accel: np.ndarray) -> list[OrientRep]:
        """Process the next samples of the stream.

        Parameters
        ----------
        accel : ndarray, shape (n, 3)
            Specific force in m/s^2 (gravity included), any sensor orientation.

        Returns
        -------
        list of OrientRep
            Reps settled by these samples, in order.
        """
        a = np.asarray(accel, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 3:
            raise ValueError(f"accel must have shape (n, 3), got {a.shape}")
        n = a.shape[0]
        if n == 0:
            return []
        if not np.isfinite(a).all():
            raise ValueError("accel contains NaN or infinite values; drop or interpolate them before feeding")
        # lfilter: a 2nd-order section is well conditioned as (b, a), and far cheaper per call than sosfilt
        if self._zi is None:
            self._zi = signal.lfilter_zi(*self._ba)[:, None] * a[0][None, :]
        lp, self._zi = signal.lfilter(*self._ba, a, axis=0, zi=self._zi)
        mag = np.sqrt(np.einsum("ij,ij->i", a, a)) / 9.80665  # |a| in g, filtered on its own (OrientRep.gait)
        if self._mag_zi is None:
            self._mag_zi = signal.lfilter_zi(*self._ba_mag) * mag[0]
        mag, self._mag_zi = signal.lfilter(*self._ba_mag, mag, zi=self._mag_zi)
        first = self._n
        self._n += n
        # keep absolute indices that are multiples of D
        off = (-first) % self._D
        lp = lp[off :: self._D]
        if lp.shape[0] == 0:
            return []
        k0 = (first + off) // self._D  # decimated index of lp[0]
        return self._process(lp, mag[off :: self._D], k0)

    def finish(self) -> list[OrientRep]:
        """End of stream: settle the turnaround in progress and return the last reps."""
        if self._dir == 0 or self._p.shape[0] == 0:
            return self._flush_pending()
        last = self._base + self._p.shape[0] - 1
        h = float(self._hyst(np.array([last]))[0])
        if self._dir * (self._ext - self._anchor) < h:
            return self._flush_pending()
        turn = _Turn(self._dir, self._ext_j, self._ext, last, h, self._anchor, True)
        self._dir = 0
        return self._add_turn(turn) + self._flush_pending()

    def _flush_pending(self) -> list[OrientRep]:
        """End of stream: a rep still waiting to know its run's phase comes out as it is."""
        if self._pending is None:
            return []
        first = self._pending[0]
        self._pending = None
        return [replace(first, done_at=max(first.done_at, (self._base + self._p.shape[0] - 1) * self._D))]

    # ---------------------------------------------------------------- internals
    def _process(self, lp: np.ndarray, mag: np.ndarray, k0: int) -> list[OrientRep]:
        if self._include_mag:
            u = lp / 9.80665
        else:
            u = lp / np.maximum(np.linalg.norm(lp, axis=1, keepdims=True), 1e-12)
        m = u.shape[0]
        outer = u.take(_OUTER_I, axis=1) * u.take(_OUTER_J, axis=1)  # xx, yy, zz, xy, xz, yz
        x = np.concatenate([u, outer], axis=1)
        if self._ew_zi is None:
            self._ew_zi = signal.lfilter_zi(self._ew_b, self._ew_a)[:, None] * x[0][None, :]
        ew, self._ew_zi = signal.lfilter(self._ew_b, self._ew_a, x, axis=0, zi=self._ew_zi)
        mean = ew[:, :3]

        # principal axis on the grid k % axis_step == 0, held in between
        step = self._axis_step
        g0 = (-k0) % step
        grid = np.arange(g0, m, step)
        axes = np.empty((m, 3))
        if grid.size:
            # the covariance where the axis is measured
            eg, mg = ew[grid], mean[grid]
            cov = np.empty((grid.shape[0], 3, 3))
            cov[:, 0, 0], cov[:, 1, 1], cov[:, 2, 2] = eg[:, 3], eg[:, 4], eg[:, 5]
            cov[:, 0, 1] = cov[:, 1, 0] = eg[:, 6]
            cov[:, 0, 2] = cov[:, 2, 0] = eg[:, 7]
            cov[:, 1, 2] = cov[:, 2, 1] = eg[:, 8]
            cov -= mg[:, :, None] * mg[:, None, :]
            _, v = np.linalg.eigh(cov)
            e = v[:, :, -1]
            prev = self._axis if self._axis is not None else e[0]
            dots = np.einsum("ij,ij->i", e, np.vstack([prev[None, :], e[:-1]]))
            sign = np.cumprod(np.where(dots < 0, -1.0, 1.0))
            e = e * sign[:, None]
            seg = np.searchsorted(grid, np.arange(m), side="right") - 1
            head = seg < 0
            seg_c = np.maximum(seg, 0)
            axes[:] = e[seg_c]
            if head.any():
                if self._axis is None:  # very first samples: use the first grid axis
                    axes[head] = e[0]
                else:
                    axes[head] = self._axis
            self._axis = e[-1].copy()
        else:
            assert self._axis is not None  # a block without a grid point follows one with it
            axes[:] = self._axis
        p = np.einsum("ij,ij->i", u - mean, axes)

        # append to history (keep settle_w - 1 old samples at least, for flatness)
        if self._p.shape[0] == 0:
            self._base = k0
        n_old = self._p.shape[0]
        self._p = np.concatenate([self._p, p])
        self._u = np.concatenate([self._u, u])
        self._mag = np.concatenate([self._mag, mag])
        reps = self._zigzag(n_old)
        extra = self._p.shape[0] - self._keep
        if extra > 0:
            self._p = self._p[extra:]
            self._u = self._u[extra:]
            self._mag = self._mag[extra:]
            self._base += extra
        return reps

    def _flat(self, i0: int, x: np.ndarray | None = None) -> np.ndarray:
        """Range of p (or x) over the settle window ending at each buffer index >= i0
        (infinite where the stream is younger than the window)."""
        x = self._p if x is None else x
        w = self._settle_w
        lo = i0 - (w - 1)
        pad = max(0, -lo)
        src = x[max(lo, 0) :]
        out = np.full(x.shape[0] - i0, np.inf)
        if src.shape[0] >= w:
            out[pad:] = _window_ranges(src, w)
        return out

    def _zigzag(self, i0: int) -> list[OrientRep]:
        """Find the turnarounds of p in buffer positions i0.. and assemble reps.

        Zigzag with hysteresis: while seeking a maximum (``dir = +1``) the running
        maximum is confirmed at the first sample that is ``h`` below it, or that
        ends a flat stretch near it (settled).  A settled turnaround is reopened if
        the signal then moves on in the same direction by ``_EXTEND_FRAC * h``.
        """
        p = self._p
        n = p.shape[0]
        reps: list[OrientRep] = []
        if n == i0:
            return reps
        # settling is pausing: |a| holds still too (a swing's backswing can be flat in p, never still)
        rng = np.where(self._flat(i0, self._mag) < _SETTLE_MAG_G, self._flat(i0), np.inf)
        i = i0
        while i < n and self._dir == 0:  # start of stream: the first swing decides the direction
            i = self._first_swing(i)
        while i < n:
            e = min(n, i + self._piece)  # search a piece at a time: O(piece) per turnaround
            seg = p[i:e]
            hs = self._hyst(np.arange(self._base + i, self._base + e))
            d = self._dir
            run = np.maximum.accumulate(np.concatenate(([d * self._ext], d * seg)))[1:]
            back = run - d * seg  # how far p has come back from the running extreme
            swing = run - d * self._anchor
            flat = rng[i - i0 : e - i0]
            tol = self.settle_frac * hs
            settle = (flat <= tol) & (swing >= hs) & (back <= tol)
            hit = (back >= hs) | settle
            if self._gap_d > 0 and self._turns:  # no turnaround within a fraction of the set's period of the last
                jj = np.arange(self._base + i, self._base + e)
                hit &= (jj - self._turns[-1].j) >= self._gap_d
            if self._settled:  # the last turnaround settled: does the signal move on past it?
                hit |= d * (self._anchor - seg) >= _EXTEND_FRAC * hs
            idx = _nonzero(hit)
            if idx.size == 0:
                top = int(np.argmax(d * seg))
                if d * seg[top] > d * self._ext:
                    self._ext = float(seg[top])
                    self._ext_j = self._base + i + top
                i = e
                continue
            c = int(idx[0])
            if self._settled and d * (self._anchor - seg[c]) >= _EXTEND_FRAC * hs[c]:
                self._reopen(float(seg[c]), self._base + i + c)
                i = i + c + 1
                continue
            top = int(np.argmax(d * seg[: c + 1]))
            if d * seg[top] > d * self._ext:
                self._ext = float(seg[top])
                self._ext_j = self._base + i + top
            settled = bool(back[c] < hs[c])
            turn = _Turn(d, self._ext_j, self._ext, self._base + i + c, float(hs[c]), self._anchor, settled)
            reps.extend(self._add_turn(turn))
            self._settled = settled
            self._anchor = self._ext
            self._dir = -d
            self._ext = float(seg[c])
            self._ext_j = self._base + i + c
            if self._merged is not None:  # the last two turnarounds were a wiggle: seek on past the one before
                b = self._merged
                self._merged = None
                self._anchor = self._turns[-1].value
                self._settled = False
                if b.kind * b.value > b.kind * self._ext:
                    self._ext, self._ext_j = b.value, b.j
            i = i + c + 1
        return reps

    def _first_swing(self, i: int) -> int:
        """Undecided state: the first move of ``h`` from the running minimum or maximum
        makes that extreme the first turnaround.  Returns the next buffer position."""
        p = self._p
        e = min(p.shape[0], i + self._piece)
        seg = p[i:e]
        if self._ext_j < 0:  # nothing seen yet
            self._lo = self._hi = float(seg[0])
            self._lo_j = self._hi_j = self._ext_j = self._base + i
        hs = self._hyst(np.arange(self._base + i, self._base + e))
        lo = np.minimum.accumulate(np.concatenate(([self._lo], seg)))[1:]
        hi = np.maximum.accumulate(np.concatenate(([self._hi], seg)))[1:]
        idx = _nonzero((seg - lo >= hs) | (hi - seg >= hs))
        if idx.size == 0:
            k = int(np.argmin(seg))
            if seg[k] < self._lo:
                self._lo, self._lo_j = float(seg[k]), self._base + i + k
            k = int(np.argmax(seg))
            if seg[k] > self._hi:
                self._hi, self._hi_j = float(seg[k]), self._base + i + k
            return e
        c = int(idx[0])
        kind = -1 if seg[c] - lo[c] >= hs[c] else 1
        k = int(np.argmax(kind * seg[: c + 1]))
        if kind * seg[k] > kind * (self._hi if kind > 0 else self._lo):
            value, j = float(seg[k]), self._base + i + k
        else:
            value, j = (self._hi, self._hi_j) if kind > 0 else (self._lo, self._lo_j)
        self._add_turn(_Turn(kind, j, value, self._base + i + c, float(hs[c]), value))
        self._anchor = value
        self._dir = -kind
        self._ext = float(seg[c])
        self._ext_j = self._base + i + c
        self._settled = False
        return i + c + 1

    def _reopen(self, value: float, j: int) -> None:
        """The last (settled) turnaround was a pause: take it back and keep seeking past it."""
        popped = self._turns.pop()
        if self._swings and len(self._turns) > 0:
            self._swings.pop()
            self._h_big = self.rel_hysteresis * statistics.median(self._swings) if self._swings else 0.0
        if self._last_end is popped:
            self._inherit_end = True  # its rep was emitted; the reopened turnaround ends it
        self._dir = popped.kind
        self._ext = value
        self._ext_j = j
        self._anchor = popped.anchor
        self._settled = False

    def _hyst(self, j: np.ndarray) -> np.ndarray:
        """Hysteresis at decimated indices j (after the last turnaround): a fraction of the
        median recent swing, decaying towards the floor while no turnaround comes."""
        if not self._swings:
            return np.full(j.shape, self._h_min)
        big = self._h_big
        return np.maximum(self._h_min, big * np.exp(-(j - self._last_turn_j) / self._decay_d))

    def _add_turn(self, turn: _Turn) -> list[OrientRep]:
        if self._is_wiggle(turn):
            # b -> turn is a small move back and on again inside a swing (or at its end):
            # forget both turnarounds so the swing a -> (b or beyond) stays one swing
            b = self._turns.pop()
            if self._swings:
                self._swings.pop()
                self._h_big = self.rel_hysteresis * statistics.median(self._swings) if self._swings else 0.0
            self._merged = b
            return []
        if self._turns:
            self._swings.append(abs(turn.value - self._turns[-1].value))
            if len(self._swings) > self._n_swings:
                del self._swings[0]
            self._h_big = self.rel_hysteresis * statistics.median(self._swings)
        self._last_turn_j = turn.confirmed
        self._update_period(turn.confirmed)
        self._turns.append(turn)
        c = turn
        while len(self._turns) > 3 and c.j - self._turns[0].j > self._max_rep_d:
            del self._turns[0]
        if self._inherit_end:
            self._inherit_end = False
            self._last_end = turn
            return []
        out, done = self._settle_pending(c)
        if done:
            return out
        for a in self._rep_starts(c):
            found = self._try_rep(a, c)
            if found is None:
                continue
            rep, sym = found
            dur = rep.end - rep.start
            new_run = a is not self._last_end or not self._last_dur / _RUN_RATIO <= dur <= self._last_dur * _RUN_RATIO
            self._last_dur = dur
            self._last_end = c
            if new_run and not c.settled and sym < _PHASE_SYM:
                # the first rep of a run, lopsided: was its first swing a set-up move into the start position?
                ia = self._turns.index(a)
                self._pending = (rep, self._turns[ia + 1], sym)
                del self._turns[:ia]
                return out
            del self._turns[: self._turns.index(c)]
            return out + [rep]
        return out

    def _settle_pending(self, c: _Turn) -> tuple[list[OrientRep], bool]:
        """A run's lopsided first rep a -> b -> (its end) waited for the next turnaround c.  If the rep
        b -> c is clearly more symmetric, the first swing was a set-up move into the start position (a
        kettlebell's hike, from where the bell was parked): the run goes from b's kind of turnaround,
        and ([rep b -> c], True) comes back (True: c is done with).  Otherwise the waiting rep is
        emitted, settled now, and c goes on as usual: ([that rep], False), or ([], False) if none waited."""
        if self._pending is None:
            return [], False
        first, b, sym = self._pending
        self._pending = None
        found = self._try_rep(b, c) if b in self._turns else None
        if found is not None and found[1] >= max(_PHASE_SYM, sym + _PHASE_GAIN):
            self._last_end = c
            self._last_dur = found[0].end - found[0].start
            del self._turns[: self._turns.index(c)]
            return [found[0]], True
        if self._last_end in self._turns:
            del self._turns[: self._turns.index(self._last_end)]
        return [replace(first, done_at=c.confirmed * self._D)], False

    def _rep_starts(self, c: _Turn) -> list[_Turn]:
        """Turnarounds a rep ending at c may start from, preferred first: the end of the last
        rep (the set's phase), then later turnarounds of c's kind (latest first) at least a
        fraction of the set's period before c."""
        min_d = _REP_FRAC * self._period_d
        turns = self._turns[:-1]
        out: list[_Turn] = []
        first = 0
        if self._last_end is not None and self._last_end in turns:
            first = turns.index(self._last_end)
            if self._last_end.kind == c.kind and c.j - self._last_end.j >= min_d:
                out.append(self._last_end)
            first += 1
        out += [t for t in reversed(turns[first:-1]) if t.kind == c.kind and c.j - t.j >= min_d]
        return out

    def _try_rep(self, a: _Turn, c: _Turn) -> tuple[OrientRep, float] | None:
        """The rep a -> b (the farthest turnaround between) -> c and how symmetric its turns are, or None
        if those turnarounds make no rep.  The symmetry is the smaller over the larger of the angles
        gravity's direction turned from a to b and from b to c (1 when the sensor turned less than
        ``min_rom_deg``: a lift, not a turn).  Unlike the swing signal, whose running mean starts where
        the sensor rested, the angles do not take a set's first swing from rest for a smaller one, nor
        a lift's acceleration for a turn."""
        ia = self._turns.index(a)
        inner = [t for t in self._turns[ia + 1 : -1] if t.kind != c.kind]
        if not inner:
            return None
        b = max(inner, key=lambda t: t.kind * t.value)
        s1 = abs(b.value - a.value)
        s2 = abs(b.value - c.value)
        if min(s1, s2) < self._h_min or min(s1, s2) < self.symmetry * max(s1, s2):
            return None
        if c.j - a.j > self._max_rep_d or c.confirmed - a.j >= self._keep - self._settle_w:
            return None
        if not (self._big_enough(a, b) and self._big_enough(b, c)):
            return None
        start, end = self._edges(a, b, c, s1, s2)
        dur = (end - start) / self.fs_hz
        if not self.min_rep_s <= dur <= self.max_rep_s:
            return None
        win = self._u[a.j - self._base : c.j - self._base + 1]
        rom = 0.5 * (_max_angle_deg(win[0], win) + _max_angle_deg(win[-1], win))
        rep = OrientRep(start=start, end=end, done_at=c.confirmed * self._D, rom_deg=rom, gait=self._gait(c.j))
        ua, ub, uc = (self._u[t.j - self._base] for t in (a, b, c))
        t1, t2 = _angle_deg(ua, ub), _angle_deg(ub, uc)
        return rep, 1.0 if max(t1, t2) < self.min_rom_deg else min(t1, t2) / max(t1, t2)

    def _big_enough(self, a: _Turn, b: _Turn) -> bool:
        """Is the swing a -> b a movement, not fidgeting: does it move the swing signal or turn the
        sensor by chord(``min_rom_deg``), or (with ``include_magnitude``) change the acceleration's
        magnitude by ``min_lift_g``?"""
        if abs(b.value - a.value) >= self._chord_min:
            return True
        ua, ub = self._u[a.j - self._base], self._u[b.j - self._base]
        na, nb = float(np.linalg.norm(ua)), float(np.linalg.norm(ub))
        if na <= 0.0 or nb <= 0.0:
            return False
        if float(np.linalg.norm(ua / na - ub / nb)) >= self._chord_min:
            return True
        return self._include_mag and abs(nb - na) >= self.min_lift_g

    def _gait(self, j: int) -> float:
        """OrientRep.gait for the window ending at decimated index j."""
        hi = j - self._base + 1
        x = self._mag[max(0, hi - int(round(_GAIT_WINDOW_S * self._fs_d))) : hi]
        # too still for steps below _GAIT_MIN_RMS_G: the correlation would be of noise
        return step_periodicity(x, fs_hz=self._fs_d, min_rms=_GAIT_MIN_RMS_G)

    def _update_period(self, j: int) -> None:
        """Dominant period of the gravity direction over the window ending at decimated index j
        (autocorrelation summed over the axes); sets the smallest turnaround spacing."""
        hi = j - self._base + 1
        lo = max(0, hi - self._acf_w)
        x = self._u[lo:hi]
        n = x.shape[0]
        lag_lo = max(2, int(self.min_rep_s * self._fs_d))
        lag_hi = min(int(self._max_rep_d), n // 2)
        if lag_hi <= lag_lo + 2:
            self._gap_d = self._period_d = 0.0
            return
        tt = np.arange(n) - (n - 1) / 2.0
        x = x - x.mean(axis=0) - np.outer(tt, tt @ x) / float(tt @ tt)  # linear trend out: a drift or set-up move is no period
        f = np.fft.rfft(x, 2 * n, axis=0)
        ac = np.fft.irfft((f * f.conj()).real.sum(axis=1), 2 * n)[: lag_hi + 2]
        if ac[0] <= 0:
            self._gap_d = self._period_d = 0.0
            return
        ac = ac / ac[0] * n / (n - np.arange(ac.shape[0]))
        seg = ac[lag_lo : lag_hi + 1]
        pk = _nonzero((seg[1:-1] > seg[:-2]) & (seg[1:-1] >= seg[2:])) + 1
        if pk.size == 0:
            self._gap_d = self._period_d = 0.0
            return
        top = float(seg[pk].max())
        if top < _ACF_MIN:
            self._gap_d = self._period_d = 0.0
            return
        k = int(pk[_nonzero(seg[pk] >= _PEAK_PREFER * top)[0]])  # the shortest of the near-best periods
        self._period_d = float(lag_lo + k)
        self._gap_d = _GAP_FRAC * self._period_d

    def _is_wiggle(self, c: _Turn) -> bool:
        """Is the move from the last turnaround to c a small one back inside a swing?
        (Never across the end of an emitted rep: that is the next rep's start.)"""
        if len(self._turns) < 2 or self._inherit_end:
            return False
        a, b = self._turns[-2], self._turns[-1]
        if self._last_end is b:
            return False
        if self._period_d > 0 and b.j - a.j > _WIGGLE_SWING_PERIODS * self._period_d:
            return False  # a -> b took longer than a whole cycle of the set: a set-up move or drift, not a swing
        if self._period_d > 0 and c.j - b.j >= _WIGGLE_BACK_PERIODS * self._period_d:
            return False  # the move back took as long as the set's return strokes: a rep, however shallow
        s1 = abs(b.value - a.value)
        s2 = abs(b.value - c.value)
        return s2 < _WIGGLE_FRAC * s1

    def _edges(self, a: _Turn, b: _Turn, c: _Turn, s1: float, s2: float) -> tuple[float, float]:
        """Fractional absolute raw indices where p leaves a's level and reaches c's level."""
        base = self._base
        sgn = b.kind  # direction of the excursion
        # the rep starts where p last left the level it returns to: when p came from further away
        # (a set-up move into the start position, or the running mean drifting during a pause),
        # that part before the rep's own start level is not the rep
        lvl0, s0 = (c.value, s2) if sgn * (c.value - a.value) > 0 else (a.value, s1)
        up = sgn * (self._p[a.j - base : b.j - base + 1] - lvl0)  # rises from (<=) 0 to s0
        lvl = self.edge_frac * s0
        below = _nonzero(up <= lvl)
        i = int(below[-1])  # last sample at the start level (a.j itself qualifies)
        start = a.j + i + _frac(up, i, lvl)
        down = sgn * (self._p[b.j - base : c.j - base + 1] - c.value)  # falls from s2 to 0
        lvl = self.edge_frac * s2
        hit = _nonzero(down <= lvl)
        k = int(hit[0]) if hit.size else down.shape[0] - 1
        end = b.j + k - (1.0 - _frac(down, k - 1, lvl) if k > 0 else 0.0)
        # a rep that goes straight through both its turnarounds (continuous swings) runs from one to
        # the other; one that pauses at either is timed from leaving to reaching the start level
        ta, tc = self._through(a), self._through(c)
        if ta is not None and tc is not None:
            start, end = ta, tc
        d, D = self._delay, self._D
        lo = 0.0
        return max(lo, start * D - d), max(lo, end * D - d)

    def _through(self, t: _Turn) -> float | None:
        """Decimated (fractional) index of a turnaround the movement goes straight through (a swing's
        backswing), or None where it pauses (or it cannot tell).

        Straight through: p stays within ``edge_frac`` of the swing into it (from where it comes
        in to where it leaves, or to the sample that confirmed it) for at most _THROUGH_MAX_S, and
        |a| never holds still there (within _REST_MAG_G for _REST_S).  The turnaround is the middle
        of that stretch (a backswing's is flat in p).  Only data up to the confirming sample is read,
        so the answer does not depend on how the stream was split into blocks."""
        swing = abs(t.value - t.anchor)
        if swing <= 0.0:
            return None
        base = self._base
        k = t.j - base
        hi = t.confirmed - base + 1
        if k <= 0 or hi > self._p.shape[0]:
            return None
        dev = t.kind * (t.value - self._p[:hi])  # >= 0, how far p is from the extreme
        lvl = self.edge_frac * swing
        before = _nonzero(dev[:k] > lvl)
        if before.size == 0:
            return None
        i0 = int(before[-1])
        after = _nonzero(dev[k:] > lvl)
        i1 = k + int(after[0]) if after.size else hi - 1
        if i1 - i0 > self._through_max:
            return None  # a hold, however much the sensor jiggles (steps, a tremor): not straight through
        mag = self._mag[i0 : i1 + 1]
        if mag.shape[0] >= self._rest_w and float(_window_ranges(mag, self._rest_w).min()) < _REST_MAG_G:
            return None
        if not after.size:  # confirmed before p left: the extreme itself
            return float(t.j)
        enter = (base + i0) + _frac(-dev, i0, -lvl)  # absolute indices: the same sums in any block split
        leave = (base + i1 - 1) + _frac(dev, i1 - 1, lvl)
        return 0.5 * (enter + leave)


def _frac(x: np.ndarray, i: int, level: float) -> float:
    """Fraction of the way from sample i to i+1 where x crosses level (0 if no next sample)."""
    if i + 1 >= x.shape[0] or i < 0:
        return 0.0
    dx = x[i + 1] - x[i]
    if dx == 0:
        return 0.0
    return float(min(1.0, max(0.0, (level - x[i]) / dx)))


def _max_angle_deg(ref: np.ndarray, u: np.ndarray) -> float:
    """Largest angle (degrees) between direction ref (3,) and the directions u (n, 3)."""
    x, y, z = u[:, 0], u[:, 1], u[:, 2]
    cx = y * ref[2] - z * ref[1]
    cy = z * ref[0] - x * ref[2]
    cz = x * ref[1] - y * ref[0]
    cross = np.sqrt(cx * cx + cy * cy + cz * cz)
    return math.degrees(float(np.max(np.arctan2(cross, u @ ref))))


def _window_ranges(x: np.ndarray, w: int) -> np.ndarray:
    """Range (max - min) of x over each window of w consecutive samples (len(x) >= w)."""
    win = sliding_windows(x, w)
    return win.max(axis=1) - win.min(axis=1)


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    """Angle (degrees) between the directions of vectors u and v (3,)."""
    return _max_angle_deg(u, v[None, :])


def _nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices of the true values of a 1-D mask (``np.flatnonzero`` without its wrappers)."""
    return mask.nonzero()[0]
