"""Many sessions at once: ``imu-tempo analyze FOLDER/ --summary summary.csv --jobs 4``.

Contents
--------
- :func:`analyze_groups` -> list of :class:`Outcome` -- every session analysed, in parallel
  worker processes with ``jobs > 1``, with a progress bar on a terminal; a session that
  fails is recorded (its error message) and the batch goes on.
- :func:`summary_rows` / :func:`write_summary` -- one row per set (:data:`SUMMARY_COLUMNS`).
- :func:`rep_rows` / :func:`write_reps` -- one row per rep (:data:`REP_COLUMNS`).
- :func:`print_summary`, :func:`report_problems` -- the terminal views.

The column lists are a contract: new columns are only ever appended.

Threads and processes: :func:`analyze_groups` runs in the calling thread; with
``jobs > 1`` each session is analysed in a ``spawn``-ed worker process (no state is
shared; a worker that raises an unexpected exception is reported like a bad file).
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, TextIO

from .errors import ConfigError, ImuTempoError
from .settings import Settings

#: Columns of ``--summary`` (one row per set; a failed file gets one row with ``error``).
SUMMARY_COLUMNS = (
    "file", "format", "sensor", "placement", "exercise", "recorded_at",
    "set", "set_start_s", "set_end_s", "reps", "failure_rep", "failure_reason", "end_reason",
    "measure", "mean_rep_s", "best_rep_s", "slowdown_pct", "gaps", "error",
)

#: Columns of ``--reps-csv`` (one row per rep).
REP_COLUMNS = (
    "file", "set", "rep", "start_s", "end_s", "duration_s", "concentric_s", "slowdown_pct",
    "status", "failure_reason", "gap", "detected_at_s", "peak_velocity_mps", "rom_m",
)


@dataclass
class Outcome:
    """One session's analysis, or why it failed.

    ``label`` is the session's display name (its first path, plus ``+N`` for more files).
    ``exception`` is kept only when the session ran in this process.
    """

    label: str
    paths: tuple[str, ...]
    result: dict[str, Any] | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    warnings: tuple[str, ...] = ()


def _label(paths: Sequence[str]) -> str:
    return paths[0] if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} file{'s' if len(paths) > 2 else ''})"


def _work(
    paths: tuple[str, ...], settings: Settings, format: str | None, mapping: Mapping[str, str] | None,
    accel_unit: str | None, gyro_unit: str | None, gyro_axes: str | None, time_unit: str | None,
    keep_exception: bool,
) -> Outcome:
    """Analyse one session (runs in a worker process with ``jobs > 1``)."""
    from .analysis import analyze_loaded, load_recording

    out = Outcome(label=_label(paths), paths=paths)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rec = load_recording(list(paths), format=format, mapping=mapping, accel_unit=accel_unit, gyro_unit=gyro_unit,
                                 gyro_axes=gyro_axes, time_unit=time_unit)
            res = analyze_loaded(rec, settings=settings, recording=paths[0])
            res.setdefault("metadata", {})
            out.result = res
        except ImuTempoError as exc:
            out.error = str(exc)
            out.exception = exc if keep_exception else None
        except Exception as exc:  # a bug: reported with its type, the batch goes on
            out.error = f"internal error ({type(exc).__name__}: {exc}); please report it with this file"
            out.exception = exc if keep_exception else None
    out.warnings = tuple(str(w.message) for w in caught if issubclass(w.category, Warning))
    return out


def analyze_groups(
    groups: Sequence[Sequence[str]],
    *,
    settings: Settings,
    format: str | None = None,
    mapping: Mapping[str, str] | None = None,
    accel_unit: str | None = None,
    gyro_unit: str | None = None,
    gyro_axes: str | None = None,
    time_unit: str | None = None,
    jobs: int = 1,
    progress: bool | None = None,
) -> list[Outcome]:
    """Analyse every session; outcomes in the order of ``groups``.

    Parameters
    ----------
    groups : sequence of sequences of str
        Each inner sequence is one session's paths (see
        :func:`imu_tempo.importers.group_inputs`).
    jobs : int
        Worker processes; 1 analyses in this process.
    progress : bool or None
        Show a progress bar on stderr; None: when stderr is a terminal and there are at
        least two sessions.
    """
    if jobs < 1:
        raise ConfigError(f"jobs must be at least 1, got {jobs}")
    items = [tuple(os.fspath(p) for p in g) for g in groups]
    if progress is None:
        progress = len(items) > 1 and sys.stderr.isatty()
    results: list[Outcome | None] = [None] * len(items)
    with _progress(progress, len(items)) as advance:
        if jobs == 1 or len(items) == 1:
            for i, paths in enumerate(items):
                results[i] = _work(paths, settings, format, mapping, accel_unit, gyro_unit, gyro_axes, time_unit, True)
                advance(results[i])
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=ctx) as pool:
                futures = {
                    pool.submit(_work, paths, settings, format, mapping, accel_unit, gyro_unit, gyro_axes, time_unit, False): i
                    for i, paths in enumerate(items)
                }
                for fut in as_completed(futures):
                    i = futures[fut]
                    try:
                        results[i] = fut.result()
                    except Exception as exc:  # the worker process died
                        results[i] = Outcome(_label(items[i]), items[i], error=f"worker failed: {exc!r}")
                    advance(results[i])
    return [r for r in results if r is not None]


class _progress:
    """A rich progress bar on stderr (or nothing); ``advance(outcome)`` per finished session."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.bar = enabled, total, None

    def __enter__(self):
        if not self.enabled:
            return lambda outcome: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[last]}"), console=Console(stderr=True), transient=True,
        )
        self.bar.start()
        task = self.bar.add_task("analyse", total=self.total, last="")

        def advance(outcome: Outcome) -> None:
            name = os.path.basename(outcome.paths[0])
            self.bar.update(task, advance=1, last=f"{name}{' (error)' if outcome.error else ''}")

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# ---------------------------------------------------------------------------------------
# Tables


def _fmt(x: float | None, digits: int = 3) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def set_slowdown(s: dict[str, Any], measure: str) -> float | None:
    """The set's last rep against its best rep, in the analysis measure: ``last / best - 1``."""
    key = "duration_s" if measure == "rep" else "concentric_s"
    vals = [r[key] for r in s["reps"] if r.get(key) is not None]
    if len(vals) < 2:
        return None
    return vals[-1] / min(vals) - 1.0


def summary_rows(outcomes: Sequence[Outcome], *, measure: str) -> list[dict[str, str]]:
    rows = []
    for o in outcomes:
        base = {c: "" for c in SUMMARY_COLUMNS}
        base["file"] = o.label
        if o.result is None:
            rows.append({**base, "error": o.error or "unknown error"})
            continue
        res = o.result
        meta = res.get("metadata") or {}
        base.update(
            format=meta.get("source_format", "csv-v1"),
            sensor=meta.get("sensor", ""), placement=meta.get("placement", ""),
            exercise=meta.get("exercise", ""), recorded_at=meta.get("recorded_at", ""),
            measure=measure, gaps=str(res["gaps"]["count"]),
        )
        if not res["sets"]:
            rows.append({**base, "reps": "0"})
        for s in res["sets"]:
            sd = set_slowdown(s, measure)
            rows.append({
                **base,
                "set": str(s["index"]), "set_start_s": _fmt(s["start_s"]), "set_end_s": _fmt(s["end_s"]),
                "reps": str(s["rep_count"]),
                "failure_rep": "" if s["first_failure_rep"] is None else str(s["first_failure_rep"]),
                "failure_reason": s["failure_reason"] or "", "end_reason": s["end_reason"] or "",
                "mean_rep_s": _fmt(s["mean_rep_s"]), "best_rep_s": _fmt(s["best_rep_s"]),
                "slowdown_pct": "" if sd is None else f"{sd * 100:.1f}",
            })
    return rows


def rep_rows(outcomes: Sequence[Outcome]) -> list[dict[str, str]]:
    rows = []
    for o in outcomes:
        if o.result is None:
            continue
        for s in o.result["sets"]:
            for r in s["reps"]:
                status = "fail" if r["failure"] else "warning" if r["warning"] else "ok"
                rows.append({
                    "file": o.label, "set": str(s["index"]), "rep": str(r["index"]),
                    "start_s": _fmt(r["start_s"]), "end_s": _fmt(r["end_s"]), "duration_s": _fmt(r["duration_s"]),
                    "concentric_s": _fmt(r["concentric_s"]),
                    "slowdown_pct": "" if r.get("slowdown") is None else f"{r['slowdown'] * 100:.1f}",
                    "status": status, "failure_reason": r["failure"] or "", "gap": "yes" if r["gap"] else "no",
                    "detected_at_s": _fmt(r["detected_at_s"]),
                    "peak_velocity_mps": _fmt(r.get("peak_velocity_mps")), "rom_m": _fmt(r.get("rom_m")),
                })
    return rows


def write_csv(path: str | os.PathLike[str], columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    """Write a CSV with a header (written to ``path.partial``, then renamed)."""
    target = os.fspath(path)
    tmp = target + ".partial"
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, target)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None


def write_summary(path: str | os.PathLike[str], outcomes: Sequence[Outcome], *, measure: str) -> None:
    write_csv(path, SUMMARY_COLUMNS, summary_rows(outcomes, measure=measure))


def write_reps(path: str | os.PathLike[str], outcomes: Sequence[Outcome]) -> None:
    write_csv(path, REP_COLUMNS, rep_rows(outcomes))


def print_summary(outcomes: Sequence[Outcome], out: TextIO, *, measure: str) -> None:
    """One line per set: the terminal view of a batch."""
    rows = [r for r in summary_rows(outcomes, measure=measure) if not r["error"]]
    names = [os.path.basename(r["file"]) for r in rows] or ["file"]
    w = min(max(len(n) for n in names + ["file"]), 48)
    out.write(f"{'file':{w}s}  set  reps  first failure       mean s  best s  slowdown\n")
    for r, name in zip(rows, names):
        fail = f"rep {r['failure_rep']} ({r['failure_reason']})" if r["failure_rep"] else "none"
        sd = f"{float(r['slowdown_pct']):+.0f} %" if r["slowdown_pct"] else "-"
        out.write(
            f"{name[:w]:{w}s}  {r['set'] or '-':>3s}  {r['reps']:>4s}  {fail:18s}  {r['mean_rep_s'] or '-':>6s}  "
            f"{r['best_rep_s'] or '-':>6s}  {sd:>8s}\n"
        )


def report_problems(outcomes: Sequence[Outcome], skipped: Sequence[str], err: TextIO) -> int:
    """Print warnings, skipped files and per-file errors after the batch; exit status 1 if any failed."""
    for o in outcomes:
        for w in o.warnings:
            err.write(f"warning: {w}\n")
    if skipped:
        names = ", ".join(os.path.basename(s) for s in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
        err.write(f"skipped {len(skipped)} file(s) that are not recordings or known exports: {names}\n")
    failed = [o for o in outcomes if o.error]
    if failed:
        err.write(f"{len(failed)} of {len(outcomes)} session(s) could not be analysed:\n")
        for o in failed:
            where = "" if o.paths[0] in (o.error or "") else f"{o.label}: "
            err.write(f"  {where}{o.error}\n")
        return 1
    return 0
