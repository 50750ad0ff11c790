"""Any delimited text file with time and three accelerometer columns, given a column mapping.

A mapping names, for each of ``t, ax, ay, az`` (required) and ``gx, gy, gz`` (optional,
all three or none), the column and its unit::

    --map "t=Time [ms]:ms,ax=AccX:g,ay=AccY:g,az=AccZ:g,gx=GyroX:deg/s,gy=GyroY:deg/s,gz=GyroZ:deg/s"

Columns are matched by name (case-insensitive, quotes and spaces around them ignored) or by
1-based position as ``#3``.  Units: time ``s`` (default), ``ms``, ``us``, ``ns``;
acceleration ``m/s^2`` (default), ``g``, ``mg``; angular rate ``rad/s`` (default),
``deg/s``.  The delimiter (``,`` ``;`` tab) and decimal commas are detected; ``#`` lines
before the header are skipped.  Column names containing ``,`` or ``=`` must be given by
position.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError, RecordingError
from ..sources.recording import ACCEL_UNITS, GYRO_UNITS, TIME_UNITS, Recording
from ._common import InputFile, Notes, Table, build_recording, clean_stream, read_table

NAME = "generic"
TARGETS = ("t", "ax", "ay", "az", "gx", "gy", "gz")


def parse_mapping(spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"t=time:ms,ax=AccX:g,..."`` (or a dict) -> ``{"t": "time:ms", "ax": "AccX:g", ...}``, checked.

    Raises :class:`~imu_tempo.errors.ConfigError` naming the bad entry.
    """
    if isinstance(spec, Mapping):
        items = {str(k).strip().lower(): str(v).strip() for k, v in spec.items()}
    else:
        items = {}
        for part in str(spec).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ConfigError(f"--map entry {part.strip()!r} is not TARGET=COLUMN[:UNIT] (e.g. ax=AccX:g)")
            k, v = part.split("=", 1)
            items[k.strip().lower()] = v.strip()
    unknown = sorted(set(items) - set(TARGETS))
    if unknown:
        raise ConfigError(f"--map: unknown target(s) {', '.join(unknown)}; use t, ax, ay, az and optionally gx, gy, gz")
    missing = [k for k in ("t", "ax", "ay", "az") if k not in items]
    if missing:
        raise ConfigError(f"--map must name the column of {', '.join(missing)} (TARGET=COLUMN[:UNIT])")
    gyro = [k for k in ("gx", "gy", "gz") if k in items]
    if gyro and len(gyro) != 3:
        raise ConfigError("--map: give gx, gy and gz together, or none of them")
    for k, v in items.items():
        col, unit = _split(v)
        if not col:
            raise ConfigError(f"--map {k}: no column given")
        allowed = TIME_UNITS if k == "t" else ACCEL_UNITS if k.startswith("a") else GYRO_UNITS
        if unit is not None and unit not in allowed:
            raise ConfigError(f"--map {k}: unit {unit!r} is not one of {', '.join(allowed)}")
    return items


def _split(value: str) -> tuple[str, str | None]:
    """``"AccX:g"`` -> ``("AccX", "g")``; a suffix that is not a known unit stays part of the name."""
    if ":" in value:
        col, unit = value.rsplit(":", 1)
        u = unit.strip()
        if u and len(u) <= 8 and not any(c.isspace() for c in u):
            return col.strip(), u  # parse_mapping says when it is not a supported unit
    return value.strip(), None


def load(files: list[InputFile], *, mapping: Mapping[str, str], accel_unit: str | None = None,
         gyro_unit: str | None = None, time_unit: str | None = None) -> Recording:
    if len(files) != 1:
        raise ConfigError(f"--map reads one file at a time, got {len(files)}")
    f = files[0]
    m = parse_mapping(mapping)
    table = read_table(f, skip_comments=True)
    cols, units = [], []
    for k in TARGETS:
        if k not in m:
            continue
        col, unit = _split(m[k])
        cols.append(_column(table, col, k))
        default = (time_unit or "s") if k == "t" else (accel_unit or "m/s^2") if k.startswith("a") else (gyro_unit or "rad/s")
        units.append(unit or default)
    arr = table.numbers(cols)
    notes = Notes()
    t = arr[:, 0] * TIME_UNITS[units[0]]
    vals = arr[:, 1:].copy()
    vals[:, 0:3] *= ACCEL_UNITS[units[1]]
    if vals.shape[1] == 6:
        vals[:, 3:6] *= GYRO_UNITS[units[4]]
    t, vals = clean_stream(t, vals, what="samples", name=f.name, notes=notes)
    meta = {"source_format": NAME, "source_files": f.name, "column_map": ",".join(f"{k}={v}" for k, v in m.items())}
    return build_recording(
        name=f.name, t_s=t, accel_mps2=vals[:, 0:3], gyro_radps=vals[:, 3:6] if vals.shape[1] == 6 else None,
        metadata=meta, notes=notes,
        accel_hint=f"the mapping reads acceleration as {units[1]}; give the unit as ax=COLUMN:g (or :mg, :m/s^2)",
        gyro_hint="give the gyro unit as gx=COLUMN:deg/s",
    )


def _column(table: Table, col: str, target: str) -> int:
    if col.startswith("#") and col[1:].isdigit():
        i = int(col[1:]) - 1
        if not 0 <= i < len(table.header):
            raise RecordingError(
                f"--map {target}={col}: the header has {len(table.header)} columns ({table.header_text()})",
                path=table.file.name,
            )
        return i
    i = table.find(col.strip().strip('"').lower())
    if i is None:
        raise RecordingError(
            f"--map {target}: no column {col!r}; header found: {table.header_text()!r}", path=table.file.name
        )
    return i

