"""Wiring the displays into ``live`` and ``replay``: flags, one ``on_event``, one ``on_block``.

:func:`open_displays` builds what the flags ask for (terminal table or plain
lines or JSONL, ``--web``, ``--sound``) around one :class:`LiveView`, and
yields a :class:`Displays` whose ``on_event`` feeds them all, in this order:
the view, the web push (first, so the page is never behind the terminal), the
sound cue, the terminal.  ``on_block`` counts blocks for the link line (sample
rate, dropped samples, data age).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..errors import ConfigError
from ..sources import WrappedSource
from ..types import Event, SampleBlock, StatusEvent
from .state import LiveView


def add_display_arguments(p: argparse.ArgumentParser) -> None:
    """``--web``, ``--host``, ``--port``, ``--web-linger-s``, ``--sound`` and ``--plain``."""
    from .web import DEFAULT_PORT

    g = p.add_argument_group("live view (web page, sound, terminal)")
    g.add_argument("--web", action="store_true",
                   help="serve a live page (last rep, rep count, bars against the limits) from this process")
    g.add_argument("--host", default="127.0.0.1",
                   help="interface the page is served on (default 127.0.0.1: this computer only; "
                   "0.0.0.0 lets a phone on the same network open it)")
    g.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port of the page (default {DEFAULT_PORT}; 0: any free port)")
    g.add_argument("--web-linger-s", type=float, default=None, metavar="S",
                   help="with --web, keep serving the final state this long after the stream ends "
                   "(default: until Ctrl-C)")
    g.add_argument("--sound", nargs="?", const="beep", choices=["beep", "voice"], default=None,
                   help="audio cue on a warning and on tempo failure: beeps (default) or spoken words (espeak-ng)")
    g.add_argument("--plain", action="store_true", help="one line per event even in a terminal (no live table)")


def check_display_args(args: argparse.Namespace) -> None:
    """Refuse flag values that cannot work, with a message that says what to do."""
    web = getattr(args, "web", False)
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be between 0 and 65535, got {args.port!r}")
    if args.web_linger_s is not None and not (args.web_linger_s >= 0 and math.isfinite(args.web_linger_s)):
        raise ConfigError(f"--web-linger-s must be a number of seconds >= 0, got {args.web_linger_s!r}")
    if not web and (args.host != "127.0.0.1" or args.web_linger_s is not None):
        raise ConfigError("--host and --web-linger-s apply to the web page: add --web")


@dataclass
class Displays:
    """The callbacks of a running display set.  Call both in the event loop's thread."""

    view: LiveView
    outputs: list[Callable[[Event], None]] = field(default_factory=list)
    web: Any = None
    sound: Any = None
    linger_s: float | None = None

    def on_event(self, event: Event) -> None:
        t_ms = time.time() * 1000.0  # when the engine emitted it: the page's latency starts here
        self.view.apply(event)
        if self.web is not None:
            self.web.publish(event, t_ms=t_ms)
        for out in self.outputs:
            out(event)

    def show(self, event: Event) -> None:
        """Apply ``event`` to the view and the page only (not to the terminal or JSONL stream)."""
        self.view.apply(event)
        if self.web is not None:
            self.web.publish(event)

    def on_block(self, block: SampleBlock) -> None:
        self.view.on_block(block)

    async def linger(self) -> None:
        """With ``--web``, keep serving the final state (``--web-linger-s``, or until Ctrl-C)."""
        if self.web is None:
            return
        if self.linger_s is None:
            self.on_event(StatusEvent(state="web", message=f"the page stays up at {self.web.url}; Ctrl-C to quit",
                                      details={"url": self.web.url}))
            await asyncio.Event().wait()
        elif self.linger_s > 0:
            await asyncio.sleep(self.linger_s)


@contextlib.asynccontextmanager
async def open_displays(
    args: argparse.Namespace,
    *,
    settings: Any,
    source: str,
    base: Callable[[Event], None] | None,
    stream: TextIO | None = None,
) -> AsyncIterator[Displays]:
    """Start the displays the flags ask for; stop them on exit.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed flags (see :func:`add_display_arguments`).
    settings : Settings
        How reps are judged (limits drawn on the page and in the table).
    source : str
        Name of the source, for the header.
    base : callable or None
        The machine output (JSONL printer), or None for the human one: the live
        table in a terminal, plain lines otherwise.  Pass ``lambda e: None`` for
        no terminal output at all (``replay --json``).
    stream : text stream
        Where the human output goes (default stdout).
    """
    from .terminal import entered, make_printer

    stream = stream or sys.stdout
    view = LiveView.from_settings(settings, source=source)
    disp = Displays(view=view, linger_s=getattr(args, "web_linger_s", None))
    async with contextlib.AsyncExitStack() as stack:
        if getattr(args, "web", False):
            from .web import WebView

            disp.web = await stack.enter_async_context(WebView(view, host=args.host, port=args.port))
        if getattr(args, "sound", None):
            from .sound import CuePlayer

            disp.sound = await stack.enter_async_context(CuePlayer(style=args.sound))
            disp.outputs.append(disp.sound)
        printer = base if base is not None else make_printer(
            view, stream=stream, plain=getattr(args, "plain", False), measure=settings.measure)
        disp.outputs.append(await stack.enter_async_context(entered(printer)))
        if disp.web is not None:
            w = disp.web
            disp.on_event(StatusEvent(state="web", message=w.startup_message(),
                                      details={"url": w.url, "host": w.host, "port": w.port,
                                               "phone_urls": w.phone_urls()}))
        yield disp


class ObservedSource(WrappedSource):
    """A source that passes every block to ``on_block`` before yielding it (same blocks, same order)."""

    def __init__(self, inner: Any, on_block: Callable[[SampleBlock], None]) -> None:
        super().__init__(inner)
        self._on_block = on_block

    async def _iterate(self) -> AsyncIterator[SampleBlock]:
        async with self._inner_blocks() as it:
            async for block in it:
                self._on_block(block)
                yield block

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
