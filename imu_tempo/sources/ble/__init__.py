"""Live BLE wearables: scanning, per-device profiles and the :class:`BleSource`.

Public API
----------
:func:`scan`
    ``await scan(timeout_s=5.0)`` lists nearby devices as :class:`FoundDevice` (name, address,
    RSSI, the profile that fits).
:class:`BleSource`
    ``BleSource("Polar Sense 1A2B3C4D")``: a Source (async context manager and async iterator of
    :class:`~imu_tempo.types.SampleBlock`) with automatic profile choice, device-time stamping,
    gap detection and reconnection.
:data:`PROFILES`
    ``{"nus": ..., "polar": ..., "movesense": ...}``: each a decoder plus a start/stop sequence
    (:class:`Profile`).  Protocol notes: ``firmware_notes/ble.md``.
:func:`demo_ble_peripheral`
    Async context manager: a simulated wearable on an in-process Bumble link, yielding what
    ``BleSource`` needs to connect to it (``live --demo ble``).  Needs ``imu-tempo[sim]``.

Errors (all :class:`~imu_tempo.errors.SourceError`): ``BluetoothUnavailable`` (no adapter,
Bluetooth off), ``SourceNotFound`` (lists what was found), ``DeviceBusy``, ``ProfileMismatch``,
``StartFailed``, and ``SourceLost`` once reconnecting has failed for ``reconnect_s``.

bleak is imported when a scan or connection starts, not when this package is imported.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

from .profiles import PROFILES, DeviceBusy, Frame, Profile, ProfileMismatch, StartFailed
from .scan import BluetoothUnavailable, FoundDevice, scan
from .source import BleSource
from .timeline import Placement, Timeline


def demo_ble_peripheral(**kwargs: Any) -> AbstractAsyncContextManager[Any]:
    """Start a simulated BLE wearable; see :func:`imu_tempo.sim_ble.demo_ble_peripheral`.

    Usage::

        async with demo_ble_peripheral(profile="polar") as demo:
            source = BleSource(demo.name, backend=demo.backend,
                               scanner_backend=demo.scanner_backend, **demo.backend_kwargs)

    Raises ``ImportError`` naming ``pip install 'imu-tempo[sim]'`` when Bumble is missing.
    """
    from ...sim_ble import demo_ble_peripheral as _demo

    return _demo(**kwargs)


__all__ = [
    "PROFILES",
    "BleSource",
    "BluetoothUnavailable",
    "DeviceBusy",
    "FoundDevice",
    "Frame",
    "Placement",
    "Profile",
    "ProfileMismatch",
    "StartFailed",
    "Timeline",
    "demo_ble_peripheral",
    "scan",
]
