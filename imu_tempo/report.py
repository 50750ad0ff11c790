"""``imu-tempo report``: one self-contained HTML page (and/or a PNG) a coach can read.

Contents
--------
- :func:`build_report` -> :class:`Report` -- the analysis, the figure and the data-quality
  numbers of one session.
- :func:`render_png`, :func:`render_html` -- write it out.
- :func:`data_quality` -- sample rate, timing jitter, gaps and clipping of a recording.
- :func:`add_arguments`, :func:`run` -- the command.

What the page shows: a plain-language verdict per set; for each set the movement signal
(acceleration along gravity, gravity removed) with every rep's span and number, failed reps
in red, warnings in orange and gaps hatched; each rep's time as a bar (with the
concentric time inside it) against the absolute limit (1.2 s by default) and the trend
limit (the set's best reps + 25 %); a table per set; data quality.  The HTML embeds the
figure as a PNG data URI and has no external references, so it works offline and can be
mailed as one file.

matplotlib (Agg backend) is imported only here and only when a report is drawn; it is in
the ``plot`` extra (``pip install 'imu-tempo[plot]'``).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ConfigError
from .sources.recording import MIN_FULL_SCALE_MPS2, MIN_FULL_SCALE_RADPS, saturated

OK_COLOR = "#4C78A8"
FAIL_COLOR = "#D62728"
WARN_COLOR = "#F2A93B"
GAP_COLOR = "#7F7F7F"
MAX_PLOT_POINTS = 6000


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError(
            "the report needs matplotlib: pip install 'imu-tempo[plot]'"
        ) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Quality:
    """Data-quality numbers of a recording (all derived from its time stamps and values)."""

    nominal_hz: float
    measured_hz: float
    jitter_ms: float  # standard deviation of sample spacing, outside gaps
    jitter_pct: float  # ... as % of the nominal period
    gaps: int
    gap_total_s: float
    longest_gap_s: float
    clipped_accel: int  # samples with an axis stuck at the recording's extreme value
    clipped_gyro: int
    clip_level_mps2: float | None
    duration_s: float
    samples: int
    has_gyro: bool

    def problems(self) -> list[str]:
        out = []
        if self.jitter_pct > 20:
            out.append(f"time stamps are irregular (jitter {self.jitter_pct:.0f} % of a sample period)")
        if self.gaps:
            out.append(f"{self.gaps} gap(s) in the data, {self.gap_total_s:.2f} s in total")
        if self.clipped_accel:
            out.append(f"{self.clipped_accel} accelerometer sample(s) at the sensor's limit (clipped)")
        if self.clipped_gyro:
            out.append(f"{self.clipped_gyro} gyroscope sample(s) at the sensor's limit (clipped)")
        return out


def data_quality(rec) -> Quality:
    """Rate, jitter, gaps and clipping of a :class:`~imu_tempo.sources.recording.Recording`."""
    t = rec.t_s
    d = np.diff(t)
    period = 1.0 / rec.fs_hz
    normal = d[d <= 1.5 * period] if d.size else d
    gaps = rec.gaps()
    rows, level = saturated(rec.accel, min_level=MIN_FULL_SCALE_MPS2)
    ca = int(rows.sum())
    cg = int(saturated(rec.gyro, min_level=MIN_FULL_SCALE_RADPS)[0].sum()) if rec.gyro is not None else 0
    jitter = float(np.std(normal)) if normal.size > 1 else 0.0
    return Quality(
        nominal_hz=float(rec.fs_hz),
        measured_hz=float(1.0 / np.median(d)) if d.size else float(rec.fs_hz),
        jitter_ms=jitter * 1e3,
        jitter_pct=100.0 * jitter / period,
        gaps=len(gaps),
        gap_total_s=float(sum(g.duration_s for g in gaps)),
        longest_gap_s=float(max((g.duration_s for g in gaps), default=0.0)),
        clipped_accel=ca,
        clipped_gyro=cg,
        clip_level_mps2=level if ca else None,
        duration_s=float(rec.duration_s),
        samples=len(rec),
        has_gyro=rec.gyro is not None,
    )


def movement_signal(rec) -> np.ndarray:
    """Acceleration along gravity with gravity removed (m/s^2), for display.

    Gravity's direction is the accelerometer low-passed at 0.3 Hz (zero phase, offline);
    the signal is the projection on it minus its length, lightly smoothed (8 Hz).
    """
    from scipy.signal import butter, sosfiltfilt

    a = np.asarray(rec.accel, dtype=float)
    fs = float(rec.fs_hz)
    if a.shape[0] < 30:
        return np.linalg.norm(a, axis=1) - 9.80665
    grav = sosfiltfilt(butter(2, min(0.3, 0.2 * fs), fs=fs, output="sos"), a, axis=0)
    gn = np.linalg.norm(grav, axis=1, keepdims=True)
    gn[gn == 0] = 1.0
    v = (a * (grav / gn)).sum(axis=1) - gn[:, 0]
    if fs > 20:
        v = sosfiltfilt(butter(2, min(8.0, 0.4 * fs), fs=fs, output="sos"), v)
    return v


def _decimate(t: np.ndarray, y: np.ndarray, n_max: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation for plotting: keeps peaks visible."""
    if t.size <= n_max:
        return t, y
    k = int(np.ceil(t.size / (n_max / 2)))
    m = (t.size // k) * k
    tb, yb = t[:m].reshape(-1, k), y[:m].reshape(-1, k)
    imin, imax = yb.argmin(axis=1), yb.argmax(axis=1)
    rows = np.arange(tb.shape[0])
    first = np.minimum(imin, imax)
    second = np.maximum(imin, imax)
    tt = np.column_stack([tb[rows, first], tb[rows, second]]).ravel()
    yy = np.column_stack([yb[rows, first], yb[rows, second]]).ravel()
    return tt, yy


# ---------------------------------------------------------------------------------------
# The report


@dataclass
class Report:
    """Everything the page shows."""

    title: str
    analysis: dict[str, Any]
    quality: Quality
    figure: Any  # matplotlib Figure

    def png_bytes(self, *, dpi: int = 100) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=dpi)
        return buf.getvalue()


def _measure_key(measure: str) -> str:
    return "duration_s" if measure == "rep" else "concentric_s"


def verdicts(res: dict[str, Any]) -> list[str]:
    """One plain sentence per set."""
    st = res["settings"]
    key = _measure_key(st["measure"])
    what = "rep" if st["measure"] == "rep" else "lifting phase (concentric)"
    out = []
    for s in res["sets"]:
        n = s["rep_count"]
        head = f"Set {s['index']}: {n} rep{'s' if n != 1 else ''}"
        if s["first_failure_rep"] is not None:
            r = s["reps"][s["first_failure_rep"] - 1]
            val = r.get(key)
            if s["failure_reason"] == "absolute":
                why = f"its {what} took {val:.2f} s, over the {st['threshold_s']:g} s limit"
            else:
                ref = r.get("reference_s")
                why = (
                    f"its {what} took {val:.2f} s, more than {st['slowdown'] * 100:.0f} % slower than the set's best"
                    + (f" ({ref:.2f} s)" if ref else "")
                )
            out.append(f"{head}. Tempo failure at rep {s['first_failure_rep']}: {why}.")
        else:
            out.append(f"{head}. No tempo failure.")
    if not res["sets"]:
        out.append("No reps were found in this recording.")
    return out


def build_report(rec, res: dict[str, Any], *, title: str | None = None) -> Report:
    """Draw the figure for a recording and its analysis (``imu-tempo.analysis/1``)."""
    plt = _pyplot()
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    q = data_quality(rec)
    st = res["settings"]
    sets = res["sets"]
    t = np.asarray(rec.t_s)
    sig = movement_signal(rec)
    gaps = res["gaps"]["list"]
    n_sets = max(1, len(sets))
    fig = plt.figure(figsize=(12, 1.2 + 2.4 + 2.9 * n_sets), layout="constrained")
    heights = [2.0] + [2.9] * n_sets
    gs = fig.add_gridspec(1 + n_sets, 3, height_ratios=heights)
    name = title or os.path.basename(res["recording"] or "recording")
    fig.suptitle(f"{name}: rep tempo report", fontsize=14, fontweight="bold", x=0.01, ha="left")

    # -- overview ---------------------------------------------------------------------
    ax0 = fig.add_subplot(gs[0, :])
    tt, yy = _decimate(t, sig)
    ax0.plot(tt, yy, color="#555555", lw=0.6)
    for s in sets:
        failed = s["first_failure_rep"] is not None
        ax0.axvspan(s["start_s"], s["end_s"], color=FAIL_COLOR if failed else OK_COLOR, alpha=0.15, lw=0)
        ax0.text((s["start_s"] + s["end_s"]) / 2, 0.97, f"set {s['index']}", transform=ax0.get_xaxis_transform(),
                 ha="center", va="top", fontsize=9, fontweight="bold")
    for g in gaps:
        ax0.axvspan(g["start_s"], g["end_s"], facecolor="none", edgecolor=GAP_COLOR, hatch="///", lw=0)
    ax0.set_title("Whole recording: movement (acceleration along gravity, gravity removed); shaded = sets "
                  "(red: the set reached tempo failure)", loc="left", fontsize=10)
    ax0.set_xlabel("time (s)")
    ax0.set_ylabel("m/s²")
    ax0.set_xlim(t[0], t[-1])

    for i, s in enumerate(sets):
        ax = fig.add_subplot(gs[1 + i, :2])
        pad = 2.0
        lo, hi = s["start_s"] - pad, s["end_s"] + pad
        m = (t >= lo) & (t <= hi)
        tt, yy = _decimate(t[m], sig[m])
        ax.plot(tt, yy, color="#333333", lw=0.8)
        top = float(np.max(np.abs(yy))) if yy.size else 1.0
        ax.set_ylim(-1.15 * top, 1.35 * top)
        for r in s["reps"]:
            color = FAIL_COLOR if r["failure"] else WARN_COLOR if r["warning"] else OK_COLOR
            ax.axvspan(r["start_s"], r["end_s"], color=color, alpha=0.22 if not r["failure"] else 0.35, lw=0)
            ax.axvline(r["start_s"], color=color, lw=0.8, alpha=0.8)
            ax.text((r["start_s"] + r["end_s"]) / 2, 0.98, str(r["index"]), transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=9, fontweight="bold", color="black" if not r["failure"] else FAIL_COLOR)
        for g in gaps:
            if g["end_s"] >= lo and g["start_s"] <= hi:
                ax.axvspan(g["start_s"], g["end_s"], facecolor="none", edgecolor=GAP_COLOR, hatch="///", lw=0)
        ax.set_xlim(lo, hi)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("m/s²")
        verdict = f"first failure: rep {s['first_failure_rep']}" if s["first_failure_rep"] else "no tempo failure"
        ax.set_title(f"Set {s['index']}: movement, reps numbered ({verdict})", loc="left", fontsize=10)

        # -- rep times ---------------------------------------------------------------
        bx = fig.add_subplot(gs[1 + i, 2])
        idx = np.array([r["index"] for r in s["reps"]])
        dur = np.array([r["duration_s"] for r in s["reps"]], dtype=float)
        conc = np.array([np.nan if r["concentric_s"] is None else r["concentric_s"] for r in s["reps"]], dtype=float)
        colors = [FAIL_COLOR if r["failure"] else WARN_COLOR if r["warning"] else OK_COLOR for r in s["reps"]]
        main, inner = (dur, conc) if st["measure"] == "rep" else (conc, dur)
        if st["measure"] == "rep":
            bx.bar(idx, dur, color=colors, width=0.75, label="rep time (judged)")
            bx.bar(idx, conc, color="white", alpha=0.6, width=0.35, edgecolor="#666666", linewidth=0.4,
                   label="lifting part (concentric)")
        else:
            bx.bar(idx, dur, color="#DDDDDD", width=0.75, label="whole rep (not judged)")
            bx.bar(idx, conc, color=colors, width=0.45, label="lifting part (concentric, judged)")
        bx.legend(loc="upper left", fontsize=7, frameon=True, framealpha=0.85)
        bx.axhline(st["threshold_s"], color="black", ls="--", lw=1.2)
        bx.text(0.99, st["threshold_s"], f"{st['threshold_s']:g} s limit", transform=bx.get_yaxis_transform(),
                va="bottom", ha="right", fontsize=8,
                bbox=dict(boxstyle="square,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))
        refs = [r.get("reference_s") for r in s["reps"]]
        if any(x is not None for x in refs):
            lim = np.array([np.nan if x is None else x * (1 + st["slowdown"]) for x in refs], dtype=float)
            bx.step(np.concatenate([idx - 0.5, [idx[-1] + 0.5]]), np.concatenate([lim, [lim[-1]]]), where="post",
                    color="#9467BD", lw=1.5)
        ymax = np.nanmax(np.concatenate([main, inner, [st["threshold_s"] * 1.15]]))
        bx.set_ylim(0, ymax * 1.35)
        bx.set_xticks(idx)
        bx.set_xlim(0.4, (idx.max() if idx.size else 1) + 0.6)
        bx.set_xlabel("rep")
        bx.set_ylabel("seconds")
        what = "rep time" if st["measure"] == "rep" else "concentric time"
        bx.set_title(f"Set {s['index']}: {what} per rep", loc="left", fontsize=10)
    if not sets:
        ax = fig.add_subplot(gs[1, :])
        ax.axis("off")
        ax.text(0.5, 0.5, "No reps were found in this recording.", ha="center", va="center", fontsize=12)
    handles = [
        Patch(color=OK_COLOR, alpha=0.6, label="rep within the limits"),
        Patch(color=WARN_COLOR, alpha=0.7, label="rep close to a limit (warning)"),
        Patch(color=FAIL_COLOR, alpha=0.7, label="rep over a limit (tempo failure)"),
        Patch(facecolor="none", edgecolor=GAP_COLOR, hatch="///", label="data missing (gap)"),
        Line2D([], [], color="black", ls="--", label=f"absolute limit {st['threshold_s']:g} s"),
        Line2D([], [], color="#9467BD", label=f"trend limit: best reps + {st['slowdown'] * 100:.0f} %"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=6, fontsize=8, frameon=False)
    return Report(title=name, analysis=res, quality=q, figure=fig)


def render_png(report: Report, path: str | os.PathLike[str], *, dpi: int = 100) -> None:
    """Write the figure as a PNG."""
    data = report.png_bytes(dpi=dpi)
    _write_bytes(os.fspath(path), data)


def _write_bytes(path: str, data: bytes) -> None:
    tmp = path + ".partial"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px;
color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:0.2em} h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
.meta{color:#555} .verdict{font-size:1.1em;margin:0.3em 0} .fail{color:#b01c1c;font-weight:600}
img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;margin:0.5em 0 1em} th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}
th{background:#f6f6f6} td.l,th.l{text-align:left} tr.fail td{background:#fde8e8} tr.warn td{background:#fff4e0}
.note{color:#555;font-size:0.92em}
"""


def render_html(report: Report, path: str | os.PathLike[str]) -> None:
    """Write the self-contained HTML page (figure embedded as a data URI, no external links)."""
    res, q = report.analysis, report.quality
    st = res["settings"]
    e = html.escape
    meta = res.get("metadata") or {}
    img = base64.b64encode(report.png_bytes(dpi=100)).decode("ascii")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(report.title)}: rep tempo report</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}: rep tempo report</h1>",
    ]
    info = [f"{k}: {meta[k]}" for k in ("exercise", "placement", "sensor", "recorded_at") if meta.get(k)]
    info.append(f"{q.duration_s:.0f} s of data")
    parts.append(f"<p class='meta'>{e(' · '.join(info))}</p>")
    measure = "whole rep" if st["measure"] == "rep" else "concentric (lifting) phase"
    parts.append(
        "<p class='note'>A rep is a <b>tempo failure</b> when its "
        f"{measure} takes longer than <b>{st['threshold_s']:g} s</b>, or is more than "
        f"<b>{st['slowdown'] * 100:.0f} %</b> slower than the best reps of its set.</p>"
    )
    for v in verdicts(res):
        cls = "verdict fail" if "Tempo failure" in v else "verdict"
        parts.append(f"<p class='{cls}'>{e(v)}</p>")
    parts.append(f"<img alt='movement and rep times per set' src='data:image/png;base64,{img}'>")
    parts.append(
        "<p class='note'>Top: the whole recording. Below, per set: the movement with each rep shaded and "
        "numbered (left) and each rep's time as a bar against the limits (right). Red: over a limit; orange: "
        "within 5 % of one; hatched: data missing.</p>"
    )
    for s in res["sets"]:
        parts.append(f"<h2>Set {s['index']}</h2><table><tr><th>rep</th><th>starts at (s)</th><th>rep time (s)</th>"
                     "<th>concentric (s)</th><th>vs best reps</th><th class='l'>result</th></tr>")
        for r in s["reps"]:
            cls = "fail" if r["failure"] else "warn" if r["warning"] else ""
            conc = "-" if r["concentric_s"] is None else f"{r['concentric_s']:.2f}"
            sd = "-" if r.get("slowdown") is None else f"{r['slowdown'] * 100:+.0f} %"
            status = (
                ("FAIL: over the " + (f"{st['threshold_s']:g} s limit" if r["failure"] == "absolute" else "trend limit"))
                if r["failure"] else "close to a limit" if r["warning"] else "ok"
            )
            if r["gap"]:
                status += "; data missing inside this rep"
            parts.append(
                f"<tr class='{cls}'><td>{r['index']}</td><td>{r['start_s']:.2f}</td><td>{r['duration_s']:.2f}</td>"
                f"<td>{conc}</td><td>{sd}</td><td class='l'>{e(status)}</td></tr>"
            )
        best = "-" if s["best_rep_s"] is None else f"{s['best_rep_s']:.2f}"
        mean = "-" if s["mean_rep_s"] is None else f"{s['mean_rep_s']:.2f}"
        parts.append(f"</table><p class='note'>Best rep {best} s, mean {mean} s.</p>")
    parts.append("<h2>Data quality</h2><table>")
    rows = [
        ("sample rate", f"{q.nominal_hz:.4g} Hz (measured {q.measured_hz:.4g} Hz)"),
        ("timing jitter", f"{q.jitter_ms:.2f} ms ({q.jitter_pct:.1f} % of a sample period)"),
        ("gaps (data missing)", "none" if not q.gaps else
         f"{q.gaps}, {q.gap_total_s:.2f} s in total, longest {q.longest_gap_s:.2f} s"),
        ("clipping (sensor at its limit)", "none" if not (q.clipped_accel or q.clipped_gyro) else
         f"accelerometer {q.clipped_accel} sample(s)"
         + (f" at {q.clip_level_mps2:.0f} m/s²" if q.clip_level_mps2 else "") + f", gyroscope {q.clipped_gyro}"),
        ("gyroscope", "yes" if q.has_gyro else "no"),
        ("samples", f"{q.samples:,}"),
    ]
    if meta.get("import_notes"):
        rows.append(("import", meta["import_notes"]))
    for k, v in rows:
        parts.append(f"<tr><td class='l'>{e(k)}</td><td class='l'>{e(v)}</td></tr>")
    parts.append("</table>")
    probs = q.problems()
    parts.append("<p class='note'>" + (e("Check: " + "; ".join(probs) + ".") if probs else
                                       "No data problems found.") + "</p>")
    parts.append(
        f"<p class='note'>Made by imu-tempo from {e(str(res['recording']))}; detector {e(str(st['detector']))}, "
        f"sets end after {st['set_rest_s']:g} s of rest.</p></body></html>\n"
    )
    _write_bytes(os.fspath(path), "\n".join(parts).encode("utf-8"))


# ---------------------------------------------------------------------------------------
# CLI


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .analysis import add_import_arguments
    from .cli import add_analysis_arguments

    p.add_argument("recording", nargs="+", metavar="RECORDING",
                   help="one session: a CSV v1 recording or an app export (files, folder or zip)")
    p.add_argument("-o", "--output", metavar="REPORT.html", help="write the HTML report here")
    p.add_argument("--png", metavar="REPORT.png", help="also (or only) write the figure as a PNG")
    p.add_argument("--title", help="title shown on the report (default: the file name)")
    add_import_arguments(p)
    add_analysis_arguments(p)


def run(args: argparse.Namespace) -> int:
    from .analysis import analyze_loaded, load_recording
    from .cli import settings_from_args
    from .importers import parse_mapping

    if not args.output and not args.png:
        raise ConfigError("say where to write the report: -o REPORT.html and/or --png REPORT.png")
    _pyplot()  # fail early, before reading anything, when matplotlib is missing
    settings = settings_from_args(args)
    mapping = parse_mapping(args.map) if args.map else None
    rec = load_recording(args.recording, format=args.format, mapping=mapping,
                         accel_unit=args.accel_unit, gyro_unit=args.gyro_unit, gyro_axes=args.gyro_axes,
                         time_unit=args.time_unit)
    res = analyze_loaded(rec, settings=settings, recording=args.recording[0])
    report = build_report(rec, res, title=args.title)
    try:
        if args.output:
            render_html(report, args.output)
            print(f"wrote {args.output}")
        if args.png:
            render_png(report, args.png)
            print(f"wrote {args.png}")
    finally:
        import matplotlib.pyplot as plt

        plt.close(report.figure)
    for v in verdicts(res):
        print(v)
    return 0
