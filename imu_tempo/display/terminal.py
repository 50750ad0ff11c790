"""The terminal view: a live rich table in a terminal, one line per event in a pipe.

In a terminal (stdout is a TTY), :class:`TerminalTable` keeps a table of the
current set at the bottom of the screen, redrawn on every event: rep,
duration, concentric time, trend (% slower than the set's reference), and the
state in colour (green ok, yellow warning, red tempo failure), with the link
status, the measured sample rate and the dropped samples under it.  Status
lines, tempo failures and set summaries are printed above the table, so they
stay in the scrollback.

In a pipe or a file, or with ``--plain``, :func:`make_printer` returns the plain
:class:`~imu_tempo.outputs.TextPrinter` (one line per event, no escape codes).

Threads: everything runs in the event loop's thread; the table is redrawn from
``on_event`` and a 2 Hz ticker task (no rich refresh thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..outputs import TextPrinter, format_event
from ..types import (
    Event,
    FailureEvent,
    RepEvent,
    SetEndEvent,
    StatusEvent,
    WarningEvent,
)
from .state import LiveView

_STYLE = {"ok": "bold green", "warning": "bold yellow", "failure": "bold white on red", "idle": "dim"}
_LINK_STYLE = {"streaming": "green", "waiting": "dim", "lost": "bold red", "reconnecting": "bold yellow",
               "stalled": "bold yellow", "ended": "cyan", "saturated": "bold yellow", "gyro_axes": "bold yellow"}
#: Rows of the current set shown (the latest ones).
MAX_ROWS = 16


def is_terminal(stream: TextIO) -> bool:
    """True when ``stream`` is an interactive terminal (not a pipe, a file or a dumb terminal)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # closed
        return False


class TerminalTable:
    """A live table of the current set, for an interactive terminal.

    Parameters
    ----------
    view : LiveView
        The state shown (updated by the caller before each ``__call__``).
    console : rich.console.Console
        Where to draw.
    tick_s : float
        Redraw period for the link line (sample rate, data age), seconds.
    """

    def __init__(self, view: LiveView, *, console: Console, tick_s: float = 0.5) -> None:
        self.view = view
        self.console = console
        self.tick_s = tick_s
        self._live: Live | None = None
        self._tick: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TerminalTable:
        self._live = Live(self.render(), console=self.console, auto_refresh=False, transient=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._live.start()
        self._tick = asyncio.get_running_loop().create_task(self._ticker(), name="imu-tempo terminal ticker")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
            self._live.stop()
            self._live = None

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.refresh()

    def refresh(self) -> None:
        if self._live is not None:
            self._live.update(self.render(), refresh=True)

    def __call__(self, event: Event) -> None:
        """Print what belongs in the scrollback, then redraw the table."""
        line = self._line(event)
        if line is not None:
            self.console.print(line)
        self.refresh()

    def _line(self, event: Event) -> Text | None:
        if isinstance(event, StatusEvent):
            style = _LINK_STYLE.get(event.state, "cyan")
            return Text.assemble((f"[{event.state}] ", style), event.message)
        if isinstance(event, FailureEvent):
            return Text(format_event(event).strip(), style=_STYLE["failure"])
        if isinstance(event, SetEndEvent):
            return Text(format_event(event), style="bold")
        if isinstance(event, (RepEvent, WarningEvent)):
            return None  # in the table
        text = format_event(event)
        return Text(text.strip(), style="yellow") if text else None

    # -- drawing --------------------------------------------------------------------

    def render(self) -> Group:
        """The table of the current set and the link line under it."""
        v = self.view
        snap = v.snapshot()
        s = snap["set"]
        lim = snap["limits"]
        trend = f", trend limit {lim['trend_limit_s']:.2f} s" if lim["trend_limit_s"] else ""
        title = (f"set {s['index']}" if s["index"] else "waiting for the first rep") + \
            f"  (limit {lim['threshold_s']:.2f} s{trend}, {lim['measure']} timed)"
        table = Table(title=title, title_justify="left", expand=False, header_style="bold")
        table.add_column("rep", justify="right")
        table.add_column("duration s", justify="right")
        table.add_column("concentric s", justify="right")
        table.add_column("trend %", justify="right")
        table.add_column("state")
        reps = s["reps"]
        if len(reps) > MAX_ROWS:
            table.add_row("…", "", "", "", f"{len(reps) - MAX_ROWS} earlier reps")
        for r in reps[-MAX_ROWS:]:
            state = r["state"]
            label = {"ok": "ok", "warning": "warning", "failure": f"FAIL ({r['failure']})"}[state]
            if r["gap"]:
                label += ", gap in data"
            table.add_row(
                str(r["index"]),
                f"{r['duration_s']:.2f}",
                "-" if r["concentric_s"] is None else f"{r['concentric_s']:.2f}",
                "" if r["slowdown"] is None else f"{r['slowdown'] * 100:+.0f}",
                Text(label, style=_STYLE[state]),
            )
        parts: list[Any] = [table]
        summary = snap["summary"]
        if summary is not None and summary["index"] == s["index"]:
            fail = (f"tempo failure at rep {summary['first_failure_rep']} ({summary['failure_reason']})"
                    if summary["first_failure_rep"] else "no tempo failure")
            best = "-" if summary["best_rep_s"] is None else f"{summary['best_rep_s']:.2f}"
            mean = "-" if summary["mean_rep_s"] is None else f"{summary['mean_rep_s']:.2f}"
            parts.append(Text(f"set {summary['index']} done: {summary['rep_count']} reps, best {best} s, "
                              f"mean {mean} s, {fail}", style="bold"))
        elif s["state"] != "idle":
            verdict = {"ok": "on tempo", "warning": "close to the limit", "failure": "TEMPO FAILURE: end the set"}
            parts.append(Text(verdict[s["state"]], style=_STYLE[s["state"]]))
        parts.append(self._link_text(snap["link"]))
        return Group(*parts)

    @staticmethod
    def _link_text(link: dict[str, Any]) -> Text:
        state = link["state"]
        names = {"waiting": "waiting for the sensor", "streaming": "streaming", "lost": "SENSOR LOST",
                 "reconnecting": "SENSOR LOST: reconnecting", "stalled": "NO DATA", "ended": "session ended"}
        t = Text.assemble(("sensor: ", "dim"), (names.get(state, state), _LINK_STYLE.get(state, "")))
        if link["rate_hz"] is not None:
            t.append(f"  {link['rate_hz']:.0f} Hz")
            if link["fs_hz"]:
                t.append(f" (nominal {link['fs_hz']:g})", style="dim")
        elif link["fs_hz"]:
            t.append(f"  nominal {link['fs_hz']:g} Hz")
        t.append(f"  {link['dropped']} dropped samples", style="red" if link["dropped"] else "dim")
        if state in ("stalled", "lost", "reconnecting") and link["message"]:
            t.append(f"  {link['message']}", style="yellow")
        return t


def make_printer(view: LiveView, *, stream: TextIO | None = None, plain: bool = False,
                 measure: str = "rep") -> TerminalTable | TextPrinter:
    """The terminal output for ``stream``: a :class:`TerminalTable` on a TTY, else plain lines.

    The table must be entered (``async with``) before events arrive; the
    plain printer needs nothing (see :func:`entered`).
    """
    stream = stream or sys.stdout
    if plain or not is_terminal(stream):
        return TextPrinter(stream, measure=measure)
    return TerminalTable(view, console=Console(file=stream))


@contextlib.asynccontextmanager
async def entered(printer: Any):
    """``async with`` for either output kind (the plain printer has no lifecycle)."""
    if isinstance(printer, TerminalTable):
        async with printer:
            yield printer
    else:
        yield printer
