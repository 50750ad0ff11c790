"""Rep counts on real recordings that are NOT part of the project (read through an explicit path).

    python -m benchmarks.real_sets --muvr ../shared/data/muvr_pebble_wrist [--detector auto] [--fs 100] [--json out.json]

The muvr data (Pebble watch on the wrist, 50 Hz, values in g, no time column, one
lifter, rep counts typed by the lifter) has no licence: it is read, never copied.
We report aggregate rates only: exact count and within-one-rep, over all sets with a
logged count and over the sets whose logged count is plausible (at least 1.2 s of
data per logged rep; see the data's MANIFEST for why the others look truncated).
``--fs`` resamples the 50 Hz recordings first (scipy.signal.resample_poly), so the
same sets check other sample rates.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import defaultdict
from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from imu_tempo.engine import Engine
from imu_tempo.settings import DETECTORS, Settings
from imu_tempo.types import SampleBlock

G = 9.80665


def load_muvr(path: str) -> np.ndarray:
    rows = []
    with open(path, newline="") as fh:
        for row in csv.reader(fh):
            if len(row) < 3:
                continue
            try:
                rows.append([float(row[0]), float(row[1]), float(row[2])])
            except ValueError:
                continue
    return np.asarray(rows) * G


MUVR_FS_HZ = 50.0


def resample(accel: np.ndarray, fs_hz: float, *, from_hz: float = MUVR_FS_HZ) -> np.ndarray:
    """The recording at ``fs_hz`` (polyphase resampling, edges padded with a line)."""
    if fs_hz == from_hz:
        return accel
    r = Fraction(fs_hz / from_hz).limit_denominator(1000)
    return resample_poly(accel, r.numerator, r.denominator, axis=0, padtype="line")


def count_reps(accel_mps2: np.ndarray, fs_hz: float, settings: Settings) -> int:
    t = np.arange(accel_mps2.shape[0]) / fs_hz
    eng = Engine(settings)
    eng.feed(SampleBlock(t_s=t, accel=accel_mps2, gyro=None, fs_hz=fs_hz))
    eng.finish()
    return sum(s.rep_count for s in eng.sets)


def rates(rs: list[dict]) -> dict:
    """Aggregate count agreement of rows ``{"found": int, "logged": int}``."""
    n = len(rs)
    if n == 0:
        return {"sets": 0}
    err = np.array([r["found"] - r["logged"] for r in rs])
    return {
        "sets": n,
        "exact": round(float(np.mean(err == 0)), 3),
        "within_1": round(float(np.mean(np.abs(err) <= 1)), 3),
        "within_2": round(float(np.mean(np.abs(err) <= 2)), 3),
        "mean_signed_error": round(float(err.mean()), 2),
    }


def run_muvr(root: str, *, settings: Settings | None = None, detector: str | None = None,
             fs_hz: float = MUVR_FS_HZ) -> dict:
    settings = settings or Settings(set_rest_s=60.0)
    if detector is not None:
        settings = settings.replace(detector=detector)
    index = os.path.join(root, "sets_index.csv")
    results = []
    with open(index, newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["reps_logged"]:
                continue
            logged = int(row["reps_logged"])
            acc = resample(load_muvr(os.path.join(root, row["file"])), fs_hz)
            found = count_reps(acc, fs_hz, settings)
            plausible = float(row["s_per_logged_rep"]) >= 1.2
            results.append(
                {"exercise": row["exercise"], "logged": logged, "found": found, "plausible": plausible}
            )

    by_ex: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        if r["plausible"]:
            by_ex[r["exercise"]].append(r)
    return {
        "all_logged": rates(results),
        "plausible": rates([r for r in results if r["plausible"]]),
        "by_exercise_plausible": {k: rates(v) for k, v in sorted(by_ex.items())},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--muvr", required=True, help="folder of the muvr_pebble_wrist data (with sets_index.csv)")
    ap.add_argument("--detector", choices=DETECTORS, help="rep channel(s) (default: the Settings default)")
    ap.add_argument("--fs", type=float, default=MUVR_FS_HZ, help="resample the recordings to this rate (Hz) first")
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args(argv)
    res = run_muvr(args.muvr, detector=args.detector, fs_hz=args.fs)
    print(json.dumps({k: v for k, v in res.items() if k != "by_exercise_plausible"}, indent=1))
    for ex, r in res["by_exercise_plausible"].items():
        print(f"  {ex:35s} sets {r['sets']:3d}  exact {r.get('exact', 0):.2f}  within1 {r.get('within_1', 0):.2f}  bias {r.get('mean_signed_error', 0):+.1f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
