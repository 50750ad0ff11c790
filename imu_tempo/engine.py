"""The streaming rep-tempo engine: sample blocks in, events out.

Data flow (every arrow is vectorised numpy; Python runs once per block and once
per movement lobe, never once per sample)::

    SampleBlock --gaps--> VerticalAccel --> ring (t, vertical specific force)
        --Hann FIR (linear phase)--> x --LobeScanner--> lobes --RepAssembler--> reps
    SampleBlock --OrientationRepDetector--> reps            (--detector auto|orientation|both)
    reps --queue, in data order--> sets + SetTempo --> events

The engine is *chunk invariant*: any split of the same samples into blocks
gives identical events, so ``analyze`` (one pass), ``replay`` (paced blocks)
and ``live`` (whatever the transport delivers) agree to the microsecond.  Each
rep is stamped with the data index that made it knowable and finalised (set,
tempo judgement, events) in that order.  Two deliberate delays: an orientation
rep waits ``ORIENT_HOLD_S`` for an overlapping vertical rep (which wins), and
the first rep of a *continuous* set (one that ends at a turnaround, as in
kettlebell swings) waits for the second: a hike rises far less than a swing
and is dropped.

Gaps (a sample stamped over half a period after the sample clock expected it,
:class:`~imu_tempo.filters.SampleClock`: on a regular clock a jump over 1.5
sample periods; or samples a source reports as dropped) are reported as
:class:`~imu_tempo.types.GapEvent`.  Short ones (up to ``MAX_FILL_S``) are
bridged linearly *for the filters only* and every rep touching them is marked
``gap``; longer ones restart the detector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SourceError
from .filters import (
    NoiseFloor,
    SampleClock,
    SaturationWatch,
    StreamingFilter,
    diff_from,
    smoothing_fir,
    step_periodicity,
)
from .orient import OrientationRepDetector, OrientRep
from .reps import (
    COL_GAP,
    COL_M,
    COL_Q,
    COL_V,
    COL_R,
    COL_UP,
    COL_T,
    COL_X,
    N_COLS,
    STANDARD_GRAVITY,
    DetectorParams,
    Lobe,
    LobeScanner,
    RepAssembler,
    RepCandidate,
    debiased_x,
    moved_until,
    refine_rest_boundary,
    rest_end_horizon,
)
from .ring import RingBuffer
from .settings import Settings
from .tempo import SetTempo
from .vertical import VerticalAccel
from .types import (
    Event,
    FailureEvent,
    Gap,
    GapEvent,
    Rep,
    RepEvent,
    SampleBlock,
    SetEndEvent,
    SetSummary,
    StatusEvent,
    WarningEvent,
)

# Orientation reps wait this long past their end for an overlapping vertical rep (which wins).  From a
# wrist without a gyroscope a push press or jump squat turns the sensor two or three times (dip,
# drive, lowering), and the orientation channel ends a 'rep' at each; the vertical channel settles the
# whole lift later: on the no-gyro grid's push press and jump squat sets (25 and 100 Hz, seeds 0-3),
# 1.08 s after such a fragment's end at the median, 1.59 s at the 95th percentile.  With a 1 s wait the
# fragments were counted (exact count 0.28 and 0.78); with 2 s, 1.0 and 1.0.
ORIENT_HOLD_S = 2.0
ORIENT_EDGE_S = 0.25  # an orientation rep ending this little after a vertical rep starts ends before it
NOISE_QUIET_SIGMAS = 4.0  # a rest's range may reach this many of the sensor's noise sds (filters.NoiseFloor)
PARTIAL_ROM = 0.5  # a rep rising less than this fraction of its set's (median) reps is not a rep
# A rep cannot start a set while the sensor shows steps (a walk to the bar, whose bobbing and
# drift can add up to a small 'rep'): the vertical signal over the rep and the second before it
# is periodic at a step's period (filters.step_periodicity >= WALK_GAIT_MIN) and
# the rep rises less than WALK_MAX_ROM_M.  On 14 seeds of the simulated grid, reps that rise less
# than that score at most 0.35 (pull-ups); the walking 'reps' 0.44-0.86.  Kettlebell swings can
# score 0.56 (the bell passes the bottom twice a swing) but rise far more.  Reps inside a set are
# never judged this way.
WALK_GAIT_MIN = 0.45
WALK_MAX_ROM_M = 0.3
WALK_MIN_RMS_MPS2 = 0.5  # quieter than this, a correlation would be of noise, not steps
# With a gyroscope, a swinging arm turns at the step rate: a walk's 'rep' (rising 0.15 m after a
# kettlebell set) scored 0.98 on the rotation rate and 0.45 on the vertical signal.  The 94 first
# reps of simulated sets that rise less than WALK_MAX_ROM_M (pull-ups, presses, jump squats; 14 seeds,
# 25 and 100 Hz, normal and 1.5x tempo) scored 0 on the rotation rate: a lift turns once, not in rhythm.
ARM_SWING_MIN = 0.8
ARM_SWING_MIN_RMS_RADPS = 0.1
# An accelerometer axis stuck at its largest value so far, at least this far from zero, is saturated
# (sources.recording.saturated; the smallest full scale of IMUs is +-2 g).
SATURATED_MPS2 = 1.9 * STANDARD_GRAVITY
ORIENT_HOLD_BIG = 1 << 40  # at the end of data everything queued is settled
AUTO_BOUT_MIN = 3  # detector "auto": orientation reps count once this many form a bout
AUTO_CONSISTENT = (0.4, 2.5)  # ... of which those within these multiples of their median duration
AUTO_GAP_REPS = 1.5  # ... and pauses shorter than this many median reps (+ 1 s)
AUTO_CONTINUE = (0.6, 1.6)  # a rep this close (multiples of the median) to an open set's reps continues it
AUTO_SERIES_GAP_S = 6.0  # vertical reps this close (end to start) form a series
AUTO_FRAGMENT = 1.6  # an orientation rep (80 %) inside a waiting vertical rep this many times longer is a
AUTO_FRAGMENT_TURN_DEG = 25.0  # piece of it when it turned gravity's direction less than this (a level bar)
AUTO_GAIT_MAX = 0.4  # an orientation rep whose OrientRep.gait is above this is a walking arm swing
AUTO_WALK_MAX_TURN_DEG = 60.0  # ... but one turning further may still join a bout right after (look-back)
AUTO_PARTIAL_TURN = 0.5  # an orientation rep turning less than this fraction of its bout's (median) reps
AUTO_TURN_MIN_DEG = 30.0  # ... is not one of them, when they turn at least this much
AUTO_LOOKBACK_GAP_REPS = 3.0  # when a bout counts, reps held back before it count too across pauses up to
# this many of its median reps (+ 1 s): a lifter resting a few breaths between reps is still in the set
AUTO_LEAD_MAX = 3.0  # ... and lasting up to this many median reps: a set's first rep often carries the
# set-up move (taking the weight to the start position, up to two reps' time) merged in; a longer
# swing is the set-up alone
MAX_HELD = 4  # a set's first reps waiting for one that settles them (Engine._holds) ...
SLOW_SETUP_S = 2.0  # ... among them reps rising less than WALK_MAX_ROM_M over more than this
SETUP_PEAK_V_MPS = 0.35  # ... or never faster than this
ALIKE_RATIO = 1.5  # ... unless two in a row rise and last within this ratio of each other (a set)
AUTO_HELD_BACK = 8  # orientation reps held back (not counted) that a bout may still take in
MAX_FILL_S = 0.5  # gaps up to this long are bridged for the filters (and marked); longer ones reset
SOFT_TURN_V = 0.15  # a rep's start or end turnaround is a stop if the velocity stays under this (x peak) between
SOFT_TOP_V = 0.25  # ... and the top of its lift, inside the rep
SOFT_DISP = 0.1  # ... or if the sensor moves less than this fraction of the lobe's displacement
SMOOTH_HALF_WIDTH_S = 0.012  # light linear-phase smoothing of |accel|
RING_EXTRA_S = 12.0  # ring capacity beyond the longest rep: refinement and rests look back this far
SCHEMA = "imu-tempo.analysis/1"


@dataclass
class _OpenSet:
    index: int
    tempo: SetTempo
    reps: list[Rep]
    last_end_s: float
    last_raw_end: float = float("-inf")  # end of the last rep before calibration offsets


class Engine:
    """Feed sample blocks in; get events out, in data order.

    Parameters
    ----------
    settings : Settings, optional
        Tempo, set and detector settings (defaults: 1.2 s, 25 % slowdown, ...).
    params : DetectorParams, optional
        Low-level detector constants (rarely changed; recorded in the analysis).

    Notes
    -----
    Not thread-safe: call ``feed``/``finish`` from one thread (the event loop).
    """

    def __init__(self, settings: Settings | None = None, *, params: DetectorParams | None = None) -> None:
        self.settings = settings or Settings()
        self.params = params or DetectorParams()
        self.fs_hz: float | None = None
        self.gaps: list[Gap] = []
        self.sets: list[SetSummary] = []
        self.samples = 0
        self._open: _OpenSet | None = None
        self._finished = False
        self._last_t: float | None = None
        self._events: list[tuple[int, int, Event]] = []
        self._seq = 0
        # reps waiting to be finalised: (key, seq, start, end, conc_s, peak_v, rom_m, channel, turn_deg);
        # key = ring index that settles them, start/end fractional ring indices, turn_deg an orientation rep's
        self._rep_queue: list[tuple] = []
        self._orient_done: dict[int, int] = {}  # queued orientation rep seq -> ring index that settled it
        self._qseq = 0
        self._vertical_spans: list[tuple[float, float]] = []
        self._held: list[tuple] = []  # a set's first rep(s), until a rep that rises confirms them
        self._waiting: list[RepCandidate] = []  # reps whose slow braking runs on past the data so far
        self._set_scan_pos = 0  # samples before this were already checked against the set deadline

    # -- public API -----------------------------------------------------------------------
    def feed(self, block: SampleBlock) -> list[Event]:
        """Process one block; return the events it settled, in data order."""
        if self._finished:
            raise RuntimeError("the engine has finished; create a new Engine for a new stream")
        n = len(block)
        if n == 0:
            return []
        if self.fs_hz is None:
            self._setup(block)
        elif not math.isclose(block.fs_hz, self.fs_hz, rel_tol=1e-6):
            raise SourceError(
                f"the sample rate changed from {self.fs_hz:g} Hz to {block.fs_hz:g} Hz mid-stream; "
                "start a new session for the new rate"
            )
        t = np.asarray(block.t_s, dtype=np.float64)
        a = np.asarray(block.accel, dtype=np.float64)
        g = None if block.gyro is None else np.asarray(block.gyro, dtype=np.float64)
        if not (np.isfinite(a).all() and np.isfinite(t).all() and (g is None or np.isfinite(g).all())):
            raise SourceError("a block contains NaN or infinite values; the source must drop or repair them")
        if self.uses_gyro and g is None:
            raise SourceError("the stream started with gyroscope data and this block has none")
        m = self.vertical(a, g if self.uses_gyro else None)
        cols = np.concatenate((m[:, None], self.vertical.rate[:, None], self.vertical.up), axis=1)
        self._ingest(t, cols, a, dropped=block.dropped)
        self.samples += n
        return self._drain()

    def finish(self) -> list[Event]:
        """End of stream: settle what can be settled, close the open set, return the events."""
        if self._finished:
            return []
        self._finished = True
        if self.fs_hz is not None and self.ring.total > 0:
            self._flush_filter()
            if self.orient is not None:
                self._queue_orient(self.orient.finish())
            self._advance(final=True)
        self._close_set(index=self._last_index(), end_reason=None)
        return self._drain()

    def result(self, *, recording: str | None = None) -> dict[str, Any]:
        """The analysis so far as the ``imu-tempo.analysis/1`` JSON dict (call after :meth:`finish`)."""
        sets = list(self.sets)
        return {
            "schema": SCHEMA,
            "recording": recording,
            "sample_rate_hz": None if self.fs_hz is None else round(self.fs_hz, 6),
            "settings": {
                **self.settings.to_json(),
                # what "auto" chose for this stream ("vertical" with a gyroscope)
                "detector_used": getattr(self, "detector", None),
                "detector_params": _params_json(self.params),
            },
            "samples": self.samples,
            "gaps": {
                "count": len(self.gaps),
                "total_s": round(sum(g.duration_s for g in self.gaps), 6),
                "list": [
                    {"start_s": round(g.start_s, 6), "end_s": round(g.end_s, 6), "missing": g.missing}
                    for g in self.gaps
                ],
            },
            "sets": [s.to_json() for s in sets],
        }

    # -- set-up ----------------------------------------------------------------------------
    def _setup(self, block: SampleBlock) -> None:
        fs = float(block.fs_hz)
        self.fs_hz = fs
        self.period = 1.0 / fs
        self.clock = SampleClock(period_s=self.period)
        self._saturation = SaturationWatch(min_level=SATURATED_MPS2)
        s = self.settings
        cap_s = s.max_rep_s + self.params.max_hold_s + RING_EXTRA_S
        self.ring = RingBuffer.for_duration(seconds=cap_s, fs_hz=fs, channels=N_COLS)
        taps, self.delay = smoothing_fir(fs_hz=fs, half_width_s=SMOOTH_HALF_WIDTH_S)
        self.smoother = StreamingFilter(fir=taps)
        self.noise = NoiseFloor(fs_hz=fs)
        self.uses_gyro = block.gyro is not None
        # "auto": with a gyroscope the vertical channel follows any rotation and times every
        # movement it can see; the orientation channel is for streams without one (a watch's
        # accelerometer in machine and cable work), where it would otherwise find nothing.
        self.detector = "vertical" if (s.detector == "auto" and self.uses_gyro) else s.detector
        self.vertical = VerticalAccel(fs_hz=fs, use_gyro=self.uses_gyro)
        a0 = np.asarray(block.accel[0], dtype=np.float64)
        g0 = float(np.sqrt(a0 @ a0))
        self.scanner = LobeScanner(self.ring, fs_hz=fs, params=self.params, g0=g0)
        self.assembler = RepAssembler(
            fs_hz=fs, min_rom_m=s.min_rom_m, min_rep_s=s.min_rep_s, max_rep_s=s.max_rep_s, params=self.params
        )
        self.segment_floor = 0  # first raw index of the current continuous segment
        self._new_orient(base=0)

    # -- orientation channel ---------------------------------------------------------------------
    def _new_orient(self, *, base: int) -> None:
        """A fresh orientation detector whose sample 0 is ring index ``base``."""
        self._orient_reps: dict[int, OrientRep] = {}  # auto: queue seq -> the rep (its gait, its turn)
        self._bout: list[tuple] = []  # auto: the current orientation bout's reps (held until it counts)
        self._bout_ok = False  # auto: the bout has AUTO_BOUT_MIN reps; its reps are released
        self._vwait: list[tuple] = []  # auto: vertical reps inside a forming bout, until it counts or not
        self._held_back: list[tuple] = []  # auto: recent orientation reps that did not count (yet)
        if self.detector == "vertical":
            self.orient = None
            return
        s = self.settings
        self.orient = OrientationRepDetector(fs_hz=self.fs_hz, min_rep_s=s.min_rep_s, max_rep_s=s.max_rep_s)
        self._orient_base = base
        self._orient_fed = 0
        self._orient_fills: list[tuple[int, int]] = []  # (orientation index, ring samples inserted before it)

    def _orient_to_ring(self, o: float) -> float:
        extra = 0
        for at, n in self._orient_fills:
            if o >= at:
                extra += n
        return self._orient_base + o + extra

    def _feed_orient(self, accel: np.ndarray) -> None:
        if self.orient is None or accel.shape[0] == 0:
            return
        self._orient_fed += accel.shape[0]
        self._queue_orient(self.orient.feed(accel))

    def _queue_orient(self, reps) -> None:
        # alone, the orientation channel has no vertical rep to wait for
        hold = 0 if self.detector == "orientation" else int(round(ORIENT_HOLD_S * self.fs_hz))
        for r in reps:
            start, end = self._orient_to_ring(r.start), self._orient_to_ring(r.end)
            key = max(int(self._orient_to_ring(r.done_at)), int(math.ceil(end)) + hold)
            if self.detector == "auto":
                self._orient_reps[self._qseq] = r
            self._orient_done[self._qseq] = int(self._orient_to_ring(r.done_at))
            self._queue(key, start, end, None, None, None, "orientation", r.rom_deg)

    # -- ingest: gaps, ring, smoothing -------------------------------------------------------
    def _ingest(self, t: np.ndarray, m: np.ndarray, a: np.ndarray, *, dropped: int) -> None:
        P = self.period
        dts = diff_from(self._last_t if self._last_t is not None else t[0] - P, t)
        if (dts <= 0).any():
            k = int((dts <= 0).nonzero()[0][0])
            prev = self._last_t if k == 0 else t[k - 1]
            raise SourceError(
                f"device time went backwards or repeated ({prev:.6f} s then {t[k]:.6f} s); "
                "a device reset or clock jump must start a new session"
            )
        # drops: a stamp over half a period later than the sample clock expected it (SampleClock;
        # on a regular clock, a jump of over 1.5 periods), or samples the source says it lost
        jumps = dict(self.clock.drops(t))
        if dropped > 0 and self._last_t is not None:
            jumps[0] = max(jumps.get(0, 1), dropped)
        pos = 0
        for k, missing in sorted(jumps.items()):
            if k > pos:
                self._append_measured(t[pos:k], m[pos:k], a[pos:k])
            pos = k
            if self._last_t is None:
                continue
            t_prev = self._last_t
            gap = Gap(start_s=t_prev, end_s=float(t[k]), missing=missing)
            self.gaps.append(gap)
            self._push(self.ring.total, GapEvent(gap))
            if missing * P <= MAX_FILL_S:
                if self.orient is not None:
                    self._orient_fills.append((self._orient_fed, missing))
                last = self.ring.latest(1)[0]
                m_prev = np.concatenate(([last[COL_M], last[COL_R]], last[COL_UP]))
                frac = np.arange(1, missing + 1) / (missing + 1)
                self._append(
                    t_prev + frac * (t[k] - t_prev),
                    m_prev + frac[:, None] * (m[k] - m_prev),
                    gap=True,
                )
            else:
                self._hard_break(t_next=float(t[k]))
        if pos < t.shape[0]:
            self._append_measured(t[pos:], m[pos:], a[pos:])

    def _append_measured(self, t: np.ndarray, m: np.ndarray, a: np.ndarray) -> None:
        """Samples the sensor measured (not a bridge over a gap): the saturation watch, the
        orientation channel, the ring."""
        k = self._saturation.feed(a)
        if k is not None:
            level_g = self._saturation.level / STANDARD_GRAVITY
            self._push(self.ring.total + k, StatusEvent(
                state="saturated", at_s=float(t[k]), details={"sensor": "accelerometer", "limit_g": round(level_g, 3)},
                message=(f"the accelerometer is saturated: an axis sits at its limit, +-{level_g:.2f} g; movement "
                         "beyond it is lost, so reps may be missed or timed wrong.  Set the sensor's range to +-8 g "
                         "or more (+-16 g for swings and jumps)."),
            ))
        self._feed_orient(a)
        self._append(t, m, gap=False)

    def _append(self, t: np.ndarray, m: np.ndarray, *, gap: bool) -> None:
        """Samples into the ring (``gap``: all of them are a bridge over missing samples), then detect."""
        n = t.shape[0]
        step = max(1, self.ring.capacity // 4)  # the ring must still hold what the detector reads back
        for a in range(0, n, step):
            self._append_piece(t[a : a + step], m[a : a + step], gap)

    def _append_piece(self, t: np.ndarray, m: np.ndarray, gap: bool) -> None:
        n = t.shape[0]
        start = self.ring.total
        rows = np.zeros((n, N_COLS))
        rows[:, COL_T] = t
        rows[:, COL_M] = m[:, 0]
        rows[:, COL_R] = m[:, 1]
        rows[:, COL_UP] = m[:, 2:5]
        if gap:
            rows[:, COL_GAP] = 1.0
        floor = self.noise(m[:, 0])
        rows[:, COL_Q] = np.fmax(self.params.quiet_range_mps2, NOISE_QUIET_SIGMAS * floor)
        self.ring.write(rows)
        self._last_t = float(t[-1])
        y = self.smoother(m[:, 0])
        self._put_smoothed(start, y)
        self._advance(final=False)

    def _put_smoothed(self, raw_start: int, y: np.ndarray) -> None:
        # y[k] is the smoothed value centred on raw index raw_start + k - delay
        c0 = raw_start - self.delay
        skip = max(0, self.segment_floor - c0)
        if skip < y.shape[0]:
            self.ring.put(c0 + skip, COL_X, y[skip:])

    def _flush_filter(self) -> None:
        """Push the last level through the smoother so the last ``delay`` samples get a value."""
        if self.delay == 0:
            return
        last = float(self.ring.latest(1, COL_M)[0])
        y = self.smoother(np.full(self.delay, last))
        c0 = self.ring.total - self.delay
        skip = max(0, self.segment_floor - c0)
        if skip < self.delay:
            self.ring.put(c0 + skip, COL_X, y[skip:])

    def _hard_break(self, *, t_next: float) -> None:
        """A long gap: settle what came before, then restart the detector for what comes after."""
        self._flush_filter()
        if self.orient is not None:
            self._queue_orient(self.orient.finish())
        self._advance(final=True)
        self._new_orient(base=self.ring.total)
        self.smoother.reset()
        self.vertical.reset()
        self.assembler.reset()
        self.segment_floor = self.ring.total
        self.scanner.reset(self.ring.total)
        self._last_t = None  # the next sample starts a new segment (no gap check against the old one)

    def _last_index(self) -> int:
        return max(0, self.ring.total - 1) if self.fs_hz is not None else 0

    # -- detection ------------------------------------------------------------------------------
    def _advance(self, *, final: bool) -> None:
        stop = self.ring.total if final else self.ring.total - self.delay
        stop = max(stop, self.scanner.pos)
        self.scanner.advance(stop, on_lobe=self._on_lobe)
        if final:
            for lobe in self._end_of_data_lobe():
                self._on_lobe(lobe)
        if self._waiting:
            waiting, self._waiting = self._waiting, []
            for cand in waiting:
                self._emit_rep(cand, final=final)
        if final:
            self.assembler.reset()
        self._finalize(upto=self.ring.total + (ORIENT_HOLD_BIG if final else 0))
        if final:  # auto: a bout still forming at the end of data will not count
            self._release_vwait(self.ring.total - 1)
        self._release_held(before_key=self.ring.total)
        if final and self._finished:
            held, self._held = self._held, []
            for h in held:
                self._finalize_rep(max(h[0], self.ring.total - 1), h[2], h[3], h[4], h[5], h[6])
        self._check_set_end(upto=self.ring.total)

    def _on_lobe(self, lobe: Lobe) -> None:
        for cand in self.assembler.add(lobe):
            self._emit_rep(cand)

    def _end_of_data_lobe(self) -> list[Lobe]:
        """At the end of data, a lobe that has come to a stop counts as ending at rest."""
        sc = self.scanner
        out: list[Lobe] = []
        if sc.mode == "move" and sc.cur is not None and sc.cur.sign != 0:
            if abs(sc.v_prev) < self.params.v_establish_mps:
                cur = sc.cur
                if sc.pending is not None:
                    cur.disp += sc.pending.disp
                cur.end = float(sc.pos - 1)
                cur.end_kind = "rest"
                cur.done_at = sc.pos - 1
                out.append(cur)
        sc.flush()
        return out

    def _emit_rep(self, c: RepCandidate, *, final: bool = False) -> None:
        """Time a vertical-channel rep and queue it for finalisation in data order.

        A rep whose end's braking runs on past the data so far waits for it (``_waiting``), so
        that any split of the stream into blocks times it alike (``final``: no more data comes).
        """
        ring = self.ring
        first, last = c.lobes[0], c.lobes[-1]
        end_at, end_kind = c.end, c.end_kind
        k = self._moved_until(c)
        if k < len(c.lobes) - 1:
            last = c.lobes[k]
            end_at, end_kind = last.end, last.end_kind
        ready_at = c.done_at
        for at, kind, lobe in ((end_at, end_kind, last), (c.conc.end, c.conc.end_kind, c.conc)):
            if kind == "rest":
                ready_at = max(ready_at, self._rest_end_horizon(at, lobe) - 1)
        if ready_at > ring.total - 1 - self.delay and not final:
            self._waiting.append(c)
            return
        start = self._refine(c.start, c.start_kind, first, onset=True, soft=SOFT_TURN_V)
        end = self._refine(end_at, end_kind, last, onset=False, soft=SOFT_TURN_V)
        conc_start = start if c.conc is first else self._refine(c.conc.start, c.conc.start_kind, c.conc, onset=True)
        conc_end = end if c.conc is last else self._refine(c.conc.end, c.conc.end_kind, c.conc, onset=False, soft=SOFT_TOP_V)
        # a boundary's device time interpolates between the samples around it: wait for the later one
        # (extrapolating from the two before would time it by how the stream was split into blocks)
        need = int(math.floor(max(end, conc_end))) + 1
        if need > ring.total - 1 and not final:
            self._waiting.append(c)
            return
        conc_s = self._time_at(conc_end) - self._time_at(conc_start)
        key = min(max(ready_at + self.delay, need), ring.total - 1)
        # a rep that ends at a turnaround flows into the next (continuous set): if it is the
        # set's first, it may be a hike; one that ends at rest is released at once
        channel = "vertical" if c.end_kind == "rest" else "vertical-continuous"
        self._queue(key, start, end, conc_s if conc_s > 0 else None, c.conc.peak_v, c.conc.disp, channel)

    def _moved_until(self, c: RepCandidate) -> int:
        """Index of the rep's last lobe that belongs to the lift (:func:`reps.moved_until`)."""
        k_conc = c.lobes.index(c.conc) if c.conc in c.lobes else 0
        return moved_until(c.lobes, k_conc, min_rom_m=self.settings.min_rom_m, level_tol=self.params.level_tol)

    def _queue(self, key: int, start: float, end: float, conc_s, peak_v, rom, channel: str,
               turn_deg: float | None = None) -> None:
        if self.detector == "orientation" and channel.startswith("vertical"):
            return
        self._rep_queue.append((key, self._qseq, start, end, conc_s, peak_v, rom, channel, turn_deg))
        self._qseq += 1

    def _finalize(self, upto: int) -> None:
        """Turn queued reps with key < ``upto`` into events, in key order (sets, tempo)."""
        queue = self._rep_queue
        while queue:
            queue.sort(key=lambda q: (q[0], q[1]))
            if queue[0][0] >= upto:
                return
            item = queue.pop(0)
            if item[7] == "orientation":
                self._finalize_orient(item)
                continue
            if self.orient is not None:
                # orientation reps before this rep, and not part of its movement, have waited long
                # enough: no later vertical rep will overlap them.  They come out first, at its key
                for q in self._orient_before(item):
                    queue.remove(q)
                    self._finalize_orient((item[0],) + q[1:])
            self._finalize_item(item)

    def _finalize_orient(self, item: tuple) -> None:
        """Finalise a queued orientation rep, unless a vertical rep has its movement."""
        self._orient_done.pop(item[1], None)
        if self._overlaps_vertical(item[2], item[3]):
            self._orient_reps.pop(item[1], None)
            return
        self._finalize_item(item)

    def _orient_before(self, item: tuple) -> list[tuple]:
        """Queued orientation reps settled by a vertical rep's key that end before it starts (give or
        take ORIENT_EDGE_S, the orientation channel's boundary precision), in time order."""
        key, _, start = item[:3]
        edge = ORIENT_EDGE_S * self.fs_hz
        return sorted(
            (q for q in self._rep_queue
             if q[7] == "orientation" and self._orient_done.get(q[1], key + 1) <= key and q[3] <= start + edge),
            key=lambda q: q[2],
        )

    def _finalize_item(self, item: tuple) -> None:
        """Finalise one queued rep (``_finalize``): a vertical rep, or an orientation rep no vertical rep overlaps."""
        _, _, start, end, *_, channel, _ = item
        if channel == "orientation":
            if self.detector == "auto":
                self._auto_orient(item)
            else:
                self._emit_vertical(item)
            return
        if self.detector == "auto" and self._orient_owns(start):
            return  # auto: inside a counted orientation bout the vertical channel sees only fragments
        self._vertical_spans.append((start, end))
        if len(self._vertical_spans) > 64:
            del self._vertical_spans[:32]
        if self.detector == "auto":
            self._auto_vertical()
            if self._bout and not self._bout_ok and start - self._bout[-1][3] <= self._bout_gap():
                # an orientation bout is forming here: if it counts, this rep was a fragment
                # of its movement (as _orient_owns); if not, it is released then
                self._vwait.append(item)
                return
        self._emit_vertical(item)

    def _emit_vertical(self, item: tuple) -> None:
        key, _, start, end, conc_s, peak_v, rom, channel, _ = item
        # the set may have ended before this rep was known (whether it waits depends on that): close
        # it in data order, as _finalize_rep would, not whenever the block happened to end
        self._check_set_end(upto=min(max(key, self.ring.first), self.ring.total - 1) + 1)
        # a rep that would wait does not settle the reps waiting before it; once they are settled
        # (the set may have opened), it may not need to wait any more
        self._release_held(before_key=key, next_item=None if self._holds(item) else item)
        if self._holds(item):
            self._held.append(item)
            return
        self._finalize_rep(key, start, end, conc_s, peak_v, rom)

    def _holds(self, item: tuple) -> bool:
        """Whether a vertical rep waits for a later one before it may open a set.

        A set-up move looks like a rep that rises far less than the set's reps: a kettlebell
        hike or a lift onto the back flows into the first rep; drift while walking up to the
        bell, then bending to it, is one slow 'rep' that rises little.  So a set's first rep
        waits when it flows into the next (continuous sets), and when it looks like such a
        shift (:meth:`_slow_setup`); a rep that does not wait settles them.  A paused set's
        first rep that rises like a lift is not delayed, nor is a second slow shift like the
        first: two alike in a row are a set of slow reps (pull-ups at a slow tempo).
        """
        rom, channel = item[6], item[7]
        if rom is None or self._open is not None or len(self._held) >= MAX_HELD:
            return False
        if channel == "vertical-continuous":
            return not any(h[7] == "vertical-continuous" for h in self._held)
        return self._slow_setup(item) and not any(self._slow_setup(h) and self._alike(h, item) for h in self._held)

    def _duration_s(self, item: tuple) -> float:
        """A queued rep's duration on the device clock."""
        return self._time_at(item[3]) - self._time_at(item[2])

    def _alike(self, a: tuple, b: tuple) -> bool:
        """Whether two reps rise and last within ALIKE_RATIO of each other."""
        dur_a, dur_b = self._duration_s(a), self._duration_s(b)
        return (
            a[6] is not None and b[6] is not None and max(a[6], b[6]) <= ALIKE_RATIO * min(a[6], b[6])
            and max(dur_a, dur_b) <= ALIKE_RATIO * min(dur_a, dur_b)
        )

    def _slow_setup(self, item: tuple) -> bool:
        """A vertical rep rising less than WALK_MAX_ROM_M, over more than SLOW_SETUP_S or never
        faster than SETUP_PEAK_V_MPS: drift over a few steps, not a lift."""
        rom, peak_v = item[6], item[5]
        if rom is None or rom >= WALK_MAX_ROM_M:
            return False
        slow = self._duration_s(item) > SLOW_SETUP_S
        return slow or (peak_v is not None and peak_v < SETUP_PEAK_V_MPS)

    def _release_held(self, *, before_key: int, next_item=None) -> None:
        """Settle the held first reps: drop set-up moves, emit the rest (late) before what follows.

        They are emitted as they are if the set would close (a rest of ``set_rest_s``) after the
        last of them before ``before_key``; when ``next_item`` confirms them, those rising less than
        PARTIAL_ROM of its rise are left out.
        """
        if not self._held:
            return
        held = self._held
        last = held[-1]
        deadline_t = self._time_at(last[3]) + self.settings.end_offset_s + self.settings.set_rest_s
        lo = max(self.ring.first, last[0])
        hi = max(lo, min(self.ring.total, before_key + 1))
        ts = self.ring.get(lo, hi, COL_T) if hi > lo else np.zeros(0)
        closed = (ts >= deadline_t).nonzero()[0]
        if closed.size:
            self._held = []
            for h in held:
                if not self._slow_setup(h):  # a lone slow shift (a walk's drift), not a set of one
                    self._finalize_rep(lo + int(closed[0]), h[2], h[3], h[4], h[5], h[6])
            return
        if next_item is None:
            return
        self._held = []
        nrom = next_item[6]
        for h in held:
            if nrom is not None and h[6] is not None and h[6] < PARTIAL_ROM * nrom:
                continue  # set-up, not a rep
            self._finalize_rep(max(h[0], next_item[0]), h[2], h[3], h[4], h[5], h[6])

    def _overlaps_vertical(self, start: float, end: float) -> bool:
        waiting = {(q[2], q[3]) for q in self._vwait}  # auto: not emitted; the bout decides between them
        for a, b in reversed(self._vertical_spans):
            if (a, b) in waiting:
                continue
            ov = min(b, end) - max(a, start)
            if ov > 0.5 * min(b - a, end - start):
                return True
        return False

    # -- detector "auto": one channel per movement -------------------------------------------------
    def _series_spans(self) -> list[tuple[float, float]]:
        """Vertical reps that belong to a series (another vertical rep within AUTO_SERIES_GAP_S)."""
        gap = AUTO_SERIES_GAP_S * self.fs_hz
        v = self._vertical_spans
        return [
            (a, b) for k, (a, b) in enumerate(v)
            if (k > 0 and a - v[k - 1][1] <= gap) or (k + 1 < len(v) and v[k + 1][0] - b <= gap)
        ]

    def _claimed(self, start: float, end: float, series: list[tuple[float, float]]) -> bool:
        """Does a rep of a vertical series overlap [start, end]?  (One that only lies next to them fills
        a gap in the series: a rep the vertical channel missed.  When a 0.5 s margin around the
        series' reps was dropped, 11 of the 257 real wrist sets changed count, 10 towards the logged one.)"""
        return any(a < end and start < b for a, b in series)

    def _bout_gap(self) -> float:
        """Largest pause (ring samples) between two reps of the current orientation bout."""
        return AUTO_GAP_REPS * self._bout_median() + self.fs_hz

    def _bout_median(self) -> float:
        """Median duration (ring samples; the upper one of an even count) of the bout's reps."""
        durs = sorted(q[3] - q[2] for q in self._bout)
        return durs[len(durs) // 2]

    def _orient_owns(self, start: float) -> bool:
        """Auto: does a counted orientation bout still go on at ring index ``start``?"""
        return self._bout_ok and bool(self._bout) and start - self._bout[-1][3] <= self._bout_gap()

    def _auto_vertical(self) -> None:
        """A vertical rep arrived: held orientation reps near a vertical series were the same movement."""
        series = self._series_spans()
        if self._bout and not self._bout_ok and any(self._claimed(q[2], q[3], series) for q in self._bout):
            self._bout = []
            self._release_vwait()

    def _release_vwait(self, key: int = 0) -> None:
        """Auto: the orientation bout did not count; the vertical reps that waited for it are reps.
        They keep the index the vertical channel settled them at (``detected_at_s`` as with
        detector "vertical") unless ``key`` is later; the events come out when the bout fails."""
        wait, self._vwait = self._vwait, []
        for q in wait:
            self._emit_vertical((max(q[0], key),) + tuple(q[1:]))

    def _auto_orient(self, item: tuple) -> None:
        """Detector "auto": count an orientation rep only inside a bout of AUTO_BOUT_MIN reps that no
        vertical series claims and that is not walking.  The bout's first reps wait until it counts,
        then are released (late) in order, leaving out a set-up move far longer or shorter than them;
        reps held back just before the bout that fit it are released with them (_look_back)."""
        key, seq, start, end = item[0], item[1], item[2], item[3]
        rep = self._orient_reps.pop(seq, None)  # (a detector restarted after a gap forgets its reps)
        piece = rep is not None and rep.rom_deg < AUTO_FRAGMENT_TURN_DEG and self._fragment(start, end)
        walking = rep is not None and rep.gait > AUTO_GAIT_MAX
        claimed = self._claimed(start, end, self._series_spans())
        if walking or piece or claimed:
            self._bout, self._bout_ok = [], False  # walking, or the vertical channel has this movement (or a lift of it)
            self._held_back.clear()  # nothing before walking or a vertical series joins a later bout
            if walking and not (piece or claimed) and rep.rom_deg >= AUTO_WALK_MAX_TURN_DEG:
                self._hold_back([item])  # steps do not swing an arm that far: a bout right after may take it in
            self._release_vwait(key)
            return
        if self._bout and start - self._bout[-1][3] > self._bout_gap():
            self._hold_back(self._bout if not self._bout_ok else [])
            self._bout, self._bout_ok = [], False  # a new bout: the last one ended (or never counted)
            self._release_vwait(key)
        if self._bout_ok and not self._fits_bout(item):
            self._hold_back([item])  # far longer or shorter than the bout's reps: not one of them
            return
        self._bout.append(item)
        if self._bout_ok:
            del self._bout[:-AUTO_BOUT_MIN]
            release = [item]
        elif len(self._bout) < AUTO_BOUT_MIN and not self._continues_set(item):
            return
        else:
            med = self._bout_median()
            lo, hi = AUTO_CONSISTENT
            release = [q for q in self._bout if lo * med <= q[3] - q[2] <= hi * med]
            kept = {q[1] for q in release}
            self._hold_back([q for q in self._bout if q[1] not in kept])
            release = self._look_back(release) + release
            self._held_back.clear()
            self._bout_ok = True
            self._vwait = []  # the vertical channel's fragments of the bout's movement
        for q in release:
            self._release_held(before_key=key, next_item=q)
            self._finalize_rep(max(q[0], key), q[2], q[3], q[4], q[5], q[6])

    def _fragment(self, start: float, end: float) -> bool:
        """Auto: does [start, end] lie within a vertical rep waiting on the forming bout that lasts
        AUTO_FRAGMENT times longer?  For an orientation rep that hardly turned the sensor (under
        AUTO_FRAGMENT_TURN_DEG: its swing was mostly the acceleration's size, the very signal the
        vertical channel reads without a gyroscope) that makes it a piece of the lift, not a rep: a
        sensor on a bar that stays level sees each press as two such swings."""
        return any(
            min(q[3], end) - max(q[2], start) >= 0.8 * (end - start) and q[3] - q[2] >= AUTO_FRAGMENT * (end - start)
            for q in self._vwait
        )

    def _fits_bout(self, item: tuple) -> bool:
        """Auto: does an orientation rep last about as long as the counted bout's reps (AUTO_CONSISTENT)
        and turn the sensor about as far (_turns_alike)?"""
        med = self._bout_median()
        lo, hi = AUTO_CONSISTENT
        return lo * med <= item[3] - item[2] <= hi * med and self._turns_alike(item, self._bout)

    def _hold_back(self, items: list[tuple]) -> None:
        """Auto: orientation reps that did not count; a bout that counts right after may take them in."""
        self._held_back = sorted(self._held_back + list(items), key=lambda q: q[2])[-AUTO_HELD_BACK:]

    def _look_back(self, release: list[tuple]) -> list[tuple]:
        """Auto: a bout counts from its first released rep; the reps held back just before it (a rep
        stranded before a rest-pause, a first rep with the set-up move merged in) count too while
        they follow each other with pauses under AUTO_LOOKBACK_GAP_REPS median reps (+ 1 s), last
        AUTO_CONSISTENT[0] to AUTO_LEAD_MAX median reps (of the reps released), and no vertical rep or series has their
        movement; one that turned the sensor AUTO_WALK_MAX_TURN_DEG or more (perhaps held back from the
        walking veto) must turn it about as far as they do (_turns_alike both ways).  Never before the
        open set's last rep (reps do not overlap)."""
        if not release:
            return []
        durs = sorted(q[3] - q[2] for q in release)
        med = float(np.median(durs))
        first = release[0]
        gap = AUTO_LOOKBACK_GAP_REPS * med + self.fs_hz
        series = self._series_spans()
        floor = self._open.last_raw_end if self._open is not None and self._open.reps else float("-inf")
        taken: list[tuple] = []
        nxt = first
        for q in reversed([q for q in self._held_back if q[3] <= first[2]]):
            if nxt[2] - q[3] > gap or not AUTO_CONSISTENT[0] * med <= q[3] - q[2] <= AUTO_LEAD_MAX * med:
                break
            if self._claimed(q[2], q[3], series) or self._overlaps_vertical(q[2], q[3]):
                break
            if q[8] is not None and q[8] >= AUTO_WALK_MAX_TURN_DEG and not self._turns_alike(q, release, both_ways=True):
                break
            if self._time_at(q[2]) < floor:
                break
            taken.append(q)
            nxt = q
        return taken[::-1]

    def _turns_alike(self, item: tuple, reps: list[tuple], *, both_ways: bool = False) -> bool:
        """Auto: does an orientation rep turn the sensor at least AUTO_PARTIAL_TURN as far as the median of
        ``reps`` (when they turn it AUTO_TURN_MIN_DEG or more: a swing forward to park the bell turns a
        wrist half as far as the swings)?  ``both_ways``: and at most 1 / AUTO_PARTIAL_TURN as far, when
        either turns it that much (a clean to the rack is no press)."""
        turns = sorted(q[8] for q in reps if q[8] is not None)
        if item[8] is None or not turns:
            return True
        med = turns[len(turns) // 2]
        if (max(med, item[8]) if both_ways else med) < AUTO_TURN_MIN_DEG:
            return True
        return AUTO_PARTIAL_TURN * med <= item[8] and (not both_ways or item[8] * AUTO_PARTIAL_TURN <= med)

    def _continues_set(self, item: tuple) -> bool:
        """Auto: does this orientation rep go on with an established set (AUTO_BOUT_MIN reps of either
        channel) right after its last rep, and last about as long as its reps?  Then it needs no bout of
        its own: the set's rhythm already shows it is lifting (a rep the orientation channel missed, or
        the vertical channel losing the movement, must not make the rest of the set start over)."""
        st = self._open
        if st is None or len(st.reps) < AUTO_BOUT_MIN:
            return False
        durs = sorted(r.end_s - r.start_s for r in st.reps[-AUTO_BOUT_MIN:])
        med = durs[len(durs) // 2]
        start_s, end_s = self._time_at(item[2]), self._time_at(item[3])
        if start_s - st.last_raw_end > AUTO_GAP_REPS * med + 1.0:
            return False
        lo, hi = AUTO_CONTINUE
        return lo * med <= end_s - start_s <= hi * med

    def _walking(self, lo: int, hi: int) -> bool:
        """Whether [lo, hi) looks like walking: the vertical signal (or, with a gyroscope, the rotation
        rate: an arm swinging) periodic at a step's period (filters.step_periodicity)."""
        return self._rhythm(lo, hi, COL_X, WALK_MIN_RMS_MPS2) >= WALK_GAIT_MIN or (
            self.uses_gyro and self._rhythm(lo, hi, COL_R, ARM_SWING_MIN_RMS_RADPS) >= ARM_SWING_MIN
        )

    def _rhythm(self, lo: int, hi: int, col: int, min_rms: float) -> float:
        """How periodic ring column ``col`` over [lo, hi) is at a step's period."""
        hi = min(hi, self.ring.total)
        x = self.ring.get(lo, hi, col) if hi > lo else np.zeros(0)
        return step_periodicity(x, fs_hz=self.fs_hz, min_rms=min_rms)

    def _finalize_rep(self, key: int, start: float, end: float, conc_s, peak_v, rom) -> None:
        ring = self.ring
        s = self.settings
        raw_start, raw_end = self._time_at(start), self._time_at(end)
        if self._open is not None and self._open.reps:
            # detected reps never overlap: refinement near a shared turnaround must not reach
            # back (calibration offsets, applied after, may make calibrated spans overlap)
            raw_start = max(raw_start, self._open.last_raw_end)
        if raw_end <= raw_start:
            return
        start_s = raw_start + s.start_offset_s
        end_s = raw_end + s.end_offset_s
        lo = max(ring.first, int(math.floor(start)))
        hi = min(ring.total, int(math.ceil(end)) + 1)
        gap = bool((ring.get(lo, hi, COL_GAP) > 0).any()) if hi > lo else False
        k = min(max(key, ring.first), ring.total - 1)
        detected_at_s = float(ring.get(k, k + 1, COL_T)[0])
        # the set: a rest of set_rest_s since the last rep closes it first
        self._check_set_end(upto=k + 1)
        if self._open is None and rom is not None and rom < WALK_MAX_ROM_M:
            if self._walking(max(ring.first, int(start - self.fs_hz)), int(math.ceil(end))):
                return  # the first 'rep' of a set while walking
        if self._open is not None and rom is not None:
            roms = [r.rom_m for r in self._open.reps if r.rom_m is not None]
            if len(roms) >= 2 and rom < PARTIAL_ROM * float(np.median(roms)):
                return  # a fraction of the set's reps' rise: setting the weight down, not a rep
        if self._open is None:
            self._open = _OpenSet(
                index=len(self.sets) + 1,
                tempo=SetTempo(
                    threshold_s=s.threshold_s,
                    slowdown=s.slowdown,
                    warning_margin=s.warning_margin,
                    confirm=s.confirm,
                ),
                reps=[],
                last_end_s=end_s,
            )
        st = self._open
        rep_index = len(st.reps) + 1
        measure = (end_s - start_s) if s.measure == "rep" else conc_s
        judgement, confirmed_now = st.tempo.add(rep_index, measure)
        rep = Rep(
            index=rep_index,
            set_index=st.index,
            start_s=start_s,
            end_s=end_s,
            concentric_s=conc_s,
            detected_at_s=detected_at_s,
            failure=judgement.failure,
            warning=judgement.warning,
            gap=gap,
            peak_velocity_mps=peak_v,
            rom_m=rom,
            reference_s=judgement.reference_s,
            slowdown=judgement.slowdown,
        )
        st.reps.append(rep)
        st.last_end_s = max(st.last_end_s, end_s)
        st.last_raw_end = max(st.last_raw_end, raw_end)
        self._push(key, RepEvent(rep))
        if judgement.warning and judgement.warning_limit is not None:
            self._push(key, WarningEvent(rep, judgement.warning_limit))
        if confirmed_now and st.tempo.first_failure is not None:
            first_idx, reason = st.tempo.first_failure
            self._push(key, FailureEvent(rep, reason, first_idx))

    def _refine(self, idx: float, kind: str, lobe: Lobe, *, onset: bool, soft: float | None = None) -> float:
        """Sub-sample boundary; ``soft``: a turnaround may be a stop (see :meth:`_refine_soft_turnaround`)."""
        if kind != "rest":
            return self._refine_soft_turnaround(idx, lobe, onset=onset, max_v=soft) if soft else idx
        return self._refine_rest(idx, lobe, onset=onset)

    def _refine_soft_turnaround(self, idx: float, lobe: Lobe, *, onset: bool, max_v: float) -> float:
        """A turnaround that came long after the movement stopped (or before it started).

        The lift ends at a stop, but walking off (after a set's last rep) or a slow drift
        keeps the sensor from looking still, and the velocity crosses zero later.  When the
        lobe's deceleration ramp reaches zero clearly before the crossing and the lobe
        barely moves in between (under ``max_v`` of its peak velocity, or under SOFT_DISP of
        its displacement: walking the bar to the rack bobs the sensor), the ramp's end is the
        boundary (the mirror image for a start).  The top of a pull-up is such a stop inside
        the rep: a brief hold, then the descent, while the arm's turn (a bias the set's rests
        have not measured yet) tilts the velocity by up to a fifth of its peak.  A turnaround
        the velocity swings through (a swing's backswing) has no such ramp and keeps its
        crossing.
        """
        r = self._refine_rest(idx, lobe, onset=onset)
        a, b = (idx, r) if onset else (r, idx)
        lo, hi = int(math.ceil(a)), int(math.floor(b)) + 1
        if b - a < 2.0 or lo < self.ring.first or hi > self.ring.total:
            return idx
        v = self.ring.get(lo, hi, COL_V)
        still = float(np.max(np.abs(v))) < max_v * lobe.peak_v
        # steps right after the last rep bob the velocity by 0.2 m/s, but go nowhere
        bobbing = abs(float(v.sum())) / self.fs_hz < SOFT_DISP * abs(lobe.disp)
        return r if still or bobbing else idx

    def _rest_data(self, idx: float, lobe: Lobe) -> tuple[int, int, np.ndarray] | None:
        """The span, first index and data (debiased as the lobe was integrated) a rest boundary at
        ``idx`` is refined over; None when too little data is there."""
        ring = self.ring
        length = max(2.0, lobe.end - lobe.start)
        span = int(length * 0.6) + self.scanner.W
        lo = max(ring.first, self.segment_floor, int(idx) - span - 2)
        hi = min(ring.total - self.delay if not self._finished else ring.total, int(idx) + span + 3)
        if hi - lo < 4:
            return None
        return span, lo, debiased_x(ring, lo, hi, lobe.bias)

    def _rest_end_horizon(self, idx: float, lobe: Lobe) -> int:
        """One past the last sample the refinement of this rest end reads (reps.rest_end_horizon)."""
        data = self._rest_data(idx, lobe)
        if data is None:
            return 0
        span, lo, x = data
        return rest_end_horizon(x, lo, g=lobe.g, sign=-lobe.sign, coarse=idx, span=span, tail=self.scanner.W)

    def _refine_rest(self, idx: float, lobe: Lobe, *, onset: bool) -> float:
        data = self._rest_data(idx, lobe)
        if data is None:
            return idx
        span, lo, x = data
        sign = lobe.sign if onset else -lobe.sign
        r = refine_rest_boundary(
            x, lo, g=lobe.g, sign=sign, coarse=idx, span=span, onset=onset, tail=self.scanner.W
        )
        # never move a boundary past the lobe's own extent
        if onset:
            return float(min(max(r, idx - span), lobe.end))
        return float(max(min(r, idx + span), lobe.start))

    def _time_at(self, f: float) -> float:
        ring = self.ring
        i0 = int(math.floor(f))
        i0 = min(max(i0, ring.first), ring.total - 2) if ring.total >= 2 else ring.first
        if ring.total < 2:
            return float(ring.get(i0, i0 + 1, COL_T)[0])
        t0, t1 = ring.get(i0, i0 + 2, COL_T)
        return float(t0 + (f - i0) * (t1 - t0))

    # -- sets ------------------------------------------------------------------------------------
    def _check_set_end(self, *, upto: int) -> None:
        """Close the open set if ``set_rest_s`` passed after its last rep, at a sample before ``upto``."""
        st = self._open
        if st is None or self.ring.total == 0:
            return
        deadline = st.last_end_s + self.settings.set_rest_s
        lo = max(self.ring.first, self._set_scan_pos)
        if upto <= lo:
            return
        t = self.ring.get(lo, upto, COL_T)
        hit = (t >= deadline).nonzero()[0]
        if hit.size:
            self._close_set(index=lo + int(hit[0]), end_reason=None)
        else:
            self._set_scan_pos = upto

    def _close_set(self, *, index: int, end_reason: str | None) -> None:
        st = self._open
        if st is None:
            return
        self._open = None
        reps = tuple(st.reps)
        ff = st.tempo.first_failure
        if end_reason is None:
            end_reason = "tempo_failure" if ff is not None else "stopped"
        if self.fs_hz is not None and self.ring.total:
            i = min(max(index, self.ring.first), self.ring.total - 1)
            ended_at = float(self.ring.get(i, i + 1, COL_T)[0])
        else:
            ended_at = reps[-1].end_s
        summary = SetSummary(
            index=st.index,
            start_s=reps[0].start_s,
            end_s=max(r.end_s for r in reps),
            reps=reps,
            first_failure_rep=None if ff is None else ff[0],
            failure_reason=None if ff is None else ff[1],
            end_reason=end_reason,
            ended_at_s=ended_at,
        )
        self.sets.append(summary)
        self._push(index, SetEndEvent(summary))

    # -- event ordering ---------------------------------------------------------------------------
    def _push(self, key: int, event: Event) -> None:
        self._events.append((key, self._seq, event))
        self._seq += 1

    def _drain(self) -> list[Event]:
        ev = sorted(self._events, key=lambda e: (e[0], e[1]))
        self._events = []
        return [e[2] for e in ev]


def _params_json(p: DetectorParams) -> dict[str, float]:
    return {k: getattr(p, k) for k in p.__dataclass_fields__}


def analyze_blocks(blocks, settings: Settings | None = None) -> tuple[Engine, list[Event]]:
    """Run an iterable of blocks through a fresh engine; returns it (finished) and all events."""
    eng = Engine(settings)
    events: list[Event] = []
    for b in blocks:
        events += eng.feed(b)
    events += eng.finish()
    return eng, events
