"""The live page in a real browser (headless Debian Chromium driven by Playwright).

Skipped, with the reason, where Playwright or Chromium is missing; CI installs both
(apt-get install chromium; pip install playwright).  Set ``IMU_TEMPO_SCREENSHOT=docs/live-page.png``
to also save the phone-size screenshot the README shows.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from displaykit import (
    CHROMIUM_ARGS,
    ServerThread,
    browser_unavailable,
    chromium_path,
    expected_set,
    js_fixed,
    new_view,
    recorded_run,
)

from imu_tempo.settings import Settings
from imu_tempo.types import (
    FailureEvent,
    RepEvent,
    SetEndEvent,
    StatusEvent,
    WarningEvent,
)

why = browser_unavailable()
pytestmark = pytest.mark.skipif(why is not None, reason=f"browser test skipped: {why}")

PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000
FAILURE_RGB = (0xB3, 0x00, 0x1E)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def server() -> Iterator[ServerThread]:
    st = ServerThread(new_view(), tick_s=0.25)
    st.start()
    try:
        yield st
    finally:
        st.close()


class Page:
    """A phone-size page that records every request it makes."""

    def __init__(self, browser: Any, url: str, *, scale: float = 1) -> None:
        self.context = browser.new_context(viewport=PHONE, device_scale_factor=scale, is_mobile=True, has_touch=True)
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.goto(url)

    def wait(self, js: str) -> None:
        """Wait until the JS expression over ``b`` (document.body) is true."""
        self.page.wait_for_function(f"() => {{ const b = document.body; return {js}; }}", timeout=WAIT_MS)

    def data(self) -> dict[str, str]:
        return self.page.evaluate("() => ({...document.body.dataset})")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def close(self) -> None:
        self.context.close()


def local_only(urls: list[str], port: int) -> None:
    for u in urls:
        assert u.startswith((f"http://127.0.0.1:{port}/", f"ws://127.0.0.1:{port}/", "data:")), u


class TestLivePage:
    def test_rep_count_warning_failure_and_summary_follow_the_engine(self, browser: Any, server: ServerThread) -> None:
        events, blocks = recorded_run()
        exp = expected_set()
        limits = Settings()  # what new_view() judges against
        page = Page(browser, server.web.url if server.web else "")
        try:
            page.wait("b.dataset.conn === 'online'")
            assert page.data()["reps"] == "0" and page.data()["state"] == "idle"
            server.event(StatusEvent(state="streaming", message="test: binary frames, 100 Hz", details={"fs_hz": 100.0}))
            for b in blocks[:50]:
                server.block(b)
            page.wait("b.dataset.link === 'streaming'")
            n = 0
            for ev in events:
                server.event(ev)
                if isinstance(ev, RepEvent):
                    n += 1
                    page.wait(f"b.dataset.reps === '{n}'")
                    assert page.text("#count") == str(n)
                    # the page shows the 4-decimal value it is sent, to two decimals
                    assert page.text("#last-value") == js_fixed(round(ev.rep.duration_s, 4))
                    assert page.page.locator(".bar").count() == n
                elif isinstance(ev, WarningEvent):
                    page.wait("b.dataset.state === 'warning'")
                    assert page.text("#verdict").lower() == "close to the limit"
                    assert page.page.locator(f".bar[data-index='{ev.rep.index}']").get_attribute("class") == "bar warning"
                elif isinstance(ev, FailureEvent):
                    page.wait("b.dataset.state === 'failure'")
                    why = (f"over {limits.threshold_s:.1f} s" if ev.reason == "absolute"
                           else f"{round(limits.slowdown * 100)} % slower than the best reps")
                    assert page.text("#verdict").lower() == f"tempo failure at rep {ev.first_failure_rep}: {why}"
                elif isinstance(ev, SetEndEvent):
                    page.wait("b.dataset.summary === '1'")
            assert n == exp.rep_count
            failed_at = next(i for i, e in enumerate(events) if isinstance(e, FailureEvent))
            assert any(isinstance(e, RepEvent) for e in events[failed_at:])  # there were reps after the failure...
            assert page.data()["state"] == "failure"  # ...and they did not clear it
            assert page.page.locator(".bar.failure").count() == len(exp.failing_reps)
            assert page.page.locator(".bar.warning").count() == len(exp.warning_reps)
            bar_states = page.page.evaluate(
                "() => [...document.querySelectorAll('.bar')].map(b => [Number(b.dataset.index), b.className])")
            assert bar_states == [[i, f"bar {st}" + (" gap" if r.gap else "")]
                                  for i, st, r in zip(exp.indices, exp.states, exp.reps, strict=True)]
            assert page.text("#summary-title") == f"set {exp.set_index} done"
            assert page.text("#summary-text") == (
                f"{exp.rep_count} reps · best {js_fixed(exp.best_rep_s)} s · mean {js_fixed(exp.mean_rep_s)} s · "
                f"tempo failure at rep {exp.first_failure_rep} ({exp.failure_reason})")
            assert page.page.is_visible("#line-threshold") and page.page.is_visible("#line-trend")
            assert page.text("#label-threshold") == "1.2 s"
            assert page.errors == []
            local_only(page.requests, server.port)
            lat = page.page.evaluate("() => window.imuTempo.latencies.length")
            assert lat >= len(events)  # every event reached the page as its own push
        finally:
            page.close()

    def test_reload_and_analyzer_restart_recover_by_themselves(self, browser: Any, server: ServerThread) -> None:
        events, _ = recorded_run()
        exp = expected_set()
        reps = [e for e in events if isinstance(e, RepEvent)]
        first = events.index(reps[3])
        for ev in events[:first]:
            server.event(ev)
        page = Page(browser, server.web.url if server.web else "")
        try:
            page.wait("b.dataset.reps === '3'")
            page.page.reload()
            page.wait("b.dataset.reps === '3' && b.dataset.conn === 'online'")
            # The network blips: the analyzer's server goes away, events go on, it comes back on the same port.
            server.stop()
            page.wait("b.dataset.conn === 'offline' && b.dataset.banner === 'shown'")
            assert "analyzer offline" in page.text("#banner").lower()
            for ev in events[first:]:
                server.event(ev)
            server.start()
            page.wait(f"b.dataset.conn === 'online' && b.dataset.reps === '{exp.rep_count}' "
                      "&& b.dataset.state === 'failure'")
            assert page.data()["banner"] == "none" and page.page.is_hidden("#banner")
            assert page.page.evaluate("() => window.imuTempo.connects") == 2  # since the reload: first, then after the restart
        finally:
            page.close()

    def test_sensor_lost_and_back(self, browser: Any, server: ServerThread) -> None:
        page = Page(browser, server.web.url if server.web else "")
        try:
            page.wait("b.dataset.conn === 'online'")
            server.event(StatusEvent(state="lost", message="/dev/ttyACM0: unplugged; retrying for 30 s"))
            page.wait("b.dataset.link === 'lost' && b.dataset.banner === 'shown'")
            banner = page.text("#banner").lower()
            assert "sensor lost" in banner and "reconnecting" in banner and "unplugged" in banner
            server.event(StatusEvent(state="reconnecting", message="/dev/ttyACM0: reconnecting"))
            page.wait("b.dataset.link === 'reconnecting'")
            server.event(StatusEvent(state="resumed", message="/dev/ttyACM0: the device is back"))
            page.wait("b.dataset.link === 'streaming' && b.dataset.banner === 'none'")
        finally:
            page.close()


class TestPhoneLayout:
    def test_phone_screenshot(self, browser: Any, tmp_path: Path) -> None:
        from PIL import Image

        events, blocks = recorded_run()
        clock = {"t": 0.0}  # the blocks arrive as fast as the test feeds them: time them by device time instead
        server = ServerThread(new_view(clock=lambda: clock["t"]), tick_s=0.25)
        server.start()
        server.event(StatusEvent(state="streaming", message="demo: binary frames, 100 Hz", details={"fs_hz": 100.0}))
        for b in blocks[-100:]:
            clock["t"] = float(b.t_s[-1])
            server.block(b)
        for ev in events:
            server.event(ev)
        page = Page(browser, server.web.url if server.web else "", scale=2)
        try:
            page.wait("b.dataset.summary === '1' && b.dataset.link === 'streaming'")
            box = {sel: page.page.locator(sel).bounding_box() for sel in
                   ("#top", "#last", "#count-row", "#verdict", "#chart", "#summary", "#foot")}
            for sel, b in box.items():  # everything on one phone screen, nothing cut at the sides
                assert b is not None and b["x"] >= 0 and b["y"] >= 0, sel
                assert b["x"] + b["width"] <= PHONE["width"] + 0.5 and b["y"] + b["height"] <= PHONE["height"] + 0.5, sel
            order = ["#top", "#last", "#count-row", "#verdict", "#chart", "#summary", "#foot"]
            for a, b in zip(order, order[1:]):  # stacked, not overlapping
                assert box[a]["y"] + box[a]["height"] <= box[b]["y"] + 0.5, (a, b)
            assert page.page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
            size_px = page.page.evaluate("() => parseFloat(getComputedStyle(document.getElementById('last')).fontSize)")
            assert size_px >= 100  # the last rep's time: readable from three metres
            assert box["#chart"]["height"] >= 100
            assert page.text("#rate") == "100 Hz"
            shot = tmp_path / "live-page.png"
            page.page.screenshot(path=str(shot))
        finally:
            page.close()
            server.close()
        data = shot.read_bytes()
        assert len(data) < 300_000
        img = Image.open(io.BytesIO(data)).convert("RGB")
        assert img.size == (PHONE["width"] * 2, PHONE["height"] * 2)
        w, h = img.size
        # Tempo failure: the page is red, edge to edge.
        for xy in [(3, 3), (w - 4, 3), (3, h - 4), (w - 4, h - 4), (w // 2, int(h * 0.25))]:
            px = img.getpixel(xy)
            assert all(abs(a - b) < 12 for a, b in zip(px, FAILURE_RGB)), (xy, px)
        # The last rep's time is drawn large in white over it.
        hero = img.crop((0, int(box["#last"]["y"] * 2), w, int((box["#last"]["y"] + box["#last"]["height"]) * 2)))
        pixels = np.asarray(hero)
        white = int((pixels.min(axis=2) > 230).sum())
        assert white > 0.12 * pixels.shape[0] * pixels.shape[1]
        out = os.environ.get("IMU_TEMPO_SCREENSHOT")
        if out:
            shutil.copyfile(shot, out)


class TestLiveDemo:
    def test_live_demo_web_matches_the_engine(self, browser: Any) -> None:
        """`imu-tempo live --demo --web`: the page ends with the rep count and failure the engine printed."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "imu_tempo", "live", "--demo", "--demo-speed", "25", "--web", "--port", "0",
               "--jsonl", "--web-linger-s", "60"]
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            events: list[dict[str, Any]] = []
            page = None
            try:
                for line in proc.stdout:
                    events.append(json.loads(line))
                    if events[-1].get("state") == "web" and page is None:
                        assert events[-1]["host"] == "127.0.0.1" and "only this computer" in events[-1]["message"]
                        page = Page(browser, events[-1]["url"])
                    if events[-1].get("state") == "ended":
                        break
                assert page is not None, events
                reps = [e for e in events if e["event"] == "rep"]
                fail = next(e for e in events if e["event"] == "failure")
                page.wait(f"b.dataset.link === 'ended' && b.dataset.summary === '1' && b.dataset.reps === '{len(reps)}'")
                assert page.data()["state"] == "failure"
                assert page.text("#count") == str(len(reps))
                assert f"tempo failure at rep {fail['first_failure_rep']}" in page.text("#verdict").lower()
                assert page.text("#last-value") == f"{reps[-1]['duration_s']:.2f}"
                port = int(next(e for e in events if e.get("state") == "web")["port"])
                local_only(page.requests, port)
                page.close()
            finally:
                proc.send_signal(signal.SIGINT)  # the page lingers until Ctrl-C
                try:
                    rc = proc.wait(timeout=20)
                finally:
                    if proc.poll() is None:
                        proc.kill()
                err = proc.stderr.read()
            assert rc == 0, err  # Ctrl-C while lingering is not an interruption
