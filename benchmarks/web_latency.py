"""Latency of the live page: from the engine emitting an event to the page showing it.

The real path: ``imu-tempo replay RECORDING --speed S --web --jsonl`` in its own
process (real engine, real WebSocket server), the page open in headless Debian
Chromium (Playwright).  Each push carries ``t_ms``, the wall-clock time at which
the engine's event reached ``on_event``; the page records, for every push,

- ``dom_ms``: when its DOM has been updated (``window.imuTempo.latencies``),
- ``paint_ms``: at the next animation frame, i.e. when the update can be on screen
  (``window.imuTempo.paints``).

Both ends read the same machine clock.  Where Playwright or Chromium is missing,
only the ``ws_client`` variant runs: a WebSocket client in this process stands in
for the page (receive time minus ``t_ms``).

Goal (issue 6): the page updates within 100 ms of the event.

``run(quick)`` returns a JSON-ready dict; ``python -m benchmarks.web_latency [--quick]``
prints it.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = ROOT / "recordings"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
GOAL_MS = 100.0


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    a = np.asarray(values, dtype=float)
    return {"n": int(a.size), "median_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "max_ms": round(float(a.max()), 2), "within_goal": float(np.mean(a <= GOAL_MS))}


def _spawn(recording: Path, speed: float) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "imu_tempo", "replay", str(recording), "--speed", f"{speed:g}", "--web", "--port", "0",
           "--jsonl", "--web-linger-s", "1"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


def browser_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def _browser_run(recording: Path, speed: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    proc = _spawn(recording, speed)
    assert proc.stdout is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        events = 0
        first_state = None
        try:
            for line in proc.stdout:
                ev = json.loads(line)
                if ev.get("event") == "status" and ev.get("state") == "web":
                    page.goto(ev["url"])
                    page.wait_for_function("() => document.body.dataset.conn === 'online'", timeout=10_000)
                    first_state = page.evaluate("() => window.imuTempo.latencies.length")
                elif ev.get("event") != "status":
                    events += 1
            if events:
                page.wait_for_function(f"() => window.imuTempo.latencies.length >= {events + (first_state or 0)}",
                                       timeout=10_000)
            # the page keeps its numbers after the process exits; the first is the snapshot on connect
            dom = page.evaluate("() => window.imuTempo.latencies.slice(1)")
            paint = page.evaluate("() => window.imuTempo.paints.slice(1)")
        finally:
            browser.close()
            proc.terminate()
            proc.wait(10)
    return {"recording": recording.name, "speed": speed, "events": events, "dom": _stats(dom), "paint": _stats(paint),
            "_raw": (dom, paint)}


def _ws_client_run(recording: Path, speed: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    proc = _spawn(recording, speed)
    url: list[str] = []
    got = threading.Event()
    lat: list[float] = []
    done = threading.Event()

    async def client() -> None:
        await asyncio.to_thread(got.wait, 30)
        async with connect(url[0].replace("http://", "ws://") + "ws") as ws:
            first = True
            while not done.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                except ConnectionClosed:  # the replay is over and its server gone
                    break
                now = time.time() * 1000.0
                msg = json.loads(raw)
                if msg["type"] == "state":
                    if not first:
                        lat.append(now - msg["t_ms"])
                    first = False

    t = threading.Thread(target=lambda: asyncio.run(client()), daemon=True)
    t.start()
    assert proc.stdout is not None
    events = 0
    for line in proc.stdout:
        ev = json.loads(line)
        if ev.get("event") == "status" and ev.get("state") == "web":
            url.append(ev["url"])
            got.set()
        elif ev.get("event") != "status":
            events += 1
    time.sleep(0.3)
    done.set()
    t.join(5)
    proc.terminate()
    proc.wait(10)
    return {"recording": recording.name, "speed": speed, "events": events, "receive": _stats(lat)}


def run(quick: bool = True) -> dict[str, Any]:
    """Measure event-to-page latency; returns a JSON-ready dict (see the module docstring)."""
    t0 = time.monotonic()
    cases = [("sim_kettlebell_swing", 4.0)] if quick else [
        ("sim_kettlebell_swing", 1.0), ("sim_push_press", 2.0), ("sim_jump_squat", 2.0)]
    out: dict[str, Any] = {
        "benchmark": "web_latency",
        "quick": quick,
        "goal_ms": GOAL_MS,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    if browser_available():
        runs = [_browser_run(RECORDINGS / f"{name}.csv", speed) for name, speed in cases]
        out["browser"] = runs
        dom = [v for r in runs for v in r["_raw"][0]]
        paint = [v for r in runs for v in r["_raw"][1]]
        for r in runs:
            del r["_raw"]
        # pooled over every push of every run (each run's pushes: its engine events, plus the replay's end)
        out["browser_summary"] = {"events": sum(r["events"] for r in runs), "dom": _stats(dom), "paint": _stats(paint)}
    else:
        out["browser"] = "skipped: Playwright or /usr/bin/chromium missing"
    out["ws_client"] = [_ws_client_run(RECORDINGS / f"{name}.csv", speed) for name, speed in cases[:1]]
    out["wall_s"] = round(time.monotonic() - t0, 1)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    print(json.dumps(run(quick=a.quick), indent=1))
