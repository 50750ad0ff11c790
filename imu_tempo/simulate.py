"""Session simulator: IMU recordings of power-training sets with known truth.

The simulator moves a body model through a whole gym session -- standing,
walking to the equipment, picking the weight up, one or more sets of reps,
racking it, resting -- and records what an IMU strapped to the athlete would
report.  The truth (when each rep starts and ends, how long its concentric
phase lasts, and which rep first breaks the tempo rule) is known exactly,
because the reps are *built* from those times.  Tests, demos and the accuracy
benchmark score the rep detector against this truth.

Contents
--------
- :func:`simulate_session` -> :class:`SimulatedSession` -- one seeded session.
- :func:`write_session` -- the recording (CSV v1) plus its ``.truth.csv``.
- :data:`EXERCISES` -- the :class:`Preset` of each exercise, including the
  analysis settings it is meant to be scored with (``measure``).
- :func:`add_arguments`, :func:`run` -- ``imu-tempo simulate``.

Physics
-------
World frame: x forward (athlete's heading at the start), y left, z up;
``g = 9.80665`` m/s^2.  Every movement is a chain of segments on a handful of
body "channels" (hip height, torso lean, arm angle, ...).  Each segment is a
quintic polynomial that meets position, velocity and acceleration at both ends
(minimum-jerk when both ends are at rest), except flight, which is a ballistic
parabola (``a = -g``).  The channels are evaluated on an internal grid of at
least 1 kHz (an integer multiple of the sensor rate) and turned into the
sensor's world position ``p(t)`` and orientation ``R(t)`` (sensor frame to
world frame) by simple body geometry: a swinging arm, a two-bone arm on a
pull-up bar, a tilting pelvis.  Then

* specific force in the sensor frame: ``R(t)^T (p''(t) + (0, 0, g))``;
* angular rate in the sensor frame: from ``R(t)^-1 R(t + dt)`` (so the gyro is
  exactly consistent with the orientation that rotates the accelerometer).

``R(t)`` is the heading, times the segment's own rotation (the arm swinging up
in a kettlebell swing, the upper arm on a pull-up, the pelvis tilting in a
squat, arm swing while walking), times a wobble of a few degrees that changes
at the phase boundaries of each movement, times a fixed mount rotation
(random, or identity for ``orientation="upright"``).

The sensor then applies what a MEMS IMU does: a 2nd-order Butterworth
low-pass at 0.4 x the sample rate on the internal grid (the digital low-pass
filter of the chip, which also prevents aliasing; its group delay at DC is
about ``0.225 / (0.4 fs)`` s, 6 ms at 100 Hz and 56 ms at 10 Hz, and it is
part of the physics: the truth is the body's motion, not the filtered
signal), sampling, a per-axis scale error (~1 %) and small cross-axis
coupling, per-axis bias (0.05-0.2 m/s^2; 0.2-1 deg/s), white noise and int16
quantisation over +-16 g and +-2000 deg/s (with saturation).  The sample
clock is the device clock: samples are taken every ``1/fs_hz`` exactly, the
*reported* time stamps carry the jitter, and dropped samples are removed rows.

Truth
-----
Times are on the device clock of the recording (``t`` column); they are the
exact times of the movement's events, not of samples.  Per rep:

``start_s`` / ``end_s``
    The preset's start and end events (see :data:`EXERCISES`): e.g. the
    backswing turnaround of a kettlebell swing, or the moment the dip of a push
    press begins and the moment the bar is back at the rack and stopped.
``concentric_s``
    Duration of the phase against gravity (lowest point to highest point of
    the movement; for a jump squat: squat bottom to flight apex), which starts
    inside the rep.

Walking, fidgeting, picking up and racking the weight, the hike of a swing
and the pause between reps are never part of any rep.

Threads: everything here is pure computation in the calling thread.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import signal
from scipy.spatial.transform import Rotation

from .errors import ConfigError
from .types import Measure

__all__ = [
    "EXERCISES",
    "Activity",
    "Preset",
    "SimulatedSession",
    "TruthRep",
    "add_arguments",
    "run",
    "simulate_session",
    "summary",
    "truth_path",
    "write_session",
    "write_truth",
]

G = 9.80665
"""Standard gravity in m/s^2."""

TRUTH_COLUMNS = ("set", "rep", "start_s", "end_s", "concentric_s")

_ACCEL_FULL_SCALE = 16.0 * G  # +-16 g
_GYRO_FULL_SCALE = math.radians(2000.0)  # +-2000 deg/s
_INT16 = 32768.0
_MIN_FS_HZ, _MAX_FS_HZ = 10.0, 400.0
_MIN_INTERNAL_HZ = 1000.0
_MIN_REST_S = 10.0
SLEEVE_M = 0.25  # a velocity tracker on the bar's sleeve: this far outside the left hand

# The tempo rule used to compute ``truth_failure`` (the defaults of Settings).
_THRESHOLD_S = 1.2
_MIN_TEMPO, _MAX_TEMPO = 0.5, 3.0  # simulate_session(tempo=...)
_SLOWDOWN = 0.25


# ---------------------------------------------------------------------------
# Public results


@dataclass(frozen=True, slots=True)
class TruthRep:
    """One simulated rep, timed on the recording's device clock (seconds)."""

    set: int  # 1-based
    rep: int  # 1-based within the set
    start_s: float
    end_s: float
    concentric_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def measure(self, measure: Measure) -> float:
        """The rep's measure for the tempo rule: its duration or its concentric phase."""
        return self.duration_s if measure == "rep" else self.concentric_s


@dataclass(frozen=True, slots=True)
class Activity:
    """What the athlete does between ``start_s`` and ``end_s`` (device clock).

    ``label`` is one of ``idle``, ``walk``, ``pickup``, ``set``, ``pause``,
    ``rack``, ``rest``.  Only ``set`` activities contain reps; ``pause``
    activities (the stop between two reps of a paused exercise) lie inside a
    ``set`` and contain no rep time.
    """

    label: str
    start_s: float
    end_s: float
    set: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedSession:
    """A simulated recording and its truth.

    Attributes
    ----------
    t_s : ndarray, shape (n,)
        Reported device time of each sample in seconds (with jitter; dropped
        samples are missing rows).
    accel : ndarray, shape (n, 3)
        Specific force in m/s^2 in the sensor frame (about +9.81 along "up" at rest).
    gyro : ndarray, shape (n, 3), or None
        Angular rate in rad/s in the sensor frame (None with ``gyro=False``).
    fs_hz : float
        Nominal sample rate.
    metadata : dict of str to str
        Written as the recording's header (exercise, placement, seed, ...).
    truth : tuple of TruthRep
        Every rep of every set, in time order.
    truth_failure : dict of int to int or None
        Per set (1-based): the first rep that fails the tempo rule with the
        preset's recommended settings (``EXERCISES[exercise].measure``,
        1.2 s absolute limit, 25 % slowdown, confirm 1), or None.
    exercise : str
        Key of :data:`EXERCISES`.
    activities : tuple of Activity
        What happens when (idle, walk, pickup, set, pause, rack, rest).
    """

    t_s: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray | None
    fs_hz: float
    metadata: dict[str, str]
    truth: tuple[TruthRep, ...]
    truth_failure: dict[int, int | None]
    exercise: str = ""
    activities: tuple[Activity, ...] = ()

    @property
    def measure(self) -> Measure:
        """The preset's recommended measure (``"rep"`` or ``"concentric"``)."""
        return EXERCISES[self.exercise].measure

    def reps_in_set(self, set_index: int) -> tuple[TruthRep, ...]:
        return tuple(r for r in self.truth if r.set == set_index)


@dataclass(frozen=True, slots=True)
class Preset:
    """An exercise the simulator can perform.

    Attributes
    ----------
    name : str
        Key in :data:`EXERCISES`.
    placement : str
        Where the sensor is worn by default; :attr:`placements` lists the others simulated.
    measure : {"rep", "concentric"}
        The recommended analysis measure for this exercise.
    description : str
        One line for people.
    start_event, end_event, concentric_event : str
        The exact truth definitions, in words.
    fresh_rep_s, fresh_concentric_s : float
        Nominal duration of a fresh rep and of its concentric phase (seconds);
        each set scales them by +-5 % and each phase varies +-3-5 % rep to rep.
    reps_fatigued : (int, int)
        Range of the number of reps of a fatiguing set when ``reps`` is not given.
    reps_fresh : int
        Reps of a fresh set when ``reps`` is not given.
    pause_s : (float, float) or None
        Range of the pause between reps (None: continuous reps).
    fatigue_loss : (float, float)
        Range of the velocity loss of the concentric push by the last rep of a
        fatiguing set (jump squat: of the push before takeoff; its flight
        shortens as the push slows, so it needs more loss to slow down).
    """

    name: str
    placement: str
    measure: Measure
    description: str
    start_event: str
    end_event: str
    concentric_event: str
    fresh_rep_s: float
    fresh_concentric_s: float
    reps_fatigued: tuple[int, int]
    reps_fresh: int
    pause_s: tuple[float, float] | None
    fatigue_loss: tuple[float, float]
    _body: type[_Body] = field(repr=False, compare=False)

    @property
    def placements(self) -> tuple[str, ...]:
        """Where the sensor can be worn in simulation (the first is :attr:`placement`)."""
        return self._body.placements


# ---------------------------------------------------------------------------
# Segments: quintic polynomials and ballistic flight


def _quintic(x0: float, v0: float, a0: float, x1: float, v1: float, a1: float, duration_s: float) -> np.ndarray:
    """Coefficients c0..c5 of the quintic in local time meeting x, v, a at both ends."""
    T = duration_s
    h = x1 - x0
    c3 = (20 * h - (8 * v1 + 12 * v0) * T - (3 * a0 - a1) * T**2) / (2 * T**3)
    c4 = (-30 * h + (14 * v1 + 16 * v0) * T + (3 * a0 - 2 * a1) * T**2) / (2 * T**4)
    c5 = (12 * h - 6 * (v1 + v0) * T + (a1 - a0) * T**2) / (2 * T**5)
    return np.array([x0, v0, a0 / 2.0, c3, c4, c5])


def _poly_eval(coeffs: np.ndarray, tau: np.ndarray, derivative: int = 0) -> np.ndarray:
    """Evaluate rows of polynomial coefficients (m, 6) at local times tau (m,)."""
    c = coeffs
    for _ in range(derivative):
        c = c[:, 1:] * np.arange(1, c.shape[1])
    out = np.zeros_like(tau)
    for j in range(c.shape[1] - 1, -1, -1):
        out = out * tau + c[:, j]
    return out


State = tuple[float, float, float]
Target = float | tuple[float, float, float]


class _Timeline:
    """Named scalar channels moved together, segment after segment.

    Every channel has a segment over every interval, so all channels share the
    same knot times.  A channel not named in a move holds still; that is only
    allowed when it is at rest (a programming error otherwise).
    """

    def __init__(self, initial: Mapping[str, float]) -> None:
        self.t = 0.0
        self._state: dict[str, State] = {k: (float(v), 0.0, 0.0) for k, v in initial.items()}
        self._segs: dict[str, list[np.ndarray]] = {k: [] for k in initial}
        self._t0: list[float] = []
        self.activities: list[Activity] = []
        self.overlays: list[_Walk] = []

    def value(self, name: str) -> float:
        return self._state[name][0]

    def state(self, name: str) -> State:
        return self._state[name]

    def values(self, names: Sequence[str]) -> dict[str, float]:
        return {k: self._state[k][0] for k in names}

    def move(
        self,
        duration_s: float,
        targets: Mapping[str, Target] | None = None,
        *,
        ballistic: Mapping[str, float] | None = None,
    ) -> None:
        """Move for ``duration_s``: named channels to their targets, ballistic ones in free flight."""
        if not duration_s > 0:
            raise AssertionError(f"segment duration must be positive, got {duration_s}")
        targets = targets or {}
        ballistic = ballistic or {}
        unknown = (set(targets) | set(ballistic)) - set(self._state)
        if unknown:
            raise AssertionError(f"unknown channel(s) {sorted(unknown)}")
        T = duration_s
        for name, (x0, v0, a0) in self._state.items():
            if name in ballistic:
                acc = ballistic[name]
                if abs(a0 - acc) > 1e-9:
                    raise AssertionError(f"{name} enters free flight with a={a0}, not {acc}")
                c = np.array([x0, v0, acc / 2.0, 0.0, 0.0, 0.0])
                new: State = (x0 + v0 * T + acc * T * T / 2.0, v0 + acc * T, acc)
            else:
                tgt = targets.get(name)
                if tgt is None:
                    if v0 != 0.0 or a0 != 0.0:
                        raise AssertionError(f"channel {name} is moving (v={v0}, a={a0}); give it a target")
                    new = (x0, 0.0, 0.0)
                elif isinstance(tgt, tuple):
                    new = (float(tgt[0]), float(tgt[1]), float(tgt[2]))
                else:
                    new = (float(tgt), 0.0, 0.0)
                c = _quintic(x0, v0, a0, new[0], new[1], new[2], T)
            self._segs[name].append(c)
            self._state[name] = new
        self._t0.append(self.t)
        self.t += T

    def activity(self, label: str, start_s: float, end_s: float | None = None, set_index: int | None = None) -> None:
        self.activities.append(Activity(label, start_s, self.t if end_s is None else end_s, set_index))

    def evaluate(self, t: np.ndarray, derivative: int = 0) -> dict[str, np.ndarray]:
        t0 = np.asarray(self._t0)
        t = np.clip(t, 0.0, self.t)  # the timeline ends at rest: hold the last state
        idx = np.clip(np.searchsorted(t0, t, side="right") - 1, 0, len(t0) - 1)
        tau = t - t0[idx]
        out = {}
        for name, segs in self._segs.items():
            coeffs = np.asarray(segs)[idx]
            out[name] = _poly_eval(coeffs, tau, derivative)
        return out


@dataclass(frozen=True, slots=True)
class _Walk:
    """Gait overlay: vertical bob at the step rate, sway and arm swing at the stride rate."""

    start_s: float
    end_s: float
    step_hz: float
    bob_m: float  # peak-to-peak vertical bob
    sway_m: float
    roll_rad: float
    arm_rad: float  # arm swing amplitude (0: hands busy)
    phase: float

    def envelope(self, t: np.ndarray) -> np.ndarray:
        ramp = min(0.6, (self.end_s - self.start_s) / 3)
        u = np.clip(np.minimum(t - self.start_s, self.end_s - t) / ramp, 0.0, 1.0)
        return u**3 * (10 - 15 * u + 6 * u * u)


# ---------------------------------------------------------------------------
# Body models (one per preset)


@dataclass(slots=True)
class _RepPlan:
    """Durations (s) of the phases of one rep, its shape parameters and the stop after it."""

    durations: dict[str, float]
    params: dict[str, float] = field(default_factory=dict)
    pause_s: float = 0.0

    def rep_s(self) -> float:
        return sum(self.durations.values())


class _Quat:
    """Unit quaternions, shape (n, 4), scalar last (scipy's order); ``a * b`` rotates by b, then a.

    A few vectorised numpy lines, several times faster than composing long
    :class:`~scipy.spatial.transform.Rotation` arrays.
    """

    __slots__ = ("q",)

    def __init__(self, q: np.ndarray) -> None:
        self.q = q

    @staticmethod
    def axis(axis: str, angle: np.ndarray | float) -> _Quat:
        a = np.atleast_1d(np.asarray(angle, dtype=float))
        q = np.zeros((a.shape[0], 4))
        q[:, "xyz".index(axis)] = np.sin(a / 2)
        q[:, 3] = np.cos(a / 2)
        return _Quat(q)

    @staticmethod
    def of(rot: Rotation) -> _Quat:
        return _Quat(np.atleast_2d(rot.as_quat()))

    def __len__(self) -> int:
        return int(self.q.shape[0])

    def __getitem__(self, index: slice | np.ndarray) -> _Quat:
        return _Quat(self.q[index])

    def __mul__(self, other: _Quat) -> _Quat:
        x1, y1, z1, w1 = (self.q[:, i] for i in range(4))
        x2, y2, z2, w2 = (other.q[:, i] for i in range(4))
        return _Quat(
            np.column_stack(
                [
                    w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                    w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
                    w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
                    w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
                ]
            )
        )

    def inv(self) -> _Quat:
        return _Quat(self.q * np.array([-1.0, -1.0, -1.0, 1.0]))

    def apply(self, v: np.ndarray) -> np.ndarray:
        u, w = self.q[:, :3], self.q[:, 3:4]
        t = 2.0 * np.cross(u, v)
        return v + w * t + np.cross(u, t)

    def rotvec(self) -> np.ndarray:
        q = np.where(self.q[:, 3:4] < 0, -self.q, self.q)
        u, w = q[:, :3], q[:, 3]
        s = np.linalg.norm(u, axis=1)
        angle = 2.0 * np.arctan2(s, w)
        scale = np.where(s > 1e-12, angle / np.maximum(s, 1e-300), 2.0 / np.maximum(w, 1e-300))
        return u * scale[:, None]

    def rotation(self) -> Rotation:
        return Rotation.from_quat(self.q)


def _rot(axis: str, angle: np.ndarray | float) -> _Quat:
    return _Quat.axis(axis, angle)


class _Body:
    """A body model: its channels, how a rep is planned and performed, and the sensor's pose.

    ``standing`` gives every body channel's value when the athlete stands
    empty-handed (the timeline adds ``bx, by`` (m) and ``psi`` (rad): where the
    athlete stands and faces).  ``phases`` lists (name, nominal seconds, kind)
    of the phases a fresh rep is made of; kind ``conc`` slows down with the
    set's velocity loss, ``ecc`` slows a little (30 % as much), ``fixed`` does
    not.
    """

    placements: tuple[str, ...] = ()  # where the sensor can be worn; the first is the preset's
    standing: dict[str, float] = {}
    fidget: dict[str, float] = {}  # channel -> standard deviation of a standing fidget
    wobble: dict[str, float] = {}  # channel -> standard deviation of the wobble at each phase knot
    phases: tuple[tuple[str, float, str], ...] = ()
    arm_swing: tuple[str, float] | None = None  # channel walking arm swing adds to, amplitude
    carried: tuple[str, ...] = ()  # placements on the equipment: the sensor only moves while the hands hold it

    def __init__(self, placement: str | None = None) -> None:
        if placement is None:
            placement = self.placements[0]
        if placement not in self.placements:
            raise ConfigError(f"placement {placement!r} is not simulated for this exercise; choose one of {', '.join(self.placements)}")
        self.placement = placement
        self.holds: list[list[float]] = []  # [grip, release] on the timeline clock, for carried placements

    def _grip(self, tl: _Timeline) -> None:
        """The hands take the equipment: from now on a sensor on it moves with them."""
        self.holds.append([tl.t, math.inf])

    def _release(self, tl: _Timeline) -> None:
        """The hands let go of the equipment: a sensor on it stays where it was put down."""
        self.holds[-1][1] = tl.t

    def held(self, t: np.ndarray) -> np.ndarray:
        """Whether the hands hold the equipment at each time (always, for a sensor worn on the body)."""
        if self.placement not in self.carried:
            return np.ones(t.shape, dtype=bool)
        out = np.zeros(t.shape, dtype=bool)
        for a, b in self.holds:
            out |= (t >= a) & (t <= b)
        return out

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        """Plan a rep ``slow`` times slower in its concentric phase (velocity loss ``vl``)."""
        durations: dict[str, float] = {}
        for name, nominal, kind in self.phases:
            var = 1.0 + float(np.clip(rng.normal(0.0, 0.022), -0.05, 0.05))
            if kind == "conc":
                durations[name] = nominal * set_scale * slow * var
            elif kind == "ecc":
                durations[name] = nominal * set_scale * (1.0 + 0.3 * (slow - 1.0)) * var
            else:
                durations[name] = nominal * var
        return _RepPlan(durations)

    def concentric_s(self, plan: _RepPlan) -> float:
        raise NotImplementedError

    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        """From standing in front of the equipment to ready for the first rep."""
        raise NotImplementedError

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        """Perform the set; return (start, end, concentric seconds) per rep on the timeline clock."""
        raise NotImplementedError

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        """From the end of the last rep to standing empty-handed in front of the equipment."""
        raise NotImplementedError

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        """Sensor position (n, 3) in the body frame (x forward, y left, z up, origin on the floor) and
        rotation, for ``self.placement``."""
        raise NotImplementedError

    def wobble_targets(self, rng: np.random.Generator, scale: float = 1.0) -> dict[str, Target]:
        return {k: float(self.standing.get(k, 0.0) + rng.normal(0.0, s * scale)) for k, s in self.wobble.items()}

    def still(self) -> dict[str, Target]:
        """Wobble channels back to neutral."""
        return {k: float(self.standing.get(k, 0.0)) for k in self.wobble}


class _SwingBody(_Body):
    """Kettlebell swing, sensor on the left wrist (both hands on the handle).

    Channels: hip fore-aft ``hx`` and height ``hz`` (m), torso lean ``beta``
    (rad, forward positive), arm angle ``alpha`` (rad from hanging straight
    down, forward/up positive), lateral wrist offset ``wy`` (m), and the
    forearm's ``twist`` and ``roll`` (rad).  Wrist = hip + torso (0.50 m) +
    straight arm (0.62 m).  At every turnaround of the swing all channels stop
    together, and along the path from backswing to top every channel moves
    the wrist up, so the backswing turnaround is the wrist's lowest point and
    the top of the swing its highest.
    """

    placements = ("wrist", "chest")
    TORSO_M = 0.50
    CHEST_M = 0.35  # hip to a chest strap's sensor, along the torso
    ARM_M = 0.62
    standing = {"hx": 0.0, "hz": 0.95, "beta": 0.0, "alpha": 0.0, "wy": 0.18, "twist": 0.0, "roll": 0.0}
    fidget = {"hx": 0.01, "hz": 0.008, "alpha": 0.03, "wy": 0.015, "twist": 0.05, "roll": 0.03}
    wobble = {"twist": 0.05, "roll": 0.04}
    phases = (("up", 0.48, "conc"), ("down", 0.50, "ecc"))
    arm_swing = ("alpha", 0.3)
    PARKED = {"hx": -0.12, "hz": 0.70, "beta": 1.0, "alpha": 0.45, "wy": 0.06}
    BACK = {"hx": -0.15, "hz": 0.82, "beta": 0.80, "alpha": -0.25, "wy": 0.05}
    TOP = {"hx": 0.03, "hz": 0.97, "beta": -0.08, "alpha": 1.62, "wy": 0.05}
    C_BACK = 6.0  # normalised acceleration at the backswing turnaround (the hip snap)
    C_TOP = -3.0  # normalised acceleration at the top (the float, then the pull down)

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        plan = super().plan_rep(rng, slow=slow, vl=vl, set_scale=set_scale)
        plan.params["alpha_top"] = self.TOP["alpha"] - 0.35 * vl + float(rng.normal(0.0, 0.03))  # tired: lower float
        plan.params["beta_back"] = self.BACK["beta"] + float(rng.normal(0.0, 0.03))
        plan.params["hz_back"] = self.BACK["hz"] + float(rng.normal(0.0, 0.01))
        return plan

    def concentric_s(self, plan: _RepPlan) -> float:
        return plan.durations["up"]

    def _top(self, plan: _RepPlan) -> dict[str, float]:
        return {**self.TOP, "alpha": plan.params["alpha_top"]}

    def _back(self, plan: _RepPlan) -> dict[str, float]:
        return {**self.BACK, "beta": plan.params["beta_back"], "hz": plan.params["hz_back"]}

    @staticmethod
    def _at(pose: Mapping[str, float], toward: Mapping[str, float], c: float, duration_s: float) -> dict[str, Target]:
        """Arrive at ``pose`` at rest, accelerating toward ``toward`` (normalised acceleration ``c``)."""
        return {k: (pose[k], 0.0, c * (toward[k] - pose[k]) / duration_s**2) for k in pose}

    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        t0 = tl.t
        tl.move(rng.uniform(1.3, 1.6), {**self.PARKED, "twist": 0.1, "roll": 0.0})  # hinge down to the bell
        tl.move(rng.uniform(0.6, 1.0))  # grip
        tilt = {**self.PARKED, "hz": self.PARKED["hz"] + 0.03, "alpha": self.PARKED["alpha"] - 0.04}
        tl.move(rng.uniform(0.4, 0.6), tilt)  # tilt the bell back: a lift of a few cm
        back, top = self._back(first), self._top(first)
        # The hike: the bell goes back between the legs (NOT a rep).
        tl.move(rng.uniform(0.65, 0.8), {**self._at(back, top, self.C_BACK, first.durations["up"]), **self.wobble_targets(rng)})
        tl.activity("pickup", t0)

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        out = []
        for k, plan in enumerate(plans):
            start = tl.t
            nxt = plans[k + 1] if k + 1 < len(plans) else plan
            back, top = self._back(plan), self._top(plan)
            up, down = plan.durations["up"], plan.durations["down"]
            tl.move(up, {**self._at(top, back, -self.C_TOP, up), **self.wobble_targets(rng)})
            back_next, top_next = self._back(nxt), self._top(nxt)
            tl.move(down, {**self._at(back_next, top_next, self.C_BACK, nxt.durations["up"]), **self.wobble_targets(rng)})
            out.append((start, tl.t, up))
        return out

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        t0 = tl.t
        tl.move(rng.uniform(0.85, 1.0), {**self.PARKED, "twist": 0.1, "roll": 0.0})  # swing forward, park the bell
        tl.move(rng.uniform(0.5, 0.9))
        tl.move(rng.uniform(1.3, 1.6), dict(self.standing))  # stand up
        tl.activity("rack", t0)

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        beta, alpha = ch["beta"], ch["alpha"]
        if self.placement == "chest":  # on the sternum: the torso's hinge, none of the arm's swing
            x = ch["hx"] + self.CHEST_M * np.sin(beta)
            z = ch["hz"] + self.CHEST_M * np.cos(beta)
            return np.column_stack([x, np.zeros_like(x), z]), _rot("y", beta)
        x = ch["hx"] + self.TORSO_M * np.sin(beta) + self.ARM_M * np.sin(alpha)
        z = ch["hz"] + self.TORSO_M * np.cos(beta) - self.ARM_M * np.cos(alpha)
        pos = np.column_stack([x, ch["wy"], z])
        return pos, _rot("y", -alpha) * _rot("x", ch["roll"]) * _rot("z", ch["twist"])


class _PushPressBody(_Body):
    """Push press, sensor on the wrist (which moves with the bar once the bar is gripped).

    Channels: wrist position ``wx, wy, wz`` (m, body frame), forearm angle
    ``alpha`` (rad from hanging down; about 2.75 with the bar in the front
    rack), ``twist`` and ``roll`` (rad).  A sensor on the bar (a velocity
    tracker on its sleeve) rests in the rack until the hands take the bar,
    then moves with them, level apart from a small roll and tilt.
    """

    placements = ("wrist", "bar")
    carried = ("bar",)
    ARM_M = 0.62
    standing = {"wx": 0.05, "wy": 0.20, "wz": 0.85, "alpha": 0.0, "twist": 0.0, "roll": 0.0}
    fidget = {"wx": 0.01, "wy": 0.01, "wz": 0.008, "alpha": 0.03, "twist": 0.05, "roll": 0.03}
    wobble = {"twist": 0.04, "roll": 0.03}
    phases = (("dip", 0.30, "ecc"), ("drive", 0.60, "conc"), ("lockout", 0.30, "fixed"), ("lower", 0.85, "ecc"))
    arm_swing = ("_arm", 0.3)
    RACK = {"wx": 0.12, "wy": 0.22, "wz": 1.42, "alpha": 2.75}
    GRIP = {"wx": 0.30, "wy": 0.22, "wz": 1.36, "alpha": 2.70}  # the bar resting on the rack, a step ahead
    DIP_M = 0.12
    OVERHEAD_M = 0.50  # above the rack
    C_DIP = 8.0  # normalised upward acceleration at the bottom of the dip

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        plan = super().plan_rep(rng, slow=slow, vl=vl, set_scale=set_scale)
        plan.durations["lockout"] = float(rng.uniform(0.2, 0.4))
        plan.params["dip_m"] = self.DIP_M * (1.0 + float(rng.normal(0.0, 0.05)))
        plan.params["overhead_m"] = self.OVERHEAD_M + float(rng.normal(0.0, 0.01))
        return plan

    def concentric_s(self, plan: _RepPlan) -> float:
        return plan.durations["drive"]

    def _step(self, tl: _Timeline, duration_s: float, sign: float) -> None:
        """Step under (+1) or out from under (-1) the bar; the hands stay on it."""
        step = self.GRIP["wx"] - self.RACK["wx"]
        psi = tl.value("psi")
        tl.move(
            duration_s,
            {
                "wx": self.RACK["wx"] if sign > 0 else self.GRIP["wx"],
                "bx": tl.value("bx") + sign * step * math.cos(psi),
                "by": tl.value("by") + sign * step * math.sin(psi),
            },
        )

    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        t0 = tl.t
        tl.move(rng.uniform(1.0, 1.3), {**self.GRIP, "twist": 0.05, "roll": 0.0})  # hands to the bar
        self._grip(tl)
        self._step(tl, rng.uniform(0.8, 1.0), +1.0)
        tl.move(rng.uniform(0.5, 0.7), {"wz": self.RACK["wz"], "alpha": self.RACK["alpha"]})  # unrack: a few cm up
        _walk(tl, self, rng, duration_s=rng.uniform(1.8, 2.4), distance_m=-0.7, arm_swing=False)  # two steps back
        tl.move(rng.uniform(0.8, 1.2), self.wobble_targets(rng))  # settle
        tl.move(rng.uniform(0.4, 0.8), self.still())
        tl.activity("pickup", t0)

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        out = []
        rack_z, rack_x = tl.value("wz"), tl.value("wx")
        for plan in plans:
            start = tl.t
            d, p = plan.durations, plan.params
            a_bottom = self.C_DIP * p["dip_m"] / d["dip"] ** 2
            tl.move(d["dip"], {"wz": (rack_z - p["dip_m"], 0.0, a_bottom), "wx": rack_x + 0.01, **self.wobble_targets(rng)})
            overhead = {"wz": rack_z + p["overhead_m"], "wx": rack_x - 0.04, "alpha": self.RACK["alpha"] + 0.25}
            tl.move(d["drive"], {**overhead, **self.wobble_targets(rng)})
            tl.move(d["lockout"], self.wobble_targets(rng, 0.3))
            tl.move(d["lower"], {"wz": rack_z, "wx": rack_x, "alpha": self.RACK["alpha"], **self.wobble_targets(rng)})
            out.append((start, tl.t, d["drive"]))
            if plan.pause_s > 0:
                t_p = tl.t
                tl.move(plan.pause_s, self.still())
                tl.activity("pause", t_p)
        return out

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        t0 = tl.t
        _walk(tl, self, rng, duration_s=rng.uniform(1.8, 2.4), distance_m=0.7, arm_swing=False)  # back to the rack
        tl.move(rng.uniform(0.5, 0.7), {"wz": self.GRIP["wz"], "alpha": self.GRIP["alpha"]})  # set down: a few cm
        self._step(tl, rng.uniform(0.8, 1.0), -1.0)
        self._release(tl)
        tl.move(rng.uniform(1.0, 1.3), dict(self.standing))  # hands down
        tl.activity("rack", t0)

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        if self.placement == "bar":
            return _bar_pose(ch, ch["wz"] + 0.03, alpha_level=self.RACK["alpha"])
        return _wrist_pose(ch)


def _wrist_pose(ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
    """A watch at ``wx, wy, wz`` on a forearm at ``alpha`` (rad from hanging down), ``roll``, ``twist``;
    walking swings the hanging arm (``_arm``) about the shoulder."""
    swing = ch["_arm"]
    x = ch["wx"] + _PushPressBody.ARM_M * np.sin(swing)
    z = ch["wz"] + _PushPressBody.ARM_M * (1.0 - np.cos(swing))
    pos = np.column_stack([x, ch["wy"], z])
    return pos, _rot("y", -(ch["alpha"] + swing)) * _rot("x", ch["roll"]) * _rot("z", ch["twist"])


def _bar_pose(ch: Mapping[str, np.ndarray], z: np.ndarray, *, alpha_level: float) -> tuple[np.ndarray, _Quat]:
    """A velocity tracker on the bar's sleeve, outside the left hand, at height ``z``: level when the
    forearm is at ``alpha_level``; the wrists' flexion rolls the bar a little about its axis."""
    pos = np.column_stack([ch["wx"], ch["wy"] + SLEEVE_M, z])
    return pos, _rot("y", 0.2 * (alpha_level - ch["alpha"])) * _rot("x", 0.3 * ch["roll"])


def _max_takeoff_velocity(rise_m: float, duration_s: float, a0_mps2: float, *, keep_pushing: bool = False) -> float:
    """Largest takeoff velocity a push of ``duration_s`` over ``rise_m`` can reach without moving down first.

    The drive is a quintic from the squat bottom (at rest, accelerating up at
    ``a0_mps2``) to takeoff (velocity v0, acceleration -g: the feet leave the
    floor).  A slow drive cannot end very fast: past this velocity the pelvis
    would have to sink below the bottom or rise above the takeoff height first.
    The quintic is linear in v0, so each instant gives a linear bound on v0.

    ``keep_pushing``: the push also keeps accelerating through its first half (at
    least a quarter of ``a0_mps2``).  At the plain limit the quintic stalls just
    after the bottom before driving to the release: a hitch no lifter makes.
    """
    base = _quintic(0.0, 0.0, a0_mps2, rise_m, 0.0, -G, duration_s)
    per_v = _quintic(0.0, 0.0, 0.0, 0.0, 1.0, 0.0, duration_s)

    def at(tau: np.ndarray, derivative: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.ones((tau.size, 1))
        return _poly_eval(rows * base, tau, derivative), _poly_eval(rows * per_v, tau, derivative)

    tau = np.linspace(0.0, duration_s, 401)[1:-1]
    (vb, vv), (xb, xv) = at(tau, 1), at(tau, 0)
    bounds = [4.0 * rise_m / duration_s]
    neg = vv < 0  # v = vb + v0 * vv >= 0
    if neg.any():
        bounds.append(float(np.min(vb[neg] / -vv[neg])))
    pos = xv > 0  # x = xb + v0 * xv <= rise
    if pos.any():
        bounds.append(float(np.min((rise_m - xb[pos]) / xv[pos])))
    if keep_pushing:
        ab, av = at(np.linspace(0.0, duration_s / 2.0, 201), 2)
        neg = av < 0  # a = ab + v0 * av >= a0 / 4
        if neg.any():
            bounds.append(float(np.min((ab[neg] - 0.25 * a0_mps2) / -av[neg])))
    return max(0.0, min(bounds))


class _JumpSquatBody(_Body):
    """Jump squat with a light bar on the back, sensor on the lower back (pelvis).

    Channels: pelvis position ``hx, hy, hz`` (m, body frame), forward
    ``tilt``, ``roll`` and ``yaw`` (rad).  Flight is ballistic in ``hz``
    (a = -g) and at constant velocity in ``hx``; the pelvis lands at its
    takeoff height.  A phone in the front trouser pocket rides on the thigh,
    which swings forward as the knees bend (both legs alike: the pelvis height
    sets the angle) and with each step.
    """

    placements = ("lower back", "chest", "thigh")
    CHEST_M = 0.40  # pelvis to a chest strap's sensor, along the torso (which leans as the pelvis tilts)
    HIP_DROP_M = 0.05  # the hip joint, below the lower-back sensor
    POCKET_M = 0.20  # hip to a pocketed phone, along the thigh
    THIGH_RAD_PER_M = 2.6  # the thigh's forward swing per metre the pelvis sinks (52 deg at the squat's bottom)
    arm_swing = ("_leg", 0.35)  # walking swings the thigh (its pose only reads it for the pocket)
    standing = {"hx": 0.0, "hy": 0.0, "hz": 1.00, "tilt": 0.0, "roll": 0.0, "yaw": 0.0}
    fidget = {"hx": 0.01, "hy": 0.01, "hz": 0.004, "tilt": 0.02, "roll": 0.015, "yaw": 0.03}
    wobble = {"roll": 0.03, "yaw": 0.03}
    phases = (("descent", 0.50, "ecc"), ("drive", 0.40, "conc"), ("stand", 0.55, "ecc"))
    DEPTH_M = 0.35
    TAKEOFF_M = 0.06  # pelvis above standing height at takeoff (ankles extended)
    LAND_M = 0.16  # absorption below the takeoff height
    JUMP_M = (0.17, 0.26)  # fresh jump height (pelvis rise in flight); fatigue lowers it to ~0.1
    C_BOTTOM = 6.0

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        plan = super().plan_rep(rng, slow=slow, vl=vl, set_scale=set_scale)
        d, p = plan.durations, plan.params
        jump0 = float(rng.uniform(*self.JUMP_M))
        p["depth_m"] = self.DEPTH_M * (1.0 + float(rng.normal(0.0, 0.04)))
        # A tired athlete takes longer to push off and jumps lower.  The takeoff
        # velocity is at most twice the mean velocity of the drive (a smooth push
        # cannot end faster than that), which ties the jump height to the drive.
        v0 = math.sqrt(2 * G * jump0) * (1.0 - 0.3 * vl) * (1.0 + float(rng.normal(0.0, 0.015)))
        a_bottom = self.C_BOTTOM * p["depth_m"] / d["descent"] ** 2
        v0 = min(v0, 0.95 * _max_takeoff_velocity(p["depth_m"] + self.TAKEOFF_M, d["drive"], a_bottom))
        p["v0"] = v0
        p["land_m"] = self.LAND_M * (1.0 + float(rng.normal(0.0, 0.05)))
        stand = d.pop("stand")
        d["rise"] = v0 / G
        d["fall"] = v0 / G
        d["land"] = 2.3 * p["land_m"] / v0  # about 1.15 x the time of a constant-deceleration stop
        d["stand"] = stand
        return plan

    def concentric_s(self, plan: _RepPlan) -> float:
        return plan.durations["drive"] + plan.durations["rise"]


    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        t0 = tl.t
        tl.move(rng.uniform(0.8, 1.0), {"hz": 0.94, "tilt": 0.2, "hx": -0.03})  # duck under the bar
        tl.move(rng.uniform(0.4, 0.7))
        tl.move(rng.uniform(0.6, 0.8), {"hz": 1.0, "tilt": 0.0, "hx": 0.0})  # unrack: a few cm up
        _walk(tl, self, rng, duration_s=rng.uniform(1.8, 2.4), distance_m=-0.7, arm_swing=False)
        tl.move(rng.uniform(0.8, 1.2), self.wobble_targets(rng))
        tl.move(rng.uniform(0.4, 0.8), self.still())
        tl.activity("pickup", t0)

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        out = []
        stand_z = self.standing["hz"]
        for plan in plans:
            start = tl.t
            d, p = plan.durations, plan.params
            bottom = stand_z - p["depth_m"]
            x0 = tl.value("hx")
            a_bottom = self.C_BOTTOM * p["depth_m"] / d["descent"] ** 2
            tl.move(d["descent"], {"hz": (bottom, 0.0, a_bottom), "tilt": 0.55, "hx": x0 - 0.05, **self.wobble_targets(rng)})
            t_bottom = tl.t
            vx = float(rng.normal(0.05, 0.02))
            tl.move(d["drive"], {"hz": (stand_z + self.TAKEOFF_M, p["v0"], -G), "tilt": -0.03, "hx": (x0, vx, 0.0)})
            tl.move(d["rise"], ballistic={"hz": -G, "hx": 0.0})
            t_apex = tl.t
            tl.move(d["fall"], ballistic={"hz": -G, "hx": 0.0})
            land_z = stand_z + self.TAKEOFF_M - p["land_m"]
            a_land = self.C_BOTTOM * (stand_z - land_z) / d["stand"] ** 2
            tl.move(d["land"], {"hz": (land_z, 0.0, a_land), "tilt": 0.3, "hx": tl.value("hx") + vx * d["land"] / 2})
            tl.move(d["stand"], {"hz": stand_z, "tilt": 0.0, **self.wobble_targets(rng)})
            out.append((start, tl.t, t_apex - t_bottom))
            if plan.pause_s > 0:
                t_p = tl.t
                tl.move(plan.pause_s, self.still())
                tl.activity("pause", t_p)
        return out

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        t0 = tl.t
        _walk(tl, self, rng, duration_s=rng.uniform(1.8, 2.4), distance_m=0.7, arm_swing=False)
        tl.move(rng.uniform(0.6, 0.8), {"hz": 0.94, "tilt": 0.2, "hx": tl.value("hx") - 0.03})  # set down: a few cm
        tl.move(rng.uniform(0.3, 0.6))
        tl.move(rng.uniform(0.8, 1.0), {"hz": 1.0, "tilt": 0.0, "hx": 0.0})  # step out from under it
        tl.activity("rack", t0)

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        pos = np.column_stack([ch["hx"], ch["hy"], ch["hz"]])
        if self.placement == "thigh":
            # the thigh swings forward as the pelvis sinks below standing; above it (on the toes, in
            # flight) the leg is straight: a smooth floor 2 cm wide (softplus), no kink at standing height
            sink = self.standing["hz"] - ch["hz"]
            bend = self.THIGH_RAD_PER_M * 0.02 * np.logaddexp(0.0, sink / 0.02) + ch["_leg"]
            along = self.POCKET_M * np.column_stack([np.sin(bend), np.full_like(bend, 0.10 / self.POCKET_M), -np.cos(bend)])
            pocket = pos + _rot("z", ch["yaw"]).apply(along) - np.column_stack([np.zeros((bend.size, 2)), np.full_like(bend, self.HIP_DROP_M)])
            return pocket, _rot("z", ch["yaw"]) * _rot("y", -bend) * _rot("x", ch["roll"])
        if self.placement == "chest":
            up = self.CHEST_M * np.column_stack([np.sin(ch["tilt"]), np.zeros_like(ch["tilt"]), np.cos(ch["tilt"])])
            pos = pos + _rot("z", ch["yaw"]).apply(up)
        return pos, _rot("z", ch["yaw"]) * _rot("y", ch["tilt"]) * _rot("x", ch["roll"])


class _PullUpBody(_Body):
    """Pull-up, sensor on the left upper arm.

    Channels: shoulder height ``zs`` (m), hand position ``hx, hy, hz`` (m, body
    frame), the arm's ``twist`` about its own axis and the body's ``lean``
    (rad).  The elbow follows from two-bone inverse kinematics (upper arm
    0.32 m, forearm 0.30 m, elbows bending down and out); the sensor sits
    halfway down the upper arm, its z axis along the arm (up when the arm
    hangs at the side).
    """

    placements = ("upper arm", "chest", "wrist")
    UPPER_M = 0.32
    FORE_M = 0.30
    SHOULDER_Y = 0.20
    BAR_Z = 2.05
    POLE = np.array([0.0, 0.5, -1.0])  # elbows bend down and out
    standing = {"zs": 1.45, "hx": 0.05, "hy": 0.23, "hz": 0.90, "twist": 0.0, "lean": 0.0}
    fidget = {"zs": 0.004, "hx": 0.015, "hy": 0.01, "hz": 0.01, "twist": 0.05, "lean": 0.01}
    wobble = {"twist": 0.05, "lean": 0.03}
    phases = (("up", 0.75, "conc"), ("hold", 0.15, "fixed"), ("lower", 0.95, "ecc"))
    arm_swing = ("hx", 0.10)
    GRIP = {"hx": 0.05, "hy": 0.42, "hz": BAR_Z}
    PULL_M = 0.49

    def __init__(self, placement: str | None = None) -> None:
        super().__init__(placement)
        st = {k: np.array([v]) for k, v in self.standing.items()}
        self._ref = self._frames(st)[1].inv()
        self._ref_fore = self._forearm(st)[1].inv()

    def hang_z(self) -> float:
        reach = 0.97 * (self.UPPER_M + self.FORE_M)
        dx, dy = self.GRIP["hx"], self.GRIP["hy"] - self.SHOULDER_Y
        return self.BAR_Z - math.sqrt(reach**2 - dx**2 - dy**2)

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        plan = super().plan_rep(rng, slow=slow, vl=vl, set_scale=set_scale)
        plan.durations["hold"] = float(rng.uniform(0.1, 0.2))
        plan.params["pull_m"] = self.PULL_M * (1.0 + float(rng.normal(0.0, 0.02)))
        return plan

    def concentric_s(self, plan: _RepPlan) -> float:
        return plan.durations["up"]

    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        t0 = tl.t
        hang = self.hang_z()
        self._reach(tl, rng, self.GRIP, extra={"zs": hang + 0.03})  # reach up on the toes and grip
        tl.move(rng.uniform(0.5, 0.7), {"zs": hang})  # hang: a few cm down
        tl.move(rng.uniform(0.8, 1.2), {"lean": 0.04, "twist": 0.03})  # settle the swing of the hang
        tl.move(rng.uniform(0.6, 0.9), self.still())
        tl.activity("pickup", t0)

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        out = []
        hang = self.hang_z()
        for plan in plans:
            start = tl.t
            d = plan.durations
            tl.move(d["up"], {"zs": hang + plan.params["pull_m"], **self.wobble_targets(rng)})
            tl.move(d["hold"], self.wobble_targets(rng, 0.3))
            tl.move(d["lower"], {"zs": hang, **self.wobble_targets(rng)})
            out.append((start, tl.t, d["up"]))
            if plan.pause_s > 0:
                t_p = tl.t
                tl.move(plan.pause_s, self.still())
                tl.activity("pause", t_p)
        return out

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        t0 = tl.t
        tl.move(rng.uniform(0.5, 0.7), {"zs": self.hang_z() - 0.02})  # feet back on the floor
        self._reach(tl, rng, {k: self.standing[k] for k in ("hx", "hy", "hz")}, extra=dict(self.standing))  # hands down
        tl.activity("rack", t0)

    def _reach(self, tl: _Timeline, rng: np.random.Generator, hand: Mapping[str, float], extra: Mapping[str, Target]) -> None:
        """Move the hand in an arc in front of the shoulder (not through it) to ``hand``."""
        t1, t2 = float(rng.uniform(0.5, 0.65)), float(rng.uniform(0.5, 0.65))
        start = tl.values(["hx", "hy", "hz"])
        via = {"hx": 0.40, "hy": 0.36, "hz": 1.50}
        tl.move(t1, {k: (via[k], 1.5 * (hand[k] - start[k]) / (t1 + t2), 0.0) for k in via})
        tl.move(t2, {**extra, **hand})

    def _frames(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        """Sensor position and the upper arm's frame (z from elbow to shoulder) by two-bone IK."""
        zs = ch["zs"]
        shoulder = np.column_stack([np.zeros_like(zs), np.full_like(zs, self.SHOULDER_Y), zs])
        hand = np.column_stack([ch["hx"], ch["hy"], ch["hz"]])
        d_vec = hand - shoulder
        d = np.linalg.norm(d_vec, axis=1)
        e = d_vec / d[:, None]
        # Arms never lock out completely: a smooth limit at 99.5 % of full reach.
        reach = self.UPPER_M + self.FORE_M
        knee = 0.95 * reach
        d_eff = np.where(d < knee, d, knee + 0.045 * reach * np.tanh((d - knee) / (0.045 * reach)))
        cos_a = np.clip((self.UPPER_M**2 + d_eff**2 - self.FORE_M**2) / (2 * self.UPPER_M * d_eff), -1.0, 1.0)
        sin_a = np.sqrt(1.0 - cos_a**2)
        bend = self.POLE[None, :] - (e @ self.POLE)[:, None] * e
        bend /= np.linalg.norm(bend, axis=1)[:, None]
        arm = cos_a[:, None] * e + sin_a[:, None] * bend  # shoulder -> elbow, unit
        pos = shoulder + 0.5 * self.UPPER_M * arm
        z_s = -arm
        y_s = bend - (bend * z_s).sum(axis=1)[:, None] * z_s
        y_s = -y_s / np.linalg.norm(y_s, axis=1)[:, None]
        x_s = np.cross(y_s, z_s)
        return pos, _Quat.of(Rotation.from_matrix(np.stack([x_s, y_s, z_s], axis=2)))

    def _forearm(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        """The hand's position and the forearm's frame (z from hand to elbow, x the elbow's hinge axis)."""
        zs = ch["zs"]
        shoulder = np.column_stack([np.zeros_like(zs), np.full_like(zs, self.SHOULDER_Y), zs])
        mid, frame = self._frames(ch)
        elbow = shoulder + 2.0 * (mid - shoulder)
        hand = np.column_stack([ch["hx"], ch["hy"], ch["hz"]])
        z_s = elbow - hand
        z_s /= np.linalg.norm(z_s, axis=1)[:, None]
        # the upper arm's x axis is normal to the plane of shoulder, elbow and hand: the hinge
        x_s = frame.apply(np.tile([1.0, 0.0, 0.0], (zs.shape[0], 1)))
        x_s -= (x_s * z_s).sum(axis=1)[:, None] * z_s  # (already normal to the forearm, up to rounding)
        x_s /= np.linalg.norm(x_s, axis=1)[:, None]
        y_s = np.cross(z_s, x_s)
        return hand, _Quat.of(Rotation.from_matrix(np.stack([x_s, y_s, z_s], axis=2)))

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        lean = _rot("y", ch["lean"])
        if self.placement == "chest":  # on the sternum, below and between the shoulders
            zs = ch["zs"]
            pos = np.column_stack([np.full_like(zs, 0.10), np.zeros_like(zs), zs - 0.20])
            return pos, lean * _rot("z", 0.3 * ch["twist"])
        if self.placement == "wrist":  # a watch: the hand holds the bar; only the forearm turns
            hand, frame = self._forearm(ch)
            return hand, lean * frame * self._ref_fore * _rot("z", ch["twist"])
        pos, frame = self._frames(ch)
        # The hanging arm's frame is the sensor's neutral orientation.
        return pos, lean * frame * self._ref * _rot("z", ch["twist"])


class _BenchThrowBody(_Body):
    """Bench throw: lying on a bench, the bar is lowered to the chest and thrown; sensor on the bar.

    Channels: wrist position ``wx, wy, wz`` (m, body frame: x toward the feet of
    the athlete lying down, the head toward -x), forearm angle ``alpha`` (rad
    from hanging down; pi points the forearm straight up), ``twist`` and
    ``roll`` (rad), and the bar's height ``bz`` (m), which rides 3 cm above the
    wrist in the hands and flies ballistically between the release and the
    catch.  The rep starts at lockout (arms extended over the shoulders): the
    bar is lowered to the chest and thrown; the hands snap to a stop a few cm
    past lockout, the bar flies 10-20 cm higher, falls back into the hands,
    which give with it, and are pressed back to lockout.  The sensor on the bar
    (a velocity tracker on its sleeve) rests in the hooks until the hands take
    it; a watch stops with the hands at the release.
    """

    placements = ("bar", "wrist")
    carried = ("bar",)
    BAR_ABOVE_WRIST_M = 0.03
    standing = {"wx": 0.05, "wy": 0.20, "wz": 0.85, "alpha": 0.0, "twist": 0.0, "roll": 0.0, "bz": 1.03}
    fidget = {"wx": 0.01, "wy": 0.01, "wz": 0.008, "alpha": 0.03, "twist": 0.05, "roll": 0.03}
    wobble = {"twist": 0.04, "roll": 0.03}
    phases = (("lower", 0.80, "ecc"), ("throw", 0.38, "conc"), ("press", 0.55, "fixed"))
    arm_swing = ("_arm", 0.3)
    SIT = {"wx": 0.22, "wy": 0.18, "wz": 0.62, "alpha": 1.3, "twist": 0.3}  # hands on the thighs
    LIE = {"wx": -0.05, "wy": 0.20, "wz": 0.74, "alpha": 1.9, "twist": 0.4}  # lying, hands on the belly
    HOOKS = {"wx": -0.55, "wy": 0.40, "wz": 1.00, "alpha": math.pi + 0.25, "twist": 1.2}  # the bar in its hooks
    LOCKOUT = {"wx": -0.38, "wz": 1.10, "alpha": math.pi}  # arms extended over the shoulders
    DEPTH_M = 0.40  # lockout to the chest
    RELEASE_M = 0.01  # the bar leaves the hands this far above lockout (the shoulders reach up) ...
    SNAP_M = 0.03  # ... and the hands stop within this much more
    V0_MPS = (1.5, 1.9)  # fresh release velocity
    CATCH_M = 0.10  # the hands give this far with a fresh throw's bar
    C_BOTTOM = 5.0  # the bounce off the chest (touch and go)
    C_CATCH = 2.0  # still braking at the bottom of the catch, then a smooth press back up

    def plan_rep(self, rng: np.random.Generator, *, slow: float, vl: float, set_scale: float) -> _RepPlan:
        plan = super().plan_rep(rng, slow=slow, vl=vl, set_scale=set_scale)
        d, p = plan.durations, plan.params
        p["depth_m"] = self.DEPTH_M * (1.0 + float(rng.normal(0.0, 0.03)))
        v0 = float(rng.uniform(*self.V0_MPS)) * (1.0 - 0.5 * vl)  # tired: a slower bar, a lower flight
        a_bottom = self.C_BOTTOM * p["depth_m"] / d["lower"] ** 2
        p["v0"] = min(v0, _max_takeoff_velocity(p["depth_m"] + self.RELEASE_M, d["throw"], a_bottom, keep_pushing=True))
        press = d.pop("press")
        # a slower bar is caught with less give, and pressed back up the sooner
        give = max(0.6, p["v0"] / float(np.mean(self.V0_MPS)))
        p["catch_m"] = self.CATCH_M * give * (1.0 + float(rng.normal(0.0, 0.1)))
        press *= math.sqrt(give)
        flight = 2.0 * p["v0"] / G  # release to catch, at the same height
        d["snap"] = min(2.0 * self.SNAP_M / p["v0"], flight / 4.0)  # the hands stop, about evenly
        d["rise"] = flight / 2.0 - d["snap"]
        d["fall"] = flight / 2.0
        d["catch"] = 2.2 * p["catch_m"] / p["v0"]
        d["press"] = press
        return plan

    def concentric_s(self, plan: _RepPlan) -> float:
        """Bar on the chest to the bar's apex in flight (as a jump's concentric phase runs to its apex)."""
        return plan.durations["throw"] + plan.durations["snap"] + plan.durations["rise"]

    def _both(self, wz: Target, **hands: Target) -> dict[str, Target]:
        """Targets for the hands with the bar in them."""
        if isinstance(wz, tuple):
            bz: Target = (wz[0] + self.BAR_ABOVE_WRIST_M, wz[1], wz[2])
        else:
            bz = wz + self.BAR_ABOVE_WRIST_M
        return {**hands, "wz": wz, "bz": bz}

    def pickup(self, tl: _Timeline, rng: np.random.Generator, first: _RepPlan) -> None:
        t0 = tl.t
        tl.move(rng.uniform(1.2, 1.5), self.SIT)  # sit down on the bench
        tl.move(rng.uniform(0.3, 0.6))
        tl.move(rng.uniform(1.3, 1.7), self.LIE)  # lie back
        tl.move(rng.uniform(0.3, 0.6))
        tl.move(rng.uniform(0.8, 1.1), {**self.HOOKS, "roll": 0.0})  # reach up to the bar in its hooks
        self._grip(tl)
        tl.move(rng.uniform(0.6, 1.0))  # grip, set the shoulders
        tl.move(rng.uniform(0.5, 0.7), self._both(self.HOOKS["wz"] + 0.05))  # unrack: a few cm up ...
        tl.move(rng.uniform(0.8, 1.1), self._both(self.LOCKOUT["wz"], wx=self.LOCKOUT["wx"], alpha=self.LOCKOUT["alpha"]))  # ... and over the shoulders
        tl.move(rng.uniform(0.8, 1.2), self.wobble_targets(rng))  # settle
        tl.move(rng.uniform(0.4, 0.8), self.still())
        tl.activity("pickup", t0)

    def reps(self, tl: _Timeline, rng: np.random.Generator, plans: Sequence[_RepPlan]) -> list[tuple[float, float, float]]:
        out = []
        lock_z, lock_x = tl.value("wz"), tl.value("wx")
        release = lock_z + self.RELEASE_M
        for plan in plans:
            start = tl.t
            d, p = plan.durations, plan.params
            v0 = p["v0"]
            bottom = lock_z - p["depth_m"]
            a_bottom = self.C_BOTTOM * p["depth_m"] / d["lower"] ** 2
            tl.move(d["lower"], {**self._both((bottom, 0.0, a_bottom), wx=lock_x + 0.06, alpha=math.pi + 0.08), **self.wobble_targets(rng)})
            t_bottom = tl.t
            tl.move(d["throw"], self._both((release, v0, -G), wx=lock_x, alpha=math.pi))
            # The bar flies; the hands snap to a stop at full reach, then come down to meet it.
            tl.move(d["snap"], {"wz": release + v0 * d["snap"] / 2.0}, ballistic={"bz": -G})
            tl.move(d["rise"], ballistic={"bz": -G})
            t_top = tl.t
            tl.move(d["fall"], {"wz": (release, -0.3 * v0, 0.0)}, ballistic={"bz": -G})
            low = release - p["catch_m"]
            a_up = self.C_CATCH * p["catch_m"] / d["press"] ** 2
            tl.move(d["catch"], self._both((low, 0.0, a_up)))
            tl.move(d["press"], {**self._both(lock_z, wx=lock_x), **self.wobble_targets(rng)})
            out.append((start, tl.t, t_top - t_bottom))
            if plan.pause_s > 0:
                t_p = tl.t
                tl.move(plan.pause_s, self.still())
                tl.activity("pause", t_p)
        return out

    def rack(self, tl: _Timeline, rng: np.random.Generator) -> None:
        t0 = tl.t
        over = self.HOOKS["wz"] + 0.05
        tl.move(rng.uniform(0.8, 1.1), self._both(over, wx=self.HOOKS["wx"], alpha=self.HOOKS["alpha"]))  # back over the hooks
        tl.move(rng.uniform(0.5, 0.7), self._both(self.HOOKS["wz"]))  # set it down
        self._release(tl)
        tl.move(rng.uniform(0.3, 0.6))
        tl.move(rng.uniform(0.8, 1.1), self.LIE)  # hands down
        tl.move(rng.uniform(1.3, 1.7), self.SIT)  # sit up
        tl.move(rng.uniform(1.0, 1.3), {k: v for k, v in self.standing.items() if k != "bz"})  # stand up
        tl.activity("rack", t0)

    def pose(self, ch: Mapping[str, np.ndarray]) -> tuple[np.ndarray, _Quat]:
        if self.placement == "bar":
            return _bar_pose(ch, ch["bz"], alpha_level=math.pi)
        return _wrist_pose(ch)


# ---------------------------------------------------------------------------
# Scenes shared by all bodies


def _walk(
    tl: _Timeline,
    body: _Body,
    rng: np.random.Generator,
    *,
    duration_s: float,
    distance_m: float,
    arm_swing: bool,
    turn_rad: float = 0.0,
    label: str | None = None,
) -> None:
    """Walk ``distance_m`` along the current heading (negative: backwards), then turn in place.

    Steps at 1.7-1.9 Hz: a vertical bob of a few cm at the step rate, sway,
    roll and (hands free) arm swing at the stride rate.
    """
    t0 = tl.t
    psi = tl.value("psi")
    bx, by = tl.value("bx"), tl.value("by")
    ux, uy = math.cos(psi), math.sin(psi)
    ramp = min(0.9, duration_s / 3)
    cruise = duration_s - 2 * ramp
    v = distance_m / (duration_s - ramp)
    d1 = v * ramp / 2
    tl.move(ramp, {"bx": (bx + d1 * ux, v * ux, 0.0), "by": (by + d1 * uy, v * uy, 0.0)})
    d2 = d1 + v * cruise
    tl.move(cruise, {"bx": (bx + d2 * ux, v * ux, 0.0), "by": (by + d2 * uy, v * uy, 0.0)})
    tl.move(ramp, {"bx": bx + distance_m * ux, "by": by + distance_m * uy})
    if turn_rad:
        tl.move(1.0 + 0.4 * abs(turn_rad), {"psi": psi + turn_rad})
    amp = body.arm_swing[1] if (arm_swing and body.arm_swing) else 0.0
    tl.overlays.append(
        _Walk(
            start_s=t0,
            end_s=tl.t,
            step_hz=float(rng.uniform(1.7, 1.9)),
            bob_m=float(rng.uniform(0.025, 0.045)),
            sway_m=float(rng.uniform(0.01, 0.025)),
            roll_rad=float(rng.uniform(0.02, 0.04)),
            arm_rad=amp * float(rng.uniform(0.8, 1.2)),
            phase=float(rng.uniform(0, 2 * math.pi)),
        )
    )
    if label:
        tl.activity(label, t0)


def _stand(tl: _Timeline, body: _Body, rng: np.random.Generator, duration_s: float, label: str | None) -> None:
    """Stand (or hang) still for ``duration_s`` with slow fidgets of a few cm and degrees."""
    t0 = tl.t
    rest = tl.values(list(body.fidget))
    remaining = duration_s
    while remaining > 1e-9:
        d = float(rng.uniform(1.2, 3.0))
        if remaining - d < 1.0:
            d = remaining
        last = remaining - d <= 1e-9
        tl.move(d, {k: rest[k] if last else rest[k] + float(rng.normal(0.0, s)) for k, s in body.fidget.items()})
        remaining -= d
    if duration_s > 0 and label:
        tl.activity(label, t0)


# ---------------------------------------------------------------------------
# The tempo rule and set planning


def _first_failure(
    measures: Sequence[float], *, threshold_s: float = _THRESHOLD_S, slowdown: float = _SLOWDOWN
) -> tuple[int, float] | None:
    """First failing rep (1-based) under the tempo rule with confirm=1, and how far past its limit it is.

    A rep fails ``absolute`` when its measure exceeds ``threshold_s``, and
    ``trend`` when it has at least two previous reps and exceeds
    ``(1 + slowdown)`` times the second-smallest of their measures.  The
    returned excess is ``measure / limit - 1`` for the limit(s) it crosses (the
    larger one when it crosses both).

    This is the rule of :mod:`imu_tempo.tempo` (``first_failure``), kept here
    as a private copy so that the simulator's truth does not depend on the
    detector's code.
    """
    for k, m in enumerate(measures):
        ratio = _limit_ratio(m, measures[:k], threshold_s=threshold_s, slowdown=slowdown)
        if ratio > 1.0:
            return k + 1, ratio - 1.0
    return None


def _limit_ratio(m: float, previous: Sequence[float], *, threshold_s: float, slowdown: float) -> float:
    """``measure / limit`` for the nearest limit (> 1: fails)."""
    ratio = m / threshold_s
    if len(previous) >= 2:
        ref = sorted(previous)[1]
        ratio = max(ratio, m / (ref * (1.0 + slowdown)))
    return ratio


def _set_measures(body: _Body, plans: Sequence[_RepPlan], measure: Measure) -> list[float]:
    return [p.rep_s() if measure == "rep" else body.concentric_s(p) for p in plans]


def _plan_set(
    preset: Preset, body: _Body, rng: np.random.Generator, *, n_reps: int, fatigue: bool, set_index: int,
    tempo: float = 1.0,
) -> list[_RepPlan]:
    """Plan the reps of one set.

    Fatigue is a velocity loss that grows faster and faster over the set,
    ``VL_k = L * ((k - 1) / (n - 1)) ** p`` with ``L`` 30-45 % and ``p``
    1.2-2.6 (fresh sets: ``L`` at most 8 %).  The concentric phase lasts
    ``1 / (1 - VL_k)`` times longer, the eccentric phases 30 % of that slowdown.
    Curves are drawn until one is realistic for the set: a fatiguing set fails
    the tempo rule 1-3 reps before its end (the athlete grinds out a rep or
    two more), its first failing rep is at least 2 % past the limit and the
    rep before it at least 2 % below; a fresh set stays at least 5 % below
    both limits (no warning either).  Each later set starts about 2 % slower
    (incomplete recovery).  ``tempo`` stretches every rep, and the absolute limit with it.
    """
    set_scale = tempo * (1.0 + 0.02 * (set_index - 1)) * float(rng.uniform(0.96, 1.04))
    wanted_past = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    fallback: list[_RepPlan] | None = None
    best: tuple[float, list[_RepPlan]] | None = None
    for tries in range(600):
        if fatigue:
            loss, power = float(rng.uniform(*preset.fatigue_loss)), float(rng.uniform(1.2, 2.6))
        else:
            loss, power = float(rng.uniform(0.0, 0.08)), float(rng.uniform(1.0, 2.0))
        plans = []
        for k in range(n_reps):
            vl = loss * (k / (n_reps - 1)) ** power if n_reps > 1 else 0.0
            plans.append(body.plan_rep(rng, slow=1.0 / (1.0 - vl), vl=vl, set_scale=set_scale))
            if preset.pause_s is not None and k + 1 < n_reps:
                plans[-1].pause_s = float(rng.uniform(*preset.pause_s)) * (1.0 + vl)  # tired: longer stops
        score, past = _plan_score(_set_measures(body, plans, preset.measure), fatigue=fatigue, threshold_s=_THRESHOLD_S * tempo)
        if score >= 0.0 and (not fatigue or past == wanted_past or tries >= 150):
            return plans
        if score >= 0.0 and fallback is None:
            fallback = plans
        if best is None or score > best[0]:
            best = (score, plans)
    if fallback is not None:
        return fallback
    assert best is not None
    return best[1]  # e.g. 2 reps: no realistic curve satisfies every wish; take the closest


def _plan_score(measures: Sequence[float], *, fatigue: bool, threshold_s: float) -> tuple[float, int | None]:
    """(score, reps after the first failure): score >= 0 when a set looks as wished (see :func:`_plan_set`)."""
    n = len(measures)
    ratios = [_limit_ratio(m, measures[:k], threshold_s=threshold_s, slowdown=_SLOWDOWN) for k, m in enumerate(measures)]
    if not fatigue:
        return min(0.0, 0.95 - max(ratios)), None
    first = next((k for k, r in enumerate(ratios) if r > 1.0), None)
    if first is None:
        return max(ratios) - 2.0, None
    past = n - (first + 1)
    score = 0.0
    if not 1 <= past <= 3:
        score -= abs(past - 2) * 0.1
    score += min(0.0, ratios[first] - 1.02)
    if first > 0:
        score += min(0.0, 0.98 - ratios[first - 1])
    return score, past


# ---------------------------------------------------------------------------
# The session: motion, then the sensor


@dataclass(frozen=True, slots=True, eq=False)
class _Motion:
    """The body's motion on the internal grid (timeline clock, starting at 0)."""

    t_s: np.ndarray  # (m,)
    pos_m: np.ndarray  # (m, 3) sensor position, world frame
    rot: _Quat  # (m,) sensor frame -> world frame
    fs_hz: float  # internal rate
    reps: tuple[tuple[int, int, float, float, float], ...]  # (set, rep, start, end, concentric)
    activities: tuple[Activity, ...]
    duration_s: float


def _simulate_motion(
    preset: Preset,
    *,
    sets: int,
    reps: int | None,
    fatigue: bool,
    idle_s: float,
    rest_between_sets_s: float,
    walk: bool,
    orientation: str,
    fs_hz: float,
    seed: int,
    tempo: float = 1.0,
    placement: str | None = None,
) -> _Motion:
    plan_rng, motion_rng, mount_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    body = preset._body(placement)
    n_reps = [
        reps
        if reps is not None
        else (int(plan_rng.integers(preset.reps_fatigued[0], preset.reps_fatigued[1] + 1)) if fatigue else preset.reps_fresh)
        for _ in range(sets)
    ]
    plans = [
        _plan_set(preset, body, plan_rng, n_reps=n, fatigue=fatigue, set_index=i + 1, tempo=tempo)
        for i, n in enumerate(n_reps)
    ]

    rng = motion_rng
    tl = _Timeline({"bx": 0.0, "by": 0.0, "psi": 0.0, **body.standing})
    if idle_s > 0:
        _stand(tl, body, rng, idle_s, "idle")
    if walk:
        turn = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.4, 1.4))
        _walk(tl, body, rng, duration_s=rng.uniform(4.5, 6.0), distance_m=rng.uniform(4.0, 6.0), arm_swing=True, turn_rad=turn, label="walk")
    _stand(tl, body, rng, float(rng.uniform(1.0, 2.0)), "idle")
    truth: list[tuple[int, int, float, float, float]] = []
    pickup_s = 0.0
    for s, set_plans in enumerate(plans, start=1):
        t_pick = tl.t
        body.pickup(tl, rng, set_plans[0])
        pickup_s = pickup_s or tl.t - t_pick
        t_set = tl.t
        for k, (start, end, conc) in enumerate(body.reps(tl, rng, set_plans), start=1):
            truth.append((s, k, start, end, conc))
        tl.activity("set", t_set, set_index=s)
        last_end = tl.t
        body.rack(tl, rng)
        if s < len(plans):
            # Rest: walk off, stand, walk back; the next set's first rep starts about
            # ``rest_between_sets_s`` after this set's last rep ended.
            t_rest = tl.t
            walk_s = float(rng.uniform(2.5, 3.5))
            turn_s = 1.0 + 0.4 * math.pi
            left = rest_between_sets_s - (tl.t - last_end) - pickup_s - 2 * (walk_s + turn_s)
            if left >= 4.0:
                _walk(tl, body, rng, duration_s=walk_s, distance_m=2.5, arm_swing=True, turn_rad=math.pi)
                _stand(tl, body, rng, left, None)
                _walk(tl, body, rng, duration_s=walk_s, distance_m=2.5, arm_swing=True, turn_rad=-math.pi)
            else:
                _stand(tl, body, rng, max(0.5, rest_between_sets_s - (tl.t - last_end) - pickup_s), None)
            tl.activity("rest", t_rest)
    _stand(tl, body, rng, float(rng.uniform(1.0, 2.0)), "idle")
    if walk:  # turn around and walk away
        t_walk = tl.t
        tl.move(1.0 + 0.4 * math.pi, {"psi": tl.value("psi") + float(rng.choice([-1.0, 1.0])) * math.pi})
        tl.overlays.append(_Walk(t_walk, tl.t, 1.8, 0.02, 0.01, 0.02, 0.0, 0.0))
        _walk(tl, body, rng, duration_s=rng.uniform(3.5, 5.0), distance_m=rng.uniform(3.0, 5.0), arm_swing=True)
        tl.activity("walk", t_walk)
    if idle_s > 0:
        _stand(tl, body, rng, idle_s, "idle")
    tl.move(0.5)  # a still tail so that the recording ends at rest

    # Evaluate on the internal grid: an integer multiple of the sensor rate, >= 1 kHz.
    up = max(1, math.ceil(_MIN_INTERNAL_HZ / fs_hz))
    fs_int = up * fs_hz
    n_samples = int(math.floor(tl.t * fs_hz)) + 1
    t = np.arange(n_samples * up) / fs_int
    ch = tl.evaluate(t)
    oz, oy, oroll, arm = (np.zeros_like(t) for _ in range(4))
    for w in tl.overlays:
        m = (t >= w.start_s) & (t <= w.end_s)
        tt = t[m]
        env = w.envelope(tt)
        ph = 2 * math.pi * w.step_hz * (tt - w.start_s) + w.phase
        oz[m] += -0.5 * w.bob_m * (1.0 - np.cos(ph)) * env
        oy[m] += w.sway_m * np.sin(ph / 2) * env
        oroll[m] += w.roll_rad * np.sin(ph / 2) * env
        arm[m] += w.arm_rad * np.sin(ph / 2 + 0.3) * env
    if body.arm_swing is not None:
        name = body.arm_swing[0]
        ch[name] = ch.get(name, np.zeros_like(t)) + arm
    local_pos, local_rot = body.pose(ch)
    local_pos = local_pos + np.column_stack([np.zeros_like(t), oy, oz])
    heading = _rot("z", ch["psi"])
    pos = heading.apply(local_pos) + np.column_stack([ch["bx"], ch["by"], np.zeros_like(t)])
    if orientation == "random":
        mount = _Quat.of(Rotation.random(random_state=mount_rng))
    else:
        mount = _Quat(np.array([[0.0, 0.0, 0.0, 1.0]]))
    rot = heading * _rot("x", oroll) * local_rot * mount
    held = body.held(t)
    if not held.any():
        raise AssertionError(f"{type(body).__name__} never takes hold of the equipment its {body.placement} sensor is on")
    if not held.all():  # a sensor on the equipment rests where it was put down (or waits to be picked up)
        idx = np.maximum.accumulate(np.where(held, np.arange(t.size), -1))
        idx[idx < 0] = int(np.argmax(held))
        pos, rot = pos[idx], rot[idx]

    activities = sorted(tl.activities, key=lambda a: (a.start_s, a.label != "set"))
    return _Motion(
        t_s=t,
        pos_m=pos,
        rot=rot,
        fs_hz=fs_int,
        reps=tuple(truth),
        activities=tuple(activities),
        duration_s=tl.t,
    )


def _acceleration(pos: np.ndarray, fs_hz: float) -> np.ndarray:
    """Second derivative by central differences (exact for the flight parabolas)."""
    acc = np.zeros_like(pos)
    acc[1:-1] = (pos[2:] - 2.0 * pos[1:-1] + pos[:-2]) * fs_hz**2
    return acc


def _angular_rate(rot: _Quat, fs_hz: float) -> np.ndarray:
    """Angular velocity in the sensor (body) frame, from consecutive orientations."""
    mid = (rot[:-1].inv() * rot[1:]).rotvec() * fs_hz  # at the half steps
    w = np.empty((len(rot), 3))
    w[1:-1] = 0.5 * (mid[:-1] + mid[1:])
    w[0], w[-1] = mid[0], mid[-1]
    return w


def _lowpass(x: np.ndarray, *, cutoff_hz: float, fs_hz: float) -> np.ndarray:
    """The sensor's digital low-pass: causal 2nd-order Butterworth, started at the first value."""
    sos = signal.butter(2, cutoff_hz, fs=fs_hz, output="sos")
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    y, _ = signal.sosfilt(sos, x, axis=0, zi=zi)
    return y


def _quantise(x: np.ndarray, full_scale: float) -> np.ndarray:
    lsb = full_scale / _INT16
    return np.clip(np.round(x / lsb), -_INT16, _INT16 - 1) * lsb


def _imperfect(x: np.ndarray, rng: np.random.Generator, *, bias: tuple[float, float]) -> np.ndarray:
    """Scale error (~1 %), cross-axis coupling (~0.3 %) and a per-axis bias of the given magnitude range."""
    m = np.eye(3) + np.diag(rng.normal(0.0, 0.01, 3))
    off = rng.normal(0.0, 0.003, (3, 3))
    np.fill_diagonal(off, 0.0)
    b = rng.choice([-1.0, 1.0], 3) * rng.uniform(bias[0], bias[1], 3)
    return x @ (m + off).T + b


def _drop_mask(n: int, rate: float, rng: np.random.Generator) -> np.ndarray:
    """Rows to keep: isolated drops and short bursts (geometric lengths, mean 1.67) removing ``rate`` of rows."""
    keep = np.ones(n, dtype=bool)
    if rate <= 0 or n < 3:
        return keep
    mean_burst = 1.0 / 0.6
    n_events = int(rng.binomial(n - 2, min(1.0, rate / mean_burst)))
    starts = rng.integers(1, n - 1, n_events)
    lengths = rng.geometric(0.6, n_events)
    for s, length in zip(starts.tolist(), lengths.tolist()):
        keep[s : min(n - 1, s + length)] = False
    return keep


def simulate_session(
    *,
    exercise: str = "kettlebell_swing",
    sets: int = 1,
    reps: int | None = None,
    fs_hz: float = 100.0,
    seed: int = 0,
    fatigue: bool = True,
    gyro: bool = True,
    noise_mps2: float = 0.05,
    gyro_noise_rad_s: float = 0.003,
    jitter_s: float = 0.0005,
    drop_rate: float = 0.0,
    orientation: str = "random",
    idle_s: float = 5.0,
    rest_between_sets_s: float = 60.0,
    walk: bool = True,
    sensor_errors: bool = True,
    t0_s: float = 0.0,
    tempo: float = 1.0,
    placement: str | None = None,
) -> SimulatedSession:
    """Simulate an IMU recording of a training session, with its truth.

    The session: ``idle_s`` standing, a walk to the equipment, then for each
    set picking the weight up, the reps, racking it (and between sets a rest
    of about ``rest_between_sets_s`` from the last rep of a set to the first
    of the next, with a walk off and back), a walk away and ``idle_s``
    standing.

    Parameters
    ----------
    exercise : str
        Key of :data:`EXERCISES`.
    sets : int
        Number of sets (1-20).
    reps : int or None
        Reps per set; None picks a realistic number for the preset (for a
        fatiguing set, the athlete stops 1-3 reps after the first failing rep).
    fs_hz : float
        Sensor sample rate, 10-400 Hz.  The motion and the truth do not depend on it.
    seed : int
        Everything random derives from it; the same arguments give the same session.
    fatigue : bool
        True: velocity loss grows over the set (30-45 % by its last rep) and the
        set runs 1-3 reps past the first tempo failure.  False: a fresh set
        (at most 8 % loss), at least 5 % clear of both tempo limits.
    gyro : bool
        Whether the sensor has a gyroscope.
    noise_mps2, gyro_noise_rad_s : float
        Standard deviation of the white noise per sample and axis (m/s^2, rad/s).
    jitter_s : float
        Standard deviation of the reported time stamps around the true sample
        times (clipped to a quarter of a sample period, so that consecutive
        stamps stay 0.5-1.5 periods apart: jitter never looks like a drop).
    drop_rate : float
        Fraction of samples lost, as isolated drops and short bursts, in [0, 0.5).
    orientation : {"random", "upright"}
        Mount of the sensor on the body segment: a seeded random rotation, or
        aligned with the segment (z up, x forward when standing with the arm down).
    idle_s : float
        Standing still before the first walk and after the last (s, >= 0).
    rest_between_sets_s : float
        From the end of a set's last rep to the start of the next set's first
        rep (about; s, >= 10).
    walk : bool
        Include the walks to and from the equipment.
    sensor_errors : bool
        Bias, scale error, cross-axis coupling and int16 quantisation (False: an
        ideal sensor, apart from ``noise``/``jitter`` and its low-pass filter).
    t0_s : float
        Device time of the first sample (any origin).
    tempo : float
        Every rep's lifting and lowering phases last this many times longer than the
        preset's (0.5-3; 1 for a jump squat): a tempo set, or a load heavy from the first rep.  The truth's
        tempo rule scales its absolute threshold alike (1.2 s x ``tempo``); analyse with
        ``--threshold-s`` scaled the same way to compare failures.
    placement : str or None
        Where the sensor is worn, one of the preset's :attr:`Preset.placements`
        (None: the preset's own, ``Preset.placement``).  The motion and the truth do not
        depend on it: a chest strap in a swing set sees the same swings as the wrist.

    Returns
    -------
    SimulatedSession

    Raises
    ------
    ConfigError
        An argument outside its range; the message names it and its value.
    """
    if exercise not in EXERCISES:
        raise ConfigError(f"unknown exercise {exercise!r}; choose one of: {', '.join(EXERCISES)}")
    if not isinstance(sets, int) or not 1 <= sets <= 20:
        raise ConfigError(f"sets must be a whole number from 1 to 20, got {sets!r}")
    if reps is not None and (not isinstance(reps, int) or not 1 <= reps <= 50):
        raise ConfigError(f"reps must be a whole number from 1 to 50 (or None), got {reps!r}")
    if not (isinstance(fs_hz, (int, float)) and _MIN_FS_HZ <= fs_hz <= _MAX_FS_HZ):
        raise ConfigError(f"fs_hz must be from {_MIN_FS_HZ:g} to {_MAX_FS_HZ:g} Hz, got {fs_hz!r}")
    for name, value in (("noise_mps2", noise_mps2), ("gyro_noise_rad_s", gyro_noise_rad_s), ("jitter_s", jitter_s), ("idle_s", idle_s)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be a number >= 0, got {value!r}")
    if not (isinstance(drop_rate, (int, float)) and 0 <= drop_rate < 0.5):
        raise ConfigError(f"drop_rate must be in [0, 0.5), got {drop_rate!r}")
    if orientation not in ("random", "upright"):
        raise ConfigError(f"orientation must be 'random' or 'upright', got {orientation!r}")
    if not (isinstance(rest_between_sets_s, (int, float)) and rest_between_sets_s >= _MIN_REST_S):
        raise ConfigError(f"rest_between_sets_s must be at least {_MIN_REST_S:g} s, got {rest_between_sets_s!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a whole number >= 0, got {seed!r}")
    if not (isinstance(tempo, (int, float)) and _MIN_TEMPO <= tempo <= _MAX_TEMPO):
        raise ConfigError(f"tempo must be from {_MIN_TEMPO:g} to {_MAX_TEMPO:g}, got {tempo!r}")
    if tempo != 1.0 and exercise == "jump_squat":
        raise ConfigError("tempo must be 1 for jump_squat: a jump's drive cannot be slowed at will (its flight is ballistic)")
    fs_hz = float(fs_hz)
    preset = EXERCISES[exercise]
    if placement is not None and placement not in preset.placements:
        raise ConfigError(
            f"placement {placement!r} is not simulated for {exercise}; choose one of {', '.join(preset.placements)}"
        )
    motion = _simulate_motion(
        preset,
        sets=sets,
        reps=reps,
        fatigue=fatigue,
        idle_s=float(idle_s),
        rest_between_sets_s=float(rest_between_sets_s),
        walk=walk,
        orientation=orientation,
        fs_hz=fs_hz,
        seed=seed,
        tempo=float(tempo),
        placement=placement,
    )
    # Streams of their own, so that e.g. changing the noise does not change the motion.
    sensor_rng, time_rng = (np.random.default_rng(s) for s in np.random.SeedSequence([seed, 1]).spawn(2))

    world_f = _acceleration(motion.pos_m, motion.fs_hz) + np.array([0.0, 0.0, G])
    f_sensor = motion.rot.inv().apply(world_f)
    up = int(round(motion.fs_hz / fs_hz))
    cutoff = 0.4 * fs_hz
    accel = _lowpass(f_sensor, cutoff_hz=cutoff, fs_hz=motion.fs_hz)[::up]
    rate = _lowpass(_angular_rate(motion.rot, motion.fs_hz), cutoff_hz=cutoff, fs_hz=motion.fs_hz)[::up]
    n = accel.shape[0]
    if sensor_errors:
        accel = _imperfect(accel, sensor_rng, bias=(0.05, 0.2))
        rate = _imperfect(rate, sensor_rng, bias=(math.radians(0.2), math.radians(1.0)))
    accel = accel + sensor_rng.normal(0.0, 1.0, (n, 3)) * noise_mps2
    rate = rate + sensor_rng.normal(0.0, 1.0, (n, 3)) * gyro_noise_rad_s
    if sensor_errors:
        accel = _quantise(accel, _ACCEL_FULL_SCALE)
        rate = _quantise(rate, _GYRO_FULL_SCALE)

    period = 1.0 / fs_hz
    t_true = t0_s + np.arange(n) * period
    # Clipped to a quarter period: consecutive stamps stay 0.5-1.5 periods apart, so jitter
    # never looks like a dropped sample (and time still increases).
    jitter = np.clip(time_rng.normal(0.0, 1.0, n) * jitter_s, -0.249 * period, 0.249 * period)
    keep = _drop_mask(n, float(drop_rate), time_rng)
    t_rep = (t_true + jitter)[keep]

    truth = tuple(TruthRep(s, k, t0_s + a, t0_s + b, c) for s, k, a, b, c in motion.reps)
    failure: dict[int, int | None] = {}
    for s in range(1, sets + 1):
        measures = [r.measure(preset.measure) for r in truth if r.set == s]
        first = _first_failure(measures, threshold_s=_THRESHOLD_S * tempo)
        failure[s] = None if first is None else first[0]
    activities = tuple(Activity(a.label, t0_s + a.start_s, t0_s + a.end_s, a.set) for a in motion.activities)
    counts = [sum(1 for r in truth if r.set == s) for s in range(1, sets + 1)]
    metadata = {
        "sensor": "imu-tempo simulator (SIMULATED data, not a real recording)",
        "simulated": "true",
        "exercise": exercise,
        "placement": placement or preset.placement,
        "sample_rate_hz": f"{fs_hz:g}",
        "seed": str(seed),
        "sets": str(sets),
        "reps": ",".join(str(c) for c in counts),
        "fatigue": "true" if fatigue else "false",
        "recommended_measure": preset.measure,
        "truth_failure_rep": ",".join("none" if failure[s] is None else str(failure[s]) for s in failure),
        "orientation": orientation,
        "noise_mps2": f"{noise_mps2:g}",
        "jitter_s": f"{jitter_s:g}",
        "drop_rate": f"{drop_rate:g}",
        "tempo": f"{tempo:g}",
        "generator": "imu_tempo.simulate",
    }
    return SimulatedSession(
        t_s=t_rep,
        accel=accel[keep],
        gyro=rate[keep] if gyro else None,
        fs_hz=fs_hz,
        metadata=metadata,
        truth=truth,
        truth_failure=failure,
        exercise=exercise,
        activities=activities,
    )


# ---------------------------------------------------------------------------
# Files


def truth_path(path: str | os.PathLike[str]) -> Path:
    """The truth file that goes with a recording: ``demo.csv`` -> ``demo.truth.csv``."""
    p = Path(path)
    if p.suffix.lower() == ".csv":
        return p.with_suffix(".truth.csv")
    return p.with_name(p.name + ".truth.csv")


def write_truth(truth: Sequence[TruthRep], path: str | os.PathLike[str]) -> Path:
    """Write ``set,rep,start_s,end_s,concentric_s`` (seconds with 6 decimals on the recording's clock)."""
    p = Path(path)
    lines = [",".join(TRUTH_COLUMNS)]
    lines += [f"{r.set},{r.rep},{r.start_s:.6f},{r.end_s:.6f},{r.concentric_s:.6f}" for r in truth]
    tmp = p.with_name(p.name + ".partial")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


def write_session(
    session: SimulatedSession, path: str | os.PathLike[str], *, accel_unit: str = "m/s^2"
) -> tuple[Path, Path]:
    """Write the recording (CSV v1) and its truth file next to it.

    Parameters
    ----------
    session : SimulatedSession
    path : str or PathLike
        The recording; the truth goes to :func:`truth_path` of it
        (``demo.csv`` -> ``demo.truth.csv``).  Both are overwritten.
    accel_unit : {"m/s^2", "g"}
        ``"g"`` writes the acceleration in g *without declaring it in the
        header*, like a device that reports g; such a file must be read with
        ``--accel-unit g`` (it exists to test that flag and the unit check).

    Returns
    -------
    (Path, Path)
        The recording and the truth file.
    """
    from .sources.recording import write_recording

    if accel_unit not in ("m/s^2", "g"):
        raise ConfigError(f"accel_unit must be 'm/s^2' or 'g', got {accel_unit!r}")
    rec = Path(path)
    truth = truth_path(rec)
    metadata = dict(session.metadata)
    metadata["truth"] = truth.name
    accel = session.accel
    if accel_unit == "g":
        accel = accel / G
        metadata["note"] = "acceleration values are in g but undeclared on purpose: read with --accel-unit g"
    write_recording(rec, t_s=session.t_s, accel=accel, gyro=session.gyro, metadata=metadata)
    write_truth(session.truth, truth)
    return rec, truth


# ---------------------------------------------------------------------------
# Presets


EXERCISES: dict[str, Preset] = {
    "kettlebell_swing": Preset(
        name="kettlebell_swing",
        placement="wrist",
        measure="rep",
        description="two-hand kettlebell swing to chest height, continuous reps; sensor on the wrist",
        start_event="backswing turnaround (the wrist's lowest point, bell between the legs)",
        end_event="the next backswing turnaround",
        concentric_event="upswing: backswing turnaround (lowest point) to the top of the swing (highest point)",
        fresh_rep_s=0.98,
        fresh_concentric_s=0.48,
        reps_fatigued=(12, 15),
        reps_fresh=10,
        pause_s=None,
        fatigue_loss=(0.30, 0.45),
        _body=_SwingBody,
    ),
    "push_press": Preset(
        name="push_press",
        placement="wrist",
        measure="concentric",
        description="barbell push press from the front rack, a pause at the rack between reps; sensor on the wrist",
        start_event="the dip begins (bar leaves the rack position)",
        end_event="the bar is back at the rack position and stopped",
        concentric_event="bottom of the dip to the top of the lockout",
        fresh_rep_s=2.05,
        fresh_concentric_s=0.60,
        reps_fatigued=(6, 8),
        reps_fresh=5,
        pause_s=(0.4, 1.2),
        fatigue_loss=(0.30, 0.45),
        _body=_PushPressBody,
    ),
    "jump_squat": Preset(
        name="jump_squat",
        placement="lower back",
        measure="concentric",
        description="countermovement jump squat with a light bar, standing pause between reps; sensor on the lower back",
        start_event="the descent begins",
        end_event="standing again after the landing and stopped",
        concentric_event="bottom of the squat to the apex of the flight",
        fresh_rep_s=2.05,
        fresh_concentric_s=0.61,
        reps_fatigued=(6, 8),
        reps_fresh=5,
        pause_s=(0.8, 1.5),
        fatigue_loss=(0.40, 0.55),
        _body=_JumpSquatBody,
    ),
    "pull_up": Preset(
        name="pull_up",
        placement="upper arm",
        measure="concentric",
        description="pull-up from a dead hang, a pause in the hang between reps; sensor on the upper arm",
        start_event="the body leaves the dead hang",
        end_event="back in the dead hang and stopped",
        concentric_event="the pull: dead hang to the top",
        fresh_rep_s=1.85,
        fresh_concentric_s=0.75,
        reps_fatigued=(6, 9),
        reps_fresh=5,
        pause_s=(0.3, 1.0),
        fatigue_loss=(0.30, 0.45),
        _body=_PullUpBody,
    ),
    "bench_throw": Preset(
        name="bench_throw",
        placement="bar",
        measure="concentric",
        description="bench throw with a light bar, caught and pressed back to lockout, a pause there between reps; sensor on the bar",
        start_event="the lowering begins (bar leaves lockout, arms extended over the shoulders)",
        end_event="the bar is back at lockout and stopped",
        concentric_event="bar on the chest to the apex of its flight",
        fresh_rep_s=2.2,
        fresh_concentric_s=0.55,
        reps_fatigued=(6, 8),
        reps_fresh=5,
        pause_s=(0.5, 1.2),
        fatigue_loss=(0.40, 0.55),
        _body=_BenchThrowBody,
    ),
}


# ---------------------------------------------------------------------------
# Command line: imu-tempo simulate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``imu-tempo simulate``."""
    parser.add_argument("--out", required=True, metavar="FILE.csv", help="recording to write (truth goes to FILE.truth.csv)")
    parser.add_argument("--exercise", choices=list(EXERCISES), default="kettlebell_swing", help="default kettlebell_swing")
    parser.add_argument("--sets", type=int, default=1, help="number of sets (default 1)")
    parser.add_argument("--reps", type=int, default=None, help="reps per set (default: realistic for the exercise)")
    parser.add_argument("--rate-hz", type=float, default=100.0, help="sample rate, 10-400 Hz (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same flags give the same files (default 0)")
    parser.add_argument("--fresh", action="store_true", help="no fatigue: every rep stays clear of the tempo limits")
    parser.add_argument("--no-gyro", action="store_true", help="accelerometer only (no gx,gy,gz columns)")
    parser.add_argument("--noise", type=float, default=0.05, metavar="M/S^2", help="accelerometer white noise (default 0.05)")
    parser.add_argument("--jitter-ms", type=float, default=0.5, help="time-stamp jitter, standard deviation in ms (default 0.5)")
    parser.add_argument("--drop-rate", type=float, default=0.0, help="fraction of samples lost in short bursts (default 0)")
    parser.add_argument(
        "--orientation", choices=["random", "upright"], default="random", help="sensor mount (default random)"
    )
    parser.add_argument(
        "--placement",
        default=None,
        help="where the sensor is worn: "
        + "; ".join(f"{name} {'|'.join(p.placements)}" for name, p in EXERCISES.items())
        + " (default: the first)",
    )
    parser.add_argument("--idle-s", type=float, default=5.0, help="standing still at the start and at the end (default 5)")
    parser.add_argument("--rest-s", type=float, default=60.0, help="rest between sets, last rep to first rep (default 60)")
    parser.add_argument(
        "--tempo",
        type=float,
        default=1.0,
        metavar="X",
        help="every rep X times slower, 0.5-3 (a tempo set, or a load heavy from rep 1); the truth's absolute "
        "limit scales alike: analyse with --threshold-s 1.2*X (default 1)",
    )
    parser.add_argument(
        "--accel-unit",
        choices=["m/s^2", "g"],
        default="m/s^2",
        help="write acceleration in g, undeclared, as some devices do (to test `--accel-unit g` when reading)",
    )


def run(args: argparse.Namespace) -> int:
    """``imu-tempo simulate``: write a simulated recording and its truth; print what was written."""
    session = simulate_session(
        exercise=args.exercise,
        sets=args.sets,
        reps=args.reps,
        fs_hz=args.rate_hz,
        seed=args.seed,
        fatigue=not args.fresh,
        gyro=not args.no_gyro,
        noise_mps2=args.noise,
        jitter_s=args.jitter_ms / 1000.0,
        drop_rate=args.drop_rate,
        orientation=args.orientation,
        idle_s=args.idle_s,
        rest_between_sets_s=args.rest_s,
        tempo=args.tempo,
        placement=args.placement,
    )
    rec, truth = write_session(session, args.out, accel_unit=args.accel_unit)
    print(summary(session, recording=rec, truth=truth, accel_unit=args.accel_unit))
    return 0


def summary(
    session: SimulatedSession, *, recording: Path | None = None, truth: Path | None = None, accel_unit: str = "m/s^2"
) -> str:
    """Human-readable description of a simulated session (what ``imu-tempo simulate`` prints)."""
    preset = EXERCISES[session.exercise]
    n = len(session.t_s)
    duration = float(session.t_s[-1] - session.t_s[0]) if n else 0.0
    lines = [
        f"wrote {recording or 'recording'}: SIMULATED {preset.name} ({session.metadata['placement']}), {session.fs_hz:g} Hz, "
        f"{n} samples over {duration:.1f} s, {'accel + gyro' if session.gyro is not None else 'accel only'}"
        + (", acceleration in g (read it with --accel-unit g)" if accel_unit == "g" else ""),
        f"wrote {truth or 'truth'}: {len(session.truth)} reps (set,rep,start_s,end_s,concentric_s)",
    ]
    for s, first in session.truth_failure.items():
        reps = session.reps_in_set(s)
        measures = [r.measure(preset.measure) for r in reps]
        what = "rep duration" if preset.measure == "rep" else "concentric"
        fail = f"first tempo failure at rep {first}" if first is not None else "no tempo failure"
        lines.append(
            f"  set {s}: {len(reps)} reps, {what} {min(measures):.2f}-{max(measures):.2f} s, {fail} "
            f"(truth, --measure {preset.measure})"
        )
    if recording is not None:
        unit = " --accel-unit g" if accel_unit == "g" else ""
        tempo = float(session.metadata.get("tempo", "1"))
        limit = f" --threshold-s {_THRESHOLD_S * tempo:g}" if tempo != 1.0 else ""
        lines.append(f"analyse it: imu-tempo analyze {recording} --measure {preset.measure}{limit}{unit}")
    return "\n".join(lines)
