"""MbientLab MetaMotion / MetaWear CSV files as MetaBase writes them: one file per sensor.

The header (from MbientLab's MetaBase source, ``SensorConfig.swift``, and other MetaWear
loggers that copy it)::

    epoc (ms),timestamp (-0700),elapsed (s),x-axis (g),y-axis (g),z-axis (g)          accelerometer
    epoc (ms),timestamp (-0700),elapsed (s),x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)  gyroscope

``epoc (ms)`` is Unix time in milliseconds, ``timestamp (<zone>)`` the same as text,
``elapsed (s)`` seconds since the stream started; values are written with 3 decimals.
The accelerometer and the gyroscope are configured separately (12.5-800 Hz and 25-800 Hz)
and usually run at **different rates**.

Import: time is ``epoc (ms)`` relative to the accelerometer's first row (the start is kept
as ``start_epoch_ms``).  The accelerometer's clock is the recording's clock: every
accelerometer sample is kept as it is and the gyroscope is linearly interpolated at its
times (a gyroscope hole longer than 0.1 s is not bridged: accelerometer samples inside it
are dropped and show as a gap).  At rates above 500 Hz a millisecond clock repeats stamps;
such samples are spread evenly to the next stamp, never dropped.  A rate in the file name
(``..._100.000Hz_...``, as MetaBase names files) is used as the nominal rate when it agrees
with the stamps.

Not verified against a file exported by a current MetaBase release: the exact file-name
pattern and whether ``epoc (ms)`` carries fractional milliseconds.  Both are handled
either way.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import RecordingError
from ..sources.recording import STANDARD_GRAVITY, Recording
from ._common import InputFile, Notes, Table, build_recording, clean_stream, expected, read_table, attach

NAME = "metamotion"
ACCEL = ("x-axis (g)", "y-axis (g)", "z-axis (g)")
GYRO = ("x-axis (deg/s)", "y-axis (deg/s)", "z-axis (deg/s)")
WANT = (
    "MetaBase columns 'epoc (ms),timestamp (...),elapsed (s),x-axis (g),y-axis (g),z-axis (g)' (accelerometer) "
    "and optionally a second file with 'x-axis (deg/s),y-axis (deg/s),z-axis (deg/s)' (gyroscope)"
)
_RATE = re.compile(r"_(\d+(?:\.\d+)?)\s*hz", re.IGNORECASE)


def kind(table: Table) -> str | None:
    names = set(table.names)
    if "epoc (ms)" not in names:
        return None
    if set(ACCEL) <= names:
        return "accel"
    if set(GYRO) <= names:
        return "gyro"
    return "other"


def session_key(basename: str) -> str:
    """The part of a MetaBase file name shared by the sensors of one session."""
    stem = basename.rsplit(".", 1)[0]
    stem = re.sub(r"(?i)accelerometer|accel|acc|gyroscope|gyro", "", stem)
    return _RATE.sub("", stem).strip("_- ").lower()


def load(files: list[InputFile], *, strict: bool) -> Recording:
    acc = gyr = None
    for f in files:
        table = read_table(f)
        k = kind(table)
        if k is None or k == "other":
            if strict:
                raise expected(f.name, NAME, WANT, table)
            continue
        if k == "accel":
            if acc is not None:
                raise RecordingError(
                    f"two accelerometer files ({acc.file.name} and this one); analyse one session at a time",
                    path=f.name,
                )
            acc = table
        elif gyr is None:
            gyr = table
    if acc is None:
        first = gyr.file.name if gyr is not None else (files[0].name if files else "?")
        raise RecordingError(
            f"no MetaMotion accelerometer file: expected {WANT}; a gyroscope file alone cannot be analysed",
            path=first,
        )
    notes = Notes()
    t_ms, a_g = _stream(acc, ACCEL, "accelerometer", notes)
    t0 = float(t_ms[0])
    t = (t_ms - t0) / 1000.0
    a = a_g * STANDARD_GRAVITY
    meta = {"source_format": NAME, "start_epoch_ms": f"{t0:.0f}", "sensor": "MetaMotion (MbientLab)"}
    sources = [acc.file.name]
    g = None
    if gyr is not None:
        tg_ms, g_dps = _stream(gyr, GYRO, "gyroscope", notes)
        t, a, g = attach(t, a, (tg_ms - t0) / 1000.0, np.deg2rad(g_dps), what="gyroscope", notes=notes)
        sources.append(gyr.file.name)
    meta["source_files"] = ", ".join(sources)
    m = _RATE.search(acc.file.basename)
    fs = float(m.group(1)) if m else None
    return build_recording(
        name=acc.file.name, t_s=t, accel_mps2=a, gyro_radps=g, metadata=meta, fs_hz=fs, notes=notes,
        accel_hint="MetaBase files state g in the header ('x-axis (g)')",
        gyro_hint="MetaBase gyroscope files state deg/s in the header",
    )


def _stream(table: Table, cols: tuple[str, ...], what: str, notes: Notes) -> tuple[np.ndarray, np.ndarray]:
    idx = [table.find("epoc (ms)")] + [table.find(c) for c in cols]
    arr = table.numbers([i for i in idx if i is not None])
    return clean_stream(arr[:, 0], arr[:, 1:4], what=what, name=table.file.name, notes=notes, quantum_s=0.001)
