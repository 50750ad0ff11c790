"""The live engine behind the serial path says what the batch analysis of the same samples says."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from serialkit import RATES_HZ, WearableFaults, needs_engine, simulated_session, stream, wearable_for

from imu_tempo.engine import Engine, analyze_blocks
from imu_tempo.types import RepEvent, SampleBlock

pytestmark = needs_engine


def rep_rows(events: list) -> list[tuple]:
    return [(e.rep.set_index, e.rep.index, e.rep.start_s, e.rep.end_s, e.rep.failure, e.rep.gap)
            for e in events if isinstance(e, RepEvent)]


def assert_same_reps(live: list, batch: list) -> None:
    a, b = rep_rows(live), rep_rows(batch)
    assert len(a) == len(b), (a, b)
    for x, y in zip(a, b, strict=True):
        assert x[:2] == y[:2] and x[4:] == y[4:], (x, y)
        assert x[2] == pytest.approx(y[2], abs=1e-6) and x[3] == pytest.approx(y[3], abs=1e-6), (x, y)


def live_and_batch(wearable, **kw) -> tuple[list, list, object]:  # noqa: ANN001
    """Run the engine on the blocks as they arrive from the pty; then the received samples in one pass."""
    engine = Engine()
    live: list = []

    def feed(b: SampleBlock) -> None:
        live.extend(engine.feed(b))

    r = asyncio.run(stream(wearable, on_block=feed, **kw))
    assert r.error is None
    live.extend(engine.finish())
    # The batch: the same samples, one block per stretch between losses (the losses keep their place).
    pieces: list[SampleBlock] = []
    for b in r.blocks:
        if pieces and b.dropped == 0:
            p = pieces[-1]
            pieces[-1] = SampleBlock(
                t_s=np.concatenate([p.t_s, b.t_s]), accel=np.concatenate([p.accel, b.accel]),
                gyro=None if b.gyro is None else np.concatenate([p.gyro, b.gyro]), fs_hz=b.fs_hz, dropped=p.dropped)
        else:
            pieces.append(b)
    _, batch = analyze_blocks(pieces)
    return live, batch, r


@pytest.mark.parametrize("fs_hz", RATES_HZ)
@pytest.mark.parametrize("fmt", ["binary", "text"])
def test_live_reps_match_batch_analysis(fmt: str, fs_hz: float) -> None:
    s = simulated_session(fs_hz, reps=5)
    w = wearable_for(s, wire_format=fmt)
    live, batch, r = live_and_batch(w, end_t_s=w.last_t_s, accel_unit="g", gyro_unit="deg/s")
    assert len(r.blocks) > 5  # the live engine really saw the stream in pieces (fewer when the host is busy: blocks merge)
    assert len(rep_rows(live)) >= 3
    assert_same_reps(live, batch)
    assert [type(e).__name__ for e in live] == [type(e).__name__ for e in batch]


def test_live_reps_match_batch_through_damage_and_an_unplug(tmp_path) -> None:  # noqa: ANN001
    s = simulated_session(400.0, reps=6)
    faults = WearableFaults(boot_garbage=True, corrupt_every=97, drop_every=89, unplug_at_s=s.t_s[-1] * 0.6,
                            unplug_for_s=0.5)
    w = wearable_for(s, faults=faults, link_path=tmp_path / "ttyIMU0", speed=20.0)
    live, batch, r = live_and_batch(w)
    assert r.stats.reconnects == 1 and r.stats.wire.corrupt_frames > 0 and r.dropped > 0
    unplug_s = s.t_s[-1] * 0.6
    before = [e for e in live if isinstance(e, RepEvent) and e.rep.end_s < unplug_s]
    assert len(before) >= 3  # the reps from before the unplug are kept through the reconnect
    assert_same_reps(before, [e for e in batch if isinstance(e, RepEvent) and e.rep.end_s < unplug_s])
    assert_same_reps(live, batch)
