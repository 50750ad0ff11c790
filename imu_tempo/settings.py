"""Analysis settings: every knob that can change a result, in one frozen object.

The analysis JSON records ``Settings.to_json()`` so that any result can be
reproduced.  All durations are in seconds; fractions are plain ratios.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .errors import ConfigError
from .types import Measure


DETECTORS = ("vertical", "orientation", "both", "auto")


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    # -- tempo failure --------------------------------------------------------------
    threshold_s: float = 1.2
    """A rep whose measure exceeds this fails with reason ``absolute``."""
    slowdown: float = 0.25
    """A rep whose measure exceeds the set reference by this fraction fails with reason ``trend``."""
    measure: Measure = "rep"
    """What is timed against the limits: the whole ``rep`` or its ``concentric`` phase."""
    confirm: int = 1
    """Failing reps in a row needed before the failure cue fires."""
    warning_margin: float = 0.05
    """A rep within this fraction of a limit (but not over it) raises a warning."""
    # -- sets -------------------------------------------------------------------------
    set_rest_s: float = 8.0
    """A rest this long without reps ends the set."""
    # -- rep detector -----------------------------------------------------------------
    min_rep_s: float = 0.3
    """Reps shorter than this are movement noise, not reps."""
    max_rep_s: float = 8.0
    """Movement bouts longer than this without returning to the start are not one rep."""
    min_rom_m: float = 0.15
    """The concentric phase must move at least this far (metres, from integrated acceleration)."""
    detector: str = "auto"
    """Rep channels: ``auto`` (the default: one channel per movement -- vertical reps as usual;
    orientation reps only in a bout of 3+ reps away from any consistent vertical series and not
    walking; a bout's first reps arrive when its third does), ``vertical`` (lifting movements only,
    timed from vertical velocity), ``orientation`` (rotating movements only: curls, raises, cable
    work), or ``both`` (orientation reps wherever no vertical rep overlaps them; they arrive 2 s
    after their end; walking and set-up moves become reps too)."""
    # -- calibration (from ``imu-tempo calibrate --save``) ------------------------------------
    start_offset_s: float = 0.0
    """Added to every rep's start time (calibration against video)."""
    end_offset_s: float = 0.0
    """Added to every rep's end time (calibration against video)."""
    calibration: str | None = None
    """Path of the calibration profile applied, for the record."""

    def __post_init__(self) -> None:
        _positive("threshold_s", self.threshold_s)
        _positive("slowdown", self.slowdown)
        _positive("set_rest_s", self.set_rest_s)
        _positive("min_rep_s", self.min_rep_s)
        _positive("max_rep_s", self.max_rep_s)
        if self.detector not in DETECTORS:
            raise ConfigError(f"detector must be one of {', '.join(map(repr, DETECTORS))}, got {self.detector!r}")
        if self.measure not in ("rep", "concentric"):
            raise ConfigError(f"measure must be 'rep' or 'concentric', got {self.measure!r}")
        if not isinstance(self.confirm, int) or self.confirm < 1:
            raise ConfigError(f"confirm must be a whole number >= 1, got {self.confirm!r}")
        if not 0 <= self.warning_margin < 1:
            raise ConfigError(f"warning_margin must be in [0, 1), got {self.warning_margin!r}")
        if self.min_rom_m < 0:
            raise ConfigError(f"min_rom_m must be >= 0, got {self.min_rom_m!r}")
        if self.max_rep_s <= self.min_rep_s:
            raise ConfigError(
                f"max_rep_s ({self.max_rep_s}) must be larger than min_rep_s ({self.min_rep_s})"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def replace(self, **changes: Any) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and value > 0):
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
