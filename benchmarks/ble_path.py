"""Benchmark of the BLE path through the simulated link (Bumble in-process, bleak backend, BleSource).

    python -m benchmarks.ble_path [--quick]

A :class:`~imu_tempo.sim_ble.peripherals.NusPeripheral` (imu-tempo firmware over the Nordic UART
service, 100 Hz, 6 axes, 10 samples per notification) streams to a :class:`BleSource` over a real
BLE host/controller stack running in this process.  The simulated radio does not limit bandwidth,
so the sustained rate is what the software path (peripheral + Bumble + bleak backend + decoder +
source) moves on this machine; the peripheral runs in the same process and loop, so it shares the
CPU with the host side.

Measured
--------
``sustained``
    The sensor clock runs ``speed`` times faster than the host's (offered rate ``100 * speed``
    samples/s) on a link with a 7.5 ms connection interval and no per-event frame limit; the
    delivered rate over a fixed host window, with and without the engine.  ``delivered/offered``
    below ~0.95 means the path is saturated.
``latency``
    Real time (``speed=1``; ``quick`` plays at 8x, which shortens the set but not the measured path),
    a typical link (30 ms connection interval, up to 6 notifications per event).  For every rep event,
    host time from the notification carrying the sample that settled the rep (``detected_at_s``)
    leaving the simulated device to the event coming out of the engine.  ``from_sampled_ms`` adds
    the time the sample waited in the sensor for its notification (the frame fills and waits for a
    connection event), i.e. sample taken -> rep event.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from typing import Any

import numpy as np

from .common import percentile_ms

FS_HZ = 100.0
FRAME = 10


def _motion(*, reps: int, seed: int = 3, repeat: bool = True):
    from imu_tempo.sim_ble.peripherals import Motion
    from imu_tempo.simulate import simulate_session

    s = simulate_session(exercise="kettlebell_swing", sets=1, reps=reps, fs_hz=FS_HZ, seed=seed, idle_s=2.0,
                         walk=False, jitter_s=0.0)
    return Motion(t_s=s.t_s, accel=s.accel, gyro=s.gyro, repeat=repeat)


def _peripheral_class():
    from imu_tempo.sim_ble.peripherals import NusPeripheral

    class TimedNus(NusPeripheral):
        """Records the host time at which each frame is built and handed to the link."""

        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.sent_at: dict[int, float] = {}

        def encode(self, k: np.ndarray, fs_hz: float, frame_number: int) -> bytes:
            payload = super().encode(k, fs_hz, frame_number)
            self.sent_at[int(k[0])] = time.monotonic()
            return payload

    return TimedNus


async def _sustained(*, speed: float, seconds: float, with_engine: bool) -> dict[str, Any]:
    from imu_tempo.engine import Engine
    from imu_tempo.sim_ble.backend import BumbleClient, BumbleScanner, SimLink
    from imu_tempo.sources.ble import BleSource

    link = SimLink()
    periph = _peripheral_class()(link=link, address="F0:00:00:00:00:01", motion=_motion(reps=8), fs_hz=FS_HZ,
                                 speed=speed, frame_samples=FRAME, conn_interval_s=0.0075,
                                 max_frames_per_event=1_000_000, motion_from_stream_start=True)
    await periph.start()
    eng = Engine() if with_engine else None
    n = dropped = blocks = 0
    try:
        src = BleSource(periph.name, backend=BumbleClient, scanner_backend=BumbleScanner, link=link,
                        stall_s=30.0)
        async with src:
            t_first = cpu_first = None
            async for b in src:
                if t_first is None:  # count from the first block: connecting is not part of the rate
                    t_first, cpu_first = time.monotonic(), time.process_time()
                    continue
                n += len(b)
                dropped += b.dropped
                blocks += 1
                if eng is not None:
                    eng.feed(b)
                if time.monotonic() - t_first >= seconds:
                    break
            wall, cpu = time.monotonic() - t_first, time.process_time() - cpu_first
    finally:
        await periph.close()
    offered = FS_HZ * speed
    return {"speed": speed, "engine": with_engine, "offered_samples_per_s": round(offered),
            "samples_per_s": round(n / wall), "delivered_over_offered": round(n / wall / offered, 3),
            "blocks": blocks, "dropped": dropped, "cpu_fraction": round(cpu / wall, 2)}


async def _latency(*, speed: float, reps: int) -> dict[str, Any]:
    from imu_tempo.engine import Engine
    from imu_tempo.sim_ble.backend import BumbleClient, BumbleScanner, SimLink
    from imu_tempo.sources.ble import BleSource
    from imu_tempo.types import RepEvent

    link = SimLink()
    motion = _motion(reps=reps, repeat=False)
    periph = _peripheral_class()(link=link, address="F0:00:00:00:00:01", motion=motion, fs_hz=FS_HZ, speed=speed,
                                 frame_samples=FRAME, conn_interval_s=0.03, max_frames_per_event=6,
                                 motion_from_stream_start=True)
    await periph.start()
    eng = Engine()
    lat, lat_sampled = [], []
    end_t = motion.duration_s
    try:
        src = BleSource(periph.name, backend=BumbleClient, scanner_backend=BumbleScanner, link=link)
        async with src:
            async for b in src:
                evs = eng.feed(b)
                now = time.monotonic()
                for ev in evs:
                    if not isinstance(ev, RepEvent):
                        continue
                    k0 = periph.log.sent_first_indices[0]
                    k = k0 + int(round(ev.rep.detected_at_s * FS_HZ))
                    first = k0 + ((k - k0) // FRAME) * FRAME
                    if first in periph.sent_at:
                        lat.append(now - periph.sent_at[first])
                        sampled = periph._boot_host_s + (k + 1) / (FS_HZ * speed)  # the sample exists
                        lat_sampled.append(now - sampled)
                if b.t_s[-1] >= end_t:
                    break
    finally:
        await periph.close()
    return {"speed": speed, "link": "30 ms interval, 6 notifications/event, 10 samples each", "reps": len(lat),
            "p50_ms": percentile_ms(lat, 50), "p95_ms": percentile_ms(lat, 95), "max_ms": percentile_ms(lat, 100),
            "from_sampled_p50_ms": percentile_ms(lat_sampled, 50),
            "from_sampled_p95_ms": percentile_ms(lat_sampled, 95)}


def run(quick: bool = False) -> dict[str, Any]:
    t0 = time.monotonic()
    try:
        from imu_tempo.sim_ble import require_bumble

        require_bumble()
    except ImportError as exc:
        return {"skipped": str(exc)}
    # Overloading the link on purpose leaves notifications in flight at teardown; Bumble logs each.
    logging.getLogger("bumble").setLevel(logging.ERROR)
    seconds = 2.0 if quick else 6.0
    speeds = (80.0,) if quick else (40.0, 120.0, 240.0, 480.0)
    sustained = []
    for with_engine in (False, True):
        for sp in speeds:
            row = asyncio.run(_sustained(speed=sp, seconds=seconds, with_engine=with_engine))
            sustained.append(row)
            print(f"  ble sustained speed={sp} engine={with_engine}: {row['samples_per_s']} samples/s "
                  f"({row['delivered_over_offered']} of offered)", file=sys.stderr, flush=True)
            if row["delivered_over_offered"] < 0.9:
                break
    latency = asyncio.run(_latency(speed=8.0 if quick else 1.0, reps=5 if quick else 10))
    return {"fs_hz": FS_HZ, "frame_samples": FRAME, "sustained": sustained, "latency": latency,
            "wall_s": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    print(json.dumps(run(ap.parse_args(argv).quick), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
