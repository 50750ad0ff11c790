"""Polar Sensor Logger text files (the Android app for Polar H10 / Verity Sense / OH1 streams).

Headers (from the app's published sample and SDK-example sources that write the same files)::

    Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]        ..._ACC.txt
    Phone timestamp;sensor timestamp [ns];X [dps];Y [dps];Z [dps]     ..._GYRO.txt

``Phone timestamp`` is the phone's local time as ISO text (``2026-06-10T21:15:41.382``);
``sensor timestamp [ns]`` the sensor's clock in nanoseconds since 2000-01-01.  Acceleration
is in milli-g including gravity, angular rate in degrees per second.  File names look like
``Polar_Sense_B5F1A022_20240312_101500_ACC.txt``.

Import: time is the sensor timestamp, relative to the first ACC row (the phone's time of
that row is kept as ``recorded_at``).  The gyroscope (Verity Sense) is interpolated onto the
accelerometer's clock; the H10 has no gyroscope.

Not verified against a file from the current app release: whether the header carries a
trailing space or ``;`` (both accepted) and the exact file-name pattern.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import RecordingError
from ..sources.recording import STANDARD_GRAVITY, Recording
from ._common import InputFile, Notes, Table, build_recording, clean_stream, expected, read_table, attach

NAME = "polar"
ACCEL = ("x [mg]", "y [mg]", "z [mg]")
GYRO = ("x [dps]", "y [dps]", "z [dps]")
SENSOR_T = "sensor timestamp [ns]"
WANT = (
    "Polar Sensor Logger columns 'Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]' (ACC file) "
    "and optionally 'Phone timestamp;sensor timestamp [ns];X [dps];Y [dps];Z [dps]' (GYRO file)"
)


def kind(table: Table) -> str | None:
    names = set(table.names)
    if "phone timestamp" not in names or SENSOR_T not in names:
        return None
    if set(ACCEL) <= names:
        return "accel"
    if set(GYRO) <= names:
        return "gyro"
    return "other"


def session_key(basename: str) -> str:
    stem = basename.rsplit(".", 1)[0]
    return re.sub(r"(?i)_(acc|gyro|gyr|magn|mag|ppg|ppi|ecg|hr|rr)$", "", stem).lower()


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
                raise RecordingError(f"two ACC files ({acc.file.name} and this one); one session at a time", path=f.name)
            acc = table
        elif gyr is None:
            gyr = table
    if acc is None:
        first = gyr.file.name if gyr is not None else (files[0].name if files else "?")
        raise RecordingError(f"no Polar ACC file: expected {WANT}; a GYRO file alone cannot be analysed", path=first)
    notes = Notes()
    t_ns, a_mg = _stream(acc, ACCEL, "accelerometer", notes)
    t0 = float(t_ns[0])
    t = (t_ns - t0) * 1e-9
    a = a_mg * (STANDARD_GRAVITY / 1000.0)
    meta = {"source_format": NAME, "sensor": _device(acc.file.basename)}
    phone = acc.strings(acc.find("phone timestamp") or 0)
    if phone:
        meta["recorded_at"] = phone[0]
    sources = [acc.file.name]
    g = None
    if gyr is not None:
        tg_ns, g_dps = _stream(gyr, GYRO, "gyroscope", notes)
        t, a, g = attach(t, a, (tg_ns - t0) * 1e-9, np.deg2rad(g_dps), what="gyroscope", notes=notes)
        sources.append(gyr.file.name)
    meta["source_files"] = ", ".join(sources)
    return build_recording(
        name=acc.file.name, t_s=t, accel_mps2=a, gyro_radps=g, metadata=meta, notes=notes,
        accel_hint="Polar Sensor Logger ACC files state milli-g ('X [mg]')",
        gyro_hint="Polar Sensor Logger GYRO files state deg/s ('X [dps]')",
    )


def _device(basename: str) -> str:
    parts = basename.split("_")
    if len(parts) >= 3 and parts[0].lower() == "polar":
        return f"Polar {parts[1]} {parts[2]}"
    return "Polar"


def _stream(table: Table, cols: tuple[str, ...], what: str, notes: Notes) -> tuple[np.ndarray, np.ndarray]:
    idx = [table.find(SENSOR_T)] + [table.find(c) for c in cols]
    arr = table.numbers([i for i in idx if i is not None])
    return clean_stream(arr[:, 0], arr[:, 1:4], what=what, name=table.file.name, notes=notes)
