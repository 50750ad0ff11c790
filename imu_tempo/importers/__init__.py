"""Importers: recordings from phone apps and other loggers, converted to what CSV v1 holds.

Contents
--------
- :func:`detect_format` -- which export a path is (from its header, never its name alone).
- :func:`load_any` -> :class:`~imu_tempo.sources.recording.Recording` -- one session from
  one or more files, a folder or a zip: time in seconds, acceleration in m/s^2 (specific
  force, +9.81 "up" at rest), angular rate in rad/s, metadata.
- :func:`group_inputs` -- files and folders -> one group of paths per session (batch).
- :func:`parse_mapping` -- the ``--map`` column mapping of the generic importer.
- ``convert`` -- ``imu-tempo convert`` (write any of these as CSV v1).

Formats (``--format`` names)
----------------------------
============== ======================================================================
csv-v1         imu-tempo's own recording format (``recordings/README.md``)
phyphox        phyphox CSV exports: "Acceleration (with g)", "Gyroscope" (one file,
               several, or the export's zip/folder, any of its 5 CSV dialects).
               "Acceleration without g" is recognised and refused with the reason.
sensor-logger  Sensor Logger (tszheichoi): TotalAcceleration.csv, or Accelerometer.csv +
               Gravity.csv; Gyroscope.csv; the zip or folder; Metadata.csv for the
               device and platform.
metamotion     MbientLab MetaMotion / MetaBase CSV: accelerometer (g) and gyroscope
               (deg/s) files with ``epoc (ms)``, usually at different rates.
polar          Polar Sensor Logger ``*_ACC.txt`` (mg) and ``*_GYRO.txt`` (deg/s).
generic        any delimited file, with ``--map`` naming the columns and units.
============== ======================================================================

How multi-rate and multi-file sources are combined
--------------------------------------------------
The accelerometer's clock is the recording's clock: every accelerometer sample is kept as
it was stamped, and no accelerometer sample is ever invented.  Other streams (gyroscope,
Sensor Logger's gravity) are linearly interpolated at the accelerometer's time stamps.
Holes in those streams up to 0.1 s (:data:`~._common.BRIDGE_S`) are bridged; accelerometer
samples inside a longer hole, or before the other stream starts / after it ends, are
dropped, so the hole becomes a gap that the analysis reports.  Gaps in the accelerometer
stay gaps.  Rows that repeat the previous row exactly, or whose time goes backwards, are
dropped; samples sharing one stamp of a coarse clock are spread evenly up to the next
stamp.  Everything an import changed is listed in the metadata key ``import_notes``; when
rows were dropped an :class:`~imu_tempo.errors.ImuTempoWarning` says so too.

What was verified and what was not
----------------------------------
Column names and units were taken from each app's own documentation or source:
phyphox from phyphox-android's ``DataExport.java`` and experiment files; Sensor Logger
from its documentation repository (UNITS.md, COORDINATES.md, CROSSPLATFORM.md, README);
MetaBase from MbientLab's MetaBase iOS source (``SensorConfig.swift``); Polar Sensor
Logger from SDK-example code that writes the same headers.  No export file from a real
device was available, so these are **not verified against real exports**:

- phyphox on iOS: that its acceleration has the Android sign convention (+z up when the
  phone lies face up).  A flipped sign would not change rep times (see sensorlogger.py).
- Sensor Logger: the ``Metadata.csv`` columns ``platform`` and ``standardisation``
  (from a third-party test fixture that says it copied a real export).
- MetaBase: the file-name pattern carrying the rate, and whether ``epoc (ms)`` has
  fractional milliseconds.
- Polar Sensor Logger: trailing spaces or ``;`` after the header, the file-name pattern.

The test fixtures under ``tests/importers/fixtures`` are written from these specifications.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping, Sequence

from ..errors import ConfigError, ImuTempoWarning, RecordingError
from ..sources.recording import Recording
from . import generic, metamotion, phyphox, polar, sensorlogger
from ._common import InputFile, expand, read_table
from .generic import parse_mapping

__all__ = ["FORMATS", "detect_format", "group_inputs", "load_any", "parse_mapping", "sniff"]

#: Every ``--format`` name.
FORMATS = ("csv-v1", "phyphox", "sensor-logger", "metamotion", "polar", "generic")

_LOADERS = {
    "phyphox": phyphox.load,
    "sensor-logger": sensorlogger.load,
    "metamotion": metamotion.load,
    "polar": polar.load,
}

KNOWN = (
    "a CSV v1 recording (t,ax,ay,az[,gx,gy,gz]), a phyphox export (\"Time (s)\",\"Acceleration x (m/s^2)\",...), "
    "Sensor Logger files (time,seconds_elapsed,z,y,x), MetaBase files (epoc (ms),...,x-axis (g),...) or "
    "Polar Sensor Logger files (Phone timestamp;sensor timestamp [ns];X [mg];...); for anything else "
    "pass --map (e.g. --map \"t=time:ms,ax=AccX:g,ay=AccY:g,az=AccZ:g\")"
)


def sniff(f: InputFile) -> tuple[str, str] | None:
    """``(format, kind)`` of one file from its header, or None when no format matches."""
    try:
        table = read_table(f, skip_comments=True)
    except RecordingError:
        return None
    names = table.names
    if {"t", "ax", "ay", "az"} <= set(names):
        return ("csv-v1", "recording")
    k = phyphox.kinds(table)
    if k:
        return ("phyphox", "accel" if "accel" in k else "gyro" if "gyro" in k else "linear")
    for mod in (metamotion, polar):
        kk = mod.kind(table)
        if kk is not None:
            return (mod.NAME, kk)
    kk = sensorlogger.kind(f, table)
    if kk is not None:
        return ("sensor-logger", kk)
    return None


def detect_format(path: str | os.PathLike[str]) -> str:
    """The format of a file, folder or zip (one of :data:`FORMATS` except ``generic``).

    Raises :class:`~imu_tempo.errors.RecordingError` naming the formats understood when
    nothing matches.
    """
    files, container = expand(path)
    found = [s for s in (sniff(f) for f in files) if s is not None]
    formats = {fmt for fmt, kind in found if not (fmt == "sensor-logger" and kind in ("metadata", "other"))}
    if not formats and found:
        formats = {found[0][0]}
    if len(formats) == 1:
        return formats.pop()
    p = os.fspath(path)
    if not formats:
        what = "no file in it is" if container else "its header is not"
        raise RecordingError(f"cannot tell the format: {what} {KNOWN}", path=p)
    raise RecordingError(f"files of several formats ({', '.join(sorted(formats))}); pass one session", path=p)


def load_any(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    format: str | None = None,
    mapping: Mapping[str, str] | str | None = None,
    accel_unit: str | None = None,
    gyro_unit: str | None = None,
    gyro_axes: str | None = None,
    time_unit: str | None = None,
) -> Recording:
    """Read one session from any supported export.

    Parameters
    ----------
    paths : path or sequence of paths
        The session's files (e.g. a MetaBase accelerometer and gyroscope file), a folder,
        or a zip.  Folders and zips may hold other files; they are ignored.
    format : str or None
        One of :data:`FORMATS`; None detects it from the headers.
    mapping : mapping or str, optional
        Column mapping for ``generic`` (implies it); see :func:`parse_mapping`.
    accel_unit, gyro_unit, time_unit : str, optional
        Units for CSV v1 (as ``read_recording``) and default units of a ``generic``
        mapping.  Other formats state their units; passing one there is a ConfigError.
    gyro_axes : str, optional
        How the gyroscope's columns map onto the accelerometer's axes ("-x,-y,-z", ..., or
        "none" to leave it out; :mod:`imu_tempo.sources.axes`).  None: as they are, checked.

    Returns
    -------
    Recording
        ``t_s`` (n,) seconds strictly increasing, ``accel`` (n, 3) m/s^2, ``gyro`` (n, 3)
        rad/s or None, ``metadata`` with ``source_format``, ``source_files``,
        ``sample_rate_hz`` and ``import_notes`` (what the import changed), ``fs_hz``.

    Raises
    ------
    RecordingError
        A file cannot be read or is not the export it was taken for; the message names the
        file (and line) and what was expected.
    UnitError
        Magnitudes contradict the units (gravity removed, wrong unit).
    ConfigError
        Unknown format, bad mapping, or a unit flag for a format with fixed units.

    Notes
    -----
    Blocking file I/O and computation in the calling thread.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise ConfigError("no input files given")
    if format is not None and format not in FORMATS:
        raise ConfigError(f"--format {format!r} is not one of {', '.join(FORMATS)}")
    if mapping is not None:
        if format not in (None, "generic"):
            raise ConfigError(f"--map applies to --format generic, not {format}")
        format = "generic"
    files: list[InputFile] = []
    any_container = False
    for p in items:
        fs, container = expand(p)
        any_container |= container
        files.extend(fs)
    if not files:
        raise RecordingError(f"no .csv or .txt files in it; expected {KNOWN}", path=os.fspath(items[0]))
    if format == "generic":
        if mapping is None:
            raise ConfigError("--format generic needs --map TARGET=COLUMN[:UNIT],... (see imu-tempo analyze --help)")
        return _gyro_axes(generic.load(files, mapping=mapping if not isinstance(mapping, str) else parse_mapping(mapping),
                                       accel_unit=accel_unit, gyro_unit=gyro_unit, time_unit=time_unit), gyro_axes)
    if format is None:
        sniffs = [(f, sniff(f)) for f in files]
        unknown = [f for f, s in sniffs if s is None]
        if unknown and not any_container:
            table = None
            try:
                table = read_table(unknown[0], skip_comments=True)
            except RecordingError:
                raise
            raise RecordingError(
                f"cannot tell the format from the header {table.header_text()!r}: expected {KNOWN}",
                path=unknown[0].name,
            )
        formats = {s[0] for _, s in sniffs if s is not None}
        if not formats:
            raise RecordingError(f"no file in it is {KNOWN}", path=os.fspath(items[0]))
        if len(formats) > 1:
            listing = "; ".join(f"{f.basename}: {s[0]}" for f, s in sniffs if s is not None)
            raise RecordingError(f"files of several formats ({listing}); pass one session at a time", path=os.fspath(items[0]))
        format = formats.pop()
        files = [f for f, s in sniffs if s is not None]
    if format == "csv-v1":
        if len(files) != 1:
            raise ConfigError(f"a CSV v1 recording is one file; got {len(files)} ({', '.join(f.basename for f in files)})")
        from ..sources.recording import read_recording

        path = files[0].name
        if "!" in path and not os.path.exists(path):
            raise ConfigError(f"{path}: extract CSV v1 recordings from the zip first")
        return read_recording(path, accel_unit=accel_unit, gyro_unit=gyro_unit, gyro_axes=gyro_axes, time_unit=time_unit)
    if accel_unit is not None or gyro_unit is not None or time_unit is not None:
        raise ConfigError(
            f"{format} exports state their units; --accel-unit/--gyro-unit/--time-unit apply to CSV v1 and --map only"
        )
    return _gyro_axes(_LOADERS[format](files, strict=not any_container), gyro_axes)


def _gyro_axes(rec: Recording, spec: str | None) -> Recording:
    """An imported recording with its gyroscope in the accelerometer's axes (as ``read_recording``)."""
    if rec.gyro is None:
        return rec
    from ..sources.axes import gyro_in_accel_axes

    gyro, note = gyro_in_accel_axes(rec.t_s, rec.accel, rec.gyro, spec, where=f"--gyro-axes={spec}", path=rec.path)
    if gyro is rec.gyro:
        return rec
    if gyro is not None:
        gyro.flags.writeable = False  # a new array (the map's product), read-only like the rest
    if note is not None:
        warnings.warn(note, ImuTempoWarning, stacklevel=3)
    return dataclasses.replace(rec, gyro=gyro, warnings=rec.warnings + ((note,) if note else ()))


# ---------------------------------------------------------------------------------------
# Batch discovery


def group_inputs(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[list[str]], list[str]]:
    """Split files and folders into sessions: ``(groups, skipped)``.

    - a file named explicitly is one session, except that MetaBase accelerometer/gyroscope
      files and Polar ACC/GYRO files of one session (same name apart from the sensor and
      rate) are grouped, as are Sensor Logger files of one folder;
    - a zip is one session;
    - a folder that is a Sensor Logger or phyphox export (its files make one session) is one
      session; any other folder is scanned (not recursively) for recordings, exports, zips
      and export folders.  Files in a scanned folder that match no format are ``skipped``
      (returned, so the caller can say so) rather than errors.
    """
    groups: list[list[str]] = []
    skipped: list[str] = []
    loose: list[tuple[str, tuple[str, str] | None]] = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            if _is_export_folder(p):
                groups.append([p])
                continue
            for entry in sorted(os.listdir(p)):
                full = os.path.join(p, entry)
                if os.path.isdir(full):
                    if _is_export_folder(full):
                        groups.append([full])
                elif entry.lower().endswith(".zip"):
                    groups.append([full])
                elif entry.lower().endswith((".csv", ".txt")):
                    s = _sniff_path(full)
                    if s is None:
                        skipped.append(full)
                    else:
                        loose.append((full, s))
        elif p.lower().endswith(".zip") or not os.path.exists(p):
            groups.append([p])
        else:
            loose.append((p, _sniff_path(p)))
    keyed: dict[tuple[str, ...], list[str]] = {}
    for path, s in loose:
        if s is None or s[0] in ("csv-v1", "phyphox"):
            groups.append([path])
            continue
        fmt, _kind = s
        folder, base = os.path.split(path)
        if fmt == "sensor-logger":
            key = (fmt, folder)
        elif fmt == "metamotion":
            key = (fmt, folder, metamotion.session_key(base))
        else:
            key = (fmt, folder, polar.session_key(base))
        keyed.setdefault(key, []).append(path)
    groups.extend(keyed.values())
    return groups, skipped


def _sniff_path(path: str) -> tuple[str, str] | None:
    try:
        files, _ = expand(path)
    except RecordingError:
        return None
    return sniff(files[0]) if files else None


def _is_export_folder(path: str) -> bool:
    """A folder whose files form one phyphox or Sensor Logger session."""
    try:
        files, _ = expand(path)
    except RecordingError:
        return False
    kinds = [s for s in (sniff(f) for f in files) if s is not None]
    if not kinds:
        return False
    fmts = {k[0] for k in kinds}
    return fmts <= {"sensor-logger"} or (fmts <= {"phyphox"} and any(f.basename.lower() == "device.csv" for f in files))
