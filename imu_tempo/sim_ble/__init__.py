"""Simulated BLE wearables behind a real BLE stack (Bumble), for tests and ``live --demo ble``.

* :class:`~.backend.BumbleScanner` / :class:`~.backend.BumbleClient`: bleak backends on
  Bumble, a complete BLE host and controller running in-process on a ``LocalLink``;
* :mod:`.peripherals`: simulated sensors that speak each profile's exact protocol
  (:class:`NusPeripheral`, :class:`PolarPeripheral`, :class:`MovesensePeripheral`), with
  connection-interval batching, deliberate packet loss, clock drift and disconnects;
* :func:`demo_ble_peripheral`: one simulated sensor, ready for :class:`~imu_tempo.sources.ble.BleSource`.

Bumble is an optional dependency (``pip install 'imu-tempo[sim]'``); it is imported when
something from this package is first used, and a clear ``ImportError`` says what to install.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .backend import BumbleClient, BumbleScanner, SimLink
    from .peripherals import Motion, MovesensePeripheral, NusPeripheral, PolarPeripheral, SimPeripheral

INSTALL_HINT = "pip install 'imu-tempo[sim]'"

_LAZY = {
    "BumbleClient": "backend",
    "BumbleScanner": "backend",
    "SimLink": "backend",
    "Motion": "peripherals",
    "SimPeripheral": "peripherals",
    "NusPeripheral": "peripherals",
    "PolarPeripheral": "peripherals",
    "MovesensePeripheral": "peripherals",
    "PERIPHERALS": "peripherals",
    "default_motion": "peripherals",
    "sinusoid_motion": "peripherals",
    "encode_delta_frame": "peripherals",
}


def require_bumble() -> None:
    """Raise an ``ImportError`` naming the install command when Bumble is missing."""
    try:
        importlib.import_module("bumble.link")
    except ImportError as exc:
        raise ImportError(
            f"the simulated BLE wearable needs Bumble, which is not installed: {INSTALL_HINT} ({exc})"
        ) from exc


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    require_bumble()
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


@dataclass
class DemoTarget:
    """What :class:`~imu_tempo.sources.ble.BleSource` needs to reach a simulated sensor.

    Use as ``BleSource(t.name, backend=t.backend, scanner_backend=t.scanner_backend, **t.backend_kwargs)``.
    """

    name: str
    backend: type
    scanner_backend: type
    backend_kwargs: dict[str, Any]
    link: Any
    peripheral: Any = None
    peripherals: list[Any] = field(default_factory=list)
    #: What the sensor plays (from the start of the stream), and its length in session seconds:
    #: a live run can stop once ``BleSource`` blocks reach ``last_t_s``.
    motion: Any = None
    last_t_s: float | None = None


@asynccontextmanager
async def demo_ble_peripheral(
    *,
    profile: str = "polar",
    model: str = "Sense",
    motion: Any = None,
    exercise: str = "kettlebell_swing",
    sets: int = 1,
    reps: int | None = None,
    seed: int = 0,
    speed: float = 1.0,
    drift_ppm: float = 20.0,
    drop_frames: tuple[int, ...] = (),
    disconnect_after_s: float | None = None,
    away_s: float = 2.0,
    **peripheral_kwargs: Any,
) -> AsyncIterator[DemoTarget]:
    """Run one simulated wearable on a fresh in-process link for the duration of the block.

    Parameters
    ----------
    profile : {"polar", "nus", "movesense"}
        Which protocol it speaks.
    model : {"Sense", "H10"}
        Polar model (delta frames at 52 Hz, or raw frames at up to 200 Hz).
    motion : Motion, optional
        What it measures; default: ``sets`` simulated sets of ``exercise``.  The motion
        plays from the moment the host starts the stream; afterwards the sensor rests.
    speed : float
        Device time per host second (1.0 = real time).
    drift_ppm, drop_frames
        Clock drift and frame numbers never sent (see :class:`~.peripherals.SimPeripheral`).
    disconnect_after_s, away_s : float
        Drop the link after this many host seconds and stay away ``away_s`` (shows recovery).
    **peripheral_kwargs
        Any other :class:`~.peripherals.SimPeripheral` parameter.

    Yields
    ------
    DemoTarget
    """
    require_bumble()
    import asyncio

    from .backend import BumbleClient, BumbleScanner, SimLink
    from .peripherals import PERIPHERALS, default_motion

    if profile not in PERIPHERALS:
        raise ValueError(f"no simulated peripheral for profile {profile!r}; choose from {', '.join(PERIPHERALS)}")
    link = SimLink()
    if motion is None:
        motion = default_motion(exercise=exercise, sets=sets, reps=reps, seed=seed)
    kwargs: dict[str, Any] = dict(
        link=link, address="F0:00:00:00:00:01", motion=motion, speed=speed, drift_ppm=drift_ppm,
        drop_frames=drop_frames, **peripheral_kwargs,
    )
    kwargs.setdefault("motion_from_stream_start", True)
    if profile == "polar":
        kwargs.setdefault("model", model)
        kwargs.setdefault("frame_samples", 18 if model == "Sense" else 36)
    periph = PERIPHERALS[profile](**kwargs)
    await periph.start()
    task = None
    if disconnect_after_s is not None:
        async def _drop() -> None:
            await asyncio.sleep(disconnect_after_s)
            await periph.drop_link(away_s=away_s)

        task = asyncio.get_running_loop().create_task(_drop())
    try:
        yield DemoTarget(
            name=periph.name, backend=BumbleClient, scanner_backend=BumbleScanner,
            backend_kwargs={"link": link}, link=link, peripheral=periph, peripherals=[periph],
            motion=motion, last_t_s=None if motion.repeat else motion.duration_s,
        )
    finally:
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await periph.close()


@asynccontextmanager
async def demo_scan_targets() -> AsyncIterator[DemoTarget]:
    """One simulated sensor per profile on one link (for ``imu-tempo scan --demo``)."""
    require_bumble()
    from .backend import BumbleClient, BumbleScanner, SimLink
    from .peripherals import MovesensePeripheral, NusPeripheral, PolarPeripheral, sinusoid_motion

    link = SimLink()
    motion = sinusoid_motion(duration_s=10.0, rep_s=1.0, repeat=True)
    periphs = [
        PolarPeripheral(link=link, address="F0:00:00:00:00:01", motion=motion),
        NusPeripheral(link=link, address="F0:00:00:00:00:02", motion=motion),
        MovesensePeripheral(link=link, address="F0:00:00:00:00:03", motion=motion),
    ]
    for p in periphs:
        await p.start()
    try:
        yield DemoTarget(
            name=periphs[0].name, backend=BumbleClient, scanner_backend=BumbleScanner,
            backend_kwargs={"link": link}, link=link, peripheral=periphs[0], peripherals=periphs,
        )
    finally:
        for p in periphs:
            await p.close()


__all__ = [
    "INSTALL_HINT",
    "DemoTarget",
    "demo_ble_peripheral",
    "demo_scan_targets",
    "require_bumble",
    *_LAZY,
]
