"""Accuracy on a grid of SIMULATED sets (imu_tempo.simulate; truth known exactly).

    python -m benchmarks.accuracy [--quick] [--json out.json] [--noise MPS2 [--gyro-noise RADPS]]
                                  [--seeds A-B] [--rates 10,400] [--no-gyro] [--detector NAME] [--tempo X]
                                  [--stamp-jitter P] [--placements] [--exercises NAME,...]

Grid: 4 exercises x rates (25, 50, 100, 200 Hz) x fatigue (fatiguing, fresh) x seeds, random sensor
orientation, noise, bias, jitter; every 4th set also drops samples.  Each set is analysed with the
exercise's recommended measure.  Reported: exact rep-count rate, duration MAE over matched reps,
first-failing-rep exact rate on fatiguing sets, false-failure rate on fresh sets, detection latency
(detected_at_s - end_s).  All numbers are synthetic: they say how the analyzer does on our simulator.
``--noise`` replaces the simulated sensor's white noise (default 0.05 m/s^2 per axis, gyro
0.003 rad/s): cheap IMUs at full bandwidth are nearer 0.2-0.4 m/s^2.  ``--no-gyro`` simulates an
accelerometer-only sensor (many watches and phones export no gyroscope).  ``--tempo X`` makes every
set slow from its first rep (each rep X times longer: a tempo set, or a load heavy from rep 1) and
analyses it with the absolute limit scaled alike (``--threshold-s`` 1.2 * X); jump squats are left
out (a jump cannot be slowed at will).  ``--stamp-jitter P`` moves every reported time stamp by up to
+-P sample periods (uniform; the samples stay where they were taken), as a phone's sensor batching or
a coarse packet clock does; the simulator's own stamp jitter stays within a quarter period.
``gaps_per_set`` counts the gaps the engine reported (every 4th set really drops samples).
``--placements`` wears the sensor elsewhere (``simulate --placement``): a chest strap in swings and
jump squats, a chest strap and a watch in pull-ups, a velocity tracker on the bar in push presses (it
rests in the rack until the hands take it, and stays level); the motion and the truth are the same
sets', the sensor sees its own point and turns.  ``--exercises`` runs other presets than the grid's
four, e.g. ``bench_throw`` (a preset added after the detector was built: never tuned on).
"""

from __future__ import annotations

import itertools
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

EXERCISES = ("kettlebell_swing", "push_press", "jump_squat", "pull_up")  # the grid's (issue #2)


def one(args: tuple) -> dict:
    from imu_tempo.engine import Engine
    from imu_tempo.settings import Settings
    from imu_tempo.simulate import EXERCISES as PRESETS
    from imu_tempo.simulate import simulate_session
    from imu_tempo.types import SampleBlock

    ex, fs, fatigue, seed, drop, sensor, *more = args
    sensor = dict(sensor)
    stamp_jitter = sensor.pop("stamp_jitter", 0.0)
    s = simulate_session(exercise=ex, fs_hz=fs, seed=seed, fatigue=fatigue, drop_rate=drop, **sensor)
    settings = Settings(measure=PRESETS[ex].measure, **(more[0] if more else {}))
    eng = Engine(settings)
    t_s = s.t_s
    if stamp_jitter:  # reported stamps off by up to +-stamp_jitter periods (uniform), samples where they were
        rng = np.random.default_rng(seed + 7919)
        t_s = t_s + rng.uniform(-stamp_jitter, stamp_jitter, t_s.shape[0]) / fs
        t_s = np.maximum.accumulate(t_s) + np.arange(t_s.shape[0]) * 1e-9  # strictly increasing
    eng.feed(SampleBlock(t_s=t_s, accel=s.accel, gyro=s.gyro, fs_hz=s.fs_hz))
    eng.finish()
    reps = [r for st in eng.sets for r in st.reps]
    truth = list(s.truth)
    errs, lat = [], []
    used: set[int] = set()
    for tr in truth:
        cands = [(abs(r.start_s - tr.start_s) + abs(r.end_s - tr.end_s), i) for i, r in enumerate(reps) if i not in used]
        if not cands:
            continue
        d, i = min(cands)
        if d < 0.5:
            used.add(i)
            r = reps[i]
            errs.append(r.duration_s - (tr.end_s - tr.start_s))
        for r in reps:
            lat.append(r.detected_at_s - r.end_s)
    ff_found = eng.sets[0].first_failure_rep if eng.sets else None
    ff_truth = s.truth_failure.get(1)
    return {
        "exercise": ex, "fs_hz": fs, "fatigue": fatigue, "seed": seed, "drop_rate": drop,
        "truth_reps": len(truth), "found_reps": len(reps), "dur_err_s": errs,
        "latency_s": [r.detected_at_s - r.end_s for r in reps],
        "ff_truth": ff_truth, "ff_found": ff_found,
        "any_failure": any(st.first_failure_rep is not None for st in eng.sets),
        "gaps": len(eng.gaps),
        "placement": s.metadata["placement"],
    }


def grid(quick: bool, sensor: dict | None = None, seeds=None, rates=None, placements: bool = False,
         exercises: tuple[str, ...] = EXERCISES) -> list[tuple]:
    """The sets: (exercise, rate, fatigue, seed, drop rate, ``sensor``: more simulate_session arguments).

    ``placements``: each exercise at each of its other placements instead of its own."""
    from imu_tempo.simulate import EXERCISES as PRESETS

    rates = rates or ((50.0, 100.0) if quick else (25.0, 50.0, 100.0, 200.0))
    seeds = seeds if seeds is not None else (range(1) if quick else range(4))
    if (sensor or {}).get("tempo", 1.0) != 1.0:
        exercises = tuple(e for e in exercises if e != "jump_squat")
    worn = [(e, p) for e in exercises for p in PRESETS[e].placements[1:]] if placements else [(e, None) for e in exercises]
    out = []
    for k, ((ex, place), fs, fat, seed) in enumerate(itertools.product(worn, rates, (True, False), seeds)):
        more = {**(sensor or {}), **({"placement": place} if place else {})}
        out.append((ex, fs, fat, seed, 0.002 if k % 4 == 3 else 0.0, more))
    return out


def summarize(rows: list[dict]) -> dict:
    exact = np.mean([r["truth_reps"] == r["found_reps"] for r in rows])
    errs = np.concatenate([np.abs(r["dur_err_s"]) for r in rows if r["dur_err_s"]] or [np.zeros(0)])
    lat = np.concatenate([r["latency_s"] for r in rows if r["latency_s"]] or [np.zeros(0)])
    fat = [r for r in rows if r["fatigue"] and r["ff_truth"] is not None]
    fresh = [r for r in rows if not r["fatigue"]]
    out = {
        "sets": len(rows),
        "exact_count_rate": round(float(exact), 3),
        "matched_reps": int(errs.size),
        "duration_mae_ms": round(float(errs.mean() * 1000), 1) if errs.size else None,
        "duration_median_abs_ms": round(float(np.median(errs) * 1000), 1) if errs.size else None,
        "first_failure_exact_rate": round(float(np.mean([r["ff_found"] == r["ff_truth"] for r in fat])), 3) if fat else None,
        "fresh_sets_flagged_rate": round(float(np.mean([r["any_failure"] for r in fresh])), 3) if fresh else None,
        "latency_median_ms": round(float(np.median(lat) * 1000), 1) if lat.size else None,
        "latency_p95_ms": round(float(np.percentile(lat, 95) * 1000), 1) if lat.size else None,
        "gaps_per_set": round(float(np.mean([r.get("gaps", 0) for r in rows])), 2),
    }
    return out


def run(quick: bool = False, jobs: int = 2, sensor: dict | None = None, seeds=None, rates=None,
        detector: str | None = None, placements: bool = False, exercises: tuple[str, ...] = EXERCISES) -> dict:
    from imu_tempo.simulate import EXERCISES as PRESETS

    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        settings_kw = {"detector": detector} if detector else {}
        if sensor and "tempo" in sensor:  # the truth's absolute limit scales with the tempo (simulate_session)
            settings_kw["threshold_s"] = round(1.2 * sensor["tempo"], 6)
        sets = grid(quick, sensor, seeds, rates, placements, exercises)
        rows = list(ex.map(one, [g + (settings_kw,) for g in sets]))
    res = {"overall": summarize(rows)}
    for ex_name in sorted({r["exercise"] for r in rows}, key=list(PRESETS).index):
        if not placements:
            res[ex_name] = summarize([r for r in rows if r["exercise"] == ex_name])
            continue
        for place in sorted({r["placement"] for r in rows if r["exercise"] == ex_name}):
            res[f"{ex_name} ({place})"] = summarize([r for r in rows if (r["exercise"], r["placement"]) == (ex_name, place)])
    for fs in sorted({r["fs_hz"] for r in rows}):
        res[f"{fs:g} Hz"] = summarize([r for r in rows if r["fs_hz"] == fs])
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .common import json_main

    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--noise", type=float)
    ap.add_argument("--gyro-noise", type=float)
    ap.add_argument("--no-gyro", action="store_true", help="an accelerometer-only sensor")
    ap.add_argument("--detector", help="rep channel(s) instead of the default (see Settings.detector)")
    ap.add_argument("--seeds", help="seed range A-B (inclusive) instead of 0-3, e.g. 10-13 for held-out sets")
    ap.add_argument("--rates", help="comma-separated rates in Hz instead of 25,50,100,200 (10-400)")
    ap.add_argument("--tempo", type=float, help="every rep this many times slower (simulate --tempo)")
    ap.add_argument("--stamp-jitter", type=float,
                    help="move each reported time stamp by up to +-X sample periods (uniform; a phone's or a packet clock's jitter)")
    ap.add_argument("--placements", action="store_true",
                    help="each exercise worn elsewhere instead (simulate --placement: chest straps, a watch on pull-ups, a bar)")
    ap.add_argument("--exercises", help="comma-separated presets instead of the grid's four (e.g. bench_throw)")
    extra, rest = ap.parse_known_args(argv)
    seeds = rates = None
    if extra.seeds:
        a, _, b = extra.seeds.partition("-")
        seeds = range(int(a), int(b or a) + 1)
    if extra.rates:
        rates = tuple(float(r) for r in extra.rates.split(","))
    sensor: dict = {}
    if extra.noise is not None:
        sensor["noise_mps2"] = extra.noise
    if extra.gyro_noise is not None:
        sensor["gyro_noise_rad_s"] = extra.gyro_noise
    if extra.no_gyro:
        sensor["gyro"] = False
    if extra.tempo is not None:
        sensor["tempo"] = extra.tempo
    if extra.stamp_jitter:
        sensor["stamp_jitter"] = extra.stamp_jitter
    exercises = tuple(extra.exercises.split(",")) if extra.exercises else EXERCISES
    from imu_tempo.simulate import EXERCISES as PRESETS

    unknown = [e for e in exercises if e not in PRESETS]
    if unknown:
        ap.error(f"unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(PRESETS)}")
    return json_main(lambda quick: run(quick, sensor=sensor, seeds=seeds, rates=rates, detector=extra.detector,
                                       placements=extra.placements, exercises=exercises),
                     __doc__, rest)


if __name__ == "__main__":
    sys.exit(main())
