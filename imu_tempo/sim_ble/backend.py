"""A bleak backend on Bumble: real BLE host stacks talking over an in-process ``LocalLink``.

Each :class:`BumbleScanner` and :class:`BumbleClient` creates its own Bumble *central*
(controller + host + device) on the link it is given, so bleak's public API
(``BleakScanner(..., backend=BumbleScanner, link=link)``,
``BleakClient(device, backend=BumbleClient, link=link)``) drives a complete BLE host stack:
advertising reports, LE connection, ATT MTU exchange, GATT discovery, CCCD writes,
notifications, indications (with their confirmations), ATT errors and disconnection events.
Simulated wearables (:mod:`.peripherals`) are Bumble peripherals on the same link.

What the link does not model (connection-interval timing, radio loss) the peripherals emulate.
ATT itself is real: without an MTU exchange (``exchange_mtu=False``) notifications are cut to
``ATT_MTU - 3 = 20`` bytes exactly as on air.

Backend keyword arguments (given to ``BleakClient``/``BleakScanner`` and passed through):

``link`` (required)
    The :class:`bumble.link.LocalLink` (or a :class:`SimLink`) shared with the peripherals.
``exchange_mtu`` (client, default True), ``mtu`` (client, default 247)
    Whether and what to request in the ATT MTU exchange.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_str
from bumble import core, hci
from bumble.att import ATT_Error
from bumble.controller import Controller
from bumble.core import AdvertisingData
from bumble.device import Device, Peer
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

logger = logging.getLogger(__name__)

_central_numbers = itertools.count(1)
_PROPERTY_NAMES = {
    0x01: "broadcast",
    0x02: "read",
    0x04: "write-without-response",
    0x08: "write",
    0x10: "notify",
    0x20: "indicate",
    0x40: "authenticated-signed-writes",
    0x80: "extended-properties",
}


class SimLink:
    """A ``LocalLink`` plus the bookkeeping of one simulated radio neighbourhood."""

    def __init__(self) -> None:
        self.link = LocalLink()


def _link_of(kwargs: dict[str, Any]) -> LocalLink:
    link = kwargs.get("link")
    if isinstance(link, SimLink):
        return link.link
    if not isinstance(link, LocalLink):
        raise BleakError("the Bumble backend needs link=<bumble.link.LocalLink or SimLink> in its kwargs")
    return link


def uuid_str(uuid: core.UUID) -> str:
    """Bumble UUID → bleak's lowercase 128-bit string."""
    return normalize_uuid_str(uuid.to_hex_str("-"))


def new_device(link: LocalLink, *, name: str, address: str) -> tuple[Device, Controller]:
    """A Bumble device (controller + host) attached to ``link``."""
    controller = Controller(name, link=link, public_address=address)
    device = Device(name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller)))
    return device, controller


def _central_address() -> str:
    n = next(_central_numbers)
    return f"C0:00:00:{(n >> 16) & 0xFF:02X}:{(n >> 8) & 0xFF:02X}:{n & 0xFF:02X}"


async def _release(device: Device, controller: Controller, link: LocalLink) -> None:
    """Detach a central from the link (its host tasks end with it)."""
    try:
        await device.power_off()
    except Exception as exc:  # noqa: BLE001 - best effort during teardown
        logger.debug("power_off of %s failed: %s", device, exc)
    if controller in link.controllers:
        link.remove_controller(controller)


# ----------------------------------------------------------------------------------------------


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend: a Bumble central that reports advertisements on the link."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        bluez: Any = None,
        cb: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._link = _link_of(kwargs)
        self._device: Device | None = None
        self._controller: Controller | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._device, self._controller = new_device(self._link, name="imu-tempo-scanner", address=_central_address())
        self._device.on("advertisement", self._on_advertisement)
        await self._device.power_on()
        await self._device.start_scanning(filter_duplicates=False)

    async def stop(self) -> None:
        device, controller = self._device, self._controller
        self._device = self._controller = None
        if device is not None and controller is not None:
            try:
                await device.stop_scanning()
            finally:
                await _release(device, controller, self._link)

    def _on_advertisement(self, adv: Any) -> None:
        data = adv.data
        name_bytes = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(AdvertisingData.SHORTENED_LOCAL_NAME)
        name = name_bytes.decode("utf-8", errors="replace") if isinstance(name_bytes, bytes) else name_bytes
        uuids: list[str] = []
        for kind in (
            AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
            AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        ):
            for group in data.get_all(kind):
                for u in group if isinstance(group, list) else [group]:
                    s = uuid_str(u)
                    if s not in uuids:
                        uuids.append(s)
        if not self.is_allowed_uuid(uuids):
            return
        address = str(adv.address).split("/")[0]
        key = address
        previous = self.seen_devices.get(key)
        if previous is not None:  # merge scan responses into what we know
            old = previous[1]
            name = name or old.local_name
            uuids = list(dict.fromkeys([*old.service_uuids, *uuids]))
        adv_data = AdvertisementData(
            local_name=name,
            manufacturer_data={},
            service_data={},
            service_uuids=uuids,
            tx_power=None,
            rssi=int(adv.rssi),
            platform_data=(adv,),
        )
        device = self.create_or_update_device(key, address, name, adv.address, adv_data)
        self.call_detection_callbacks(device, adv_data)


# ----------------------------------------------------------------------------------------------


class BumbleClient(BaseBleakClient):
    """bleak client backend: a Bumble central that connects to a peripheral on the link."""

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Any,
        timeout: float = 10.0,
        exchange_mtu: bool = True,
        mtu: int = 247,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._link = _link_of(kwargs)
        if isinstance(address_or_ble_device, BLEDevice):
            details = address_or_ble_device.details
            self._peer_address = details if isinstance(details, hci.Address) else hci.Address(self.address)
            self._name = address_or_ble_device.name or self.address
        else:
            self._peer_address = hci.Address(address_or_ble_device)
            self._name = self.address
        self._exchange_mtu = exchange_mtu
        self._mtu_request = mtu
        self._device: Device | None = None
        self._controller: Controller | None = None
        self._connection: Any = None
        self._peer: Peer | None = None
        self._proxies: dict[int, Any] = {}
        self._subscribers: dict[int, Any] = {}
        self._closing = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def mtu_size(self) -> int:
        return int(self._connection.att_mtu) if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        timeout = float(kwargs.get("timeout", self._timeout))
        self._device, self._controller = new_device(self._link, name="imu-tempo-central", address=_central_address())
        await self._device.power_on()
        try:
            try:
                connection = await self._device.connect(self._peer_address, timeout=timeout)
            except core.TimeoutError as exc:
                raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found") from exc
            except hci.HCI_Error as exc:
                raise BleakError(f"connection to {self.address} failed: {exc}") from exc
            self._connection = connection
            connection.on("disconnection", self._on_disconnection)
            peer = Peer(connection)
            self._peer = peer
            if self._exchange_mtu:
                await peer.request_mtu(self._mtu_request)
            await peer.discover_all()
            self.services = self._collect_services(peer)
        except BaseException:
            await self._teardown()
            raise

    def _collect_services(self, peer: Peer) -> BleakGATTServiceCollection:
        services = BleakGATTServiceCollection()
        self._proxies = {}
        for svc in peer.services:
            bs = BleakGATTService(svc, svc.handle, uuid_str(svc.uuid))
            services.add_service(bs)
            for ch in svc.characteristics:
                props = [name for bit, name in _PROPERTY_NAMES.items() if int(ch.properties) & bit]
                bc = BleakGATTCharacteristic(
                    ch, ch.handle, uuid_str(ch.uuid), props, lambda: self.mtu_size - 3, bs
                )
                services.add_characteristic(bc)
                self._proxies[ch.handle] = ch
                for d in ch.descriptors:
                    services.add_descriptor(BleakGATTDescriptor(d, d.handle, uuid_str(d.type), bc))
                    self._proxies[d.handle] = d
        return services

    def _on_disconnection(self, reason: int) -> None:
        self._connection = None
        self._peer = None
        if not self._closing and self._disconnected_callback is not None:
            self._disconnected_callback()
        if not self._closing:
            asyncio.get_running_loop().create_task(self._teardown())

    async def _teardown(self) -> None:
        device, controller = self._device, self._controller
        self._device = self._controller = None
        if device is not None and controller is not None:
            await _release(device, controller, self._link)

    async def disconnect(self) -> None:
        self._closing = True
        connection = self._connection
        try:
            if connection is not None:
                try:
                    await connection.disconnect()
                except (hci.HCI_Error, core.BaseBumbleError) as exc:
                    logger.debug("disconnect: %s", exc)
        finally:
            self._connection = None
            self._peer = None
            await self._teardown()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("pairing is not simulated")

    async def unpair(self) -> None:
        raise NotImplementedError("pairing is not simulated")

    def _require(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False,
                             **kwargs: Any) -> bytearray:
        peer = self._require()
        try:
            return bytearray(await peer.read_value(self._proxies[characteristic.handle]))
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False,
                                   **kwargs: Any) -> bytearray:
        peer = self._require()
        try:
            return bytearray(await peer.read_value(descriptor.handle))
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        peer = self._require()
        try:
            await peer.write_value(self._proxies[characteristic.handle], bytes(data), with_response=response)
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        peer = self._require()
        try:
            await peer.write_value(descriptor.handle, bytes(data), with_response=True)
        except ATT_Error as exc:
            raise BleakGATTProtocolError(exc.error_code) from exc

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback,
                           **kwargs: Any) -> None:
        peer = self._require()
        proxy = self._proxies[characteristic.handle]

        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        # Notifications are preferred when a characteristic offers both (bleak's rule).
        await peer.subscribe(proxy, subscriber, prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require()
        proxy = self._proxies[characteristic.handle]
        await peer.unsubscribe(proxy, self._subscribers.pop(characteristic.handle, None))
