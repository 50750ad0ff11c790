"""Rep counts of the orientation channel alone on real recordings that are NOT part of the project.

    python -m benchmarks.real_sets_orient --muvr ../shared/data/muvr_pebble_wrist [--block 10] [--fs 100] [--json out.json]

Same data, loader and scoring as ``benchmarks.real_sets`` (exact / within one /
within two reps, over all sets with a logged count and over the plausible sets
with at least 1.2 s of data per logged rep), but the counts come from
:class:`imu_tempo.orient.OrientationRepDetector` fed the whole set (or blocks of
``--block`` samples), at 50 Hz or resampled to ``--fs``.  Also reports the detector's throughput in samples/s.
Aggregate rates only; the data is read, never copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections import defaultdict

import numpy as np

from benchmarks.real_sets import load_muvr, rates, resample
from imu_tempo.orient import OrientationRepDetector

FS_HZ = 50.0


def count_reps(accel_mps2: np.ndarray, *, fs_hz: float, block: int | None = None) -> int:
    det = OrientationRepDetector(fs_hz=fs_hz)
    n = accel_mps2.shape[0]
    step = block or n
    reps = []
    for i in range(0, n, step):
        reps += det.feed(accel_mps2[i : i + step])
    reps += det.finish()
    return len(reps)


def run_muvr(root: str, *, block: int | None = None, fs_hz: float = FS_HZ) -> dict:
    results = []
    samples = 0
    busy_s = 0.0
    with open(os.path.join(root, "sets_index.csv"), newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["reps_logged"]:
                continue
            acc = resample(load_muvr(os.path.join(root, row["file"])), fs_hz)
            t0 = time.perf_counter()
            found = count_reps(acc, fs_hz=fs_hz, block=block)
            busy_s += time.perf_counter() - t0
            samples += acc.shape[0]
            results.append({
                "exercise": row["exercise"],
                "logged": int(row["reps_logged"]),
                "found": found,
                "plausible": float(row["s_per_logged_rep"]) >= 1.2,
            })
    by_ex: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        if r["plausible"]:
            by_ex[r["exercise"]].append(r)
    return {
        "all_logged": rates(results),
        "plausible": rates([r for r in results if r["plausible"]]),
        "samples_per_s": round(samples / busy_s),
        "by_exercise_plausible": {k: rates(v) for k, v in sorted(by_ex.items())},
    }


def synthetic_speed(*, fs_hz: float, seconds: float, block: int) -> float:
    """Samples/s on a synthetic curl-like stream (rotation 120 deg at 0.4 Hz plus noise)."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    ang = np.radians(60.0) * (1 - np.cos(2 * np.pi * 0.4 * t))
    acc = 9.80665 * np.stack([np.sin(ang), np.zeros_like(t), np.cos(ang)], axis=1)
    acc += rng.normal(0.0, 0.3, acc.shape)
    det = OrientationRepDetector(fs_hz=fs_hz)
    t0 = time.perf_counter()
    for i in range(0, acc.shape[0], block):
        det.feed(acc[i : i + block])
    det.finish()
    return acc.shape[0] / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--muvr", help="folder of the muvr_pebble_wrist data (with sets_index.csv)")
    ap.add_argument("--block", type=int, help="feed blocks of this many samples (default: whole set)")
    ap.add_argument("--speed", action="store_true", help="also time a long synthetic stream at 50/200 Hz")
    ap.add_argument("--fs", type=float, default=FS_HZ, help="resample the recordings to this rate (Hz) first")
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args(argv)
    res: dict = {}
    if args.muvr:
        res = run_muvr(args.muvr, block=args.block, fs_hz=args.fs)
        print(json.dumps({k: v for k, v in res.items() if k != "by_exercise_plausible"}, indent=1))
        for ex, r in res["by_exercise_plausible"].items():
            print(f"  {ex:32s} sets {r['sets']:3d}  exact {r.get('exact', 0):.2f}  within1 {r.get('within_1', 0):.2f}"
                  f"  within2 {r.get('within_2', 0):.2f}  bias {r.get('mean_signed_error', 0):+.1f}")
    if args.speed:
        speed = {}
        for fs in (50.0, 200.0):
            for block in (10, 1_000_000):
                sps = synthetic_speed(fs_hz=fs, seconds=2_000_000 / fs if block > 10 else 200_000 / fs, block=block)
                speed[f"{fs:g}Hz_block{block}"] = round(sps)
        res["synthetic_samples_per_s"] = speed
        print(json.dumps(speed, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
