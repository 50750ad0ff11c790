"""Detection latency in data time over the simulated accuracy grid, and what settings trade for it.

    python -m benchmarks.latency [--quick] [--json out.json]

Latency of a rep is ``detected_at_s - end_s``: how much data after the rep's end the streaming
engine needed before it could emit the rep (a live run adds transport and processing time on top;
those are measured by the transport and many-athletes benchmarks).  The grid is the accuracy grid
of :mod:`benchmarks.accuracy` at 100 Hz (4 exercises x fatigue x seeds, random mount, noise, some
sets with dropped samples).  For each variant of the detector settings the table shows latency next
to the accuracy numbers, so a setting that buys latency with accuracy is visible.

Latency is also split by the rep's place in its set (the engine may hold a set's first rep until a
second one confirms the set) and, for the default settings, by exercise.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from . import accuracy

#: Variants of the detector constants (``DetectorParams``) and settings tried for the trade-off curve:
#: (label, DetectorParams overrides, Settings overrides).
VARIANTS: tuple[tuple[str, dict[str, float], dict[str, Any]], ...] = (
    ("default", {}, {}),
    ("quiet_window_s=0.06", {"quiet_window_s": 0.06}, {}),
    ("quiet_window_s=0.15", {"quiet_window_s": 0.15}, {}),
    ("force_rest_s=0.2", {"force_rest_s": 0.2}, {}),
    ("force_rest_s=0.5", {"force_rest_s": 0.5}, {}),
)


def one(job: tuple) -> dict[str, Any]:
    """Analyse one simulated set with a variant; return matches and latencies (data seconds)."""
    from imu_tempo.engine import Engine
    from imu_tempo.reps import DetectorParams
    from imu_tempo.settings import Settings
    from imu_tempo.simulate import EXERCISES as PRESETS
    from imu_tempo.simulate import simulate_session
    from imu_tempo.types import SampleBlock

    (ex, fs, fatigue, seed, drop, sensor), params_kw, settings_kw = job
    s = simulate_session(exercise=ex, fs_hz=fs, seed=seed, fatigue=fatigue, drop_rate=drop, **sensor)
    eng = Engine(Settings(measure=PRESETS[ex].measure, **settings_kw), params=DetectorParams(**params_kw))
    eng.feed(SampleBlock(t_s=s.t_s, accel=s.accel, gyro=s.gyro, fs_hz=s.fs_hz))
    eng.finish()
    reps = [r for st in eng.sets for r in st.reps]
    errs: list[float] = []
    used: set[int] = set()
    for tr in s.truth:
        cands = [(abs(r.start_s - tr.start_s) + abs(r.end_s - tr.end_s), i) for i, r in enumerate(reps) if i not in used]
        if cands:
            d, i = min(cands)
            if d < 0.5:
                used.add(i)
                errs.append(reps[i].duration_s - (tr.end_s - tr.start_s))
    return {
        "exact": len(reps) == len(s.truth),
        "dur_err_s": errs,
        "latency_first_s": [r.detected_at_s - r.end_s for r in reps if r.index == 1],
        "latency_rest_s": [r.detected_at_s - r.end_s for r in reps if r.index > 1],
        "ff_ok": (eng.sets[0].first_failure_rep if eng.sets else None) == s.truth_failure.get(1),
        "fatigue": fatigue,
        "exercise": ex,
    }


def _pct(x: list[float], q: float) -> float | None:
    return round(float(np.percentile(x, q)) * 1e3, 1) if len(x) else None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = [v for r in rows for v in r["latency_first_s"]]
    rest = [v for r in rows for v in r["latency_rest_s"]]
    allv = first + rest
    errs = np.abs([e for r in rows for e in r["dur_err_s"]])
    fat = [r for r in rows if r["fatigue"]]
    return {
        "sets": len(rows), "reps": len(allv),
        "latency_median_ms": _pct(allv, 50), "latency_p95_ms": _pct(allv, 95),
        "first_rep_median_ms": _pct(first, 50), "later_reps_median_ms": _pct(rest, 50),
        "later_reps_p95_ms": _pct(rest, 95),
        "exact_count_rate": round(float(np.mean([r["exact"] for r in rows])), 3),
        "duration_mae_ms": round(float(errs.mean()) * 1e3, 1) if errs.size else None,
        "first_failure_exact_rate": round(float(np.mean([r["ff_ok"] for r in fat])), 3) if fat else None,
    }


def run(quick: bool = False, jobs: int = 2, fs_hz: float = 100.0) -> dict[str, Any]:
    t0 = time.perf_counter()
    grid = [g for g in accuracy.grid(quick) if g[1] == fs_hz]
    variants = VARIANTS[:1] if quick else VARIANTS
    out: dict[str, Any] = {"fs_hz": fs_hz, "variants": []}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for label, pk, sk in variants:
            rows = list(pool.map(one, [(g, pk, sk) for g in grid]))
            out["variants"].append({"variant": label, **summarize(rows)})
            if label == "default":
                out["by_exercise"] = {ex: summarize([r for r in rows if r["exercise"] == ex]) for ex in accuracy.EXERCISES}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    from .common import json_main

    return json_main(run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
