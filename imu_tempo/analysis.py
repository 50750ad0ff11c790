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
from typing import Any, TextIO

from .engine import Engine
from .settings import Settings

BATCH_BLOCK = 1 << 16


def analyze_recording(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    accel_unit: str | None = None,
    gyro_unit: str | None = None,
) -> dict[str, Any]:
    """Analyse one CSV v1 recording; returns the ``imu-tempo.analysis/1`` dict.

    Raises :class:`~imu_tempo.errors.RecordingError` / ``UnitError`` for files
    that cannot be read as written (the message names the file and line).
    """
    from .sources.recording import read_recording

    rec = read_recording(path, accel_unit=accel_unit, gyro_unit=gyro_unit)
    eng = Engine(settings)
    for block in rec.blocks(BATCH_BLOCK):
        eng.feed(block)
    eng.finish()
    return analysis_json(eng, recording=str(path), metadata=rec.metadata)


def analysis_json(eng: Engine, *, recording: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    out = eng.result(recording=recording)
    if metadata:
        out["metadata"] = dict(metadata)
    return out


# -- CLI -------------------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import add_analysis_arguments

    p.add_argument("recordings", nargs="+", metavar="RECORDING.csv", help="CSV v1 recording(s)")
    p.add_argument("--json", action="store_true", help="print the analysis JSON (imu-tempo.analysis/1)")
    add_analysis_arguments(p)


def run(args: argparse.Namespace) -> int:
    from .cli import settings_from_args

    settings = settings_from_args(args)
    results = []
    for path in args.recordings:
        res = analyze_recording(path, settings=settings, accel_unit=args.accel_unit, gyro_unit=args.gyro_unit)
        results.append(res)
        if not args.json:
            print_table(res, sys.stdout)
    if args.json:
        payload: Any = results[0] if len(results) == 1 else results
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0


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
