"""Live samples from a serial port (USB CDC or a UART bridge), through pyserial.

:class:`SerialSource` is a :class:`~imu_tempo.sources.Source`: an async
context manager and an async iterator of :class:`~imu_tempo.types.SampleBlock`.

How it works
------------
A reader thread owns the port.  It reads whatever bytes are waiting, decodes
them (:class:`~imu_tempo.sources.wire.WireDecoder`: format auto-detection,
COBS/CRC frames or text lines, sequence gaps, clock unwrapping) and hands the
resulting blocks to the event loop with ``loop.call_soon_threadsafe``.  The
event loop never blocks on the port, and the thread never waits for the
analysis: the hand-over queue is bounded in *samples* (``max_pending_samples``);
if the analysis ever falls that far behind, the newest blocks are dropped,
counted, announced in a status event, and the next block delivered carries the
loss in ``dropped`` so the engine sees a gap.  Before that, a consumer that is
merely slow gets the contiguous blocks waiting for it merged into one, so it
catches up with fewer, larger blocks.

Errors travel through the same queue as the data, so the consumer's
``async for`` raises them in order, after every sample that came before.

Losing the device
-----------------
A read error (cable pulled) or silence for ``stall_s`` (a hung board: the
watchdog) emits a ``lost`` status at once; the source then reopens the port
with backoff (50 ms doubling to 1 s) for up to ``reconnect_s`` seconds,
emitting ``reconnecting``, and ``resumed`` when samples flow again: the same
iteration continues, so the session goes on.  Session time keeps increasing:
if the device's clock ran on, the gap is measured on it; if the device
restarted, the outage is bridged with the host clock.  After ``reconnect_s``
without the device, the iteration raises
:class:`~imu_tempo.errors.SourceLost` (or :class:`~imu_tempo.errors.SourceStalled`).

Status events go to the ``status`` callback (sync or async, called in the
event loop's thread; its exceptions propagate).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import serial
import serial.tools.list_ports

from ..errors import SourceLost, SourceNotFound, SourceStalled
from ..types import SampleBlock, StatusEvent
from . import StatusCallback
from .wire import WireDecoder, WireStats

__all__ = ["SerialSource", "SerialStats", "PortInfo", "list_ports", "classify_port", "WEARABLE_USB_IDS"]

#: Largest block handed to the analysis when waiting blocks are merged (samples).
MERGE_MAX_SAMPLES = 4096


class _OverflowStarted:
    """Queue item: the hand-over is full and the reader thread started dropping blocks."""

    __slots__ = ()


class _Lost:
    """Queue item: the reader thread lost the port."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SerialStats:
    """What happened on the link (a snapshot)."""

    port: str
    wire: WireStats
    reconnects: int
    overflow_dropped: int
    bytes_in: int

    def to_json(self) -> dict[str, Any]:
        w = self.wire
        return {
            "port": self.port, "format": w.format, "fs_hz": w.fs_hz, "channels": w.channels,
            "device": w.device_name, "samples": w.samples, "dropped_samples": w.dropped_samples + self.overflow_dropped,
            "gaps": w.gaps, "corrupt_frames": w.corrupt_frames, "garbage_bytes": w.garbage_bytes,
            "reconnects": self.reconnects, "device_restarts": w.restarts, "overflow_dropped": self.overflow_dropped,
            "bytes_in": self.bytes_in,
            "clock_skew_ppm": None if w.skew_ppm is None else round(w.skew_ppm, 1),
        }


class SerialSource:
    """Sample blocks from a wearable on a serial port.

    Parameters
    ----------
    port : str
        Device path (``/dev/ttyACM0``, ``COM5``, a pty, a ``/dev/serial/by-id`` link).
    baud : int
        Line rate for UART bridges; ignored by native USB CDC devices and ptys.
    wire_format : {"auto", "binary", "text"}
        See :mod:`imu_tempo.sources.wire`.
    accel_unit, gyro_unit : str or None
        Declared units of the text format (``--accel-unit``, ``--gyro-unit``).
    reconnect_s : float
        How long to keep retrying a lost port before giving up (0: give up at once).
    status : callable or None
        ``status(StatusEvent)``, sync or async, in the event loop's thread.
    stall_s : float
        Silence (no samples) that counts as a lost device while streaming.
    first_data_s : float
        Time allowed after opening for the first samples (boards that reset on
        open take about 2 s); past it the iteration raises SourceStalled.
    max_pending_samples : int
        Bound of the thread-to-loop hand-over, in samples.
    idle_end : callable or None
        Called when no samples came for ``stall_s``; if it returns True the
        iteration ends normally instead of treating silence as a loss (the demo
        wearable uses it when its set is over).

    Raises
    ------
    SourceNotFound
        On entering, if the port cannot be opened (the message lists the ports that exist).
    """

    def __init__(
        self,
        port: str,
        *,
        baud: int = 115200,
        wire_format: str = "auto",
        accel_unit: str | None = None,
        gyro_unit: str | None = None,
        reconnect_s: float = 30.0,
        status: StatusCallback | None = None,
        stall_s: float = 2.0,
        first_data_s: float = 5.0,
        max_pending_samples: int = 200_000,
        idle_end: Callable[[], bool] | None = None,
    ) -> None:
        if reconnect_s < 0:
            raise ValueError(f"reconnect_s must be >= 0, got {reconnect_s!r}")
        self.name = port
        self.port = port
        self.baud = baud
        self.reconnect_s = float(reconnect_s)
        self.status = status
        self.stall_s = float(stall_s)
        self.first_data_s = float(first_data_s)
        self.max_pending_samples = int(max_pending_samples)
        self.idle_end = idle_end
        self.decoder = WireDecoder(source_name=port, wire_format=wire_format, accel_unit=accel_unit,
                                   gyro_unit=gyro_unit)
        self.reconnects = 0
        self.overflow_dropped = 0
        self._ser: serial.Serial | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._items: deque[Any] = deque()  # the hand-over: filled by the loop on the thread's behalf
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._unreported_overflow = 0
        self._overflow_to_mark = 0
        self._streamed = False
        self._last_t_s: float | None = None

    # -- Source protocol -------------------------------------------------------------
    async def __aenter__(self) -> SerialSource:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        await asyncio.to_thread(self._open)
        self._start_reader()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop_reader()

    def __aiter__(self) -> AsyncIterator[SampleBlock]:
        return self._iterate()

    @property
    def backlog(self) -> int:
        """Items handed over by the reader thread and not yet consumed (blocks, status, errors)."""
        return len(self._items)

    def stats(self) -> SerialStats:
        """Link health so far (safe to call from the event loop while streaming)."""
        return SerialStats(port=self.port, wire=self.decoder.stats(), reconnects=self.reconnects,
                           overflow_dropped=self.overflow_dropped, bytes_in=self.decoder.bytes_in)

    # -- the port and the reader thread ---------------------------------------------
    def _open(self) -> None:
        try:
            ser = serial.Serial(self.port, self.baud, timeout=0.05, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise SourceNotFound(_open_error(self.port, exc)) from None
        self._ser = ser

    def _start_reader(self) -> None:
        assert self._ser is not None
        self._stop.clear()
        self._thread = threading.Thread(target=self._read_loop, args=(self._ser,), name=f"serial-reader {self.port}",
                                        daemon=True)
        self._thread.start()

    async def _stop_reader(self) -> None:
        self._stop.set()
        ser, self._ser = self._ser, None
        if ser is not None:
            try:
                ser.cancel_read()
            except Exception:  # noqa: BLE001 - a dead port may refuse; closing below is what matters
                pass
        t, self._thread = self._thread, None
        if t is not None:
            await asyncio.to_thread(t.join, 2.0)
        if ser is not None:
            await asyncio.to_thread(_close_quietly, ser)

    def _read_loop(self, ser: serial.Serial) -> None:
        """Reader thread: bytes -> decoder -> loop.  Never waits for the consumer."""
        decoder = self.decoder
        try:
            while not self._stop.is_set():
                try:
                    data = ser.read(max(1, ser.in_waiting))
                except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                    if not self._stop.is_set():
                        self._post(_Lost(_describe_read_error(exc)))
                    return
                if not data:
                    continue
                items = decoder.feed(data, host_time_s=time.monotonic())
                for item in items:
                    if isinstance(item, SampleBlock):
                        item = self._admit(item)
                        if item is None:
                            continue
                    self._post(item)
        except BaseException as exc:  # decode errors (UnitError, ...) and bugs go to the consumer
            self._post(exc)

    def _admit(self, block: SampleBlock) -> SampleBlock | None:
        """Bounded hand-over: drop (and count) when the consumer is too far behind."""
        n = len(block)
        with self._lock:
            if self._pending + n > self.max_pending_samples:
                first = self._overflow_to_mark == 0
                self.overflow_dropped += n
                self._unreported_overflow += n
                self._overflow_to_mark += n
                if first:
                    self._post(_OverflowStarted())  # in order: after the blocks still queued
                return None
            self._pending += n
            mark, self._overflow_to_mark = self._overflow_to_mark, 0
        if mark:
            block = dataclasses.replace(block, dropped=block.dropped + mark)
        return block

    def _post(self, item: Any) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._push, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self._stop.set()

    def _push(self, item: Any) -> None:
        """In the loop's thread: append to the hand-over and wake the consumer."""
        self._items.append(item)
        assert self._wakeup is not None
        self._wakeup.set()

    async def _next_item(self, timeout_s: float) -> Any:
        """The next item, or TimeoutError after ``timeout_s`` without one.

        Contiguous sample blocks already waiting are merged into one (up to
        ``MERGE_MAX_SAMPLES``): when the analysis falls behind it gets fewer,
        larger blocks and catches up; when it keeps up nothing waits and
        nothing is delayed.
        """
        assert self._wakeup is not None
        if not self._items:
            self._wakeup.clear()
            await asyncio.wait_for(self._wakeup.wait(), timeout=timeout_s)
        item = self._items.popleft()
        if isinstance(item, SampleBlock):
            run = [item]
            n = len(item)
            while self._items and n < MERGE_MAX_SAMPLES:
                nxt = self._items[0]
                if not (isinstance(nxt, SampleBlock) and nxt.dropped == 0 and nxt.fs_hz == item.fs_hz
                        and (nxt.gyro is None) == (item.gyro is None)):
                    break
                run.append(self._items.popleft())
                n += len(nxt)
            if len(run) > 1:
                item = SampleBlock(
                    t_s=np.concatenate([b.t_s for b in run]), accel=np.concatenate([b.accel for b in run]),
                    gyro=None if item.gyro is None else np.concatenate([b.gyro for b in run]),  # type: ignore[misc]
                    fs_hz=item.fs_hz, dropped=item.dropped, host_time_s=run[-1].host_time_s,
                )
        return item

    # -- the consumer side ------------------------------------------------------------
    async def _emit(self, event: StatusEvent) -> None:
        if self.status is None:
            return
        r = self.status(event)
        if inspect.isawaitable(r):
            await r

    async def _iterate(self) -> AsyncIterator[SampleBlock]:
        last_data = time.monotonic()
        lost_since: float | None = None  # host time the current outage began
        lost_reason = ""
        lost_stalled = False
        announce: str | None = "streaming"
        last_health = (0, 0)
        last_health_t = -1e9  # the first damage is reported at once, then at most once a second
        while True:
            allowed = self.stall_s if self._streamed else self.first_data_s
            timeout = max(0.01, last_data + allowed - time.monotonic())
            try:
                item = await self._next_item(timeout)
            except TimeoutError:
                if self.idle_end is not None and self.idle_end():
                    return
                if not self._streamed and lost_since is None:
                    raise SourceStalled(self._silence_message()) from None
                if lost_since is None:
                    lost_since, lost_stalled = time.monotonic(), True
                    lost_reason = f"no samples for {self.stall_s:g} s (device hung or unplugged)"
                    await self._announce_loss(lost_reason)
                await self._reconnect(lost_since, lost_reason, stalled=lost_stalled)
                announce = "resumed"
                last_data = time.monotonic()
                continue
            if isinstance(item, SampleBlock):
                with self._lock:
                    self._pending -= len(item)
                last_data = time.monotonic()
                if self._unreported_overflow:
                    with self._lock:
                        k, self._unreported_overflow = self._unreported_overflow, 0
                    await self._emit(StatusEvent(
                        state="overflow",
                        message=f"{self.port}: the analysis fell behind; {k} samples dropped "
                        f"({self.overflow_dropped} in total)",
                        at_s=float(item.t_s[0]), details={"dropped": k, "total_dropped": self.overflow_dropped},
                    ))
                if announce is not None:
                    await self._emit(self._stream_status(announce, item, lost_since))
                    announce = None
                    lost_since = None
                self._streamed = True
                self._last_t_s = float(item.t_s[-1])
                now = time.monotonic()
                if now - last_health_t >= 1.0:
                    reported = await self._report_health(last_health, item)
                    if reported != last_health:
                        last_health, last_health_t = reported, now
                yield item
            elif isinstance(item, StatusEvent):
                await self._emit(item)
            elif isinstance(item, _OverflowStarted):
                await self._emit(StatusEvent(
                    state="overflow",
                    message=(f"{self.port}: the analysis fell behind by {self.max_pending_samples} samples; "
                             f"dropping new samples until it catches up (the count follows)"),
                    at_s=self._last_t_s, details={"dropped": 0, "total_dropped": self.overflow_dropped},
                ))
            elif isinstance(item, _Lost):
                if lost_since is None:
                    lost_since, lost_stalled, lost_reason = time.monotonic(), False, item.reason
                    await self._announce_loss(item.reason)
                await self._reconnect(lost_since, lost_reason, stalled=lost_stalled)
                announce = "resumed"
                last_data = time.monotonic()
            elif isinstance(item, BaseException):
                raise item
            else:  # pragma: no cover - defensive
                raise TypeError(f"unexpected item from the reader thread: {item!r}")

    async def _announce_loss(self, reason: str) -> None:
        s = self.decoder.stats()
        keep = f"keeping the {s.samples} samples received"
        retry = (f"; retrying for up to {self.reconnect_s:g} s (--reconnect-s)" if self.reconnect_s > 0
                 else "")
        await self._emit(StatusEvent(
            state="lost", message=f"{self.port}: {reason}; {keep}{retry}", at_s=self._last_t_s,
            details={"reason": reason, "samples": s.samples},
        ))

    async def _reconnect(self, lost_since: float, reason: str, *, stalled: bool) -> None:
        """Reopen the port with backoff until ``lost_since + reconnect_s``; raise when out of time."""
        await self._stop_reader()
        deadline = lost_since + self.reconnect_s
        delay = 0.05
        attempts = 0
        last_note = -1e9
        while True:
            now = time.monotonic()
            if now >= deadline:
                msg = (f"{self.port}: {reason}; the device did not come back within {self.reconnect_s:g} s"
                       if self.reconnect_s > 0 else f"{self.port}: {reason}")
                if stalled:
                    raise SourceStalled(msg)
                raise SourceLost(msg, reason="disconnected")
            if now - last_note >= 5.0:
                last_note = now
                await self._emit(StatusEvent(
                    state="reconnecting",
                    message=f"{self.port}: waiting for the device ({deadline - now:.0f} s left)",
                    at_s=self._last_t_s, details={"attempts": attempts},
                ))
            try:
                await asyncio.to_thread(self._open)
            except SourceNotFound:
                attempts += 1
                await asyncio.sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 1.0)
                continue
            self.reconnects += 1
            self.decoder.link_reset()
            self._start_reader()
            return

    def _stream_status(self, state: str, block: SampleBlock, lost_since: float | None) -> StatusEvent:
        s = self.decoder.stats()
        what = "binary frames" if s.format == "binary" else "text lines"
        ch = s.channels or (6 if block.gyro is not None else 3)
        sensors = "accel+gyro" if ch == 6 else "accel only"
        dev = f", device {s.device_name!r}" if s.device_name else ""
        details: dict[str, Any] = {"port": self.port, "format": s.format, "fs_hz": block.fs_hz, "channels": ch}
        if s.device_name:
            details["device"] = s.device_name
        if state == "resumed" and lost_since is not None:
            outage = time.monotonic() - lost_since
            details["outage_s"] = round(outage, 3)
            details["dropped"] = block.dropped
            msg = (f"{self.port}: the device is back after {outage:.1f} s; same session continues "
                   f"({block.dropped} samples missed)")
        else:
            msg = f"{self.port}: {what}, {block.fs_hz:g} Hz, {sensors}{dev}"
        return StatusEvent(state=state, message=msg, at_s=float(block.t_s[0]), details=details)

    async def _report_health(self, last: tuple[int, int], block: SampleBlock) -> tuple[int, int]:
        s = self.decoder.stats()
        now = (s.corrupt_frames, s.garbage_bytes)
        if now != last and self._streamed:
            await self._emit(StatusEvent(
                state="stream_errors",
                message=(f"{self.port}: skipped {now[0] - last[0]} corrupt frames and {now[1] - last[1]} "
                         f"garbage bytes ({now[0]} and {now[1]} in total)"),
                at_s=float(block.t_s[0]),
                details={"corrupt_frames": s.corrupt_frames, "garbage_bytes": s.garbage_bytes},
            ))
        return now

    def _silence_message(self) -> str:
        s = self.decoder.stats()
        n = self.decoder.bytes_in
        if n == 0:
            return (f"{self.port}: no data within {self.first_data_s:g} s of opening the port. Is the firmware "
                    f"running and printing? (`imu-tempo ports` lists the ports; `imu-tempo live --demo` "
                    f"shows what a working stream looks like)")
        if s.format is None:
            return (f"{self.port}: received {n} bytes but neither text samples (t_ms,ax,ay,az[,gx,gy,gz] "
                    f"lines) nor binary frames. Check that --baud ({self.baud}) matches the firmware, and "
                    f"see firmware_notes/packet_format.md")
        if s.format == "binary" and s.frames_before_header:
            return (f"{self.port}: binary samples arrive but no header packet, so their scale is unknown. "
                    f"The firmware must send a header packet at connect and every second")
        return (f"{self.port}: received {n} bytes in {s.format} format but no complete samples "
                f"({s.corrupt_frames} corrupt frames, {s.garbage_bytes} garbage bytes)")


def _close_quietly(ser: serial.Serial) -> None:
    try:
        ser.close()
    except Exception:  # noqa: BLE001 - closing a port whose device vanished may fail; it is gone either way
        pass


def _describe_read_error(exc: BaseException) -> str:
    text = str(exc)
    if "returned no data" in text or "disconnected" in text or "Input/output error" in text:
        return "the device disconnected (unplugged?)"
    return f"read failed: {text}"


def _open_error(port: str, exc: BaseException) -> str:
    text = str(exc)
    if "Permission denied" in text or "Errno 13" in text:
        return (f"{port}: permission denied. On Linux add yourself to the 'dialout' group "
                f"(sudo usermod -aG dialout $USER, then log in again)")
    if "busy" in text.lower() or "Errno 16" in text or "lock" in text.lower():
        return f"{port}: the port is busy (another program, e.g. a serial monitor, has it open)"
    names = [p.device for p in list_ports(include_all=True)]
    exists = f"ports here: {', '.join(names)}" if names else "no serial ports found on this machine"
    return (f"{port}: cannot open the port ({text}). {exists}. Run `imu-tempo ports`, or try "
            f"`imu-tempo live --demo` without hardware")


# =====================================================================================
# Port discovery (`imu-tempo ports`)

#: USB vendor IDs of boards and bridges that wearables are built on.
WEARABLE_USB_IDS: dict[int, str] = {
    0x2341: "Arduino", 0x2A03: "Arduino", 0x239A: "Adafruit", 0x2886: "Seeed Studio", 0x303A: "Espressif (ESP32-S2/S3/C3)",
    0x2E8A: "Raspberry Pi (RP2040)", 0x1915: "Nordic Semiconductor", 0x1B4F: "SparkFun", 0x16C0: "Teensy (PJRC)",
    0x0483: "STMicroelectronics", 0x10C4: "Silicon Labs CP210x bridge", 0x1A86: "WCH CH340/CH9102 bridge",
    0x0403: "FTDI bridge", 0x067B: "Prolific bridge", 0x1366: "SEGGER J-Link CDC", 0x0D28: "Arm DAPLink (micro:bit)",
}


@dataclass(frozen=True, slots=True)
class PortInfo:
    """A serial port and why it may be a wearable."""

    device: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    likely: bool
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device, "description": self.description,
            "vid": None if self.vid is None else f"{self.vid:04x}", "pid": None if self.pid is None else f"{self.pid:04x}",
            "serial_number": self.serial_number, "likely": self.likely, "why": self.why,
        }


def classify_port(info: Any) -> PortInfo:
    """Judge one ``serial.tools.list_ports`` entry."""
    dev = info.device
    vid, pid = getattr(info, "vid", None), getattr(info, "pid", None)
    desc = info.description if info.description and info.description != "n/a" else ""
    if vid is not None and vid in WEARABLE_USB_IDS:
        return PortInfo(dev, desc, vid, pid, info.serial_number, True, WEARABLE_USB_IDS[vid])
    base = dev.rsplit("/", 1)[-1]
    if vid is not None:
        return PortInfo(dev, desc, vid, pid, info.serial_number, True, "USB serial device")
    if base.startswith(("ttyACM", "ttyUSB", "cu.usbmodem", "cu.usbserial", "tty.usbmodem")):
        return PortInfo(dev, desc, vid, pid, info.serial_number, True, "USB serial device")
    return PortInfo(dev, desc, vid, pid, info.serial_number, False, "built-in or virtual port")


def list_ports(*, include_all: bool = False, comports: Callable[[], list[Any]] | None = None) -> list[PortInfo]:
    """Serial ports that look like wearables (all ports with ``include_all``).

    Parameters
    ----------
    include_all : bool
        Also list built-in UARTs and virtual ports.
    comports : callable, optional
        Replaces :func:`serial.tools.list_ports.comports` (pseudo-terminals are
        never listed by it, so tests pass their own entries).
    """
    found = (comports or serial.tools.list_ports.comports)()
    ports = [classify_port(p) for p in found]
    ports.sort(key=lambda p: (not p.likely, p.device))
    return [p for p in ports if include_all or p.likely]
