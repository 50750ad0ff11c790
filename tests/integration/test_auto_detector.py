"""Detector "auto": one rep channel per movement.

Vertical reps as with the default detector; orientation reps only in a bout of consecutive reps that
no vertical series claims and that is not a walking arm swing.  Analytic motion (tests.motion) and
the simulator only.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu_tempo.engine import AUTO_BOUT_MIN, ORIENT_HOLD_S, Engine
from imu_tempo.errors import ConfigError
from imu_tempo.orient import OrientationRepDetector
from imu_tempo.settings import Settings
from imu_tempo.simulate import EXERCISES, simulate_session
from imu_tempo.types import SampleBlock
from tests.motion import rotating_session, vertical_session


def run(t, a, w, fs, *, detector, block=None, **kw):
    eng = Engine(Settings(detector=detector, **kw))
    events = []
    step = block or len(t)
    for i in range(0, len(t), step):
        events += eng.feed(SampleBlock(
            t_s=t[i : i + step], accel=a[i : i + step], gyro=None if w is None else w[i : i + step], fs_hz=fs))
    events += eng.finish()
    return eng, [e.rep for e in events if e.kind == "rep"]


def spans(reps):
    return [(round(r.start_s, 9), round(r.end_s, 9)) for r in reps]


@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_rotating_reps_the_vertical_channel_misses_are_counted(fs):
    t, a, truth = rotating_session(fs_hz=fs, reps=6)
    _, vert = run(t, a, None, fs, detector="vertical")
    eng, auto = run(t, a, None, fs, detector="auto")
    assert len(vert) < len(truth)
    assert len(auto) == len(truth)
    for r, (s, e) in zip(auto, truth):
        assert abs(r.start_s - s) < 0.35 and abs(r.end_s - e) < 0.35
    assert eng.result()["settings"]["detector"] == "auto"


def test_a_bouts_first_reps_wait_until_it_counts():
    t, a, truth = rotating_session(fs_hz=50.0, reps=5)
    _, auto = run(t, a, None, 50.0, detector="auto")
    assert len(auto) == len(truth)
    first = auto[:AUTO_BOUT_MIN]
    assert all(r.detected_at_s == first[-1].detected_at_s for r in first)
    assert first[-1].detected_at_s >= first[-1].end_s
    for r in auto[AUTO_BOUT_MIN:]:
        assert r.end_s <= r.detected_at_s <= r.end_s + ORIENT_HOLD_S + 0.6  # the orientation hold plus settling


def test_two_rotating_reps_are_not_a_bout():
    t, a, _ = rotating_session(fs_hz=50.0, reps=AUTO_BOUT_MIN - 1)
    _, orient = run(t, a, None, 50.0, detector="orientation")
    _, auto = run(t, a, None, 50.0, detector="auto")
    assert len(orient) == AUTO_BOUT_MIN - 1
    assert auto == []


@pytest.mark.parametrize("pattern", ["up_first", "down_first", "continuous"])
@pytest.mark.parametrize("gyro", [False, True], ids=["accel", "gyro"])
def test_lifts_are_the_vertical_channels_alone(pattern, gyro):
    """The orientation channel also sees these lifts (their acceleration); auto keeps the vertical reps."""
    t, a, w, truth = vertical_session(fs_hz=100.0, pattern=pattern, gyro=gyro,
                                      eccentric_s=0.6 if pattern == "continuous" else 0.9)
    _, vert = run(t, a, w, 100.0, detector="vertical")
    _, auto = run(t, a, w, 100.0, detector="auto")
    assert len(vert) == len(truth)
    assert spans(auto) == spans(vert)
    assert [r.detected_at_s for r in auto] == [r.detected_at_s for r in vert]


@pytest.mark.parametrize("exercise", ["kettlebell_swing", "push_press", "jump_squat", "pull_up"])
@pytest.mark.parametrize("seed", [0, 1])
def test_simulated_sessions_walking_set_up_and_racking_add_no_reps(exercise, seed):
    s = simulate_session(exercise=exercise, fs_hz=50.0, seed=seed)
    measure = EXERCISES[exercise].measure
    _, vert = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="vertical", measure=measure)
    _, auto = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="auto", measure=measure)
    _, both = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="both", measure=measure)
    assert len(both) > len(vert)  # the orientation channel does see reps outside the sets here
    assert spans(auto) == spans(vert)


def test_a_vertical_set_whose_first_rep_swallowed_the_pick_up_still_claims_its_movement():
    """Regression: the first vertical rep includes the pick-up (6.6 s, the next 2.7 s); the two still
    make a series, so the small orientation reps inside the set must not form a bout."""
    s = simulate_session(exercise="push_press", fs_hz=25.0, seed=3, fatigue=False, drop_rate=0.002)
    _, vert = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="vertical")
    _, auto = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="auto")
    assert [(r.start_s, r.end_s, r.detected_at_s) for r in auto] == [(r.start_s, r.end_s, r.detected_at_s) for r in vert]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_walking_arm_swing_is_not_a_bout(seed):
    s = simulate_session(exercise="pull_up", fs_hz=50.0, seed=seed)
    walks = [act for act in s.activities if act.label == "walk"]
    assert walks
    most = 0
    for act in walks:
        sel = (s.t_s >= act.start_s - 1.0) & (s.t_s < act.end_s)
        t, a = s.t_s[sel] - s.t_s[sel][0], s.accel[sel]
        det = OrientationRepDetector(fs_hz=50.0)
        most = max(most, len(det.feed(a) + det.finish()))
        _, auto = run(t, a, None, 50.0, detector="auto")
        _, vert = run(t, a, None, 50.0, detector="vertical")
        assert spans(auto) == spans(vert)
    assert most >= AUTO_BOUT_MIN  # the arm swings look like reps to the orientation channel


def _walk(fs_hz: float, seconds: float, *, stride_s: float = 1.1, swing_deg: float = 25.0, jolt_g: float = 0.3):
    """A wrist swinging with the arm while walking: the steps jolt |a| twice per arm swing."""
    t = np.arange(int(seconds * fs_hz)) / fs_hz
    th = np.radians(swing_deg) * np.sin(2 * np.pi * t / stride_s)
    ph = (t % (stride_s / 2)) / (stride_s / 2)
    jolt = jolt_g * 9.80665 * np.where(ph < 0.3, np.sin(np.pi * ph / 0.3), 0.0)
    acc = (9.80665 + jolt)[:, None] * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
    return acc + np.random.default_rng(5).normal(0.0, 0.3, acc.shape)


@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_walking_away_after_a_rotating_set_adds_no_reps(fs):
    _, a0, truth = rotating_session(fs_hz=fs, reps=6, tail_s=1.0)
    a = np.concatenate([a0, _walk(fs, 15.0)])
    t = np.arange(a.shape[0]) / fs
    _, orient = run(t, a, None, fs, detector="orientation")
    _, auto = run(t, a, None, fs, detector="auto")
    assert len(orient) > len(truth)  # arm swings are reps to the orientation channel
    assert len(auto) == len(truth)


def test_set_up_moves_longer_than_the_bouts_reps_are_left_out():
    fs = 50.0
    t0, a0, _ = rotating_session(fs_hz=fs, reps=1, period_s=7.0, angle_deg=120.0, lead_s=2.0, tail_s=0.0, seed=1)
    t1, a1, truth = rotating_session(fs_hz=fs, reps=5, period_s=1.5, lead_s=0.5, seed=2)
    a = np.concatenate([a0, a1])
    t = np.arange(a.shape[0]) / fs
    _, orient = run(t, a, None, fs, detector="orientation")
    _, auto = run(t, a, None, fs, detector="auto")
    assert len(orient) == len(truth) + 1
    assert len(auto) == len(truth)
    assert orient[0].start_s < 3.0 and auto[0].start_s > t0[-1] - 0.5  # the 7 s set-up swing is not a rep


@pytest.mark.parametrize(("exercise", "fs", "seed", "fatigue"), [
    ("push_press", 100.0, 0, False), ("push_press", 25.0, 0, True), ("jump_squat", 100.0, 2, True),
    ("push_press", 100.0, 1, False),  # the clean to the rack turns the wrist 180 deg just after a walk
])
def test_without_a_gyro_a_lift_is_one_rep_not_the_turns_inside_it(exercise, fs, seed, fatigue):
    """From a wrist without a gyroscope a push press turns the sensor at the dip, the drive and the
    lowering; the orientation channel ends a 'rep' at each, well before the vertical channel settles the
    lift.  Those fragments once formed a bout and were counted (a 5-rep set read as 6-9 reps)."""
    s = simulate_session(exercise=exercise, fs_hz=fs, seed=seed, fatigue=fatigue, gyro=False)
    _, auto = run(s.t_s, s.accel, None, s.fs_hz, detector="auto")
    _, vert = run(s.t_s, s.accel, None, s.fs_hz, detector="vertical")
    assert len(vert) == len(s.truth)
    assert spans(auto) == spans(vert)


@settings(max_examples=10, deadline=None)
@given(block=st.sampled_from([1, 7, 64, 1000]), seed=st.integers(0, 2))
def test_auto_is_block_size_invariant(block, seed):
    t, a, _ = rotating_session(fs_hz=50.0, reps=5, seed=seed)
    one, _ = run(t, a, None, 50.0, detector="auto")
    many, _ = run(t, a, None, 50.0, detector="auto", block=block)
    assert json.dumps(one.result()) == json.dumps(many.result())


@pytest.mark.parametrize("block", [1, 7, 64])
def test_auto_is_block_size_invariant_on_a_simulated_session(block):
    s = simulate_session(exercise="kettlebell_swing", fs_hz=50.0, seed=3, gyro=False)
    one, _ = run(s.t_s, s.accel, None, s.fs_hz, detector="auto")
    many, _ = run(s.t_s, s.accel, None, s.fs_hz, detector="auto", block=block)
    assert json.dumps(one.result()) == json.dumps(many.result())


def test_unknown_detector_names_the_choices():
    with pytest.raises(ConfigError, match="'auto'"):
        Settings(detector="gyro")


@pytest.mark.parametrize(("seed", "fatigue"), [(0, True), (3, True), (0, False), (2, False), (2, True), (1, False)])
def test_kettlebell_swings_from_an_accelerometer_alone(seed, fatigue):
    """Without a gyroscope only the orientation channel sees swings: every swing counts, the hike before
    them and the swing forward to park the bell (half the turn) do not, and the set fails where it does.
    (Seeds 2 and 1: the hike's jolts make the first swing look like a step; it turns too far for one.)"""
    s = simulate_session(exercise="kettlebell_swing", fs_hz=50.0, seed=seed, fatigue=fatigue, gyro=False)
    eng, auto = run(s.t_s, s.accel, None, s.fs_hz, detector="auto")
    assert len(auto) == len(s.truth)
    err = [abs(r.duration_s - (tr.end_s - tr.start_s)) for r, tr in zip(auto, s.truth)]
    assert max(err) < 0.2 and np.mean(err) < 0.05
    assert eng.sets[0].first_failure_rep == s.truth_failure.get(1)


@pytest.mark.parametrize("exercise", ["jump_squat", "pull_up"])
def test_auto_with_a_gyroscope_is_the_vertical_channel(exercise):
    """With a gyro the vertical channel follows any rotation: auto leaves it alone (same reps, same
    times) and says so in the JSON; the orientation channel once took a jump-squat set over."""
    s = simulate_session(exercise=exercise, fs_hz=50.0, seed=6)
    auto, r_auto = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="auto")
    vert, r_vert = run(s.t_s, s.accel, s.gyro, s.fs_hz, detector="vertical")
    assert r_vert and spans(r_auto) == spans(r_vert)
    assert auto.result()["settings"]["detector_used"] == "vertical"
    eng_acc, _ = run(s.t_s, s.accel, None, s.fs_hz, detector="auto")
    assert eng_acc.result()["settings"]["detector_used"] == "auto"


def _curls_with_one_lift(fs: float, *, seed: int, period_s: float):
    """Rotating reps; during the second the sensor is also lifted along gravity (0.5 m, as a press),
    which the vertical channel alone sees as one rep."""
    t, a, truth = rotating_session(fs_hz=fs, reps=6, period_s=period_s, seed=seed)
    _, a2, _, _ = vertical_session(fs_hz=fs, reps=1, pattern="up_first", lead_s=0.0, tail_s=0.0, seed=seed, noise=0.0)
    lin = a2 - a2.mean(axis=0)
    signed = np.linalg.norm(lin, axis=1) * np.sign(lin[:, np.argmax(np.abs(lin).max(axis=0))])
    k0 = int((3.0 + period_s) * fs)
    a = a.copy()
    g = a[k0 : k0 + len(lin)]
    a[k0 : k0 + len(lin)] += g / np.linalg.norm(g, axis=1, keepdims=True) * signed[:, None]
    return t, a, truth


@pytest.mark.parametrize("fs", [25.0, 100.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_a_lone_vertical_rep_inside_a_forming_bout_does_not_cost_the_bouts_first_reps(fs, seed):
    t, a, truth = _curls_with_one_lift(fs, seed=seed, period_s=2.5)
    _, vert = run(t, a, None, fs, detector="vertical")
    assert len(vert) == 1  # the vertical channel sees the lift alone, before the bout counts
    _, auto = run(t, a, None, fs, detector="auto")
    assert len(auto) == len(truth)
    for r, (s, e) in zip(auto, truth):
        assert abs(r.start_s - s) < 0.35 and abs(r.end_s - e) < 0.35
    for block in (7, 64):
        _, auto_b = run(t, a, None, fs, detector="auto", block=block)
        assert [(r.start_s, r.end_s, r.detected_at_s) for r in auto_b] == [
            (r.start_s, r.end_s, r.detected_at_s) for r in auto]


@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_rotating_reps_right_after_a_vertical_series_go_on_with_its_set(fs):
    # fewer than a bout of rotating reps straight after a vertical series: the set goes on
    _, a1, _, lifts = vertical_session(fs_hz=fs, reps=4, pattern="up_first", tail_s=0.6, seed=0)
    _, a2, _ = rotating_session(fs_hz=fs, reps=2, lead_s=1.2, tail_s=3.0, seed=0)
    a = np.concatenate([a1, a2])
    t = np.arange(a.shape[0]) / fs
    _, vert = run(t, a, None, fs, detector="vertical")
    eng, auto = run(t, a, None, fs, detector="auto")
    assert len(vert) == len(lifts)
    assert len(lifts) < len(auto) <= len(lifts) + 2
    assert len(eng.sets) == 1


@pytest.mark.parametrize("fs", [25.0, 50.0, 100.0])
def test_reps_stranded_before_a_short_rest_pause_count_when_the_bout_after_it_does(fs):
    """Two reps, a rest-pause of a few breaths (longer than a bout's pauses, shorter than
    AUTO_LOOKBACK_GAP_REPS reps), then the set goes on: the two are the set's first reps."""
    _, a0, _ = rotating_session(fs_hz=fs, reps=2, period_s=1.5, tail_s=5.0, seed=3)
    _, a1, _ = rotating_session(fs_hz=fs, reps=4, period_s=1.5, lead_s=0.0, seed=3)
    a = np.concatenate([a0, a1])
    t = np.arange(a.shape[0]) / fs
    _, orient = run(t, a, None, fs, detector="orientation")
    _, auto = run(t, a, None, fs, detector="auto")
    assert len(orient) == 6
    assert spans(auto) == spans(orient)


@pytest.mark.parametrize("fs", [25.0, 100.0])
def test_reps_before_a_long_rest_are_not_taken_into_the_next_bout(fs):
    _, a0, _ = rotating_session(fs_hz=fs, reps=2, period_s=1.5, tail_s=15.0, seed=3)
    _, a1, _ = rotating_session(fs_hz=fs, reps=4, period_s=1.5, lead_s=0.0, seed=3)
    a = np.concatenate([a0, a1])
    t = np.arange(a.shape[0]) / fs
    _, auto = run(t, a, None, fs, detector="auto")
    assert auto and all(r.start_s > 10.0 for r in auto)
