"""The web view's server: page and assets served locally, state pushed over a WebSocket, recovery on reconnect."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from displaykit import expected_set, new_view, recorded_run
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from imu_tempo.display.web import WebView, lan_addresses, load_asset
from imu_tempo.errors import ConfigError
from imu_tempo.types import RepEvent, StatusEvent


def arun(coro: Any, timeout_s: float = 20.0) -> Any:
    async def guarded() -> Any:
        async with asyncio.timeout(timeout_s):
            return await coro

    return asyncio.run(guarded())


async def get(url: str) -> tuple[int, dict[str, str], bytes]:
    def fetch() -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    return await asyncio.to_thread(fetch)


async def next_state(ws: Any) -> dict[str, Any]:
    """The next ``state`` message (heartbeats skipped)."""
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "state":
            return msg


class TestServing:
    def test_page_and_assets_come_from_the_analyzer(self) -> None:
        async def main() -> None:
            async with WebView(new_view(), host="127.0.0.1", port=0) as web:
                assert web.url == f"http://127.0.0.1:{web.port}/"
                status, headers, body = await get(web.url)
                assert status == 200 and headers["Content-Type"].startswith("text/html")
                assert body == load_asset("index.html")
                csp = headers["Content-Security-Policy"]
                assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "script-src 'self'" in csp
                for path, kind in [("app.js", "text/javascript"), ("style.css", "text/css")]:
                    status, headers, body = await get(web.url + path)
                    assert status == 200 and headers["Content-Type"].startswith(kind) and body == load_asset(path)
                status, _, body = await get(web.url + "state")
                assert status == 200 and json.loads(body)["set"]["rep_count"] == 0
                status, _, _ = await get(web.url + "missing.js")
                assert status == 404

        arun(main())

    def test_assets_name_nothing_outside_the_machine(self) -> None:
        for name in ("index.html", "app.js", "style.css"):
            text = load_asset(name).decode()
            assert "http://" not in text and "https://" not in text and "//cdn" not in text, name

    def test_bound_to_localhost_and_says_so(self) -> None:
        async def main() -> None:
            async with WebView(new_view(), host="127.0.0.1", port=0) as web:
                addrs = {s.getsockname()[0] for s in web._server.sockets}
                assert addrs == {"127.0.0.1"}
                msg = web.startup_message()
                assert web.url in msg and "only this computer" in msg and "--host 0.0.0.0" in msg
                assert web.phone_urls() == []

        arun(main())

    def test_all_interfaces_lists_phone_addresses(self) -> None:
        async def main() -> None:
            async with WebView(new_view(), host="0.0.0.0", port=0) as web:
                assert web.url == f"http://127.0.0.1:{web.port}/"
                msg = web.startup_message()
                assert "same network" in msg
                for ip in lan_addresses():
                    assert f"http://{ip}:{web.port}/" in msg

        arun(main())

    def test_a_taken_port_is_a_clear_error(self) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            async def main() -> None:
                async with WebView(new_view(), host="127.0.0.1", port=port):
                    pass

            with pytest.raises(ConfigError, match=rf"--port {port}: the port is in use.*--port 0"):
                arun(main())

    def test_bad_port_and_host(self) -> None:
        with pytest.raises(ConfigError, match="--port must be between"):
            WebView(new_view(), host="127.0.0.1", port=70000)

        async def main() -> None:
            async with WebView(new_view(), host="192.0.2.77", port=0):
                pass

        with pytest.raises(ConfigError, match="--host 192.0.2.77"):
            arun(main())


class TestPush:
    def test_every_event_is_pushed_as_the_whole_state(self) -> None:
        events, _ = recorded_run()
        exp = expected_set()

        async def main() -> None:
            view = new_view()
            async with WebView(view, host="127.0.0.1", port=0, tick_s=60) as web:
                async with connect(f"ws://127.0.0.1:{web.port}/ws") as ws:
                    first = await next_state(ws)
                    assert first["state"]["seq"] == 0 and first["state"]["set"]["rep_count"] == 0
                    for ev in events:
                        view.apply(ev)
                        web.publish(ev, t_ms=123.0)
                        msg = await next_state(ws)
                        assert msg["t_ms"] == 123.0
                        assert msg["state"] == json.loads(json.dumps(view.snapshot()))
                    assert msg["state"]["set"]["state"] == "failure"
                    summary = msg["state"]["summary"]
                    assert summary["rep_count"] == exp.rep_count
                    assert (summary["first_failure_rep"], summary["failure_reason"]) == \
                        (exp.first_failure_rep, exp.failure_reason)
                    assert [r["state"] for r in msg["state"]["set"]["reps"]] == list(exp.states)

        arun(main())

    def test_heartbeat_carries_the_link(self) -> None:
        async def main() -> None:
            view = new_view()
            async with WebView(view, host="127.0.0.1", port=0, tick_s=0.05) as web, \
                    connect(f"ws://127.0.0.1:{web.port}/ws") as ws:
                await next_state(ws)
                view.apply(StatusEvent(state="lost", message="/dev/ttyACM0: unplugged"))
                while True:
                    msg = json.loads(await ws.recv())
                    if msg["type"] == "link" and msg["link"]["state"] == "lost":
                        break
                assert msg["link"]["message"] == "/dev/ttyACM0: unplugged"

        arun(main())

    def test_a_page_that_comes_back_is_up_to_date_at_once(self) -> None:
        """Reload or network blip: a new connection's first message holds everything that happened meanwhile."""
        events, _ = recorded_run()
        reps = [e for e in events if isinstance(e, RepEvent)]

        async def main() -> None:
            view = new_view()
            async with WebView(view, host="127.0.0.1", port=0, tick_s=60) as web:
                url = f"ws://127.0.0.1:{web.port}/ws"
                async with connect(url) as ws:
                    await next_state(ws)
                    for ev in events[:3]:
                        view.apply(ev)
                        web.publish(ev)
                        await next_state(ws)
                while web.clients:  # the server has seen the close
                    await asyncio.sleep(0.01)
                for ev in events[3:]:  # nobody connected: nothing to push, nothing lost
                    view.apply(ev)
                    web.publish(ev)
                async with connect(url) as ws:
                    msg = await next_state(ws)
                    assert msg["state"]["set"]["rep_count"] == len(reps)
                    assert msg["state"]["summary"] is not None and msg["state"]["set"]["state"] == "failure"

        arun(main())

    def test_a_restarted_server_is_found_again(self) -> None:
        """The analyzer restarts on the same port: a client reconnects and gets the new state."""
        async def main() -> None:
            view = new_view()
            web = WebView(view, host="127.0.0.1", port=0, tick_s=60)
            await web.start()
            port = web.port
            async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
                await next_state(ws)
                await web.close()
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
            events, _ = recorded_run()
            view.apply(events[0])
            async with WebView(view, host="127.0.0.1", port=port, tick_s=60) as again, \
                    connect(f"ws://127.0.0.1:{again.port}/ws") as ws:
                assert (await next_state(ws))["state"]["set"]["rep_count"] == 1

        arun(main())
