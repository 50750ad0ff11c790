"""Polar Measurement Data (PMD): accelerometer of the Polar H10, OH1 and Verity Sense.

Protocol (checked against Polar's own Android SDK, polarofficial/polar-ble-sdk, files
``BlePMDClient.kt``, ``PmdDataFrame.kt``, ``PmdSetting.kt``, ``PmdControlPointResponse.kt``,
``model/AccData.kt`` and ``model/PmdTimeStampUtils.kt``; details in ``firmware_notes/ble.md``):

* Control point ``fb005c81-…`` (read, write, **indicate**) and data ``fb005c82-…`` (notify).
  Both are enabled before any command.
* Command: ``[op][measurement type | recording bit7][settings…]``; op 1 = get settings,
  2 = start, 3 = stop; ACC is type 2.  Settings are ``[type][count][value × count]`` with
  little-endian values: sample rate, resolution, range u16; range-milliunit u32; channels u8;
  factor u32 (IEEE-754 float bits, only in the start response).
* Response (indication): ``[0xF0][op][type][status][more][params…]``; every continuation
  indication repeats the 5-byte header.  A control-point indication that does not start
  with ``0xF0`` is a device-initiated command: ``0x01`` = the device stopped a stream.
* Data notification: ``[type][u64 LE timestamp ns since 2000-01-01 of the LAST sample]
  [frame type: bit7 = delta-compressed][payload]``.  ACC raw types 0/1/2 are x,y,z signed
  little-endian ints of 1/2/3 bytes in mG (the H10 sends type 1).  Compressed type 1
  (``0x81``) is mG × factor; compressed type 0 (``0x80``) is g × factor.

Samples are converted to m/s^2 (1 mG = 9.80665e-3 m/s^2).  Gyro is not requested (the
Verity Sense has one, on a separate measurement stream): ``gyro`` is ``None``.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ....errors import PacketDecodeError
from .base import (
    G_MPS2,
    ControlCallback,
    Decoder,
    DeviceBusy,
    Frame,
    NotifyCallback,
    Profile,
    ProfileMismatch,
    StartFailed,
    Stream,
    pick_rate,
)

if TYPE_CHECKING:  # pragma: no cover
    from bleak import BleakClient

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
HEART_RATE_SERVICE = "0000180d-0000-1000-8000-00805f9b34fb"

#: Seconds from the Unix epoch to the Polar epoch (2000-01-01T00:00:00Z).
POLAR_EPOCH_UNIX_S = 946_684_800

# Measurement types (low 6 bits of the type byte) and feature bits (control-point read, byte 1).
MEAS_ECG, MEAS_PPG, MEAS_ACC, MEAS_PPI, MEAS_GYRO, MEAS_MAG = 0, 1, 2, 3, 5, 6
FEATURE_ACC_BIT = 0x04

OP_GET_SETTINGS, OP_START, OP_STOP = 0x01, 0x02, 0x03
RESPONSE_CODE = 0xF0
DEVICE_STOPPED_MEASUREMENT = 0x01

SETTING_SAMPLE_RATE, SETTING_RESOLUTION, SETTING_RANGE = 0, 1, 2
SETTING_RANGE_MILLIUNIT, SETTING_CHANNELS, SETTING_FACTOR = 3, 4, 5
_SETTING_WIDTH = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}

STATUS_TEXT = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU",
    11: "invalid number of channels",
    12: "invalid state",
    13: "device in charger",
    14: "disk full",
}

_MG_TO_MPS2 = G_MPS2 / 1000.0
_RESPONSE_TIMEOUT_S = 5.0


# --------------------------------------------------------------------------------------------
# Pure codec functions (also used by the simulated sensor's tests as the reference reader)


def parse_settings(data: bytes) -> dict[int, list[int]]:
    """Parse a settings block ``[type][count][value × count]…`` into ``{type: [values]}``."""
    out: dict[int, list[int]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data):
            raise PacketDecodeError(f"PMD settings: truncated header at byte {i} of {data.hex(' ')}")
        kind, count = data[i], data[i + 1]
        i += 2
        width = _SETTING_WIDTH.get(kind)
        if width is None:
            raise PacketDecodeError(f"PMD settings: unknown setting type {kind} in {data.hex(' ')}")
        values = []
        for _ in range(count):
            if i + width > len(data):
                raise PacketDecodeError(f"PMD settings: truncated value of type {kind} in {data.hex(' ')}")
            values.append(int.from_bytes(data[i : i + width], "little"))
            i += width
        out[kind] = values
    return out


def serialize_settings(selected: dict[int, int]) -> bytes:
    """Serialize chosen settings ``{type: value}`` as ``[type][1][value]``, in type order (no FACTOR)."""
    out = bytearray()
    for kind in sorted(selected):
        if kind == SETTING_FACTOR:
            continue
        out += bytes([kind, 1]) + int(selected[kind]).to_bytes(_SETTING_WIDTH[kind], "little")
    return bytes(out)


def factor_from_bits(bits: int) -> float:
    """The FACTOR setting: the IEEE-754 float32 whose bit pattern is ``bits``."""
    return struct.unpack("<f", int(bits).to_bytes(4, "little"))[0]


@dataclass(frozen=True, slots=True)
class ControlResponse:
    op: int
    measurement: int
    status: int
    more: bool
    params: bytes

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, f"status {self.status}")


def parse_control_response(data: bytes) -> ControlResponse:
    """Parse a control-point response ``[0xF0][op][type][status][more][params…]``."""
    if len(data) < 4 or data[0] != RESPONSE_CODE:
        raise PacketDecodeError(f"not a PMD control-point response: {bytes(data).hex(' ')}")
    status = data[3]
    more = status == 0 and len(data) > 4 and data[4] != 0
    params = bytes(data[5:]) if status == 0 and len(data) > 5 else b""
    return ControlResponse(op=data[1], measurement=data[2], status=status, more=more, params=params)


def decode_delta_frames(payload: bytes, *, channels: int, resolution_bits: int) -> np.ndarray:
    """Decode a PMD delta-compressed payload into integer samples, shape (n, channels).

    Layout: a reference sample (``channels`` signed little-endian ints of
    ``ceil(resolution/8)`` bytes), then blocks ``[bit_width][count][packed bits]``: each block
    holds ``count × channels`` two's-complement deltas of ``bit_width`` bits, read LSB-first
    within each byte, bytes in order; each delta sample adds to the previous sample.
    """
    width_bytes = (resolution_bits + 7) // 8
    ref_len = channels * width_bytes
    if len(payload) < ref_len:
        raise PacketDecodeError(
            f"PMD delta frame of {len(payload)} bytes is shorter than its reference sample ({ref_len} bytes)"
        )
    ref = [
        _signed(int.from_bytes(payload[c * width_bytes : (c + 1) * width_bytes], "little"), resolution_bits)
        for c in range(channels)
    ]
    rows: list[np.ndarray] = [np.asarray(ref, dtype=np.int64).reshape(1, channels)]
    i = ref_len
    last = rows[0][0].copy()
    while i < len(payload):
        if i + 2 > len(payload):
            raise PacketDecodeError(f"PMD delta frame: block header cut at byte {i} of {len(payload)}")
        bit_width, count = payload[i], payload[i + 1]
        i += 2
        nbits = bit_width * count * channels
        nbytes = (nbits + 7) // 8
        if i + nbytes > len(payload):
            raise PacketDecodeError(
                f"PMD delta frame: block of {count} samples × {bit_width} bits needs {nbytes} bytes, "
                f"only {len(payload) - i} left (notification truncated?)"
            )
        if bit_width == 0 or count == 0:
            i += nbytes
            continue
        bits = np.unpackbits(np.frombuffer(payload[i : i + nbytes], dtype=np.uint8), bitorder="little")[:nbits]
        fields = bits.reshape(count * channels, bit_width).astype(np.int64)
        values = fields @ (np.int64(1) << np.arange(bit_width, dtype=np.int64))
        values = np.where(values >= (1 << (bit_width - 1)), values - (1 << bit_width), values)
        deltas = values.reshape(count, channels)
        block = last + np.cumsum(deltas, axis=0)
        rows.append(block)
        last = block[-1].copy()
        i += nbytes
    return np.concatenate(rows, axis=0)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


@dataclass(frozen=True, slots=True)
class DataFrame:
    measurement: int
    timestamp_ns: int
    frame_type: int
    compressed: bool
    content: bytes


def parse_data_frame(data: bytes) -> DataFrame:
    """Split a PMD data notification into its header fields and payload."""
    if len(data) < 10:
        raise PacketDecodeError(f"PMD data notification of {len(data)} bytes is shorter than its 10-byte header")
    return DataFrame(
        measurement=data[0] & 0x3F,
        timestamp_ns=int.from_bytes(data[1:9], "little"),
        frame_type=data[9] & 0x7F,
        compressed=bool(data[9] & 0x80),
        content=bytes(data[10:]),
    )


def decode_acc_mg(frame: DataFrame, *, factor: float) -> np.ndarray:
    """ACC payload → samples in mG, shape (n, 3), following the SDK's ``AccData`` rules."""
    if frame.compressed:
        if frame.frame_type == 0:
            raw = decode_delta_frames(frame.content, channels=3, resolution_bits=16)
            return raw * (factor * 1000.0)  # type 0 compressed arrives in g
        if frame.frame_type == 1:
            raw = decode_delta_frames(frame.content, channels=3, resolution_bits=16)
            return raw * factor if factor != 1.0 else raw.astype(np.float64)
        raise PacketDecodeError(f"PMD ACC: compressed frame type {frame.frame_type} is not supported")
    width = {0: 1, 1: 2, 2: 3}.get(frame.frame_type)
    if width is None:
        raise PacketDecodeError(f"PMD ACC: raw frame type {frame.frame_type} is not supported")
    step = 3 * width
    if len(frame.content) % step:
        raise PacketDecodeError(
            f"PMD ACC raw type {frame.frame_type}: payload of {len(frame.content)} bytes is not whole "
            f"samples of {step} bytes (notification truncated?)"
        )
    n = len(frame.content) // step
    if width == 2:
        return np.frombuffer(frame.content, dtype="<i2").astype(np.float64).reshape(n, 3)
    if width == 1:
        return np.frombuffer(frame.content, dtype="i1").astype(np.float64).reshape(n, 3)
    b = np.frombuffer(frame.content, dtype=np.uint8).reshape(n * 3, 3).astype(np.int64)
    v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
    v = np.where(v >= 1 << 23, v - (1 << 24), v)
    return v.astype(np.float64).reshape(n, 3)


class PolarAccDecoder(Decoder):
    """Data notifications of the ACC measurement → :class:`Frame` (m/s^2, last-sample time)."""

    def __init__(self, *, fs_hz: float, factor: float = 1.0) -> None:
        self.fs_hz = float(fs_hz)
        self.factor = float(factor)

    def decode(self, data: bytes) -> Frame | None:
        frame = parse_data_frame(data)
        if frame.measurement != MEAS_ACC:
            return None  # another stream this app did not start; not ours to judge
        mg = decode_acc_mg(frame, factor=self.factor)
        if mg.shape[0] == 0:
            return None
        return Frame(
            accel=mg * _MG_TO_MPS2,
            gyro=None,
            t_ref=frame.timestamp_ns * 1e-9,
            ref="last",
        )


# --------------------------------------------------------------------------------------------
# The start / stop sequence


class PolarProfile(Profile):
    name = "polar"
    title = "Polar Measurement Data (H10, OH1, Verity Sense)"
    service_uuid = PMD_SERVICE
    name_prefixes = ("Polar ",)

    async def start(
        self,
        client: BleakClient,
        *,
        fs_hz: float | None,
        on_data: NotifyCallback,
        on_control: ControlCallback,
    ) -> Stream:
        device = client.name if _has_name(client) else client.address
        responses: asyncio.Queue[bytes] = asyncio.Queue()

        def on_cp(_char: object, data: bytearray) -> None:
            raw = bytes(data)
            if raw and raw[0] == RESPONSE_CODE:
                responses.put_nowait(raw)
            elif raw and raw[0] == DEVICE_STOPPED_MEASUREMENT and MEAS_ACC in raw[1:]:
                on_control("stopped", f"{device} stopped the accelerometer stream")

        # Both must be on before any command (the SDK refuses otherwise).
        await client.start_notify(PMD_CP, on_cp)
        await client.start_notify(PMD_DATA, lambda _c, d: on_data(bytes(d)))

        features = bytes(await client.read_gatt_char(PMD_CP))
        if len(features) >= 2 and features[0] == 0x0F and not features[1] & FEATURE_ACC_BIT:
            raise ProfileMismatch(
                f"{device} has the Polar PMD service but no accelerometer stream "
                f"(feature bytes {features.hex(' ')}); imu-tempo needs ACC"
            )

        query = await _command(client, responses, OP_GET_SETTINGS, bytes([MEAS_ACC]), device=device)
        offered = parse_settings(query.params)
        rate = pick_rate(offered.get(SETTING_SAMPLE_RATE, []), fs_hz, device=device)
        selected = {SETTING_SAMPLE_RATE: int(rate)}
        for kind, values in offered.items():
            if kind not in (SETTING_SAMPLE_RATE, SETTING_FACTOR) and values:
                selected[kind] = max(values)  # widest range, finest resolution, all channels
        started = await _command(
            client, responses, OP_START, bytes([MEAS_ACC]) + serialize_settings(selected), device=device
        )
        reply = parse_settings(started.params) if started.params else {}
        factor = factor_from_bits(reply[SETTING_FACTOR][0]) if reply.get(SETTING_FACTOR) else 1.0
        desc = f"Polar PMD ACC {rate:g} Hz"
        if SETTING_RANGE in selected:
            desc += f", ±{selected[SETTING_RANGE]} g"
        if factor != 1.0:
            desc += f", factor {factor:.6g}"
        return Stream(
            decoder=PolarAccDecoder(fs_hz=rate, factor=factor),
            fs_hz=rate,
            description=desc,
            gyro=False,
            details={"settings": selected, "factor": factor, "features": features.hex(" ")},
        )

    async def stop(self, client: BleakClient, stream: Stream) -> None:
        await client.write_gatt_char(PMD_CP, bytes([OP_STOP, MEAS_ACC]), response=True)
        await client.stop_notify(PMD_DATA)
        await client.stop_notify(PMD_CP)


async def _command(
    client: BleakClient, responses: asyncio.Queue[bytes], op: int, params: bytes, *, device: str
) -> ControlResponse:
    """Write one control-point command and collect its (possibly multi-part) response."""
    await client.write_gatt_char(PMD_CP, bytes([op]) + params, response=True)
    first = await _next_response(responses, op, device=device)
    if first.status != 0:
        _raise_status(first, device=device)
    params_all = bytearray(first.params)
    more = first.more
    while more:
        part = await _next_response(responses, op, device=device)
        params_all += part.params
        more = part.more
    return ControlResponse(first.op, first.measurement, first.status, False, bytes(params_all))


async def _next_response(responses: asyncio.Queue[bytes], op: int, *, device: str) -> ControlResponse:
    try:
        async with asyncio.timeout(_RESPONSE_TIMEOUT_S):
            while True:
                resp = parse_control_response(await responses.get())
                if resp.op == op:
                    return resp
    except TimeoutError:
        raise StartFailed(
            f"{device} did not answer PMD command 0x{op:02x} within {_RESPONSE_TIMEOUT_S:g} s "
            "(control-point indications not delivered?)"
        ) from None


def _raise_status(resp: ControlResponse, *, device: str) -> None:
    what = {OP_GET_SETTINGS: "the settings query", OP_START: "start", OP_STOP: "stop"}.get(resp.op, "a command")
    base = f"{device} refused {what} for the accelerometer: {resp.status_text} (PMD status {resp.status})"
    if resp.status in (6, 12):
        raise DeviceBusy(
            f"{base}. The sensor is busy: another app or phone is probably streaming from it "
            "(Polar Flow, Polar Beat, a second imu-tempo). Stop it there, or power-cycle the sensor."
        )
    if resp.status == 13:
        raise StartFailed(f"{base}. Take the sensor out of its charger.")
    if resp.status == 10:
        raise StartFailed(f"{base}. The Bluetooth link negotiated too small an MTU for PMD frames.")
    if resp.status in (2, 3):
        raise ProfileMismatch(f"{base}. This Polar device has no accelerometer stream.")
    raise StartFailed(base)


def _has_name(client: BleakClient) -> bool:
    try:
        return bool(client.name)
    except (NotImplementedError, AttributeError):  # some backends do not know the name
        return False
