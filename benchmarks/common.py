"""Shared helpers of the benchmarks: repeated timing, resident memory, machine description, floors.

Nothing here is imported by the package; benchmarks only.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy
from scipy import signal

G = 9.80665


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time (s, ``time.perf_counter``) of ``repeats`` calls of ``fn``."""
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Wall times of each function, run in turn ``repeats`` rounds (so load changes hit all alike)."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[k].append(time.perf_counter() - t0)
    return out


def median_ratio(num: list[float], den: list[float]) -> float:
    """Median over rounds of ``num[i] / den[i]`` (each round's pair measured back to back)."""
    return statistics.median(a / b for a, b in zip(num, den, strict=True))


def rss_mb() -> float:
    """Resident set size of this process in MB (from ``/proc/self/statm``; 0.0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            resident_pages = int(fh.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3  # peak, in kB on Linux


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
        "loadavg_at_start": load,
    }


def percentile_ms(values_s: list[float] | np.ndarray, q: float) -> float | None:
    a = np.asarray(values_s, dtype=float)
    return round(float(np.percentile(a, q)) * 1e3, 2) if a.size else None


class StreamingFloor:
    """The least a streaming analyzer must do per block: |accel| and one stateful ``sosfilt``.

    Used as the same-run reference for the engine's per-block cost (``engine / floor``), so the
    ratio does not depend on how fast or busy the machine is.
    """

    def __init__(self, fs_hz: float) -> None:
        self.sos = signal.butter(2, 5.0, fs=fs_hz, output="sos")
        self.zi: np.ndarray | None = None

    def feed(self, accel: np.ndarray) -> np.ndarray:
        m = np.sqrt(np.einsum("ij,ij->i", accel, accel))
        if self.zi is None:
            self.zi = signal.sosfilt_zi(self.sos) * m[0]
        y, self.zi = signal.sosfilt(self.sos, m, zi=self.zi)
        return y


def json_main(run: Callable[[bool], dict[str, Any]], doc: str | None, argv: list[str] | None = None) -> int:
    """The command line every single-benchmark module shares: ``[--quick] [--json PATH]``."""
    import argparse
    import json

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)
    res = run(args.quick)
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0
