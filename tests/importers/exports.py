"""Writers of app exports, from each app's published column specification (see
``imu_tempo/importers/__init__.py`` for the sources).  They turn a simulated session (SI
units, exact truth) into the files the app would have written, so an import can be compared
with the CSV v1 recording of the same samples.  Test helpers only.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np

G = 9.80665
EPOCH_MS = 1_718_000_000_000  # a fixed Unix time for the app clocks (2024-06-10)


def _fmt_phyphox(x: float, decimal: str) -> str:
    # phyphox writes DecimalFormat("0.000000000E0"): 1.234567890E-2, 9.806650000E0
    if not math.isfinite(x):
        return "NaN"
    if x == 0:
        s = "0.000000000E0"
    else:
        e = int(math.floor(math.log10(abs(x))))
        m = x / 10**e
        if round(abs(m), 9) >= 10:
            m /= 10
            e += 1
        s = f"{m:.9f}E{e}"
    return s.replace(".", decimal)


def phyphox_csv(t, xyz, names, *, sep=",", decimal=".", absolute=None, pad_rows=0) -> str:
    header = sep.join(f'"{n}"' for n in names) + "\n"
    cols = [t, xyz[:, 0], xyz[:, 1], xyz[:, 2]]
    if absolute is not None:
        cols.append(np.linalg.norm(xyz, axis=1))
    rows = []
    for i in range(len(t)):
        rows.append(sep.join(_fmt_phyphox(float(c[i]), decimal) for c in cols))
    for _ in range(pad_rows):
        rows.append(sep.join(["NaN"] * len(cols)))
    return header + "\n".join(rows) + "\n"


PHYPHOX_ACCEL = ["Time (s)", "Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)",
                 "Absolute acceleration (m/s^2)"]
PHYPHOX_LINEAR = ["Time (s)", "Linear Acceleration x (m/s^2)", "Linear Acceleration y (m/s^2)",
                  "Linear Acceleration z (m/s^2)", "Absolute acceleration (m/s^2)"]
PHYPHOX_GYRO = ["Time (s)", "Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)", "Absolute (rad/s)"]


def write_phyphox_zip(path: Path, t, accel, gyro) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("Accelerometer.csv", phyphox_csv(t, accel, PHYPHOX_ACCEL, absolute=True))
        zf.writestr("Gyroscope.csv", phyphox_csv(t, gyro, PHYPHOX_GYRO, absolute=True))
        zf.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel 7"\n')
        zf.writestr("meta/time.csv", '"event","experiment time","system time","system time text"\n'
                    '"START",0.000000000E0,1718000000.000,"2024-06-10 08:53:20.000 UTC+00:00"\n')


def sensorlogger_csv(t_s, xyz, *, t0_ns=EPOCH_MS * 1_000_000) -> str:
    """Header time,seconds_elapsed,z,y,x; time in ns since the epoch."""
    out = io.StringIO()
    out.write("time,seconds_elapsed,z,y,x\n")
    ns = t0_ns + np.round(np.asarray(t_s) * 1e9).astype(np.int64)
    for i in range(len(t_s)):
        out.write(f"{ns[i]},{t_s[i]:.6f},{float(xyz[i, 2])!r},{float(xyz[i, 1])!r},{float(xyz[i, 0])!r}\n")
    return out.getvalue()


SENSORLOGGER_META = (
    "version,device name,recording epoch time,recording time,recording timezone,platform,appVersion,device id,"
    "sensors,sampleRateMs,standardisation,platform version\n"
    "3,Test Phone,{epoch},2024-06-10_08-53-20,UTC,{platform},1.64,abc,Accelerometer|Gravity|Gyroscope,10|10|10,"
    "{std},17\n"
)


def write_sensorlogger(folder: Path, t, accel, gyro, *, platform="android", total=False, meta=True) -> None:
    """Android: Accelerometer = accel - gravity (Android convention); iOS: both negated."""
    folder.mkdir(parents=True, exist_ok=True)
    from scipy.signal import butter, sosfiltfilt

    fs = 1 / np.median(np.diff(t))
    grav = sosfiltfilt(butter(2, 0.3, fs=fs, output="sos"), accel, axis=0)
    sign = -1.0 if platform == "ios" else 1.0
    if total:
        (folder / "TotalAcceleration.csv").write_text(sensorlogger_csv(t, accel))
    else:
        (folder / "Accelerometer.csv").write_text(sensorlogger_csv(t, sign * (accel - grav)))
        (folder / "Gravity.csv").write_text(sensorlogger_csv(t, sign * grav))
    if gyro is not None:
        (folder / "Gyroscope.csv").write_text(sensorlogger_csv(t, gyro))
    if meta:
        (folder / "Metadata.csv").write_text(
            SENSORLOGGER_META.format(epoch=EPOCH_MS * 1_000_000, platform=platform, std="false")
        )


def metabase_csv(t_s, xyz, unit: str) -> str:
    """MetaBase: epoc (ms),timestamp (-0000),elapsed (s),x-axis (U),y-axis (U),z-axis (U); %.3f values."""
    out = io.StringIO()
    out.write(f"epoc (ms),timestamp (+0000),elapsed (s),x-axis ({unit}),y-axis ({unit}),z-axis ({unit})\n")
    ms = EPOCH_MS + np.round(np.asarray(t_s) * 1000).astype(np.int64)
    for i in range(len(t_s)):
        sec = (ms[i] // 1000) % 60
        out.write(
            f"{ms[i]},2024-06-10T08.53.{sec:02d}.{ms[i] % 1000:03d},{(ms[i] - ms[0]) / 1000:.3f},"
            f"{xyz[i, 0]:.3f},{xyz[i, 1]:.3f},{xyz[i, 2]:.3f}\n"
        )
    return out.getvalue()


def polar_txt(t_s, xyz, unit: str) -> str:
    """Polar Sensor Logger: Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]."""
    out = io.StringIO()
    out.write(f"Phone timestamp;sensor timestamp [ns];X [{unit}];Y [{unit}];Z [{unit}] \n")
    base_ns = 771_000_000_000_000_000  # ns since 2000-01-01
    ns = base_ns + np.round(np.asarray(t_s) * 1e9).astype(np.int64)
    for i in range(len(t_s)):
        ms = int(t_s[i] * 1000)
        out.write(
            f"2024-06-10T08:{53 + ms // 60000:02d}:{(ms // 1000) % 60:02d}.{ms % 1000:03d};{ns[i]};"
            f"{int(round(xyz[i, 0]))};{int(round(xyz[i, 1]))};{int(round(xyz[i, 2]))}\n"
        )
    return out.getvalue()
