"""Memory over a long live session: two hours at 200 Hz through ``run_session``, as fast as it goes.

    python -m benchmarks.memory [--quick] [--hours 2] [--block 20]

The source generates blocks on the fly (a simulated multi-set session, repeated with its device time
running on), so the benchmark itself holds no more than one session.  The path is the live one:
:func:`imu_tempo.session.run_session` with its default ``keep_events=True`` and an ``on_event``
that drops events, so whatever the session keeps is counted.  Resident memory (``/proc/self/statm``)
is sampled every ten minutes of data; growth is measured from the end of the first ten minutes
(imports, first allocations, the ring buffer) to the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from typing import Any

import numpy as np

from .common import rss_mb


class _LoopedSession:
    """A Source: ``duration_s`` of a simulated session, repeated, in blocks of ``block`` samples."""

    def __init__(self, *, fs_hz: float, duration_s: float, block: int, on_progress, on_first_block) -> None:
        from imu_tempo.simulate import simulate_session

        s = simulate_session(exercise="kettlebell_swing", sets=3, fs_hz=fs_hz, seed=7, rest_between_sets_s=30.0)
        self.name = "looped-simulated-session"
        self.fs_hz = fs_hz
        self.accel = np.ascontiguousarray(s.accel)
        self.gyro = np.ascontiguousarray(s.gyro)
        self.n_total = int(duration_s * fs_hz)
        self.block = block
        self.on_progress = on_progress
        self.on_first_block = on_first_block
        self.reps_per_loop = len(s.truth)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self):
        return self._gen()

    async def _gen(self):
        from imu_tempo.types import SampleBlock

        n_loop = len(self.accel)
        every = int(600 * self.fs_hz)  # report every 10 min of data
        next_report = every
        i0 = 0
        blocks = 0
        while i0 < self.n_total:
            k0 = i0 % n_loop
            m = min(self.block, self.n_total - i0, n_loop - k0)  # a block never straddles the loop's end
            i1 = i0 + m
            yield SampleBlock(t_s=np.arange(i0, i1) / self.fs_hz, accel=self.accel[k0:k0 + m],
                              gyro=self.gyro[k0:k0 + m], fs_hz=self.fs_hz)
            if blocks == 0:
                self.on_first_block()
            if i1 >= next_report:
                self.on_progress(i1)
                next_report += every
            i0 = i1
            blocks += 1
            if blocks % 2000 == 0:
                await asyncio.sleep(0)


async def _session(*, fs_hz: float, duration_s: float, block: int) -> dict[str, Any]:
    from imu_tempo.engine import Engine
    from imu_tempo.session import run_session
    from imu_tempo.types import RepEvent

    samples: list[tuple[float, float]] = []

    def progress(i: int) -> None:
        gc.collect()
        samples.append((i / fs_hz / 60.0, rss_mb()))

    first: list[float] = []
    gc.collect()
    rss0 = rss_mb()
    src = _LoopedSession(fs_hz=fs_hz, duration_s=duration_s, block=block, on_progress=progress,
                         on_first_block=lambda: first.append(rss_mb()))
    rss_sim = rss_mb()
    engine = Engine()
    n_rep = 0

    def on_event(ev) -> None:
        nonlocal n_rep
        n_rep += isinstance(ev, RepEvent)

    t0 = time.perf_counter()
    res = await run_session(src, engine, on_event=on_event)
    wall = time.perf_counter() - t0
    gc.collect()
    rss_end = rss_mb()
    base = samples[0][1] if samples else rss0
    return {
        "fs_hz": fs_hz, "hours": round(duration_s / 3600, 3), "block_samples": block, "samples": res.samples,
        "rep_events": n_rep, "events_kept": len(res.events), "sets": len(engine.sets),
        "rss_start_mb": round(rss0, 1), "rss_after_simulating_mb": round(rss_sim, 1),
        "rss_first_block_mb": round(first[0], 1) if first else None, "rss_after_10min_mb": round(base, 1), "rss_end_mb": round(rss_end, 1),
        "growth_mb": round(rss_end - base, 2),
        "rss_curve": [(round(m, 1), round(r, 1)) for m, r in samples],
        "wall_s": round(wall, 1), "real_time_factor": round(duration_s / wall, 1),
    }


def run(quick: bool = False, *, hours: float | None = None, block: int | None = None) -> dict[str, Any]:
    """Two hours at 200 Hz in 20-sample blocks (BLE-like); ``quick``: one hour in 200-sample blocks."""
    hours = hours or (1.0 if quick else 2.0)
    block = block or (200 if quick else 20)
    return asyncio.run(_session(fs_hz=200.0, duration_s=hours * 3600.0, block=block))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--hours", type=float)
    ap.add_argument("--block", type=int)
    args = ap.parse_args(argv)
    print(json.dumps(run(args.quick, hours=args.hours, block=args.block), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
