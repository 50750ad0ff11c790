"""Movesense sensors running the "GATT SensorData" sample app (``gatt_sensordata_app``).

Protocol (read from the app's ``GATTSensorDataClient.cpp`` and its Python client, mirrored in
JonasPrimbs/movesense-ble-ecg-firmware; details and what stays unverified in
``firmware_notes/ble.md``):

* Service ``34802252-7185-4d5d-b431-630e7050e8f0``; command ``34800001-…`` (write),
  data ``34800002-…`` (notify).
* Command: ``[cmd][client reference ≠ 0][ASCII resource path]``: 0 = HELLO (answered
  ``[1][ref]"Hello"``), 1 = SUBSCRIBE (``/Meas/Acc/104``), 2 = UNSUBSCRIBE (reference only).
  The app answers a failed subscribe with ``[1][ref][status u16]`` (507 = no free slot is sent as
  ``01 FB``, i.e. big-endian); success is not acknowledged: the data simply starts.
* Data: ``[2][ref][u32 LE timestamp, ms, sensor clock][N × (x, y, z) float32 LE]``, N =
  (len − 6) / 12 for ``/Meas/Acc``.  The timestamp is that of the **first** sample (Movesense
  API: "local timestamp of first measurement"); acceleration is in m/s^2.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import numpy as np

from ....errors import PacketDecodeError
from .base import (
    ControlCallback,
    Decoder,
    DeviceBusy,
    Frame,
    NotifyCallback,
    Profile,
    StartFailed,
    Stream,
    pick_rate,
)

if TYPE_CHECKING:  # pragma: no cover
    from bleak import BleakClient

GSP_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
GSP_COMMAND = "34800001-7185-4d5d-b431-630e7050e8f0"
GSP_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"

CMD_HELLO, CMD_SUBSCRIBE, CMD_UNSUBSCRIBE = 0, 1, 2
RESULT, DATA = 1, 2
#: Accelerometer rates of the Movesense API (``/Meas/Acc/{SampleRate}``).
ACC_RATES_HZ = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)
#: Client reference used for our subscription (any non-zero byte).
CLIENT_REF = 0x63
_WAIT_S = 3.0


class MovesenseAccDecoder(Decoder):
    """``/Meas/Acc`` data notifications → :class:`Frame` (first-sample time, u32 ms)."""

    def __init__(self, *, fs_hz: float, reference: int = CLIENT_REF) -> None:
        self.fs_hz = float(fs_hz)
        self.reference = reference

    def decode(self, data: bytes) -> Frame | None:
        if len(data) < 2:
            raise PacketDecodeError(f"Movesense notification of {len(data)} bytes has no header")
        kind, ref = data[0], data[1]
        if kind == RESULT or ref != self.reference:
            return None  # command results are handled by the start sequence
        if kind != DATA:
            raise PacketDecodeError(f"Movesense notification of unknown type {kind}: {data[:8].hex(' ')}")
        body = len(data) - 6
        if body < 0 or body % 12:
            raise PacketDecodeError(
                f"Movesense /Meas/Acc notification of {len(data)} bytes is not a header plus whole "
                "x,y,z float32 samples (notification truncated?)"
            )
        n = body // 12
        if n == 0:
            return None
        ts_ms = int.from_bytes(data[2:6], "little")
        xyz = np.frombuffer(data, dtype="<f4", count=n * 3, offset=6).astype(np.float64).reshape(n, 3)
        if not np.all(np.isfinite(xyz)):
            raise PacketDecodeError("Movesense /Meas/Acc notification holds non-finite values")
        return Frame(accel=xyz, gyro=None, t_ref=ts_ms / 1000.0, ref="first", t_wrap_s=2**32 / 1000.0)


class MovesenseProfile(Profile):
    name = "movesense"
    title = "Movesense (GATT SensorData app)"
    service_uuid = GSP_SERVICE
    name_prefixes = ("Movesense",)

    async def start(
        self,
        client: BleakClient,
        *,
        fs_hz: float | None,
        on_data: NotifyCallback,
        on_control: ControlCallback,
    ) -> Stream:
        device = client.address
        rate = pick_rate(ACC_RATES_HZ, fs_hz, device=f"Movesense {device}")
        results: asyncio.Queue[bytes] = asyncio.Queue()
        first_data = asyncio.Event()

        def on_notify(_char: object, payload: bytearray) -> None:
            raw = bytes(payload)
            if raw[:1] == bytes([RESULT]):
                if first_data.is_set() and len(raw) >= 4 and raw[1] == CLIENT_REF:
                    status = int.from_bytes(raw[2:4], "big")
                    if status >= 400:
                        on_control("stopped", f"{device} ended the subscription (status {status})")
                results.put_nowait(raw)
                return
            first_data.set()
            on_data(raw)

        await client.start_notify(GSP_DATA, on_notify)
        # HELLO proves the GATT SensorData app is running before we ask for data.
        await client.write_gatt_char(GSP_COMMAND, bytes([CMD_HELLO, CLIENT_REF]), response=True)
        hello = await _wait_result(results, device=device, what="HELLO")
        if hello[2:7] != b"Hello":
            raise StartFailed(f"{device} answered HELLO with {hello.hex(' ')}, not 'Hello'")
        path = f"/Meas/Acc/{int(rate)}"
        await client.write_gatt_char(
            GSP_COMMAND, bytes([CMD_SUBSCRIBE, CLIENT_REF]) + path.encode("ascii"), response=True
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _WAIT_S
        while not first_data.is_set() and loop.time() < deadline:
            try:
                async with asyncio.timeout(0.05):
                    reply = await results.get()
            except TimeoutError:
                continue
            if len(reply) < 2 or reply[1] != CLIENT_REF:
                continue
            status = int.from_bytes(reply[2:4], "big") if len(reply) >= 4 else -1
            if status == 507:
                raise DeviceBusy(
                    f"{device} has no free subscription slot (status 507): another app is streaming "
                    "from it. Disconnect it there or power-cycle the sensor."
                )
            raise StartFailed(f"{device} refused SUBSCRIBE {path} (status {status})")
        if not first_data.is_set():
            raise StartFailed(
                f"{device} accepted SUBSCRIBE {path} but sent no data within {_WAIT_S:g} s"
            )
        return Stream(
            decoder=MovesenseAccDecoder(fs_hz=rate),
            fs_hz=rate,
            description=f"Movesense {path}",
            gyro=False,
            details={"path": path},
        )

    async def stop(self, client: BleakClient, stream: Stream) -> None:
        await client.write_gatt_char(GSP_COMMAND, bytes([CMD_UNSUBSCRIBE, CLIENT_REF]), response=True)
        await client.stop_notify(GSP_DATA)


async def _wait_result(results: asyncio.Queue[bytes], *, device: str, what: str) -> bytes:
    try:
        async with asyncio.timeout(_WAIT_S):
            while True:
                raw = await results.get()
                if len(raw) >= 2 and raw[1] == CLIENT_REF:
                    return raw
    except TimeoutError:
        raise StartFailed(
            f"{device} did not answer {what} within {_WAIT_S:g} s: is the GATT SensorData app "
            "(gatt_sensordata_app) in its firmware?"
        ) from None
