"""Streaming filters: chunked filtering equals one pass; start-up at the first sample's level."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from imu_tempo.filters import StreamingFilter, smoothing_fir


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
