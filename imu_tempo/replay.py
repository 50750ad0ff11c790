"""``imu-tempo replay``: stream a recording through the live engine.

At ``--speed 1`` the file plays in real time (device time drives the pacing)
and each rep and failure cue is printed the moment the engine emits it, as a
live session would have.  ``--speed max`` runs as fast as the machine allows;
``--json`` then prints the same document as ``analyze --json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from .analysis import analysis_json
from .engine import Engine
from .outputs import JsonlPrinter, TextPrinter
from .session import run_session


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
    from .sources.recording import ReplaySource, read_recording

    settings = settings_from_args(args)
    speed = parse_speed(args.speed)
    rec = read_recording(args.recording, accel_unit=args.accel_unit, gyro_unit=args.gyro_unit)
    source = ReplaySource(rec, speed=speed, block_size=args.block_size)
    engine = Engine(settings)
    if args.json:
        def on_event(ev) -> None:
            pass
    elif args.jsonl:
        on_event = JsonlPrinter(sys.stdout)
    else:
        on_event = TextPrinter(sys.stdout)
        pace = "as fast as possible" if speed is None else f"at {speed:g}x real time"
        print(f"replaying {rec.name} ({rec.fs_hz:g} Hz, {rec.duration_s:.1f} s) {pace}", flush=True)
    asyncio.run(run_session(source, engine, on_event=on_event, keep_events=False))
    if args.json:
        json.dump(analysis_json(engine, recording=str(args.recording), metadata=rec.metadata), sys.stdout, indent=1)
        sys.stdout.write("\n")
    return 0
