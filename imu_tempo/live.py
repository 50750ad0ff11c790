"""``imu-tempo live`` and ``imu-tempo ports``: analyse a wearable as the set happens.

::

    imu-tempo ports                                   # serial ports that look like wearables
    imu-tempo live --serial /dev/ttyACM0              # live rep table and tempo-failure cue
    imu-tempo live --serial /dev/ttyACM0 --record session.csv
    imu-tempo live --demo                             # a simulated wearable on a real pty
    imu-tempo live --ble "Polar Sense"                # a BLE wearable (see `imu-tempo scan`)
    imu-tempo live ... --jsonl                        # one JSON object per event
    imu-tempo live --demo --web                       # a live page at http://127.0.0.1:8765/ (--host 0.0.0.0: phones)
    imu-tempo live ... --sound                        # beeps on a warning and on tempo failure

In a terminal the reps appear in a live table (``--plain``: one line per event,
as in a pipe).  ``--web`` serves the page from this process (see
:mod:`imu_tempo.display.web`); it stays up after the stream ends (until Ctrl-C,
or ``--web-linger-s``) so the set summary can still be read.

Every source goes through :func:`imu_tempo.session.run_session`: each block is
written to ``--record`` before it is analysed, the engine is finished on any
exit (end of the demo, device lost for good, Ctrl-C), and the session summary
is printed last, as a ``status`` event with state ``ended`` (so ``--jsonl``
scripts see it too).

``--demo`` plays a simulated set through a simulated wearable that writes the
binary wire format to a real pseudo-terminal, which is then opened like any
serial port: the same reader thread, decoder and reconnect logic as with
hardware.  It ends by itself after the set (exit status 0).

Exit status: 0 when the stream ended normally, 1 when the device was lost
for good (everything received is kept), 2 on a usage error, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from .errors import ConfigError, SourceError
from .sources import WrappedSource
from .types import Event, SampleBlock, StatusEvent

#: Sample rate of the simulated wearable of ``--demo``.
DEMO_FS_HZ = 200.0
#: Simulator seed of the demo set (12 swings, slowing past 1.2 s from rep 11).
DEMO_SEED = 2


# =====================================================================================
# argument parsing


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``imu-tempo live``."""
    from .cli import add_analysis_arguments

    src = p.add_argument_group("source (choose one)")
    one = src.add_mutually_exclusive_group(required=True)
    one.add_argument("--serial", metavar="PORT", help="serial port of the wearable (/dev/ttyACM0, COM5; see `imu-tempo ports`)")
    one.add_argument(
        "--demo", nargs="?", const="serial", choices=["serial", "ble"], metavar="serial|ble",
        help="no hardware: a simulated wearable on a real pseudo-terminal (default) or a simulated BLE link",
    )
    one.add_argument("--ble", metavar="NAME_OR_ADDRESS", help="BLE wearable by advertised name or address (see `imu-tempo scan`)")
    src.add_argument("--baud", type=int, default=115200, help="serial line rate for UART bridges (default 115200)")
    src.add_argument("--profile", help="BLE profile: nus, polar or movesense (default: from the advertisement)")
    src.add_argument(
        "--reconnect-s", type=float, default=30.0,
        help="after losing the device, keep retrying this long and continue the same session (default 30 s)",
    )
    out = p.add_argument_group("output")
    out.add_argument("--record", metavar="PATH", help="also write every sample received to this CSV recording")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per event on stdout")
    demo = p.add_argument_group("demo")
    demo.add_argument("--demo-speed", type=float, default=1.0, help="demo playback speed, a factor of real time (default 1)")
    demo.add_argument(
        "--exercise", default=None,
        help="exercise the demo simulates (default: kettlebell_swing over serial, with a gyro; jump_squat over "
        "BLE, whose default Polar profile streams the accelerometer only)",
    )
    add_analysis_arguments(p)
    from .display.hub import add_display_arguments

    add_display_arguments(p)


def add_ports_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``imu-tempo ports``."""
    p.add_argument("--all", action="store_true", help="also list built-in and virtual ports")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per port")


# =====================================================================================
# ports


def run_ports(args: argparse.Namespace) -> int:
    """Print the serial ports that look like wearables."""
    import json

    from .sources.serial import list_ports

    ports = list_ports(include_all=True)
    shown = [p for p in ports if args.all or p.likely]
    if args.jsonl:
        for p in shown:
            print(json.dumps(p.to_json()))
        return 0
    if not shown:
        others = len(ports)
        more = f" ({others} other port{'s' if others != 1 else ''}: `imu-tempo ports --all`)" if others else ""
        print(f"no serial ports that look like wearables{more}.")
        print("Plug the board in (a data cable, not a charge-only one), or try `imu-tempo live --demo`.")
        return 0
    width = max(len(p.device) for p in shown)
    for p in shown:
        ids = f"{p.vid:04x}:{p.pid:04x}" if p.vid is not None and p.pid is not None else "-"
        print(f"{p.device:<{width}}  {ids:<9}  {p.why}{'  ' + p.description if p.description else ''}")
    likely = [p for p in shown if p.likely]
    if likely:
        print(f"\nthen: imu-tempo live --serial {likely[0].device}")
    return 0


# =====================================================================================
# live


def run_live(args: argparse.Namespace) -> int:
    """``imu-tempo live``: stream, analyse and print until the stream ends (or Ctrl-C)."""
    from .cli import settings_from_args
    from .display.hub import check_display_args, open_displays
    from .outputs import JsonlPrinter

    _check_args(args)
    if args.demo and args.measure is None:
        from .simulate import EXERCISES

        if args.exercise in EXERCISES:  # (an unknown one gets its clear error when the demo starts)
            args.measure = EXERCISES[args.exercise].measure  # what the demo's exercise is judged by
    settings = settings_from_args(args)
    check_display_args(args)
    ended: list[int] = []

    async def main() -> int:
        async with open_displays(args, settings=settings, source=_source_label(args),
                                 base=JsonlPrinter() if args.jsonl else None) as shown:
            rc = await live_session(args, settings=settings, on_event=shown.on_event, on_block=shown.on_block)
            ended.append(rc)
            await shown.linger()
        return rc

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        if ended:  # Ctrl-C while the page lingered after the stream ended: not an interruption
            return ended[0]
        raise


def _source_label(args: argparse.Namespace) -> str:
    if args.serial:
        return args.serial
    if args.ble:
        return args.ble
    return f"demo ({args.demo}, {args.exercise})"


def _check_args(args: argparse.Namespace) -> None:
    if getattr(args, "exercise", None) is None:
        # the BLE demo's Polar profile has no gyroscope; swings need one (see BENCHMARKS.md)
        args.exercise = "jump_squat" if args.demo == "ble" and args.profile in (None, "polar") else "kettlebell_swing"
    if not args.reconnect_s >= 0:
        raise ConfigError(f"--reconnect-s must be >= 0 seconds, got {args.reconnect_s!r}")
    if not (args.demo_speed > 0 and math.isfinite(args.demo_speed)):
        raise ConfigError(f"--demo-speed must be a number > 0, got {args.demo_speed!r}")
    if args.baud <= 0:
        raise ConfigError(f"--baud must be positive, got {args.baud!r}")
    if args.record:
        parent = Path(args.record).expanduser().resolve().parent
        if not parent.is_dir():
            raise ConfigError(f"--record {args.record}: the folder {parent} does not exist")
    if args.profile and not (args.ble or args.demo == "ble"):
        raise ConfigError("--profile applies to BLE sources (--ble or --demo ble)")


async def live_session(
    args: argparse.Namespace,
    *,
    settings: Any,
    on_event: Callable[[Event], None],
    on_block: Callable[[SampleBlock], None] | None = None,
) -> int:
    """Run one live session described by parsed ``live`` arguments.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by :func:`add_live_arguments`.
    settings : Settings
        Analysis settings.
    on_event : callable
        Receives every event (engine events and the source's status events), in
        the event loop's thread; its exceptions propagate.
    on_block : callable, optional
        Receives every block before the engine does (the displays' sample rate
        and dropped-sample counts), in the event loop's thread.

    Returns
    -------
    int
        0 when the stream ended normally, 1 when the device was lost for good.
    """
    from .engine import Engine
    from .session import run_session

    recorder = _LazyRecorder(args.record) if args.record else None

    def status(ev: StatusEvent) -> None:
        if recorder is not None and ev.state in ("lost", "reconnecting"):
            recorder.flush()  # everything so far is on disk while we wait
        on_event(ev)

    engine = Engine(settings)
    result = None
    started = time.monotonic()
    axes = _gyro_axes(args)
    async with _open_source(args, status=status) as (source, stats):
        source = _MappedGyro(source, axes) if axes is not False else _GyroAxesCheck(source, status=status)
        if recorder is not None:
            recorder.describe = lambda block: _recording_metadata(source.name, stats(), block)
        if on_block is not None:
            from .display.hub import ObservedSource

            source = ObservedSource(source, on_block)
        try:
            result = await run_session(source, engine, on_event=on_event, recorder=recorder)
        finally:
            on_event(_summary(engine, stats(), recorder, elapsed_s=time.monotonic() - started,
                              interrupted=result is None, lost=None if result is None else result.lost))
    return 0 if result is not None and result.lost is None else 1


# -- sources --------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _open_source(args: argparse.Namespace, *, status: Callable[[StatusEvent], None]) -> AsyncIterator[Any]:
    """Yield ``(source, stats)``: the source to run and a function giving its link stats."""
    if args.serial:
        from .sources.serial import SerialSource

        src = SerialSource(args.serial, baud=args.baud, accel_unit=args.accel_unit, gyro_unit=args.gyro_unit,
                           reconnect_s=args.reconnect_s, status=status)
        yield src, lambda: src.stats().to_json()
    elif args.demo == "serial":
        async with _serial_demo(args, status=status) as pair:
            yield pair
    else:
        async with _ble(args, status=status) as pair:
            yield pair


@contextlib.asynccontextmanager
async def _serial_demo(args: argparse.Namespace, *, status: Callable[[StatusEvent], None]) -> AsyncIterator[Any]:
    from .simulate import EXERCISES, simulate_session
    from .sources.demo import SimulatedWearable
    from .sources.serial import SerialSource

    if args.exercise not in EXERCISES:
        raise ConfigError(f"--exercise {args.exercise!r} is not simulated; choose one of {', '.join(EXERCISES)}")
    # A short walk-up so the first rep comes within seconds: it is a first command.
    session = simulate_session(exercise=args.exercise, sets=1, fs_hz=DEMO_FS_HZ, seed=DEMO_SEED, fatigue=True,
                               gyro=True, idle_s=2.0, walk=False)
    fail = session.truth_failure.get(1)
    truth = f"{len(session.truth)} reps" + (f", tempo failure from rep {fail}" if fail else ", no tempo failure")
    with tempfile.TemporaryDirectory(prefix="imu-tempo-demo-") as tmp:
        wearable = SimulatedWearable.from_session(
            session, wire_format="binary", speed=args.demo_speed, link_path=Path(tmp) / "ttyIMU-demo",
            device_name="imu-tempo demo",
        )
        status(StatusEvent(
            state="demo",
            message=(f"simulated wearable on {wearable.port} (a real pseudo-terminal): {args.exercise}, "
                     f"{DEMO_FS_HZ:g} Hz, {wearable.last_t_s:.0f} s of session at {args.demo_speed:g}x speed; "
                     f"the simulated athlete does {truth}"),
            details={"port": wearable.port, "exercise": args.exercise, "speed": args.demo_speed,
                     "truth_reps": len(session.truth), "truth_failure_rep": fail},
        ))
        src = SerialSource(wearable.port, wire_format="auto", reconnect_s=args.reconnect_s, status=status,
                           idle_end=wearable.finished)
        demo_src = _UntilDeviceTime(src, end_t_s=wearable.last_t_s, on_enter=wearable.start)
        try:
            yield demo_src, lambda: src.stats().to_json()
        finally:
            wearable.stop()


@contextlib.asynccontextmanager
async def _ble(args: argparse.Namespace, *, status: Callable[[StatusEvent], None]) -> AsyncIterator[Any]:
    try:
        from .sources import ble
    except ImportError as exc:
        raise SourceError(
            f"BLE support is not available in this installation ({exc}); use --serial, or reinstall imu-tempo"
        ) from None
    if args.ble:
        src = ble.BleSource(args.ble, profile=args.profile, reconnect_s=args.reconnect_s, status=status)
        yield src, lambda: _ble_stats(src)
        return
    try:
        kw: dict[str, Any] = {"exercise": args.exercise, "speed": args.demo_speed}
        if args.profile:
            kw["profile"] = args.profile
        demo_cm = ble.demo_ble_peripheral(**kw)
    except ImportError as exc:
        raise SourceError(f"the simulated BLE wearable needs Bumble: {exc}") from None
    async with demo_cm as demo:
        src = ble.BleSource(demo.name, profile=args.profile, reconnect_s=args.reconnect_s, status=status,
                            backend=demo.backend, scanner_backend=demo.scanner_backend, **demo.backend_kwargs)
        end = getattr(demo, "last_t_s", None)
        if end is None:
            end = getattr(getattr(demo, "motion", None), "duration_s", None)
        yield (_UntilDeviceTime(src, end_t_s=end) if end is not None else src), lambda: _ble_stats(src)


def _ble_stats(src: Any) -> dict[str, Any]:
    s = getattr(src, "stats", None)
    if callable(s):
        out = s()
        return out if isinstance(out, dict) else getattr(out, "to_json", dict)()
    return {"port": getattr(src, "name", "")}


def _gyro_axes(args: argparse.Namespace) -> Any:
    """``--gyro-axes`` as a matrix (None: leave the gyroscope out), or False when not given."""
    spec = getattr(args, "gyro_axes", None)
    if spec is None:
        return False
    from .sources.axes import parse_gyro_axes

    return parse_gyro_axes(spec)


class _MappedGyro(WrappedSource):
    """A source whose blocks carry the gyroscope read through ``--gyro-axes`` (or none)."""

    def __init__(self, inner: Any, m: Any) -> None:
        super().__init__(inner)
        self.m = m

    async def _iterate(self) -> AsyncIterator[SampleBlock]:
        async with self._inner_blocks() as it:
            async for block in it:
                if block.gyro is not None:
                    block = dataclasses.replace(block, gyro=None if self.m is None else block.gyro @ self.m.T)
                yield block


class _GyroAxesCheck(WrappedSource):
    """A source whose gyroscope is checked against its accelerometer (:mod:`imu_tempo.sources.axes`).

    A recording is checked as it is read; a live stream on its first minutes: at CHECK_AT_S seconds
    of data (and at its end, if it ends first), in a worker thread, until the sensor has turned enough
    to tell.  A gyroscope in another convention is said once, as a ``gyro_axes`` status event naming
    the ``--gyro-axes`` map that fits.  The blocks pass on unchanged: the analysis goes on as the
    device sends it (restart with the flag; a ``--record`` file is checked again when it is read).
    """

    CHECK_AT_S = (30.0, 60.0, 120.0, 240.0)
    MAX_GAP_S = 0.25  # a longer gap (or time going back) starts the data to judge afresh

    def __init__(self, inner: Any, *, status: Callable[[StatusEvent], None]) -> None:
        super().__init__(inner)
        self._status = status
        self._t: list[Any] = []
        self._a: list[Any] = []
        self._g: list[Any] = []
        self._checks = 0  # checks started
        self._checked_s = 0.0  # data span the last check saw
        self._task: asyncio.Task[Any] | None = None
        self._done = False

    async def _iterate(self) -> AsyncIterator[SampleBlock]:
        async with self._inner_blocks() as it:
            async for block in it:
                if not self._done and block.gyro is not None:
                    self._take(block)
                yield block
        if not self._done:  # the stream ended before a verdict: judge what came
            if self._task is not None:
                self._settle(await self._task)
            if not self._done and self._t and self._span() > self._checked_s:
                self._start()
                assert self._task is not None
                self._settle(await self._task)

    def _span(self) -> float:
        return float(self._t[-1][-1] - self._t[0][0])

    def _take(self, block: SampleBlock) -> None:
        if self._task is not None and self._task.done():
            self._settle(self._task.result())  # a failed check raises here: never swallowed
        if self._done:
            return
        if self._t and not 0.0 < block.t_s[0] - self._t[-1][-1] <= self.MAX_GAP_S:
            # a gap, or a device clock that restarted (a reconnect): judge the new stretch on its own
            self._t, self._a, self._g = [], [], []
            self._checked_s = 0.0
        self._t.append(block.t_s)
        self._a.append(block.accel)
        self._g.append(block.gyro)
        if self._task is None and self._span() >= self.CHECK_AT_S[self._checks]:
            self._start()

    def _start(self) -> None:
        import numpy as np

        from .sources.axes import gyro_axes_verdict

        t, a, g = (np.concatenate(x) for x in (self._t, self._a, self._g))
        self._checks += 1
        self._checked_s = self._span()
        self._task = asyncio.ensure_future(asyncio.to_thread(gyro_axes_verdict, t, a, g, source="as the device sends it"))

    def _settle(self, verdict: Any) -> None:
        self._task = None
        if verdict is not None and verdict.message is not None:
            self._status(StatusEvent(state="gyro_axes", message=f"{self.name}: {verdict.message}",
                                     details={"gyro_axes": verdict.spec}))
        if (verdict is not None and verdict.decisive) or self._checks >= len(self.CHECK_AT_S):
            self._done = True
            self._t, self._a, self._g = [], [], []


class _UntilDeviceTime(WrappedSource):
    """A source that ends once a block reaches device time ``end_t_s`` (the demo's set is over).

    ``end_t_s`` is in the source's session time, relative to its first sample.
    """

    def __init__(self, inner: Any, *, end_t_s: float, on_enter: Callable[[], object] | None = None) -> None:
        super().__init__(inner)
        self.end_t_s = end_t_s
        self._on_enter = on_enter

    async def __aenter__(self) -> _UntilDeviceTime:
        await super().__aenter__()
        if self._on_enter is not None:
            self._on_enter()
        return self

    async def _iterate(self) -> AsyncIterator[SampleBlock]:
        first: float | None = None
        async with self._inner_blocks() as it:
            async for block in it:
                if first is None:
                    first = float(block.t_s[0])
                yield block
                if float(block.t_s[-1]) - first >= self.end_t_s - 1e-6:
                    return


# -- recording and summary --------------------------------------------------------------


class _LazyRecorder:
    """Opens the recording on the first block, when the channels and the rate are known.

    Writes go straight to the OS (the writer flushes each block) and are forced to
    disk at least once a second (``RecordingWriter``'s ``sync_interval_s``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.writer: Any = None
        self.describe: Callable[[SampleBlock], dict[str, str]] = lambda block: {}

    def write(self, block: SampleBlock) -> None:
        if self.writer is None:
            from .sources.recording import RecordingWriter

            self.writer = RecordingWriter(self.path, has_gyro=block.gyro is not None, metadata=self.describe(block),
                                          sync_interval_s=1.0)
        self.writer.write(block)

    def flush(self) -> None:
        if self.writer is not None and not self.writer.closed:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    @property
    def rows(self) -> int:
        return 0 if self.writer is None else int(self.writer.rows_written)


def _recording_metadata(name: str, stats: dict[str, Any], block: SampleBlock) -> dict[str, str]:
    meta = {
        "sensor": str(stats.get("device") or name),
        "sample_rate_hz": f"{block.fs_hz:g}",
        "source": f"imu-tempo live ({stats.get('format') or 'ble'}) from {name}",
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return meta


def _summary(engine: Any, stats: dict[str, Any], recorder: _LazyRecorder | None, *, elapsed_s: float,
             interrupted: bool, lost: Exception | None) -> StatusEvent:
    sets = list(getattr(engine, "sets", []))
    reps = sum(len(s.reps) for s in sets)
    fails = [f"set {s.index} at rep {s.first_failure_rep}" for s in sets if s.first_failure_rep is not None]
    samples = int(getattr(engine, "samples", 0))
    fs = getattr(engine, "fs_hz", None)
    data_s = samples / fs if fs else 0.0
    how = "interrupted" if interrupted else ("device lost" if lost is not None else "stream ended")
    parts = [
        f"{len(sets)} set{'s' if len(sets) != 1 else ''}, {reps} rep{'s' if reps != 1 else ''}",
        f"tempo failure: {', '.join(fails)}" if fails else "no tempo failure",
        f"{samples} samples ({data_s:.1f} s of data)",
        f"{stats.get('dropped_samples', 0)} lost, {stats.get('corrupt_frames', 0)} corrupt frames, "
        f"{stats.get('reconnects', 0)} reconnects",
    ]
    details: dict[str, Any] = {
        "sets": len(sets), "reps": reps, "samples": samples, "data_s": round(data_s, 3),
        "elapsed_s": round(elapsed_s, 3), "ended_by": how,
        **{k: v for k, v in stats.items() if k not in ("samples",)},
    }
    if recorder is not None:
        parts.append(f"recording: {recorder.path} ({recorder.rows} samples)")
        details["recording"] = recorder.path
        details["recorded_samples"] = recorder.rows
    return StatusEvent(state="ended", message=f"session {how}: " + "; ".join(parts), details=details)


if __name__ == "__main__":  # pragma: no cover
    from .cli import main

    sys.exit(main(["live", *sys.argv[1:]]))
