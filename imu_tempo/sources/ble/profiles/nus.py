"""Our own firmware over the Nordic UART Service (NUS): one wire frame per notification.

The frames are exactly those of the serial link (:mod:`imu_tempo.sources.wire`,
``firmware_notes/packet_format.md``) without COBS: the notification boundary delimits the
packet, the CRC-16 stays.  ``0x01`` header frames announce the rate, channel count and
scales; ``0x02`` samples frames carry ``seq u16``, ``t0_us u32`` (device time of the
**first** sample) and ``n`` rows of int16 counts.

Start/stop sequence (documented in ``firmware_notes/ble.md``):

1. enable notifications on TX (``6e400003-…``);
2. write ``start\\n`` to RX (``6e400002-…``); the firmware answers with a header frame
   right away (and every second), then streams samples frames;
3. to stop, write ``stop\\n`` and disable notifications.

The start sequence waits for the header (3 s) so that every samples frame can be scaled.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING

from ....errors import PacketDecodeError
from ... import wire as _wire
from .base import (
    G_MPS2,
    ControlCallback,
    Decoder,
    Frame,
    NotifyCallback,
    Profile,
    StartFailed,
    Stream,
)

if TYPE_CHECKING:  # pragma: no cover
    from bleak import BleakClient

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"  # host -> device (write)
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"  # device -> host (notify)
START_COMMAND = b"start\n"
STOP_COMMAND = b"stop\n"
_HEADER_WAIT_S = 3.0
_DEG = math.pi / 180.0


class NusDecoder(Decoder):
    """Wire frames (one per notification) → :class:`Frame` (first-sample time, u32 µs, u16 seq)."""

    def __init__(self, header: _wire.HeaderFrame) -> None:
        self.header = header
        self.fs_hz = float(header.fs_hz)

    def decode(self, data: bytes) -> Frame | None:
        frame = _wire.decode_frame(data)
        if isinstance(frame, _wire.HeaderFrame):
            if frame.channels != self.header.channels or frame.fs_hz != self.header.fs_hz:
                raise PacketDecodeError(
                    f"the firmware changed its stream from {self.header.channels} channels at "
                    f"{self.header.fs_hz:g} Hz to {frame.channels} channels at {frame.fs_hz:g} Hz mid-session"
                )
            self.header = frame
            return None
        if not isinstance(frame, _wire.SamplesFrame):
            return None  # text frames: firmware log lines
        h = self.header
        counts = frame.samples.astype("float64")
        if counts.shape[1] != h.channels:
            raise PacketDecodeError(
                f"samples frame seq {frame.seq} has {counts.shape[1]} channels; the header announced {h.channels}"
            )
        accel = counts[:, 0:3] * (h.accel_g_per_lsb * G_MPS2)
        gyro = counts[:, 3:6] * (h.gyro_dps_per_lsb * _DEG) if h.channels == 6 else None
        return Frame(
            accel=accel,
            gyro=gyro,
            t_ref=frame.t0_us / 1e6,
            ref="first",
            t_wrap_s=2**32 / 1e6,
            seq=frame.seq,
            seq_mod=65536,
        )


class NusProfile(Profile):
    name = "nus"
    title = "imu-tempo firmware over the Nordic UART Service"
    service_uuid = NUS_SERVICE
    name_prefixes = ()

    async def start(
        self,
        client: BleakClient,
        *,
        fs_hz: float | None,
        on_data: NotifyCallback,
        on_control: ControlCallback,
    ) -> Stream:
        device = client.address
        header: asyncio.Future[_wire.HeaderFrame] = asyncio.get_running_loop().create_future()

        def on_notify(_char: object, payload: bytearray) -> None:
            raw = bytes(payload)
            if not header.done() and raw[:1] == bytes([_wire.FRAME_HEADER]):
                try:
                    frame = _wire.decode_frame(raw)
                except PacketDecodeError as exc:
                    header.set_exception(exc)
                else:
                    if isinstance(frame, _wire.HeaderFrame):
                        header.set_result(frame)
            on_data(raw)

        await client.start_notify(NUS_TX, on_notify)
        await client.write_gatt_char(NUS_RX, START_COMMAND, response=True)
        try:
            async with asyncio.timeout(_HEADER_WAIT_S):
                h = await header
        except TimeoutError:
            raise StartFailed(
                f"{device} has the Nordic UART Service but sent no imu-tempo header frame within "
                f"{_HEADER_WAIT_S:g} s of '{START_COMMAND.decode().strip()}': not imu-tempo firmware, "
                "or firmware older than the BLE start command"
            ) from None
        except PacketDecodeError as exc:
            raise StartFailed(f"{device} sent a header frame that does not decode: {exc}") from exc
        if fs_hz is not None and abs(fs_hz - h.fs_hz) > 0.5:
            raise StartFailed(
                f"{device} streams at {h.fs_hz:g} Hz (set in its firmware); {fs_hz:g} Hz was asked for"
            )
        what = "accelerometer + gyroscope" if h.channels == 6 else "accelerometer"
        name = f" '{h.device_name}'" if h.device_name else ""
        return Stream(
            decoder=NusDecoder(h),
            fs_hz=float(h.fs_hz),
            description=f"imu-tempo firmware{name}, {what} at {h.fs_hz:g} Hz",
            gyro=h.channels == 6,
            details={"channels": h.channels, "accel_g_per_lsb": h.accel_g_per_lsb},
        )

    async def stop(self, client: BleakClient, stream: Stream) -> None:
        await client.write_gatt_char(NUS_RX, STOP_COMMAND, response=True)
        await client.stop_notify(NUS_TX)
