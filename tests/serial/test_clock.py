"""Device-to-host clock mapping: the lower envelope ignores jitter, bunching and load."""

from __future__ import annotations

import numpy as np
import pytest

from imu_tempo.sources.clock import ClockMap


def arrivals(*, ppm: float, seconds: float = 120.0, rate_hz: float = 100.0, seed: int = 0,
             bunch: int = 1, spike_every: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Device times and host arrival times: offset 1000 s, skew ``ppm``, random delays."""
    rng = np.random.default_rng(seed)
    dev = np.arange(int(seconds * rate_hz)) / rate_hz
    delay = 0.0005 + rng.exponential(0.004, len(dev))  # never negative
    if spike_every:
        delay[::spike_every] += rng.uniform(0.05, 0.3, len(delay[::spike_every]))  # scheduler hiccups
    host = 1000.0 + dev * (1 + ppm * 1e-6) + delay
    if bunch > 1:  # BLE-like: packets released together at the last one's arrival
        host = np.maximum.accumulate(host)
        for i in range(0, len(host), bunch):
            host[i:i + bunch] = host[i:i + bunch].max()
    return dev, host


class TestClockMap:
    @pytest.mark.parametrize("ppm", [-150.0, 0.0, 42.0, 200.0])
    def test_skew_and_offset_from_noisy_arrivals(self, ppm: float) -> None:
        dev, host = arrivals(ppm=ppm, spike_every=37)
        c = ClockMap()
        for d, h in zip(dev, host, strict=True):
            c.add(device_s=float(d), host_s=float(h))
        assert c.skew_ppm == pytest.approx(ppm, abs=15)
        # The mapping recovers "when it happened" to within the minimum delay plus a little.
        err = np.array([c.to_host(float(d)) for d in dev[::500]]) - (1000.0 + dev[::500] * (1 + ppm * 1e-6))
        assert np.all(np.abs(err) < 0.003)

    def test_bunched_arrivals_do_not_bias_the_fit(self) -> None:
        dev, host = arrivals(ppm=100.0, bunch=8)
        c = ClockMap()
        for d, h in zip(dev, host, strict=True):
            c.add(device_s=float(d), host_s=float(h))
        assert c.skew_ppm == pytest.approx(100.0, abs=25)
        mean_fit_ppm = (np.polyfit(dev, host - dev, 1)[0]) * 1e6  # what a plain mean fit would say
        assert abs(c.skew_ppm - 100.0) <= abs(mean_fit_ppm - 100.0) + 25

    def test_to_device_inverts_to_host(self) -> None:
        dev, host = arrivals(ppm=300.0, seconds=30)
        c = ClockMap()
        for d, h in zip(dev, host, strict=True):
            c.add(device_s=float(d), host_s=float(h))
        for d in (0.0, 12.3, 29.0):
            assert c.to_device(c.to_host(d)) == pytest.approx(d, abs=1e-9)

    def test_a_fast_demo_clock_is_followed(self) -> None:
        """A simulated wearable at 20x real time: device seconds are 50 ms of host time."""
        dev = np.arange(2000) / 100.0
        host = 5.0 + dev / 20.0 + 0.001
        c = ClockMap()
        for d, h in zip(dev, host, strict=True):
            c.add(device_s=float(d), host_s=float(h))
        assert c.to_device(5.0 + 25.0 / 20.0 + 0.001) == pytest.approx(25.0, abs=0.05)

    def test_needs_a_point(self) -> None:
        c = ClockMap()
        assert not c.ready
        with pytest.raises(RuntimeError):
            c.to_host(1.0)
        c.add(device_s=1.0, host_s=11.0)
        assert c.to_host(2.0) == pytest.approx(12.0) and c.skew == 0.0

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError):
            ClockMap(window_s=0)
        with pytest.raises(ValueError):
            ClockMap(max_windows=1)
