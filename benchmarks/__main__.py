"""python -m benchmarks [--quick] [--check] [--muvr PATH]: measure, print a table, write JSON and BENCHMARKS.md.

Speed goals are ratios measured side by side in this run (machines are shared and noisy); each timing
is the median of several repeats.  Accuracy numbers come from simulated sets (synthetic) unless the
real-data section says otherwise.

Sections: batch, streaming, latency (data time), accuracy (the grid, held-out seeds, and the grid from an
accelerometer-only sensor), athletes (many in one process), memory, serial (pty), ble (simulated link),
hotspots (cProfile).  ``--only a,b`` runs a subset.

``--check`` (for CI; use with ``--quick``): compare this run's ratios with the committed baseline
(``benchmarks/baseline.json``) and exit 1 only if one is more than ``--tolerance`` (3) times worse.
It never compares absolute times and writes neither BENCHMARKS.md nor the committed results.
``--write-baseline`` stores this run's ratios as the new baseline (do it from a ``--quick`` run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

import numpy as np
from scipy import signal

from . import accuracy
from .common import StreamingFloor, interleaved_times, machine, median_ratio

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SECTIONS = ("batch", "streaming", "latency", "accuracy", "accuracy_heldout", "accuracy_no_gyro", "accuracy_tempo",
            "accuracy_sensor", "accuracy_placements", "accuracy_bench_throw", "athletes", "memory", "serial", "ble", "web",
            "hotspots")
# Seeds 0-3 are the grid; 10-13 and 20-23 were held out, then studied set by set in turn (session 4);
# 30-33 have not been looked at.
HELDOUT_SEEDS = range(30, 34)
STUDIED_SEEDS = "0-13 and 20-23"
QUICK_SECTIONS = tuple(s for s in SECTIONS if s not in ("web", "hotspots"))  # browser and profiles: full run only
TEMPOS = (1.5, 2.0)  # accuracy_tempo: sets slow from their first rep (simulate --tempo)
# accuracy_sensor: the grid from a worse sensor (benchmarks.accuracy --noise / --stamp-jitter)
WORSE_SENSORS = {
    "noise 0.3 m/s^2, gyro 0.01 rad/s": {"noise_mps2": 0.3, "gyro_noise_rad_s": 0.01},
    "time stamps +-0.3 periods": {"stamp_jitter": 0.3},
}
CHECK_SECTIONS = ("batch", "streaming", "latency", "athletes", "memory")
BENCH_THROW = ("bench_throw",)  # accuracy_bench_throw: a preset the detector was not built on


# ---------------------------------------------------------------------------------------------
# 1. Batch


def _hour_recording(path: str, *, seconds: float) -> None:
    from imu_tempo.simulate import simulate_session
    from imu_tempo.sources.recording import write_recording

    s = simulate_session(exercise="kettlebell_swing", sets=3, fs_hz=100.0, seed=0, rest_between_sets_s=60.0)
    n = int(seconds * 100)
    idx = np.arange(n) % len(s.t_s)
    write_recording(path, t_s=np.arange(n) / 100.0, accel=s.accel[idx], gyro=s.gyro[idx])


def _csv_readers() -> dict[str, Any]:
    """Every fast CSV reader that is installed: name -> function(path) -> (n, 7) float array."""
    readers: dict[str, Any] = {
        "numpy.loadtxt": lambda p: np.loadtxt(p, delimiter=",", skiprows=1, comments="#", dtype=np.float64),
    }
    try:
        import pandas as pd

        readers["pandas.read_csv"] = lambda p: pd.read_csv(p, comment="#", engine="c").to_numpy(np.float64)
    except ImportError:
        pass
    try:
        from pyarrow import csv as pacsv

        readers["pyarrow.csv"] = lambda p: np.column_stack(
            [c.to_numpy() for c in pacsv.read_csv(p).columns])
    except ImportError:
        pass
    return readers


def batch(quick: bool) -> dict[str, Any]:
    from imu_tempo.analysis import BATCH_BLOCK
    from imu_tempo.engine import Engine
    from imu_tempo.sources.recording import read_recording

    seconds = 600.0 if quick else 3600.0
    repeats = 5
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "hour.csv")
        _hour_recording(path, seconds=seconds)
        rec = read_recording(path)
        n = len(rec)
        sos = signal.butter(2, 5, fs=100, output="sos")
        readers = _csv_readers()
        data = readers["numpy.loadtxt"](path)

        def analyse() -> None:
            e = Engine()
            for b in rec.blocks(BATCH_BLOCK):
                e.feed(b)
            e.finish()

        def dsp() -> None:
            m = np.linalg.norm(data[:, 1:4], axis=1)
            y = signal.sosfiltfilt(sos, m)
            signal.find_peaks(y, distance=30)

        fns = {"parse": lambda: read_recording(path), "analysis": analyse, "dsp": dsp}
        fns.update({f"read:{k}": (lambda f=f: f(path)) for k, f in readers.items()})
        ts = interleaved_times(fns, repeats)
        fastest = min(readers, key=lambda k: statistics.median(ts[f"read:{k}"]))
        floor_rounds = [r + d for r, d in zip(ts[f"read:{fastest}"], ts["dsp"], strict=True)]
        both = [p + a for p, a in zip(ts["parse"], ts["analysis"], strict=True)]
        parse, ana = statistics.median(ts["parse"]), statistics.median(ts["analysis"])
        fl, dsp_s, read_s = statistics.median(floor_rounds), statistics.median(ts["dsp"]), statistics.median(ts[f"read:{fastest}"])
    return {
        "samples": n, "seconds_of_data": seconds, "repeats": repeats,
        "parse_s": round(parse, 3), "analysis_s": round(ana, 3),
        "analysis_samples_per_s": round(n / ana), "parse_samples_per_s": round(n / parse),
        "floor_reader": fastest, "floor_read_s": round(read_s, 3), "floor_dsp_s": round(dsp_s, 4),
        "floor_s": round(fl, 3),
        "parse_over_floor_read": round(median_ratio(ts["parse"], ts[f"read:{fastest}"]), 2),
        "analysis_over_floor": round(median_ratio(ts["analysis"], floor_rounds), 2),
        "parse_plus_analysis_over_floor": round(median_ratio(both, floor_rounds), 2),
    }


# ---------------------------------------------------------------------------------------------
# 2. Streaming


def streaming(quick: bool) -> dict[str, Any]:
    from imu_tempo.engine import Engine
    from imu_tempo.simulate import simulate_session
    from imu_tempo.types import SampleBlock

    s = simulate_session(exercise="kettlebell_swing", fs_hz=100.0, seed=1)
    n_all = len(s.t_s)
    out: dict[str, Any] = {"samples_full": n_all}
    for bs in (1, 10, 100):
        n = min(n_all, 1500 if bs == 1 else 5000) if quick else n_all
        blocks = [SampleBlock(t_s=s.t_s[i:i + bs], accel=s.accel[i:i + bs], gyro=s.gyro[i:i + bs], fs_hz=s.fs_hz)
                  for i in range(0, n, bs)]

        def go() -> None:
            e = Engine()
            for b in blocks:
                e.feed(b)
            e.finish()

        def floor() -> None:
            f = StreamingFloor(s.fs_hz)
            for b in blocks:
                f.feed(b.accel)

        ts = interleaved_times({"engine": go, "floor": floor}, 5 if quick else 7)
        t, tf = statistics.median(ts["engine"]), statistics.median(ts["floor"])
        out[f"block_{bs}"] = {
            "samples": n, "samples_per_s": round(n / t), "us_per_block": round(t / len(blocks) * 1e6, 1),
            "floor_us_per_block": round(tf / len(blocks) * 1e6, 1),
            "over_floor": round(median_ratio(ts["engine"], ts["floor"]), 2),
        }
    return out


# ---------------------------------------------------------------------------------------------
# Hotspots


def hotspots(quick: bool) -> dict[str, Any]:
    from . import profile

    return {"streaming10": profile.hotspots("streaming10", 12),
            "streaming10_package": profile.by_engine_function("streaming10", 10),
            "batch": profile.hotspots("batch", 8)}


# ---------------------------------------------------------------------------------------------
# Ratios for --check


def ratios(res: dict[str, Any]) -> dict[str, float]:
    """The run's machine-independent numbers (lower is better), keyed for the baseline."""
    r: dict[str, float] = {}
    b = res.get("batch")
    if b:
        r["batch.analysis_over_floor"] = b["analysis_over_floor"]
        r["batch.parse_plus_analysis_over_floor"] = b["parse_plus_analysis_over_floor"]
    st = res.get("streaming")
    if st:
        for k in ("block_1", "block_10", "block_100"):
            r[f"streaming.{k}.over_floor"] = st[k]["over_floor"]
    lat = res.get("latency")
    if lat:
        v = lat["variants"][0]
        r["latency.later_reps_median_ms"] = v["later_reps_median_ms"]
        r["latency.median_ms"] = v["latency_median_ms"]
    ath = res.get("athletes")
    if ath and st:
        row = next((x for x in ath["runs"] if x["athletes"] == 50), ath["runs"][0])
        floor_us_per_sample = st["block_10"]["floor_us_per_block"] / 10
        r["athletes.cpu_per_sample_over_streaming_floor"] = round(row["cpu_us_per_sample"] / floor_us_per_sample, 2)
    mem = res.get("memory")
    if mem:
        r["memory.growth_mb"] = mem["growth_mb"]
    return r


#: Small baselines are noise: a ratio is compared against at least this value.
CHECK_FLOORS = {"latency.later_reps_median_ms": 50.0, "latency.median_ms": 50.0, "memory.growth_mb": 2.0}


def check(current: dict[str, float], baseline: dict[str, float], *, tolerance: float) -> list[str]:
    """Failures: each ratio more than ``tolerance`` times its baseline (missing ones are skipped)."""
    failures = []
    for key, base in baseline.items():
        if key not in current or current[key] is None or base is None:
            print(f"check: {key}: not measured in this run (skipped)", file=sys.stderr)
            continue
        ref = max(float(base), CHECK_FLOORS.get(key, 0.0))
        limit = tolerance * ref
        status = "FAIL" if current[key] > limit else "ok"
        print(f"check: {status:4} {key} = {current[key]} (baseline {base}, limit {limit:.3g})", file=sys.stderr)
        if status == "FAIL":
            failures.append(f"{key} = {current[key]} is more than {tolerance:g}x the baseline {base}")
    return failures


# ---------------------------------------------------------------------------------------------
# Markdown


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, int) and abs(x) >= 10000:
        return f"{x:,}"
    return str(x)


def _yn(x: bool) -> str:
    return "yes" if x else "no"


def _accuracy_goals(acc: dict) -> str:
    """Issue 2's accuracy goals, judged from the numbers of one accuracy run."""
    o = acc["overall"]
    rates = {float(k.split()[0]): v for k, v in acc.items() if isinstance(v, dict) and k.endswith(" Hz")}
    mae_ok = all(v["duration_mae_ms"] is not None and v["duration_mae_ms"] <= max(15.0, 1000.0 / fs)
                 for fs, v in rates.items())
    parts = [
        f"exact count on >= 98 % of sets: {_goal(o['exact_count_rate'] >= 0.98)}",
        "duration MAE <= max(15 ms, one sample) at each rate ("
        + ", ".join(f"{fs:g} Hz: {v['duration_mae_ms']} <= {max(15.0, 1000.0 / fs):g}" for fs, v in sorted(rates.items()))
        + f"): {_goal(mae_ok)}",
        f"first failing rep exact on >= 95 % of fatiguing sets: {_goal(o['first_failure_exact_rate'] >= 0.95)}",
        f"no failure on fresh sets: {_goal(o['fresh_sets_flagged_rate'] == 0)}",
    ]
    return "Goals (issue 2): " + "; ".join(parts) + "."


def _short_accuracy_table(acc: dict) -> list[str]:
    """Markdown rows of one accuracy run's slices: count, duration, failures (no latency)."""
    L = ["| slice | sets | exact count | duration MAE ms | first failure exact | fresh sets flagged |",
         "|---|---|---|---|---|---|"]
    for k, v in acc.items():
        if isinstance(v, dict):
            L.append(f"| {k} | {v['sets']} | {v['exact_count_rate']} | {v['duration_mae_ms']} | "
                     f"{v['first_failure_exact_rate']} | {v['fresh_sets_flagged_rate']} |")
    return L


def _named_section(runs: dict | None, intro: str, note=lambda acc: "") -> list[str]:
    """A section of named runs ("tempo 1.5", "with a gyroscope", ...): ``intro``, then a short accuracy
    table per run headed by its name; nothing when the section was not run."""
    if not runs:
        return []
    L: list[str] = [intro, ""]
    for name, acc in runs.items():
        L += [f"{name}{note(acc)}:", ""] + _short_accuracy_table(acc) + [""]
    return L


def _goal(ok: bool | None) -> str:
    return "-" if ok is None else ("met" if ok else "**missed**")


def goals(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, goal, measured, status) rows for the summary table."""
    rows: list[tuple[str, str, str, str]] = []
    b = res.get("batch")
    if b:
        rows.append(("1. batch analysis", ">= 2,000,000 samples/s", f"{b['analysis_samples_per_s']:,} samples/s",
                     _goal(b["analysis_samples_per_s"] >= 2e6)))
        rows.append(("1. batch parse + analysis", "<= 2x floor", f"{b['parse_plus_analysis_over_floor']}x",
                     _goal(b["parse_plus_analysis_over_floor"] <= 2)))
    st = res.get("streaming")
    if st:
        v = st["block_10"]
        rows.append(("2. streaming, 10-sample blocks", ">= 200,000 samples/s",
                     f"{v['samples_per_s']:,} samples/s ({v['us_per_block']} us/block)", _goal(v["samples_per_s"] >= 2e5)))
    ath = res.get("athletes")
    if ath:
        r = next((x for x in ath["runs"] if x["athletes"] == 50), None)
        if r is not None:
            ok = bool(r["keeps_up"] and (r["rep_delay_ms"]["p99"] or 0) < 50 and r["cpu_fraction"] < 1)
            rows.append(("3. 50 athletes, one core", "rep delay p99 < 50 ms",
                         f"p99 {r['rep_delay_ms']['p99']} ms, CPU {r['cpu_fraction']}, waited for a CPU "
                         f"{r.get('runqueue_wait_fraction')}", _goal(ok)))
        most = max((x for x in ath["runs"] if x["keeps_up"] and (x["rep_delay_ms"]["p99"] or 0) < 50),
                   key=lambda x: x["athletes"], default=None)
        if most is not None:
            rows.append(("3. most athletes tried that kept up", "-", f"{most['athletes']} (CPU {most['cpu_fraction']})", "-"))
    lat = res.get("latency")
    if lat:
        d = lat["variants"][0]
        ok = d["latency_median_ms"] is not None and d["latency_median_ms"] <= 150 and d["latency_p95_ms"] <= 300
        rows.append(("4. detection latency (data time)", "median <= 150 ms, p95 <= 300 ms",
                     f"median {d['latency_median_ms']} ms, p95 {d['latency_p95_ms']} ms", _goal(ok)))
    mem = res.get("memory")
    if mem:
        rows.append((f"5. memory, {mem['hours']:g} h at {mem['fs_hz']:g} Hz", "< 10 MB growth", f"{mem['growth_mb']} MB",
                     _goal(mem["growth_mb"] < 10)))
    ser = res.get("serial")
    if ser:
        best = max(r["samples_per_s"] for r in ser["sustained"] if r["engine"])
        rows.append(("6. serial (pty), with engine", "-", f"{best:,} samples/s", "-"))
    ble = res.get("ble")
    if ble and "sustained" in ble:
        best = max(r["samples_per_s"] for r in ble["sustained"] if r["engine"] and r["delivered_over_offered"] >= 0.95)
        rows.append(("6. BLE (simulated link), with engine", "-", f"{best:,} samples/s kept up", "-"))
        la = ble["latency"]
        rows.append(("6. BLE notification -> rep event", "-", f"p50 {la['p50_ms']} ms, p95 {la['p95_ms']} ms", "-"))
    return rows


def write_markdown(res: dict[str, Any], cmd: str) -> str:
    m = res["machine"]
    L = [
        "# Benchmarks",
        "",
        f"Generated by `{cmd}` on {res['date']} in {res['wall_s']} s (`python -m benchmarks --quick`: about a minute).",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, numpy {m['numpy']}, scipy {m['scipy']} "
        f"({m['platform']}; load average at start {m.get('loadavg_at_start')}).",
        "Machines are shared and noisy: timings are medians of repeated runs, and speed goals are judged as ratios "
        "to a floor measured side by side in the same run.",
    ]
    for r in res.get("rerun", []):  # sections measured again after a change that touched only them
        L.append(f"Rerun on {r['date']} after {r['after']}: {', '.join(r['sections'])} (`{r['command']}`).")
    L += [
        "",
        "| | goal | measured | |",
        "|---|---|---|---|",
    ]
    L += [f"| {a} | {g} | {v} | {s} |" for a, g, v, s in goals(res)]
    L.append("")
    b = res.get("batch")
    if b:
        L += [
            "## 1. Batch analysis (CSV v1, 100 Hz, 6 axes)",
            "",
            f"One recording of {b['seconds_of_data'] / 3600:g} h ({b['samples']:,} samples; a simulated 3-set session "
            f"repeated), medians of {b['repeats']} runs.  Floor: the fastest CSV reader installed "
            f"(`{b['floor_reader']}`) + |accel| + one `sosfiltfilt` + one `find_peaks` over the whole array.",
            "",
            "| | seconds | samples/s | x floor |",
            "|---|---|---|---|",
            f"| parse (`read_recording`) | {b['parse_s']} | {b['parse_samples_per_s']:,} | {b['parse_over_floor_read']} (of the floor's read) |",
            f"| analysis (`Engine`, {1 << 16}-sample blocks) | {b['analysis_s']} | {b['analysis_samples_per_s']:,} | {b['analysis_over_floor']} |",
            f"| floor: read | {b['floor_read_s']} | | |",
            f"| floor: dsp | {b['floor_dsp_s']} | | |",
            f"| **parse + analysis** | {round(b['parse_s'] + b['analysis_s'], 3)} | | **{b['parse_plus_analysis_over_floor']}** |",
            "",
            f"Goals: analysis >= 2,000,000 samples/s: {_goal(b['analysis_samples_per_s'] >= 2e6)}; "
            f"parse + analysis within 2x the floor: {_goal(b['parse_plus_analysis_over_floor'] <= 2)}.",
            "",
        ]
    st = res.get("streaming")
    if st:
        L += [
            "## 2. Streaming (the live engine fed block by block, 100 Hz, 6 axes)",
            "",
            "Floor: per block, |accel| and one stateful `sosfilt` (the least a streaming analyzer does).",
            "",
            "| block size | samples/s | us per block | floor us per block | x floor |",
            "|---|---|---|---|---|",
        ]
        for k in ("block_1", "block_10", "block_100"):
            v = st[k]
            L.append(f"| {k.split('_')[1]} | {v['samples_per_s']:,} | {v['us_per_block']} | {v['floor_us_per_block']} | {v['over_floor']} |")
        L += ["", f"Goal: >= 200,000 samples/s with 10-sample blocks: {_goal(st['block_10']['samples_per_s'] >= 2e5)}.", ""]
    ath = res.get("athletes")
    if ath:
        L += [
            "## 3. Many athletes in one process (asyncio, one core)",
            "",
            f"`python -m benchmarks.many_athletes`: N simulated wearables at {ath['fs_hz']:g} Hz, {ath['block_samples']}-sample "
            "blocks paced in real time, each with its own engine and event stream, one event loop.  Delay: host time from "
            "a block being due (its last sample arrived) to its events being out of the engine; rep delay: the same for "
            "the blocks that settled a rep.  CPU: process CPU time / wall time (1.0 = one core).  Feed CPU: thread CPU "
            "time of one `feed` call.  Waiting for a CPU: share of the run the loop was runnable but another process "
            "had the core (`/proc/thread-self/schedstat`); when it is high, the delays are the shared machine's.",
            "",
            "| athletes | seconds | rep events (live) | rep delay p50 / p99 / max ms | block delay p50 / p99 / max ms | blocks > 50 ms | feed CPU p50 / p99 / max ms | CPU | waiting for a CPU | keeps up |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in ath["runs"]:
            rd, bd, fc = r["rep_delay_ms"], r["block_delay_ms"], r["feed_cpu_ms"]
            L.append(f"| {r['athletes']} | {r['seconds']} | {rd['n']} | {rd['p50']} / {rd['p99']} / {rd['max']} | "
                     f"{bd['p50']} / {bd['p99']} / {bd['max']} | {r['blocks_over_50ms']} | "
                     f"{fc['p50']} / {fc['p99']} / {fc['max']} | {r['cpu_fraction']} | {r.get('runqueue_wait_fraction')} | "
                     f"{_fmt(r['keeps_up'])} |")
        r50 = next((r for r in ath["runs"] if r["athletes"] == 50), None)
        ok = None if r50 is None else bool(r50["keeps_up"] and (r50["rep_delay_ms"]["p99"] or 0) < 50
                                           and r50["cpu_fraction"] < 1)
        L += ["", f"Goal: 50 athletes on one core, rep-event delay p99 < 50 ms: {_goal(ok)}.", ""]
    lat = res.get("latency")
    if lat:
        L += [
            "## 4. Detection latency in data time (`detected_at_s - end_s`, 100 Hz)",
            "",
            f"`python -m benchmarks.latency`: the accuracy grid at {lat['fs_hz']:g} Hz (simulated sets).  A set's first "
            "rep may be held until a second one confirms the set, so it is split out.  Variants change one detector "
            "constant (`imu_tempo.reps.DetectorParams`) to show what it trades.",
            "",
            "| variant | reps | median ms | p95 ms | first rep median ms | later reps median / p95 ms | exact count | duration MAE ms | first failure exact |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for v in lat["variants"]:
            L.append(f"| {v['variant']} | {v['reps']} | {v['latency_median_ms']} | {v['latency_p95_ms']} | "
                     f"{v['first_rep_median_ms']} | {v['later_reps_median_ms']} / {v['later_reps_p95_ms']} | "
                     f"{v['exact_count_rate']} | {v['duration_mae_ms']} | {v['first_failure_exact_rate']} |")
        if lat.get("by_exercise"):
            L += ["", "Default settings by exercise:", "", "| exercise | reps | median ms | p95 ms | exact count |",
                  "|---|---|---|---|---|"]
            for ex, v in lat["by_exercise"].items():
                L.append(f"| {ex} | {v['reps']} | {v['latency_median_ms']} | {v['latency_p95_ms']} | {v['exact_count_rate']} |")
        d = lat["variants"][0]
        ok = d["latency_median_ms"] is not None and d["latency_median_ms"] <= 150 and d["latency_p95_ms"] <= 300
        L += ["", f"Goal: median <= 150 ms and p95 <= 300 ms without losing accuracy: {_goal(ok)}.", ""]
    mem = res.get("memory")
    if mem:
        L += [
            "## 5. Memory over a long live session",
            "",
            f"`python -m benchmarks.memory`: {mem['hours']:g} h at {mem['fs_hz']:g} Hz ({mem['samples']:,} samples, "
            f"{mem['block_samples']}-sample blocks) through `run_session` (events kept, as `live` does), as fast as it "
            f"goes ({mem['real_time_factor']}x real time).  Resident memory from `/proc/self/statm`.",
            "",
            "| RSS at start MB | after simulating the data MB | after 10 min of data MB | at the end MB | growth MB | rep events | sets |",
            "|---|---|---|---|---|---|---|",
            f"| {mem['rss_start_mb']} | {mem['rss_after_simulating_mb']} | {mem['rss_after_10min_mb']} | {mem['rss_end_mb']} | "
            f"**{mem['growth_mb']}** | {mem['rep_events']} | {mem['sets']} |",
            "",
            f"Goal: growth under 10 MB: {_goal(mem['growth_mb'] < 10)}.",
            "",
        ]
    ser, ble = res.get("serial"), res.get("ble")
    if ser or ble:
        L += ["## 6. Transports", ""]
    if ser:
        L += [
            "### Serial through a pseudo-terminal (`python -m benchmarks.serial_path`)",
            "",
            "| format | engine | samples/s | writer samples/s | dropped |",
            "|---|---|---|---|---|",
        ]
        for r in ser["sustained"]:
            L.append(f"| {r['format']} | {_yn(r['engine'])} | {r['samples_per_s']:,} | {r['writer_samples_per_s']:,} | {r['dropped']} |")
        L += ["", "Decoder alone: " + ", ".join(f"{d['format']} {d['samples_per_s']:,} samples/s ({d['mb_per_s']} MB/s)"
                                               for d in ser["decoder"]) + ".", "",
              "Write-to-print latency (host time from writing the settling sample to the pty to the rep's line printed):", "",
              "| rate Hz | format | speed | reps | p50 ms | p95 ms | max ms |", "|---|---|---|---|---|---|---|"]
        for r in ser["latency"]:
            L.append(f"| {r['fs_hz']:g} | {r['format']} | {r['speed']:g} | {r['reps']} | {r.get('p50_ms')} | {r.get('p95_ms')} | {r.get('max_ms')} |")
        L.append("")
    if ble:
        if "skipped" in ble:
            L += ["### BLE", "", f"Skipped: {ble['skipped']}", ""]
        else:
            L += [
                "### BLE through the simulated link (`python -m benchmarks.ble_path`)",
                "",
                f"NUS peripheral (imu-tempo firmware), {ble['fs_hz']:g} Hz, {ble['frame_samples']} samples per notification, "
                "Bumble host+controller in-process behind the bleak backend, `BleSource`.  The sensor clock runs `speed`x "
                "the host's; the link has a 7.5 ms interval and no per-event limit.  Peripheral and host share the process.",
                "",
                "| speed | engine | offered samples/s | delivered samples/s | delivered/offered | dropped | CPU |",
                "|---|---|---|---|---|---|---|",
            ]
            for r in ble["sustained"]:
                L.append(f"| {r['speed']:g} | {_yn(r['engine'])} | {r['offered_samples_per_s']:,} | {r['samples_per_s']:,} | "
                         f"{r['delivered_over_offered']} | {r['dropped']} | {r['cpu_fraction']} |")
            la = ble["latency"]
            L += ["", f"End to end ({la['link']}, speed {la['speed']:g}, {la['reps']} reps): notification leaving the "
                  f"simulated device -> rep event p50 {la['p50_ms']} ms, p95 {la['p95_ms']} ms, max {la['max_ms']} ms; "
                  f"from the sample being taken (includes waiting for its notification) p50 {la['from_sampled_p50_ms']} ms, "
                  f"p95 {la['from_sampled_p95_ms']} ms.  Add the data-time latency of section 4 for the athlete's view.", ""]
    web = res.get("web")
    if web:
        L += ["## 7. Live page: engine event -> page update (`python -m benchmarks.web_latency`)", ""]
        summ = web.get("browser_summary")
        if summ:
            L += [
                "A replayed recording through the real CLI and engine, the page open in headless Chromium (Playwright); "
                "time from the engine emitting an event to the page's DOM showing it, and to the next painted frame. "
                f"Goal: within {web['goal_ms']} ms.",
                "",
                "| pushes | DOM updated median / p95 / max ms | on screen (next frame) median / p95 / max ms |",
                "|---|---|---|",
                f"| {summ['events']} | {summ['dom'].get('median_ms')} / {summ['dom'].get('p95_ms')} / {summ['dom'].get('max_ms')} | "
                f"{summ['paint'].get('median_ms')} / {summ['paint'].get('p95_ms')} / {summ['paint'].get('max_ms')} |",
                "",
            ]
        else:
            L += [f"Browser part: {web.get('browser')}", ""]
    hs = res.get("hotspots")
    if hs:
        L += [
            "## Hotspots (cProfile self time; `python -m benchmarks.profile`)",
            "",
            "Streaming, 10-sample blocks (share of total self time; cProfile overhead inflates small, often-called functions):",
            "",
            "| self % | cumulative % | calls | function | main caller |",
            "|---|---|---|---|---|",
        ]
        for r in hs["streaming10"]:
            L.append(f"| {r['self_pct']} | {r['cumulative_pct']} | {r['calls']} | `{r['function']}` | `{r['main_caller']}` |")
        L += ["", "Package functions by cumulative time (streaming, 10-sample blocks):", "",
              "| cumulative % | self % | calls | function |", "|---|---|---|---|"]
        for r in hs["streaming10_package"]:
            L.append(f"| {r['cumulative_pct']} | {r['self_pct']} | {r['calls']} | `{r['function']}` |")
        L += ["", "Batch (a 2-set session fed as one block):", "", "| self % | cumulative % | calls | function | main caller |",
              "|---|---|---|---|---|"]
        for r in hs["batch"]:
            L.append(f"| {r['self_pct']} | {r['cumulative_pct']} | {r['calls']} | `{r['function']}` | `{r['main_caller']}` |")
        L.append("")
    acc = res.get("accuracy")
    if acc:
        L += [
            "## Accuracy on simulated sets (synthetic)",
            "",
            f"`python -m benchmarks.accuracy{' --quick' if res['quick'] else ''}`: exercises x rates x fatigue x seeds "
            "from `imu_tempo.simulate` (random mount, noise, bias, jitter; some sets drop samples), each analysed with "
            "the preset's recommended measure.",
            "",
            "| slice | sets | exact count | duration MAE ms | median abs ms | first failure exact | fresh sets flagged | latency median ms | latency p95 ms |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for k, v in acc.items():
            if not isinstance(v, dict):
                continue
            L.append(
                f"| {k} | {v['sets']} | {v['exact_count_rate']} | {v['duration_mae_ms']} | {v['duration_median_abs_ms']} | "
                f"{v['first_failure_exact_rate']} | {v['fresh_sets_flagged_rate']} | {v['latency_median_ms']} | {v['latency_p95_ms']} |"
            )
        L += ["", _accuracy_goals(acc), ""]
        held = res.get("accuracy_heldout")
        if held:
            L += [
                f"Held out: the same grid with seeds {HELDOUT_SEEDS.start}-{HELDOUT_SEEDS.stop - 1} "
                f"(`python -m benchmarks.accuracy --seeds {HELDOUT_SEEDS.start}-{HELDOUT_SEEDS.stop - 1}`): sessions "
                f"nobody has looked at, while seeds {STUDIED_SEEDS} were studied set by set (earlier held-out seeds "
                "were studied in turn once they showed failures).  The gap between the two is how much of the "
                "grid's result is fitted to the sessions we studied; read these as the expected accuracy on "
                "sessions the simulator has not shown us.",
                "",
            ]
            L += _short_accuracy_table(held) + ["", _accuracy_goals(held), ""]
        nog = res.get("accuracy_no_gyro")
        if nog:
            L += [
                "Accelerometer only: the grid again from a sensor without a gyroscope (`python -m benchmarks.accuracy "
                "--no-gyro`; many watches and phones export none).  The default detector (`auto`) then also runs the "
                "orientation channel; its reps wait 2 s for a vertical rep over the same movement, which wins (a push "
                "press turns a wrist two or three times).  Kettlebell swings are the orientation channel's alone "
                "(the vertical channel reads the acceleration's size, mostly the swing's centripetal part): a rep "
                "runs backswing to backswing, the hike into the first swing and the swing forward to park the bell "
                "are left out (a first swing whose hike jolts like steps still counts: no walking arm turns that far).",
                "",
            ]
            L += _short_accuracy_table(nog) + [""]
        L += _named_section(
            res.get("accuracy_tempo"),
            "Slow from the first rep: the grid (without jump squats: a jump cannot be slowed at will) with every "
            "rep 1.5 and 2 times slower, a tempo set or a load heavy from rep 1 (`python -m benchmarks.accuracy "
            "--tempo 1.5`; the absolute limit is scaled alike, `--threshold-s` 1.8 and 2.4).  A 2x push press "
            "lifts for 1.2 s and lowers for 1.7 s; a 2x pull-up 1.5 s and 1.9 s.",
        )
        L += _named_section(
            res.get("accuracy_sensor"),
            "A worse sensor: the grid with white noise of 0.3 m/s^2 per axis and 0.01 rad/s on the gyroscope "
            "(`python -m benchmarks.accuracy --noise 0.3 --gyro-noise 0.01`; a cheap IMU at full bandwidth), and "
            "with every time stamp moved by up to +-0.3 sample periods while the samples stay where they were "
            "taken (`--stamp-jitter 0.3`; a phone's sensor batching, a coarse packet clock).  `gaps_per_set` is "
            "the gaps reported; every 4th set really drops samples "
            f"({(res.get('accuracy') or {}).get('overall', {}).get('gaps_per_set', '?')} per set on the plain grid).",
            note=lambda acc: f" (gaps per set: {acc['overall'].get('gaps_per_set')})",
        )
        L += _named_section(
            res.get("accuracy_placements"),
            "Worn elsewhere: the same sets with the sensor where our presets do not put it (`python -m "
            "benchmarks.accuracy --placements`, and `--no-gyro` with it; `imu-tempo simulate --placement`): a chest "
            "strap in swings (it follows the torso's hinge, 0.26 m, not the bell) and in jump squats (the chest "
            "drops further than the pelvis and turns with the torso), a phone in the trouser pocket in jump squats "
            "(the thigh swings 50 deg forward at the bottom, and with each step), a chest strap in pull-ups (rises, hardly "
            "turns), a watch in pull-ups (the hand holds the bar: the forearm only tilts, twice a rep, and "
            "nothing rises) and a velocity tracker on the bar in push presses (it rests in the rack until the hands "
            "take it, and stays level: without a gyroscope the orientation channel, reading the acceleration's size, "
            "sees each press as two swings; those pieces of the vertical channel's lifts are not counted).  The "
            "others are the analyzer's weak spots, measured, not tuned: with a gyroscope a chest "
            "strap's swings (about 1 m/s, a third of the wrist's speed) lose the vertical channel's drift tracking; "
            "without one, the magnitude of a chest that leans into a squat, or of a thigh that swings, is not its "
            "vertical acceleration; and "
            "no channel counts a watch's pull-ups.",
        )
        L += _named_section(
            res.get("accuracy_bench_throw"),
            "A new exercise: bench throws (`python -m benchmarks.accuracy --exercises bench_throw`, with `--no-gyro`, "
            "`--seeds 30-33` and `--placements`).  The preset came after the detector was built: lying on a bench, the "
            "bar is lowered to the chest, thrown, flies, is caught and pressed back to lockout.  The default sensor is "
            "a velocity tracker on the bar (it rests in the hooks until the hands take it); a watch stops with the "
            "hands at the release, 0.1-0.2 s before the bar's apex, which the truth's concentric phase runs to (as a "
            "jump's does), so a watch's first failing rep comes early.",
        )
        L += ["The p95 latency of kettlebell swings is the set's first swing, which waits for the second.", ""]
    if res.get("real"):
        r = res["real"]
        L += [
            "## Real recordings (not part of the project)",
            "",
            "`python -m benchmarks.real_sets --muvr ../shared/data/muvr_pebble_wrist`: Pebble watch on the wrist, 50 Hz, "
            "one lifter, 28 gym exercises, counts typed by the lifter.",
            "",
            "| detector | sets | exact | within 1 | within 2 | mean signed error |",
            "|---|---|---|---|---|---|",
        ]
        for det, rr in (("auto (default)", r), ("orientation", res.get("real_orientation"))):
            if not rr:
                continue
            for k in ("all_logged", "plausible"):
                v = rr[k]
                L.append(f"| {det} | {k}: {v['sets']} | {v['exact']} | {v['within_1']} | {v['within_2']} | "
                         f"{v['mean_signed_error']} |")
        L += ["", "Goal: within one rep on >= 85 % of plausible sets: **missed**.  These are machine and cable "
              "exercises with a noisy wrist sensor and no gyroscope: the vertical channel (for lifts) sees little "
              "(`--detector vertical`: within one on under 5 %); without a gyroscope `auto` adds bouts of orientation "
              "reps, and `--detector orientation` counts the rotation alone (`--detector` in the README).  The "
              "orientation channel's timing of continuous swings (2026-11-28: a rep that goes straight through both "
              "turnarounds runs from one to the other, a run's phase from its symmetric swings, settling needs the "
              "sensor still but for a held weight's tremble) moved counts on these sets both ways: within one "
              "53.7 % -> 52.9 % with `auto`, 57.2 % -> 55.6 % with `orientation` (2 and 4 of 257 sets, where the "
              "logged counts themselves are noisy); it was kept for the swings it counts from an accelerometer "
              "alone.", ""]
    if res.get("ratios"):
        L += ["## Ratios checked in CI", "",
              "`python -m benchmarks --quick --check` fails only when one of these (measured in a quick run) is more "
              "than 3x its value in `benchmarks/baseline.json`; absolute times are never compared.", "",
              f"| ratio (lower is better) | this run ({'quick' if res['quick'] else 'full; the baseline comes from a quick run'}) |",
              "|---|---|"]
        for k, v in res["ratios"].items():
            L.append(f"| `{k}` | {v} |")
        L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------------------------


def _summary_line(name: str, value: Any) -> str:
    if name == "batch":
        return (f"analysis {value['analysis_samples_per_s']:,} samples/s; parse+analysis {value['parse_plus_analysis_over_floor']}x "
                f"floor ({value['floor_reader']})")
    if name == "streaming":
        return "; ".join(f"block {k.split('_')[1]}: {v['samples_per_s']:,}/s, {v['us_per_block']} us/block, {v['over_floor']}x floor"
                         for k, v in value.items() if k.startswith("block_"))
    if name == "latency":
        v = value["variants"][0]
        return f"median {v['latency_median_ms']} ms, p95 {v['latency_p95_ms']} ms (first rep {v['first_rep_median_ms']} ms)"
    if name in ("accuracy", "accuracy_heldout", "accuracy_no_gyro"):
        return json.dumps(value["overall"])
    if name in ("accuracy_tempo", "accuracy_sensor", "accuracy_placements", "accuracy_bench_throw"):
        return "; ".join(f"{k}: {json.dumps(v['overall'])}" for k, v in value.items())
    if name == "athletes":
        return "; ".join(f"N={r['athletes']}: rep p99 {r['rep_delay_ms']['p99']} ms, CPU {r['cpu_fraction']}, keeps up {r['keeps_up']}"
                         for r in value["runs"])
    if name == "memory":
        return f"growth {value['growth_mb']} MB over {value['hours']} h at {value['fs_hz']:g} Hz"
    if name == "ble" and "sustained" in value:
        return f"max delivered {max(r['samples_per_s'] for r in value['sustained']):,} samples/s; e2e p50 {value['latency']['p50_ms']} ms"
    if name == "serial":
        return "; ".join(f"{r['format']} engine={r['engine']}: {r['samples_per_s']:,}/s" for r in value["sustained"])
    if name == "web":
        summ = value.get("browser_summary")
        return (f"page updated median {summ['dom'].get('median_ms')} ms, p95 {summ['dom'].get('p95_ms')} ms"
                if summ else str(value.get("browser")))
    if name == "hotspots":
        return ", ".join(f"{r['function']} {r['self_pct']}%" for r in value["streaming10"][:4])
    return str(value)[:200]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="about a minute")
    ap.add_argument("--check", action="store_true", help="compare ratios with the baseline; exit 1 on a >3x regression")
    ap.add_argument("--tolerance", type=float, default=3.0)
    ap.add_argument("--baseline", default=os.path.join(HERE, "baseline.json"))
    ap.add_argument("--write-baseline", action="store_true", help="store this run's ratios as the baseline")
    ap.add_argument("--only", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    ap.add_argument("--muvr", help="folder of real muvr recordings (read only, never copied)")
    ap.add_argument("--json", help="default: benchmarks/results/latest.json (quick.json for --quick)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite the markdown from a saved full run's JSON")
    ap.add_argument("--markdown", help="default: BENCHMARKS.md for a full run; a --quick run writes none unless given")
    args = ap.parse_args(argv)
    if args.render:
        with open(args.render) as fh:
            saved = json.load(fh)
        markdown = args.markdown or os.path.join(ROOT, "BENCHMARKS.md")
        cmd = "python -m benchmarks" + (" --quick" if saved["quick"] else "") + (
            " --muvr ../shared/data/muvr_pebble_wrist" if saved.get("real") else "")
        with open(markdown, "w") as fh:
            fh.write(write_markdown(saved, cmd))
        print(f"wrote {markdown} from {args.render}")
        return 0
    if args.only:
        sections = tuple(s.strip() for s in args.only.split(","))
        unknown = set(sections) - set(SECTIONS)
        if unknown:
            ap.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    elif args.check:
        sections = CHECK_SECTIONS
    else:
        sections = QUICK_SECTIONS if args.quick else SECTIONS
    quick = args.quick
    t_start = time.monotonic()
    res: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "quick": quick, "machine": machine()}

    def section(name: str, fn) -> None:
        if name not in sections:
            return
        t0 = time.monotonic()
        res[name] = fn()
        print(f"{name:9} ({time.monotonic() - t0:5.1f} s)  {_summary_line(name, res[name])}", flush=True)

    from . import ble_path, latency, many_athletes, memory, serial_path, web_latency

    section("batch", lambda: batch(quick))
    section("streaming", lambda: streaming(quick))
    section("latency", lambda: latency.run(quick))
    section("accuracy", lambda: accuracy.run(quick))
    if not quick:
        # seeds never looked at while the detector was tuned: how far the grid's numbers carry
        section("accuracy_heldout", lambda: accuracy.run(False, seeds=HELDOUT_SEEDS))
        section("accuracy_no_gyro", lambda: accuracy.run(False, sensor={"gyro": False}))
        section("accuracy_tempo", lambda: {f"tempo {t:g}": accuracy.run(False, sensor={"tempo": t}) for t in TEMPOS})
        section("accuracy_sensor", lambda: {k: accuracy.run(False, sensor=v) for k, v in WORSE_SENSORS.items()})
        section("accuracy_placements", lambda: {
            "with a gyroscope": accuracy.run(False, placements=True),
            "accelerometer only": accuracy.run(False, placements=True, sensor={"gyro": False}),
        })
        section("accuracy_bench_throw", lambda: {
            "on the bar, with a gyroscope": accuracy.run(False, exercises=BENCH_THROW),
            "on the bar, accelerometer only": accuracy.run(False, exercises=BENCH_THROW, sensor={"gyro": False}),
            "on the bar, seeds 30-33": accuracy.run(False, exercises=BENCH_THROW, seeds=HELDOUT_SEEDS),
            "a watch, with a gyroscope": accuracy.run(False, exercises=BENCH_THROW, placements=True),
            "a watch, accelerometer only": accuracy.run(False, exercises=BENCH_THROW, placements=True, sensor={"gyro": False}),
        })
    section("athletes", lambda: many_athletes.run(quick))
    section("memory", lambda: memory.run(quick))
    section("serial", lambda: serial_path.run(quick=quick))
    section("ble", lambda: ble_path.run(quick))
    section("web", lambda: web_latency.run(quick))
    section("hotspots", lambda: hotspots(quick))
    if args.muvr:
        from .real_sets import run_muvr

        res["real"] = run_muvr(args.muvr)
        print("real", json.dumps(res["real"]["plausible"]), flush=True)
        from imu_tempo.settings import Settings

        res["real_orientation"] = run_muvr(args.muvr, settings=Settings(set_rest_s=60.0, detector="orientation"))
        print("real (orientation)", json.dumps(res["real_orientation"]["plausible"]), flush=True)
    res["ratios"] = ratios(res)
    res["wall_s"] = round(time.monotonic() - t_start, 1)
    print(f"total    ({res['wall_s']:5.1f} s)\n", flush=True)
    rows = goals(res)
    if rows:
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)))
        print()

    if args.write_baseline:
        with open(args.baseline, "w") as fh:
            json.dump({"comment": "ratios from `python -m benchmarks --quick --write-baseline`; CI fails only if one "
                                  "gets more than 3x worse (python -m benchmarks --quick --check)",
                       "date": res["date"], "machine": res["machine"], "ratios": res["ratios"]}, fh, indent=1)
            fh.write("\n")
        print(f"baseline written to {args.baseline}")
    if args.check:
        with open(args.baseline) as fh:
            baseline = json.load(fh)["ratios"]
        out = args.json or os.path.join(tempfile.gettempdir(), "imu-tempo-benchmarks-check.json")
        with open(out, "w") as fh:
            json.dump(res, fh, indent=1)
        failures = check(res["ratios"], baseline, tolerance=args.tolerance)
        if failures:
            print("benchmark check FAILED (gross regression):\n  " + "\n  ".join(failures), file=sys.stderr)
            return 1
        print(f"benchmark check passed ({len(baseline)} ratios within {args.tolerance:g}x of the baseline)")
        return 0
    out = args.json or os.path.join(HERE, "results", "quick.json" if quick else "latest.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(res, fh, indent=1)
    markdown = args.markdown or (None if quick else os.path.join(ROOT, "BENCHMARKS.md"))
    if not args.only and markdown:
        cmd = "python -m benchmarks" + (" --quick" if quick else "") + (
            " --muvr ../shared/data/muvr_pebble_wrist" if args.muvr else "")
        with open(markdown, "w") as fh:
            fh.write(write_markdown(res, cmd))
        print(f"wrote {out} and {markdown}")
    else:
        print(f"wrote {out} (BENCHMARKS.md is regenerated by a full run of every section, or with --markdown)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
