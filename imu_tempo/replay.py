"""``imu-tempo replay``: stream a recording through the live engine.

At ``--speed 1`` the file plays in real time (device time drives the pacing)
and each rep and failure cue is printed the moment the engine emits it, as a
live session would have.  ``--speed max`` runs as fast as the machine allows;
``--json`` then prints the same document as ``analyze --json``.

The live displays work here too, driven by the recording: ``--web`` (the page
of ``live --web``), ``--sound``, and the live table in a terminal (``--plain``
for one line per event).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .analysis import analysis_json, measure_hint
from .display.hub import ObservedSource
from .engine import Engine
from .outputs import JsonlPrinter
from .session import run_session
from .types import StatusEvent


def add_arguments(p: argparse.ArgumentParser) -> None:
    from .cli import add_analysis_arguments

    p.add_argument("recording", metavar="RECORDING.csv")
    p.add_argument(
        "--speed", default="1", help="playback speed: a factor of real time (1, 4, 0.5) or 'max' (default 1)"
    )
    p.add_argument("--block-size", type=int, default=None, help="samples per block (default: about 20 ms)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="at the end, print the analysis JSON (as analyze --json)")
    out.add_argument("--jsonl", action="store_true", help="one JSON object per event, as it happens")
    add_analysis_arguments(p)
    from .display.hub import add_display_arguments

    add_display_arguments(p)


def parse_speed(text: str) -> float | None:
    from .errors import ConfigError

    if str(text).lower() in ("max", "inf", "fastest"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"--speed must be a number > 0 or 'max', got {text!r}") from None
    if not v > 0:
        raise ConfigError(f"--speed must be a number > 0 or 'max', got {text!r}")
    return v


def run(args: argparse.Namespace) -> int:
    from .cli import settings_from_args
    from .display.hub import check_display_args, open_displays
    from .sources.recording import ReplaySource, read_recording

    settings = settings_from_args(args)
    speed = parse_speed(args.speed)
    check_display_args(args)
    rec = read_recording(args.recording, accel_unit=args.accel_unit, gyro_unit=args.gyro_unit, gyro_axes=args.gyro_axes,
                         time_unit=args.time_unit)
    source = ReplaySource(rec, speed=speed, block_size=args.block_size)
    engine = Engine(settings)
    if args.json:
        def base(ev) -> None:
            pass
    elif args.jsonl:
        base = JsonlPrinter(sys.stdout)
    else:
        base = None
    ended: list[int] = []

    if not (args.json or args.jsonl):
        pace = "as fast as possible" if speed is None else f"at {speed:g}x real time"
        print(f"replaying {rec.name} ({rec.fs_hz:g} Hz, {rec.duration_s:.1f} s) {pace}", flush=True)

    async def main() -> None:
        async with open_displays(args, settings=settings, source=rec.name, base=base) as shown:
            await run_session(ObservedSource(source, shown.on_block), engine, on_event=shown.on_event,
                              keep_events=False)
            shown.show(StatusEvent(state="ended", message=f"replay of {rec.name} ended"))
            ended.append(0)
            if args.json:
                json.dump(analysis_json(engine, recording=str(args.recording), metadata=rec.metadata,
                                        warnings=rec.warnings), sys.stdout, indent=1)
                sys.stdout.write("\n")
                sys.stdout.flush()
            elif not args.jsonl and args.measure is None:
                hint = measure_hint(analysis_json(engine, recording=str(args.recording), metadata=rec.metadata))
                if hint:
                    sys.stderr.write(f"imu-tempo replay: hint: {hint}\n")
            await shown.linger()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        if not ended:
            raise
    return 0
