"""Data that flows through imu-tempo.

``SampleBlock`` is what every source yields; it carries its own sample rate,
device time and health, so nothing downstream assumes a rate.  ``Rep``,
``SetSummary`` and the event types are what the engine emits.  All are frozen.

Units: seconds, m/s^2 for acceleration, rad/s for angular rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

FailureReason = Literal["absolute", "trend"]
Measure = Literal["rep", "concentric"]


@dataclass(frozen=True, slots=True, eq=False)
class SampleBlock:
    """A run of consecutive samples from one sensor.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Device time of each sample in seconds (any origin, increasing).
    accel : ndarray, shape (n, 3)
        Specific force in m/s^2 as the accelerometer reports it (+9.81 "up" at rest).
    gyro : ndarray, shape (n, 3), or None
        Angular rate in rad/s, when the sensor has a gyroscope.
    fs_hz : float
        Nominal sample rate of the device.
    dropped : int
        Samples known to be lost immediately before this block (sequence gaps).
        Time gaps are also visible in ``t_s``; the engine treats either as a gap.
    host_time_s : float or None
        ``time.monotonic()`` when the block arrived on the host (latency display only;
        never used for rep timing).
    """

    t_s: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray | None
    fs_hz: float
    dropped: int = 0
    host_time_s: float | None = None

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        if self.t_s.ndim != 1:
            raise ValueError(f"t_s must be 1-D, got shape {self.t_s.shape}")
        if self.accel.shape != (n, 3):
            raise ValueError(f"accel must have shape ({n}, 3), got {self.accel.shape}")
        if self.gyro is not None and self.gyro.shape != (n, 3):
            raise ValueError(f"gyro must have shape ({n}, 3), got {self.gyro.shape}")
        if not (self.fs_hz > 0 and np.isfinite(self.fs_hz)):
            raise ValueError(f"fs_hz must be a positive number, got {self.fs_hz!r}")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@dataclass(frozen=True, slots=True)
class Rep:
    """One repetition, timed on the device clock.

    ``start_s``: the movement leaves the start position.  ``end_s``: it is back
    there (for continuous reps, the turnaround at the start position).
    ``concentric_s``: duration of the main phase moving against gravity.
    ``detected_at_s``: data time of the sample whose arrival let the streaming
    engine settle the rep (the moment a live run emits it).
    """

    index: int  # 1-based within its set
    set_index: int  # 1-based
    start_s: float
    end_s: float
    concentric_s: float | None
    detected_at_s: float
    failure: FailureReason | None = None
    warning: bool = False
    gap: bool = False
    peak_velocity_mps: float | None = None
    rom_m: float | None = None
    reference_s: float | None = None  # the set's reference measure when this rep was judged
    slowdown: float | None = None  # measure / reference - 1, or None when no reference yet

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def measure(self, measure: Measure) -> float | None:
        return self.duration_s if measure == "rep" else self.concentric_s

    def to_json(self) -> dict[str, Any]:
        """The rep as in the analysis JSON contract (``imu-tempo.analysis/1``)."""
        return {
            "index": self.index,
            "start_s": _r(self.start_s),
            "end_s": _r(self.end_s),
            "duration_s": _r(self.duration_s),
            "concentric_s": None if self.concentric_s is None else _r(self.concentric_s),
            "detected_at_s": _r(self.detected_at_s),
            "failure": self.failure,
            "warning": self.warning,
            "gap": self.gap,
            "set": self.set_index,
            "peak_velocity_mps": None if self.peak_velocity_mps is None else _r(self.peak_velocity_mps),
            "rom_m": None if self.rom_m is None else _r(self.rom_m),
            "reference_s": None if self.reference_s is None else _r(self.reference_s),
            "slowdown": None if self.slowdown is None else _r(self.slowdown),
        }


@dataclass(frozen=True, slots=True)
class SetSummary:
    """One set: reps separated from the next set by a rest of ``set_rest_s`` or more."""

    index: int
    start_s: float
    end_s: float
    reps: tuple[Rep, ...]
    first_failure_rep: int | None
    failure_reason: FailureReason | None
    end_reason: str  # "tempo_failure" | "stopped" | "interrupted"
    ended_at_s: float  # data time at which the engine closed the set

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    def to_json(self) -> dict[str, Any]:
        reps = [r.to_json() for r in self.reps]
        for r in reps:
            r.pop("set", None)
        durations = [r.duration_s for r in self.reps]
        return {
            "index": self.index,
            "start_s": _r(self.start_s),
            "end_s": _r(self.end_s),
            "rep_count": self.rep_count,
            "first_failure_rep": self.first_failure_rep,
            "failure_reason": self.failure_reason,
            "end_reason": self.end_reason,
            "best_rep_s": _r(min(durations)) if durations else None,
            "mean_rep_s": _r(float(np.mean(durations))) if durations else None,
            "reps": reps,
        }


@dataclass(frozen=True, slots=True)
class Gap:
    """Samples missing from the stream: a jump in device time or a sequence gap."""

    start_s: float  # time of the last sample before the gap
    end_s: float  # time of the first sample after it
    missing: int  # samples missing (estimated from the nominal rate)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


# ---------------------------------------------------------------------------
# Events: what the engine emits, in order, as the data arrives.


@dataclass(frozen=True, slots=True)
class RepEvent:
    rep: Rep
    kind: str = "rep"


@dataclass(frozen=True, slots=True)
class WarningEvent:
    """The rep came within the warning margin of a limit."""

    rep: Rep
    limit: FailureReason
    kind: str = "warning"


@dataclass(frozen=True, slots=True)
class FailureEvent:
    """Tempo failure confirmed (``confirm`` failing reps in a row); the set is over for power work."""

    rep: Rep
    reason: FailureReason
    first_failure_rep: int
    kind: str = "failure"


@dataclass(frozen=True, slots=True)
class SetEndEvent:
    summary: SetSummary
    kind: str = "set_end"


@dataclass(frozen=True, slots=True)
class GapEvent:
    gap: Gap
    kind: str = "gap"


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """Connection and stream health: ``state`` is e.g. "streaming", "lost", "reconnecting", "resumed"."""

    state: str
    message: str
    at_s: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    kind: str = "status"


Event = RepEvent | WarningEvent | FailureEvent | SetEndEvent | GapEvent | StatusEvent


def _r(x: float) -> float:
    """Round for JSON: microsecond resolution keeps files diffable and stable."""
    return round(float(x), 6)
