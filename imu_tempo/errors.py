"""The imu-tempo error tree.

Every error a user can cause (a bad file, a wrong unit, a lost device) is an
:class:`ImuTempoError`; its message names the bad value, the file and line or
the device, and says what to do.  The CLI prints these messages without a
traceback; anything else is a bug and keeps its traceback.

``ImuTempoWarning`` marks results that are valid but suspect (a gap inside a
rep, a skipped line).  It is a real :class:`RuntimeWarning`, never raised.
"""

from __future__ import annotations


class ImuTempoError(Exception):
    """Root of every error imu-tempo raises on purpose."""


class RecordingError(ImuTempoError):
    """A recording file cannot be read as written.

    Attributes
    ----------
    path : str
        The file.
    line : int | None
        1-based line number in the file, when one line is to blame.
    """

    def __init__(self, message: str, *, path: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.reason = message


class UnitError(RecordingError):
    """The data's magnitude says its declared unit is wrong (g read as m/s^2, ...)."""


class ConfigError(ImuTempoError, ValueError):
    """A setting has a value it cannot take; the message names the setting and the value."""


class SourceError(ImuTempoError):
    """Base for problems with a live or replayed sample source."""


class SourceNotFound(SourceError):
    """The device, port or file named does not exist or cannot be opened."""


class SourceLost(SourceError):
    """A source that was streaming stopped delivering (unplugged, out of range, closed).

    Attributes
    ----------
    reason : str
        A short machine-readable reason, e.g. ``"disconnected"``, ``"stalled"``.
    """

    def __init__(self, message: str, *, reason: str = "disconnected") -> None:
        super().__init__(message)
        self.reason = reason


class SourceStalled(SourceLost):
    """No samples arrived for longer than the watchdog allows."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="stalled")


class PacketDecodeError(SourceError):
    """Bytes from a device do not form a valid packet (bad CRC, bad length, bad COBS)."""


class CalibrationError(ImuTempoError):
    """Video marks and a recording cannot be compared or fitted."""


class ImuTempoWarning(RuntimeWarning):
    """A valid but suspect input or result (skipped line, rep across a gap, ...)."""
