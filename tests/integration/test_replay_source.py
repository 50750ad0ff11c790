"""ReplaySource over real recording files; pacing checked with an injected clock, never the wall clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from imu_tempo.errors import ConfigError, SourceError
from imu_tempo.sources import Source
from imu_tempo.sources.recording import (
    Recording,
    RecordingWriter,
    ReplaySource,
    read_recording,
    write_recording,
)
from imu_tempo.types import SampleBlock


class FakeTime:
    """A host clock that only moves when someone sleeps (or the test moves it)."""

    def __init__(self) -> None:
        self.now = 5000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def make_recording(tmp_path: Path, n: int = 20, *, fs_hz: float = 100.0, gyro: bool = True) -> Recording:
    rng = np.random.default_rng(7)
    t = 30.0 + np.arange(n) / fs_hz
    accel = rng.normal(0, 0.3, (n, 3)) + [0, 0, 9.81]
    g = rng.normal(0, 0.5, (n, 3)) if gyro else None
    path = tmp_path / "session.csv"
    write_recording(path, t_s=t, accel=accel, gyro=g, metadata={"sample_rate_hz": str(fs_hz)})
    return read_recording(path)


async def collect(source: ReplaySource, on_block=None) -> list[SampleBlock]:
    out = []
    async with source:
        async for block in source:
            out.append(block)
            if on_block is not None:
                on_block(block)
    return out


def test_is_a_source(tmp_path: Path) -> None:
    src = ReplaySource(make_recording(tmp_path))
    assert isinstance(src, Source)
    assert src.name == "session.csv"


def test_fast_replay_yields_every_sample_in_order(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=1003)
    blocks = asyncio.run(collect(ReplaySource(rec, speed=None)))
    assert all(len(b) == 2 for b in blocks[:-1]) and len(blocks[-1]) == 1  # round(100 / 50) = 2
    np.testing.assert_array_equal(np.concatenate([b.t_s for b in blocks]), rec.t_s)
    np.testing.assert_array_equal(np.concatenate([b.accel for b in blocks]), rec.accel)
    np.testing.assert_array_equal(np.concatenate([b.gyro for b in blocks]), rec.gyro)  # type: ignore[misc]
    assert all(b.fs_hz == 100.0 and b.dropped == 0 and b.host_time_s is not None for b in blocks)
    hosts = [b.host_time_s for b in blocks]
    assert hosts == sorted(hosts)


def test_fast_replay_lets_the_loop_run_now_and_then(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=40)
    ft = FakeTime()

    def busy(_: SampleBlock) -> None:
        ft.now += 0.01  # the consumer spends 10 ms per block

    blocks = asyncio.run(collect(ReplaySource(rec, speed=None, block_size=2, clock=ft.clock, sleep=ft.sleep), busy))
    assert len(blocks) == 20
    assert set(ft.sleeps) == {0}
    # A pause whenever 20 ms of host time went by without one: before blocks 3, 5, ..., 19.
    assert len(ft.sleeps) == 9


def test_speed_two_asks_for_the_right_sleeps(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=20)  # 100 Hz, t = 30.00 ... 30.19
    ft = FakeTime()
    start = ft.now
    blocks = asyncio.run(collect(ReplaySource(rec, speed=2, block_size=4, clock=ft.clock, sleep=ft.sleep)))
    # Block k ends at sample 4k+3, due (4k+3) * 0.01 / 2 s after the start.
    assert ft.sleeps == pytest.approx([0.015, 0.02, 0.02, 0.02, 0.02])
    assert [b.host_time_s for b in blocks] == pytest.approx([start + (4 * k + 3) * 0.005 for k in range(5)])


def test_late_host_catches_up_without_drift(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=20)  # blocks of 2 end at 0.01, 0.03, ..., 0.19 s
    ft = FakeTime()
    start = ft.now
    seen = []

    def consumer(block: SampleBlock) -> None:
        seen.append(block)
        if len(seen) == 2:
            ft.now += 0.1  # the host stalls for 100 ms after the second block (at 0.03 s)

    blocks = asyncio.run(collect(ReplaySource(rec, speed=1.0, block_size=2, clock=ft.clock, sleep=ft.sleep), consumer))
    # Blocks due at 0.05 .. 0.13 s are overdue at 0.13 s: out at once (sleep(0) keeps the loop
    # responsive); then the original schedule resumes, with no drift from the stall.
    assert ft.sleeps == pytest.approx([0.01, 0.02, 0, 0, 0, 0, 0, 0.02, 0.02, 0.02], abs=1e-9)
    hosts = [b.host_time_s - start for b in blocks]  # type: ignore[operator]
    assert hosts == pytest.approx([0.01, 0.03, 0.13, 0.13, 0.13, 0.13, 0.13, 0.15, 0.17, 0.19], abs=1e-9)


def test_real_event_loop_replay_at_high_speed(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=100)  # 1 s of data at 1000x: about 1 ms of real sleeping
    blocks = asyncio.run(collect(ReplaySource(rec, speed=1000.0)))
    np.testing.assert_array_equal(np.concatenate([b.t_s for b in blocks]), rec.t_s)


def test_record_while_replaying_round_trips(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=257)
    out = tmp_path / "copy.csv"

    async def main() -> None:
        src = ReplaySource(rec, speed=None, block_size=5)
        with RecordingWriter(out, has_gyro=True, metadata=rec.metadata) as w:
            async with src:
                async for block in src:
                    w.write(block)

    asyncio.run(main())
    copy = read_recording(out)
    np.testing.assert_allclose(copy.t_s, rec.t_s, atol=6e-7)
    np.testing.assert_allclose(copy.accel, rec.accel, rtol=5.1e-6)
    assert out.read_bytes() == (tmp_path / "session.csv").read_bytes()  # same writer format, same bytes


def test_must_be_entered(tmp_path: Path) -> None:
    src = ReplaySource(make_recording(tmp_path), speed=None)
    with pytest.raises(SourceError, match="async with"):
        src.__aiter__()


def test_stops_after_exit(tmp_path: Path) -> None:
    rec = make_recording(tmp_path, n=20)

    async def main() -> int:
        src = ReplaySource(rec, speed=None, block_size=2)
        n = 0
        async with src:
            it = src.__aiter__()
            async for _ in it:
                n += 1
                if n == 3:
                    await src.__aexit__(None, None, None)
        return n

    assert asyncio.run(main()) == 3


@pytest.mark.parametrize("fs, expected", [(100.0, 2), (25.0, 1), (52.0, 1), (400.0, 8), (1000.0, 20)])
def test_default_block_size(tmp_path: Path, fs: float, expected: int) -> None:
    assert ReplaySource(make_recording(tmp_path, fs_hz=fs)).block_size == expected


@pytest.mark.parametrize("kw", [{"speed": 0}, {"speed": -1.0}, {"speed": float("nan")}, {"speed": True},
                                {"speed": "max"}, {"block_size": 0}, {"block_size": 1.5}])
def test_bad_arguments(tmp_path: Path, kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ReplaySource(make_recording(tmp_path), **kw)  # type: ignore[arg-type]
