"""Where the engine spends its time: self time per function, for the benchmarks' workloads.

    python -m benchmarks.profile [--workload streaming10|streaming1|batch] [--pyinstrument] [--top 15]

The default profiler is the standard library's ``cProfile`` (no extra dependency); the table
lists ``file:function`` with its share of the total *self* time (time in the function's own code,
not its callees), with numpy/scipy functions listed under their own names so the engine function
that calls them is found in the ``callers`` column.  cProfile's per-call overhead inflates
functions that are called very often; ``--pyinstrument`` (``pip install pyinstrument``; a
sampling profiler, for looking, not a dependency) prints the call tree instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
from typing import Any

import numpy as np


def _workload(name: str):
    from imu_tempo.engine import Engine
    from imu_tempo.simulate import simulate_session
    from imu_tempo.types import SampleBlock

    s = simulate_session(exercise="kettlebell_swing", sets=2, fs_hz=100.0, seed=0, rest_between_sets_s=20.0)
    bs = {"streaming10": 10, "streaming1": 1, "batch": 1 << 20}[name]
    reps = {"streaming10": 2, "streaming1": 1, "batch": 20}[name]
    blocks = [SampleBlock(t_s=s.t_s[i:i + bs], accel=s.accel[i:i + bs], gyro=s.gyro[i:i + bs], fs_hz=s.fs_hz)
              for i in range(0, len(s.t_s), bs)]

    def go() -> None:
        for _ in range(reps):
            e = Engine()
            for b in blocks:
                e.feed(b)
            e.finish()

    return go


def _short(filename: str) -> str:
    parts = filename.replace("\\", "/").split("/")
    for anchor in ("imu_tempo", "scipy", "numpy"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor):])
    return os.path.basename(filename)


def hotspots(workload: str = "streaming10", top: int = 15) -> list[dict[str, Any]]:
    """Top ``top`` functions by self time under cProfile; each with % of total and its main caller."""
    go = _workload(workload)
    go()  # warm up (imports, caches)
    prof = cProfile.Profile()
    prof.enable()
    go()
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # type: ignore[attr-defined]
    rows = []
    for (fn, line, name), (cc, nc, tt, ct, callers) in st.stats.items():  # type: ignore[attr-defined]
        caller = None
        if callers:
            (cf, cl, cn), _ = max(callers.items(), key=lambda kv: kv[1][2])
            caller = f"{_short(cf)}:{cn}"
        where = f"{_short(fn)}:{name}" if fn != "~" else name
        rows.append({"function": where, "line": line, "self_pct": round(100 * tt / total, 1),
                     "cumulative_pct": round(100 * ct / total, 1), "calls": nc, "main_caller": caller})
    rows.sort(key=lambda r: -r["self_pct"])
    return rows[:top]


def by_engine_function(workload: str = "streaming10", top: int = 12) -> list[dict[str, Any]]:
    """Cumulative time of the package's own functions (what to optimise), largest first."""
    go = _workload(workload)
    go()
    prof = cProfile.Profile()
    prof.enable()
    go()
    prof.disable()
    st = pstats.Stats(prof)
    total = max(v[3] for v in st.stats.values())  # type: ignore[attr-defined]
    rows = [{"function": f"{_short(fn)}:{name}", "cumulative_pct": round(100 * ct / total, 1),
             "self_pct": round(100 * tt / total, 1), "calls": nc}
            for (fn, line, name), (cc, nc, tt, ct, callers) in st.stats.items()  # type: ignore[attr-defined]
            if "imu_tempo" in fn.replace("\\", "/")]
    rows.sort(key=lambda r: -r["cumulative_pct"])
    return rows[:top]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workload", default="streaming10", choices=("streaming10", "streaming1", "batch"))
    ap.add_argument("--pyinstrument", action="store_true")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    if args.pyinstrument:
        from pyinstrument import Profiler

        go = _workload(args.workload)
        go()
        p = Profiler(interval=0.0005)
        p.start()
        go()
        p.stop()
        print(p.output_text(unicode=False, color=False))
        return 0
    np.set_printoptions(linewidth=200)
    print(f"{'self %':>7} {'cum %':>7} {'calls':>8}  function  (main caller)")
    for r in hotspots(args.workload, args.top):
        print(f"{r['self_pct']:7.1f} {r['cumulative_pct']:7.1f} {r['calls']:8d}  {r['function']}  ({r['main_caller']})")
    print("\ncumulative, package functions:")
    for r in by_engine_function(args.workload, args.top):
        print(f"{r['cumulative_pct']:7.1f} {r['self_pct']:7.1f} {r['calls']:8d}  {r['function']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
