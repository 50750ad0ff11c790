"""``imu-tempo convert``: any supported export -> one CSV v1 recording.

    imu-tempo convert metamotion_Accelerometer.csv metamotion_Gyroscope.csv -o session.csv
    imu-tempo convert sensor_logger_export.zip -o session.csv
    imu-tempo convert log.csv --map "t=ms:ms,ax=ax:g,ay=ay:g,az=az:g" -o session.csv

The output is written with :func:`~imu_tempo.sources.recording.write_recording` (m/s^2,
rad/s, atomically); the import's metadata (``source_format``, ``source_files``,
``sample_rate_hz``, ``import_notes``) becomes its ``# key: value`` header.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from ..analysis import add_import_arguments

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="the session's export files, its folder or its zip")
    p.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="the CSV v1 recording to write")
    p.add_argument("--accel-unit", choices=["m/s^2", "g", "mg"], default=None,
                   help="default acceleration unit of a --map file (other formats state theirs)")
    p.add_argument("--gyro-unit", choices=["rad/s", "deg/s"], default=None,
                   help="default angular-rate unit of a --map file")
    p.add_argument("--time-unit", choices=["s", "ms", "us", "ns"], default=None,
                   help="unit of t in a CSV v1 file, default time unit of a --map file (default s)")
    from ..cli import add_gyro_axes

    add_gyro_axes(p)
    add_import_arguments(p)


def run(args: argparse.Namespace) -> int:
    from ..sources.recording import write_recording
    from . import load_any, parse_mapping

    out = os.path.abspath(args.output)
    for p in args.inputs:
        if os.path.abspath(p) == out:
            raise ConfigError(f"the output {args.output} is also an input; choose another name")
    mapping = parse_mapping(args.map) if args.map else None
    rec = load_any(args.inputs, format=args.format, mapping=mapping, accel_unit=args.accel_unit,
                   gyro_unit=args.gyro_unit, gyro_axes=args.gyro_axes, time_unit=args.time_unit)
    meta = {k: v for k, v in rec.metadata.items() if k not in ("accel_unit", "gyro_unit", "gyro_axes", "time_unit")}
    write_recording(args.output, t_s=rec.t_s, accel=rec.accel, gyro=rec.gyro, metadata=meta)
    gyro = "with gyroscope" if rec.gyro is not None else "no gyroscope"
    print(
        f"wrote {args.output}: {len(rec):,} samples, {rec.duration_s:.1f} s at {rec.fs_hz:g} Hz, {gyro} "
        f"(from {meta.get('source_format', 'csv-v1')})"
    )
    if meta.get("import_notes"):
        print(f"  import: {meta['import_notes']}", file=sys.stdout)
    return 0
