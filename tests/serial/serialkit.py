"""Helpers for the serial tests: simulated sessions and a pty wearable run to completion.

Everything goes through real pseudo-terminals (``os.openpty`` in raw mode): the
simulated wearable writes to the master, :class:`SerialSource` opens the slave
with pyserial.  No test passes or fails on wall-clock timing; the wearable runs
faster than real time only to keep the suite short.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from imu_tempo.sources.demo import END_MARKER, SimulatedWearable, WearableFaults
from imu_tempo.sources.serial import SerialSource
from imu_tempo.types import SampleBlock, StatusEvent

RATES_HZ = (100.0, 400.0, 1000.0)


def simulated_session(fs_hz: float, *, reps: int = 5, seed: int = 1, gyro: bool = True) -> Any:
    """A short simulated kettlebell set at ``fs_hz`` (t_s, accel m/s^2, gyro rad/s, fs_hz).

    The simulator's own rate limit is respected: above it, a session simulated at an
    integer fraction of the rate is resampled (polyphase, anti-aliased) to ``fs_hz``.
    """
    from imu_tempo import simulate

    kw = dict(exercise="kettlebell_swing", sets=1, reps=reps, seed=seed, jitter_s=0.0, idle_s=1.5, walk=False,
              gyro=gyro)
    if fs_hz <= simulate._MAX_FS_HZ:
        s = simulate.simulate_session(fs_hz=fs_hz, **kw)
        return SimpleNamespace(t_s=s.t_s - s.t_s[0], accel=s.accel, gyro=s.gyro, fs_hz=s.fs_hz, truth=s.truth)
    from scipy.signal import resample_poly

    k = next(k for k in range(2, 100) if fs_hz / k <= simulate._MAX_FS_HZ and float(fs_hz / k).is_integer())
    s = simulate.simulate_session(fs_hz=fs_hz / k, **kw)
    accel = resample_poly(s.accel, k, 1, axis=0)
    g = None if s.gyro is None else resample_poly(s.gyro, k, 1, axis=0)
    t = np.arange(len(accel)) / fs_hz
    return SimpleNamespace(t_s=t, accel=accel, gyro=g, fs_hz=fs_hz, truth=s.truth)


def synthetic(fs_hz: float, *, duration_s: float = 4.0, gyro: bool = True) -> SimpleNamespace:
    """Plain periodic motion (1 s 'reps') for tests that only check the transport."""
    t = np.arange(int(duration_s * fs_hz)) / fs_hz
    az = 9.80665 + 12.0 * np.sin(2 * np.pi * t) ** 3
    accel = np.stack([0.3 * np.sin(3 * t), 0.1 * np.cos(t), az], axis=1)
    g = np.stack([np.sin(2 * np.pi * t), 0.2 * np.cos(5 * t), 0.5 * np.cos(t)], axis=1) if gyro else None
    return SimpleNamespace(t_s=t, accel=accel, gyro=g, fs_hz=fs_hz)


@dataclass
class Run:
    """What a streaming run produced."""

    blocks: list[SampleBlock] = field(default_factory=list)
    statuses: list[StatusEvent] = field(default_factory=list)
    stats: Any = None
    error: BaseException | None = None

    @property
    def t_s(self) -> np.ndarray:
        return np.concatenate([b.t_s for b in self.blocks]) if self.blocks else np.empty(0)

    @property
    def accel(self) -> np.ndarray:
        return np.concatenate([b.accel for b in self.blocks])

    @property
    def gyro(self) -> np.ndarray:
        return np.concatenate([b.gyro for b in self.blocks])  # type: ignore[misc]

    @property
    def dropped(self) -> int:
        return sum(b.dropped for b in self.blocks)

    def states(self) -> list[str]:
        return [s.state for s in self.statuses]


async def stream(
    wearable: SimulatedWearable,
    *,
    end_t_s: float | None = None,
    quiet_s: float = 10.0,
    on_block: Any = None,
    wrap: Any = None,
    **source_kwargs: Any,
) -> Run:
    """Open the wearable's port with a SerialSource and collect until the session is over.

    ``wrap(source, status)``, when given, returns the source to read from instead (a wrapper of the
    SerialSource, e.g. live's checks), ``status`` being where its status events go.

    Over means: a block reaches session time ``end_t_s`` (when given), or the wearable
    has finished, its end marker was decoded and every item before it consumed (or, should
    the marker itself be lost, nothing arrived for ``quiet_s``).  Errors raised by the iteration
    are returned in ``Run.error``.
    """
    run = Run()
    source_kwargs.setdefault("stall_s", 30.0)  # no spurious "lost" on a loaded machine
    source_kwargs.setdefault("reconnect_s", 10.0)
    src = SerialSource(wearable.port, status=run.statuses.append, **source_kwargs)
    outer = src if wrap is None else wrap(src, run.statuses.append)
    last = [time.monotonic()]

    async def consume() -> None:
        async for b in outer:
            run.blocks.append(b)
            last[0] = time.monotonic()
            if on_block is not None:
                r = on_block(b)
                if asyncio.iscoroutine(r):
                    await r
            if end_t_s is not None and b.t_s[-1] >= end_t_s - 1e-9:
                return

    try:
        async with outer:
            wearable.start()
            task = asyncio.create_task(consume())
            while not task.done():
                await asyncio.wait({task}, timeout=0.05)
                if task.done() or not wearable.finished():
                    continue
                # Over when the wearable's end marker was decoded and everything before it consumed
                # (event-driven); the quiet time only backs up a marker lost with a corrupted frame.
                drained = src.stats().wire.last_text == END_MARKER and src.backlog == 0
                if drained or time.monotonic() - last[0] > quiet_s:
                    task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # noqa: BLE001 - handed to the test to assert on
                run.error = exc
            run.stats = src.stats()
    finally:
        wearable.stop()
    return run


def run(coro: Any) -> Any:
    """Run a coroutine to completion with a hard deadline (60 s)."""

    async def guarded() -> Any:
        async with asyncio.timeout(60):
            return await coro

    return asyncio.run(guarded())


def wearable_for(session: Any, **kwargs: Any) -> SimulatedWearable:
    kwargs.setdefault("speed", 80.0)
    return SimulatedWearable.from_session(session, **kwargs)


def engine_works() -> bool:
    from imu_tempo.engine import Engine

    try:
        Engine().finish()
    except NotImplementedError:
        return False
    return True


needs_engine = pytest.mark.skipif(not engine_works(), reason="imu_tempo.engine.Engine is not implemented yet")

__all__ = ["RATES_HZ", "Run", "WearableFaults", "needs_engine", "run", "simulated_session", "stream", "synthetic",
           "wearable_for"]
