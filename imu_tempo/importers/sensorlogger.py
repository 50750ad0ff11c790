"""Sensor Logger exports (https://www.tszheichoi.com/sensorlogger): the zip, its folder,
or its CSV files named on the command line.

What the app writes (from its documentation, github.com/tszheichoi/awesome-sensor-logger:
README, UNITS.md, COORDINATES.md, CROSSPLATFORM.md): one CSV per sensor, all with the
header ``time,seconds_elapsed,z,y,x`` -- ``time`` in nanoseconds since the Unix epoch,
``seconds_elapsed`` since the recording started (may start slightly negative), axes in
the order z, y, x -- plus ``Metadata.csv`` (``version,device name,recording epoch
time,...,platform,...,standardisation,...``).

- ``Accelerometer.csv``: acceleration **without gravity**, m/s^2.
- ``Gravity.csv``: the gravity vector, m/s^2.
- ``TotalAcceleration.csv`` (Android): acceleration with gravity, m/s^2.
- ``Gyroscope.csv``: rad/s.

imu-tempo needs what an accelerometer reports (specific force, +9.81 m/s^2 "up" at rest).
It takes ``TotalAcceleration.csv`` when present; otherwise it adds ``Gravity.csv``
(interpolated onto the accelerometer's time stamps) to ``Accelerometer.csv``.  On iOS
without "Standardise Units & Frames" every acceleration axis has the opposite sign
(CoreMotion's convention); when ``Metadata.csv`` says ``platform`` iOS and
``standardisation`` false, the sum is negated.  Without ``Metadata.csv`` the Android
convention is assumed -- which does not change any rep time: the analysis only uses the
acceleration along the gravity it measures, and negating both leaves that unchanged.

Time: ``t = seconds_elapsed`` of the first accelerometer row plus the ``time`` (ns)
difference since it (exact to about 0.3 us: epoch nanoseconds parsed as float64).  The gyroscope is interpolated onto the accelerometer's clock.
Repeated rows (the app documents duplicated entries) are dropped.
"""

from __future__ import annotations

import numpy as np

from ..errors import RecordingError
from ..sources.recording import Recording
from ._common import InputFile, Notes, Table, build_recording, clean_stream, expected, read_table, attach

NAME = "sensor-logger"
AXIS_HEADER = {"time", "seconds_elapsed", "x", "y", "z"}
FILE_KINDS = {
    "accelerometer": "accelerometer",
    "gravity": "gravity",
    "totalacceleration": "total",
    "gyroscope": "gyro",
}
WANT = (
    "the app's CSV files with the header 'time,seconds_elapsed,z,y,x' and their original names: "
    "TotalAcceleration.csv, or Accelerometer.csv together with Gravity.csv; optionally Gyroscope.csv"
)


def kind(f: InputFile, table: Table) -> str | None:
    """``accelerometer``/``gravity``/``total``/``gyro``/``metadata``/``other``, or None if not Sensor Logger."""
    names = table.names
    if names[:2] == ["version", "device name"]:
        return "metadata"
    if not AXIS_HEADER <= set(names):
        return None
    stem = f.basename.rsplit(".", 1)[0].lower().replace(" ", "").replace("_", "")
    return FILE_KINDS.get(stem, "other")


def load(files: list[InputFile], *, strict: bool) -> Recording:
    streams: dict[str, Table] = {}
    meta_table: Table | None = None
    for f in files:
        table = read_table(f)
        k = kind(f, table)
        if k is None:
            if strict:
                raise expected(f.name, NAME, WANT, table)
            continue
        if k == "metadata":
            meta_table = table
        elif k != "other":
            streams.setdefault(k, table)
    notes = Notes()
    meta: dict[str, str] = {"source_format": NAME}
    platform, standardised = _platform(meta_table, meta)
    if "total" in streams:
        acc_table = streams["total"]
        t, a, origin = _stream(acc_table, "accelerometer (TotalAcceleration)", notes)
        sources = [acc_table.file.name]
    elif "accelerometer" in streams and "gravity" in streams:
        acc_table, grav_table = streams["accelerometer"], streams["gravity"]
        t, lin, origin = _stream(acc_table, "accelerometer", notes)
        tg, grav, _ = _stream(grav_table, "gravity", notes, origin=origin)
        t, lin, g_on = attach(t, lin, tg, grav, what="gravity", notes=notes)
        a = lin + g_on
        notes.add("acceleration = Accelerometer.csv + Gravity.csv")
        sources = [acc_table.file.name, grav_table.file.name]
    else:
        have = ", ".join(sorted(f.basename for f in files)) or "no files"
        if "accelerometer" in streams:
            raise RecordingError(
                "Sensor Logger's Accelerometer.csv has gravity removed; imu-tempo also needs Gravity.csv "
                "(record the Gravity sensor too) or TotalAcceleration.csv (Android). Pass them together "
                f"(or the export's folder or zip). Files given: {have}",
                path=streams["accelerometer"].file.name,
            )
        raise RecordingError(f"not a usable {NAME} export: expected {WANT}. Files given: {have}", path=files[0].name if files else "?")
    if platform == "ios" and not standardised:
        a = -a
        notes.add("iOS axes without 'Standardise Units & Frames': acceleration negated to the Android convention")
    g = None
    if "gyro" in streams:
        tg, gv, _ = _stream(streams["gyro"], "gyroscope", notes, origin=origin)
        t, a, g = attach(t, a, tg, gv, what="gyroscope", notes=notes)
        sources.append(streams["gyro"].file.name)
    meta["source_files"] = ", ".join(sources)
    return build_recording(
        name=acc_table.file.name, t_s=t, accel_mps2=a, gyro_radps=g, metadata=meta, notes=notes,
        accel_hint="Sensor Logger writes m/s^2; AccelerometerUncalibrated files (g on iOS) are not supported",
    )


def _stream(
    table: Table, what: str, notes: Notes, *, origin: tuple[float, float] | None = None
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """One axis file as (t_s, xyz, origin); ``origin`` = (time ns, seconds_elapsed) of t's reference row."""
    cols = [table.find("time"), table.find("seconds_elapsed"), table.find("x"), table.find("y"), table.find("z")]
    arr = table.numbers([c for c in cols if c is not None])
    ns, elapsed, xyz = arr[:, 0], arr[:, 1], arr[:, 2:5]
    if origin is None:
        ok = np.isfinite(ns) & np.isfinite(elapsed)
        if not ok.any():
            raise RecordingError(f"no {what} rows with a time", path=table.file.name)
        i = int(np.argmax(ok))
        origin = (float(ns[i]), float(elapsed[i]))
    t = (ns - origin[0]) * 1e-9 + origin[1]
    t, xyz = clean_stream(t, xyz, what=what, name=table.file.name, notes=notes)
    return t, xyz, origin


def _platform(table: Table | None, meta: dict[str, str]) -> tuple[str | None, bool]:
    if table is None:
        return None, False
    names = table.names
    row = next((ln for ln in table.body if ln.strip()), "")
    cells = [c.strip() for c in row.split(table.delimiter)]
    values = dict(zip(names, cells))
    for key, out in (("device name", "sensor"), ("recording time", "recorded_at"), ("platform", "platform")):
        if values.get(key):
            meta[out] = values[key]
    platform = values.get("platform", "").lower() or None
    standardised = values.get("standardisation", "").lower() in ("true", "1", "yes")
    return platform, standardised
