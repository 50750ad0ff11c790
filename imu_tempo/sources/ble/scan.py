"""Find BLE wearables: ``imu-tempo scan`` and the device lookup behind ``live --ble``.

:func:`scan` lists what advertises nearby, each device marked with the profile that fits it.
:func:`find_device` looks one device up by name or address and, when it is not there, says
what *was* found.  Both run on the event loop and turn the platform's "no Bluetooth" errors
into one clear :class:`~imu_tempo.errors.SourceError`.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import Any

from ...errors import SourceError, SourceNotFound
from .profiles import guess_profile


@dataclass(frozen=True, slots=True)
class FoundDevice:
    """One advertising device.

    Attributes
    ----------
    name : str or None
        Advertised local name.
    address : str
        Bluetooth address (a UUID on macOS).
    rssi : int
        Signal strength in dBm (closer to 0 is nearer).
    profile : str or None
        Name of the imu-tempo profile that fits the advertisement, if any.
    service_uuids : tuple of str
        Advertised service UUIDs (lowercase).
    """

    name: str | None
    address: str
    rssi: int
    profile: str | None
    service_uuids: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.name or '(no name)'} [{self.address}]"


class BluetoothUnavailable(SourceError):
    """No usable Bluetooth adapter: none present, powered off, no permission, or no BlueZ."""


def bluetooth_unavailable(exc: BaseException) -> BluetoothUnavailable | None:
    """Translate a backend error meaning "there is no usable Bluetooth" into a clear error.

    Returns None for any other error (the caller re-raises it unchanged).
    """
    from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDBusError

    hint = "Or try the simulated wearable: `imu-tempo live --demo ble`."
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            what = "Bluetooth is turned off. Turn it on (system settings, or `bluetoothctl power on`) and try again."
        elif reason == BleakBluetoothNotAvailableReason.NO_BLUETOOTH:
            what = "no Bluetooth adapter was found. Plug in a Bluetooth LE adapter (or enable the built-in one)."
        elif reason == BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE:
            what = "the Bluetooth adapter cannot act as a BLE central (classic-only adapter?). Use a BLE 4.0+ adapter."
        elif reason in (
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        ):
            what = "this program is not allowed to use Bluetooth. Grant the permission (system settings) and retry."
        else:
            what = f"Bluetooth is not available ({exc.args[0]})."
        return BluetoothUnavailable(f"{what} {hint}")
    if isinstance(exc, BleakDBusError) and "ServiceUnknown" in exc.dbus_error:
        return BluetoothUnavailable(
            f"the Bluetooth service (bluetoothd) is not running. Start it (`systemctl start bluetooth`). {hint}"
        )
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError)) and not isinstance(exc, SourceError):
        # bleak's BlueZ backend: no D-Bus system bus socket (containers, minimal systems).
        return BluetoothUnavailable(
            f"cannot reach the system's Bluetooth service (no D-Bus system bus: {exc}). "
            f"Run on a machine with Bluetooth and BlueZ. {hint}"
        )
    return None


async def scan(*, timeout_s: float, backend: type | None = None, **backend_kwargs: Any) -> list[FoundDevice]:
    """List nearby BLE devices for ``timeout_s`` seconds, each marked with the profile that fits.

    Parameters
    ----------
    timeout_s : float
        How long to listen (seconds); 5 s catches devices advertising every second or faster.
    backend : type, optional
        A bleak scanner backend class (``BaseBleakScanner`` subclass); None uses the platform's.
    **backend_kwargs
        Passed to the backend (the simulated link for tests and demos).

    Returns
    -------
    list of FoundDevice
        Devices with a fitting profile first, then by signal strength.

    Raises
    ------
    BluetoothUnavailable
        No adapter, Bluetooth off, no permission, no BlueZ.
    """
    if not (timeout_s > 0):
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    from bleak import BleakScanner

    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, backend=backend, **backend_kwargs)
    except Exception as exc:
        if (mapped := bluetooth_unavailable(exc)) is not None:
            raise mapped from exc
        raise
    devices = [_found(dev, adv) for dev, adv in found.values()]
    return sorted(devices, key=lambda d: (d.profile is None, -d.rssi, d.name or "", d.address))


def _found(dev: Any, adv: Any) -> FoundDevice:
    name = adv.local_name or dev.name
    uuids = tuple(u.lower() for u in adv.service_uuids)
    profile = guess_profile(name=name, service_uuids=uuids)
    return FoundDevice(name=name, address=dev.address, rssi=int(adv.rssi), profile=profile.name if profile else None,
                       service_uuids=uuids)


def matches(name_or_address: str, *, name: str | None, address: str) -> bool:
    """Does a device with ``name``/``address`` answer to ``name_or_address``? (case-insensitive, exact)"""
    want = name_or_address.strip().lower()
    return want == address.lower() or (name is not None and want == name.strip().lower())


async def find_device(
    name_or_address: str,
    *,
    timeout_s: float,
    backend: type | None = None,
    **backend_kwargs: Any,
) -> tuple[Any, FoundDevice]:
    """Scan until the device named ``name_or_address`` advertises; return its ``BLEDevice``.

    An exact (case-insensitive) name or address match stops the scan at once.  When the scan
    ends without one, a single device whose name *contains* the text is accepted.

    Raises
    ------
    SourceNotFound
        Nothing matched; the message lists what was found and the usual reasons.
    BluetoothUnavailable
        No usable Bluetooth.
    """
    from bleak import BleakScanner

    seen: dict[str, tuple[Any, Any]] = {}
    hit: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()

    def on_adv(device: Any, adv: Any) -> None:
        seen[device.address] = (device, adv)
        if not hit.done() and matches(name_or_address, name=adv.local_name or device.name, address=device.address):
            hit.set_result((device, adv))

    try:
        async with BleakScanner(on_adv, backend=backend, **backend_kwargs):
            try:
                async with asyncio.timeout(timeout_s):
                    device, adv = await asyncio.shield(hit)
                    return device, _found(device, adv)
            except TimeoutError:
                pass
    except SourceError:
        raise
    except Exception as exc:
        if (mapped := bluetooth_unavailable(exc)) is not None:
            raise mapped from exc
        raise
    want = name_or_address.strip().lower()
    partial = [(d, a) for d, a in seen.values() if want in ((a.local_name or d.name) or "").lower()]
    if len(partial) == 1:
        return partial[0][0], _found(*partial[0])
    raise SourceNotFound(not_found_message(name_or_address, [_found(d, a) for d, a in seen.values()], timeout_s))


def not_found_message(name_or_address: str, found: list[FoundDevice], timeout_s: float) -> str:
    """The message for a device that did not show up, listing what did."""
    lines = [f"BLE device {name_or_address!r} not found (scanned {timeout_s:g} s)."]
    if found:
        ordered = sorted(found, key=lambda d: (d.profile is None, -d.rssi))
        lines.append("Found instead:")
        for d in ordered[:12]:
            fit = f"profile {d.profile}" if d.profile else "no imu-tempo profile"
            lines.append(f"  {d.label()}  {d.rssi} dBm  ({fit})")
        if len(ordered) > 12:
            lines.append(f"  ... and {len(ordered) - 12} more (`imu-tempo scan` lists all)")
    else:
        lines.append("Nothing was advertising.")
    lines.append(
        "Check that the sensor is on and close by, and that it is not connected to another phone or app "
        "(Polar Flow/Beat, a second imu-tempo): most sensors stop advertising while connected."
    )
    return "\n".join(lines)


# -- command line (`imu-tempo scan`) -----------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout-s", type=float, default=5.0, help="how long to listen (default 5 s)")
    parser.add_argument("--all", action="store_true", help="also list devices no imu-tempo profile fits")
    parser.add_argument(
        "--demo", action="store_true",
        help="scan simulated wearables (one per profile) instead of the radio; needs imu-tempo[sim]",
    )


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    if args.demo:
        from ...sim_ble import demo_scan_targets

        async with demo_scan_targets() as target:
            devices = await scan(timeout_s=min(args.timeout_s, 1.0), backend=target.scanner_backend,
                                 **target.backend_kwargs)
    else:
        devices = await scan(timeout_s=args.timeout_s)
    shown = [d for d in devices if args.all or d.profile]
    if not shown:
        hidden = len(devices)
        print(f"no wearable with an imu-tempo profile found ({hidden} other BLE device(s); --all lists them)")
        return 1
    width = max(len(d.name or "(no name)") for d in shown)
    print(f"{'NAME':<{width}}  {'ADDRESS':<17}  {'RSSI':>5}  PROFILE")
    for d in shown:
        print(f"{d.name or '(no name)':<{width}}  {d.address:<17}  {d.rssi:>5}  {d.profile or '-'}")
    return 0
