"""Many athletes in one process: N simulated wearables at 100 Hz, paced in real time, one asyncio loop.

    python -m benchmarks.many_athletes [--quick] [--athletes 10,50,100]

Each athlete is a task with its own :class:`~imu_tempo.engine.Engine`: it waits until its next
block of 10 samples (one BLE notification) is due on the host clock, feeds it, and hands the events
to its own event stream (a list).  Starts are staggered over one block period, as independent
devices would be.  Each athlete plays a different simulated session (power sets with rests) from
a random phase.

Measured per N
--------------
``block_delay``
    Host time from the moment a block was due (its last sample "arrived") to ``feed`` having
    returned its events: scheduling lateness + analysis.  Percentiles over all blocks.
``rep_delay``
    The same, only for blocks whose feed produced a rep event: the time from the arrival of the
    sample that settled a rep to its event.  The goal is p99 < 50 ms at 50 athletes.
``cpu``
    Process CPU time / wall time over the run (1.0 = one core busy; the loop is single-threaded).
``feed_cpu``
    CPU time of each ``feed`` call (``time.thread_time``): the analysis cost alone, which waiting
    for a CPU does not inflate.
``runqueue_wait``
    Share of the run the loop's thread spent runnable but waiting for a CPU (``/proc/thread-self/
    schedstat``): other processes on a shared machine.  Delays with a high value here are the
    machine's, not the engine's.
``keeps_up``
    Every athlete fed all its blocks and the last block was no more than 0.5 s late.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import numpy as np

from .common import percentile_ms

FS_HZ = 100.0
BLOCK = 10


def _sessions(k: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from imu_tempo.simulate import simulate_session

    out = []
    exercises = ("kettlebell_swing", "push_press", "jump_squat", "kettlebell_swing", "push_press")
    for i in range(k):
        s = simulate_session(exercise=exercises[i % len(exercises)], sets=2, fs_hz=FS_HZ, seed=100 + i,
                             idle_s=2.0, rest_between_sets_s=15.0, walk=False)
        out.append((np.asarray(s.t_s), np.asarray(s.accel), np.asarray(s.gyro)))
    return out


def _athlete_data(session, *, phase: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` samples of ``session`` from sample ``phase`` on, tiled, on a clean 100 Hz time base."""
    _, a, g = session
    idx = (phase + np.arange(n)) % len(a)
    return np.arange(n) / FS_HZ, a[idx], g[idx]


async def _athlete(i: int, data, *, start: float, stagger_s: float, out: dict[str, list]) -> None:
    from imu_tempo.engine import Engine
    from imu_tempo.types import RepEvent, SampleBlock

    t, a, g = data
    eng = Engine()
    events: list = []  # this athlete's event stream
    period = BLOCK / FS_HZ
    delays = out["block"]
    rep_delays = out["rep"]
    last_late = 0.0
    for j, i0 in enumerate(range(0, len(t), BLOCK)):
        due = start + stagger_s + (j + 1) * period
        wait = due - time.monotonic()
        await asyncio.sleep(wait if wait > 0 else 0)
        blk = SampleBlock(t_s=t[i0:i0 + BLOCK], accel=a[i0:i0 + BLOCK], gyro=g[i0:i0 + BLOCK], fs_hz=FS_HZ,
                          host_time_s=due)
        c0 = time.thread_time()
        evs = eng.feed(blk)
        done = time.monotonic()
        out["feed_cpu"].append(time.thread_time() - c0)
        delays.append(done - due)
        last_late = done - due
        if evs:
            events.extend(evs)
            if any(isinstance(e, RepEvent) for e in evs):
                rep_delays.append(done - due)
    events.extend(eng.finish())
    out["reps"].append(sum(isinstance(e, RepEvent) for e in events))
    out["last_late"].append(last_late)
    out["blocks_fed"].append(j + 1)


async def _run_n(n_athletes: int, duration_s: float, sessions, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(duration_s * FS_HZ)
    data = [_athlete_data(sessions[i % len(sessions)], phase=int(rng.integers(0, len(sessions[i % len(sessions)][1]))),
                          n=n) for i in range(n_athletes)]
    out: dict[str, list] = {"block": [], "rep": [], "reps": [], "last_late": [], "blocks_fed": [], "feed_cpu": []}
    start = time.monotonic() + 0.05
    wait0 = _runqueue_wait_s()
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(
        _athlete(i, d, start=start, stagger_s=float(rng.uniform(0, BLOCK / FS_HZ)), out=out)
        for i, d in enumerate(data)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    wait1 = _runqueue_wait_s()
    feed_cpu = np.asarray(out["feed_cpu"])
    block = np.asarray(out["block"])
    rep = np.asarray(out["rep"])
    expected_blocks = (n + BLOCK - 1) // BLOCK
    return {
        "athletes": n_athletes, "seconds": duration_s, "samples": n * n_athletes,
        "rep_events": int(sum(out["reps"])),
        "block_delay_ms": {"p50": percentile_ms(block, 50), "p99": percentile_ms(block, 99),
                           "max": percentile_ms(block, 100)},
        "rep_delay_ms": {"n": int(rep.size), "p50": percentile_ms(rep, 50), "p99": percentile_ms(rep, 99),
                         "max": percentile_ms(rep, 100)},
        "blocks_over_50ms": round(float(np.mean(block > 0.05)), 4) if block.size else None,
        "feed_cpu_ms": {"p50": percentile_ms(feed_cpu, 50), "p99": percentile_ms(feed_cpu, 99),
                        "max": percentile_ms(feed_cpu, 100)},
        "runqueue_wait_fraction": None if wait0 is None or wait1 is None else round((wait1 - wait0) / wall, 3),
        "cpu_fraction": round(cpu / wall, 3),
        "cpu_us_per_sample": round(cpu / (n * n_athletes) * 1e6, 2),
        "keeps_up": bool(all(b == expected_blocks for b in out["blocks_fed"]) and max(out["last_late"]) < 0.5),
    }


def _runqueue_wait_s() -> float | None:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat), or None."""
    try:
        with open("/proc/thread-self/schedstat") as fh:
            return int(fh.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def run(quick: bool = False, athletes: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Run the benchmark for each N in ``athletes``; stop escalating once the loop falls behind."""
    t0 = time.monotonic()
    if athletes is None:
        athletes = (50,) if quick else (10, 50, 100, 200, 300)
    duration_s = 8.0 if quick else 20.0
    sessions = _sessions(5)
    rows = []
    for k, n in enumerate(athletes):
        row = asyncio.run(_run_n(n, duration_s, sessions, seed=k))
        rows.append(row)
        print(f"  athletes={n}: rep p99 {row['rep_delay_ms']['p99']} ms, block p99 {row['block_delay_ms']['p99']} ms, "
              f"cpu {row['cpu_fraction']}, waiting for a CPU {row['runqueue_wait_fraction']}, "
              f"feed cpu p99 {row['feed_cpu_ms']['p99']} ms, keeps up {row['keeps_up']}", file=sys.stderr, flush=True)
        if not row["keeps_up"] or row["cpu_fraction"] > 0.95:
            break
    return {"fs_hz": FS_HZ, "block_samples": BLOCK, "runs": rows, "wall_s": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--athletes", help="comma-separated N values, e.g. 10,50,100")
    args = ap.parse_args(argv)
    ns = tuple(int(x) for x in args.athletes.split(",")) if args.athletes else None
    print(json.dumps(run(args.quick, ns), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
