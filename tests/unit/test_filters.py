"""Streaming filters: chunked filtering equals one pass; start-up at the first sample's level."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from imu_tempo.filters import SampleClock, SaturationWatch, StreamingFilter, smoothing_fir


def _chunked(filt, x, sizes):
    out, i = [], 0
    for n in sizes:
        out.append(filt(x[i : i + n]))
        i += n
    out.append(filt(x[i:]))
    return np.concatenate(out)


class TestStreamingFilter:
    @settings(max_examples=40, deadline=None)
    @given(sizes=st.lists(st.integers(0, 50), max_size=20), kind=st.sampled_from(["sos", "fir"]))
    def test_chunks_equal_one_pass_to_rounding(self, sizes, kind):
        x = np.random.default_rng(0).normal(9.8, 1.0, 400)
        make = (
            (lambda: StreamingFilter(sos=signal.butter(2, 5, fs=100, output="sos")))
            if kind == "sos"
            else (lambda: StreamingFilter(fir=smoothing_fir(fs_hz=100, half_width_s=0.05)[0]))
        )
        np.testing.assert_allclose(_chunked(make(), x, sizes), make()(x), rtol=0, atol=1e-12)

    def test_starts_at_the_first_sample_level(self):
        f = StreamingFilter(sos=signal.butter(2, 1, fs=100, output="sos"))
        y = f(np.full(50, 9.81))
        np.testing.assert_allclose(y, 9.81, rtol=1e-9)

    def test_reset_reseeds(self):
        f = StreamingFilter(fir=np.array([0.25, 0.5, 0.25]))
        f(np.full(10, 1.0))
        f.reset()
        np.testing.assert_allclose(f(np.full(5, 3.0)), 3.0)

    def test_exactly_one_design(self):
        with pytest.raises(ValueError, match="exactly one"):
            StreamingFilter()


class TestSmoothingFir:
    def test_unit_gain_symmetric_and_delay(self):
        taps, delay = smoothing_fir(fs_hz=400, half_width_s=0.012)
        assert taps.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(taps, taps[::-1])
        assert len(taps) == 2 * delay + 1 and delay == 5

    def test_low_rates_get_no_smoothing(self):
        taps, delay = smoothing_fir(fs_hz=25, half_width_s=0.012)
        assert delay == 0 and taps.tolist() == [1.0]

    def test_linear_phase_keeps_a_ramp_in_place(self):
        taps, delay = smoothing_fir(fs_hz=200, half_width_s=0.02)
        x = np.arange(100.0)
        y = StreamingFilter(fir=taps)(x)
        # after the start-up, y[k] is the ramp value at k - delay
        np.testing.assert_allclose(y[20:], x[20 - delay : 100 - delay])


class TestNoiseFloor:
    def test_learns_the_noise_of_rest_and_ignores_movement(self):
        from imu_tempo.filters import NoiseFloor

        fs = 100.0
        rng = np.random.default_rng(3)
        t = np.arange(int(60 * fs)) / fs
        x = 9.81 + rng.normal(0.0, 0.3, t.size)
        x[int(20 * fs):] += 8.0 * np.sin(2 * np.pi * 1.0 * t[int(20 * fs):])  # 40 s of swings after 20 s of rest
        floor = NoiseFloor(fs_hz=fs)(x)
        assert np.isnan(floor[0])  # nothing known before the first cell ends
        assert 0.2 < floor[-1] < 0.35  # still the rest's noise after 40 s of movement

    @pytest.mark.parametrize("block", [1, 7, 64, 1000])
    def test_any_block_size_gives_the_same_floor(self, block):
        from imu_tempo.filters import NoiseFloor

        x = np.random.default_rng(1).normal(9.81, 0.1, 3000)
        one = NoiseFloor(fs_hz=50.0)(x)
        nf = NoiseFloor(fs_hz=50.0)
        many = np.concatenate([nf(x[i : i + block]) for i in range(0, x.size, block)])
        np.testing.assert_array_equal(one, many)


# -- SampleClock -----------------------------------------------------------------------------------


def _clock_drops(t, *, period_s, blocks=None):
    clock = SampleClock(period_s=period_s)
    out = []
    step = blocks or len(t)
    for i in range(0, len(t), step):
        out += [(i + k, m) for k, m in clock.drops(t[i : i + step])]
    return out


def test_sample_clock_on_a_regular_clock_is_the_one_and_a_half_period_rule():
    P = 0.01
    dts = [1.0] * 50 + [1.49] + [1.0] * 20 + [1.51] + [1.0] * 20 + [2.4] + [1.0] * 20 + [2.6] + [1.0] * 20 + [11.0] + [1.0] * 5
    t = np.concatenate(([0.0], np.cumsum(dts) * P))
    got = _clock_drops(t, period_s=P)
    k = np.cumsum([0] + [1] * len(dts))  # sample k follows interval dts[k - 1]
    want = [(int(k[i + 1]), max(1, round(d) - 1)) for i, d in enumerate(dts) if d > 1.5]
    assert got == want
    assert [m for _, m in got] == [1, 1, 2, 10]


def test_sample_clock_takes_jitter_of_a_third_of_a_period_for_no_drop_and_finds_real_ones():
    P = 0.01
    rng = np.random.default_rng(3)
    n = 20_000
    k = np.arange(n, dtype=float)
    drop_at = np.sort(rng.choice(np.arange(100, n - 100), 40, replace=False))
    assert np.diff(drop_at).min() > 1  # single drops
    keep = np.ones(n, dtype=bool)
    keep[drop_at] = False
    t = (k + rng.uniform(-0.35, 0.35, n)) * P
    t = t[keep]
    # one interval at a time, these stamps hold hundreds of 'gaps' (intervals over 1.5 periods)
    assert (np.diff(t) > 1.5 * P).sum() > 300
    got = _clock_drops(t, period_s=P)
    # each dropped sample (none adjacent) is found once, before the sample that followed it
    assert [m for _, m in got] == [1] * len(drop_at)
    assert [kk for kk, _ in got] == [int(d - i) for i, d in enumerate(drop_at)]


def test_sample_clock_follows_a_clock_off_its_nominal_rate():
    P = 0.01
    rng = np.random.default_rng(0)
    t = np.arange(30_000) * P * 1.01 + rng.uniform(-0.2, 0.2, 30_000) * P  # a 1 % slow clock
    assert _clock_drops(t, period_s=P) == []


@pytest.mark.parametrize("block", [1, 7, 64])
def test_sample_clock_is_block_size_invariant(block):
    P = 0.005
    rng = np.random.default_rng(1)
    t = np.cumsum(rng.choice([1.0, 1.0, 1.0, 2.0, 3.0], 3000) + rng.uniform(-0.3, 0.3, 3000)) * P
    assert _clock_drops(t, period_s=P, blocks=block) == _clock_drops(t, period_s=P)


def _clipped_swing(limit_g: float | None) -> np.ndarray:
    t = np.arange(1000) / 100.0
    a = np.zeros((t.size, 3))
    a[:, 2] = 9.80665 * (1.0 + 2.5 * np.maximum(0.0, np.sin(2 * np.pi * t)) ** 4)  # 3.5 g peaks once a second
    a[:, 0] = 0.3 * np.sin(7 * t)
    return a if limit_g is None else np.clip(a, -limit_g * 9.80665, limit_g * 9.80665)


def test_saturation_watch_finds_the_first_run_at_the_limit():
    a = _clipped_swing(2.0)
    w = SaturationWatch(min_level=1.9 * 9.80665)
    k = w.feed(a)
    first = int(np.flatnonzero(a[:, 2] >= 2.0 * 9.80665 - 1e-9)[0])
    assert k == first + 2 and w.level == pytest.approx(2.0 * 9.80665)
    assert w.feed(a) is None  # said once


def test_saturation_watch_ignores_peaks_in_range_and_a_resting_axis():
    assert SaturationWatch(min_level=1.9 * 9.80665).feed(_clipped_swing(None)) is None
    rest = np.tile([0.0, 0.0, 9.81], (500, 1))  # repeats its maximum all the time, far below any range
    assert SaturationWatch(min_level=1.9 * 9.80665).feed(rest) is None


@pytest.mark.parametrize("block", [1, 2, 7, 64])
def test_saturation_watch_is_block_size_invariant(block):
    a = _clipped_swing(2.0)
    whole = SaturationWatch(min_level=1.9 * 9.80665).feed(a)
    w = SaturationWatch(min_level=1.9 * 9.80665)
    found = None
    for i in range(0, a.shape[0], block):
        k = w.feed(a[i : i + block])
        if k is not None:
            assert found is None
            found = i + k
    assert found == whole
