"""phyphox exports (https://phyphox.org): "Acceleration (with g)", "Acceleration without g"
and "Gyroscope" experiments, as one CSV, several CSVs, or the zip / folder of a full export.

What phyphox writes (from ``DataExport.java`` of phyphox-android and its experiment
definitions): one file per export set (``Accelerometer.csv``, ``Gyroscope.csv``,
``Linear Acceleration.csv`` in the zip, plus ``meta/device.csv`` and ``meta/time.csv``),
each with a quoted header and numbers in ``0.000000000E0`` notation::

    "Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)","Absolute acceleration (m/s^2)"
    "Time (s)","Linear Acceleration x (m/s^2)", ... ,"Absolute acceleration (m/s^2)"
    "Time (s)","Gyroscope x (rad/s)","Gyroscope y (rad/s)","Gyroscope z (rad/s)","Absolute (rad/s)"

in one of five dialects: comma / tab / semicolon separated with a decimal point, or tab /
semicolon separated with a decimal comma.  Short columns are padded with ``NaN``.

"Acceleration without g" has had gravity removed on the phone; imu-tempo needs it (it
finds "up" from it), so such a file alone is refused with a message saying which
experiment to record instead.  When an export holds both, the one with g is used.
"""

from __future__ import annotations

import numpy as np

from ..errors import RecordingError
from ..sources.recording import Recording
from ._common import InputFile, Notes, Table, build_recording, clean_stream, expected, read_table, attach

NAME = "phyphox"
ACCEL = ("acceleration x (m/s^2)", "acceleration y (m/s^2)", "acceleration z (m/s^2)")
LINEAR = ("linear acceleration x (m/s^2)", "linear acceleration y (m/s^2)", "linear acceleration z (m/s^2)")
GYRO = ("gyroscope x (rad/s)", "gyroscope y (rad/s)", "gyroscope z (rad/s)")
TIME = "time (s)"
WANT = (
    '"Time (s)" with "Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)" '
    '(the "Acceleration (with g)" experiment) and optionally "Gyroscope x (rad/s)", ... '
    '(the "Gyroscope" experiment)'
)


def kinds(table: Table) -> set[str]:
    """Which phyphox streams a table holds: ``accel``, ``linear``, ``gyro`` (empty: not phyphox)."""
    names = set(table.names)
    if TIME not in names:
        return set()
    out = set()
    if set(ACCEL) <= names:
        out.add("accel")
    if set(LINEAR) <= names:
        out.add("linear")
    if set(GYRO) <= names:
        out.add("gyro")
    return out


def load(files: list[InputFile], *, strict: bool) -> Recording:
    """Read a phyphox export (see the module docstring).  ``strict``: every file must be phyphox."""
    accel = gyro = linear = None
    for f in files:
        if f.basename.lower() in ("device.csv", "time.csv"):
            continue
        table = read_table(f)
        k = kinds(table)
        if not k:
            if strict:
                raise expected(f.name, NAME, WANT, table)
            continue
        if "accel" in k and accel is None:
            accel = table
        if "gyro" in k and gyro is None:
            gyro = table
        if "linear" in k and linear is None:
            linear = table
    if accel is None:
        if linear is not None:
            raise RecordingError(
                'this is phyphox "Acceleration without g" (Linear Acceleration columns): the phone removed '
                "gravity, and imu-tempo needs it to find 'up'. Record with phyphox's \"Acceleration (with g)\" "
                'experiment (optionally with "Gyroscope") and export that',
                path=linear.file.name,
            )
        first = files[0].name if files else "(no files)"
        raise expected(first, NAME, WANT, None)
    notes = Notes()
    t, a = _stream(accel, ACCEL, "accelerometer", notes)
    g = None
    sources = [accel.file.name]
    if gyro is not None:
        tg, gv = _stream(gyro, GYRO, "gyroscope", notes)
        t, a, g = attach(t, a, tg, gv, what="gyroscope", notes=notes)
        if gyro is not accel:
            sources.append(gyro.file.name)
    meta = {"source_format": NAME, "source_files": ", ".join(sources)}
    return build_recording(
        name=accel.file.name, t_s=t, accel_mps2=a, gyro_radps=g, metadata=meta, notes=notes,
        accel_hint="phyphox states m/s^2 in the header; check that the file is an accelerometer export",
    )


def _stream(table: Table, cols: tuple[str, ...], what: str, notes: Notes) -> tuple[np.ndarray, np.ndarray]:
    idx = [table.find(TIME)] + [table.find(c) for c in cols]
    arr = table.numbers([i for i in idx if i is not None])
    return clean_stream(arr[:, 0], arr[:, 1:4], what=what, name=table.file.name, notes=notes)
