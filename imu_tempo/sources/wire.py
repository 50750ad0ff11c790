"""Wire formats of serial (and BLE) wearables: pure codecs, no I/O.

Two formats, told apart automatically (:func:`detect_format`):

``text``
    One sample per line, ``t_ms,ax,ay,az[,gx,gy,gz]``, what a five-minute
    Arduino sketch prints.  An optional header line names the columns (its
    first column may be ``t_us`` for microseconds); a line containing
    ``fs_hz=<rate>`` announces the rate.  Units come from the user
    (``--accel-unit``, ``--gyro-unit``).  No integrity check: a corrupted digit
    cannot be detected, so use the binary format for real work.

``binary``
    Packets with a type byte, little-endian fields and a CRC-16/CCITT-FALSE,
    each COBS-encoded and terminated by ``0x00`` on a byte stream.  The full
    specification, for firmware authors, is ``firmware_notes/packet_format.md``;
    the constants below are the reference.

Layers, from bytes to samples:

* :func:`encode_frame` / :func:`decode_frame`: one packet <-> one frame object
  (:class:`HeaderFrame`, :class:`SamplesFrame`, :class:`TextFrame`).
* :class:`FrameReader`: arbitrary byte chunks -> frames; counts corrupt frames
  and garbage bytes and resynchronises at the next ``0x00``.
* :class:`TextLineReader`: arbitrary byte chunks -> rows of numbers.
* :class:`FrameStream` / :class:`TextStream`: frames or rows ->
  :class:`~imu_tempo.types.SampleBlock` in SI units on the device clock,
  with sequence gaps as ``dropped`` samples, u32 timestamps unwrapped, and
  device restarts rebased so session time keeps increasing.
* :class:`WireDecoder`: all of the above behind one ``feed(chunk)``, with
  format auto-detection; this is what :class:`~imu_tempo.sources.serial.SerialSource`
  runs in its reader thread.

Nothing here is thread-safe; each object has one owner thread.
"""

from __future__ import annotations

import binascii
import math
import re
import struct
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from cobs import cobs

from ..errors import PacketDecodeError, SourceError, UnitError
from ..types import SampleBlock, StatusEvent
from .clock import ClockMap

__all__ = [
    "FRAME_HEADER",
    "FRAME_SAMPLES",
    "FRAME_TEXT",
    "PROTOCOL_VERSION",
    "MAX_PACKET_BYTES",
    "STANDARD_GRAVITY",
    "HeaderFrame",
    "SamplesFrame",
    "TextFrame",
    "Frame",
    "crc16",
    "encode_frame",
    "decode_frame",
    "cobs_frame",
    "unwrap_u32",
    "detect_format",
    "FrameReader",
    "TextLineReader",
    "FrameStream",
    "TextStream",
    "WireDecoder",
    "WireStats",
    "ACCEL_UNITS",
    "GYRO_UNITS",
]

# -- constants of the binary format (firmware_notes/packet_format.md) -----------------
FRAME_HEADER = 0x01
FRAME_SAMPLES = 0x02
FRAME_TEXT = 0x03
PROTOCOL_VERSION = 1
#: Largest decoded packet (type byte to CRC) a host accepts.  255 samples x 6 int16 = 3060 B.
MAX_PACKET_BYTES = 3100
MAX_NAME_BYTES = 32
STANDARD_GRAVITY = 9.80665  # m/s^2 per g
DEG = math.pi / 180.0

_HEADER = struct.Struct("<BBBBfffB")  # type, version, channels, flags, fs, accel, gyro, name_len
_SAMPLES = struct.Struct("<BHIB")  # type, seq, t0_us, n
_U32 = 1 << 32
_U16 = 1 << 16

#: Multipliers to SI units for the text format's declared units.
ACCEL_UNITS: dict[str, float] = {"m/s^2": 1.0, "g": STANDARD_GRAVITY, "mg": STANDARD_GRAVITY / 1000.0}
GYRO_UNITS: dict[str, float] = {"rad/s": 1.0, "deg/s": DEG}

WireFormat = Literal["binary", "text"]


# =====================================================================================
# Frames


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderFrame:
    """Stream description (type ``0x01``); firmware sends it at connect and every second.

    Parameters
    ----------
    fs_hz : float
        Nominal output data rate of the IMU, samples per second.
    channels : int
        3 (accelerometer) or 6 (accelerometer then gyroscope).
    accel_g_per_lsb : float
        Accelerometer scale: g per count (e.g. 16/32768 at +-16 g).
    gyro_dps_per_lsb : float
        Gyroscope scale: degrees per second per count (0 when ``channels`` is 3).
    device_name : str
        Optional, UTF-8, at most 32 bytes.
    version : int
        Protocol version, :data:`PROTOCOL_VERSION`.
    flags : int
        Reserved, 0.
    """

    fs_hz: float
    channels: int
    accel_g_per_lsb: float
    gyro_dps_per_lsb: float = 0.0
    device_name: str = ""
    version: int = PROTOCOL_VERSION
    flags: int = 0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SamplesFrame:
    """A batch of consecutive samples (type ``0x02``).

    Parameters
    ----------
    seq : int
        Packet counter, u16, +1 per samples frame, wraps at 65536.
    t0_us : int
        Device time of the *first* sample, microseconds, u32 (wraps every 71.6 min).
    samples : ndarray, shape (n, channels), int16
        Raw counts, sample-major: ``ax ay az [gx gy gz]`` per row.
    """

    seq: int
    t0_us: int
    samples: np.ndarray

    @property
    def n(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])


@dataclass(frozen=True, slots=True)
class TextFrame:
    """A log message from the firmware (type ``0x03``); counted and otherwise ignored."""

    text: str


Frame = HeaderFrame | SamplesFrame | TextFrame


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR).

    ``crc16(b"123456789") == 0x29B1``.
    """
    return binascii.crc_hqx(data, 0xFFFF)


def encode_frame(frame: Frame) -> bytes:
    """One frame -> one packet: the type byte, the fields, then the CRC-16 (little-endian).

    The result is what goes in one BLE notification; over a byte stream wrap it
    with :func:`cobs_frame`.

    Raises
    ------
    ValueError
        If a field does not fit its wire type.
    """
    if isinstance(frame, HeaderFrame):
        if frame.channels not in (3, 6):
            raise ValueError(f"channels must be 3 or 6, got {frame.channels}")
        name = frame.device_name.encode("utf-8")
        if len(name) > MAX_NAME_BYTES:
            raise ValueError(f"device_name is {len(name)} bytes, at most {MAX_NAME_BYTES}")
        body = _HEADER.pack(
            FRAME_HEADER, frame.version, frame.channels, frame.flags,
            frame.fs_hz, frame.accel_g_per_lsb, frame.gyro_dps_per_lsb, len(name),
        ) + name
    elif isinstance(frame, SamplesFrame):
        s = np.asarray(frame.samples)
        if s.ndim != 2 or s.shape[1] not in (3, 6) or not 1 <= s.shape[0] <= 255:
            raise ValueError(f"samples must have shape (1..255, 3 or 6), got {s.shape}")
        body = _SAMPLES.pack(FRAME_SAMPLES, frame.seq & 0xFFFF, frame.t0_us % _U32, s.shape[0])
        body += np.ascontiguousarray(s, dtype="<i2").tobytes()
    elif isinstance(frame, TextFrame):
        body = bytes([FRAME_TEXT]) + frame.text.encode("utf-8")
    else:
        raise TypeError(f"not a frame: {frame!r}")
    if len(body) + 2 > MAX_PACKET_BYTES:
        raise ValueError(f"packet of {len(body) + 2} bytes exceeds {MAX_PACKET_BYTES}")
    return body + struct.pack("<H", crc16(body))


def cobs_frame(packet: bytes) -> bytes:
    """COBS-encode one packet and append the ``0x00`` delimiter (the serial framing)."""
    return cobs.encode(packet) + b"\x00"


def decode_frame(packet: bytes) -> Frame:
    """One packet (already un-COBSed, CRC included) -> a frame.

    Raises
    ------
    PacketDecodeError
        Bad CRC, unknown type, wrong length, or impossible field values.  The
        message says which.
    """
    packet = bytes(packet)
    if len(packet) < 3:
        raise PacketDecodeError(f"packet of {len(packet)} bytes is too short (at least 3)")
    if len(packet) > MAX_PACKET_BYTES:
        raise PacketDecodeError(f"packet of {len(packet)} bytes is too long (at most {MAX_PACKET_BYTES})")
    body, (crc,) = packet[:-2], struct.unpack("<H", packet[-2:])
    if crc16(body) != crc:
        raise PacketDecodeError(f"CRC mismatch (got 0x{crc:04X}, computed 0x{crc16(body):04X})")
    kind = body[0]
    if kind == FRAME_SAMPLES:
        if len(body) < _SAMPLES.size:
            raise PacketDecodeError(f"samples packet of {len(body)} bytes has no room for its fields")
        _, seq, t0, n = _SAMPLES.unpack_from(body)
        payload = body[_SAMPLES.size:]
        if n == 0:
            raise PacketDecodeError("samples packet with n = 0")
        if len(payload) % (2 * n):
            raise PacketDecodeError(f"samples payload of {len(payload)} bytes is not n={n} x channels x 2")
        ch = len(payload) // (2 * n)
        if ch not in (3, 6):
            raise PacketDecodeError(f"samples packet carries {ch} channels per sample (3 or 6 allowed)")
        samples = np.frombuffer(payload, dtype="<i2").reshape(n, ch)
        return SamplesFrame(seq=seq, t0_us=t0, samples=samples)
    if kind == FRAME_HEADER:
        if len(body) < _HEADER.size:
            raise PacketDecodeError(f"header packet of {len(body)} bytes is too short ({_HEADER.size})")
        _, version, channels, flags, fs, acc, gyr, name_len = _HEADER.unpack_from(body)
        name = body[_HEADER.size:]
        if len(name) != name_len or name_len > MAX_NAME_BYTES:
            raise PacketDecodeError(f"header name length {name_len} does not match the packet")
        if version != PROTOCOL_VERSION:
            raise PacketDecodeError(
                f"header announces protocol version {version}; this imu-tempo reads version "
                f"{PROTOCOL_VERSION}"
            )
        if channels not in (3, 6):
            raise PacketDecodeError(f"header announces {channels} channels (3 or 6 allowed)")
        if not (math.isfinite(fs) and 0 < fs <= 100_000):
            raise PacketDecodeError(f"header announces sample rate {fs!r} Hz")
        if not (math.isfinite(acc) and acc > 0):
            raise PacketDecodeError(f"header announces accel scale {acc!r} g/LSB")
        if not (math.isfinite(gyr) and gyr >= 0) or (channels == 6 and gyr == 0):
            raise PacketDecodeError(f"header announces gyro scale {gyr!r} deg/s/LSB")
        return HeaderFrame(
            fs_hz=float(fs), channels=channels, accel_g_per_lsb=float(acc), gyro_dps_per_lsb=float(gyr),
            device_name=name.decode("utf-8", errors="replace"), version=version, flags=flags,
        )
    if kind == FRAME_TEXT:
        return TextFrame(body[1:].decode("utf-8", errors="replace"))
    raise PacketDecodeError(f"unknown packet type 0x{kind:02X}")


def unwrap_u32(raw: int, *, previous: int | None) -> int:
    """Unwrap a u32 counter: the value ``== raw (mod 2**32)`` nearest to ``previous``.

    ``previous`` is the last unwrapped value (``None`` for the first).  A small
    step backwards stays backwards (so a restarted device is visible); only a
    jump of more than half the range counts as a wrap.
    """
    raw = int(raw) % _U32
    if previous is None:
        return raw
    base = previous - (previous % _U32) + raw
    if base - previous > _U32 // 2:
        base -= _U32
    elif previous - base >= _U32 // 2:
        base += _U32
    return base


# =====================================================================================
# Byte streams -> frames / rows


def _is_texty(seg: bytes) -> bool:
    """Printable ASCII plus whitespace: what a board prints at boot."""
    return all(b in (9, 10, 13) or 32 <= b < 127 for b in seg)


class FrameReader:
    """COBS byte stream -> frames.  Feed it any chunking of the bytes.

    Counters (read them any time):

    ``frames``
        packets decoded.
    ``corrupt_frames``
        delimited packets that failed COBS, length or CRC checks after the stream
        was in sync (skipped; the reader resynchronises at the next ``0x00``).
    ``garbage_bytes``
        bytes that were not packets: anything before the first good packet (boot
        messages), text printed between packets, and runs longer than
        ``max_packet_bytes`` without a delimiter.
    ``last_error``
        the last decode error message, for status lines.
    """

    def __init__(self, *, max_packet_bytes: int = MAX_PACKET_BYTES) -> None:
        self.max_encoded = max_packet_bytes + max_packet_bytes // 254 + 2
        self._buf = bytearray()
        self.frames = 0
        self.corrupt_frames = 0
        self.garbage_bytes = 0
        self.synced = False
        self.last_error: str | None = None

    def reset(self) -> None:
        """Drop a partial packet (after a reconnect)."""
        self.garbage_bytes += len(self._buf)
        self._buf.clear()

    def feed(self, chunk: bytes) -> list[Frame]:
        """Bytes in, every complete frame out (in order)."""
        out: list[Frame] = []
        buf = self._buf
        buf += chunk
        start = 0
        while True:
            end = buf.find(0, start)
            if end < 0:
                break
            seg = bytes(buf[start:end])
            start = end + 1
            if seg:
                self._segment(seg, out)
        del buf[:start]
        if len(buf) > self.max_encoded:
            self.garbage_bytes += len(buf)
            self.last_error = f"{len(buf)} bytes without a 0x00 delimiter"
            buf.clear()
        return out

    def _segment(self, seg: bytes, out: list[Frame]) -> None:
        try:
            if len(seg) > self.max_encoded:
                raise PacketDecodeError(f"{len(seg)} bytes between delimiters, more than a packet")
            try:
                packet = cobs.decode(seg)
            except cobs.DecodeError as exc:
                raise PacketDecodeError(f"COBS: {exc}") from None
            frame = decode_frame(packet)
        except PacketDecodeError as exc:
            self.last_error = str(exc)
            if not self.synced or _is_texty(seg):
                self.garbage_bytes += len(seg) + 1
            else:
                self.corrupt_frames += 1
            return
        self.synced = True
        self.frames += 1
        out.append(frame)


_HEADER_LINE = re.compile(rb"^\s*#?\s*(t|t_ms|t_us|time|time_ms|time_us|ms|us)\s*,\s*a", re.I)
_FS_HINT = re.compile(rb"fs_hz\s*[=:]\s*([0-9]+(?:\.[0-9]*)?)", re.I)


class TextLineReader:
    """Text byte stream -> rows ``(t_us, ax, ay, az[, gx, gy, gz])`` as floats.

    A data line is 4 or 7 comma-separated numbers; the first data line fixes the
    column count.  Anything else is garbage (counted in ``garbage_lines`` /
    ``garbage_bytes``), except a header line naming the columns (``t_us,...``
    switches the time column to microseconds), a line with ``fs_hz=<rate>``, and
    comment lines starting with ``#`` (counted in ``comment_lines``, the last one
    kept in ``last_comment``).
    The time column is returned in microseconds.
    """

    MAX_LINE = 512

    def __init__(self) -> None:
        self._buf = bytearray()
        self.time_scale_us = 1000.0  # t_ms by default
        self.columns: int | None = None
        self.lines = 0
        self.garbage_lines = 0
        self.garbage_bytes = 0
        self.header: str | None = None
        self.fs_hint_hz: float | None = None
        self.comment_lines = 0
        self.last_comment: str | None = None

    def reset(self) -> None:
        """Drop a partial line (after a reconnect)."""
        self.garbage_bytes += len(self._buf)
        self._buf.clear()

    def feed(self, chunk: bytes) -> np.ndarray:
        """Bytes in -> array of shape (m, columns) of complete data lines (m may be 0)."""
        buf = self._buf
        buf += chunk
        cut = buf.rfind(b"\n")
        if cut < 0:
            if len(buf) > self.MAX_LINE:
                self._garbage(bytes(buf))
                buf.clear()
            return np.empty((0, self.columns or 4))
        lines = bytes(buf[:cut]).split(b"\n")
        del buf[: cut + 1]
        rows: list[list[float]] = []
        for line in lines:
            row = self._parse(line)
            if row is not None:
                rows.append(row)
        if not rows:
            return np.empty((0, self.columns or 4))
        arr = np.asarray(rows, dtype=float)
        arr[:, 0] *= self.time_scale_us
        return arr

    def _parse(self, line: bytes) -> list[float] | None:
        line = line.strip()
        if not line:
            return None
        parts = line.split(b",")
        if len(parts) in (4, 7) and (self.columns is None or len(parts) == self.columns):
            try:
                row = [float(p) for p in parts]
            except ValueError:
                pass
            else:
                if all(math.isfinite(v) for v in row):
                    self.columns = len(parts)
                    self.lines += 1
                    return row
        if _HEADER_LINE.match(line) and b"\x00" not in line:
            first = line.lstrip(b"# \t").split(b",")[0].strip().lower()
            self.time_scale_us = 1.0 if first.endswith(b"us") else 1000.0
            self.header = line.decode("ascii", errors="replace")
            return None
        m = _FS_HINT.search(line)
        if m:
            try:
                self.fs_hint_hz = float(m.group(1))
            except ValueError:  # pragma: no cover - regex guarantees a number
                pass
            return None
        if line.startswith(b"#") and b"\x00" not in line:
            self.comment_lines += 1  # firmware comments: kept for status, not garbage
            self.last_comment = line[1:].strip().decode("utf-8", errors="replace")
            return None
        self._garbage(line)
        return None

    def _garbage(self, line: bytes) -> None:
        self.garbage_lines += 1
        self.garbage_bytes += len(line) + 1


def detect_format(data: bytes) -> WireFormat | None:
    """Which wire format ``data`` (the first bytes from a port) is in, or None if unsure yet.

    Binary wins with two valid packets (CRC-checked, so never by chance); text
    needs three consecutive-format numeric lines.  Boot messages count for
    neither.
    """
    if FrameReader().feed(data)[1:]:
        return "binary"
    reader = TextLineReader()
    if len(reader.feed(data)) >= 3:
        return "text"
    return None


# =====================================================================================
# Frames / rows -> SampleBlocks on the device clock

_COMMON_RATES = (12.5, 25, 26, 50, 52, 100, 104, 200, 208, 400, 416, 500, 800, 833, 1000, 1600, 1666, 3200, 3333)


def _snap_rate(fs: float) -> float:
    for r in _COMMON_RATES:
        if abs(fs - r) <= 0.03 * r:
            return float(r)
    return float(round(fs, 1))


class _Timeline:
    """Session time (µs) from a device clock; rebases when the device restarts.

    Session time equals device time until a restart; after one, an offset keeps
    session time increasing, bridging the outage with the host clock (the only
    clock that ran through it).
    """

    def __init__(self, clock: ClockMap) -> None:
        self.clock = clock
        self.offset_us = 0.0  # session = device + offset
        self.last_device_us: float | None = None  # device time of the next expected sample
        self.last_session_end_us: float | None = None  # session time of the next expected sample
        self.last_host_s: float | None = None
        self.restarts = 0

    def rebase(self, device_us: float, *, host_time_s: float, period_us: float) -> float:
        """Place ``device_us`` (first sample after a restart) on the session timeline; returns its session µs."""
        assert self.last_session_end_us is not None
        est_us: float | None = None
        if self.clock.ready and self.last_host_s is not None:
            # Device time now (by the mapping) minus the age of this sample is its session time;
            # the age is unknown, so use arrival: at worst a few ms early.
            est_us = self.clock.to_device(host_time_s) * 1e6 - 0.0
        if est_us is None:
            est_us = self.last_session_end_us
        session_us = max(est_us, self.last_session_end_us)
        self.offset_us = session_us - device_us
        self.restarts += 1
        return session_us


@dataclass(frozen=True, slots=True)
class WireStats:
    """Health counters of one decoder (a snapshot)."""

    format: str | None = None
    fs_hz: float | None = None
    channels: int | None = None
    device_name: str = ""
    samples: int = 0
    dropped_samples: int = 0
    gaps: int = 0
    frames: int = 0
    corrupt_frames: int = 0
    garbage_bytes: int = 0
    text_frames: int = 0
    duplicate_frames: int = 0
    frames_before_header: int = 0
    restarts: int = 0
    jitter_clamps: int = 0
    last_text: str | None = None
    skew_ppm: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


class FrameStream:
    """Frames -> :class:`SampleBlock` s on the device clock (binary format, serial or BLE).

    Parameters
    ----------
    source_name : str
        Device/port name used in messages.

    Behaviour
    ---------
    * Scale factors and the rate come from the latest :class:`HeaderFrame`.  A
      samples frame before any header is counted and skipped, with a status
      event asking the firmware to send a header at connect and every second.
    * ``t_s`` of sample ``k`` in a frame is ``t0 + k / fs`` on the device clock
      (u32 µs unwrapped).
    * A sequence gap sets ``SampleBlock.dropped`` to the samples lost (from the
      device timestamps; from the sequence count if those disagree) and ``t_s``
      continues on the device clock: a gap is never merged away.
    * A repeated frame (same seq and t0) is skipped and counted.
    * A device restart (time going backwards, or a sequence/time jump that does
      not fit after a reconnect) keeps session time increasing by bridging the
      outage with the host clock (:class:`~imu_tempo.sources.clock.ClockMap`),
      and is reported in a status event.
    * A header that changes the rate or the channel count mid-session raises
      :class:`~imu_tempo.errors.SourceError` (start a new session instead).
    """

    def __init__(self, *, source_name: str) -> None:
        self.source_name = source_name
        self.header: HeaderFrame | None = None
        self.clock = ClockMap()
        self._tl = _Timeline(self.clock)
        self._last_seq: int | None = None
        self._last_t0_unwrapped: int | None = None
        self._last_n = 0
        self._link_break = False
        self.samples = 0
        self.dropped_samples = 0
        self.gaps = 0
        self.duplicate_frames = 0
        self.frames_before_header = 0
        self.text_frames = 0
        self.jitter_clamps = 0
        self.last_text: str | None = None
        self._warned_no_header = False

    def link_reset(self) -> None:
        """The link broke and came back: the next frame may come from a restarted device."""
        self._link_break = True

    def feed(self, frame: Frame, *, host_time_s: float) -> list[SampleBlock | StatusEvent]:
        """One decoded frame -> zero or one block, plus any status events (in order).

        Parameters
        ----------
        frame : Frame
        host_time_s : float
            ``time.monotonic()`` when the bytes were read (display and outage bridging only).
        """
        if isinstance(frame, TextFrame):
            self.text_frames += 1
            self.last_text = frame.text
            return []
        if isinstance(frame, HeaderFrame):
            return self._header(frame)
        return self._samples(frame, host_time_s)

    def _header(self, h: HeaderFrame) -> list[SampleBlock | StatusEvent]:
        old = self.header
        self.header = h
        if old is None:
            return []
        if old.channels != h.channels or abs(old.fs_hz - h.fs_hz) > 1e-6 * old.fs_hz:
            raise SourceError(
                f"{self.source_name}: the device changed from {old.channels} channels at {old.fs_hz:g} Hz "
                f"to {h.channels} channels at {h.fs_hz:g} Hz mid-session; start a new session "
                f"(one session has one sample format)"
            )
        return []

    def _samples(self, f: SamplesFrame, host_time_s: float) -> list[SampleBlock | StatusEvent]:
        h = self.header
        if h is None:
            self.frames_before_header += 1
            if not self._warned_no_header:
                self._warned_no_header = True
                return [StatusEvent(
                    state="waiting_header",
                    message=(
                        f"{self.source_name}: samples arrive but no header packet yet, so their scale "
                        f"is unknown; skipping them. The firmware must send a header packet (type 0x01) "
                        f"at connect and every second (see firmware_notes/packet_format.md)"
                    ),
                )]
            return []
        if f.channels != h.channels:
            raise PacketDecodeError(
                f"{self.source_name}: samples packet has {f.channels} channels but the header says "
                f"{h.channels}; fix the firmware so both agree"
            )
        period_us = 1e6 / h.fs_hz
        events: list[SampleBlock | StatusEvent] = []
        t0 = unwrap_u32(f.t0_us, previous=self._last_t0_unwrapped)
        tl = self._tl
        dropped = 0
        start_session_us: float | None = None
        if tl.last_device_us is None:
            tl.offset_us = 0.0  # session time is device time
        else:
            assert self._last_seq is not None and self._last_t0_unwrapped is not None
            assert tl.last_session_end_us is not None
            seq_delta = (f.seq - self._last_seq) % _U16
            if seq_delta == 0 and t0 == self._last_t0_unwrapped and not self._link_break:
                self.duplicate_frames += 1
                return []
            jump_us = t0 - tl.last_device_us
            missing_t = int(round(jump_us / period_us))
            missing_seq = (seq_delta - 1) * self._last_n if seq_delta else 0
            tol = 2 * max(self._last_n, 1) + 0.02 * abs(missing_t)
            big_back = jump_us < -max(500_000.0, 50 * period_us)
            consistent = not big_back and abs(missing_t - missing_seq) <= tol
            if (self._link_break and not consistent) or (big_back and seq_delta != 1):
                before = tl.last_session_end_us
                start_session_us = tl.rebase(t0, host_time_s=host_time_s, period_us=period_us)
                gap_s = (start_session_us - before) / 1e6
                dropped = max(0, int(round(gap_s * h.fs_hz)))
                events.append(StatusEvent(
                    state="device_restarted",
                    message=(
                        f"{self.source_name}: the device clock restarted (sequence {self._last_seq} -> "
                        f"{f.seq}); bridged about {gap_s:.2f} s with the host clock"
                    ),
                    details={"bridged_s": round(gap_s, 6)},
                ))
            else:
                if seq_delta == 1:
                    # No frame lost; a jump of two periods or more is a loss inside the device (FIFO
                    # overflow), less is timestamp jitter.
                    dropped = missing_t if missing_t >= 2 else 0
                elif missing_t > 0 and abs(missing_t - missing_seq) <= tol:
                    dropped = missing_t  # frames lost: the device clock says how many samples
                else:
                    dropped = missing_seq
                start_session_us = t0 + tl.offset_us
                if start_session_us < tl.last_session_end_us - 0.5 * period_us:
                    # Timestamp jitter larger than half a period: never overlap the samples before.
                    start_session_us = tl.last_session_end_us + dropped * period_us
                    self.jitter_clamps += 1
        self._link_break = False
        if start_session_us is None:
            start_session_us = t0 + tl.offset_us
        n = f.n
        t_s = (start_session_us + np.arange(n) * period_us) / 1e6
        counts = f.samples.astype(float)
        accel = counts[:, :3] * (h.accel_g_per_lsb * STANDARD_GRAVITY)
        gyro = counts[:, 3:6] * (h.gyro_dps_per_lsb * DEG) if h.channels == 6 else None
        if dropped:
            self.dropped_samples += dropped
            self.gaps += 1
        self.samples += n
        self._last_seq = f.seq
        self._last_t0_unwrapped = t0
        self._last_n = n
        tl.last_device_us = t0 + n * period_us
        tl.last_session_end_us = start_session_us + n * period_us
        tl.last_host_s = host_time_s
        self.clock.add(device_s=float(t_s[-1]), host_s=host_time_s)
        events.append(SampleBlock(
            t_s=t_s, accel=accel, gyro=gyro, fs_hz=h.fs_hz, dropped=dropped, host_time_s=host_time_s,
        ))
        return events

    @property
    def restarts(self) -> int:
        return self._tl.restarts


class TextStream:
    """Text rows -> :class:`SampleBlock` s, with the units the user declared.

    Parameters
    ----------
    source_name : str
        Device/port name used in messages.
    accel_unit : {"m/s^2", "g", "mg"} or None
        Unit of ax, ay, az as printed (None: m/s^2).
    gyro_unit : {"rad/s", "deg/s"} or None
        Unit of gx, gy, gz as printed (None: rad/s).
    rate_rows : int
        Rows collected before the sample rate is estimated from their timestamps
        (unless a ``fs_hz=`` line announced it).

    Raises (from :meth:`feed`)
    --------------------------
    UnitError
        When the accelerometer magnitude contradicts the declared unit (|a| near 1
        read as m/s^2, near 9.8 read as g, ...); the message names the flag to pass.
    """

    #: A forward jump this large (s) must be confirmed by the next line before it is believed.
    SUSPICIOUS_JUMP_S = 10.0

    def __init__(
        self, *, source_name: str, accel_unit: str | None = None, gyro_unit: str | None = None,
        rate_rows: int = 25,
    ) -> None:
        self.source_name = source_name
        self.accel_unit = accel_unit or "m/s^2"
        self.gyro_unit = gyro_unit or "rad/s"
        if self.accel_unit not in ACCEL_UNITS:
            raise SourceError(f"unknown accel unit {accel_unit!r}; use one of {', '.join(ACCEL_UNITS)}")
        if self.gyro_unit not in GYRO_UNITS:
            raise SourceError(f"unknown gyro unit {gyro_unit!r}; use one of {', '.join(GYRO_UNITS)}")
        self._accel_k = ACCEL_UNITS[self.accel_unit]
        self._gyro_k = GYRO_UNITS[self.gyro_unit]
        self.rate_rows = rate_rows
        self.fs_hz: float | None = None
        self.fs_hint_hz: float | None = None
        self.clock = ClockMap()
        self._tl = _Timeline(self.clock)
        self._pending: list[np.ndarray] = []  # rows held until the rate is known
        self._held: np.ndarray | None = None  # one row after a suspicious jump
        self._prev_t: float | None = None  # device time (µs) of the last accepted row
        self._link_break = False
        self.samples = 0
        self.dropped_samples = 0
        self.gaps = 0
        self.bad_rows = 0
        self.jitter_clamps = 0

    def link_reset(self) -> None:
        self._link_break = True
        self._held = None

    @property
    def restarts(self) -> int:
        return self._tl.restarts

    @property
    def channels(self) -> int | None:
        if self._pending:
            return self._pending[0].shape[1] - 1
        return None

    def feed(self, rows: np.ndarray, *, host_time_s: float) -> list[SampleBlock | StatusEvent]:
        """Rows ``(t_us, values...)`` -> blocks (after the rate is known) and status events."""
        if len(rows) == 0:
            return []
        if self.fs_hz is None:
            self._pending.append(rows)
            allrows = np.concatenate(self._pending)
            if self.fs_hint_hz is None and len(allrows) < self.rate_rows:
                return []
            self._pending = []
            self._set_rate(allrows)
            rows = allrows
        return self._place(rows, host_time_s)

    def _set_rate(self, rows: np.ndarray) -> None:
        if self.fs_hint_hz:
            self.fs_hz = float(self.fs_hint_hz)
        else:
            dt = np.diff(rows[:, 0])
            good = dt[(dt > 0)]
            if len(good) == 0:
                raise SourceError(
                    f"{self.source_name}: the time column does not increase in the first {len(rows)} "
                    f"lines; the first column must be the device time in ms (or µs with a t_us header)"
                )
            med = float(np.median(good))
            steady = good[good < 3 * med]
            self.fs_hz = _snap_rate(1e6 / float(np.mean(steady)))
        self._check_units(rows)

    def _check_units(self, rows: np.ndarray) -> None:
        mag = float(np.median(np.linalg.norm(rows[:, 1:4], axis=1))) * self._accel_k / STANDARD_GRAVITY
        # Typical |a| is 1 g (at rest, and on average through any movement).
        if 0.3 <= mag <= 4.0:
            return
        raw = mag * STANDARD_GRAVITY / self._accel_k
        guess = None
        for unit, k in ACCEL_UNITS.items():
            if 0.5 <= raw * k / STANDARD_GRAVITY <= 2.0:
                guess = unit
        hint = f"; it looks like {guess}: pass --accel-unit {guess}" if guess else ""
        raise UnitError(
            f"the accelerometer reads a typical |a| of {raw:.4g} {self.accel_unit} "
            f"({mag:.3g} g), not about 1 g{hint}",
            path=self.source_name,
        )

    def _place(self, rows: np.ndarray, host_time_s: float) -> list[SampleBlock | StatusEvent]:
        assert self.fs_hz is not None
        period_us = 1e6 / self.fs_hz
        tl = self._tl
        events: list[SampleBlock | StatusEvent] = []
        run_t: list[float] = []
        run_v: list[np.ndarray] = []
        run_dropped = 0

        def flush() -> None:
            nonlocal run_t, run_v, run_dropped
            if run_t:
                events.append(self._block(np.asarray(run_t), np.asarray(run_v), run_dropped, host_time_s))
            run_t, run_v, run_dropped = [], [], 0

        if self._held is not None:
            rows = np.vstack([self._held, rows])
            self._held = None
        for i in range(len(rows)):
            t = float(rows[i, 0])
            dropped = 0
            if self._prev_t is None:
                tl.offset_us = 0.0  # session time is device time
            else:
                step = t - self._prev_t
                if self._prev_t >= _U32 // 2 and -_U32 < step < -(_U32 // 2):
                    # A sketch printing micros() (t_us column): the u32 wrapped after 71.6 min.
                    tl.offset_us += _U32
                    step += _U32
                if self._link_break:
                    # Back after a reconnect: did the device clock run on, or restart?
                    # No sequence numbers in text: ask the host clock where the device clock should be
                    # now.  A restarted clock is off by the whole session so far; latency is not.
                    expected = self.clock.to_device(host_time_s) * 1e6 if self.clock.ready else None
                    outage_us = 0.0 if expected is None else expected - (tl.last_session_end_us or 0.0)
                    plausible = expected is not None and abs(t + tl.offset_us - expected) <= max(
                        1e6, 0.5 * outage_us)
                    if step > 0 and plausible:
                        dropped = max(0, int(round(step / period_us)) - 1)
                    else:
                        dropped = self._rebase(t, host_time_s, period_us, events)
                elif step < -1e6:
                    dropped = self._rebase(t, host_time_s, period_us, events)  # the device restarted
                elif step < -max(2 * period_us, 2000.0):
                    self.bad_rows += 1  # out of order: a corrupted line
                    continue
                elif step > self.SUSPICIOUS_JUMP_S * 1e6:
                    if i + 1 >= len(rows):
                        self._held = rows[i:].copy()  # believe it only if the next line agrees
                        break
                    nxt = float(rows[i + 1, 0]) - t
                    if not 0 < nxt <= 3 * period_us + 1e5:
                        self.bad_rows += 1  # a lone wild timestamp: a corrupted line
                        continue
                    dropped = int(round(step / period_us)) - 1
                elif step > 1.5 * period_us:
                    dropped = int(round(step / period_us)) - 1
            self._link_break = False
            if dropped > 0:
                flush()
                run_dropped = dropped
                self.dropped_samples += dropped
                self.gaps += 1
            t_sess = t + tl.offset_us
            if self._prev_t is not None and tl.last_session_end_us is not None:
                floor = tl.last_session_end_us - 0.5 * period_us  # half a period after the previous row
                if t_sess < floor:
                    # Quantised or jittery stamps (millis() at 1 kHz): keep the sample, in order.
                    t_sess = floor
                    self.jitter_clamps += 1
            run_t.append(t_sess)
            run_v.append(rows[i, 1:])
            self._prev_t = t
            tl.last_device_us = t + period_us
            tl.last_session_end_us = t_sess + period_us
            tl.last_host_s = host_time_s
        flush()
        return events

    def _rebase(self, t: float, host_time_s: float, period_us: float, events: list) -> int:
        """Device restarted: continue session time across the outage; returns samples missed."""
        assert self.fs_hz is not None and self._tl.last_session_end_us is not None
        before = self._tl.last_session_end_us
        start = self._tl.rebase(t, host_time_s=host_time_s, period_us=period_us)
        gap_s = (start - before) / 1e6
        events.append(StatusEvent(
            state="device_restarted",
            message=f"{self.source_name}: the device clock restarted; bridged about {gap_s:.2f} s "
            f"with the host clock",
            details={"bridged_s": round(gap_s, 6)},
        ))
        return max(0, int(round(gap_s * self.fs_hz)))

    def _block(self, t_us: np.ndarray, vals: np.ndarray, dropped: int, host_time_s: float) -> SampleBlock:
        assert self.fs_hz is not None
        t_s = t_us / 1e6
        accel = vals[:, 0:3] * self._accel_k
        gyro = vals[:, 3:6] * self._gyro_k if vals.shape[1] == 6 else None
        self.samples += len(t_s)
        self.clock.add(device_s=float(t_s[-1]), host_s=host_time_s)
        return SampleBlock(t_s=t_s, accel=accel, gyro=gyro, fs_hz=self.fs_hz, dropped=dropped,
                           host_time_s=host_time_s)


class WireDecoder:
    """Bytes from a port -> sample blocks and status events, with format auto-detection.

    Parameters
    ----------
    source_name : str
        Port or device name for messages.
    wire_format : {"auto", "binary", "text"}
        ``auto`` looks at the first bytes (:func:`detect_format`) and then sticks
        to what it found.
    accel_unit, gyro_unit : str or None
        Declared units of the text format (ignored for binary, which announces scales).
    detect_limit_bytes : int
        Bytes kept while detecting; older bytes are counted as garbage.

    Notes
    -----
    Runs in the serial reader thread; one owner only.  Blocks decoded from one
    chunk are merged when they are contiguous, so a busy reader hands over fewer,
    larger blocks.
    """

    def __init__(
        self, *, source_name: str, wire_format: str = "auto", accel_unit: str | None = None,
        gyro_unit: str | None = None, detect_limit_bytes: int = 16384,
    ) -> None:
        if wire_format not in ("auto", "binary", "text"):
            raise SourceError(f"wire format must be auto, binary or text, got {wire_format!r}")
        self.source_name = source_name
        self.format: WireFormat | None = None if wire_format == "auto" else wire_format  # type: ignore[assignment]
        self.detect_limit_bytes = detect_limit_bytes
        self._detect_buf = bytearray()
        self._detect_garbage = 0
        self.frames = FrameReader()
        self.lines = TextLineReader()
        self.frame_stream = FrameStream(source_name=source_name)
        self.text_stream = TextStream(source_name=source_name, accel_unit=accel_unit, gyro_unit=gyro_unit)
        self.bytes_in = 0

    def link_reset(self) -> None:
        """The port was reopened: drop partial packets; the device may have restarted."""
        self.frames.reset()
        self.lines.reset()
        self.frame_stream.link_reset()
        self.text_stream.link_reset()

    def feed(self, chunk: bytes, *, host_time_s: float) -> list[SampleBlock | StatusEvent]:
        """Bytes in (any chunking) -> blocks and status events, in stream order."""
        self.bytes_in += len(chunk)
        if self.format is None:
            self._detect_buf += chunk
            fmt = detect_format(bytes(self._detect_buf))
            if fmt is None:
                if len(self._detect_buf) > self.detect_limit_bytes:
                    keep = self.detect_limit_bytes // 4
                    self._detect_garbage += len(self._detect_buf) - keep
                    del self._detect_buf[:-keep]
                return []
            self.format = fmt
            chunk = bytes(self._detect_buf)
            self._detect_buf.clear()
        if self.format == "binary":
            items: list[SampleBlock | StatusEvent] = []
            for frame in self.frames.feed(chunk):
                items.extend(self.frame_stream.feed(frame, host_time_s=host_time_s))
        else:
            rows = self.lines.feed(chunk)
            self.text_stream.fs_hint_hz = self.lines.fs_hint_hz
            items = self.text_stream.feed(rows, host_time_s=host_time_s)
        return _merge(items)

    @property
    def fs_hz(self) -> float | None:
        if self.format == "binary":
            return self.frame_stream.header.fs_hz if self.frame_stream.header else None
        if self.format == "text":
            return self.text_stream.fs_hz
        return None

    @property
    def clock(self) -> ClockMap:
        return self.frame_stream.clock if self.format != "text" else self.text_stream.clock

    def stats(self) -> WireStats:
        """A snapshot of the health counters."""
        garbage = self._detect_garbage
        if self.format == "text":
            ts = self.text_stream
            return WireStats(
                format="text", fs_hz=ts.fs_hz, channels=(self.lines.columns or 1) - 1 if self.lines.columns else None,
                samples=ts.samples, dropped_samples=ts.dropped_samples, gaps=ts.gaps,
                frames=self.lines.lines, corrupt_frames=ts.bad_rows,
                garbage_bytes=garbage + self.lines.garbage_bytes, restarts=ts.restarts,
                jitter_clamps=ts.jitter_clamps, text_frames=self.lines.comment_lines,
                last_text=self.lines.last_comment,
                skew_ppm=ts.clock.skew_ppm if ts.clock.ready else None,
            )
        fs = self.frame_stream
        h = fs.header
        return WireStats(
            format=self.format, fs_hz=h.fs_hz if h else None, channels=h.channels if h else None,
            device_name=h.device_name if h else "", samples=fs.samples, dropped_samples=fs.dropped_samples,
            gaps=fs.gaps, frames=self.frames.frames, corrupt_frames=self.frames.corrupt_frames,
            garbage_bytes=garbage + self.frames.garbage_bytes, text_frames=fs.text_frames,
            duplicate_frames=fs.duplicate_frames, frames_before_header=fs.frames_before_header,
            restarts=fs.restarts, jitter_clamps=fs.jitter_clamps, last_text=fs.last_text,
            skew_ppm=fs.clock.skew_ppm if fs.clock.ready else None,
        )


def _merge(items: list[SampleBlock | StatusEvent]) -> list[SampleBlock | StatusEvent]:
    """Join runs of contiguous blocks (no drop between them) into one block each."""
    out: list[SampleBlock | StatusEvent] = []
    run: list[SampleBlock] = []

    def close() -> None:
        if not run:
            return
        if len(run) == 1:
            out.append(run[0])
        else:
            first = run[0]
            out.append(SampleBlock(
                t_s=np.concatenate([b.t_s for b in run]),
                accel=np.concatenate([b.accel for b in run]),
                gyro=None if first.gyro is None else np.concatenate([b.gyro for b in run]),  # type: ignore[misc]
                fs_hz=first.fs_hz, dropped=first.dropped, host_time_s=run[-1].host_time_s,
            ))
        run.clear()

    for it in items:
        if isinstance(it, SampleBlock):
            if run and (it.dropped or it.fs_hz != run[0].fs_hz or (it.gyro is None) != (run[0].gyro is None)):
                close()
            run.append(it)
        else:
            close()
            out.append(it)
    close()
    return out
