"""Vertical specific force from a rotating sensor: gravity tracked through the gyro, bias re-measured."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from imu_tempo.vertical import VerticalAccel

G = 9.80665


def _still_then_tilting(*, fs_hz: float, rate_radps: np.ndarray, bias_radps: np.ndarray, still_s: float, tilt_s: float):
    """Still, then slowly tilting about a horizontal axis (a hand settling: "static" to the detector).

    Returns the sensor-frame specific force and gyro reading (true rate + bias).
    """
    n = int((still_s + tilt_s) * fs_hz)
    t = np.arange(n) / fs_hz
    w_true = np.where((t >= still_s)[:, None], rate_radps[None, :], 0.0)
    # orientation: body rates integrated exactly (constant axis)
    ang = np.cumsum(w_true, axis=0) / fs_hz
    rot = Rotation.from_rotvec(ang)  # sensor -> world
    f = rot.inv().apply(np.array([0.0, 0.0, G]))
    return f, w_true + bias_radps[None, :]


def test_slow_tilt_while_static_is_not_read_as_gyro_bias():
    fs = 100.0
    bias = np.radians([0.4, -0.3, 0.2])
    slow = np.array([np.radians(1.5), 0.0, 0.0])  # 1.5 deg/s about x: horizontal at rest
    f, w = _still_then_tilting(fs_hz=fs, rate_radps=slow, bias_radps=bias, still_s=3.0, tilt_s=2.0)
    va = VerticalAccel(fs_hz=fs, use_gyro=True)
    va(f, w)
    # end the static run with a movement so that the run's bias is taken
    va(np.tile([0.0, 3.0, G], (5, 1)), np.tile([2.0, 0.0, 0.0], (5, 1)))
    err = np.degrees(np.abs(va.bias - bias))
    # the slow tilt (1.5 deg/s) is seen by the accelerometer and taken out of the bias
    assert err.max() < 0.2, err


def test_short_static_runs_count_less_than_long_ones():
    """A long still run's bias is not overwritten by a short, noisier one."""
    fs = 100.0
    bias = np.radians([0.5, 0.0, -0.5])
    va = VerticalAccel(fs_hz=fs, use_gyro=True)
    f_still = np.tile([0.0, 0.0, G], (int(5 * fs), 1))
    va(f_still, np.tile(bias, (f_still.shape[0], 1)))
    move_f, move_w = np.tile([0.0, 3.0, G], (5, 1)), np.tile([2.0, 0.0, 0.0], (5, 1))
    va(move_f, move_w)
    long_est = va.bias.copy()
    assert np.degrees(np.abs(long_est - bias)).max() < 0.05
    # 0.8 s "still" while turning about the vertical at 3 deg/s (unobservable by the accelerometer)
    short = int(0.8 * fs)
    va(np.tile([0.0, 0.0, G], (short, 1)), np.tile(bias + np.radians([0.0, 0.0, 3.0]), (short, 1)))
    va(move_f, move_w)
    # weighted by run length squared: the short run moves the estimate by well under its 3 deg/s
    assert np.degrees(abs(va.bias[2] - bias[2])) < 0.3


def test_nearly_still_stretches_keep_gravity_level_despite_gyro_errors():
    """Hanging with a slight sway (never strictly static) while the gyro is off by 2 deg/s: no tilt builds up."""
    fs = 100.0
    n_still, n_hang = int(2 * fs), int(30 * fs)
    t = np.arange(n_hang) / fs
    sway = 0.8 * np.sin(2 * np.pi * 1.0 * t)  # rad/s about x: a pendulum, never slow for 0.2 s (not static)
    w_true = np.zeros((n_still + n_hang, 3))
    w_true[n_still:, 0] = sway
    ang = np.cumsum(w_true, axis=0) / fs
    f = Rotation.from_rotvec(ang).inv().apply(np.array([0.0, 0.0, G]))
    gyro_error = np.radians([0.0, 2.0, 0.0])  # appears after the bias was measured
    w = w_true.copy()
    w[n_still:] += gyro_error
    va = VerticalAccel(fs_hz=fs, use_gyro=True)
    out = np.concatenate([va(f[i : i + 50], w[i : i + 50]) for i in range(0, f.shape[0], 50)])
    # x = f . u = g cos(tilt error): 30 s at 2 deg/s would be a 60 degree tilt (x ~ 4.9)
    tilt_deg = np.degrees(np.arccos(np.clip(out[-int(5 * fs):] / G, -1.0, 1.0)))
    assert tilt_deg.max() < 6.0, tilt_deg.max()  # ~3.5 degrees: the drift against the pull of each still cell


def test_a_short_still_run_under_noise_reads_the_gyro_bias_not_a_turn():
    """Gravity's direction at the two ends of a 0.35 s still run is read from the noisy accelerometer;
    taken at face value, that apparent turn (a degree over a third of a second) became bias, and a
    wrong bias tilts gravity through the whole next set."""
    fs = 100.0
    bias = np.radians([0.6, -0.5, 0.3])
    move_f, move_w = np.tile([0.0, 3.0, G], (5, 1)), np.tile([2.0, 0.0, 0.0], (5, 1))
    n = int(0.55 * fs)  # still: the static window (0.2 s) fills, then a 0.35 s run
    errs, measured = [], 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        va = VerticalAccel(fs_hz=fs, use_gyro=True)
        va(move_f, move_w)
        va(np.tile([0.0, 0.0, G], (n, 1)) + rng.normal(0.0, 0.1, (n, 3)), bias + rng.normal(0.0, 0.003, (n, 3)))
        va(move_f, move_w)
        measured += va.bias_weight > 0  # the run was static and measured the bias
        errs.append(float(np.degrees(np.linalg.norm(va.bias - bias))))
    assert measured >= 15
    assert np.median(errs) < 0.3, errs  # 0.76 deg/s when the apparent turn was taken whole


def _snap(*, fs_hz: float, tilt: Rotation, snap_g: float = 3.0, snap_s: float = 0.05, tail_s: float = 1.0):
    """Still, a fast rise, then a stop harder than gravity (the hands after a throw), still again.

    Returns the sensor-frame specific force and the true vertical specific force (g + a_z)."""
    t = np.arange(int((1.0 + 0.2 + snap_s + tail_s) * fs_hz)) / fs_hz
    a = np.zeros_like(t)
    a[(t >= 1.0) & (t < 1.2)] = snap_g * G * snap_s / 0.2  # up to speed ...
    a[(t >= 1.2) & (t < 1.2 + snap_s)] = -snap_g * G  # ... and stopped at 3 g: f points down
    world = np.column_stack([np.zeros_like(t), np.zeros_like(t), G + a])
    return tilt.inv().apply(world), G + a


def test_without_a_gyro_a_stop_harder_than_gravity_reads_down_not_up():
    """|f| folds a downward 2 g of specific force into an upward 2 g; the direction's reversal unfolds it."""
    fs = 200.0
    f, truth = _snap(fs_hz=fs, tilt=Rotation.from_euler("xyz", [40, -70, 10], degrees=True))
    out = VerticalAccel(fs_hz=fs, use_gyro=False)(f, None)
    down = truth < 0
    assert down.sum() >= 8
    np.testing.assert_allclose(out, truth, atol=1e-9)
    assert (out[down] < -1.5 * G).all()


def test_the_unfolding_is_chunk_invariant():
    fs = 100.0
    f, _ = _snap(fs_hz=fs, tilt=Rotation.from_euler("y", 120, degrees=True), snap_s=0.08)
    whole = VerticalAccel(fs_hz=fs, use_gyro=False)(f, None)
    for size in (1, 3, 7, 64):
        va = VerticalAccel(fs_hz=fs, use_gyro=False)
        parts = np.concatenate([va(f[i : i + size], None) for i in range(0, f.shape[0], size)])
        np.testing.assert_array_equal(parts, whole)


@pytest.mark.parametrize("size", [1, 3, 7, 40])
def test_a_fold_that_lasts_too_long_ends_alike_in_any_split(size):
    """A fold followed by half a second of weightlessness (no sample to reference): the fold still ends
    MAX_FOLD_S after it began, whether or not a block holds only weightless samples."""
    fs = 100.0
    f = np.concatenate([
        np.tile([0.0, 0.0, G], (50, 1)), np.tile([0.0, 0.0, 0.05], (3, 1)), np.tile([0.0, 0.0, -2 * G], (5, 1)),
        np.tile([0.0, 0.0, 0.05], (50, 1)), np.tile([0.0, 0.0, -G], (50, 1)),
    ])
    whole = VerticalAccel(fs_hz=fs, use_gyro=False)(f, None)
    assert (whole[53:58] < 0).all() and (whole[-40:] > 0).all()
    va = VerticalAccel(fs_hz=fs, use_gyro=False)
    parts = np.concatenate([va(f[i : i + size], None) for i in range(0, f.shape[0], size)])
    np.testing.assert_array_equal(parts, whole)


def test_a_sensor_that_turns_over_while_weightless_is_not_left_negated():
    """A reversal with no way back (the sensor turned upside down in free fall, then stayed) is a fold
    for at most MAX_FOLD_S: the resting accelerometer reads +1 g again."""
    fs = 100.0
    still = np.tile([0.0, 0.0, G], (100, 1))
    weightless = np.tile([0.0, 0.0, 0.05], (20, 1))
    flipped = np.tile([0.0, 0.0, -G], (200, 1))  # upside down, at rest
    out = VerticalAccel(fs_hz=fs, use_gyro=False)(np.concatenate([still, weightless, flipped]), None)
    assert (out[:100] > 0).all()
    assert out[120] < 0  # read as a fold at first ...
    np.testing.assert_allclose(out[-150:], G)  # ... then +1 g, as a sensor at rest reads
