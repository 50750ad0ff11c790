"""Simulated BLE wearables that speak each profile's exact protocol, as Bumble peripherals.

Every simulated sensor is a real Bumble GATT server on a ``LocalLink``: it advertises
(20 ms interval, so scans and reconnects take milliseconds), accepts connections, answers
reads and writes, and notifies or indicates through ATT.  What the in-process link does not
do, the sensor emulates deliberately:

* **connection-interval batching**: data leaves only at connection events, every
  ``conn_interval_s`` of host time, several frames per event (``max_frames_per_event``);
* **lost packets**: ``drop_frames`` names frame numbers (0-based, counted from power-on)
  that the sensor builds but never sends, like an overflowing TX queue;
* **clock drift**: the sensor's timestamps run ``drift_ppm`` fast against its sample
  counter (and against the host), so timestamp spacing differs from the nominal rate;
* **disconnects on demand**: :meth:`SimPeripheral.drop_link` ends the link like a
  supervision timeout and can keep the sensor silent for ``away_s`` (out of range);
* **busy**: while ``max_connections`` centrals are connected the sensor stops advertising.

Samples come from a :class:`Motion` (any ``t_s, accel, gyro`` arrays; by default a
simulated session from :mod:`imu_tempo.simulate`) sampled at whatever rate the host starts the
stream at.  Time can run faster than real time (``speed``), which keeps tests short.

Device time of sample ``k`` (0 at power-on): ``clock_start_s + k (1 + drift_ppm 1e-6) / fs``.
It is produced at host time ``power_on + k / (fs speed)``.
"""

from __future__ import annotations

import asyncio
import math
import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from bumble import gatt, hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device

from ..sources import wire
from ..sources.ble.profiles import movesense as ms
from ..sources.ble.profiles import nus
from ..sources.ble.profiles import polar as pmd
from .backend import SimLink, new_device

G = 9.80665
_DEG = math.pi / 180.0
#: Seconds from 2000-01-01 to 2024-01-01: where the simulated Polar clock starts.
_POLAR_CLOCK_START_S = 757_382_400.0


# ---------------------------------------------------------------------------------------------
# Motion


@dataclass(frozen=True, eq=False)
class Motion:
    """Sensor motion to stream: ``accel`` (m/s^2) and ``gyro`` (rad/s) at times ``t_s``.

    :meth:`at` samples it at any times by linear interpolation; after the end the sensor
    rests (the last sample repeats), or the motion starts over when ``repeat`` is true.
    """

    t_s: np.ndarray
    accel: np.ndarray
    gyro: np.ndarray | None
    repeat: bool = False
    truth: Any = None

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0])

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        t = np.asarray(t, dtype=np.float64) + self.t_s[0]
        if self.repeat:
            span = self.duration_s + (self.t_s[1] - self.t_s[0])
            t = self.t_s[0] + np.mod(t - self.t_s[0], span)
        acc = np.column_stack([np.interp(t, self.t_s, self.accel[:, i]) for i in range(3)])
        gyr = None
        if self.gyro is not None:
            gyr = np.column_stack([np.interp(t, self.t_s, self.gyro[:, i]) for i in range(3)])
        return acc, gyr


def default_motion(*, exercise: str = "kettlebell_swing", sets: int = 1, reps: int | None = None,
                   seed: int = 0, repeat: bool = False, fs_hz: float = 200.0) -> Motion:
    """A simulated power set from :func:`imu_tempo.simulate.simulate_session` (sinusoid fallback)."""
    try:
        from ..simulate import simulate_session
    except ImportError:
        return sinusoid_motion(duration_s=12.0, rep_s=1.0, fs_hz=fs_hz, repeat=repeat)
    session = simulate_session(exercise=exercise, sets=sets, reps=reps, fs_hz=fs_hz, seed=seed, gyro=True)
    return Motion(t_s=np.asarray(session.t_s, dtype=float), accel=np.asarray(session.accel, dtype=float),
                  gyro=None if session.gyro is None else np.asarray(session.gyro, dtype=float),
                  repeat=repeat, truth=session)


def sinusoid_motion(*, duration_s: float, rep_s: float, fs_hz: float = 200.0, rest_s: float = 1.0,
                    amplitude_mps2: float = 12.0, repeat: bool = False) -> Motion:
    """Simple test motion: rest, then vertical oscillations of period ``rep_s``, then rest."""
    t = np.arange(0.0, duration_s, 1.0 / fs_hz)
    active = (t >= rest_s) & (t < duration_s - rest_s)
    phase = 2 * np.pi * (t - rest_s) / rep_s
    up = np.where(active, amplitude_mps2 * np.sin(phase), 0.0)
    accel = np.column_stack([0.3 * up, np.zeros_like(t), G + up])
    gyro = np.column_stack([np.where(active, 2.0 * np.cos(phase), 0.0), np.zeros_like(t), np.zeros_like(t)])
    return Motion(t_s=t, accel=accel, gyro=gyro, repeat=repeat)


# ---------------------------------------------------------------------------------------------
# The generic sensor


@dataclass
class SentLog:
    """What the sensor produced and what it did with it (for tests and the demo's status line)."""

    frames_sent: int = 0
    frames_dropped: int = 0
    samples_sent: int = 0
    sent_first_indices: list[int] = field(default_factory=list)
    sent_sizes: list[int] = field(default_factory=list)
    dropped_first_indices: list[int] = field(default_factory=list)
    notifications_sent: int = 0
    starts: int = 0


class SimPeripheral:
    """A simulated wearable on a Bumble link (see the module docstring).

    Parameters
    ----------
    link : SimLink
        The radio neighbourhood (shared with the central's backend).
    name : str
        Advertised local name.
    address : str
        Its (random static) address, ``"F0:00:00:00:00:01"``.
    motion : Motion
        What it measures.
    frame_samples : int
        Samples per notification frame.
    speed : float
        Time scale: 2.0 runs the device clock twice as fast as the host's.
    conn_interval_s : float
        Host time between connection events (7.5 ms ... 4 s on real links).
    max_frames_per_event : int
        Frames that fit in one connection event; the rest wait for the next.
    drift_ppm : float
        Device timestamps run this much fast against the sample counter.
    drop_frames : iterable of int
        Frame numbers built but never sent (0-based, counted from power-on).
    max_connections : int
        Centrals it accepts at once; while full it does not advertise.
    clock_start_s : float
        Device clock at power-on (e.g. just before a u32 wrap).
    advertising_interval_ms : float
        Advertising interval (20 ms: the fastest legal, keeps tests quick).
    motion_from_stream_start : bool
        Play the motion from its beginning when the (first) stream starts, instead of from
        power-on: makes what a test receives independent of how long connecting took.
    """

    service_uuid: ClassVar[str]
    offered_rates_hz: ClassVar[tuple[float, ...]] = (100.0,)

    def __init__(
        self,
        *,
        link: SimLink,
        name: str,
        address: str,
        motion: Motion,
        frame_samples: int = 10,
        speed: float = 1.0,
        conn_interval_s: float = 0.03,
        max_frames_per_event: int = 6,
        drift_ppm: float = 0.0,
        drop_frames: tuple[int, ...] | list[int] | set[int] = (),
        max_connections: int = 1,
        clock_start_s: float = 0.0,
        advertising_interval_ms: float = 20.0,
        motion_from_stream_start: bool = False,
    ) -> None:
        if speed <= 0 or frame_samples < 1 or conn_interval_s <= 0:
            raise ValueError("speed, frame_samples and conn_interval_s must be positive")
        self.link = link
        self.name = name
        self.address = address
        self.motion = motion
        self.frame_samples = int(frame_samples)
        self.speed = float(speed)
        self.conn_interval_s = float(conn_interval_s)
        self.max_frames_per_event = int(max_frames_per_event)
        self.drift_ppm = float(drift_ppm)
        self.drop_frames = set(drop_frames)
        self.max_connections = int(max_connections)
        self.clock_start_s = float(clock_start_s)
        self.advertising_interval_ms = float(advertising_interval_ms)
        self.motion_from_stream_start = motion_from_stream_start
        self._motion_k0: dict[float, int] = {}
        self.log = SentLog()
        self.fs_hz: float | None = None  # rate of the running stream
        self.device: Device | None = None
        self._controller: Any = None
        self._boot_host_s = 0.0
        self._streams: dict[Connection, asyncio.Task[None]] = {}
        self._next_sample: dict[Connection, int] = {}
        self._frame_counter = 0
        self._away_until = 0.0
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._connections: set[Connection] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> SimPeripheral:
        """Power on, publish the GATT table and start advertising."""
        self.device, self._controller = new_device(self.link.link, name=self.name, address=self.address)
        self.device.add_services(self.build_services())
        self.device.on("connection", self._on_connection)
        await self.device.power_on()
        self._boot_host_s = asyncio.get_running_loop().time()
        await self._advertise()
        return self

    async def close(self) -> None:
        """Stop streaming, disconnect everyone and leave the link."""
        self._closed = True
        for task in list(self._streams.values()) + list(self._tasks):
            task.cancel()
        for task in list(self._streams.values()) + list(self._tasks):
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - teardown
                pass
        self._streams.clear()
        if self.device is not None:
            for conn in list(self._connections):
                try:
                    await conn.disconnect()
                except Exception:  # noqa: BLE001 - already gone
                    pass
            try:
                await self.device.power_off()
            except Exception:  # noqa: BLE001 - teardown
                pass
            if self._controller in self.link.link.controllers:
                self.link.link.remove_controller(self._controller)

    async def __aenter__(self) -> SimPeripheral:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- demands -------------------------------------------------------------------------------

    async def drop_link(self, *, away_s: float = 0.0) -> None:
        """End every connection like a supervision timeout; stay silent for ``away_s`` (host s)."""
        loop = asyncio.get_running_loop()
        self._away_until = loop.time() + away_s
        if self.device is not None and self.device.is_advertising:
            await self.device.stop_advertising()
        for conn in list(self._connections):
            self._stop_stream(conn)
            await conn.disconnect(reason=hci.HCI_CONNECTION_TIMEOUT_ERROR)
        if away_s > 0:
            self._spawn(self._come_back(away_s))

    async def _come_back(self, away_s: float) -> None:
        await asyncio.sleep(away_s)
        await self._advertise()

    # -- time and samples ----------------------------------------------------------------------

    def sample_index_now(self, fs_hz: float) -> int:
        """Samples produced since power-on at ``fs_hz`` (host clock × speed)."""
        elapsed = asyncio.get_running_loop().time() - self._boot_host_s
        return int(elapsed * self.speed * fs_hz)

    def device_time_s(self, k: np.ndarray | int, fs_hz: float) -> np.ndarray:
        """Device clock (s) of sample ``k``: what the sensor stamps."""
        return self.clock_start_s + np.asarray(k, dtype=np.float64) * (1.0 + self.drift_ppm * 1e-6) / fs_hz

    def samples(self, k: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray | None]:
        """True accel (m/s^2) and gyro (rad/s) of samples ``k`` (nominal time ``k / fs``)."""
        k0 = self._motion_k0.get(fs_hz, 0) if self.motion_from_stream_start else 0
        return self.motion.at((np.asarray(k, dtype=np.float64) - k0) / fs_hz)

    # -- to be provided by each protocol ---------------------------------------------------------

    def build_services(self) -> list[gatt.Service]:
        raise NotImplementedError

    def encode(self, k: np.ndarray, fs_hz: float, frame_number: int) -> bytes:
        """The notification payload carrying samples ``k`` (consecutive indices)."""
        raise NotImplementedError

    def data_characteristic(self) -> gatt.Characteristic:
        raise NotImplementedError

    def advertising_data(self) -> bytes:
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                    (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, bytes(UUID(self.service_uuid))),
                ]
            )
        )

    # -- streaming -------------------------------------------------------------------------------

    def begin_stream(self, conn: Connection, fs_hz: float) -> None:
        """Start sending samples from "now" at ``fs_hz`` on ``conn``."""
        self._stop_stream(conn)
        self.fs_hz = fs_hz
        self.log.starts += 1
        self._next_sample[conn] = self.sample_index_now(fs_hz)
        self._motion_k0.setdefault(fs_hz, self._next_sample[conn])
        self._streams[conn] = asyncio.get_running_loop().create_task(self._stream_loop(conn, fs_hz))

    def end_stream(self, conn: Connection) -> None:
        self._stop_stream(conn)

    def streaming_elsewhere(self, conn: Connection) -> bool:
        return any(c is not conn for c in self._streams)

    def _stop_stream(self, conn: Connection) -> None:
        task = self._streams.pop(conn, None)
        if task is not None:
            task.cancel()

    async def _stream_loop(self, conn: Connection, fs_hz: float) -> None:
        assert self.device is not None
        char = self.data_characteristic()
        n = self.frame_samples
        while True:
            await asyncio.sleep(self.conn_interval_s)
            due = self.sample_index_now(fs_hz)
            sent = 0
            while self._next_sample[conn] + n <= due and sent < self.max_frames_per_event:
                first = self._next_sample[conn]
                k = np.arange(first, first + n)
                number = self._frame_counter
                self._frame_counter += 1
                self._next_sample[conn] = first + n
                payload = self.encode(k, fs_hz, number)
                if number in self.drop_frames:
                    self.log.frames_dropped += 1
                    self.log.dropped_first_indices.append(first)
                    continue
                await self.device.notify_subscriber(conn, char, payload)
                self.log.frames_sent += 1
                self.log.samples_sent += n
                self.log.sent_first_indices.append(first)
                self.log.sent_sizes.append(n)
                self.log.notifications_sent += 1
                sent += 1

    # -- connections -----------------------------------------------------------------------------

    def _on_connection(self, conn: Connection) -> None:
        self._connections.add(conn)
        conn.on("disconnection", lambda reason: self._on_disconnection(conn))
        if len(self._connections) < self.max_connections:
            self._spawn(self._advertise())  # still has a free slot: keep advertising

    def _on_disconnection(self, conn: Connection) -> None:
        self._connections.discard(conn)
        self._stop_stream(conn)
        self._next_sample.pop(conn, None)
        self.on_disconnected(conn)
        if not self._closed:
            self._spawn(self._advertise())

    def on_disconnected(self, conn: Connection) -> None:
        """Hook for protocol state (a real sensor stops its measurement when the link drops)."""

    async def _advertise(self) -> None:
        if self._closed or self.device is None:
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._away_until:
            return
        if len(self._connections) >= self.max_connections:
            return
        if self.device.is_advertising:
            await self.device.stop_advertising()
        await self.device.start_advertising(
            advertising_data=self.advertising_data(),
            advertising_interval_min=self.advertising_interval_ms,
            advertising_interval_max=self.advertising_interval_ms,
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# ---------------------------------------------------------------------------------------------
# Our firmware over NUS


class NusPeripheral(SimPeripheral):
    """imu-tempo firmware over the Nordic UART Service: ``start\\n``, header, samples frames."""

    service_uuid = nus.NUS_SERVICE
    ACCEL_G_PER_LSB = 16.0 / 32768.0
    GYRO_DPS_PER_LSB = 2000.0 / 32768.0

    def __init__(self, *, fs_hz: float = 100.0, channels: int = 6, **kwargs: Any) -> None:
        kwargs.setdefault("name", "IMU-Tempo NUS")
        super().__init__(**kwargs)
        self.native_fs_hz = float(fs_hz)
        self.channels = channels
        self._seq = 0

    def build_services(self) -> list[gatt.Service]:
        self._tx = gatt.Characteristic(
            nus.NUS_TX, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        self._rx = gatt.Characteristic(
            nus.NUS_RX,
            gatt.Characteristic.Properties.WRITE | gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        return [gatt.Service(nus.NUS_SERVICE, [self._rx, self._tx])]

    def data_characteristic(self) -> gatt.Characteristic:
        return self._tx

    def header(self) -> bytes:
        return wire.encode_frame(
            wire.HeaderFrame(
                fs_hz=self.native_fs_hz,
                channels=self.channels,
                accel_g_per_lsb=self.ACCEL_G_PER_LSB,
                gyro_dps_per_lsb=self.GYRO_DPS_PER_LSB if self.channels == 6 else 0.0,
                device_name=self.name[:32],
            )
        )

    def _on_write(self, conn: Connection, value: bytes) -> None:
        cmd = bytes(value).strip().lower()
        if cmd == b"start":
            self._spawn(self.device.notify_subscriber(conn, self._tx, self.header()))  # type: ignore[union-attr]
            self.begin_stream(conn, self.native_fs_hz)
        elif cmd == b"stop":
            self.end_stream(conn)

    def encode(self, k: np.ndarray, fs_hz: float, frame_number: int) -> bytes:
        acc, gyr = self.samples(k, fs_hz)
        cols = [np.round(acc / G / self.ACCEL_G_PER_LSB)]
        if self.channels == 6:
            g = gyr if gyr is not None else np.zeros_like(acc)
            cols.append(np.round(g / _DEG / self.GYRO_DPS_PER_LSB))
        counts = np.clip(np.hstack(cols), -32768, 32767).astype(np.int16)
        t0_us = int(round(float(self.device_time_s(k[0], fs_hz)) * 1e6))
        seq = frame_number & 0xFFFF  # the firmware's counter runs per built frame, sent or not
        packet = wire.encode_frame(wire.SamplesFrame(seq=seq, t0_us=t0_us % (1 << 32), samples=counts))
        if frame_number and frame_number % max(1, int(self.native_fs_hz / self.frame_samples)) == 0:
            self._spawn(self._send_header_soon())
        return packet

    async def _send_header_soon(self) -> None:
        for conn in list(self._streams):
            await self.device.notify_subscriber(conn, self._tx, self.header())  # type: ignore[union-attr]

    def quantized(self, k: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray | None]:
        """What the host should decode for samples ``k`` (m/s^2, rad/s)."""
        acc, gyr = self.samples(k, fs_hz)
        qa = np.clip(np.round(acc / G / self.ACCEL_G_PER_LSB), -32768, 32767) * self.ACCEL_G_PER_LSB * G
        qg = None
        if self.channels == 6 and gyr is not None:
            qg = np.clip(np.round(gyr / _DEG / self.GYRO_DPS_PER_LSB), -32768, 32767) * self.GYRO_DPS_PER_LSB * _DEG
        return qa, qg


# ---------------------------------------------------------------------------------------------
# Polar PMD


def encode_delta_frame(samples: np.ndarray, *, resolution_bits: int = 16) -> bytes:
    """PMD delta compression (inverse of ``decode_delta_frames``): reference + one delta block."""
    samples = np.asarray(samples, dtype=np.int64)
    n, channels = samples.shape
    width = (resolution_bits + 7) // 8
    out = bytearray()
    for v in samples[0]:
        out += int(v).to_bytes(width, "little", signed=True)
    if n == 1:
        return bytes(out)
    deltas = np.diff(samples, axis=0)
    peak = int(np.max(np.abs(deltas))) if deltas.size else 0
    bits = max(2, peak.bit_length() + 1)
    out += bytes([bits, n - 1])
    values = deltas.reshape(-1) & ((1 << bits) - 1)
    bitfield = ((values[:, None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(-1)
    out += np.packbits(bitfield, bitorder="little").tobytes()
    return bytes(out)


class PolarPeripheral(SimPeripheral):
    """A Polar sensor's PMD service: control point with indications, ACC data notifications.

    ``model="H10"``: raw int16 mG frames (type 0x01) at 25/50/100/200 Hz, ±2/4/8 g.
    ``model="Sense"`` (Verity Sense): delta-compressed frames (0x81) at 52 Hz, ±8 g, with the
    scale FACTOR in the start response.  Polar sensors accept two connections; the second one
    to start ACC while the first streams gets "already in state" (how the simulator models a
    busy sensor).  Streams stop when the link drops (the host restarts them).
    """

    service_uuid = pmd.PMD_SERVICE
    FACTOR = 8000.0 / 32768.0  # mG per count at ±8 g (Sense)

    def __init__(self, *, model: str = "Sense", **kwargs: Any) -> None:
        if model not in ("H10", "Sense"):
            raise ValueError("model must be 'H10' or 'Sense'")
        kwargs.setdefault("name", "Polar Sense 1A2B3C4D" if model == "Sense" else "Polar H10 1A2B3C4D")
        kwargs.setdefault("max_connections", 2)
        kwargs.setdefault("clock_start_s", _POLAR_CLOCK_START_S)
        super().__init__(**kwargs)
        self.model = model
        self.offered = (
            {0: [52], 1: [16], 2: [8], 4: [3]} if model == "Sense" else {0: [25, 50, 100, 200], 1: [16], 2: [2, 4, 8]}
        )
        self.selected: dict[int, int] = {}
        self.control_log: list[bytes] = []

    def build_services(self) -> list[gatt.Service]:
        self._cp = gatt.Characteristic(
            pmd.PMD_CP,
            gatt.Characteristic.Properties.READ
            | gatt.Characteristic.Properties.WRITE
            | gatt.Characteristic.Properties.INDICATE,
            gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(read=self._read_features, write=self._on_write),
        )
        self._data = gatt.Characteristic(
            pmd.PMD_DATA, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        return [gatt.Service(pmd.PMD_SERVICE, [self._cp, self._data])]

    def advertising_data(self) -> bytes:
        # Like real Polar sensors: name + the heart-rate service, not the PMD service.
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()),
                    (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, bytes(UUID.from_16_bits(0x180D))),
                ]
            )
        )

    def data_characteristic(self) -> gatt.Characteristic:
        return self._data

    def _read_features(self, conn: Connection) -> bytes:
        return bytes([0x0F, pmd.FEATURE_ACC_BIT | (0x20 if self.model == "Sense" else 0x01), 0x00])

    def _on_write(self, conn: Connection, value: bytes) -> None:
        data = bytes(value)
        self.control_log.append(data)
        self._spawn(self._handle(conn, data))

    async def _respond(self, conn: Connection, op: int, meas: int, status: int, params: bytes = b"") -> None:
        assert self.device is not None
        if status == 0 and len(params) > 6:  # exercise the multi-part ("more") response path
            cut = len(params) // 2
            await self.device.indicate_subscriber(conn, self._cp, bytes([0xF0, op, meas, 0, 1]) + params[:cut])
            await self.device.indicate_subscriber(conn, self._cp, bytes([0xF0, op, meas, 0, 0]) + params[cut:])
            return
        await self.device.indicate_subscriber(conn, self._cp, bytes([0xF0, op, meas, status, 0]) + params)

    async def _handle(self, conn: Connection, data: bytes) -> None:
        if len(data) < 2:
            await self._respond(conn, data[0] if data else 0, 0, 4)
            return
        op, meas = data[0], data[1] & 0x3F
        if meas != pmd.MEAS_ACC:
            await self._respond(conn, op, meas, 3)  # not supported
            return
        if op == pmd.OP_GET_SETTINGS:
            params = b"".join(
                bytes([kind, len(vals)]) + b"".join(int(v).to_bytes(pmd._SETTING_WIDTH[kind], "little") for v in vals)
                for kind, vals in self.offered.items()
            )
            await self._respond(conn, op, meas, 0, params)
        elif op == pmd.OP_START:
            if self.streaming_elsewhere(conn) or conn in self._streams:
                await self._respond(conn, op, meas, 6)  # already in state
                return
            try:
                chosen = {k: v[0] for k, v in pmd.parse_settings(data[2:]).items()}
            except Exception:  # noqa: BLE001 - a malformed request is answered, not raised
                await self._respond(conn, op, meas, 5)
                return
            for kind, value in chosen.items():
                if kind not in self.offered or value not in self.offered[kind]:
                    await self._respond(conn, op, meas, {0: 8, 1: 7, 2: 9, 4: 11}.get(kind, 5))
                    return
            if 0 not in chosen:
                await self._respond(conn, op, meas, 8)
                return
            self.selected = chosen
            params = b""
            if self.model == "Sense":
                bits = struct.unpack("<I", struct.pack("<f", self.FACTOR))[0]
                params = bytes([pmd.SETTING_FACTOR, 1]) + bits.to_bytes(4, "little")
            await self._respond(conn, op, meas, 0, params)
            self.begin_stream(conn, float(chosen[0]))
        elif op == pmd.OP_STOP:
            self.end_stream(conn)
            await self._respond(conn, op, meas, 0)
        else:
            await self._respond(conn, op, meas, 1)

    async def stop_from_device(self) -> None:
        """End every ACC stream from the sensor's side ("online measurement stopped", ``01 02``)."""
        assert self.device is not None
        for conn in list(self._streams):
            self.end_stream(conn)
            await self.device.indicate_subscriber(conn, self._cp, bytes([0x01, pmd.MEAS_ACC]))

    def mg_counts(self, k: np.ndarray, fs_hz: float) -> np.ndarray:
        acc, _ = self.samples(k, fs_hz)
        mg = acc / G * 1000.0
        if self.model == "Sense":
            return np.clip(np.round(mg / self.FACTOR), -32768, 32767).astype(np.int64)
        return np.clip(np.round(mg), -32768, 32767).astype(np.int64)

    def quantized(self, k: np.ndarray, fs_hz: float) -> tuple[np.ndarray, None]:
        counts = self.mg_counts(k, fs_hz).astype(np.float64)
        mg = counts * self.FACTOR if self.model == "Sense" else counts
        return mg * G / 1000.0, None

    def encode(self, k: np.ndarray, fs_hz: float, frame_number: int) -> bytes:
        counts = self.mg_counts(k, fs_hz)
        ts_ns = int(round(float(self.device_time_s(k[-1], fs_hz)) * 1e9))
        head = bytes([pmd.MEAS_ACC]) + ts_ns.to_bytes(8, "little")
        if self.model == "Sense":
            return head + bytes([0x81]) + encode_delta_frame(counts)
        return head + bytes([0x01]) + counts.astype("<i2").tobytes()


# ---------------------------------------------------------------------------------------------
# Movesense GATT SensorData app


class MovesensePeripheral(SimPeripheral):
    """A Movesense sensor running the GATT SensorData sample app (HELLO, SUBSCRIBE /Meas/Acc/{rate})."""

    service_uuid = ms.GSP_SERVICE

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("name", "Movesense 220330000123")
        super().__init__(**kwargs)
        self._refs: dict[Connection, int] = {}

    def build_services(self) -> list[gatt.Service]:
        self._cmd = gatt.Characteristic(
            ms.GSP_COMMAND,
            gatt.Characteristic.Properties.WRITE,
            gatt.Characteristic.WRITEABLE,
            gatt.CharacteristicValue(write=self._on_write),
        )
        self._data = gatt.Characteristic(
            ms.GSP_DATA, gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE, b""
        )
        return [gatt.Service(ms.GSP_SERVICE, [self._cmd, self._data])]

    def data_characteristic(self) -> gatt.Characteristic:
        return self._data

    def _on_write(self, conn: Connection, value: bytes) -> None:
        data = bytes(value)
        if len(data) < 2:
            return
        cmd, ref = data[0], data[1]
        if cmd == ms.CMD_HELLO:
            self._spawn(self.device.notify_subscriber(conn, self._data, bytes([1, ref]) + b"Hello"))  # type: ignore[union-attr]
        elif cmd == ms.CMD_SUBSCRIBE:
            path = data[2:].decode("ascii", errors="replace")
            parts = path.strip("/").split("/")
            if self.streaming_elsewhere(conn):
                self._spawn(self.device.notify_subscriber(conn, self._data, bytes([1, ref, 0x01, 0xFB])))  # type: ignore[union-attr]
                return
            if len(parts) != 3 or parts[:2] != ["Meas", "Acc"] or not parts[2].isdigit() \
                    or float(parts[2]) not in ms.ACC_RATES_HZ:
                self._spawn(self.device.notify_subscriber(conn, self._data, bytes([1, ref, 0x01, 0xF4])))  # type: ignore[union-attr]
                return
            self._refs[conn] = ref
            self.begin_stream(conn, float(parts[2]))
        elif cmd == ms.CMD_UNSUBSCRIBE:
            self.end_stream(conn)

    def encode(self, k: np.ndarray, fs_hz: float, frame_number: int) -> bytes:
        acc, _ = self.samples(k, fs_hz)
        ts_ms = int(round(float(self.device_time_s(k[0], fs_hz)) * 1000.0)) % (1 << 32)
        conn = next(iter(self._streams), None)
        ref = self._refs.get(conn, ms.CLIENT_REF) if conn is not None else ms.CLIENT_REF
        return bytes([2, ref]) + ts_ms.to_bytes(4, "little") + acc.astype("<f4").tobytes()

    def quantized(self, k: np.ndarray, fs_hz: float) -> tuple[np.ndarray, None]:
        acc, _ = self.samples(k, fs_hz)
        return acc.astype(np.float32).astype(np.float64), None


PERIPHERALS: dict[str, type[SimPeripheral]] = {
    "nus": NusPeripheral,
    "polar": PolarPeripheral,
    "movesense": MovesensePeripheral,
}
