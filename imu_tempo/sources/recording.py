"""Recording files (CSV v1): writing, reading, gap finding and replay.

Contents
--------
- :func:`write_recording`, :class:`RecordingWriter` -- write CSV v1 in one go or
  block by block while a live session runs (``live --record``).
- :func:`read_recording` -> :class:`Recording` -- parse and check a file; errors
  name the file and line.
- :func:`find_gaps` -- jumps in device time longer than 1.5 sample periods.
- :class:`ReplaySource` -- a :class:`~imu_tempo.sources.Source` that yields a
  recording as :class:`~imu_tempo.types.SampleBlock` objects, paced by device time.

The format is specified in ``recordings/README.md``.  In short::

    # sensor: demo-imu
    # sample_rate_hz: 100
    t,ax,ay,az,gx,gy,gz
    12.000000,0.0123,0.231,9.79,0.001,-0.02,0.0003
    ...

``t`` is seconds on the device clock (any origin, strictly increasing),
acceleration is m/s^2 as an accelerometer reports it (about +9.81 along "up"
at rest) and angular rate is rad/s, unless ``# accel_unit:`` /
``# gyro_unit:`` metadata or the reader's arguments say otherwise.
"""

from __future__ import annotations

import asyncio
import io
import math
import os
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO

import numpy as np

from ..errors import ConfigError, ImuTempoWarning, RecordingError, SourceError, UnitError
from ..types import Gap, SampleBlock

__all__ = [
    "ACCEL_UNITS",
    "GYRO_UNITS",
    "STANDARD_GRAVITY",
    "Recording",
    "RecordingWriter",
    "ReplaySource",
    "find_gaps",
    "read_recording",
    "write_recording",
]

#: Standard gravity in m/s^2 (the value of 1 g used for unit conversion).
STANDARD_GRAVITY = 9.80665

#: Accepted acceleration units and their factor to m/s^2.
ACCEL_UNITS: Mapping[str, float] = {"m/s^2": 1.0, "g": STANDARD_GRAVITY, "mg": STANDARD_GRAVITY / 1000.0}

#: Accepted angular-rate units and their factor to rad/s.
GYRO_UNITS: Mapping[str, float] = {"rad/s": 1.0, "deg/s": math.pi / 180.0}

ACCEL_COLUMNS = ("ax", "ay", "az")
GYRO_COLUMNS = ("gx", "gy", "gz")

_TIME_FMT = "%.6f"
_VALUE_FMT = "%.6g"
_FORMAT_CHUNK_ROWS = 50_000


# ---------------------------------------------------------------------------
# Writing


def _check_metadata(metadata: Mapping[str, str] | None) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(f"metadata keys and values must be strings, got {key!r}: {value!r}")
        k, v = key.strip(), value.strip()
        if not k or ":" in k or "\n" in k or "\r" in k or k.startswith("#"):
            raise ConfigError(f"metadata key {key!r} must be non-empty, one line, without ':' or a leading '#'")
        if "\n" in v or "\r" in v:
            raise ConfigError(f"metadata value for {key!r} must be one line, got {value!r}")
        items.append((k, v))
    return items


def _header_text(*, has_gyro: bool, metadata: Mapping[str, str] | None) -> str:
    lines = [f"# {k}: {v}\n" for k, v in _check_metadata(metadata)]
    columns = ("t",) + ACCEL_COLUMNS + (GYRO_COLUMNS if has_gyro else ())
    lines.append(",".join(columns) + "\n")
    return "".join(lines)


def _as_rows(
    t_s: np.ndarray, accel: np.ndarray, gyro: np.ndarray | None, *, after_s: float | None
) -> np.ndarray:
    """Validate the arrays and stack them into an (n, 4|7) float64 table."""
    t = np.asarray(t_s, dtype=np.float64)
    a = np.asarray(accel, dtype=np.float64)
    n = t.shape[0] if t.ndim == 1 else -1
    if t.ndim != 1:
        raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
    if a.shape != (n, 3):
        raise ValueError(f"accel must have shape ({n}, 3), got {a.shape}")
    cols = [t[:, None], a]
    if gyro is not None:
        g = np.asarray(gyro, dtype=np.float64)
        if g.shape != (n, 3):
            raise ValueError(f"gyro must have shape ({n}, 3), got {g.shape}")
        cols.append(g)
    table = np.hstack(cols)
    if n == 0:
        return table
    bad = ~np.isfinite(table).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"sample {i} (t={float(t[i])!r}) has a NaN or infinite value; recordings hold finite numbers only")
    steps = np.diff(t)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise ValueError(f"t_s must strictly increase: sample {i + 1} has t={float(t[i + 1])!r} after t={float(t[i])!r}")
    if after_s is not None and not t[0] > after_s:
        raise ValueError(f"t_s must strictly increase: block starts at t={float(t[0])!r} after t={after_s!r}")
    return table


def _format_rows(table: np.ndarray) -> str:
    """Format an (n, k) table as CSV lines (time with 6 decimals, values with 6 significant digits)."""
    n, k = table.shape
    if n == 0:
        return ""
    row = ",".join([_TIME_FMT] + [_VALUE_FMT] * (k - 1)) + "\n"
    parts = []
    for i in range(0, n, _FORMAT_CHUNK_ROWS):
        chunk = table[i : i + _FORMAT_CHUNK_ROWS]
        parts.append((row * chunk.shape[0]) % tuple(chunk.ravel().tolist()))
    return "".join(parts)


def write_recording(
    path: str | os.PathLike[str],
    *,
    t_s: np.ndarray,
    accel: np.ndarray,
    gyro: np.ndarray | None = None,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write a whole recording as CSV v1.

    Parameters
    ----------
    path : str or PathLike
        File to create (overwritten if it exists).
    t_s : ndarray, shape (n,)
        Device time in seconds, strictly increasing; written with 6 decimals.
    accel : ndarray, shape (n, 3)
        Acceleration in m/s^2 (+9.81 "up" at rest); written with 6 significant digits.
    gyro : ndarray, shape (n, 3), optional
        Angular rate in rad/s; adds the ``gx,gy,gz`` columns.
    metadata : mapping of str to str, optional
        Written as leading ``# key: value`` lines, in order.  Keys such as
        ``sample_rate_hz``, ``sensor``, ``placement`` and ``exercise`` are
        understood or shown by the reader.  Do not declare ``accel_unit`` /
        ``gyro_unit`` here: the values written are always m/s^2 and rad/s.

    Raises
    ------
    ValueError
        Wrong shapes, non-finite values or time not strictly increasing
        (nothing is written).
    ConfigError
        Metadata that cannot be written as one ``# key: value`` line, or
        that declares a unit other than m/s^2 / rad/s.

    Notes
    -----
    Runs in the calling thread; formatting is vectorised (about 0.5 s per
    360,000 rows of 7 columns).  The file is written to ``path + ".partial"``
    and renamed, so ``path`` never holds half a recording.
    """
    _refuse_unit_metadata(metadata)
    table = _as_rows(t_s, accel, gyro, after_s=None)
    text = _header_text(has_gyro=gyro is not None, metadata=metadata) + _format_rows(table)
    target = os.fspath(path)
    tmp = target + ".partial"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)


def _refuse_unit_metadata(metadata: Mapping[str, str] | None) -> None:
    for key, expected in (("accel_unit", "m/s^2"), ("gyro_unit", "rad/s")):
        value = (metadata or {}).get(key)
        if value is not None and value.strip().lower() != expected:
            raise ConfigError(
                f"metadata {key}: {value!r} would mislabel the file: the writer always writes {expected}; "
                "convert the data instead"
            )


class RecordingWriter:
    """Append sample blocks to a CSV v1 file while a session runs.

    Parameters
    ----------
    path : str or PathLike
        File to create (overwritten if it exists).
    has_gyro : bool
        Whether the ``gx,gy,gz`` columns are written.  Blocks must match.
    metadata : mapping of str to str, optional
        Leading ``# key: value`` lines (see :func:`write_recording`).  Pass
        ``sample_rate_hz`` so a replay knows the nominal rate.
    sync_interval_s : float
        Longest time, on ``clock``, between two ``os.fsync`` calls while
        blocks keep arriving.
    clock : callable returning float
        Monotonic clock in seconds (injectable for tests).

    Notes
    -----
    Durability: the header is written and flushed when the writer opens, and
    every :meth:`write` hands its complete lines to the operating system
    before it returns, so another process reading the file, or the file
    left behind by Ctrl-C or a crash of this process, has every row written
    so far.  The data is also forced to disk (``os.fsync``) on the first
    write at least ``sync_interval_s`` after the previous sync, and on
    :meth:`flush` and :meth:`close`; a power loss therefore loses at most
    about one second of rows (plus a possibly cut last line, which the
    reader skips with a warning).

    Not thread-safe: call it from one thread (normally the event loop).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        has_gyro: bool,
        metadata: Mapping[str, str] | None = None,
        sync_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (sync_interval_s > 0 and math.isfinite(sync_interval_s)):
            raise ConfigError(f"sync_interval_s must be a positive number of seconds, got {sync_interval_s!r}")
        _refuse_unit_metadata(metadata)
        header = _header_text(has_gyro=has_gyro, metadata=metadata)
        self.path = os.fspath(path)
        self.has_gyro = has_gyro
        self.rows_written = 0
        self._clock = clock
        self._sync_interval_s = float(sync_interval_s)
        self._last_t: float | None = None
        self._file: IO[str] | None = open(self.path, "w", encoding="utf-8", newline="\n")
        self._file.write(header)
        self._sync()

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, block: SampleBlock) -> None:
        """Append the block's samples as CSV lines.

        Raises
        ------
        ValueError
            The block has (or lacks) gyro data unlike ``has_gyro``, holds a
            non-finite value, or its time does not continue strictly after
            the previous block.  Nothing from that block is written, so the
            file stays valid.
        RuntimeError
            The writer is closed.
        """
        f = self._require_open()
        if (block.gyro is not None) != self.has_gyro:
            want = "with" if self.has_gyro else "without"
            raise ValueError(f"{self.path}: writer was opened {want} gyro columns; got a block that does not match")
        table = _as_rows(block.t_s, block.accel, block.gyro, after_s=self._last_t)
        if table.shape[0] == 0:
            return
        f.write(_format_rows(table))
        f.flush()
        self._last_t = float(table[-1, 0])
        self.rows_written += table.shape[0]
        if self._clock() - self._last_sync_s >= self._sync_interval_s:
            self._sync()

    def flush(self) -> None:
        """Force everything written so far to disk (``os.fsync``)."""
        self._require_open()
        self._sync()

    def close(self) -> None:
        """Flush, sync and close the file.  Calling it again does nothing."""
        if self._file is None:
            return
        try:
            self._sync()
        finally:
            self._file.close()
            self._file = None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _require_open(self) -> IO[str]:
        if self._file is None:
            raise RuntimeError(f"{self.path}: the recording writer is closed")
        return self._file

    def _sync(self) -> None:
        f = self._require_open()
        f.flush()
        os.fsync(f.fileno())
        self._last_sync_s = self._clock()
