"""Vertical acceleration from a sensor mounted any way round.

Without a gyroscope the movement signal is the specific-force magnitude
``|f|``: it equals ``g + a_vertical`` for vertical movement whatever the
mount, to first order in horizontal acceleration.  A downward acceleration
stronger than gravity turns ``f`` through zero to point down, which ``|f|``
alone reads as up: the reversal of its direction gives it away, and the signal
is negated until it turns back (:meth:`VerticalAccel._unfold`).  It picks up
horizontal acceleration (a kettlebell's arc) at second order.

With a gyroscope, ``VerticalAccel`` tracks where gravity points in the sensor
frame: whenever the sensor is static (the magnitude and the rotation rate are
both quiet over a short window) gravity is simply ``f / |f|`` and the gyro's
bias is re-measured (the mean rate, less the slow turn the accelerometer saw
over the run, weighted by the run's length against earlier runs); while it moves, that direction is carried through the
rotation by integrating the bias-corrected gyro (a quaternion prefix product,
vectorised, O(n log n) per block), and whenever it is nearly still without being
static (hanging from a bar, holding the bar in the rack) it is pulled toward the
accelerometer's direction, so integration errors cannot tilt it for long.  The signal is then ``f . u``: signed
vertical specific force, exact under rotation.

All state is explicit; one call per block; no per-sample Python loop.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d  # noqa: F401

from .filters import NoiseFloor, sliding_windows

STANDARD_GRAVITY = 9.80665
NOISE_SIGMAS = 4.0  # a static window's magnitude range may be this many noise sds (filters.NoiseFloor)
FOLD_MIN_MPS2 = 0.3 * STANDARD_GRAVITY  # without a gyro: samples this strong carry the specific force's direction (_unfold)
MAX_FOLD_S = 0.3  # ... and a fold (f pointing down) lasts at most this long
TURN_TRUST_S = 0.5  # a static run this long is half-trusted on the turn the accelerometer saw (_run_bias)


class VerticalAccel:
    """Block-by-block vertical specific force (``g + a_vertical``, m/s^2).

    Parameters
    ----------
    fs_hz : float
        Sample rate.
    use_gyro : bool
        Track orientation with the gyroscope (blocks must then carry ``gyro``).
    static_window_s, static_range_mps2, static_rate_radps :
        A sample is static when, over the trailing window, the magnitude's range
        and the bias-corrected rotation rate both stay below these.
    level_cell_s, level_range_mps2, level_rate_radps, level_gain :
        While moving, a cell of ``level_cell_s`` whose magnitude stays within
        ``static_level_mps2`` of 1 g with a range below ``level_range_mps2`` and
        whose rotation stays below ``level_rate_radps`` (nearly still, not static)
        pulls gravity's direction toward the accelerometer's by ``level_gain``.
    """

    def __init__(
        self,
        *,
        fs_hz: float,
        use_gyro: bool,
        static_window_s: float = 0.20,
        static_range_mps2: float = 0.45,
        static_rate_radps: float = 0.25,
        bias_min_s: float = 0.25,
        static_level_mps2: float = 0.8,
        level_cell_s: float = 0.1,
        level_range_mps2: float = 1.0,
        level_rate_radps: float = 0.5,
        level_gain: float = 0.15,
    ) -> None:
        self.dt = 1.0 / fs_hz
        self.use_gyro = use_gyro
        self.W = max(2, int(round(static_window_s * fs_hz)))
        self.range_thr = static_range_mps2
        self.rate_thr = static_rate_radps
        self.level_thr = static_level_mps2
        self.bias_min = max(1, int(round(bias_min_s * fs_hz)))
        self.cell_n = max(1, int(round(level_cell_s * fs_hz)))
        self.level_range = level_range_mps2
        self.level_rate = level_rate_radps
        self.level_gain = level_gain
        self.fs_hz = fs_hz
        self._max_fold = max(1, int(round(MAX_FOLD_S * fs_hz)))
        self.reset()

    def reset(self) -> None:
        self.noise = NoiseFloor(fs_hz=self.fs_hz)
        self.h_mag = np.zeros(0)  # the last W - 1 magnitudes (a static window reaches back into them)
        self.h_f = np.zeros((0, 3))  # ... and specific forces (gravity's direction is their mean)
        self.clean = 0  # samples since the last one that rotated fast or was far from 1 g (or the reset)
        self.bias = np.zeros(3)
        self.u_anchor: np.ndarray | None = None  # gravity direction at the last static sample (_settled_anchor)
        self._anchor_window: np.ndarray | None = None  # f over the window whose mean direction u_anchor is to be
        self.q = _Q_ONE  # rotation from the anchor frame to the current sensor frame
        self.static_run = 0  # length of the static run that ends at the last sample
        self.run_rate_sum = np.zeros(3)
        self.run_u0: np.ndarray | None = None  # gravity direction at the run's first static sample
        self.cell: list | None = None  # the open 0.1 s cell of a moving run (see _level)
        self.bias_weight = 0.0  # confidence in ``bias``: sum of (run length)^2, decaying with age
        self.samples = 0  # samples seen (ages the bias estimate)
        self.up = np.zeros((0, 3))  # per sample of the last block: the direction the output is along
        self.rate = np.zeros(0)  # per sample of the last block: |gyro| (rad/s; zeros without a gyro)
        self.bias_at = 0  # sample count at the last bias update
        self._fold_ref: np.ndarray | None = None  # without a gyro (_unfold): f at the last sample with |f| >= FOLD_MIN_MPS2
        self._fold_sign = 1.0  # ... the sign there
        self._fold_run = 0  # ... and how many samples the current fold has lasted

    def __call__(self, f: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        """Vertical specific force for the block's samples (shape ``(n,)``).

        ``self.up`` is left holding, per sample, the unit vector (sensor frame) the
        output is the component along: ``f / |f|`` where the output is ``|f|``.  An
        accelerometer bias ``b`` reaches the output as ``b . up``, which changes as
        the sensor turns; the rep scanner learns ``b`` from that (see
        :class:`imu_tempo.reps.LobeScanner`).  ``self.rate`` holds ``|w|`` per sample.
        """
        mag = np.sqrt(np.einsum("ij,ij->i", f, f))
        self.up = f / np.fmax(mag, 1e-9)[:, None]
        if not self.use_gyro:
            self.rate = np.zeros(f.shape[0])
            sign = self._unfold(f, mag)
            self.up *= sign[:, None]
            return sign * mag
        if w is None:
            raise ValueError("this stream started with a gyroscope; every block must carry gyro data")
        n = f.shape[0]
        W = self.W
        # a noisy sensor's magnitude is never as steady as a quiet one's: ranges scale with it
        noise = self.noise(mag)
        rate = self.rate = np.sqrt(np.einsum("ij,ij->i", w, w))
        # Static = over the trailing window: slow rotation, about 1 g, and a small range of |f|.
        # The first two rule out most moving samples cheaply (a count of the samples since the
        # last offender); the range is computed only where they pass.  The raw rate is used (bias
        # is far below the threshold), so any block split gives the same static samples.
        bad = (rate >= self.rate_thr) | (np.abs(mag - STANDARD_GRAVITY) >= self.level_thr)
        if bad.any():
            pos = np.arange(n)
            clean = pos - np.maximum.accumulate(np.where(bad, pos, -1 - self.clean))
        else:
            clean = np.arange(self.clean + 1, self.clean + n + 1)
        self.clean = int(clean[-1])
        static = clean >= W  # the window's W samples (since the reset) all pass
        keep = W - 1
        hm = np.concatenate((self.h_mag, mag))
        k = hm.shape[0] - n  # history length
        self.h_mag = hm[-keep:]
        cand = static.nonzero()[0]
        if cand.size:
            rows = sliding_windows(hm, W)[k + cand - W + 1]  # the window ending at each candidate
            thr = np.fmax(self.range_thr, NOISE_SIGMAS * noise[cand])
            static[cand] = (rows.max(axis=1) - rows.min(axis=1)) < thr
            hf = np.concatenate((self.h_f, f))
            self.h_f = hf[-keep:]
        else:
            hf = None
            self.h_f = f[-keep:].copy() if n >= keep else np.concatenate((self.h_f, f))[-keep:]  # not the caller's array
        out = np.empty(n)
        # walk the block run by run (a handful of runs per second)
        if cand.size:
            bounds = [0, *((static[1:] != static[:-1]).nonzero()[0] + 1).tolist(), n]
        else:
            bounds = [0, n]  # moving throughout
        for a, b in zip(bounds[:-1], bounds[1:]):
            if static[a]:
                out[a:b] = mag[a:b]
                # gravity = mean direction over the trailing window (history included: chunk
                # invariant); worked out when first needed (the run may go on for minutes)
                self._anchor_window = hf[k + b - W : k + b]
                self.q = _Q_ONE
                self.cell = None
                if self.static_run == 0:
                    head = hf[k + a - W + 1 : k + a + 1]
                    u0 = (head / np.sqrt(np.einsum("ij,ij->i", head, head))[:, None]).mean(axis=0)
                    self.run_u0 = u0 / np.linalg.norm(u0)
                self.static_run += b - a
                self.run_rate_sum += w[a:b].sum(axis=0)
            else:
                u_anchor = self._settled_anchor()
                if self.static_run:
                    if self.static_run >= self.bias_min:
                        self._update_bias(self.samples + a)
                    self.static_run = 0
                    self.run_rate_sum = np.zeros(3)
                if u_anchor is None:
                    out[a:b] = mag[a:b]  # never seen the sensor still: magnitude until we do
                    continue
                qs = _rotvec_to_quat((w[a:b] - self.bias) * self.dt)
                qs[0] = _qmul(self.q[None, :], qs[:1])[0]
                Q = _prefix_product(qs)
                self.q = Q[-1] / np.linalg.norm(Q[-1])
                anchors = self._level(Q, f[a:b], mag[a:b], rate[a:b], noise[a:b], start=self.samples + a)
                u = _rotate_inverse_each(Q, anchors)
                out[a:b] = np.einsum("ij,ij->i", f[a:b], u)
                self.up[a:b] = u
        self.samples += n
        return out

    def _unfold(self, f: np.ndarray, mag: np.ndarray) -> np.ndarray:
        """+1 or -1 per sample: -1 where the specific force points down (a fold of ``|f|``).

        A downward acceleration stronger than gravity (the hands snapping to a stop
        after a throw, a bar caught hard) turns ``f`` through zero to point down;
        ``|f|`` reads it as upward.  Between two samples whose ``|f|`` is at least
        FOLD_MIN_MPS2 the direction moves only as fast as the sensor turns (a few
        degrees a sample), so a reversal (a negative dot product with the previous
        such sample) is a fold, and the next reversal unfolds it.  A fold lasts a
        moment: after MAX_FOLD_S the sign is +1 again (a sensor that turned over
        while ``|f|`` was small, in free fall, must not stay negated).
        """
        n = f.shape[0]
        sign = np.empty(n)
        lo = 0
        while lo < n:
            idx = lo + np.flatnonzero(mag[lo:] >= FOLD_MIN_MPS2)
            s = np.full(n - lo, self._fold_sign)
            if idx.size:
                prev = np.empty((idx.size, 3))
                prev[0] = f[idx[0]] if self._fold_ref is None else self._fold_ref
                prev[1:] = f[idx[:-1]]
                flips = np.einsum("ij,ij->i", f[idx], prev) < 0
                at = np.full(n - lo, -1)
                at[idx - lo] = np.arange(idx.size)
                at = np.maximum.accumulate(at)  # the last reference sample at or before each sample
                par = np.where(np.cumsum(flips) % 2 == 1, -self._fold_sign, self._fold_sign)
                s = np.where(at >= 0, par[np.maximum(at, 0)], s)
            # runs of -1: how long each has lasted at each sample (the first run goes on from the last block)
            neg = s < 0
            starts = np.flatnonzero(neg & ~np.concatenate(([self._fold_sign < 0], neg[:-1])))
            run_start = np.full(n - lo, -1)
            run_start[starts] = starts
            run_start = np.maximum.accumulate(run_start)
            length = np.where(run_start >= 0, np.arange(n - lo) - run_start + 1, np.arange(n - lo) + 1 + self._fold_run)
            over = np.flatnonzero(neg & (length > self._max_fold))
            if over.size == 0:
                sign[lo:] = s
                if idx.size:
                    self._fold_ref = f[idx[-1]].copy()
                self._fold_sign = float(s[-1])
                self._fold_run = int(length[-1]) if s[-1] < 0 else 0
                break
            cut = lo + int(over[0])  # the fold has lasted too long: +1 from here, referenced afresh
            sign[lo:cut] = s[: cut - lo]
            self._fold_sign, self._fold_run, self._fold_ref = 1.0, 0, None
            lo = cut
        return sign

    def _settled_anchor(self) -> np.ndarray | None:
        """``u_anchor``, worked out from the last static window if that is still pending."""
        win = self._anchor_window
        if win is not None:
            self._anchor_window = None
            u = (win / np.sqrt(np.einsum("ij,ij->i", win, win))[:, None]).mean(axis=0)
            self.u_anchor = u / np.linalg.norm(u)
        return self.u_anchor

    def _level(
        self, Q: np.ndarray, f: np.ndarray, mag: np.ndarray, rate: np.ndarray, noise: np.ndarray, *, start: int
    ) -> np.ndarray:
        """Gravity's direction in the anchor frame for each sample of a moving run, kept level.

        Integrating the gyro carries gravity's direction through rotation, but its errors
        (a bias left over, a hang that never looks strictly still) tilt it a little more
        every second.  The run is cut into cells of ``level_cell_s`` on a fixed grid of
        absolute indices; over a cell that is nearly still (hanging from a bar, the bar
        held in the rack: ``|f|`` near 1 g with a small range, slow rotation) the mean
        specific force, turned into the anchor frame, points up; the direction is pulled
        toward it by ``level_gain`` (a complementary filter at the cell rate).  Cells in
        real movement leave it alone.  Returns an (n, 3) array of anchor-frame directions.
        """
        n = f.shape[0]
        K = self.cell_n
        cuts = np.arange((-start) % K or K, n, K)  # block positions where a cell begins (after the first)
        heads = np.concatenate(([0], cuts))
        tails = np.concatenate((cuts, [n]))
        s_mag = np.add.reduceat(mag, heads)
        lo_mag = np.minimum.reduceat(mag, heads)
        hi_mag = np.maximum.reduceat(mag, heads)
        hi_rate = np.maximum.reduceat(rate, heads)
        cnt = (tails - heads).astype(float)
        c = self.cell
        carried = c is not None and c[0] == start // K  # the cell carried over from the last block or run
        if carried:
            cnt[0] += c[1]
            s_mag[0] += c[3]
            lo_mag[0] = min(lo_mag[0], c[4])
            hi_mag[0] = max(hi_mag[0], c[5])
            hi_rate[0] = max(hi_rate[0], c[6])
        complete = (start + tails) % K == 0
        still = (
            complete
            & (cnt == K)
            & (hi_mag - lo_mag < np.fmax(self.level_range, 2.0 * NOISE_SIGMAS * noise[heads]))
            & (np.abs(s_mag / cnt - STANDARD_GRAVITY) < self.level_thr)
            & (hi_rate < self.level_rate)
        )
        last = heads.shape[0] - 1
        if complete[last] and not still.any():
            s_fa = None  # no cell needs the specific force in the anchor frame (the usual case)
        else:
            s_fa = np.add.reduceat(_rotate_each(Q, f), heads, axis=0)  # specific force, anchor frame
            if carried:
                s_fa[0] += c[2]
        # the direction each cell starts with: changed only after a still cell (rare in movement)
        u_cell = np.empty((heads.shape[0], 3))
        u = self.u_anchor
        prev = 0
        for j in still.nonzero()[0].tolist():
            u_cell[prev : j + 1] = u
            up = s_fa[j] / np.linalg.norm(s_fa[j])
            u = u + self.level_gain * (up - u)
            u = u / np.linalg.norm(u)
            prev = j + 1
        u_cell[prev:] = u
        self.u_anchor = u
        self.cell = None if complete[last] else [
            (start + int(heads[last])) // K, cnt[last], s_fa[last].copy(), float(s_mag[last]),
            float(lo_mag[last]), float(hi_mag[last]), float(hi_rate[last]),
        ]
        return np.repeat(u_cell, (tails - heads), axis=0)

    def _update_bias(self, at: int) -> None:
        """Blend the bias seen over the static run that just ended into the estimate.

        A run's estimate is only as good as the gravity directions at its two ends
        (a hand settling moves them by a degree or two), so its error falls with the
        run's length: runs weigh by length squared.  Older estimates fade with a
        half-life of two minutes (a gyro's bias drifts with temperature).
        """
        b = self._run_bias()
        w = (self.static_run * self.dt) ** 2
        keep = self.bias_weight * 0.5 ** ((at - self.bias_at) * self.dt / 120.0)
        self.bias = (self.bias * keep + b * w) / (keep + w)
        self.bias_weight = keep + w
        self.bias_at = at

    def _run_bias(self) -> np.ndarray:
        """Gyro bias from a static run: the mean rate minus the rotation the accelerometer saw.

        "Static" allows a slow rotation (a hand settling on a handle); read as bias it
        would tilt the gravity estimate through the whole next movement.  The rotation
        about any horizontal axis shows as a turn of the measured gravity direction
        (``du/dt = u x w``, so ``w_perp = du/dt x u``) and is taken out; a slow turn about
        the vertical cannot be seen and is kept.
        """
        mean_rate = self.run_rate_sum / self.static_run
        if self.run_u0 is None or self.u_anchor is None or self.static_run < 2:
            return mean_rate
        span_s = (self.static_run - 1) * self.dt
        u0, u1 = self.run_u0, self.u_anchor
        seen = np.cross((u1 - u0) / span_s, 0.5 * (u0 + u1))
        # the turn is read from two window means a short span apart: their error (about a degree,
        # more with a noisy accelerometer) over that span swamps a settling turn of a degree or two
        # a second, so it counts in proportion to span^2 / (span^2 + TURN_TRUST_S^2) (a Wiener
        # weight).  Taken at face value, the one 0.3 s run of a simulated session with 0.3 m/s^2 of
        # noise put the bias 5 deg/s off, and that tilted gravity through a whole set of swings.
        seen *= span_s**2 / (span_s**2 + TURN_TRUST_S**2)
        return mean_rate - seen


_Q_ONE = np.array([1.0, 0.0, 0.0, 0.0])  # the identity rotation (never written to)
_Q_ONE.flags.writeable = False


def _rotvec_to_quat(rv: np.ndarray) -> np.ndarray:
    ang = np.sqrt(np.einsum("ij,ij->i", rv, rv))
    half = 0.5 * ang
    # sin(x)/x stable near zero
    big = ang > 1e-12
    if big.all():
        s = np.sin(half) / ang
    else:
        s = np.where(big, np.sin(half) / np.where(big, ang, 1.0), 0.5 - ang * ang / 48.0)
    q = np.empty((rv.shape[0], 4))
    q[:, 0] = np.cos(half)
    q[:, 1:] = rv * s[:, None]
    return q


# The quaternion product as 16 signed products: component k of a b is
# sum_j _QMUL_SIGN[k, j] * a[j] * b[_QMUL_B[k, j]], added left to right (the formulas in _qmul).
_QMUL_B = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]])
_QMUL_SIGN = np.array([[1, -1, -1, -1], [1, 1, 1, -1], [1, -1, 1, 1], [1, 1, -1, 1]], dtype=float)
_QMUL_SMALL = 64  # up to this many rows, the products in one go are faster than component by component


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise quaternion products ``a[i] b[i]`` (w, x, y, z); both ways below give the same bits
    (x - y is x + (-y), and a (-b) is -(a b), exactly)."""
    if max(a.shape[0], b.shape[0]) <= _QMUL_SMALL:
        t = a[:, None, :] * (b.take(_QMUL_B.ravel(), axis=1) * _QMUL_SIGN.ravel()).reshape(-1, 4, 4)
        return ((t[:, :, 0] + t[:, :, 1]) + t[:, :, 2]) + t[:, :, 3]
    aw, ax, ay, az = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    bw, bx, by, bz = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    out = np.empty((max(a.shape[0], b.shape[0]), 4))
    out[:, 0] = aw * bw - ax * bx - ay * by - az * bz
    out[:, 1] = aw * bx + ax * bw + ay * bz - az * by
    out[:, 2] = aw * by - ax * bz + ay * bw + az * bx
    out[:, 3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def _prefix_product(q: np.ndarray) -> np.ndarray:
    """Inclusive prefix product q0, q0 q1, q0 q1 q2, ... (Hillis-Steele scan)."""
    out = q.copy()
    step = 1
    n = out.shape[0]
    while step < n:
        out[step:] = _qmul(out[:-step], out[step:])
        step *= 2
    return out


def _rotate_each(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate each vector ``v[i]`` by the unit quaternion ``q[i]`` (sensor frame to anchor frame)."""
    return _rotate_rows(q[:, 0], q[:, 1], q[:, 2], q[:, 3], v)


def _rotate_inverse_each(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate each vector ``v[i]`` by the inverse of ``q[i]``."""
    return _rotate_rows(q[:, 0], -q[:, 1], -q[:, 2], -q[:, 3], v)


def _rotate_rows(w, rx, ry, rz, v: np.ndarray) -> np.ndarray:
    # t = 2 r x v ; out = v + w t + r x t  (written out: np.cross is slow on small arrays)
    vx, vy, vz = v[:, 0], v[:, 1], v[:, 2]
    tx = 2.0 * (ry * vz - rz * vy)
    ty = 2.0 * (rz * vx - rx * vz)
    tz = 2.0 * (rx * vy - ry * vx)
    out = np.empty_like(v)
    out[:, 0] = vx + w * tx + (ry * tz - rz * ty)
    out[:, 1] = vy + w * ty + (rz * tx - rx * tz)
    out[:, 2] = vz + w * tz + (rx * ty - ry * tx)
    return out
