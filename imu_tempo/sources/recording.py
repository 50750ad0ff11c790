"""Recording files (CSV v1): writing, reading, gap finding and replay.

Contents
--------
- :func:`write_recording`, :class:`RecordingWriter` -- write CSV v1 in one go or
  block by block while a live session runs (``live --record``).
- :func:`read_recording` -> :class:`Recording` -- parse and check a file; errors
  name the file and line.
- :func:`find_gaps` -- dropped samples: jumps in device time the sample clock did not expect.
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
from ..filters import SampleClock
from ..types import Gap, SampleBlock
from .axes import gyro_in_accel_axes

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

#: Accepted time units and their factor to seconds.
TIME_UNITS: Mapping[str, float] = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

#: Sample rates (Hz, from the median spacing of t) an IMU recording can have; outside them the
#: time unit is wrong (t in milliseconds read as seconds: 0.1 Hz).
PLAUSIBLE_RATE_HZ = (2.0, 100_000.0)

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
    RecordingError
        The file cannot be written (the message names it and the OS reason).
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
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        raise RecordingError(f"cannot write the recording: {exc.strerror or exc}", path=target) from None


def _refuse_unit_metadata(metadata: Mapping[str, str] | None) -> None:
    for key, expected in (("accel_unit", "m/s^2"), ("gyro_unit", "rad/s"), ("gyro_axes", "x,y,z"), ("time_unit", "s")):
        value = (metadata or {}).get(key)
        if value is not None and value.strip().lower().replace(" ", "") != expected:
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

    ``rows_written`` counts the rows handed to the OS, ``synced_rows`` those
    known to be on disk.  Not thread-safe: call it from one thread (normally
    the event loop).
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
        self.synced_rows = 0
        self._clock = clock
        self._sync_interval_s = float(sync_interval_s)
        self._last_t: float | None = None
        try:
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise RecordingError(f"cannot create the recording: {exc.strerror or exc}", path=self.path) from None
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
        self.synced_rows = self.rows_written


# ---------------------------------------------------------------------------
# Reading

#: A sensor at rest reads about 9.81 m/s^2; the median magnitude of a
#: recording converted to m/s^2 must fall in this band (generous: it allows
#: long stretches of hard movement while keeping the units 10x apart).
RESTING_ACCEL_BAND_MPS2 = (4.0, 25.0)

#: Angular rates above this (99th percentile of |gyro|, rad/s) are beyond any
#: IMU's range (2000 deg/s = 34.9 rad/s): the file is in deg/s.
MAX_PLAUSIBLE_GYRO_RADPS = 40.0

#: ``# sample_rate_hz:`` must agree with the median sample spacing within this ratio.
_RATE_TOLERANCE = (0.8, 1.25)


@dataclass(frozen=True, eq=False)
class Recording:
    """A recording read from a CSV v1 file, in SI units.

    Attributes
    ----------
    path : str
        The file it was read from.
    t_s : ndarray, shape (n,)
        Device time in seconds, strictly increasing (read-only).
    accel : ndarray, shape (n, 3)
        Acceleration in m/s^2, +9.81 "up" at rest (read-only).
    gyro : ndarray, shape (n, 3), or None
        Angular rate in rad/s (read-only), when the file has ``gx,gy,gz``.
    metadata : dict of str to str
        The leading ``# key: value`` lines.
    fs_hz : float
        Nominal sample rate: ``# sample_rate_hz:`` when present, else
        ``1 / median(diff(t_s))``.
    extra_columns : tuple of str
        Columns in the file that imu-tempo ignores, in file order.
    skipped_lines : tuple of int
        1-based line numbers skipped with an :class:`ImuTempoWarning`
        (a truncated last line).  Blank lines are skipped silently and not listed.
    warnings : tuple of str
        What the reader warned about (the data's health: a skipped line, a saturated
        sensor), in order; the analysis JSON repeats them.
    """

    path: str
    t_s: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray | None
    metadata: dict[str, str]
    fs_hz: float
    extra_columns: tuple[str, ...] = ()
    skipped_lines: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.t_s.shape[0]
        if self.t_s.ndim != 1 or self.accel.shape != (n, 3):
            raise ValueError(f"t_s must be (n,) and accel (n, 3); got {self.t_s.shape} and {self.accel.shape}")
        if self.gyro is not None and self.gyro.shape != (n, 3):
            raise ValueError(f"gyro must have shape ({n}, 3), got {self.gyro.shape}")
        if not (self.fs_hz > 0 and math.isfinite(self.fs_hz)):
            raise ValueError(f"fs_hz must be a positive number, got {self.fs_hz!r}")

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def name(self) -> str:
        """The file name without its directory."""
        return os.path.basename(self.path)

    @property
    def duration_s(self) -> float:
        """Device time from the first to the last sample, in seconds."""
        return float(self.t_s[-1] - self.t_s[0]) if len(self) else 0.0

    def gaps(self) -> list[Gap]:
        """The gaps in device time (see :func:`find_gaps`)."""
        return find_gaps(self.t_s, fs_hz=self.fs_hz)

    def blocks(self, block_size: int) -> Iterator[SampleBlock]:
        """Yield the samples as consecutive :class:`SampleBlock` views.

        Parameters
        ----------
        block_size : int
            Samples per block (the last block may be shorter); at least 1.

        Yields
        ------
        SampleBlock
            Views into this recording's (read-only) arrays with ``fs_hz`` set
            and ``dropped=0``: gaps stay visible as jumps in ``t_s``.
        """
        if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size < 1:
            raise ConfigError(f"block_size must be a whole number of samples >= 1, got {block_size!r}")
        n = len(self)
        for i in range(0, n, int(block_size)):
            j = min(i + int(block_size), n)
            yield SampleBlock(
                t_s=self.t_s[i:j],
                accel=self.accel[i:j],
                gyro=None if self.gyro is None else self.gyro[i:j],
                fs_hz=self.fs_hz,
                dropped=0,
            )


def find_gaps(t_s: np.ndarray, *, fs_hz: float) -> list[Gap]:
    """Find dropped samples in device time, as the engine does (:class:`~imu_tempo.filters.SampleClock`).

    A sample whose stamp comes more than half a period after the stream's (smoothed) sample clock
    expected it follows a gap: on a regular clock, a jump of more than 1.5 sample periods.  Stamps
    that jitter by up to about a third of a period either way are not gaps.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Device time in seconds, increasing.
    fs_hz : float
        Nominal sample rate.

    Returns
    -------
    list of Gap
        One per jump, in time order: ``start_s``/``end_s`` are the samples
        either side and ``missing`` the samples due between them (at least 1;
        ``round(dt * fs_hz) - 1`` on a regular clock).  Nothing is interpolated.
    """
    if not (isinstance(fs_hz, (int, float, np.floating, np.integer)) and fs_hz > 0 and math.isfinite(fs_hz)):
        raise ConfigError(f"fs_hz must be a positive number, got {fs_hz!r}")
    t = np.asarray(t_s, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"t_s must be 1-D, got shape {t.shape}")
    if t.shape[0] < 2:
        return []
    drops = SampleClock(period_s=1.0 / float(fs_hz)).drops(t)
    return [Gap(start_s=float(t[k - 1]), end_s=float(t[k]), missing=m) for k, m in drops]


@dataclass
class _Header:
    """What the lines before the data say."""

    metadata: dict[str, str] = field(default_factory=dict)
    metadata_lines: dict[str, int] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    header_line: int = 0
    data_offset: int = 0  # byte offset of the first data line


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _parse_header(data: bytes, path: str) -> _Header:
    h = _Header()
    pos = 0
    line_no = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        end = len(data) if nl < 0 else nl + 1
        line_no += 1
        s = _text(data[pos:end]).strip()
        pos = end
        if not s:
            continue
        if s.startswith("#"):
            body = s[1:]
            if ":" in body:
                key, value = body.split(":", 1)
                h.metadata[key.strip()] = value.strip()
                h.metadata_lines[key.strip()] = line_no
            continue
        h.names = [c.strip().strip('"').strip().lower() for c in s.split(",")]
        h.header_line = line_no
        h.data_offset = pos
        if nl < 0:
            missing = [c for c in ("t",) + ACCEL_COLUMNS if c not in h.names]
            cut = f" (cut while writing? the header lacks {', '.join(missing)})" if missing else ""
            raise RecordingError(f"the file ends at its header line{cut}: no data rows", path=path, line=line_no)
        return h
    if not data.strip():
        raise RecordingError("the file is empty: expected a header 't,ax,ay,az' and data rows", path=path)
    raise RecordingError(
        "only '#' metadata lines, no header 't,ax,ay,az' and no data rows", path=path, line=line_no
    )


def _column_indices(h: _Header, path: str) -> tuple[list[int], bool, tuple[str, ...]]:
    """Indices of t, ax, ay, az[, gx, gy, gz] in the header; whether gyro is present; extra columns."""
    names = h.names
    header_text = ",".join(names)
    seen: set[str] = set()
    for n in names:
        if n in seen and n:
            raise RecordingError(f"column {n!r} appears twice in the header {header_text!r}", path=path, line=h.header_line)
        seen.add(n)
    required = ("t",) + ACCEL_COLUMNS
    missing = [c for c in required if c not in names]
    if missing:
        hint = ""
        for sep, what in ((";", "semicolons"), ("\t", "tabs"), (" ", "spaces")):
            parts = [c.strip().strip('"').lower() for c in header_text.split(sep)]
            if len(names) == 1 and all(c in parts for c in required):
                cols = [c for c in required + GYRO_COLUMNS if c in parts]
                hint = (f"; its columns are separated by {what}, not commas: read it as it is with "
                        f"--map {','.join(f'{c}={c}' for c in cols)} (which also takes decimal commas)")
                break
        raise RecordingError(
            f"missing column(s) {', '.join(missing)}; header found: {header_text!r}; "
            "expected 't,ax,ay,az' with optional 'gx,gy,gz' (any order, extra columns allowed)" + hint,
            path=path,
            line=h.header_line,
        )
    gyro_present = [c for c in GYRO_COLUMNS if c in names]
    if gyro_present and len(gyro_present) != 3:
        lacking = [c for c in GYRO_COLUMNS if c not in names]
        raise RecordingError(
            f"gyro columns must come as gx,gy,gz together; header {header_text!r} has "
            f"{', '.join(gyro_present)} but not {', '.join(lacking)}",
            path=path,
            line=h.header_line,
        )
    has_gyro = bool(gyro_present)
    wanted = required + (GYRO_COLUMNS if has_gyro else ())
    idx = [names.index(c) for c in wanted]
    extra = tuple(n for n in names if n not in wanted)
    return idx, has_gyro, extra


class _RowParser:
    """Checks and converts one data line at a time (the slow path that names the bad line)."""

    def __init__(self, *, path: str, names: list[str], idx: list[int]) -> None:
        self.path = path
        self.names = names
        self.idx = idx
        self.ncols = len(names)
        self.prev_t: float | None = None
        self.prev_line: int | None = None

    def cells(self, line: str) -> list[str]:
        return [c.strip() for c in line.split(",")]

    def values(self, cells: list[str], line_no: int) -> list[float]:
        if len(cells) != self.ncols:
            raise RecordingError(
                f"{len(cells)} cells but the header has {self.ncols} ({','.join(self.names)})",
                path=self.path,
                line=line_no,
            )
        out: list[float] = []
        for i in self.idx:
            txt = cells[i]
            col = self.names[i]
            if not txt:
                raise RecordingError(f"column {col!r} is empty", path=self.path, line=line_no)
            try:
                v = float(txt)
            except ValueError:
                raise RecordingError(f"column {col!r}: {txt!r} is not a number", path=self.path, line=line_no) from None
            if not math.isfinite(v):
                raise RecordingError(
                    f"column {col!r} holds {txt!r}: NaN and infinite values are not allowed "
                    "(leave gaps as missing rows; imu-tempo finds them from t)",
                    path=self.path,
                    line=line_no,
                )
            out.append(v)
        return out

    def check_time(self, t: float, line_no: int) -> None:
        if self.prev_t is not None and not t > self.prev_t:
            how = "repeats" if t == self.prev_t else "goes backwards"
            raise RecordingError(
                f"time {how}: t={t!r} here, t={self.prev_t!r} on line {self.prev_line}; "
                "t must strictly increase (device clock, seconds)",
                path=self.path,
                line=line_no,
            )
        self.prev_t = t
        self.prev_line = line_no

    def parse_lines(self, body: bytes, first_line: int) -> np.ndarray:
        rows: list[list[float]] = []
        for k, raw in enumerate(body.split(b"\n")):
            line = _text(raw)
            if not line.strip():
                continue
            line_no = first_line + k
            vals = self.values(self.cells(line), line_no)
            self.check_time(vals[0], line_no)
            rows.append(vals)
        return np.array(rows, dtype=np.float64).reshape(-1, len(self.idx))


def _fast_parse(body: bytes, *, ncols: int, idx: list[int]) -> np.ndarray | None:
    """Vectorised parse of the data lines; None when anything is off (the slow path then names it)."""
    try:
        table = np.loadtxt(io.BytesIO(body), delimiter=",", comments=None, ndmin=2, dtype=np.float64)
    except ValueError:
        return None
    if table.shape[1] != ncols:
        return None
    table = table[:, idx]
    if not np.isfinite(table).all():
        return None
    if table.shape[0] > 1 and not (np.diff(table[:, 0]) > 0).all():
        return None
    return table


def _resolve_unit(
    kind: str, argument: str | None, h: _Header, table: Mapping[str, float], path: str
) -> tuple[str, str]:
    """The unit to apply and where it came from (for messages)."""
    key = f"{kind}_unit"
    accepted = ", ".join(repr(u) for u in table)
    if argument is not None:
        unit = argument.strip().lower()
        if unit not in table:
            raise ConfigError(f"{key} {argument!r} is not supported; use one of {accepted}")
        return unit, f"--{kind}-unit {unit}"
    if key in h.metadata:
        value = h.metadata[key]
        unit = value.strip().lower()
        line = h.metadata_lines[key]
        if unit not in table:
            raise ConfigError(f"{path}:{line}: '# {key}: {value}' is not a supported unit; use one of {accepted}")
        return unit, f"'# {key}: {value}' on line {line}"
    default = next(iter(table))
    return default, f"the default {default}"


def _check_time_unit(t_s: np.ndarray, unit: str, source: str, path: str) -> None:
    if t_s.shape[0] < 2:
        return
    spacing = float(np.median(np.diff(t_s)))
    lo, hi = PLAUSIBLE_RATE_HZ
    if lo <= 1.0 / spacing <= hi:
        return
    raw = spacing / TIME_UNITS[unit]
    fits = [u for u, f in TIME_UNITS.items() if 5.0 <= 1.0 / (raw * f) <= 2000.0]
    head = (
        f"time looks mis-scaled: samples are typically {raw:.6g} apart in t, {1.0 / spacing:.4g} Hz reading t "
        f"in {unit} ({source}), but IMUs sample at {lo:g}-{hi:g} Hz."
    )
    if fits:
        good = fits[0]
        raise UnitError(f"{head} In {good} it is {1.0 / (raw * TIME_UNITS[good]):.4g} Hz: pass --time-unit {good}.", path=path)
    raise UnitError(f"{head} No time unit gives a plausible rate: check that t is the time column.", path=path)


def _check_accel_unit(accel_mps2: np.ndarray, unit: str, source: str, explicit: bool, path: str) -> None:
    lo, hi = RESTING_ACCEL_BAND_MPS2
    typical = float(np.median(np.linalg.norm(accel_mps2, axis=1)))
    if lo <= typical <= hi:
        return
    raw = typical / ACCEL_UNITS[unit]
    fits = [u for u, f in ACCEL_UNITS.items() if lo <= raw * f <= hi]
    head = (
        f"acceleration looks mis-scaled: its typical magnitude is {typical:.3g} m/s^2 reading the data "
        f"as {unit} ({source}), but a sensor at rest reads about 9.81 m/s^2."
    )
    # Gravity is always in raw accelerometer data, so their mean vector is far from zero;
    # "linear acceleration" exports (gravity removed) average out to about zero.
    mean_norm = float(np.linalg.norm(accel_mps2.mean(axis=0)))
    gravity_removed = accel_mps2.shape[0] >= 10 and mean_norm < 0.25 * typical
    if not fits or gravity_removed:
        why = "Their mean is near zero, as if gravity was removed" if gravity_removed else "No supported unit gives about 9.81"
        raise UnitError(
            f"{head} {why}: imu-tempo needs raw accelerometer readings (gravity not removed) in m/s^2, g "
            "or mg; check the sensor's export settings and that ax,ay,az are the right columns.",
            path=path,
        )
    good = fits[0]
    if good == "m/s^2" and explicit:
        advice = f"The data are already in m/s^2: drop --accel-unit {unit}"
    elif good == "m/s^2":
        advice = "The data are already in m/s^2: fix or remove the file's accel_unit line, or pass --accel-unit m/s^2"
    else:
        advice = f"The data look like {good}: pass --accel-unit {good}"
    raise UnitError(f"{head} {advice}.", path=path)


def saturated(values: np.ndarray, *, min_level: float = 0.0) -> tuple[np.ndarray, float | None]:
    """Rows where an axis sits at the recording's largest ``|value|`` in a run of >= 3, and that level.

    A saturated sensor returns its full-scale value for as long as the true value is
    beyond it; real signals touch their maximum only briefly.  Levels below ``min_level``
    (the smallest full scale of such sensors) are not counted: a quiet axis can repeat its
    maximum without being clipped.
    """
    rows = np.zeros(values.shape[0], dtype=bool)
    level = None
    if values.size == 0:
        return rows, None
    top = np.abs(values).max(axis=0)
    for j in range(values.shape[1]):
        if top[j] == 0 or top[j] < min_level:
            continue
        at = np.abs(values[:, j]) >= top[j] * (1 - 1e-6)
        if at.sum() < 3:
            continue
        edges = np.diff(np.concatenate(([0], at.astype(np.int8), [0])))
        hit = False
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            if b - a >= 3:
                rows[a:b] = hit = True
        if hit:
            level = float(top[j]) if level is None else max(level, float(top[j]))
    return rows, level


#: The smallest full scale of an IMU: below it a repeated maximum is not taken for saturation.
MIN_FULL_SCALE_MPS2 = 1.9 * STANDARD_GRAVITY  # +-2 g
MIN_FULL_SCALE_RADPS = 2.0  # +-125 deg/s


def _saturation_note(t: np.ndarray, values: np.ndarray, *, what: str, min_level: float, shown, advice: str,
                     path: str) -> list[str]:
    rows, level = saturated(values, min_level=min_level)
    n = int(rows.sum())
    if not n:
        return []
    return [
        f"{path}: the {what} is saturated: {n} sample(s) ({100.0 * n / rows.shape[0]:.1f} %) sit at its limit, "
        f"{shown(level)}, first at t = {t[int(np.argmax(rows))]:.2f} s; movement beyond it is lost, so reps "
        f"through those stretches may be missed or timed wrong.  {advice}"
    ]


def _check_gyro_unit(gyro_radps: np.ndarray, unit: str, source: str, path: str) -> None:
    if unit != "rad/s" or gyro_radps.shape[0] == 0:
        return
    high = float(np.percentile(np.linalg.norm(gyro_radps, axis=1), 99))
    if high > MAX_PLAUSIBLE_GYRO_RADPS:
        raise UnitError(
            f"angular rate looks mis-scaled: {high:.3g} rad/s (99th percentile, reading the data as rad/s "
            f"from {source}) is beyond any IMU's range; the data look like deg/s: pass --gyro-unit deg/s.",
            path=path,
        )


def _sample_rate(t: np.ndarray, h: _Header, path: str) -> float:
    declared = h.metadata.get("sample_rate_hz")
    spacing = float(np.median(np.diff(t))) if t.shape[0] >= 2 else None
    if declared is not None:
        line = h.metadata_lines["sample_rate_hz"]
        try:
            fs = float(declared)
        except ValueError:
            fs = float("nan")
        if not (fs > 0 and math.isfinite(fs)):
            raise RecordingError(f"sample_rate_hz {declared!r} is not a positive number of Hz", path=path, line=line)
        if spacing is not None:
            ratio = spacing * fs
            if not _RATE_TOLERANCE[0] <= ratio <= _RATE_TOLERANCE[1]:
                raise RecordingError(
                    f"sample_rate_hz: {declared} disagrees with the data: samples are typically "
                    f"{spacing:.6g} s apart ({1 / spacing:.4g} Hz); fix or remove the line",
                    path=path,
                    line=line,
                )
        return fs
    if spacing is None:
        raise RecordingError(
            "only one sample and no '# sample_rate_hz:' line: the sample rate cannot be known", path=path
        )
    return 1.0 / spacing


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def read_recording(
    path: str | os.PathLike[str], *, accel_unit: str | None = None, gyro_unit: str | None = None,
    gyro_axes: str | None = None, time_unit: str | None = None,
) -> Recording:
    """Read and check a CSV v1 recording (format: ``recordings/README.md``).

    Parameters
    ----------
    path : str or PathLike
        The file.
    accel_unit : {"m/s^2", "g", "mg"} or None
        Unit of ``ax,ay,az`` in the file.  None: the file's ``# accel_unit:``
        line if it has one, else m/s^2.  A value given here always wins over
        the file's line.
    gyro_unit : {"rad/s", "deg/s"} or None
        Unit of ``gx,gy,gz``, resolved the same way (default rad/s).
    gyro_axes : str or None
        How ``gx,gy,gz`` map onto the accelerometer's axes when the gyroscope follows
        another convention (:mod:`imu_tempo.sources.axes`): ``"-x,-y,-z"``, ``"y,x,-z"``, ...,
        or ``"none"`` to leave the gyroscope out.  None: the file's ``# gyro_axes:`` line if
        it has one; else the columns as they are, checked against the accelerometer.
    time_unit : {"s", "ms", "us", "ns"} or None
        Unit of ``t``, resolved like the others (default s).  A spacing that says the
        unit is wrong (a rate below 2 Hz or above 100 kHz) is a UnitError naming the unit that fits.

    Returns
    -------
    Recording
        Time in seconds, acceleration in m/s^2 (1 g = 9.80665 m/s^2), angular
        rate in rad/s.  Gaps in time are kept as they are (see :func:`find_gaps`).

    Raises
    ------
    RecordingError
        The file cannot be opened or read as CSV v1; the message names the
        file, the line and what is wrong.
    UnitError
        The data's magnitude contradicts the unit (1 g read as 1 m/s^2, ...), or the
        gyroscope turns gravity the wrong way for the accelerometer (another axis
        convention); the message suggests the flag to use.
    ConfigError
        An unknown unit name or axis mapping (argument or ``# accel_unit:`` line).

    Warns
    -----
    ImuTempoWarning
        The last line is incomplete (the file ends mid-line, as Ctrl-C or a
        power loss leaves it): it is skipped and listed in ``skipped_lines``.
        Or a sensor sat at the limit of its range (saturated).

    Notes
    -----
    Blocking file I/O in the calling thread.  Well-formed files take a
    vectorised path (``np.loadtxt``); only when that fails is the file
    scanned line by line to name the bad line.
    """
    p = os.fspath(path)
    try:
        with open(p, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise RecordingError(f"cannot open the recording: {exc.strerror or exc}", path=p) from None
    if b"\x00" in data[:4096]:
        raise RecordingError("this looks like a binary file, not a CSV recording", path=p)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    h = _parse_header(data, p)
    idx, has_gyro, extra = _column_indices(h, p)
    accel_u, accel_src = _resolve_unit("accel", accel_unit, h, ACCEL_UNITS, p)
    gyro_u, gyro_src = _resolve_unit("gyro", gyro_unit, h, GYRO_UNITS, p)
    time_u, time_src = _resolve_unit("time", time_unit, h, TIME_UNITS, p)

    body = data[h.data_offset :]
    tail = b""
    if body and not body.endswith(b"\n"):
        cut = body.rfind(b"\n") + 1
        body, tail = body[:cut], body[cut:]
    first_line = h.header_line + 1
    parser = _RowParser(path=p, names=h.names, idx=idx)
    if body.strip():
        table = _fast_parse(body, ncols=len(h.names), idx=idx)
        if table is None:
            table = parser.parse_lines(body, first_line)
    else:
        table = np.empty((0, len(idx)))
    skipped: list[int] = []
    notes: list[str] = []  # warned about once the file has passed its checks (and kept in the Recording)
    if tail.strip():
        # Every writer ends its lines with a newline: a last line without one may have been
        # cut mid-number ("9.81" -> "9.8"), which no check could tell.  Skip it, loudly.
        tail_line = first_line + body.count(b"\n")
        shown = _text(tail).strip()
        if table.shape[0] == 0:
            raise RecordingError(
                f"no complete data row: the only row {shown!r} does not end with a newline "
                "(cut while writing?); add the newline if the row is complete",
                path=p,
                line=tail_line,
            )
        notes.append(
            f"{p}:{tail_line}: skipped the last line {shown!r}: it does not end with a newline, so it may "
            "have been cut mid-write (Ctrl-C, power loss); if it is complete, add a newline at the end"
        )
        skipped.append(tail_line)
    if table.shape[0] == 0:
        raise RecordingError(f"the header (line {h.header_line}) is followed by no data rows", path=p)

    t = table[:, 0] * TIME_UNITS[time_u]
    _check_time_unit(t, time_u, time_src, p)
    accel = table[:, 1:4] * ACCEL_UNITS[accel_u]
    gyro = table[:, 4:7] * GYRO_UNITS[gyro_u] if has_gyro else None
    _check_accel_unit(accel, accel_u, accel_src, accel_unit is not None, p)
    if gyro is not None:
        _check_gyro_unit(gyro, gyro_u, gyro_src, p)
        if gyro_axes is None and "gyro_axes" in h.metadata:
            gyro_axes, where = h.metadata["gyro_axes"], f"'# gyro_axes: ...' on line {h.metadata_lines['gyro_axes']}"
        else:
            where = f"--gyro-axes={gyro_axes}"
        gyro, note = gyro_in_accel_axes(t, accel, gyro, gyro_axes, where=where, path=p)
        notes += [note] if note else []
    notes += _saturation_note(t, accel, what="accelerometer", min_level=MIN_FULL_SCALE_MPS2, path=p,
                              shown=lambda v: f"+-{v / STANDARD_GRAVITY:.2f} g",
                              advice="Record with a range of +-8 g or more (+-16 g for swings and jumps).")
    if gyro is not None:
        notes += _saturation_note(t, gyro, what="gyroscope", min_level=MIN_FULL_SCALE_RADPS, path=p,
                                  shown=lambda v: f"+-{math.degrees(v):.0f} deg/s",
                                  advice="Record with a range of +-1000 deg/s or more.")
    for note in notes:
        warnings.warn(note, ImuTempoWarning, stacklevel=2)
    fs = _sample_rate(t, h, p)
    return Recording(
        path=p,
        t_s=_readonly(t),
        accel=_readonly(accel),
        gyro=None if gyro is None else _readonly(gyro),
        metadata=dict(h.metadata),
        fs_hz=fs,
        extra_columns=extra,
        skipped_lines=tuple(skipped),
        warnings=tuple(notes),
    )


# ---------------------------------------------------------------------------
# Replay


class ReplaySource:
    """Yield a recording as sample blocks, paced by device time.

    Parameters
    ----------
    recording : Recording
        What to replay (see :func:`read_recording`).
    speed : float or None
        Playback speed: 1.0 is real time, 2.0 twice as fast.  Each block is
        released when its last sample is due, at ``start + (t - t0) / speed``
        on ``clock``, where ``start`` is when iteration began and ``t0`` the
        first sample's time; a late host gets the overdue blocks at once
        (after a ``sleep(0)``) and the schedule does not drift.  None replays
        as fast as possible, still yielding to the event loop (``sleep(0)``)
        whenever ``max_busy_s`` of ``clock`` time went by without a pause.
    block_size : int or None
        Samples per block; None uses ``max(1, round(fs_hz / 50))``, about one
        BLE notification.
    clock : callable returning float
        Monotonic host clock in seconds (injectable for tests); also stamps
        ``SampleBlock.host_time_s``.
    sleep : async callable taking seconds
        How to wait (injectable for tests).

    Raises
    ------
    ConfigError
        ``speed`` or ``block_size`` out of range.
    SourceError
        Iterated outside ``async with``.

    Notes
    -----
    A :class:`~imu_tempo.sources.Source`: iterate inside ``async with``.
    Runs on the event loop that iterates it.  Blocks are read-only views of
    the recording's arrays, with ``dropped=0`` (gaps are jumps in ``t_s``).
    """

    #: Longest stretch of ``clock`` time (s) without yielding to the loop at ``speed=None``.
    max_busy_s = 0.02

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float | None = 1.0,
        block_size: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if speed is not None and (
            isinstance(speed, bool) or not isinstance(speed, (int, float)) or not (speed > 0 and math.isfinite(speed))
        ):
            raise ConfigError(
                f"speed must be a positive number (1.0 = real time) or None (as fast as possible), got {speed!r}"
            )
        if block_size is None:
            block_size = max(1, round(recording.fs_hz / 50.0))
        elif isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ConfigError(f"block_size must be a whole number of samples >= 1, got {block_size!r}")
        self.recording = recording
        self.speed = None if speed is None else float(speed)
        self.block_size = int(block_size)
        self.name = recording.name
        self._clock = clock
        self._sleep = sleep
        self._entered = False
        self._closed = False

    def __repr__(self) -> str:
        return f"ReplaySource({self.recording.path!r}, speed={self.speed!r}, block_size={self.block_size})"

    async def __aenter__(self) -> ReplaySource:
        self._entered = True
        self._closed = False
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed = True

    def __aiter__(self) -> AsyncIterator[SampleBlock]:
        if not self._entered or self._closed:
            raise SourceError(f"{self.name}: iterate a ReplaySource inside 'async with source:'")
        return self._blocks()

    async def _blocks(self) -> AsyncIterator[SampleBlock]:
        rec = self.recording
        n = len(rec)
        if n == 0:
            return
        t, accel, gyro = rec.t_s, rec.accel, rec.gyro
        t0 = float(t[0])
        start = self._clock()
        last_pause = start
        for i in range(0, n, self.block_size):
            if self._closed:
                return
            j = min(i + self.block_size, n)
            if self.speed is None:
                if self._clock() - last_pause >= self.max_busy_s:
                    await self._sleep(0)
                    last_pause = self._clock()
            else:
                wait = start + (float(t[j - 1]) - t0) / self.speed - self._clock()
                await self._sleep(wait if wait > 0 else 0)
            yield SampleBlock(
                t_s=t[i:j],
                accel=accel[i:j],
                gyro=None if gyro is None else gyro[i:j],
                fs_hz=rec.fs_hz,
                dropped=0,
                host_time_s=self._clock(),
            )
