"""A simulated wearable on a real pseudo-terminal.

:class:`SimulatedWearable` plays a sampled session (for instance from
:func:`imu_tempo.simulate.simulate_session`) the way firmware would: it opens
a pty pair, exposes the slave as its *port* (optionally through a stable
symlink, like ``/dev/serial/by-id/...``), and writes the samples to the master
in either wire format, paced in real time (times ``speed``).  The host side
opens the port with pyserial exactly as it would open ``/dev/ttyACM0``, so
``imu-tempo live --demo`` and the tests exercise the real serial path.

Faults a real link has, on request (:class:`WearableFaults`): boot messages
before the data, corrupted bytes, dropped frames, and unplugging mid-set
(the master is closed and the port disappears; on replug a new pty appears
behind the same symlink, with the device clock running on or restarted).

Threads: the wearable runs in one daemon thread of its own; its public
methods may be called from any thread.  A failure in that thread is kept and
re-raised by :meth:`SimulatedWearable.stop` (nothing is swallowed).
"""

from __future__ import annotations

import errno
import math
import os
import select
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .wire import HeaderFrame, SamplesFrame, TextFrame, cobs_frame, encode_frame

__all__ = ["WearableFaults", "SimulatedWearable", "BOOT_GARBAGE", "END_MARKER"]

#: Log message the wearable sends after its last sample (a text packet, or a ``#`` line).
END_MARKER = "end of simulated session"

#: What an ESP32-S3 prints at reset, plus line noise: the reader must shrug it off.
BOOT_GARBAGE = (
    b"\r\nESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\nrst:0x1 (POWERON),boot:0x8 (SPI_FAST_FLASH_BOOT)\r\n"
    b"\x8f\x13\xfe\x00\xa7\x00\x00\xff\x12\r\n"
    b"IMU: LSM6DS3 found at 0x6A, ODR set\r\n"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WearableFaults:
    """Link faults the simulated wearable can produce.

    Parameters
    ----------
    boot_garbage : bool
        Print :data:`BOOT_GARBAGE` when the device (re)starts.
    corrupt_every : int
        Flip one byte in every n-th frame (binary) or line (text); 0 = never.
        In text lines the byte becomes 0xFF, so the line is detectably bad.
    drop_every : int
        Do not send every n-th frame or line (the sequence number still advances); 0 = never.
    unplug_at_s : float or None
        Session time (s, from the first sample) at which the cable is pulled.
    unplug_for_s : float
        Session seconds the device stays unplugged.
    restart_on_replug : bool
        True: the device reboots when plugged back (USB-powered board): clock and
        sequence restart at 0 and it prints its boot messages again.  False: it
        kept running on its battery and its clock went on.
    """

    boot_garbage: bool = False
    corrupt_every: int = 0
    drop_every: int = 0
    unplug_at_s: float | None = None
    unplug_for_s: float = 1.0
    restart_on_replug: bool = False


class SimulatedWearable:
    """Firmware simulator writing a sampled session to a pty master.

    Parameters
    ----------
    t_s : ndarray, shape (n,)
        Sample times, seconds, evenly spaced at ``fs_hz``.
    accel_mps2 : ndarray, shape (n, 3)
        Specific force in m/s^2.
    gyro_rps : ndarray, shape (n, 3), or None
        Angular rate in rad/s (None: a 3-channel device).
    fs_hz : float
        Sample rate the firmware announces.
    wire_format : {"binary", "text"}
        Binary frames (COBS, header every second) or ``t_ms,ax,...`` lines.
    speed : float
        Pacing: 1.0 is real time, 20 is twenty times faster, ``math.inf`` is as
        fast as the pty takes the bytes.
    link_path : str or Path or None
        A symlink created to the current pty slave (re-pointed on replug); the
        port name to open.  None: the pty slave path itself (no replug then).
    faults : WearableFaults
        Link faults to produce.
    device_name : str
        Announced in the header packet.
    samples_per_frame : int or None
        Samples per binary frame (None: about 100 frames per second).
    accel_range_g, gyro_range_dps : float
        Full-scale ranges; the header's scale factors are range / 32768.
    text_accel_unit, text_gyro_unit : str
        Units printed in the text format ("g" and "deg/s" like most sketches).
    device_t0_s : float
        Device clock at the first sample (e.g. 4294.0 to cross the u32 µs wrap).
    clock_ppm : float
        Device crystal error: device time runs ``1 + clock_ppm * 1e-6`` as fast.
    text_header : bool
        Print the ``t_ms,ax,...`` header line at start (text format).
    seed : int
        For the fault injection.

    Attributes
    ----------
    port : str
        What to open (the symlink or the pty slave).
    done : threading.Event
        Set when every sample has been sent or discarded.
    write_time_s : ndarray, shape (n,)
        ``time.monotonic()`` right after each sample's frame was written (NaN if
        never written): the benchmark's latency reference.
    sent : ndarray of bool, shape (n,)
        Which samples went out on the wire.
    """

    def __init__(
        self,
        *,
        t_s: np.ndarray,
        accel_mps2: np.ndarray,
        gyro_rps: np.ndarray | None,
        fs_hz: float,
        wire_format: str = "binary",
        speed: float = 1.0,
        link_path: str | Path | None = None,
        faults: WearableFaults = WearableFaults(),
        device_name: str = "imu-tempo demo",
        samples_per_frame: int | None = None,
        accel_range_g: float = 16.0,
        gyro_range_dps: float = 2000.0,
        text_accel_unit: str = "g",
        text_gyro_unit: str = "deg/s",
        device_t0_s: float = 0.0,
        clock_ppm: float = 0.0,
        text_header: bool = True,
        seed: int = 0,
    ) -> None:
        if wire_format not in ("binary", "text"):
            raise ValueError(f"wire_format must be 'binary' or 'text', got {wire_format!r}")
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed!r}")
        self.t_s = np.asarray(t_s, dtype=float)
        self.accel = np.asarray(accel_mps2, dtype=float)
        self.gyro = None if gyro_rps is None else np.asarray(gyro_rps, dtype=float)
        self.fs_hz = float(fs_hz)
        self.wire_format = wire_format
        self.speed = float(speed)
        self.link_path = None if link_path is None else Path(link_path)
        self.faults = faults
        self.device_name = device_name
        self.spf = samples_per_frame or max(1, math.ceil(self.fs_hz / 100.0))
        if not 1 <= self.spf <= 255:
            raise ValueError(f"samples_per_frame must be 1..255, got {self.spf}")
        self.accel_lsb_g = accel_range_g / 32768.0
        self.gyro_lsb_dps = gyro_range_dps / 32768.0
        self.text_accel_k = {"g": 9.80665, "mg": 0.00980665, "m/s^2": 1.0}[text_accel_unit]
        self.text_gyro_k = {"deg/s": math.pi / 180.0, "rad/s": 1.0}[text_gyro_unit]
        self.device_t0_s = float(device_t0_s)
        self.clock_ppm = float(clock_ppm)
        self.text_header = text_header
        self._rng = np.random.default_rng(seed)
        n = len(self.t_s)
        self.write_time_s = np.full(n, np.nan)
        self.sent = np.zeros(n, dtype=bool)
        self.done = threading.Event()
        self.host_connected = threading.Event()
        self.frames_sent = 0
        self.frames_dropped = 0
        self.frames_corrupted = 0
        self.samples_discarded = 0
        self.unplugs = 0
        self._master: int | None = None
        self._slave_name: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._plug()

    @classmethod
    def from_session(cls, session: Any, **kwargs: Any) -> SimulatedWearable:
        """Build from a simulated session (``.t_s``, ``.accel``, ``.gyro``, ``.fs_hz``)."""
        return cls(t_s=session.t_s, accel_mps2=session.accel, gyro_rps=session.gyro, fs_hz=session.fs_hz, **kwargs)

    # -- public control ------------------------------------------------------------
    @property
    def port(self) -> str:
        if self.link_path is not None:
            return str(self.link_path)
        assert self._slave_name is not None
        return self._slave_name

    @property
    def last_t_s(self) -> float:
        """Session time of the last sample (device time when the clock never restarted)."""
        return float(self.t_s[-1] - self.t_s[0]) * (1 + self.clock_ppm * 1e-6) + self.device_t0_s

    def start(self) -> SimulatedWearable:
        """Start the firmware thread (it waits for the host to open the port first)."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._run_guarded, name="simulated-wearable", daemon=True)
        self._thread.start()
        return self

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Stop, close the pty, remove the symlink; re-raise a failure of the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._unplug()
        if self._error is not None:
            err, self._error = self._error, None
            raise err

    def finished(self) -> bool:
        """True once every sample was sent or discarded; re-raises a failure of the thread."""
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        return self.done.is_set()

    def __enter__(self) -> SimulatedWearable:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the firmware ------------------------------------------------------------
    def _run_guarded(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # kept and re-raised by stop()
            self._error = exc
        finally:
            self.done.set()

    def _run(self) -> None:
        n = len(self.t_s)
        if not self._wait_for_host():
            return
        self.host_connected.set()
        f = self.faults
        seq = 0
        clock_base_s = self.device_t0_s  # device time = clock_base + (t - t_restart) * (1 + ppm)
        t_restart = self.t_s[0]
        wall0 = time.monotonic()
        next_header_s = -math.inf
        self._boot(seq_reset=True)
        unplug_done = False
        frame_no = 0
        i = 0
        while i < n and not self._stop.is_set():
            j = min(i + (self.spf if self.wire_format == "binary" else 1), n)
            session_t = self.t_s[j - 1] - self.t_s[0]
            # Unplug/replug at a session time.
            if f.unplug_at_s is not None and not unplug_done and session_t >= f.unplug_at_s:
                unplug_done = True
                self._unplug()
                self.unplugs += 1
                back = f.unplug_at_s + f.unplug_for_s
                if not self._sleep_until(wall0 + back / self.speed):
                    return
                i0 = i
                while i < n and self.t_s[i] - self.t_s[0] < back:
                    i += 1  # sampled while unplugged: never sent
                self.samples_discarded += i - i0
                if self.wire_format == "binary":  # a device that runs on keeps counting its frames
                    seq = (seq + math.ceil((i - i0) / self.spf)) & 0xFFFF
                self._plug()
                if f.restart_on_replug and i < n:
                    seq = 0
                    clock_base_s = 0.0
                    t_restart = self.t_s[i]
                    next_header_s = -math.inf
                    self._boot(seq_reset=True)
                continue
            if not self._sleep_until(wall0 + session_t / self.speed):
                return
            dev_t0 = clock_base_s + (self.t_s[i] - t_restart) * (1 + self.clock_ppm * 1e-6)
            frame_no += 1
            if self.wire_format == "binary":
                if dev_t0 >= next_header_s:
                    self._write(cobs_frame(encode_frame(self._header())), None)
                    next_header_s = dev_t0 + 1.0
                payload = cobs_frame(encode_frame(SamplesFrame(
                    seq=seq, t0_us=int(round(dev_t0 * 1e6)), samples=self._counts(i, j))))
                seq = (seq + 1) & 0xFFFF
            else:
                payload = self._line(dev_t0, i)
            if f.drop_every and frame_no % f.drop_every == 0:
                self.frames_dropped += 1
            else:
                if f.corrupt_every and frame_no % f.corrupt_every == 0:
                    payload = self._corrupt(payload)
                    self.frames_corrupted += 1
                self._write(payload, (i, j))
            i = j
        if i >= n and not self._stop.is_set():
            if self.wire_format == "binary":
                self._write(cobs_frame(encode_frame(TextFrame(END_MARKER))), None)
            else:
                self._write(f"# {END_MARKER}\r\n".encode(), None)

    def _boot(self, *, seq_reset: bool) -> None:
        """What the firmware prints when it starts."""
        if self.faults.boot_garbage:
            self._write(BOOT_GARBAGE, None)
        if self.wire_format == "binary":
            self._write(b"\x00", None)  # a delimiter first: the host resynchronises at once
            self._write(cobs_frame(encode_frame(TextFrame(f"{self.device_name} booted"))), None)
        elif self.text_header:
            cols = "t_ms,ax,ay,az,gx,gy,gz" if self.gyro is not None else "t_ms,ax,ay,az"
            self._write(f"{cols}\r\n".encode(), None)

    def _header(self) -> HeaderFrame:
        return HeaderFrame(
            fs_hz=self.fs_hz, channels=6 if self.gyro is not None else 3,
            accel_g_per_lsb=self.accel_lsb_g, gyro_dps_per_lsb=self.gyro_lsb_dps if self.gyro is not None else 0.0,
            device_name=self.device_name,
        )

    def _counts(self, i: int, j: int) -> np.ndarray:
        a = self.accel[i:j] / 9.80665 / self.accel_lsb_g
        if self.gyro is not None:
            a = np.hstack([a, self.gyro[i:j] * (180.0 / math.pi) / self.gyro_lsb_dps])
        return np.clip(np.round(a), -32768, 32767).astype("<i2")

    def _line(self, dev_t_s: float, i: int) -> bytes:
        a = self.accel[i] / self.text_accel_k
        parts = [f"{dev_t_s * 1000.0:.3f}", f"{a[0]:.5f}", f"{a[1]:.5f}", f"{a[2]:.5f}"]
        if self.gyro is not None:
            g = self.gyro[i] / self.text_gyro_k
            parts += [f"{g[0]:.4f}", f"{g[1]:.4f}", f"{g[2]:.4f}"]
        return (",".join(parts) + "\r\n").encode()

    def _corrupt(self, payload: bytes) -> bytes:
        b = bytearray(payload)
        k = int(self._rng.integers(0, max(1, len(b) - 1)))
        if self.wire_format == "text":
            b[k] = 0xFF
        else:
            b[k] ^= int(self._rng.integers(1, 256))
        return bytes(b)

    # -- the pty ------------------------------------------------------------------
    def _plug(self) -> None:
        with self._lock:
            master, slave = os.openpty()
            tty.setraw(slave)  # no echo, no CR/LF translation: binary-safe
            self._slave_name = os.ttyname(slave)
            os.close(slave)  # the host's open is what "connects" (POLLHUP clears)
            os.set_blocking(master, False)
            self._master = master
            if self.link_path is not None:
                tmp = self.link_path.with_name(self.link_path.name + ".new")
                if tmp.is_symlink() or tmp.exists():
                    tmp.unlink()
                os.symlink(self._slave_name, tmp)
                os.replace(tmp, self.link_path)

    def _unplug(self) -> None:
        with self._lock:
            if self.link_path is not None and self.link_path.is_symlink():
                self.link_path.unlink()
            if self._master is not None:
                os.close(self._master)
                self._master = None

    def _host_open(self) -> bool:
        m = self._master
        if m is None:
            return False
        p = select.poll()
        p.register(m, select.POLLOUT | select.POLLHUP)
        ev = p.poll(0)  # empty when the buffer is full (no POLLOUT): still connected
        return not (ev and ev[0][1] & (select.POLLHUP | select.POLLERR | select.POLLNVAL))

    def _wait_for_host(self) -> bool:
        """Like ``while (!Serial);`` in a sketch: start once the host opened the port."""
        while not self._stop.is_set():
            if self._host_open():
                return True
            self._stop.wait(0.005)
        return False

    def _sleep_until(self, wall: float) -> bool:
        if math.isinf(self.speed):
            return not self._stop.is_set()
        while True:
            d = wall - time.monotonic()
            if d <= 0:
                return not self._stop.is_set()
            if self._stop.wait(min(d, 0.05)):
                return False

    def _write(self, data: bytes, span: tuple[int, int] | None) -> None:
        """Write all of ``data`` (blocking on back-pressure like a USB CDC device).

        If the host is not there (port closed, unplugged), the data is discarded.
        """
        view = memoryview(data)
        while view and not self._stop.is_set():
            m = self._master
            if m is None or not self._host_open():
                if span is not None:
                    self.samples_discarded += span[1] - span[0]
                return
            try:
                k = os.write(m, view)
                view = view[k:]
            except BlockingIOError:
                p = select.poll()
                p.register(m, select.POLLOUT | select.POLLHUP)
                p.poll(20)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    if span is not None:
                        self.samples_discarded += span[1] - span[0]
                    return
                raise
        if span is not None and not view:
            self.sent[span[0]:span[1]] = True
            self.write_time_s[span[0]:span[1]] = time.monotonic()
            self.frames_sent += 1
