"""Shared pieces of the display tests: real engine events from a shipped recording, a web view in a thread."""

from __future__ import annotations

import asyncio
import functools
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from imu_tempo.display.state import LiveView
from imu_tempo.display.web import WebView
from imu_tempo.engine import Engine
from imu_tempo.session import run_session
from imu_tempo.settings import Settings
from imu_tempo.sources.recording import ReplaySource, read_recording
from imu_tempo.types import Event, SampleBlock

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "recordings"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@functools.cache
def recorded_run(name: str = "sim_kettlebell_swing") -> tuple[tuple[Event, ...], tuple[SampleBlock, ...]]:
    """Every event the engine emits on a shipped recording, and the blocks it was fed (default settings)."""
    rec = read_recording(RECORDINGS / f"{name}.csv")
    events: list[Event] = []
    blocks: list[SampleBlock] = []

    class Tap:
        def __init__(self, inner: Any) -> None:
            self.inner, self.name = inner, inner.name

        async def __aenter__(self) -> Any:
            await self.inner.__aenter__()
            return self

        async def __aexit__(self, *exc: object) -> None:
            await self.inner.__aexit__(*exc)

        async def __aiter__(self) -> Any:
            async for b in self.inner:
                blocks.append(b)
                yield b

    # In a thread of its own: the caller may be inside a running loop (Playwright's sync API runs one).
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run_session(Tap(ReplaySource(rec, speed=None)), Engine(Settings()),
                                             on_event=events.append)).result(60)
    return tuple(events), tuple(blocks)


def new_view(**kw: Any) -> LiveView:
    return LiveView.from_settings(Settings(), source="test", **kw)


def browser_unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install playwright)"
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        return f"Debian chromium is not installed ({CHROMIUM}; apt-get install -y chromium)"
    return None


def chromium_path() -> str:
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


class ServerThread:
    """A :class:`WebView` on its own event loop in a background thread (the browser test drives the main thread).

    ``call(fn, *args)`` runs ``fn`` in the loop's thread and waits for it, as ``on_event`` would be.
    """

    def __init__(self, view: LiveView, *, port: int = 0, tick_s: float = 0.5) -> None:
        self.view = view
        self.port = port
        self.tick_s = tick_s
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="web-view-test", daemon=True)
        self.thread.start()
        self.web: WebView | None = None

    def run(self, coro: Any, timeout_s: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        fut: Future[Any] = Future()

        def go() -> None:
            try:
                fut.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                fut.set_exception(exc)

        self.loop.call_soon_threadsafe(go)
        return fut.result(10)

    def start(self) -> str:
        async def up() -> WebView:
            web = WebView(self.view, host="127.0.0.1", port=self.port, tick_s=self.tick_s)
            await web.start()
            return web

        self.web = self.run(up())
        self.port = self.web.port
        return self.web.url

    def stop(self) -> None:
        if self.web is not None:
            self.run(self.web.close())
            self.web = None

    def event(self, ev: Event) -> None:
        def go() -> None:
            self.view.apply(ev)
            if self.web is not None:
                self.web.publish(ev)

        self.call(go)

    def block(self, b: SampleBlock) -> None:
        self.call(self.view.on_block, b)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()
