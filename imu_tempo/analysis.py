"""``imu-tempo analyze``: a recording through the streaming engine, in one pass.

``analyze_recording`` feeds the file to the same :class:`~imu_tempo.engine.Engine`
that ``live`` and ``replay`` use, so its JSON (``imu-tempo.analysis/1``) is what a
live session would have said.  The JSON contract::

    {"schema": "imu-tempo.analysis/1", "recording": str, "sample_rate_hz": float,
     "settings": {...every setting that affected the result...},
     "gaps": {"count": int, "total_s": float, "list": [...]},
     "sets": [{"index", "start_s", "end_s", "rep_count", "first_failure_rep",
               "failure_reason", "end_reason", "best_rep_s", "mean_rep_s",
               "reps": [{"index", "start_s", "end_s", "duration_s", "concentric_s",
                         "detected_at_s", "failure", "warning", "gap", ...}]}]}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from .engine import Engine
from .errors import RecordingError, UnitError
from .settings import Settings

BATCH_BLOCK = 1 << 16


def analyze_recording(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    accel_unit: str | None = None,
    gyro_unit: str | None = None,
    gyro_axes: str | None = None,
    time_unit: str | None = None,
) -> dict[str, Any]:
    """Analyse one recording; returns the ``imu-tempo.analysis/1`` dict.

    ``path`` is a CSV v1 recording or any export :mod:`imu_tempo.importers` recognises
    by its header (a phyphox CSV or zip, a Sensor Logger folder or zip, ...); imports are
    converted to what CSV v1 holds and fed to the engine the same way.

    Raises :class:`~imu_tempo.errors.RecordingError` / ``UnitError`` for files
    that cannot be read as written (the message names the file and line).
    """
    rec = load_recording([path], accel_unit=accel_unit, gyro_unit=gyro_unit, gyro_axes=gyro_axes, time_unit=time_unit)
    return analyze_loaded(rec, settings=settings, recording=str(path))


def load_recording(
    paths: Sequence[str | os.PathLike[str]],
    *,
    format: str | None = None,
    mapping: Mapping[str, str] | str | None = None,
    accel_unit: str | None = None,
    gyro_unit: str | None = None,
    gyro_axes: str | None = None,
    time_unit: str | None = None,
):
    """One session's samples as a :class:`~imu_tempo.sources.recording.Recording`.

    A single CSV v1 file is read directly (its own, precise errors); a file whose header
    no format matches is also read as CSV v1, and its error then lists the other formats.
    Everything else goes through :func:`imu_tempo.importers.load_any`.
    """
    from .sources.recording import read_recording

    if format in (None, "csv-v1") and mapping is None and len(paths) == 1:
        p = os.fspath(paths[0])
        if not os.path.isdir(p) and not p.lower().endswith(".zip"):
            kind = _sniff_head(p)
            if kind == "csv-v1" or format == "csv-v1":
                return read_recording(p, accel_unit=accel_unit, gyro_unit=gyro_unit, gyro_axes=gyro_axes, time_unit=time_unit)
            if kind is None:
                try:
                    return read_recording(p, accel_unit=accel_unit, gyro_unit=gyro_unit, gyro_axes=gyro_axes, time_unit=time_unit)
                except RecordingError as exc:
                    if isinstance(exc, UnitError) or "cannot open" in exc.reason:
                        raise
                    from .importers import KNOWN

                    raise type(exc)(
                        f"{exc.reason} (not an app export either: expected {KNOWN})", path=exc.path, line=exc.line
                    ) from None
    from .importers import load_any

    return load_any(list(paths), format=format, mapping=mapping, accel_unit=accel_unit, gyro_unit=gyro_unit,
                    gyro_axes=gyro_axes, time_unit=time_unit)


def _sniff_head(path: str) -> str | None:
    """The format of a file judged from its first 64 KiB (None: no format, or unreadable)."""
    from .importers import sniff
    from .importers._common import InputFile

    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return None
    cut = head.rfind(b"\n")
    head = head[: cut + 1] if cut > 0 else head
    found = sniff(InputFile(path, os.path.basename(path), head))
    return None if found is None else found[0]


def analyze_loaded(rec, *, settings: Settings | None = None, recording: str) -> dict[str, Any]:
    """Feed a loaded :class:`~imu_tempo.sources.recording.Recording` through the engine; the analysis dict."""
    eng = Engine(settings)
    for block in rec.blocks(BATCH_BLOCK):
        eng.feed(block)
    eng.finish()
    return analysis_json(eng, recording=recording, metadata=rec.metadata, warnings=getattr(rec, "warnings", ()))


def analysis_json(eng: Engine, *, recording: str, metadata: dict[str, str] | None = None,
                  warnings: Sequence[str] = ()) -> dict[str, Any]:
    """The engine's result, with the recording's metadata and what its reader warned about (if any)."""
    out = eng.result(recording=recording)
    if metadata:
        out["metadata"] = dict(metadata)
    if warnings:
        out["warnings"] = list(warnings)
    return out


# -- CLI -------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import add_analysis_arguments

    p.add_argument(
        "recordings", nargs="+", metavar="RECORDING",
        help="CSV v1 recording(s), app exports (phyphox, Sensor Logger, MetaBase, Polar Sensor Logger: files, "
        "folders or zips), or folders of them; the format is recognised by its header",
    )
    p.add_argument("--json", action="store_true", help="print the analysis JSON (imu-tempo.analysis/1)")
    b = p.add_argument_group("many files")
    b.add_argument("--summary", metavar="SUMMARY.csv", help="write one row per set (and per failed file) to this CSV")
    b.add_argument("--reps-csv", metavar="REPS.csv", help="write one row per rep (stable columns) to this CSV")
    b.add_argument("--jobs", type=int, default=1, metavar="N", help="analyse N sessions in parallel processes (default 1)")
    add_import_arguments(p)
    add_analysis_arguments(p)


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    """``--format`` and ``--map``: shared by analyze, convert and report."""
    from .importers import FORMATS

    g = p.add_argument_group("import")
    g.add_argument(
        "--format", choices=FORMATS, default=None,
        help="the input format (default: recognised from the header)",
    )
    g.add_argument(
        "--map", metavar="SPEC", default=None,
        help="column mapping for any other CSV, e.g. \"t=Time [ms]:ms,ax=AccX:g,ay=AccY:g,az=AccZ:g,"
        "gx=GyroX:deg/s,gy=GyroY:deg/s,gz=GyroZ:deg/s\" (units optional; implies --format generic)",
    )


def run(args: argparse.Namespace) -> int:
    from . import batch
    from .cli import settings_from_args
    from .errors import ConfigError
    from .importers import group_inputs, parse_mapping

    settings = settings_from_args(args)
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    mapping = parse_mapping(args.map) if args.map else None
    if args.format is not None or mapping is not None:
        groups, skipped = [list(args.recordings)], []
    else:
        groups, skipped = group_inputs(args.recordings)
    if not groups:
        raise ConfigError(f"no recordings found in {', '.join(args.recordings)}")
    outcomes = batch.analyze_groups(
        groups, settings=settings, format=args.format, mapping=mapping,
        accel_unit=args.accel_unit, gyro_unit=args.gyro_unit, gyro_axes=args.gyro_axes, time_unit=args.time_unit,
        jobs=args.jobs,
    )
    if len(outcomes) == 1 and outcomes[0].exception is not None:
        raise outcomes[0].exception
    ok = [o for o in outcomes if o.result is not None]
    if args.summary:
        batch.write_summary(args.summary, outcomes, measure=settings.measure)
    if args.reps_csv:
        batch.write_reps(args.reps_csv, outcomes)
    if args.json:
        payload: Any = ok[0].result if len(outcomes) == 1 else [o.result for o in ok]
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif len(outcomes) == 1 or not (args.summary or args.reps_csv):
        for o in ok:
            print_table(o.result, sys.stdout)
            if args.measure is None:
                hint = measure_hint(o.result)
                if hint:
                    sys.stderr.write(f"imu-tempo analyze: hint: {hint}\n")
    else:
        batch.print_summary(outcomes, sys.stdout, measure=settings.measure)
    return batch.report_problems(outcomes, skipped, sys.stderr)


def measure_hint(res: dict[str, Any]) -> str | None:
    """What to say when whole reps were timed and a set failed the absolute limit at its first rep.

    A push press, a pull-up or a jump squat lowers slowly and pauses: the whole rep lasts 2 s and
    more, so with the default ``--measure rep`` and ``--threshold-s 1.2`` every rep fails.  The
    lifting phase alone (``--measure concentric``) is what slows down when the athlete tires.
    """
    st = res["settings"]
    if st["measure"] != "rep":
        return None
    first = [s for s in res["sets"] if s["first_failure_rep"] == 1 and s["failure_reason"] == "absolute"]
    if not first:
        return None
    rep_s = first[0]["reps"][0]["duration_s"]
    said = (
        f"rep 1 of set {first[0]['index']} already lasted {rep_s:.2f} s (over --threshold-s {st['threshold_s']:g}) from "
        "leaving the start position to being back: for a lift with a slow lowering or a pause, time the lifting "
        "phase alone with --measure concentric"
    )
    recommended = (res.get("metadata") or {}).get("recommended_measure")
    if recommended and recommended != "rep":
        said += f" (the recording recommends --measure {recommended})"
    return said


def print_table(res: dict[str, Any], out: TextIO) -> None:
    """The human view of an analysis: one row per rep, the set summary, the failure rep."""
    st = res["settings"]
    measure = st["measure"]
    gaps = res["gaps"]
    out.write(
        f"{res['recording']}: {res['sample_rate_hz']:g} Hz, {res['samples']} samples, "
        f"{len(res['sets'])} set(s); limits: {measure} > {st['threshold_s']:g} s or "
        f"{st['slowdown'] * 100:.0f} % slower than the set's best"
    )
    if gaps["count"]:
        out.write(f"; {gaps['count']} gap(s), {gaps['total_s']:.3f} s of data missing")
    out.write("\n")
    for s in res["sets"]:
        out.write(f"\nset {s['index']}  ({s['start_s']:.2f}-{s['end_s']:.2f} s)\n")
        out.write("  rep   start s   rep s   conc s   vs best   status\n")
        for r in s["reps"]:
            conc = f"{r['concentric_s']:6.2f}" if r["concentric_s"] is not None else "     -"
            trend = f"{r['slowdown'] * 100:+6.0f}%" if r.get("slowdown") is not None else "       "
            status = "ok"
            if r["failure"]:
                status = f"FAIL ({r['failure']})"
            elif r["warning"]:
                status = "warning"
            if r["gap"]:
                status += ", gap in data"
            out.write(
                f"  {r['index']:3d}  {r['start_s']:8.2f}  {r['duration_s']:6.2f}   {conc}   {trend}   {status}\n"
            )
        if s["first_failure_rep"] is not None:
            verdict = f"tempo failure at rep {s['first_failure_rep']} ({s['failure_reason']})"
        else:
            verdict = f"no tempo failure ({s['end_reason']})"
        best = f"{s['best_rep_s']:.2f}" if s["best_rep_s"] is not None else "-"
        out.write(f"  => {s['rep_count']} reps, best {best} s, {verdict}\n")
    if not res["sets"]:
        out.write("  no reps found\n")
