"""Shared pieces of the display tests: real engine events from a shipped recording, a web view in a thread."""

from __future__ import annotations

import asyncio
import functools
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np

from imu_tempo.display.state import LiveView
from imu_tempo.display.web import WebView
from imu_tempo.engine import Engine
from imu_tempo.session import run_session
from imu_tempo.settings import Settings
from imu_tempo.sources.recording import ReplaySource, read_recording
from imu_tempo.types import (
    Event,
    FailureEvent,
    Rep,
    RepEvent,
    SampleBlock,
    SetEndEvent,
    WarningEvent,
)

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


@dataclass(frozen=True)
class ExpectedSet:
    """What the displays must show for a recording's one set, taken from the engine's own events.

    Per-rep tuples are in rep order (``indices``).  Values the display receives rounded are
    rounded here the same way: rep times to 4 decimals (the live state), best and mean to 6
    (the summary JSON); the displays then show them to 2.
    """

    set_index: int
    rep_count: int
    indices: tuple[int, ...]
    reps: tuple[Rep, ...]  # the engine's last word on each rep (its latest event, or the set summary)
    states: tuple[str, ...]  # "ok" | "warning" | "failure", per rep
    warning_reps: tuple[int, ...]  # indices of the reps shown as warnings
    failing_reps: tuple[int, ...]  # indices of the reps shown as failing
    first_failure_rep: int
    failure_reason: str
    warning_events: int
    failure_events: int
    durations_s: tuple[float, ...]  # rounded to 4 decimals
    concentric_s: tuple[float | None, ...]  # rounded to 4 decimals
    trend_pct: tuple[float | None, ...]  # slowdown (rounded to 4 decimals) x 100, None before a reference
    best_rep_s: float  # rounded to 6 decimals
    mean_rep_s: float  # rounded to 6 decimals


@functools.cache
def expected_set(name: str = "sim_kettlebell_swing") -> ExpectedSet:
    """The analysis of :func:`recorded_run` that the display tests check the displays against.

    Checks that the analysis is worth testing a display with (one set, at least five reps,
    a tempo failure), so an engine that finds nothing fails the tests instead of passing them.
    """
    events, _ = recorded_run(name)
    rep_events = [e for e in events if isinstance(e, RepEvent)]
    failures = [e for e in events if isinstance(e, FailureEvent)]
    warnings = [e for e in events if isinstance(e, WarningEvent)]
    ends = [e for e in events if isinstance(e, SetEndEvent)]
    latest: dict[int, Rep] = {}
    for ev in events:
        if isinstance(ev, (RepEvent, WarningEvent, FailureEvent)):
            latest[ev.rep.index] = ev.rep
        elif isinstance(ev, SetEndEvent):
            latest.update((r.index, r) for r in ev.summary.reps)
    indices = tuple(sorted(latest))
    reps = tuple(latest[i] for i in indices)

    assert len(ends) == 1, f"{name}: expected one set, the engine ended {len(ends)}"
    summary = ends[0].summary
    assert {r.set_index for r in reps} == {summary.index}, f"{name}: reps outside set {summary.index}"
    assert len(rep_events) >= 5, f"{name}: the engine found only {len(rep_events)} reps"
    assert [e.rep.index for e in rep_events] == list(range(1, len(rep_events) + 1)), \
        f"{name}: rep events out of order: {[e.rep.index for e in rep_events]}"
    assert indices == tuple(range(1, len(rep_events) + 1)), f"{name}: the summary's reps differ from the rep events"
    assert len(failures) == 1, f"{name}: expected one tempo failure, the engine reported {len(failures)}"
    failure = failures[0]
    assert (summary.first_failure_rep, summary.failure_reason) == (failure.first_failure_rep, failure.reason), \
        f"{name}: the set summary and the failure event disagree"

    def state(r: Rep) -> str:
        return "failure" if r.failure is not None else "warning" if r.warning else "ok"

    states = tuple(state(r) for r in reps)
    failing = tuple(i for i, st in zip(indices, states) if st == "failure")
    assert failure.first_failure_rep in failing, f"{name}: first failing rep {failure.first_failure_rep} not failing"
    durations = [r.duration_s for r in reps]
    return ExpectedSet(
        set_index=summary.index,
        rep_count=len(rep_events),
        indices=indices,
        reps=reps,
        states=states,
        warning_reps=tuple(i for i, st in zip(indices, states) if st == "warning"),
        failing_reps=failing,
        first_failure_rep=failure.first_failure_rep,
        failure_reason=failure.reason,
        warning_events=len(warnings),
        failure_events=len(failures),
        durations_s=tuple(round(d, 4) for d in durations),
        concentric_s=tuple(None if r.concentric_s is None else round(r.concentric_s, 4) for r in reps),
        trend_pct=tuple(None if r.slowdown is None else round(r.slowdown, 4) * 100 for r in reps),
        best_rep_s=round(min(durations), 6),
        mean_rep_s=round(float(np.mean(durations)), 6),
    )


def js_fixed(x: float, digits: int = 2) -> str:
    """``Number(x).toFixed(digits)`` as the page's JavaScript writes it (ties away from zero on the exact value)."""
    q = Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{q:.{digits}f}"


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
