"""``BleSource``: a live BLE wearable as an imu-tempo :class:`~imu_tempo.sources.Source`.

How data flows (one event loop, no threads of our own)::

    bleak notification callback --decode--> queue --> async iterator --timeline--> SampleBlock
    bleak disconnected callback ----------> queue --> reconnect with backoff, restart the stream

* The notification callback only decodes and enqueues.  A decode error is enqueued too and
  raised (or reported) by the consumer, never swallowed in the callback.
* Frames are placed on the device clock by :class:`~.timeline.Timeline`: batches with one
  timestamp per frame are spread over their samples, gaps become ``SampleBlock.dropped``.
* A dropped connection (out of range, flat battery) or a stalled stream keeps the session:
  the source scans again, reconnects (``bleak-retry-connector`` handles the per-attempt retry
  and its backoff; this class backs off between rounds), re-sends the start sequence and
  reports the outage through ``status`` events (``"lost"``, ``"reconnecting"``,
  ``"resumed"``) and the first block after it (``dropped``).  Every frame that arrived before
  the loss is yielded before the reconnect starts, so a recorder loses nothing that arrived.
  After ``reconnect_s`` without success the iterator raises
  :class:`~imu_tempo.errors.SourceLost`.

Threading: construct, enter and iterate on one event loop.  Callbacks from a backend that
fires them on another thread are handed to the loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from ...errors import PacketDecodeError, SourceError, SourceLost, SourceNotFound
from ...types import SampleBlock, StatusEvent
from .profiles import (
    PROFILES,
    DeviceBusy,
    Profile,
    ProfileMismatch,
    Stream,
    get_profile,
    profiles_for_services,
)
from .scan import FoundDevice, bluetooth_unavailable, find_device
from .timeline import Placement, Timeline

#: Undecodable notifications in a row (after the stream worked) before the source gives up.
MAX_BAD_NOTIFICATIONS = 10
_CLOSE_TIMEOUT_S = 2.0


class BleSource:
    """Stream accelerometer samples from a BLE wearable.

    Parameters
    ----------
    name_or_address : str
        Advertised name (``"Polar Sense 1A2B3C4D"``) or address (``"AA:BB:CC:DD:EE:FF"``).
        Exact matches (case-insensitive) win; otherwise one device whose name contains it.
    profile : str, optional
        Force a profile (``"nus"``, ``"polar"``, ``"movesense"``).  By default the profile is
        picked from the advertisement and confirmed from the device's GATT services.
    reconnect_s : float
        How long to keep trying after the link drops before raising ``SourceLost`` (seconds);
        0 gives up at once.
    backend, scanner_backend : type, optional
        bleak client and scanner backend classes (the simulated link in tests and demos).
    status : callable(StatusEvent), optional
        Called on the event loop with connection health: ``"streaming"``, ``"lost"``,
        ``"reconnecting"``, ``"resumed"``, and ``"gap"`` (notifications lost or undecodable).
        May be a coroutine function.  Its exceptions propagate.
    fs_hz : float, optional
        Sample rate to request; by default the device's offered rate closest to 100 Hz.
    scan_timeout_s : float
        How long one scan for the device lasts (seconds).
    stall_s : float
        A connected device that sends nothing for this long counts as lost (seconds).
    connect_attempts : int
        Connection attempts per round (handed to ``bleak_retry_connector.establish_connection``).
    **backend_kwargs
        Passed to both backends (e.g. ``link=`` for the simulator).

    Attributes
    ----------
    name : str
        The device as found (``"Polar Sense 1A2B3C4D [AA:BB:…]"``), or what was asked for until then.
    profile : str or None
        The profile in use once connected.
    stream_description : str or None
        What the device streams (``"Polar PMD ACC 52 Hz, ±8 g"``).
    timeline : Timeline or None
        The session time axis (``origin_raw_s``: the device time of ``t = 0``).
    """

    def __init__(
        self,
        name_or_address: str,
        *,
        profile: str | None = None,
        reconnect_s: float = 30.0,
        backend: type | None = None,
        scanner_backend: type | None = None,
        status: Callable[[StatusEvent], Any] | None = None,
        fs_hz: float | None = None,
        scan_timeout_s: float = 10.0,
        stall_s: float = 5.0,
        connect_attempts: int = 3,
        **backend_kwargs: Any,
    ) -> None:
        if not name_or_address or not name_or_address.strip():
            raise ValueError("name_or_address must name a device (advertised name or address)")
        if reconnect_s < 0:
            raise ValueError(f"reconnect_s must be >= 0, got {reconnect_s!r}")
        if not (stall_s > 0 and scan_timeout_s > 0):
            raise ValueError("stall_s and scan_timeout_s must be positive")
        if profile is not None:
            get_profile(profile)  # fail early on a typo
        self.name = name_or_address
        self._target = name_or_address
        self._profile_name = profile.lower() if profile else None
        self._reconnect_s = float(reconnect_s)
        self._backend = backend
        self._scanner_backend = scanner_backend
        self._status = status
        self._fs_hz = fs_hz
        self._scan_timeout_s = float(scan_timeout_s)
        self._stall_s = float(stall_s)
        self._connect_attempts = int(connect_attempts)
        self._backend_kwargs = backend_kwargs
        self.backoff_initial_s = 0.25
        self.backoff_max_s = 4.0

        self.profile: str | None = None
        self.stream_description: str | None = None
        self.timeline: Timeline | None = None
        self.mtu: int | None = None
        self.reconnects = 0

        self._profile_obj: Profile | None = None
        self._client: Any = None
        self._stream: Stream | None = None
        self._decoder: Any = None
        self._pending: list[tuple[bytes, float]] = []
        self._conn_id = 0
        self._queue: asyncio.Queue[tuple[Any, ...]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._last_arrival: float | None = None
        self._outage_start: float | None = None
        self._good_frames = 0
        self._bad_in_row = 0
        self._entered = False
        self._closed = False

    # -- Source protocol -------------------------------------------------------------------------

    async def __aenter__(self) -> BleSource:
        if self._entered:
            raise RuntimeError("a BleSource can be entered only once")
        self._entered = True
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._queue = asyncio.Queue()
        try:
            device, found = await find_device(
                self._target, timeout_s=self._scan_timeout_s, backend=self._scanner_backend, **self._backend_kwargs
            )
            await self._connect_and_start(device, found)
        except BaseException:
            await self._drop_client()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._closed = True
        client, stream, profile = self._client, self._stream, self._profile_obj
        self._conn_id += 1  # ignore callbacks from here on
        self._client = None
        if client is not None and getattr(client, "is_connected", False):
            if stream is not None and profile is not None:
                await _quietly(profile.stop(client, stream))
            await _quietly(client.disconnect())
        if self._queue is not None:
            self._queue.put_nowait(("closed",))

    def __aiter__(self) -> AsyncIterator[SampleBlock]:
        if self._queue is None:
            raise RuntimeError("enter the source (`async with source:`) before iterating it")
        return self._blocks()

    def stats(self) -> dict[str, Any]:
        """Health counters for status lines and recording metadata (plain JSON types)."""
        tl = self.timeline
        return {
            "format": f"ble/{self.profile}" if self.profile else "ble",
            "port": self.name,
            "profile": self.profile,
            "stream": self.stream_description,
            "fs_hz": None if self._stream is None else self._stream.fs_hz,
            "mtu": self.mtu,
            "samples": 0 if tl is None else tl.samples_placed,
            "dropped_samples": 0 if tl is None else tl.samples_dropped,
            "lost_notifications": 0 if tl is None else tl.frames_lost,
            "reconnects": self.reconnects,
            "device_time_origin_s": None if tl is None else tl.origin_raw_s,
        }

    # -- the consumer side -------------------------------------------------------------------------

    async def _blocks(self) -> AsyncIterator[SampleBlock]:
        assert self._queue is not None
        while True:
            try:
                async with asyncio.timeout(self._stall_s):
                    item = await self._queue.get()
            except TimeoutError:
                item = ("lost", "stalled", f"{self.name} sent nothing for {self._stall_s:g} s", self._conn_id)
            kind = item[0]
            if kind == "closed":
                return
            if kind == "frame":
                _, frame, host_s, _conn = item
                block = await self._to_block(frame, host_s)
                if block is not None:
                    yield block
            elif kind == "error":
                _, exc, conn = item
                if conn == self._conn_id:
                    await self._decode_failed(exc)
            elif kind == "lost":
                _, reason, message, conn = item
                if conn == self._conn_id and not self._closed:
                    await self._recover(reason, message)

    async def _to_block(self, frame: Any, host_s: float) -> SampleBlock | None:
        assert self.timeline is not None and self._stream is not None
        placement = self.timeline.place(frame, host_s=host_s)
        self._good_frames += 1
        self._bad_in_row = 0
        if placement.duplicate:
            await self._emit("gap", f"{self.name}: duplicate notification ignored", duplicate=True)
            return None
        if placement.dropped or placement.lost_frames or placement.reanchored:
            await self._emit("gap", _gap_message(self.name, placement, self.timeline.fs_hz), **_gap_details(placement))
        if len(frame) == 0:
            return None
        return SampleBlock(
            t_s=placement.t_s,
            accel=frame.accel,
            gyro=frame.gyro,
            fs_hz=self._stream.fs_hz,
            dropped=placement.dropped,
            host_time_s=host_s,
        )

    async def _decode_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, PacketDecodeError):
            raise exc  # a bug in a decoder: loud, with its traceback
        hint = ""
        if self.mtu is not None and self.mtu <= 23:
            hint = (
                f" The link's ATT MTU is {self.mtu}: notifications are cut to {self.mtu - 3} bytes. "
                "The device or Bluetooth stack did not negotiate a larger MTU."
            )
        if self._good_frames == 0:
            raise PacketDecodeError(
                f"{self.name}: the first notification of the {self.profile} stream cannot be decoded: {exc}.{hint}"
                " Wrong --profile, or a firmware with another frame format?"
            ) from exc
        self._bad_in_row += 1
        if self._bad_in_row >= MAX_BAD_NOTIFICATIONS:
            raise PacketDecodeError(
                f"{self.name}: {self._bad_in_row} notifications in a row cannot be decoded; last: {exc}.{hint}"
            ) from exc
        await self._emit("gap", f"{self.name}: undecodable notification dropped: {exc}", decode_error=str(exc))

    # -- connecting --------------------------------------------------------------------------------

    async def _connect_and_start(self, device: Any, found: FoundDevice) -> None:
        from bleak import BleakClient
        from bleak.exc import BleakError
        from bleak_retry_connector import (
            BleakAbortedError,
            BleakConnectionError,
            BleakNotFoundError,
            BleakOutOfConnectionSlotsError,
            establish_connection,
        )

        label = found.label()
        self._conn_id += 1
        conn_id = self._conn_id
        self._decoder = None
        self._pending = []

        def on_disconnect(_client: Any) -> None:
            self._put(("lost", "disconnected", f"{label} disconnected", conn_id))

        try:
            client = await establish_connection(
                BleakClient,
                device,
                label,
                disconnected_callback=on_disconnect,
                max_attempts=self._connect_attempts,
                use_services_cache=False,
                backend=self._backend,
                **self._backend_kwargs,
            )
        except BleakOutOfConnectionSlotsError as exc:
            raise DeviceBusy(
                f"cannot connect to {label}: the Bluetooth adapter has no free connection slot ({exc}). "
                "Disconnect other BLE devices from this computer."
            ) from exc
        except BleakNotFoundError as exc:
            raise SourceNotFound(
                f"{label} stopped answering while connecting ({exc}). It may have connected to another "
                "phone or app in the meantime: disconnect it there."
            ) from exc
        except (BleakAbortedError, BleakConnectionError, BleakError, TimeoutError) as exc:
            if (mapped := bluetooth_unavailable(exc)) is not None:
                raise mapped from exc
            raise SourceError(
                f"cannot connect to {label}: {exc}. If it is connected to another phone or app "
                "(the device is busy), disconnect it there; otherwise move closer and retry."
            ) from exc
        except OSError as exc:
            if (mapped := bluetooth_unavailable(exc)) is not None:
                raise mapped from exc
            raise
        self._client = client
        try:
            profile = self._resolve_profile(client, found)
            self.mtu = _mtu(client)
            stream = await profile.start(
                client,
                fs_hz=self._fs_hz,
                on_data=lambda data: self._on_data(conn_id, data),
                on_control=lambda kind, message: self._on_control(conn_id, kind, message),
            )
        except BaseException:
            await self._drop_client()
            raise
        self._profile_obj = profile
        self._stream = stream
        self.profile = profile.name
        self.stream_description = stream.description
        self.name = label
        if self.timeline is None:
            self.timeline = Timeline(fs_hz=stream.fs_hz)
        elif stream.fs_hz != self.timeline.fs_hz:
            self.timeline.set_rate(stream.fs_hz)
        self._decoder = stream.decoder
        pending, self._pending = self._pending, []
        for data, host_s in pending:
            self._decode_and_put(conn_id, data, host_s)
        await self._emit(
            "streaming",
            f"{label}: {stream.description} ({profile.name} profile)",
            profile=profile.name,
            fs_hz=stream.fs_hz,
            address=found.address,
            mtu=self.mtu,
            **stream.details,
        )

    def _resolve_profile(self, client: Any, found: FoundDevice) -> Profile:
        services = {s.uuid.lower() for s in client.services}
        fits = profiles_for_services(services)
        if self._profile_obj is not None:  # reconnect: the device must still speak it
            wanted: Profile | None = self._profile_obj
        elif self._profile_name is not None:
            wanted = get_profile(self._profile_name)
        else:
            wanted = None
        if wanted is not None:
            if wanted.matches_services(services):
                return wanted
            others = f" It speaks: {', '.join(p.name for p in fits)} (use --profile {fits[0].name})." if fits else ""
            raise ProfileMismatch(
                f"{found.label()} does not speak the {wanted.name} profile: it has no {wanted.title} "
                f"service ({wanted.service_uuid}).{others} Its services: {', '.join(sorted(services))}"
            )
        if not fits:
            known = "; ".join(f"{p.name}: {p.service_uuid}" for p in PROFILES.values())
            raise ProfileMismatch(
                f"{found.label()} speaks no protocol imu-tempo knows. Its services: "
                f"{', '.join(sorted(services))}. Known profiles: {known}"
            )
        if found.profile is not None:
            for p in fits:
                if p.name == found.profile:
                    return p
        return fits[0]

    async def _recover(self, reason: str, message: str) -> None:
        lost_at = time.monotonic()
        last_arrival = self._last_arrival if self._last_arrival is not None else lost_at
        await self._emit("lost", message, reason=reason, reconnect_s=self._reconnect_s)
        await self._drop_client()
        # The outage lasts until samples flow again: a device that reconnects but never sends
        # (stalls again) does not restart the clock.
        if self._outage_start is None:
            self._outage_start = lost_at
        deadline = self._outage_start + self._reconnect_s
        delay = self.backoff_initial_s
        attempt = 0
        last_exc: BaseException | None = None
        from bleak.exc import BleakError

        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                why = f"; last error: {last_exc}" if last_exc is not None else ""
                raise SourceLost(
                    f"{message}; not back after {self._reconnect_s:g} s ({attempt} attempt(s)){why}",
                    reason=reason,
                )
            attempt += 1
            await self._emit(
                "reconnecting",
                f"reconnecting to {self.name} (attempt {attempt}, {remaining:.0f} s left)",
                attempt=attempt,
                remaining_s=round(remaining, 3),
            )
            try:
                device, found = await find_device(
                    self._target,
                    timeout_s=max(0.1, min(self._scan_timeout_s, remaining)),
                    backend=self._scanner_backend,
                    **self._backend_kwargs,
                )
                await self._connect_and_start(device, found)
                break
            except ProfileMismatch:
                raise
            except (SourceError, BleakError, TimeoutError, OSError) as exc:
                last_exc = exc
            pause = min(delay, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(pause)
            delay = min(delay * 2, self.backoff_max_s)
        self.reconnects += 1
        down_s = time.monotonic() - last_arrival
        assert self.timeline is not None
        self.timeline.on_reconnect(host_gap_s=down_s)
        await self._emit(
            "resumed",
            f"{self.name} is back after {down_s:.1f} s without data ({attempt} attempt(s)); stream restarted",
            down_s=round(down_s, 3),
            attempts=attempt,
        )

    async def _drop_client(self) -> None:
        client, stream, profile = self._client, self._stream, self._profile_obj
        self._client = None
        self._decoder = None
        self._conn_id += 1
        if client is not None and getattr(client, "is_connected", False):
            if stream is not None and profile is not None:
                await _quietly(profile.stop(client, stream))
            await _quietly(client.disconnect())

    # -- callbacks (event loop, inside bleak) ------------------------------------------------------

    def _on_data(self, conn_id: int, data: bytes) -> None:
        host_s = time.monotonic()
        if threading.get_ident() != self._loop_thread:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_data_in_loop, conn_id, bytes(data), host_s)
            return
        self._on_data_in_loop(conn_id, data, host_s)

    def _on_data_in_loop(self, conn_id: int, data: bytes, host_s: float) -> None:
        if conn_id != self._conn_id:
            return  # a connection we already gave up on
        if self._decoder is None:
            self._pending.append((bytes(data), host_s))
            return
        self._decode_and_put(conn_id, data, host_s)

    def _decode_and_put(self, conn_id: int, data: bytes, host_s: float) -> None:
        try:
            frame = self._decoder.decode(bytes(data))
        except Exception as exc:  # every error goes to the consumer, which decides
            self._put(("error", exc, conn_id))
            return
        if frame is not None:
            self._last_arrival = host_s
            self._outage_start = None
            self._put(("frame", frame, host_s, conn_id))

    def _on_control(self, conn_id: int, kind: str, message: str) -> None:
        if kind == "stopped":
            self._put(("lost", "stopped_by_device", message, conn_id))

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._queue is None or self._loop is None:
            return
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        else:
            self._queue.put_nowait(item)

    async def _emit(self, state: str, message: str, **details: Any) -> None:
        if self._status is None:
            return
        at_s = self.timeline.last_t_s if self.timeline is not None else None
        result = self._status(StatusEvent(state=state, message=message, at_s=at_s, details=details))
        if inspect.isawaitable(result):
            await result


def _gap_message(name: str, p: Placement, fs_hz: float) -> str:
    parts = []
    if p.dropped:
        parts.append(
            f"{p.dropped} sample(s) ({p.dropped / fs_hz:.2f} s) missing between "
            f"t={p.gap_start_s:.3f} s and t={p.gap_end_s:.3f} s"
        )
    if p.lost_frames:
        parts.append(f"{p.lost_frames} notification(s) lost (sequence counter)")
    if p.reanchored:
        parts.append(f"device clock not followed: {p.reanchored}")
    return f"{name}: " + "; ".join(parts)


def _gap_details(p: Placement) -> dict[str, Any]:
    return {
        "dropped": p.dropped,
        "lost_frames": p.lost_frames,
        "gap_start_s": p.gap_start_s,
        "gap_end_s": p.gap_end_s,
        "reanchored": p.reanchored,
    }


def _mtu(client: Any) -> int | None:
    from bleak.exc import BleakError

    try:
        return int(client.mtu_size)
    except (NotImplementedError, AttributeError, BleakError):  # some backends cannot tell
        return None


async def _quietly(awaitable: Any) -> None:
    """Await a best-effort cleanup step; a link that is already gone is not an error here."""
    from bleak.exc import BleakError

    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT_S):
            await awaitable
    except (BleakError, TimeoutError, OSError, SourceError, EOFError):
        pass
