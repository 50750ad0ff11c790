"""OrientationRepDetector: reps from synthetic rotations, no reps from stillness, drift or
tremor, and the same reps whatever the block sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imu_tempo.errors import ConfigError
from imu_tempo.orient import OrientationRepDetector, OrientRep
from imu_tempo.simulate import simulate_session
from tests.motion import vertical_session

G = 9.80665


def _rotation_stream(
    *, fs_hz: float, cycles: int, period_s: float = 2.0, amp_deg: float = 120.0,
    rest_s: float = 2.0, noise_g: float = 0.03, seed: int = 0, tilt_axis: np.ndarray | None = None,
) -> np.ndarray:
    """A sensor at rest, then swinging 0 -> amp_deg -> 0 about one axis `cycles` times, then at rest."""
    t = np.arange(int(round((2 * rest_s + cycles * period_s) * fs_hz))) / fs_hz
    tt = np.clip(t - rest_s, 0.0, cycles * period_s)
    th = np.radians(amp_deg / 2.0) * (1.0 - np.cos(2.0 * np.pi * tt / period_s))
    acc = G * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
    if tilt_axis is not None:  # an arbitrary mount: rotate the whole sensor frame
        q, _ = np.linalg.qr(tilt_axis.reshape(3, 3))
        acc = acc @ q.T
    return acc + np.random.default_rng(seed).normal(0.0, noise_g * G, acc.shape)


def _run(acc: np.ndarray, *, fs_hz: float, blocks: list[int] | None = None, **kw: float) -> list[OrientRep]:
    det = OrientationRepDetector(fs_hz=fs_hz, **kw)
    reps: list[OrientRep] = []
    if blocks is None:
        reps += det.feed(acc)
    else:
        i = 0
        for b in blocks:
            reps += det.feed(acc[i : i + b])
            i += b
        reps += det.feed(acc[i:])
    return reps + det.finish()


class TestRotations:
    @pytest.mark.parametrize("fs_hz", [10.0, 50.0, 200.0])
    @pytest.mark.parametrize("cycles", [1, 5])
    def test_back_and_forth_120_deg_at_half_hz_gives_one_rep_per_cycle(self, fs_hz: float, cycles: int) -> None:
        reps = _run(_rotation_stream(fs_hz=fs_hz, cycles=cycles), fs_hz=fs_hz)
        assert len(reps) == cycles
        for k, r in enumerate(reps):
            # cycle k spans [2 + 2k, 4 + 2k] s; boundaries within 0.3 s of the turnarounds
            assert abs(r.start / fs_hz - (2.0 + 2.0 * k)) < 0.3
            assert abs(r.end / fs_hz - (4.0 + 2.0 * k)) < 0.3
            assert 100.0 < r.rom_deg < 135.0
            assert r.end <= r.done_at <= r.end + 0.6 * fs_hz  # settled soon after the rep ends
            assert isinstance(r.done_at, int)

    @pytest.mark.parametrize("period_s", [0.5, 6.0])
    def test_fast_and_slow_reps(self, period_s: float) -> None:
        reps = _run(_rotation_stream(fs_hz=100.0, cycles=4, period_s=period_s), fs_hz=100.0)
        assert len(reps) == 4
        assert all(0.6 * period_s < (r.end - r.start) / 100.0 < 1.2 * period_s for r in reps)

    def test_any_mount(self) -> None:
        axis = np.random.default_rng(3).normal(size=9)
        reps = _run(_rotation_stream(fs_hz=50.0, cycles=4, tilt_axis=axis), fs_hz=50.0)
        assert len(reps) == 4

    def test_small_rotation_below_min_rom_is_not_a_rep(self) -> None:
        acc = _rotation_stream(fs_hz=50.0, cycles=5, amp_deg=8.0, noise_g=0.01)
        assert _run(acc, fs_hz=50.0) == []
        assert len(_run(acc, fs_hz=50.0, min_rom_deg=5.0)) == 5


class TestShapes:
    @staticmethod
    def _double_hump(*, fs_hz: float, cycles: int, dip: float, period_s: float = 3.0, amp_deg: float = 90.0,
                     rest_s: float = 2.0, seed: int = 0) -> np.ndarray:
        """Out to amp_deg, back by ``dip`` of it, out again, back to the start: one rep per cycle."""
        t = np.arange(int(round((2 * rest_s + cycles * period_s) * fs_hz))) / fs_hz
        inside = (t >= rest_s) & (t < rest_s + cycles * period_s)
        tau = np.clip((t - rest_s) / period_s, 0.0, cycles) % 1.0
        shape = np.interp(tau, [0.0, 0.3, 0.5, 0.7, 1.0], [0.0, 1.0, 1.0 - dip, 1.0, 0.0])
        k = int(0.2 * fs_hz)
        th = np.radians(amp_deg) * np.convolve(shape, np.ones(k) / k, "same") * inside
        acc = G * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
        return acc + np.random.default_rng(seed).normal(0.0, 0.03 * G, acc.shape)

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    def test_a_small_dip_at_the_far_end_is_a_wiggle_not_a_rep(self, fs_hz: float) -> None:
        reps = _run(self._double_hump(fs_hz=fs_hz, cycles=6, dip=0.3), fs_hz=fs_hz)
        assert len(reps) == 6

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    def test_two_bumps_per_cycle_are_one_rep_once_the_period_is_known(self, fs_hz: float) -> None:
        # the dip is deep enough to look like a rep of its own; the set's period says it is not
        # (the first cycle comes before there is a period and may still split)
        reps = _run(self._double_hump(fs_hz=fs_hz, cycles=6, dip=0.6), fs_hz=fs_hz)
        assert 6 <= len(reps) <= 7  # not 11-12
        assert all(a.end <= b.start for a, b in zip(reps, reps[1:]))


    @pytest.mark.parametrize("fs_hz", [25.0, 100.0, 400.0])
    def test_a_lift_along_gravity_without_rotation_counts_by_its_acceleration(self, fs_hz: float) -> None:
        # a press seen from a wrist that does not turn: only the magnitude of the acceleration changes
        t, acc, _, truth = vertical_session(fs_hz=fs_hz, reps=6, pattern="up_first", concentric_s=0.8,
                                            eccentric_s=1.2, pause_s=0.4)
        assert len(_run(acc, fs_hz=fs_hz)) == len(truth)
        assert _run(acc, fs_hz=fs_hz, include_magnitude=False) == []


    @pytest.mark.parametrize("fs_hz", [25.0, 100.0, 200.0])
    def test_a_slow_press_under_the_rotation_floor_counts_by_its_lift(self, fs_hz: float) -> None:
        # 0.3 m in 1 s up, 1.5 s down: the acceleration along gravity stays under chord(min_rom_deg)
        _, acc, _, truth = vertical_session(fs_hz=fs_hz, reps=6, pattern="up_first", concentric_s=1.0,
                                            eccentric_s=1.5, pause_s=0.4, rom_m=0.3)
        assert len(_run(acc, fs_hz=fs_hz)) == len(truth)

    @staticmethod
    def _set_up_then_reps(fs_hz: float, *, cycles: int = 8, seed: int = 0) -> np.ndarray:
        """Turn slowly by 150 deg over 8 s (a lifter settling into a machine), come back 30 deg,
        then reps that turn 30 deg back and forth (period 2 s) without reaching the set-up's end."""
        period_s = 2.0
        t = np.arange(int((2.0 + 8.0 + cycles * period_s + 2.0) * fs_hz)) / fs_hz
        th = np.radians(150.0) * np.clip((t - 2.0) / 8.0, 0.0, 1.0)
        tt = np.clip(t - 10.0, 0.0, cycles * period_s)
        th -= np.radians(30.0) * np.clip(tt / (0.25 * period_s), 0.0, 1.0)
        th -= np.radians(15.0) * (1.0 - np.cos(2.0 * np.pi * tt / period_s))
        acc = G * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
        return acc + np.random.default_rng(seed).normal(0.0, 0.03 * G, acc.shape)

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    def test_reps_after_a_slow_set_up_turn_are_not_wiggles_of_it(self, fs_hz: float) -> None:
        # each rep's swing is well under half the set-up's: once the set's period shows (the set-up
        # is detrended out of its window) they are reps, not wiggles of the set-up swing
        reps = _run(self._set_up_then_reps(fs_hz), fs_hz=fs_hz)
        assert 5 <= len(reps) <= 8
        assert all(r.start / fs_hz > 10.0 for r in reps)


class TestContinuousSwings:
    """Kettlebell swings from a watch without a gyroscope: the bell is hiked back from where it was
    parked, then swung without a pause at either end.  A rep runs backswing to backswing."""

    @staticmethod
    def _matched(fs_hz: float, seed: int) -> tuple[list[tuple[float, float]], list, list[int], list[OrientRep]]:
        s = simulate_session(exercise="kettlebell_swing", fs_hz=fs_hz, seed=seed, gyro=False)
        reps = _run(s.accel, fs_hz=fs_hz)
        spans = [(s.t_s[0] + r.start / fs_hz, s.t_s[0] + r.end / fs_hz) for r in reps]
        matched = [
            min(range(len(spans)), key=lambda k: max(abs(spans[k][0] - tr.start_s), abs(spans[k][1] - tr.end_s)))
            for tr in s.truth
        ]
        return spans, list(s.truth), matched, reps

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    @pytest.mark.parametrize("seed", [0, 2])
    def test_reps_run_from_backswing_to_backswing(self, fs_hz: float, seed: int) -> None:
        spans, truth, matched, reps = self._matched(fs_hz, seed)
        assert matched == list(range(matched[0], matched[0] + len(truth)))  # one rep per swing, in order
        for k, tr in zip(matched, truth):
            assert abs(spans[k][0] - tr.start_s) < 0.2 and abs(spans[k][1] - tr.end_s) < 0.2
        # no pause at the backswing: each rep ends where the next starts (the hike's turnaround is
        # the first start, not the top of the swing that follows it)
        assert all(reps[k].end == reps[k + 1].start for k in matched[:-1])
        dur_err = [abs((spans[k][1] - spans[k][0]) - (tr.end_s - tr.start_s)) for k, tr in zip(matched, truth)]
        assert np.mean(dur_err) < 0.05

    @pytest.mark.parametrize("blocks", [[1] * 500 + [7] * 300, [64] * 40, [333, 1, 1000]])
    def test_the_same_reps_whatever_the_blocks(self, blocks: list[int]) -> None:
        s = simulate_session(exercise="kettlebell_swing", fs_hz=50.0, seed=2, gyro=False)
        assert _run(s.accel, fs_hz=50.0, blocks=blocks) == _run(s.accel, fs_hz=50.0)

    def test_a_paused_set_ends_each_rep_where_it_reaches_the_rest(self) -> None:
        # 4 s of rest between 120 deg turns: the turnaround at rest is a pause, not gone straight through
        acc = np.concatenate([_rotation_stream(fs_hz=50.0, cycles=1, rest_s=2.0, seed=k) for k in range(3)])
        reps = _run(acc, fs_hz=50.0)
        assert len(reps) == 3
        for k, r in enumerate(reps):
            assert abs(r.end / 50.0 - (4.0 + 6.0 * k)) < 0.3
        assert all(b.start - a.end > 1.0 * 50.0 for a, b in zip(reps, reps[1:]))


class TestGait:
    @staticmethod
    def _walk(fs_hz: float, *, seconds: float = 12.0, swing_deg: float = 25.0, stride_s: float = 1.1,
              bump_g: float = 0.3, seed: int = 0) -> np.ndarray:
        """A wrist swinging with the arm while walking: a step jolts |a| twice per arm swing."""
        t = np.arange(int(seconds * fs_hz)) / fs_hz
        th = np.radians(swing_deg) * np.sin(2 * np.pi * t / stride_s)
        ph = (t % (stride_s / 2)) / (stride_s / 2)
        jolt = bump_g * G * np.where(ph < 0.3, np.sin(np.pi * ph / 0.3), 0.0)
        acc = (G + jolt)[:, None] * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
        return acc + np.random.default_rng(seed).normal(0.0, 0.03 * G, acc.shape)

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    def test_arm_swing_while_walking_looks_like_reps_but_has_a_gait(self, fs_hz: float) -> None:
        reps = _run(self._walk(fs_hz), fs_hz=fs_hz)
        assert len(reps) >= 5
        assert all(r.gait > 0.8 for r in reps)

    @pytest.mark.parametrize("fs_hz", [25.0, 100.0])
    @pytest.mark.parametrize("period_s", [1.2, 2.5])
    def test_rotating_reps_have_no_gait_even_when_fast(self, fs_hz: float, period_s: float) -> None:
        # |low-passed a| of a fast rotation dips twice per cycle; |a| itself does not
        reps = _run(_rotation_stream(fs_hz=fs_hz, cycles=6, period_s=period_s), fs_hz=fs_hz)
        assert len(reps) == 6
        assert all(r.gait < 0.2 for r in reps)


class TestNotReps:
    def test_still_sensor(self) -> None:
        acc = _rotation_stream(fs_hz=50.0, cycles=0, rest_s=15.0, noise_g=0.05)
        assert _run(acc, fs_hz=50.0) == []

    def test_slow_drift(self) -> None:
        fs = 50.0
        t = np.arange(int(40 * fs)) / fs
        th = np.radians(90.0) * t / t[-1]  # 90 degrees over 40 s, one way
        acc = G * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
        acc += np.random.default_rng(1).normal(0.0, 0.03 * G, acc.shape)
        assert _run(acc, fs_hz=fs) == []

    def test_a_small_turn_that_only_passes_the_lift_floor_is_not_a_rep(self) -> None:
        # chord(12 deg) = 0.21 g is above min_lift_g but |a| does not change: not a lift, too small a turn
        acc = _rotation_stream(fs_hz=50.0, cycles=5, amp_deg=12.0, noise_g=0.01)
        assert _run(acc, fs_hz=50.0) == []
        assert len(_run(acc, fs_hz=50.0, min_rom_deg=9.0)) == 5

    def test_small_tremor(self) -> None:
        fs = 100.0
        t = np.arange(int(30 * fs)) / fs
        th = np.radians(3.0) * np.sin(2 * np.pi * 7.0 * t) + np.radians(2.0) * np.sin(2 * np.pi * 0.7 * t)
        acc = G * np.stack([np.sin(th), np.zeros_like(th), np.cos(th)], axis=1)
        acc += np.random.default_rng(2).normal(0.0, 0.05 * G, acc.shape)
        assert _run(acc, fs_hz=fs) == []


class TestStreaming:
    # a set with reps, pauses of varying length and noise; built once
    ACC = np.concatenate([
        _rotation_stream(fs_hz=50.0, cycles=3, period_s=2.5, seed=4),
        _rotation_stream(fs_hz=50.0, cycles=2, period_s=1.2, amp_deg=70.0, rest_s=1.0, noise_g=0.08, seed=5),
    ])

    @settings(max_examples=25, deadline=None)
    @given(st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=60))
    def test_block_sizes_do_not_change_the_reps(self, blocks: list[int]) -> None:
        whole = _run(self.ACC, fs_hz=50.0)
        chunked = _run(self.ACC, fs_hz=50.0, blocks=blocks)
        assert len(whole) == len(chunked) == 5
        for a, b in zip(whole, chunked):
            assert a.done_at == b.done_at
            assert a.start == pytest.approx(b.start, abs=1e-9)
            assert a.end == pytest.approx(b.end, abs=1e-9)
            assert a.rom_deg == pytest.approx(b.rom_deg, abs=1e-9)

    @pytest.mark.parametrize("block", [1, 7, 64])
    def test_fixed_block_sizes_and_done_at_is_causal(self, block: int) -> None:
        det = OrientationRepDetector(fs_hz=50.0)
        fed = 0
        reps: list[OrientRep] = []
        for i in range(0, self.ACC.shape[0], block):
            new = det.feed(self.ACC[i : i + block])
            fed += self.ACC[i : i + block].shape[0]
            assert all(r.done_at < fed for r in new)  # settled by a sample already given
            reps += new
        reps += det.finish()
        whole = _run(self.ACC, fs_hz=50.0)
        assert len(reps) == len(whole) == 5
        for a, b in zip(whole, reps):
            assert a.done_at == b.done_at
            assert (a.start, a.end, a.rom_deg) == pytest.approx((b.start, b.end, b.rom_deg), abs=1e-9)

    def test_finish_settles_a_rep_cut_at_the_end_of_the_stream(self) -> None:
        acc = _rotation_stream(fs_hz=50.0, cycles=3, rest_s=2.0)[: int(7.95 * 50)]  # ends as rep 3 returns
        det = OrientationRepDetector(fs_hz=50.0)
        reps = det.feed(acc)
        assert len(reps) == 2
        last = det.finish()
        assert len(last) == 1 and last[0].done_at == acc.shape[0] - 1 - (acc.shape[0] - 1) % det._D

    def test_empty_block(self) -> None:
        det = OrientationRepDetector(fs_hz=50.0)
        assert det.feed(np.empty((0, 3))) == []
        assert det.finish() == []


class TestErrors:
    @pytest.mark.parametrize(
        "kw, match",
        [
            ({"fs_hz": 0.0}, "fs_hz"),
            ({"fs_hz": 50.0, "min_rep_s": 2.0, "max_rep_s": 1.0}, "min_rep_s"),
            ({"fs_hz": 50.0, "min_rom_deg": 0.0}, "min_rom_deg"),
            ({"fs_hz": 3.0}, "lowpass_hz"),
            ({"fs_hz": 50.0, "symmetry": 1.5}, "symmetry"),
            ({"fs_hz": 50.0, "min_lift_g": 0.0}, "min_lift_g"),
        ],
    )
    def test_bad_parameters_name_themselves(self, kw: dict, match: str) -> None:
        with pytest.raises(ConfigError, match=match):
            OrientationRepDetector(**kw)

    def test_bad_shape_and_nan(self) -> None:
        det = OrientationRepDetector(fs_hz=50.0)
        with pytest.raises(ValueError, match="shape"):
            det.feed(np.zeros((5, 2)))
        bad = np.zeros((5, 3))
        bad[2, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            det.feed(bad)


@pytest.mark.parametrize("fs", [25.0, 50.0, 100.0])
def test_the_first_rep_after_a_pause_starts_after_the_drift_of_the_running_mean(fs):
    """At rest the running mean drifts towards the rest direction, so p creeps away from the level the
    last rep ended at; the next rep starts where p left the level it returns to, not early in the pause."""
    a0 = _rotation_stream(fs_hz=fs, cycles=2, period_s=1.5, rest_s=5.0, seed=3)  # reps 5-8 s, rest to 13 s
    a1 = _rotation_stream(fs_hz=fs, cycles=4, period_s=1.5, rest_s=3.0, seed=4)[int(round(3.0 * fs)) :]
    reps = _run(np.concatenate([a0, a1]), fs_hz=fs)
    assert len(reps) == 6
    assert reps[2].start / fs > 10.5  # the rep after the pause (13-14.5 s) starts in the pause's second half at worst
    assert abs(reps[2].end / fs - 14.5) < 0.4
