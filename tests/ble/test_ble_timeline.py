"""Timeline: one device timestamp per frame becomes one time per sample; gaps are found."""

from __future__ import annotations

import numpy as np
import pytest

from imu_tempo.sources.ble.profiles.base import Frame
from imu_tempo.sources.ble.timeline import Timeline


def frame(n: int, t_ref: float, ref: str, *, seq: int | None = None, wrap: float | None = None) -> Frame:
    return Frame(accel=np.zeros((n, 3)), gyro=None, t_ref=t_ref, ref=ref, t_wrap_s=wrap, seq=seq)  # type: ignore[arg-type]


class TestLastSampleTimestamps:
    def test_first_frame_uses_the_nominal_rate_backwards_from_its_timestamp(self) -> None:
        tl = Timeline(fs_hz=50.0)
        p = tl.place(frame(5, 100.0, "last"), host_s=0.0)
        np.testing.assert_allclose(p.t_s, [0.0, 0.02, 0.04, 0.06, 0.08], atol=1e-9)
        assert tl.origin_raw_s == pytest.approx(99.92)
        assert p.dropped == 0

    def test_later_frames_are_spread_between_timestamps_like_polars_sdk(self) -> None:
        # A device whose sample clock runs 1 % slow against its timestamps: spacing 0.0202 s.
        tl = Timeline(fs_hz=50.0)
        tl.place(frame(4, 10.0, "last"), host_s=0.0)
        p = tl.place(frame(4, 10.0 + 4 * 0.0202, "last"), host_s=0.1)
        np.testing.assert_allclose(np.diff(np.concatenate([[0.06], p.t_s])), 0.0202, rtol=1e-9)
        assert p.dropped == 0

    def test_spread_follows_drift_over_many_frames(self) -> None:
        true_dt = 0.01 * (1 + 500e-6)  # 500 ppm fast timestamps
        tl = Timeline(fs_hz=100.0)
        all_t = []
        for i in range(50):
            p = tl.place(frame(10, 5.0 + (10 * i + 9) * true_dt, "last"), host_s=0.1 * i)
            all_t.append(p.t_s)
        t = np.concatenate(all_t)
        np.testing.assert_allclose(np.diff(t)[10:], true_dt, rtol=1e-6)  # after the first frame

    def test_missing_frames_open_a_gap_at_nominal_spacing(self) -> None:
        tl = Timeline(fs_hz=100.0)
        tl.place(frame(10, 0.09, "last"), host_s=0.0)  # samples 0..9
        p = tl.place(frame(10, 0.39, "last"), host_s=0.3)  # samples 30..39: 20 lost
        assert p.dropped == 20
        np.testing.assert_allclose(p.t_s, 0.30 + 0.01 * np.arange(10), atol=1e-9)
        assert p.gap_start_s == pytest.approx(0.09) and p.gap_end_s == pytest.approx(0.30)
        assert np.all(np.diff(p.t_s) > 0)


class TestFirstSampleTimestamps:
    def test_contiguous_frames(self) -> None:
        tl = Timeline(fs_hz=100.0)
        a = tl.place(frame(5, 1.00, "first", seq=1), host_s=0.0)
        b = tl.place(frame(5, 1.05, "first", seq=2), host_s=0.05)
        np.testing.assert_allclose(np.concatenate([a.t_s, b.t_s]), 0.01 * np.arange(10), atol=1e-9)
        assert b.dropped == 0 and b.lost_frames == 0

    def test_sequence_gap_names_lost_notifications_and_time_counts_samples(self) -> None:
        tl = Timeline(fs_hz=100.0)
        tl.place(frame(5, 0.00, "first", seq=65534), host_s=0.0)
        p = tl.place(frame(5, 0.15, "first", seq=1), host_s=0.15)  # 65535 and 0 lost across the wrap
        assert p.lost_frames == 2
        assert p.dropped == 10
        assert p.t_s[0] == pytest.approx(0.15)

    def test_duplicate_frame_is_not_placed_twice(self) -> None:
        tl = Timeline(fs_hz=100.0)
        tl.place(frame(5, 0.0, "first", seq=9), host_s=0.0)
        assert tl.place(frame(5, 0.0, "first", seq=9), host_s=0.01).duplicate

    def test_u32_microsecond_counter_is_unwrapped(self) -> None:
        wrap = 2**32 / 1e6
        tl = Timeline(fs_hz=100.0)
        a = tl.place(frame(5, wrap - 0.02, "first", wrap=wrap), host_s=0.0)
        b = tl.place(frame(5, 0.03, "first", wrap=wrap), host_s=0.05)
        t = np.concatenate([a.t_s, b.t_s])
        np.testing.assert_allclose(t, 0.01 * np.arange(10), atol=1e-6)
        assert b.dropped == 0

    def test_device_reset_is_reanchored_with_host_time(self) -> None:
        tl = Timeline(fs_hz=100.0)
        tl.place(frame(5, 500.0, "first"), host_s=10.0)
        p = tl.place(frame(5, 0.001, "first"), host_s=10.55)  # clock restarted at 0
        assert p.reanchored is not None and "back" in p.reanchored
        assert p.t_s[0] > 0.04  # after the last sample, never overlapping
        assert p.dropped == pytest.approx(50, abs=2)  # ≈ 0.5 s of host time


class TestReconnect:
    def test_device_time_spans_the_outage(self) -> None:
        tl = Timeline(fs_hz=50.0)
        tl.place(frame(5, 100.08, "last"), host_s=0.0)
        tl.on_reconnect(host_gap_s=2.0)
        p = tl.place(frame(5, 102.08, "last"), host_s=2.0)
        assert p.dropped == 95 and p.reanchored is None
        assert p.t_s[-1] == pytest.approx(2.08)

    def test_restarted_sequence_counter_after_reconnect_is_not_a_loss(self) -> None:
        tl = Timeline(fs_hz=100.0)
        tl.place(frame(5, 1.0, "first", seq=500), host_s=0.0)
        tl.on_reconnect(host_gap_s=1.0)
        p = tl.place(frame(5, 2.0, "first", seq=0), host_s=1.0)
        assert p.lost_frames == 0 and p.dropped == 95

    def test_untimed_protocol_uses_host_time_only_across_reconnects(self) -> None:
        tl = Timeline(fs_hz=10.0)
        untimed = Frame(accel=np.zeros((3, 3)), gyro=None, t_ref=None, ref=None)
        tl.place(untimed, host_s=0.0)
        np.testing.assert_allclose(tl.place(untimed, host_s=5.0).t_s, [0.3, 0.4, 0.5])
        tl.on_reconnect(host_gap_s=2.0)
        p = tl.place(untimed, host_s=7.0)
        assert p.dropped == 17 and p.t_s[0] == pytest.approx(2.3)
