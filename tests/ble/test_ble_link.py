"""BleSource through a real BLE stack: bleak → Bumble central → LocalLink → simulated wearable."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

import numpy as np
import pytest

from imu_tempo.errors import PacketDecodeError, SourceLost, SourceNotFound
from imu_tempo.sim_ble import demo_ble_peripheral, demo_scan_targets
from imu_tempo.sim_ble.backend import BumbleClient, BumbleScanner, SimLink
from imu_tempo.sim_ble.peripherals import (
    MovesensePeripheral,
    NusPeripheral,
    PolarPeripheral,
    SimPeripheral,
    sinusoid_motion,
)
from imu_tempo.sources.ble import BleSource, DeviceBusy, ProfileMismatch, scan
from imu_tempo.types import SampleBlock, StatusEvent

MOTION = sinusoid_motion(duration_s=6.0, rep_s=0.8, repeat=True)


@asynccontextmanager
async def sensor(cls: type[SimPeripheral], **kwargs: Any):
    link = SimLink()
    kwargs.setdefault("motion", MOTION)
    kwargs.setdefault("speed", 8.0)
    periph = cls(link=link, address="F0:00:00:00:00:01", **kwargs)
    await periph.start()
    try:
        yield link, periph
    finally:
        await periph.close()


def source_for(link: SimLink, periph: SimPeripheral, events: list[StatusEvent] | None = None, **kwargs: Any) -> BleSource:
    kwargs.setdefault("scan_timeout_s", 1.0)
    return BleSource(
        periph.name,
        backend=BumbleClient,
        scanner_backend=BumbleScanner,
        status=None if events is None else events.append,
        link=link,
        **kwargs,
    )


async def take(source: BleSource, *, samples: int, on_block: Any = None) -> list[SampleBlock]:
    """Blocks until ``samples`` samples (received or reported dropped) have gone by."""
    blocks: list[SampleBlock] = []
    seen = 0
    async for block in source:
        blocks.append(block)
        seen += len(block) + block.dropped
        if on_block is not None:
            await on_block(block, blocks)
        if seen >= samples:
            break
    return blocks


def sample_indices(periph: SimPeripheral, blocks: list[SampleBlock], source: BleSource) -> np.ndarray:
    """Map received session times back to the sensor's sample counter."""
    fs = periph.fs_hz
    assert fs is not None and source.timeline is not None and source.timeline.origin_raw_s is not None
    t = np.concatenate([b.t_s for b in blocks])
    dev = t + source.timeline.origin_raw_s
    if dev[0] < periph.clock_start_s:  # the u32 µs clock had wrapped before the stream started
        dev = dev + 2**32 / 1e6
    return np.round((dev - periph.clock_start_s) * fs / (1 + periph.drift_ppm * 1e-6)).astype(int)


# ---------------------------------------------------------------------------------------------


def test_scan_marks_each_simulated_device_with_its_profile(arun) -> None:
    async def go() -> list:
        async with demo_scan_targets() as t:
            return await scan(timeout_s=0.3, backend=t.scanner_backend, **t.backend_kwargs)

    found = arun(go())
    assert {(d.name, d.profile) for d in found} == {
        ("Polar Sense 1A2B3C4D", "polar"),
        ("IMU-Tempo NUS", "nus"),
        ("Movesense 220330000123", "movesense"),
    }
    assert all(d.rssi < 0 and d.address.startswith("F0:00:00:00:00:0") for d in found)


CASES = {
    "polar-sense": (PolarPeripheral, {"model": "Sense", "frame_samples": 18}, 1e-3, 5e-4),
    "polar-h10": (PolarPeripheral, {"model": "H10", "frame_samples": 36}, 1e-9, 5e-4),
    "nus-u32-wrap": (NusPeripheral, {"clock_start_s": 2**32 / 1e6 - 2.0}, 1e-9, 5e-5),
    "movesense": (MovesensePeripheral, {}, 1e-5, 1.5e-3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_stream_delivers_exactly_what_the_sensor_sent(arun, case: str) -> None:
    cls, extra, value_tol, time_tol = CASES[case]

    async def go():
        async with sensor(cls, drift_ppm=300.0, **extra) as (link, periph):
            events: list[StatusEvent] = []
            src = source_for(link, periph, events)
            async with src:
                blocks = await take(src, samples=300)
            return periph, src, blocks, events

    periph, src, blocks, events = arun(go())
    assert [e.state for e in events] == ["streaming"]
    assert sum(b.dropped for b in blocks) == 0
    k = sample_indices(periph, blocks, src)
    assert np.all(np.diff(k) == 1), "every sample, in order, none twice"
    assert k[0] == periph.log.sent_first_indices[0]
    fs = periph.fs_hz
    expected_t = periph.device_time_s(k, fs) - periph.device_time_s(k[0], fs)
    t = np.concatenate([b.t_s for b in blocks])
    np.testing.assert_allclose(t - t[0], expected_t, atol=time_tol)
    acc, gyr = periph.quantized(k, fs)  # type: ignore[attr-defined]
    np.testing.assert_allclose(np.concatenate([b.accel for b in blocks]), acc, atol=value_tol, rtol=1e-6)
    if gyr is not None:
        np.testing.assert_allclose(np.concatenate([b.gyro for b in blocks]), gyr, atol=1e-9)
    assert all(b.fs_hz == fs and b.host_time_s is not None for b in blocks)


def test_lost_notifications_are_reported_not_merged(arun) -> None:
    async def go():
        async with sensor(NusPeripheral, frame_samples=5, drop_frames={4, 9, 10}) as (link, periph):
            events: list[StatusEvent] = []
            src = source_for(link, periph, events)
            async with src:
                blocks = await take(src, samples=120)
            return periph, src, blocks, events

    periph, src, blocks, events = arun(go())
    gaps = [b for b in blocks if b.dropped]
    assert [b.dropped for b in gaps] == [5, 10]  # frame 4, then frames 9 and 10
    gap_events = [e for e in events if e.state == "gap"]
    assert len(gap_events) == 2
    assert gap_events[1].details["lost_frames"] == 2 and "2 notification(s) lost" in gap_events[1].message
    k = sample_indices(periph, blocks, src)
    assert len(np.setdiff1d(np.arange(k[0], k[-1] + 1), k)) == 15
    # The samples after a gap sit at their true device time, not right after the previous frame.
    for b in gaps:
        i = next(i for i, x in enumerate(blocks) if x is b)
        assert b.t_s[0] - blocks[i - 1].t_s[-1] == pytest.approx((b.dropped + 1) / 100.0, abs=1e-5)


def test_polar_gap_found_from_timestamps_alone(arun) -> None:
    async def go():
        async with sensor(PolarPeripheral, model="H10", frame_samples=10, drop_frames={3}) as (link, periph):
            src = source_for(link, periph)
            async with src:
                return await take(src, samples=100)

    blocks = arun(go())
    assert [b.dropped for b in blocks if b.dropped] == [10]


def test_notifications_cut_to_the_att_mtu_are_an_error_that_says_so(arun) -> None:
    async def go():
        async with sensor(PolarPeripheral, model="H10", frame_samples=36) as (link, periph):
            src = source_for(link, periph, exchange_mtu=False)
            async with src:
                assert src.mtu == 23
                await take(src, samples=100)

    with pytest.raises(PacketDecodeError, match="ATT MTU is 23"):
        arun(go())


def test_disconnect_mid_set_keeps_the_session_and_reports_the_gap(arun) -> None:
    async def go():
        async with sensor(PolarPeripheral, model="Sense", frame_samples=9, drift_ppm=50.0) as (link, periph):
            events: list[StatusEvent] = []
            marks: dict[str, Any] = {}

            async def on_block(block: SampleBlock, blocks: list[SampleBlock]) -> None:
                if "dropped_at" not in marks and sum(len(b) for b in blocks) >= 90:
                    marks["dropped_at"] = len(blocks)
                    marks["sent_before"] = periph.log.samples_sent
                    await periph.drop_link(away_s=0.3)

            src = source_for(link, periph, events, reconnect_s=10.0)
            async with src:
                blocks = await take(src, samples=600, on_block=on_block)
            return periph, src, blocks, events, marks

    periph, src, blocks, events, marks = arun(go(), timeout_s=30)
    states = [e.state for e in events]
    assert states[0] == "streaming"
    i = states.index("lost")
    assert states[i + 1] == "reconnecting" and "resumed" in states[i:] and states[-1] in ("streaming", "resumed", "gap")
    assert src.reconnects == 1 and periph.log.starts == 2  # the start sequence was sent again
    # Everything the sensor sent before the link dropped was delivered.
    before = blocks[: next(j for j, b in enumerate(blocks) if b.dropped)]
    assert sum(len(b) for b in before) == marks["sent_before"]
    # The first block after the outage says how much is missing, and time continues on the device clock.
    resumed = next(b for b in blocks if b.dropped)
    k = sample_indices(periph, blocks, src)
    hole = np.setdiff1d(np.arange(k[0], k[-1] + 1), k)
    assert resumed.dropped == len(hole) > 0
    t = np.concatenate([b.t_s for b in blocks])
    assert np.all(np.diff(t) > 0)
    gap = next(e for e in events if e.state == "gap")
    assert gap.details["dropped"] == resumed.dropped


def test_lost_for_good_raises_source_lost_after_reconnect_s(arun) -> None:
    async def go():
        async with sensor(NusPeripheral) as (link, periph):
            events: list[StatusEvent] = []
            src = source_for(link, periph, events, reconnect_s=0.6, scan_timeout_s=0.15)

            async def on_block(block: SampleBlock, blocks: list[SampleBlock]) -> None:
                if len(blocks) == 3:
                    await periph.drop_link(away_s=30.0)

            async with src:
                await take(src, samples=10_000, on_block=on_block)
            return events

    with pytest.raises(SourceLost, match="not back after 0.6 s") as info:
        arun(go())
    assert info.value.reason == "disconnected"


def test_status_callback_may_be_a_coroutine(arun) -> None:
    seen: list[str] = []

    async def status(event: StatusEvent) -> None:
        await asyncio.sleep(0)
        seen.append(event.state)

    async def go():
        async with sensor(MovesensePeripheral) as (link, periph):
            src = BleSource(periph.name, backend=BumbleClient, scanner_backend=BumbleScanner, status=status, link=link)
            async with src:
                await take(src, samples=20)

    arun(go())
    assert seen == ["streaming"]


def test_profile_mismatch_names_the_profile_that_fits(arun) -> None:
    async def go():
        async with sensor(NusPeripheral) as (link, periph):
            async with source_for(link, periph, profile="polar"):
                pass

    with pytest.raises(ProfileMismatch, match=r"does not speak the polar profile.*It speaks: nus \(use --profile nus\)"):
        arun(go())


def test_device_not_found_lists_what_was_found(arun) -> None:
    async def go():
        async with demo_scan_targets() as t:
            async with BleSource("Polar H10 99999999", backend=t.backend, scanner_backend=t.scanner_backend,
                                 scan_timeout_s=0.3, **t.backend_kwargs):
                pass

    with pytest.raises(SourceNotFound) as info:
        arun(go())
    message = str(info.value)
    assert "'Polar H10 99999999' not found" in message
    assert "Polar Sense 1A2B3C4D [F0:00:00:00:00:01]" in message and "(profile polar)" in message
    assert "connected to another phone or app" in message


def test_sensor_connected_elsewhere_is_not_found_with_a_hint(arun) -> None:
    async def go():
        async with sensor(NusPeripheral, max_connections=1) as (link, periph):
            async with source_for(link, periph) as first:
                await take(first, samples=10)
                async with source_for(link, periph, scan_timeout_s=0.3):
                    pass

    with pytest.raises(SourceNotFound, match="not connected to another phone or app"):
        arun(go())


def test_polar_busy_streaming_to_another_central(arun) -> None:
    async def go():
        async with sensor(PolarPeripheral) as (link, periph):
            async with source_for(link, periph) as first:
                await take(first, samples=10)
                async with source_for(link, periph):
                    pass

    with pytest.raises(DeviceBusy, match="already in state.*another app"):
        arun(go())


def test_demo_peripheral_gives_what_ble_source_needs(arun) -> None:
    async def go():
        async with demo_ble_peripheral(profile="movesense", motion=MOTION, speed=8.0) as demo:
            src = BleSource(demo.name, backend=demo.backend, scanner_backend=demo.scanner_backend,
                            **demo.backend_kwargs)
            async with src:
                blocks = await take(src, samples=50)
            return src, blocks

    src, blocks = arun(go())
    assert src.profile == "movesense" and src.stream_description == "Movesense /Meas/Acc/104"
    assert sum(len(b) for b in blocks) >= 50


class _BluetoothOffScanner(BumbleScanner):
    """A scanner backend whose adapter is switched off (what bleak's BlueZ backend raises then)."""

    async def start(self) -> None:
        from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason

        raise BleakBluetoothNotAvailableError(
            "No powered Bluetooth adapters found.", BleakBluetoothNotAvailableReason.POWERED_OFF
        )


def test_bluetooth_off_is_explained(arun) -> None:
    from imu_tempo.sources.ble import BluetoothUnavailable

    link = SimLink()
    with pytest.raises(BluetoothUnavailable, match="Bluetooth is turned off.*--demo ble"):
        arun(scan(timeout_s=0.1, backend=_BluetoothOffScanner, link=link))

    async def go():
        async with BleSource("Polar Sense 1A2B3C4D", backend=BumbleClient, scanner_backend=_BluetoothOffScanner,
                             link=link):
            pass

    with pytest.raises(BluetoothUnavailable, match="turned off"):
        arun(go())


def test_no_system_bluetooth_service_is_explained() -> None:
    from imu_tempo.sources.ble.scan import bluetooth_unavailable

    err = bluetooth_unavailable(FileNotFoundError(2, "No such file or directory"))
    assert err is not None and "no D-Bus system bus" in str(err)
    assert bluetooth_unavailable(ValueError("unrelated")) is None


def test_missing_bumble_names_the_extra(monkeypatch) -> None:
    import sys

    from imu_tempo import sim_ble

    monkeypatch.setitem(sys.modules, "bumble.link", None)
    with pytest.raises(ImportError, match=r"pip install 'imu-tempo\[sim\]'"):
        sim_ble.require_bumble()


def test_a_stalled_stream_counts_as_lost(arun) -> None:
    with pytest.raises(SourceLost) as info:

        async def raising():
            async with sensor(NusPeripheral, drop_frames=set(range(4, 100_000))) as (link, periph):
                src = source_for(link, periph, stall_s=0.3, reconnect_s=0.5, scan_timeout_s=0.2)
                async with src:
                    await take(src, samples=10_000)

        arun(raising())
    assert info.value.reason == "stalled" and "sent nothing for 0.3 s" in str(info.value)


def test_device_stopping_the_stream_is_restarted(arun) -> None:
    async def go():
        async with sensor(PolarPeripheral, model="H10", frame_samples=10) as (link, periph):
            events: list[StatusEvent] = []
            src = source_for(link, periph, events)
            received = 0
            before_stop: int | None = None
            async with src:
                # stream until 50 samples have arrived after the device stopped itself: how
                # long the restart takes (a busy host) must not change what is checked
                async for block in src:
                    received += len(block)
                    if before_stop is None and received >= 30:
                        before_stop = received
                        await periph.stop_from_device()
                    elif before_stop is not None and received - before_stop >= 50:
                        break
                return events, src.stats(), periph.log.starts, before_stop

    events, stats, starts, before_stop = arun(go())
    lost = next(e for e in events if e.state == "lost")
    assert lost.details["reason"] == "stopped_by_device" and "stopped the accelerometer stream" in lost.message
    assert "resumed" in [e.state for e in events] and starts == 2
    assert stats["reconnects"] == 1 and stats["profile"] == "polar"
    assert stats["samples"] >= before_stop + 50  # the stream really came back
