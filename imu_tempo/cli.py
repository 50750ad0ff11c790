"""The ``imu-tempo`` command line.

Each subcommand lives in the module that implements it and exposes
``add_arguments(parser)`` and ``run(args) -> int``; this file only routes.
Subcommand modules are imported lazily so that ``imu-tempo analyze`` never
imports bleak or pyserial.

User errors (:class:`~imu_tempo.errors.ImuTempoError`) are printed as one
clear message without a traceback (exit status 2); Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence

from .errors import ConfigError, ImuTempoError, ImuTempoWarning

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("imu_tempo.analysis", "analyse recordings: one row per rep, the set summary, the failure rep"),
    "replay": ("imu_tempo.replay", "stream a recording through the live engine (real time or --speed max)"),
    "simulate": ("imu_tempo.simulate", "write a simulated power set (recording + truth) for demos and tests"),
    "live": ("imu_tempo.live", "analyse a wearable live over serial or BLE (--demo: simulated wearable)"),
    "ports": ("imu_tempo.live", "list serial ports that look like wearables"),
    "scan": ("imu_tempo.sources.ble.scan", "list nearby BLE devices and the profile that fits each"),
    "calibrate": ("imu_tempo.calibrate", "compare with video-timed reps, measure the error in ms, fit a profile"),
    "convert": ("imu_tempo.importers.convert", "convert app exports (phyphox, Sensor Logger, MetaMotion, Polar) to CSV v1"),
    "report": ("imu_tempo.report", "a self-contained HTML (or PNG) report of a session"),
}


def add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    """The flags that change an analysis; shared by analyze, replay and live."""
    g = p.add_argument_group("tempo failure")
    g.add_argument("--threshold-s", type=float, default=1.2, help="absolute limit for a rep's measure (default 1.2 s)")
    g.add_argument(
        "--slowdown", type=float, default=0.25,
        help="trend limit: fail when a rep is this fraction slower than the set's best reps (default 0.25)",
    )
    g.add_argument(
        "--measure", choices=["rep", "concentric"], default=None,
        help="what is timed: the whole rep or its concentric phase (default rep; a --demo uses its exercise's)",
    )
    g.add_argument("--confirm", type=int, default=1, help="failing reps in a row before the failure cue (default 1)")
    g.add_argument("--set-rest-s", type=float, default=8.0, help="a rest this long ends a set (default 8 s)")
    g.add_argument("--calibration", metavar="PROFILE.toml", help="apply a profile saved by `imu-tempo calibrate --save`")
    g.add_argument(
        "--detector", choices=["vertical", "orientation", "both", "auto"], default="auto",
        help="rep channel: auto (default: with a gyroscope the vertical channel; without one, per bout the "
        "vertical reps or a run of 3+ orientation reps where the vertical channel has no consistent series, "
        "walking is no rep), vertical (lifts only: presses, squats, swings, pull-ups), orientation (rotating "
        "movements only: curls, raises, cable work), or both",
    )
    u = p.add_argument_group("units")
    u.add_argument("--accel-unit", choices=["m/s^2", "g", "mg"], default=None, help="unit of ax,ay,az (default m/s^2)")
    u.add_argument("--gyro-unit", choices=["rad/s", "deg/s"], default=None, help="unit of gx,gy,gz (default rad/s)")
    u.add_argument("--time-unit", choices=["s", "ms", "us", "ns"], default=None, help="unit of t (default s)")
    add_gyro_axes(u)


def add_gyro_axes(group) -> None:
    """``--gyro-axes``: how the gyroscope's columns map onto the accelerometer's axes."""
    group.add_argument(
        "--gyro-axes", metavar="MAP", default=None,
        help="when the gyroscope follows another axis convention than the accelerometer: gx,gy,gz as the "
        "sensor's x,y,z, e.g. --gyro-axes=-x,-y,-z (every sign flipped) or y,x,-z; none ignores the gyroscope "
        "(default: as they are; a clear disagreement stops the reading and names the map)",
    )


def settings_from_args(args: argparse.Namespace):
    """Build :class:`~imu_tempo.settings.Settings` from the shared analysis flags (and a calibration profile)."""
    from .settings import Settings

    changes: dict[str, object] = {}
    if getattr(args, "calibration", None):
        from .calibrate import load_profile

        changes.update(load_profile(args.calibration))
        changes["calibration"] = str(args.calibration)
    try:
        return Settings(
            threshold_s=args.threshold_s,
            slowdown=args.slowdown,
            measure=args.measure or "rep",
            confirm=args.confirm,
            set_rest_s=args.set_rest_s,
            detector=getattr(args, "detector", None) or Settings().detector,
        ).replace(**changes)
    except TypeError as exc:  # pragma: no cover - defensive
        raise ConfigError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imu-tempo",
        description="Real-time rep-tempo analysis for IMU wearables: time every rep, flag tempo failure.",
    )
    parser.add_argument("--version", action="version", version=f"imu-tempo {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    argv = sys.argv[1:]
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        # Only import the module of the command being run (and all of them for --help).
        if name in argv or not any(a in COMMANDS for a in argv):
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:
                p.set_defaults(_import_error=exc)
                continue
            adder = getattr(mod, f"add_{name}_arguments", None) or getattr(mod, "add_arguments", None)
            if adder is None:
                p.set_defaults(_import_error=ImportError(f"{module} does not define the command"))
                continue
            adder(p)
        p.set_defaults(_command=name, _module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:])
    if getattr(args, "_import_error", None) is not None:
        print(f"imu-tempo {args.command}: not available: {args._import_error}", file=sys.stderr)
        return 2
    mod = importlib.import_module(args._module)
    runner = getattr(mod, f"run_{args._command}", None) or mod.run
    show = warnings.showwarning

    def show_ours(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, ImuTempoWarning):  # a finding about the data, not about our code
            print(f"imu-tempo {args.command}: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = show_ours
    try:
        return int(runner(args) or 0)
    except ImuTempoError as exc:
        print(f"imu-tempo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `imu-tempo ... | head`
        return 0
    finally:
        warnings.showwarning = show


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("imu-tempo")
    except Exception:  # pragma: no cover
        return "unknown"


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
