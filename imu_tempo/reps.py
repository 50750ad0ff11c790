"""Rep segmentation: from a movement signal to timed repetitions.

The movement signal is the specific-force magnitude minus gravity,
``x - g``, which equals the vertical acceleration whatever way the sensor is
mounted (to first order; exact for vertical movement and any rotation).  Two
small state machines turn it into reps, both driven only by sample values, so
any split of the stream into blocks gives the same reps:

``LobeScanner``
    Integrates ``x - g`` to a vertical velocity from the last *anchor*: a
    rest (zero-velocity update) or a turnaround (velocity zero crossing).  It
    cuts the stream into *lobes*: runs of upward or downward movement, each
    with its start and end (a rest or a turnaround), peak velocity and
    displacement.  Gravity ``g`` is re-measured at every steady rest, which removes
    the sensor's bias as seen in the current orientation; the bias vector itself
    is learnt from the velocity each bout shows at its closing rest, so the
    change of its projection as the sensor turns is taken off too.  A bout that comes to
    rest has its drift removed (zero-velocity update); a bout without rests
    (continuous swings) has it measured over each full up+down cycle, whose
    true mean velocity is zero, and taken off as a line fitted through the last
    cycles.

``RepAssembler``
    Groups lobes into reps by bookkeeping displacement: a rep must contain a
    concentric lobe (upward, at least ``min_rom_m``), move back down after it,
    and return to the level it started from, ending at a rest or at the same
    kind of turnaround it started at (so continuous kettlebell swings end at
    the backswing, paused push presses at the rack).  Setting-up moves (a
    clean to the rack, a walk, a fidget) never return or never rise far
    enough, and are dropped.

Rest boundaries are refined from the acceleration ramp (extrapolated from 40 %
and 15 % of the phase's peak acceleration), turnarounds from the velocity zero
crossing, so timing is sub-sample and does not depend on thresholds in m/s^2.

Indices here are absolute sample indices into the engine's ring buffer;
fractional indices locate boundaries between samples.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .filters import sliding_windows
from .ring import RingBuffer

STANDARD_GRAVITY = 9.80665

# Learning the accelerometer's bias from the zero-velocity updates (LobeScanner._learn_bias).
BIAS_PRIOR_MPS2 = 0.2  # typical MEMS bias per axis: what the estimate shrinks toward zero with
ZUPT_NOISE_MPS = 0.3  # velocity error a bout picks up from everything but the bias (drift, tilt)
BIAS_MAX_MPS2 = 1.0  # a larger estimate is not believed (clipped)
BIAS_HALF_LIFE_S = 600.0  # old bouts count half after this long (a bias drifts with temperature)
BIAS_MAX_BOUT_S = 8.0  # longer bouts (walking, a long set-up) break the model: not used
BIAS_MIN_TURN_S = 0.05  # |r| below this (the sensor hardly turned) says nothing about the bias
# An up-first rep may end this far (a fraction of its excursion) *below* its start: the down
# phase is integrated from a rest at the top, so a slow top (a grinding pull-up, where the
# velocity is small and its errors large) loses height on the way up but not on the way down.
# Ending above the start stays strict (level_tol): that is a move onto a rack or a box.
UNDERSHOOT = 0.45
# A rep followed by steps may be judged back at its start level (moved_until) within this fraction
# of its excursion when no boundary is within level_tol: the zero-velocity update comes at the rest
# after the steps, so the rep's end level carries the steps' drift too.  With a noisy sensor
# (0.3 m/s^2) the last jump squat before walking off ended 9 cm (16 %) low and was lost.  The
# nearest boundary wins (a jump's landing can be within it too; the standing up is nearer).  Exact
# count: noisy grid 0.867 -> 0.875, seeds 30-33 0.984 -> 0.992, stamps jittering by 0.3 periods
# 0.992 -> 1.0; the grid, no-gyro, tempo 1.5 and placement grids unchanged (dev acc.py).
WALK_OFF_TOL = 0.25
# Small trailing lobes after a turnaround are wiggles and not part of the rep, unless the rep was
# this far (fraction of its excursion) off its start level at the turnaround and they bring it more
# than halfway back: a bench throw's bar, caught a few cm low and pressed back up to lockout.
PRESSED_BACK_OFF = 0.08
# A movement that breaks a rest's quiet window may have left the rest level up to this long
# before (a grinding rep's gentle start); further back it is more likely a fidget or a step.
ONSET_BACK_S = 0.3
# Gravity re-measured at a rest must be within G_JUMP_MPS2 of the median of the last G_HIST
# measurements (once there are G_HIST_MIN): a sensor's scale error moves its 1 g reading by
# ~0.1-0.3 m/s^2 as it turns, and its bias projection is learnt and taken off.
G_JUMP_MPS2 = 0.4
# A slow, smooth movement (a 2 s eccentric) is as steady as a rest to the accelerometer, and
# its velocity, below v_establish for its last quarter second, looks like a rest's drift.
# Where the sensor faces as it did when gravity was measured (SAME_WAY_COS), it reads that
# gravity to within its noise (scale error and bias projection barely change), so the
# distance from it tells the two apart (LobeScanner._at_gravity) -- once that gravity agrees
# with the session's others to G_VOUCH_MPS2 (a set-up move can pass for a rest and measure
# one 0.9 m/s^2 off).
SAME_WAY_COS = float(np.cos(np.radians(10.0)))
G_VOUCH_MPS2 = 0.15
REST_OFF_MPS2 = 0.4  # a rest's window (quiet_window_s) is within this of gravity on average ...
STEADY_OFF_MPS2 = 0.25  # ... and a forced rest's (force_rest_s) within this
DRIFT_MPS2 = 0.1  # a forced rest's velocity has drifted no faster than this since the bout began ...
BRAKE_MPS2 = 0.1  # ... and is not braked harder than this (drift grows with the gravity error's sign)
PERSIST_MPS2 = 0.1  # ... unless three windows running hold one offset within this, and it explains the velocity
# While a rest is shorter than the onset window, a movement leaving it is judged against its
# level over its first REST_LEVEL_S, give or take LEVEL_SIGMAS standard errors of that level
# per second.
REST_LEVEL_S = 0.3
LEVEL_SIGMAS = 4.0
G_HIST = 9
G_HIST_MIN = 3

BoundaryKind = Literal["rest", "up", "down"]  # rest; turnaround bottom (down->up); top (up->down)

# Ring columns shared with the engine.
COL_T, COL_M, COL_X, COL_GAP, COL_V, COL_C, COL_U, COL_R, COL_Q = range(9)
COL_UP = slice(9, 12)  # the unit vector (sensor frame) COL_M is the component along (VerticalAccel.up)
N_COLS = 12  # COL_R: rotation rate (rad/s; 0 without a gyro); COL_Q: quiet range for the sample (m/s^2)


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """Detector constants, in physical units (converted to samples with the stream's rate)."""

    quiet_window_s: float = 0.10  # a rest is this long with the acceleration range below quiet_range
    quiet_range_mps2: float = 0.45
    rest_level_mps2: float = 0.8  # ... and within this of 1 g (a free fall is steady too; room for bias)
    force_rest_s: float = 0.3  # quiet this long is a rest even if the integrated velocity drifted (ZUPT)
    rest_rate_radps: float = 0.6  # ... and (with a gyroscope) rotating slower than this
    onset_window_s: float = 1.0  # slow movements: velocity gained over this window starts a movement
    v_establish_mps: float = 0.10  # a lobe exists once its velocity passes this
    g_min_rest_s: float = 0.25  # rests at least this long re-measure gravity
    level_tol: float = 0.15  # "back to the start level": within this fraction of the rep's excursion
    max_lobe_s: float = 4.0  # one upward or downward phase never lasts longer (else: drift; re-anchor)
    max_pre_phase_s: float = 1.5  # a dip, descent or backswing before the lift is never slower
    max_hold_s: float = 1.2  # a rest this long inside an unfinished rep abandons it (set-up, re-rack)


@dataclass(slots=True)
class Lobe:
    sign: int  # +1 upward, -1 downward
    start: float  # fractional absolute index
    start_kind: BoundaryKind
    end: float = float("nan")
    end_kind: BoundaryKind = "rest"
    peak_v: float = 0.0  # peak |velocity| in m/s
    disp: float = 0.0  # signed displacement in m
    g: float = 9.80665  # gravity estimate used while integrating
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)  # accelerometer bias taken off (LobeScanner.bias)
    done_at: int = -1  # absolute index at which the lobe's end became known


class LobeScanner:
    """Cuts the movement signal into lobes; feed it with :meth:`advance`.

    The scanner reads ``x`` (smoothed magnitude, column ``COL_X``) from the
    ring and writes its integrated velocity (``COL_V``) and rest cumulative
    sum (``COL_C``) back, so later refinement can read them.
    """

    def __init__(self, ring: RingBuffer, *, fs_hz: float, params: DetectorParams, g0: float) -> None:
        self.ring = ring
        self.fs = fs_hz
        self.dt = 1.0 / fs_hz
        self.p = params
        self.W = max(2, int(round(params.quiet_window_s * fs_hz)))
        self.Wf = max(self.W + 1, int(round(params.force_rest_s * fs_hz)))
        self.Wv = max(2, int(round(params.onset_window_s * fs_hz)))
        self.Wo = max(self.W + 1, int(round(ONSET_BACK_S * fs_hz)))
        self.Wl = max(2, int(round(REST_LEVEL_S * fs_hz)))
        self.Wb = int(round(BIAS_MAX_BOUT_S * fs_hz))
        self.max_lobe = int(round(params.max_lobe_s * fs_hz))
        self.Wg = max(self.W, int(round(2.0 * fs_hz)))  # gravity is re-measured over a rest's last 2 s
        self.g = g0
        self.pos = 0  # next absolute index to scan
        self.floor = 0  # first valid index (stream start or last reset)
        self.mode: Literal["rest", "move"] = "rest"
        self.rest_start = 0
        self.c_prev = 0.0  # running cumsum of (x - g) dt since rest_start
        self.v_prev = 0.0
        self.cur: Lobe | None = None
        self.pending: Lobe | None = None
        self.move_from = 0  # no return to rest before this index (avoid re-entering at the same sample)
        self._prev_lobe: Lobe | None = None
        self._bout: list[Lobe] = []  # lobes since the last rest, corrected together when it ends
        self._q_cache: tuple | None = None
        self._bout_start = 0.0
        self.u_prev = 0.0  # raw integrated velocity (before the drift line is taken off)
        self._line = (0.0, 0.0, 0.0)  # drift line (value, slope per sample, at index)
        self._line_next: tuple | None = None  # a better line, switched to mid-lobe
        self._cyc_pts: list[tuple[float, float]] = []  # (index, drift) points of this bout
        self._u_scan: np.ndarray | None = None
        self._u_base = 0
        # accelerometer bias (sensor frame, m/s^2), learnt from the bouts between rests
        self.bias = np.zeros(3)
        self._bias_A = np.zeros((3, 3))  # normal equations of the bias fit
        self._bias_y = np.zeros(3)
        self._bias_at = 0  # sample index of the last update (ages the normal equations)
        self._g_up: np.ndarray | None = None  # direction (sensor frame) where g was last measured
        self._turned: tuple[float, int, int] = (-1.0, 0, -1)  # bout start, checked up to, first turned (_first_turned)
        self._level: tuple[int, float, float] = (-1, 0.0, 0.0)  # rest start, its early level, its standard error
        self._g_fresh = False  # g was measured at the rest this bout started from
        self._g_hist: list[float] = []  # the last accepted gravity measurements

    # -- public --------------------------------------------------------------------
    def reset(self, at: int) -> None:
        """Forget motion state (after a long gap); scanning restarts at ``at`` as a rest."""
        self.pos = self.floor = self.rest_start = at
        self._q_cache = None
        self.mode = "rest"
        self.c_prev = self.v_prev = 0.0
        self.cur = self.pending = None
        self._prev_lobe = None

    def advance(self, stop: int, on_lobe=None) -> list[Lobe]:
        """Scan indices up to ``stop`` (exclusive); return the lobes completed, in order.

        ``on_lobe(lobe)`` is called for each lobe the moment it completes, before the scan
        goes on.  Later zero-velocity updates may still correct a lobe's displacement and
        turnaround times; handing lobes over at once (rather than after the scan) makes what
        the consumer sees independent of how the stream was split into blocks.
        """
        done: list[Lobe] = []
        while self.pos < stop:
            n = len(done)
            if self.mode == "rest":
                self._scan_rest(stop)
            else:
                self._scan_move(stop, done)
            if on_lobe is not None:
                for lobe in done[n:]:
                    on_lobe(lobe)
        return done

    def flush(self) -> list[Lobe]:
        """End of stream: a lobe still open is incomplete and dropped; nothing more completes."""
        self.cur = self.pending = None
        return []

    # -- helpers ---------------------------------------------------------------------
    def _hist(self, start: int, stop: int, window: int) -> tuple[np.ndarray, int]:
        lo = max(self.floor, self.ring.first, start - window + 1)
        return self.ring.get(lo, stop, COL_X), lo

    def _first_at_gravity(self, points: np.ndarray) -> int:
        """Index into ``points`` (rest candidates, ascending) of the first whose quiet window's mean
        is a gravity this sensor reads, or -1.

        A slow top (a grinding pull-up or press running into its descent) is quiet for most of a
        second at 0.6 m/s^2 below gravity; taken for a rest, it zeroes the velocity of a descent
        under way and the rep is lost.  Once the session has G_HIST_MIN gravity measurements, a
        rest's window must be within G_JUMP_MPS2 of their median.  Candidates are judged a few
        dozen at a time: the first one that passes is usually among the first few.
        """
        usual = statistics.median(self._g_hist)
        for c0 in range(0, points.shape[0], 64):
            pts = points[c0 : c0 + 64]
            lo = max(int(pts[0]) - self.W + 1, self.ring.first)
            c = np.concatenate(([0.0], np.cumsum(self._xc(lo, int(pts[-1]) + 1))))
            end = pts - lo + 1
            begin = np.maximum(end - self.W, 0)
            ok = np.abs((c[end] - c[begin]) / (end - begin) - usual) <= G_JUMP_MPS2
            hit = _nonzero(ok)
            if hit.size:
                return c0 + int(hit[0])
        return -1

    def _quiet_cached(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Quiet flags over the short (rest) and long (forced rest) windows for [start, stop).

        Quietness depends on the signal alone (trailing windows, not the scanner's state),
        so a flag never changes once computed: a rolling cache extends it with new samples.
        """
        c = self._q_cache
        if c is None or start < c[0] or c[1] < start:
            lo = max(min(start, self.pos) - self.Wv, self.floor, self.ring.first)
            c = (lo, lo, np.zeros((2, 0), dtype=bool))
        lo, hi, flags = c
        if stop > hi:
            x, xlo = self._hist(hi, stop, self.Wf)
            # A slow grind is as steady as a rest to the accelerometer: with a gyroscope, a
            # long rest (which needs no velocity check) must not rotate either, nor a short
            # one all through (_quiet).
            turning = self.ring.get(xlo, xlo + x.shape[0], COL_R) >= self.p.rest_rate_radps
            flags = np.concatenate((flags, self._quiet(x, xlo, hi, turning)), axis=1)
            hi = stop
            keep = 4 * self.Wv + self.Wf  # rescans never go back further than this
            if hi - lo > 2 * keep:
                cut = min(hi - keep, start) - lo
                if cut > 0:
                    flags, lo = flags[:, cut:], lo + cut
            self._q_cache = (lo, hi, flags)
        elif c is not self._q_cache:
            self._q_cache = c
        return flags[0, start - lo : stop - lo], flags[1, start - lo : stop - lo]

    def _quiet(self, x: np.ndarray, lo: int, start: int, turning: np.ndarray) -> np.ndarray:
        """Trailing-window quiet flags for indices [start, lo + len(x)): row 0 over the rest
        window ``W`` (not where ``turning`` lasts all through it), row 1 over the forced-rest
        window ``Wf`` (where any ``turning`` sample breaks it).

        Quiet: over the window ending at the sample, every value within
        ``rest_level`` of standard gravity (a free fall is steady too, and a drifting
        gravity estimate must not vouch for itself) and a range below ``quiet_range``.
        Windows reaching before the first valid sample are not quiet.
        """
        m = x.shape[0]
        n_out = lo + m - start
        q = np.zeros((2, max(n_out, 0)), dtype=bool)
        if n_out <= 0:
            return q
        pos = np.arange(m)
        out = pos[m - n_out :]  # positions in x of the samples flagged
        before = max(lo, self.floor) - lo - 1  # position of the last sample before the first valid one
        level_bad = np.abs(x - STANDARD_GRAVITY) >= self.p.rest_level_mps2
        thr = None
        for row, (window, bad) in enumerate(((self.W, level_bad), (self.Wf, level_bad | turning))):
            # samples since the last offender (or the first valid sample): the window must fit in them
            last = np.maximum.accumulate(np.where(bad, pos, before))[m - n_out :]
            cand = (out - last >= window).nonzero()[0]
            if cand.size:
                rows = sliding_windows(x, window)[out[cand] - window + 1]  # the window ending at each
                if thr is None:  # the quiet range grows with the sensor's own noise (COL_Q; filters.NoiseFloor)
                    thr = self.ring.get(start, start + n_out, COL_Q)
                q[row, cand] = (rows.max(axis=1) - rows.min(axis=1)) < thr[cand]
                if row == 0:
                    # A limb turning all through the window is moving, however steady the
                    # accelerometer: a slow pull-up's upper arm turns some 90 degrees while it
                    # rises 0.2 m.  A rest may hold a brief turn, and a lift's turnaround passes
                    # through none, so one slower sample keeps the window a rest.
                    still = sliding_windows(~turning, window)[out[cand] - window + 1]
                    q[row, cand] &= still.any(axis=1)
        return q

    def _xc(self, lo: int, hi: int) -> np.ndarray:
        """``x`` for [lo, hi) with the learnt accelerometer bias taken off."""
        return debiased_x(self.ring, lo, hi, self.bias)

    def _onset(self, anchor: int, j: int) -> int:
        """Move a quiet-break anchor back to where a slow start really left the rest level.

        The quiet window breaks when the acceleration's range grows; a grinding rep's first
        tenth of a second is gentler than that, and the velocity it gains (0.05 m/s at the
        start of a slow pull-up) would be lost, shortening the whole up phase.  Walk back
        from the break while the signal stays on the movement's side of the rest's level
        (at most ``ONSET_BACK_S``).
        """
        lo = max(self.rest_start, j - self.Wo)
        if anchor - lo < 2:
            return anchor
        x = self._xc(lo, j + 1)
        level = float(self.ring.get(anchor - 1, anchor, COL_C)[0]) / (anchor - self.rest_start)
        side = np.sign(x[-1] - level)
        back = _nonzero(side * (x[: anchor - lo + 1] - level) <= 0)  # at or across the level
        if side == 0 or back.size == 0:
            return anchor  # never at the level: no clean start to go back to
        return lo + int(back[-1])

    def _scan_rest(self, stop: int) -> None:
        i = self.pos
        xi = self._xc(i, stop)
        q, _ = self._quiet_cached(i, stop)
        # C: running sum of x since the rest began (continued sequentially: chunk invariant)
        c = np.cumsum(np.concatenate(([self.c_prev], xi)))[1:]
        self.ring.put(i, COL_C, c)
        self.ring.put(i, COL_V, np.zeros_like(c))
        n_rest = np.arange(i - self.rest_start + 1, stop - self.rest_start + 1)  # samples of rest so far
        mean_rest = c / n_rest  # the rest's own level: a stale g cannot fake a movement
        # the velocity gained over the last Wv samples (or the whole rest, while it is shorter)
        h = min(max(0, self.rest_start + self.Wv - i), stop - i)  # the first sample with Wv behind it
        win_sum = c.copy()
        n_win = n_rest.astype(float)
        if h < stop - i:
            win_sum[h:] = c[h:] - self.ring.get(i + h - self.Wv, stop - self.Wv, COL_C)
            n_win[h:] = self.Wv
        vsum = (win_sum - n_win * mean_rest) * self.dt
        trig = (~q) | (np.abs(vsum) >= self.p.v_establish_mps)
        k_lvl = self.rest_start + self.Wl - 1
        if k_lvl < i + h:
            # While the rest is shorter than the onset window, that window is the whole rest,
            # and so is the level it is judged against: a movement easing out of a short hold
            # (a slow descent from the top) pulls that level along and never gains velocity
            # from it.  Judge it against the rest's early level instead.
            lvl, se = self._early_level(k_lvl)
            late = slice(max(0, k_lvl + 1 - i), h)
            n_late = n_rest[late]
            tol = self.p.v_establish_mps + LEVEL_SIGMAS * se * (n_late - self.Wl) * self.dt
            trig[late] |= np.abs(c[late] - n_late * lvl) * self.dt >= tol
        hits = _nonzero(trig)
        if hits.size == 0:
            self.c_prev = float(c[-1])
            self.pos = stop
            return
        j = i + int(hits[0])
        # Leave the rest: re-measure gravity from it, anchor the velocity before the onset.
        by_velocity = q[hits[0]]
        anchor = max(self.rest_start, j - (self.Wv if by_velocity else self.W))
        if not by_velocity and anchor - self.rest_start >= self.p.g_min_rest_s * self.fs:
            anchor = self._onset(anchor, j)  # a real rest (not a step's pause): its level is known
        if anchor - self.rest_start >= self.p.g_min_rest_s * self.fs:
            # the last seconds of the rest: the orientation the movement starts from
            lo = max(self.rest_start, anchor + 1 - self.Wg, self.ring.first)
            seg = self._xc(lo, anchor + 1)
            up = self.ring.get(lo, anchor + 1, COL_UP).mean(axis=0)
            up /= max(float(np.linalg.norm(up)), 1e-9)
            level = float(np.mean(seg))
            hist = self._g_hist
            self._g_fresh = _steady(seg, float(self.ring.get(anchor, anchor + 1, COL_Q)[0])) and not (
                # a sensor reads 1 g alike whichever way it faces, to within its scale error
                # (its bias is learnt and taken off): a level far from the session's usual one is
                # a steady acceleration (a slow top running into the descent), not gravity
                len(hist) >= G_HIST_MIN and abs(level - statistics.median(hist)) > G_JUMP_MPS2
            )
            if self._g_fresh:
                self.g = level
                self._g_up = up
                hist.append(level)
                del hist[:-G_HIST]
        else:
            self._g_fresh = False
        self.mode = "move"
        self._bout = []
        self._bout_start = float(anchor)
        self.u_prev = 0.0
        self._line = (0.0, 0.0, float(anchor))
        self._line_next = None
        self._cyc_pts = [(float(anchor), 0.0)]  # at rest the drift is zero
        self.cur = Lobe(sign=0, start=float(anchor), start_kind="rest", g=self.g, bias=self._bias_t())
        self.pending = None
        self.v_prev = 0.0
        self.move_from = j
        self.pos = anchor + 1

    def _scan_move(self, stop: int, done: list[Lobe]) -> None:
        i = self.pos
        xi = self._xc(i, stop)
        u = np.cumsum(np.concatenate(([self.u_prev], (xi - self.g) * self.dt)))[1:]
        v = u - self._drift(i, u)
        self._u_scan, self._u_base = u, i
        q, ql = self._quiet_cached(i, stop)
        idx = np.arange(i, stop)
        slow = np.abs(v) < self.p.v_establish_mps
        quiet = ((q & slow) | ql) & (idx > self.move_from)
        cand = _nonzero(quiet)
        if cand.size:  # only where a rest may be: the gravity checks (_at_gravity) can veto it
            n = int(cand[-1]) + 1
            at_g, at_g_long = self._at_gravity(i, i + n, v[:n], xi[:n])
            quiet[:n] &= (q[:n] & slow[:n] & at_g) | (ql[:n] & at_g_long)
        # No phase of a rep lasts this long: the velocity has drifted.  Re-anchor as if at rest;
        # the assembler drops the lobe (it never returns to its start level).
        open_since = (self.pending or self.cur).start if (self.pending or self.cur) else i
        too_long = (idx - open_since) > self.max_lobe

        def rests(other: np.ndarray) -> np.ndarray:
            # Quiet samples that are rests, up to the first other event (every branch stops at
            # its first event, a rest winning a tie): only those need the gravity check.
            out = too_long.copy()
            lim = _first(other)
            cand = _nonzero(quiet[: lim + 1] if lim >= 0 else quiet)
            if cand.size:
                k = self._first_at_gravity(i + cand) if len(self._g_hist) >= G_HIST_MIN else 0
                if k >= 0:
                    out[cand[k]] = True
            return out

        cur = self.cur
        assert cur is not None
        pend = self.pending
        if cur.sign == 0:
            est = np.abs(v) >= self.p.v_establish_mps
            rest = rests(est)
            j = _first(est | rest)
            if j < 0:
                return self._consume(v, i, i, stop)
            if est[j]:
                cur.sign = 1 if v[j] > 0 else -1
                return self._consume(v, i, i, i + j + 1)
            return self._to_rest(v, i, i + j, lobe_done=None, done=done)
        s = cur.sign
        if pend is None:
            cross = s * v < 0
            rest = rests(cross)
            j = _first(cross | rest)
            if j < 0:
                return self._consume(v, i, i, stop)
            if rest[j]:
                return self._to_rest(v, i, i + j, lobe_done=cur, done=done)
            # zero crossing between i+j-1 and i+j
            vb = self.v_prev if j == 0 else float(v[j - 1])
            frac = vb / (vb - float(v[j])) if vb != v[j] else 0.0
            self._consume(v, i, i, i + j)  # up to (not incl.) the crossing sample, into cur
            self.pending = Lobe(sign=-s, start=(i + j - 1) + frac, start_kind="up" if s < 0 else "down", g=self.g, bias=self._bias_t())
            return self._consume(v, i, i + j, i + j + 1)
        est = -s * v >= self.p.v_establish_mps
        back = s * v > 0
        rest = rests(est | back)
        j = _first(est | back | rest)
        if j < 0:
            return self._consume(v, i, i, stop)
        if rest[j]:
            # the crossing was drift at the end of the movement: cur ends at this rest
            cur.disp += pend.disp
            self.pending = None
            return self._to_rest(v, i, i + j, lobe_done=cur, done=done)
        if back[j]:
            cur.disp += pend.disp
            cur.peak_v = max(cur.peak_v, pend.peak_v)
            self.pending = None
            return self._consume(v, i, i, i + j + 1)
        # the new direction is established: cur ended at the crossing
        cur.end = pend.start
        cur.end_kind = pend.start_kind
        cur.done_at = i + j
        done.append(cur)
        self._bout.append(cur)
        self.cur = pend
        self.pending = None
        self._consume(v, i, i, i + j + 1)
        self._cycle_update(cur)
        return None

    def _early_level(self, k_lvl: int) -> tuple[float, float]:
        """The rest's mean over its first ``Wl`` samples (up to ``k_lvl``) and its standard error."""
        r0, lvl, se = self._level
        if r0 != self.rest_start:
            x = self._xc(max(self.rest_start, self.ring.first), k_lvl + 1)
            lvl, se = float(x.mean()), float(x.std()) / math.sqrt(x.shape[0])
            self._level = (self.rest_start, lvl, se)
        return lvl, se

    def _at_gravity(self, start: int, stop: int, v: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether the rest (``W``) and forced-rest (``Wf``) windows ending at each sample of
        [start, stop) may be rests, by the gravity last measured (``v``, ``x``: the velocity and
        the debiased signal there).

        A quiet window is a rest when the velocity is near zero, and a long one even when the
        velocity has drifted: the gravity it was integrated against may be wrong.  But a slow,
        smooth lift or descent is quiet too: a forced rest at its steady acceleration cut it in
        pieces, and its gentle braking, slower than v_establish for a quarter second, cut it
        short.  Facing as when gravity was measured, the sensor reads that gravity, so a
        window REST_OFF / STEADY_OFF off it on average is moving; and if it has faced that way
        all bout, the velocity integrated against it has drifted no faster than DRIFT_MPS2, in
        the direction the window's offset pushes it (a window braking it is a stop under way) --
        unless the offset has held for three windows and explains the velocity: a rest read
        against a gravity a little off.
        Turned away, or with a gravity the session does not vouch for, nothing changes.
        """
        n_out = stop - start
        hist = self._g_hist
        if self._g_up is None or abs(self.g - statistics.median(hist)) > G_VOUCH_MPS2:
            yes = np.ones(n_out, dtype=bool)
            return yes, yes
        away = self.ring.get(start, stop, COL_UP) @ self._g_up <= SAME_WAY_COS
        if away.all():
            return away, away
        lo = max(self.floor, self.ring.first, start - 3 * self.Wf + 1)
        c = np.concatenate(([0.0], np.cumsum(np.concatenate((self._xc(lo, start), x)) - self.g)))
        idx = np.arange(start, stop)
        k = idx - lo + 1  # c[k] sums up to and including each sample
        out = []
        for window, off in ((self.W, REST_OFF_MPS2), (self.Wf, STEADY_OFF_MPS2)):
            n = np.minimum(k, window)
            mean = (c[k] - c[k - n]) / n  # the last pass leaves the forced-rest window's
            out.append(away | (np.abs(mean) < off))
        drifted = np.abs(v) < self.p.v_establish_mps + DRIFT_MPS2 * (idx - self._bout_start) * self.dt
        # drift grows the way the gravity error pushes it; braking against the velocity is a stop
        drifted &= (mean * v >= 0) | (np.abs(mean) < BRAKE_MPS2)
        veto = ~(away | drifted)
        if veto.any():
            out[1] &= ~veto | (idx >= self._first_turned(start, away))
        # A gravity 0.1-0.3 m/s^2 off (measured at a set-up pause) makes a real rest look like
        # either.  But no movement holds one acceleration for three forced-rest windows running,
        # and a velocity that grew at that acceleration since the bout began is its drift.
        w = self.Wf
        ok = k >= 3 * w  # three windows of data behind the sample
        if ok.any():
            kk = np.where(ok, k, 3 * w)
            m1, m2, m3 = ((c[kk - j * w] - c[kk - (j + 1) * w]) / w for j in range(3))
            steady = ok & (np.maximum(np.maximum(m1, m2), m3) - np.minimum(np.minimum(m1, m2), m3) < PERSIST_MPS2)
            since = np.maximum((idx - self._bout_start) * self.dt, self.dt)
            out[1] |= steady & (np.abs(v - m1 * since) < np.maximum(self.p.v_establish_mps, 0.5 * np.abs(v)))
        return out[0], out[1]

    def _first_turned(self, start: int, away: np.ndarray) -> int:
        """The first index of this bout at which the sensor faced away from where gravity was
        measured, or ``start + len(away)`` if none yet (``away``: those flags for [start, ...)).
        The flags depend on the data alone, so they are checked once per bout.  A bout longer
        than BIAS_MAX_BOUT_S (a long swing set, a walk) counts as turned from then on: the
        check never reads further back than that, whatever the ring still holds."""
        b0, upto, first = self._turned
        if b0 != self._bout_start:
            b0, upto, first = self._bout_start, int(self._bout_start), -1
        end = start + away.shape[0]
        cap = int(self._bout_start) + self.Wb
        if first < 0 and start >= cap:
            first = cap
        if first < 0 and upto < start:
            hit = _nonzero(self.ring.get(upto, start, COL_UP) @ self._g_up <= SAME_WAY_COS)
            first = upto + int(hit[0]) if hit.size else -1
        if first < 0:
            hit = _nonzero(away)
            first = start + int(hit[0]) if hit.size else -1
            upto = max(upto, end)
        self._turned = (b0, upto, first)
        return first if first >= 0 else end

    def _bias_t(self) -> tuple[float, float, float]:
        return (float(self.bias[0]), float(self.bias[1]), float(self.bias[2]))

    def _learn_bias(self, last: int) -> None:
        """Learn the accelerometer's bias from the bout that just came to rest at ``last``.

        An accelerometer bias ``b`` (sensor frame) adds ``b . up`` to ``x``.  At the
        rest the bout started from, that was folded into ``g``; as the sensor turns
        during the bout it changes by ``b . (up - up0)``, a slowly varying error the
        drift line cannot follow (0.1-0.3 m/s^2 for a limb that turns 90 degrees: the
        size of a slow rep's deceleration).  The velocity shown at the rest is truly
        zero, so it measures ``(b - bias) . r`` with ``r = integral of (up - up0) dt``:
        one linear equation in ``b`` per bout.  The bouts' equations are pooled (least
        squares, shrunk toward zero by the prior, older ones fading) and the estimate is
        taken off ``x`` from here on.  Only bouts whose start re-measured gravity, that
        are short and that turned the sensor enough say anything; and the update comes
        at the rest, in data order, so any block split gives the same estimate.
        """
        b0 = int(self._bout_start)
        g_up = self._g_up
        if not self._g_fresh or g_up is None or b0 < self.ring.first or last <= b0:
            return
        if (last - b0) * self.dt > BIAS_MAX_BOUT_S:
            return
        drift = self.u_prev  # raw integral of (x - bias . up - g) since b0: truly zero here
        r = (self.ring.get(b0 + 1, last + 1, COL_UP) - g_up).sum(axis=0) * self.dt
        if float(np.linalg.norm(r)) < BIAS_MIN_TURN_S or abs(drift) > 1.0:
            return
        fade = 0.5 ** ((last - self._bias_at) * self.dt / BIAS_HALF_LIFE_S)
        self._bias_at = last
        self._bias_A = fade * self._bias_A + np.outer(r, r)
        self._bias_y = fade * self._bias_y + r * (float(self.bias @ r) + drift)
        lam = (ZUPT_NOISE_MPS / BIAS_PRIOR_MPS2) ** 2
        new = np.linalg.solve(self._bias_A + lam * np.eye(3), self._bias_y)
        size = float(np.linalg.norm(new))
        if size > BIAS_MAX_MPS2:
            new *= BIAS_MAX_MPS2 / size
        # g was measured with the old estimate: restate it with the new one
        self.g += float((self.bias - new) @ g_up)
        self.bias = new

    def _zupt(self, rest_start: int) -> None:
        """Zero-velocity update over the bout that just came to rest.

        At rest the true velocity is zero, so the integrated velocity there is the
        drift accumulated since the bout left the previous rest.  Assuming it grew
        linearly (a constant error in gravity), remove that ramp from every lobe of
        the bout: their displacements, and the turnaround times between them.
        """
        bout = self._bout
        b0 = self._bout_start
        span = rest_start - b0
        if not bout or span <= 0:
            return
        drift = self.v_prev  # velocity shown at the rest; truly zero
        rate = drift / span  # per sample
        if rate == 0.0:
            return
        dt = self.dt
        # turnaround times between consecutive lobes: zero crossings of the corrected velocity
        for a, b in zip(bout[:-1], bout[1:]):
            if a.end_kind == "rest":
                continue
            c = a.end
            lo = max(int(np.floor(a.start)) + 1, self.ring.first, int(c) - int(0.4 * self.fs))
            hi = min(int(np.ceil(b.end)), self.ring.total, int(c) + int(0.4 * self.fs) + 2)
            if hi - lo < 3:
                continue
            idx = np.arange(lo, hi)
            vc = self.ring.get(lo, hi, COL_V) - rate * (idx - b0)
            sgn = a.sign * vc
            # the crossing from a's direction to b's nearest to the old one
            ks = _nonzero((sgn[:-1] > 0) & (sgn[1:] <= 0))
            if ks.size == 0:
                continue
            k = int(ks[np.argmin(np.abs(idx[ks] - c))])
            frac = vc[k] / (vc[k] - vc[k + 1]) if vc[k] != vc[k + 1] else 0.0
            a.end = b.start = float(idx[k] + frac)
        # displacements: subtract the integral of the drift ramp over each lobe
        for lb in bout:
            s0 = max(lb.start - b0, 0.0)
            s1 = max(lb.end - b0, s0)
            lb.disp -= rate * dt * (s1 * s1 - s0 * s0) / 2.0

    def _cycle_update(self, done: Lobe) -> None:
        """Measure the velocity drift over each completed up+down cycle of a continuous bout.

        A bout without rests (kettlebell swings, continuous jumps) gets no
        zero-velocity update, and a gravity error of 0.1 m/s^2 (a bias seen from a
        new orientation) builds 1 m/s of drift in ten seconds.  But a full cycle,
        turnaround to the same kind of turnaround, returns to where it started: its
        true mean velocity is zero, so the mean of the raw integrated velocity over
        it is the drift at the cycle's middle.  A line through the last few such
        points (and the bout's start at rest, where the drift is zero) is the drift
        estimate, taken off the raw velocity from the middle of the next lobe on
        (:meth:`_drift`): switched at a turnaround, the step could make the velocity
        cross zero again and cut a lobe in two.
        """
        prev = self._prev_lobe
        self._prev_lobe = done
        if prev is None or prev.sign == done.sign or prev.end != done.start or prev.start_kind == "rest":
            return
        a, b = prev.start, done.end
        lo, hi = int(np.ceil(a)), int(np.floor(b)) + 1
        if hi - lo < 4 or lo < max(self.floor, self.ring.first):
            return
        if abs(float(np.mean(self.ring.get(lo, hi, COL_V)))) > 0.5 * min(prev.peak_v, done.peak_v):
            return  # not a cycle that came back to its start (a set-up move): no constraint
        pts = self._cyc_pts
        pts.append((0.5 * (a + b), float(np.mean(self.ring.get(lo, hi, COL_U)))))
        del pts[:-4]
        x = np.array([p[0] for p in pts])
        y = np.array([p[1] for p in pts])
        x0 = float(x[-1])
        if x.size == 1:
            line = (float(y[0]), 0.0, x0)
        else:
            slope, icpt = np.polyfit(x - x0, y, 1)
            line = (float(icpt), float(slope), x0)
        self._line_next = line + (np.inf,)

    def _drift(self, i: int, u: np.ndarray) -> np.ndarray:
        """The drift line for raw velocities ``u`` (from index ``i``), switching to a new one mid-lobe.

        A newly measured line replaces the current one at the first sample where the
        open lobe moves at least four times as fast as the step the switch makes (and
        0.5 m/s), so the step cannot change the velocity's sign.
        """
        idx = np.arange(i, i + u.shape[0], dtype=float)
        c0, c1, cr = self._line
        d = c0 + c1 * (idx - cr)
        nxt = self._line_next
        cur = self.cur
        if nxt is None or cur is None or cur.sign == 0 or self.pending is not None:
            return d
        if np.isfinite(nxt[3]):
            k = int(nxt[3]) - i
        else:
            n0, n1, nr = nxt[:3]
            dn = n0 + n1 * (idx - nr)
            v_old = u - d
            k = _first(cur.sign * v_old >= np.maximum(4.0 * np.abs(dn - d), 0.5))
            if k < 0:
                return d
            self._line_next = nxt[:3] + (float(i + k),)
            nxt = self._line_next
        if 0 <= k < u.shape[0]:
            n0, n1, nr = nxt[:3]
            d[k:] = n0 + n1 * (idx[k:] - nr)
        return d

    def _consume(self, v: np.ndarray, base: int, a: int, b: int) -> None:
        """Account samples [a, b) to the open lobe; ``v[k]`` is the velocity at index ``base + k``."""
        seg = v[a - base : b - base]
        if seg.size:
            target = self.pending if self.pending is not None else self.cur
            assert target is not None
            target.disp += float(seg.sum()) * self.dt
            if target.sign != 0:
                target.peak_v = max(target.peak_v, float(np.max(target.sign * seg)))
            self.ring.put(a, COL_V, seg)
            self.v_prev = float(seg[-1])
            u = self._u_scan
            if u is not None and self.mode == "move":
                useg = u[a - self._u_base : b - self._u_base]
                self.ring.put(a, COL_U, useg)
                self.u_prev = float(useg[-1])
                if self._line_next is not None and b - 1 >= self._line_next[3]:
                    self._line = self._line_next[:3]
                    self._line_next = None
        self.pos = max(self.pos, b)

    def _to_rest(self, v: np.ndarray, i: int, j_abs: int, *, lobe_done: Lobe | None, done: list[Lobe]) -> None:
        self._consume(v, i, i, j_abs + 1)
        rest_start = max(self.floor, j_abs - self.W + 1, int(np.ceil(self.cur.start)) + 1 if self.cur else 0)
        if lobe_done is not None:
            t_quiet = (j_abs + 1 - rest_start) * self.dt
            lobe_done.disp -= self.v_prev * t_quiet  # the quiet window itself only carried drift
            lobe_done.end = float(rest_start)
            self._bout.append(lobe_done)
            self._learn_bias(j_abs)
            self._zupt(rest_start)
            lobe_done.end_kind = "rest"
            lobe_done.done_at = j_abs
            done.append(lobe_done)
        self.mode = "rest"
        self.cur = self.pending = None
        self._prev_lobe = None
        self._bout = []
        self.rest_start = rest_start
        self.v_prev = 0.0
        # restart the rest cumsum at rest_start: rescan from there in rest mode
        self.c_prev = 0.0
        rescan_from = max(rest_start, self.move_from + 1)
        self.pos = max(rescan_from, j_abs + 1)
        if self.pos > rest_start:
            c = np.cumsum(self._xc(rest_start, self.pos))
            self.ring.put(rest_start, COL_C, c)
            self.c_prev = float(c[-1])


def debiased_x(ring: RingBuffer, lo: int, hi: int, bias) -> np.ndarray:
    """``x`` (COL_X) for [lo, hi) less an accelerometer bias seen along each sample's ``up``
    (``x - bias . up``): what a lobe integrated with that bias (``Lobe.bias``)."""
    x = ring.get(lo, hi, COL_X)
    if any(bias):
        x = x - ring.get(lo, hi, COL_UP) @ np.asarray(bias, dtype=float)
    return x


def _nonzero(mask: np.ndarray) -> np.ndarray:
    """Indices of the true values of a 1-D mask (``np.flatnonzero`` without its wrappers)."""
    return mask.nonzero()[0]


def _first(mask: np.ndarray) -> int:
    hits = mask.nonzero()[0]
    return int(hits[0]) if hits.size else -1


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepCandidate:
    """A rep in sample indices, before boundary refinement and timing."""

    start: float
    start_kind: BoundaryKind
    end: float
    end_kind: BoundaryKind
    conc: Lobe
    lobes: tuple[Lobe, ...]
    done_at: int


def moved_until(lobes: tuple[Lobe, ...] | list[Lobe], k_conc: int, *, min_rom_m: float, level_tol: float) -> int:
    """Index of the last lobe that belongs to the lift (lobes[k_conc] is its concentric).

    Steps after the weight came back (walking it to the rack after the last rep, before
    the sensor comes to rest) are not part of the rep: once the rep is back at its start
    level (the first boundary within ``level_tol`` of its excursion, else the nearest within
    ``WALK_OFF_TOL``), two or more trailing lobes that each move less than a quarter of its
    excursion (and less than ``min_rom_m``) are left out.  A single one is the last settle (standing
    up after a landing) and stays, unless it moves only a few centimetres (and does not press it
    back to its level: PRESSED_BACK_OFF).  The concentric lobe's own end is not where a rep came
    back: a thrown bar's apex may be level with lockout, and the catch and the press back follow
    (however small: two or more small lobes after the concentric's top turnaround stay).
    """
    levels = [0.0]
    for lb in lobes:
        levels.append(levels[-1] + lb.disp)
    excursion = max(levels) - min(levels)
    small = min(0.25 * excursion, min_rom_m)
    last = len(lobes) - 1
    k = last
    while k > k_conc and abs(lobes[k].disp) < small:
        k -= 1  # lobes k+1.. are small; is the rep back at its level after lobe k?
    # at least two small lobes after: steps, not one last settle; the first back within level_tol,
    # else the nearest within WALK_OFF_TOL (not the landing of a jump, when the standing up is nearer)
    back = [(abs(levels[j + 1] - levels[0]), j) for j in range(max(k, k_conc + 1), last) if lobes[j].end_kind != "rest"]
    for off, j in back:
        if off <= level_tol * excursion and j < last - 1:
            return j
    near = min(back, default=None)
    if near is not None and near[0] <= WALK_OFF_TOL * excursion and near[1] < last - 1:
        return near[1]
    # and a turnaround after the lift: trailing wiggles of a few centimetres (not when they bring it
    # back to its start level from well off it: a caught bar pressed back up to lockout)
    tiny = 0.5 * min_rom_m
    k = last
    while k > k_conc and abs(lobes[k].disp) < tiny:
        k -= 1
    off_k, off_end = abs(levels[k + 1] - levels[0]), abs(levels[last + 1] - levels[0])
    pressed_back = off_k > PRESSED_BACK_OFF * excursion and off_end < 0.5 * off_k
    caught = k == k_conc and last - k >= 2  # a dip and a return after the lift's top: a catch, pressed back
    return k if lobes[k].end_kind != "rest" and not pressed_back and not caught else last


@dataclass
class _Open:
    lobes: list[Lobe] = field(default_factory=list)

    @property
    def levels(self) -> list[float]:
        """Cumulative displacement at each lobe boundary (derived: lobes may be corrected later)."""
        out = [0.0]
        for lb in self.lobes:
            out.append(out[-1] + lb.disp)
        return out


class RepAssembler:
    """Groups lobes into reps (see the module docstring for the rules)."""

    def __init__(self, *, fs_hz: float, min_rom_m: float, min_rep_s: float, max_rep_s: float, params: DetectorParams):
        self.fs = fs_hz
        self.min_rom = min_rom_m
        self.min_rep = min_rep_s * fs_hz
        self.max_rep = max_rep_s * fs_hz
        self.p = params
        self.open = _Open()

    def reset(self) -> None:
        self.open = _Open()

    def add(self, lobe: Lobe) -> list[RepCandidate]:
        out: list[RepCandidate] = []
        o = self.open
        if o.lobes:
            last = o.lobes[-1]
            # a long rest inside an unfinished rep: it was a set-up move, not a rep
            if last.end_kind == "rest" and (lobe.start - last.end) > self.p.max_hold_s * self.fs:
                self.open = o = _Open()
            # too long to be one rep: drop lobes from the front until it fits
            while o.lobes and (lobe.end - o.lobes[0].start) > self.max_rep:
                self._drop_first()
        if not o.lobes and abs(lobe.disp) < 0.25 * self.min_rom:
            return out  # a fidget between reps
        if (
            o.lobes
            and lobe.end_kind == "rest"
            and o.lobes[-1].end_kind != "rest"
            and abs(lobe.disp) < 0.1 * self.min_rom
        ):
            # drift made the velocity cross zero just before the movement stopped: the previous
            # lobe really ended at this rest (its own braking ramp refines the end)
            prev = o.lobes[-1]
            prev.end, prev.end_kind, prev.done_at = lobe.end, "rest", lobe.done_at
            prev.disp += lobe.disp
            cand = self._candidate(o, force=False, done_at=lobe.done_at)
            if cand is not None:
                out.append(cand)
                self.open = _Open()
            return out
        # a second big concentric while the first has come back down: split before it
        if lobe.sign > 0 and lobe.disp >= self.min_rom and o.lobes:
            conc = self._conc(o.lobes)
            if conc is not None and lobe.disp >= 0.5 * conc.disp and self._has_return(o.lobes, conc):
                # The new lift's own lead-in (a dip from the rack, started at a rest after the
                # last rep came back down) goes with the new rep, not the old one.
                k_conc = o.lobes.index(conc)
                cut = len(o.lobes)
                for k in range(len(o.lobes) - 1, k_conc + 1, -1):
                    if o.lobes[k].start_kind == "rest":
                        cut = k
                        break
                lead = o.lobes[cut:]
                if any(lb.end - lb.start > self.p.max_pre_phase_s * self.fs for lb in lead):
                    lead, cut = [], len(o.lobes)
                del o.lobes[cut:]
                cand = self._candidate(o, force=True, done_at=lobe.done_at)
                self.open = o = _Open(lobes=list(lead))
                if cand is not None:
                    out.append(cand)
        o.lobes.append(lobe)
        cand = self._candidate(o, force=False, done_at=lobe.done_at)
        if cand is not None:
            out.append(cand)
            self.open = _Open()
        return out

    # -- rules -------------------------------------------------------------------------
    def _conc(self, lobes: list[Lobe]) -> Lobe | None:
        ups = [lb for lb in lobes if lb.sign > 0 and lb.disp >= self.min_rom]
        return max(ups, key=lambda lb: lb.disp) if ups else None

    @staticmethod
    def _has_return(lobes: list[Lobe], conc: Lobe) -> bool:
        k = lobes.index(conc)
        return any(lb.sign < 0 for lb in lobes[k + 1 :])

    def _drop_first(self) -> None:
        self.open.lobes.pop(0)

    def _candidate(self, o: _Open, *, force: bool, done_at: int) -> RepCandidate | None:
        lobes = o.lobes
        if not lobes:
            return None
        conc = self._conc(lobes)
        if conc is None or not self._has_return(lobes, conc):
            return None
        last = lobes[-1]
        levels = o.levels
        k_conc = lobes.index(conc)
        excursion = max(levels) - min(levels)
        end_level = levels[-1]
        end_kind = last.end_kind
        if not force:
            if end_kind != "rest":
                # continuous reps end at the same kind of turnaround they start at; decided below
                pass
            # boundaries before the concentric lobe at the end level
        # candidate starts: boundary b (before lobe b) for b <= k_conc
        tol = self.p.level_tol * excursion
        starts = []
        pre_max = self.p.max_pre_phase_s * self.fs
        held_in = [
            k for k in range(len(lobes) - 1)
            if lobes[k].end_kind == "rest" and lobes[k + 1].start - lobes[k].end >= self.p.g_min_rest_s * self.fs
        ]
        # a slow move before the lift (bending to pick the bar up) is set-up, not rep: no start before it
        lifts = [b for b in range(k_conc + 1) if not any(lb.end - lb.start > pre_max for lb in lobes[b:k_conc])]
        for b in lifts:
            if end_kind != "rest" and any(k >= b for k in held_in):
                continue  # turnaround to turnaround is a continuous rep: it does not stop on the way
            kind = lobes[b].start_kind
            if end_kind != "rest" and kind == "rest":
                # a rest followed by upward movement is a bottom position, like a bottom turnaround
                kind = "up" if lobes[b].sign > 0 else "down"
            # Back at the start level, within tol.  An up-first rep starts at the bottom, so
            # ending *below* it can only be drift (and the mirror for down-first): UNDERSHOOT
            # of the excursion on that side.
            diff = (end_level - levels[b]) * lobes[b].sign
            if -UNDERSHOOT * excursion <= diff <= tol:
                starts.append((b, kind))
        if not starts and not force and end_kind == "rest":
            # Walked off straight after the last rep: the rest comes after a few steps, whose
            # drift (or the weight set down) leaves the sensor off the start level.  The rep
            # ended where it was back, before the steps (moved_until; the engine times it there).
            j = moved_until(lobes, k_conc, min_rom_m=self.min_rom, level_tol=self.p.level_tol)
            if j < len(lobes) - 1:
                starts = [
                    (b, lobes[b].start_kind) for b in lifts
                    if abs(levels[j + 1] - levels[b]) <= max(self.p.level_tol, WALK_OFF_TOL) * excursion
                ]
        if not starts:
            if not force or (end_kind != "rest" and held_in) or abs(end_level - levels[0]) > 0.5 * excursion:
                # forced out by the next lift: still not a rep if it stopped on the way or
                # stayed far from where it started (a move onto the rack, a walk)
                return None
            starts = [(0, lobes[0].start_kind)]
        same = [s for s in starts if s[1] == end_kind]
        b, kind = (same or starts)[-1]
        if not force and end_kind != "rest" and not same:
            return None  # an unforced end is a rest, or the same kind of turnaround as the start
        kind = lobes[b].start_kind
        start = lobes[b].start
        if last.end - start < self.min_rep:
            return None
        return RepCandidate(
            start=start,
            start_kind=kind,
            end=last.end,
            end_kind=end_kind,
            conc=conc,
            lobes=tuple(lobes[b:]),
            done_at=done_at,
        )


def _steady(seg: np.ndarray, quiet_mps2: float) -> bool:
    """Whether a rest's samples can re-measure gravity: flat, not a slow turnaround.

    A slow turnaround (the top of a grinding pull-up) passes the short quiet
    window, but across it the acceleration runs from below gravity to above it:
    its mean is not gravity.  Its range over the whole span, or the step between
    the means of its halves, gives it away; a real rest's noise does neither.
    """
    if seg.shape[0] < 4:
        return False
    half = seg.shape[0] // 2
    step = abs(float(np.mean(seg[:half])) - float(np.mean(seg[half:])))
    return float(np.ptp(seg)) < 2.0 * quiet_mps2 and step < 0.5 * quiet_mps2


# ---------------------------------------------------------------------------------------------
# Boundary refinement

# Levels (fractions of the phase's peak acceleration) through which a rest boundary's ramp is
# extrapolated to zero.  The lowest part of the ramp is rounded by the sensor's own low-pass
# filter and ours, which moves a low level outward; a high level sits where the ramp curves.
RAMP_HIGH = 0.40
RAMP_LOW = 0.15
# A rest end's braking ramp is followed up to this many ``tail``s past the rest's start when it
# has not died down within the first (a 2 s descent brakes gently for a quarter second).
FOLLOW_TAILS = 4


def rest_end_horizon(x: np.ndarray, lo: int, *, g: float, sign: int, coarse: float, span: int, tail: int) -> int:
    """One past the last absolute index :func:`refine_rest_boundary` reads for this rest end.

    ``x`` must reach ``tail`` samples past ``coarse``: whether the braking ramp runs on beyond
    that (and the refinement follows it, up to ``FOLLOW_TAILS * tail``) depends on those alone,
    so a streaming caller can wait for the data the answer needs and still agree with a batch one.
    """
    _, _, reach = _rest_end_reach(sign * (x - g), int(round(coarse)) - lo, span=span, tail=tail)
    return lo + reach


def _rest_end_reach(a: np.ndarray, c: int, *, span: int, tail: int) -> tuple[int, int, int]:
    """A rest end at buffer index ``c`` of the braking signal ``a``: the window [seg_lo, seg_hi) its
    ramp is searched in, and one past the furthest index the refinement may read (``seg_hi``, or
    FOLLOW_TAILS ``tail``s past ``c`` while the braking runs on)."""
    seg_lo, seg_hi = max(0, c - span), min(a.shape[0], c + max(2, tail))
    if seg_hi - seg_lo >= 3 and _braking_runs_on(a[seg_lo:seg_hi]):
        return seg_lo, seg_hi, c + FOLLOW_TAILS * max(2, tail)
    return seg_lo, seg_hi, seg_hi


def _braking_runs_on(seg: np.ndarray) -> bool:
    """Whether a rest end's braking (``seg``, positive while braking) has not yet died down to
    RAMP_LOW of its peak."""
    p = int(np.argmax(seg))
    return bool(seg[p] > 0 and not (seg[p + 1 :] < RAMP_LOW * seg[p]).any())


def refine_rest_boundary(
    x: np.ndarray, lo: int, *, g: float, sign: int, coarse: float, span: int, onset: bool, tail: int = 2
) -> float:
    """Sub-sample time of a movement leaving (``onset``) or reaching a rest.

    ``x`` holds samples for absolute indices ``[lo, lo + len(x))``.  For an
    onset, the acceleration of sign ``sign`` ramps up after ``coarse``; the
    boundary is the ramp extrapolated to zero through its 15 % and 40 % points
    (relative to the phase's peak within ``span`` samples).  For a rest end the
    mirror image is used, searching up to ``tail`` samples past ``coarse`` (a rest is
    found at the start of a quiet window, and the braking ramp's last, gentlest part
    can run on inside it), or further while the ramp runs on (:func:`rest_end_horizon`).
    Falls back to ``coarse`` when no clean ramp exists.
    """
    n = x.shape[0]
    a = sign * (x - g)
    c = int(round(coarse)) - lo
    if onset:
        seg_lo, seg_hi = max(0, c - 2), min(n, c + span)
    else:
        seg_lo, seg_hi, reach = _rest_end_reach(a, c, span=span, tail=tail)
    if seg_hi - seg_lo < 3:
        return coarse
    seg = a[seg_lo:seg_hi]
    p = int(np.argmax(seg))
    peak = float(seg[p])
    if peak <= 0:
        return coarse
    lo30, lo10 = RAMP_HIGH * peak, RAMP_LOW * peak
    back = RAMP_LOW / (RAMP_HIGH - RAMP_LOW)  # from the low point to zero, in units of high - low
    if onset:
        # walk back from the peak
        below30 = _nonzero(seg[:p] < lo30)
        if below30.size == 0:
            return coarse
        k30 = int(below30[-1])
        t30 = k30 + (lo30 - seg[k30]) / (seg[k30 + 1] - seg[k30])
        below10 = _nonzero(seg[: k30 + 1] < lo10)
        if below10.size == 0:
            return coarse
        k10 = int(below10[-1])
        t10 = k10 + (lo10 - seg[k10]) / (seg[k10 + 1] - seg[k10])
        t0 = t10 - (t30 - t10) * back
        return lo + seg_lo + t0
    if reach > seg_hi:
        # a slow braking ramp (the end of a 2 s descent): follow it while it still brakes
        more = a[seg_hi : min(n, reach)]
        stop = _nonzero(more <= 0)
        seg = np.concatenate((seg, more[: int(stop[0]) + 1] if stop.size else more))
    after = seg[p + 1 :]
    below30 = _nonzero(after < lo30)
    if below30.size == 0:
        return coarse
    k30 = p + 1 + int(below30[0])
    t30 = k30 - 1 + (seg[k30 - 1] - lo30) / (seg[k30 - 1] - seg[k30])
    below10 = _nonzero(seg[k30:] < lo10)
    if below10.size == 0:
        return coarse
    k10 = k30 + int(below10[0])
    t10 = k10 - 1 + (seg[k10 - 1] - lo10) / (seg[k10 - 1] - seg[k10])
    t0 = t10 + (t10 - t30) * back
    return lo + seg_lo + t0
