"""Benchmark of the serial path: sustained sample rate and write-to-print latency.

Everything runs through a real pseudo-terminal: a simulated wearable thread
writes the wire format to the pty master, :class:`SerialSource` reads the slave
with pyserial, the engine analyses, a :class:`TextPrinter` prints.

Measured
--------
``sustained``
    The wearable writes as fast as the pty takes bytes (``speed=inf``, 1 kHz
    6-axis frames of 10 samples, or text lines); samples per second delivered
    by the source, without and with the engine in the loop.  Compare with what
    a wearable produces (1 kHz at most) to see the headroom.
``decoder``
    The decoder alone on an in-memory byte string (no pty, no threads).
``latency``
    A simulated set played in real time (``speed=1``; ``quick`` plays 4x
    faster, which leaves the measured path unchanged).  For every rep event:
    host time from writing to the pty the sample whose arrival settled the rep
    (``Rep.detected_at_s``) to the event's line having been printed and flushed.
    This is the transport + decode + analysis + print latency; the engine's own
    settling time (how much data after the rep it needs) is in data time and
    not part of it.

``run(quick=True)`` takes about 15 s on a 2-core machine; ``quick=False``
about a minute and a half.  Timings depend on the machine and its load; they
are reported, never asserted.
"""

from __future__ import annotations

import asyncio
import io
import math
import platform
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from imu_tempo.engine import Engine
from imu_tempo.live import _UntilDeviceTime
from imu_tempo.outputs import TextPrinter
from imu_tempo.session import run_session
from imu_tempo.sources.demo import SimulatedWearable
from imu_tempo.sources.serial import SerialSource
from imu_tempo.sources.wire import HeaderFrame, SamplesFrame, WireDecoder, cobs_frame, encode_frame
from imu_tempo.types import RepEvent


def _session(fs_hz: float, *, reps: int, seed: int = 3) -> SimpleNamespace:
    """A simulated kettlebell set at ``fs_hz`` (resampled from the simulator's top rate if above it)."""
    from imu_tempo import simulate

    kw = dict(exercise="kettlebell_swing", sets=1, reps=reps, seed=seed, jitter_s=0.0, idle_s=1.5, walk=False)
    k = 1
    while fs_hz / k > simulate._MAX_FS_HZ or not float(fs_hz / k).is_integer():
        k += 1
    s = simulate.simulate_session(fs_hz=fs_hz / k, **kw)
    accel, gyro = s.accel, s.gyro
    if k > 1:
        from scipy.signal import resample_poly

        accel = resample_poly(accel, k, 1, axis=0)
        gyro = resample_poly(gyro, k, 1, axis=0)
    return SimpleNamespace(t_s=np.arange(len(accel)) / fs_hz, accel=accel, gyro=gyro, fs_hz=fs_hz)


def _synthetic(fs_hz: float, duration_s: float) -> SimpleNamespace:
    t = np.arange(int(fs_hz * duration_s)) / fs_hz
    accel = np.stack([0.2 * np.sin(3 * t), 0.1 * np.cos(t), 9.80665 + 10 * np.sin(2 * np.pi * t) ** 3], axis=1)
    gyro = np.stack([np.sin(2 * np.pi * t), 0.2 * np.cos(5 * t), 0.5 * np.cos(t)], axis=1)
    return SimpleNamespace(t_s=t, accel=accel, gyro=gyro, fs_hz=fs_hz)


async def _sustained(session: SimpleNamespace, *, wire_format: str, with_engine: bool) -> dict[str, Any]:
    w = SimulatedWearable.from_session(session, wire_format=wire_format, speed=math.inf)
    src = SerialSource(w.port, accel_unit="g", gyro_unit="deg/s", stall_s=30.0)
    engine = Engine() if with_engine else None
    n = 0
    blocks = 0
    first = last = None
    end_t = float(session.t_s[-1])
    try:
        async with src:
            w.start()
            async for b in src:
                if first is None:
                    first = time.monotonic()
                if engine is not None:
                    engine.feed(b)
                n += len(b)
                blocks += 1
                if b.t_s[-1] >= end_t - 1e-9:
                    break
            last = time.monotonic()
    finally:
        w.stop()
    assert first is not None and last is not None
    stats = src.stats().to_json()
    wt = w.write_time_s[np.isfinite(w.write_time_s)]
    return {
        "format": wire_format, "fs_hz": session.fs_hz, "engine": with_engine, "samples": n, "blocks": blocks,
        "seconds": round(last - first, 3), "samples_per_s": round(n / (last - first)),
        # The simulated firmware is Python too: when the two rates match, the writer was the limit.
        "writer_samples_per_s": round(len(wt) / max(float(wt.max() - wt.min()), 1e-9)),
        "dropped": stats["dropped_samples"], "bytes_per_s": round(stats["bytes_in"] / (last - first)),
    }


def _decoder_only(fs_hz: float, duration_s: float) -> list[dict[str, Any]]:
    s = _synthetic(fs_hz, duration_s)
    hdr = HeaderFrame(fs_hz=fs_hz, channels=6, accel_g_per_lsb=16 / 32768, gyro_dps_per_lsb=2000 / 32768)
    counts = np.clip(np.round(np.hstack([s.accel / 9.80665 / hdr.accel_g_per_lsb,
                                         np.degrees(s.gyro) / hdr.gyro_dps_per_lsb])), -32768, 32767).astype("<i2")
    spf = 10
    data = cobs_frame(encode_frame(hdr)) + b"".join(
        cobs_frame(encode_frame(SamplesFrame(seq=i // spf, t0_us=int(i * 1e6 / fs_hz), samples=counts[i:i + spf])))
        for i in range(0, len(counts), spf))
    text = b"t_ms,ax,ay,az,gx,gy,gz\n" + "".join(
        f"{k * 1000 / fs_hz:.3f},{a[0]:.5f},{a[1]:.5f},{a[2]:.5f},{g[0]:.4f},{g[1]:.4f},{g[2]:.4f}\n"
        for k, (a, g) in enumerate(zip(s.accel / 9.80665, np.degrees(s.gyro), strict=True))).encode()
    out = []
    for fmt, payload in (("binary", data), ("text", text)):
        d = WireDecoder(source_name="bench", wire_format=fmt, accel_unit="g", gyro_unit="deg/s")
        t = time.perf_counter()
        n = 0
        for i in range(0, len(payload), 4096):
            for b in d.feed(payload[i:i + 4096], host_time_s=0.0):
                n += len(b)  # type: ignore[arg-type]
        dt = time.perf_counter() - t
        out.append({"format": fmt, "samples": n, "samples_per_s": round(n / dt),
                    "mb_per_s": round(len(payload) / dt / 1e6, 2)})
    return out


async def _latency(session: SimpleNamespace, *, wire_format: str, speed: float) -> dict[str, Any]:
    w = SimulatedWearable.from_session(session, wire_format=wire_format, speed=speed)
    src = SerialSource(w.port, accel_unit="g", gyro_unit="deg/s")
    device_t = w.t_s - w.t_s[0]
    sink = io.StringIO()
    printer = TextPrinter(sink)
    lat_ms: list[float] = []

    def on_event(ev: Any) -> None:
        printer(ev)
        if isinstance(ev, RepEvent):
            printed = time.monotonic()
            k = min(int(np.searchsorted(device_t, ev.rep.detected_at_s - 1e-9)), len(device_t) - 1)
            if np.isfinite(w.write_time_s[k]):
                lat_ms.append((printed - w.write_time_s[k]) * 1e3)

    try:
        await run_session(_UntilDeviceTime(src, end_t_s=w.last_t_s, on_enter=w.start), Engine(), on_event=on_event)
    finally:
        w.stop()
    a = np.asarray(lat_ms)
    out: dict[str, Any] = {"format": wire_format, "fs_hz": session.fs_hz, "speed": speed, "reps": len(a)}
    if len(a):
        out.update({"p50_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
                    "max_ms": round(float(a.max()), 2)})
    return out


def run(quick: bool = True) -> dict[str, Any]:
    """Run the serial-path benchmark; returns a JSON-ready dict (see the module docstring)."""
    t0 = time.monotonic()
    dur = 120.0 if quick else 600.0  # seconds of 1 kHz data pushed through as fast as it goes
    big = _synthetic(1000.0, dur)
    sustained = [
        asyncio.run(_sustained(big, wire_format="binary", with_engine=False)),
        asyncio.run(_sustained(big, wire_format="binary", with_engine=True)),
        asyncio.run(_sustained(_synthetic(1000.0, dur / 4), wire_format="text", with_engine=False)),
    ]
    speed = 4.0 if quick else 1.0
    cases = [(400.0, "binary"), (1000.0, "binary")] if quick else [
        (100.0, "binary"), (400.0, "binary"), (1000.0, "binary"), (100.0, "text"), (400.0, "text")]
    latency = [asyncio.run(_latency(_session(fs, reps=6 if quick else 8), wire_format=fmt, speed=speed))
               for fs, fmt in cases]
    return {
        "benchmark": "serial_path",
        "quick": quick,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "sustained": sustained,
        "decoder": _decoder_only(1000.0, dur / 4),
        "latency": latency,
        "wall_s": round(time.monotonic() - t0, 1),
    }


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="longer runs, real-time latency (about 90 s)")
    print(json.dumps(run(quick=not ap.parse_args().full), indent=2))
