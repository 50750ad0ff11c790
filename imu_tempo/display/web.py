"""The web view: a page served by the analyzer itself, updated by WebSocket push.

::

    imu-tempo live --demo --web                 # http://127.0.0.1:8765/ on this computer
    imu-tempo live --serial /dev/ttyACM0 --web --host 0.0.0.0   # reachable from a phone on the same network

One process, one event loop: :class:`WebView` runs a `websockets
<https://websockets.readthedocs.io>`_ server in the loop that runs the engine.
The same server answers plain HTTP for the page (``/``, ``/app.js``,
``/style.css``, ``/state`` as JSON) and upgrades ``/ws`` to a WebSocket.

Why WebSocket through ``websockets``: it is a small, well-kept, pure-Python
library (already required by Bumble, the BLE stack used for the simulated
wearable), it handles the HTTP/1.1 parsing and the WebSocket framing, and its
``broadcast`` writes a message to every socket without awaiting, so pushing an
event costs the engine no scheduling round-trip (the measured latency is in
BENCHMARKS.md).  Server-sent events would have needed a hand-written HTTP
server.

Protocol (server to page; the page sends nothing):

- ``{"type": "state", "state": {...}, "t_ms": ...}`` after every event and on
  connect: the whole :meth:`LiveView.snapshot`, so a reloaded page or a
  reconnected socket is exactly up to date with one message;
- ``{"type": "link", "link": {...}, "t_ms": ...}`` every ``tick_s`` seconds:
  link health (sample rate, dropped samples, data age) and a heartbeat; the page
  reconnects by itself when it hears nothing for 3 s.

``t_ms`` is the server's wall clock (ms since the epoch) when the message was
sent; the page uses it to measure push latency (``window.imuTempo.latencies``).

Privacy: the server binds to 127.0.0.1 unless told otherwise, contacts nothing,
and serves every asset itself; its Content-Security-Policy forbids the page to
load anything from elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import http
import json
import logging
import socket
import time
from importlib import resources
from typing import Any

from ..errors import ConfigError
from ..types import Event
from .state import LiveView

#: Default TCP port of ``--web``.
DEFAULT_PORT = 8765

_CONTENT_TYPES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_log = logging.getLogger("imu_tempo.web")


def load_asset(name: str) -> bytes:
    """The bytes of one page asset (package data under ``imu_tempo/display/static``)."""
    return resources.files("imu_tempo.display").joinpath("static", name).read_bytes()


class WebView:
    """Serve the live page and push ``view`` to every connected page.

    Parameters
    ----------
    view : LiveView
        The state shown; :meth:`publish` pushes it after each event.
    host : str
        Interface to bind: ``"127.0.0.1"`` (this computer only, the default of
        the CLI) or ``"0.0.0.0"`` (every interface, so a phone on the same
        network can open the page).
    port : int
        TCP port; 0 picks a free one (see :attr:`port` once started).
    tick_s : float
        Period of the link-health heartbeat, seconds.

    Notes
    -----
    Use as an async context manager in the event loop that runs the engine;
    :meth:`publish` must be called from that loop's thread (``on_event`` is).
    """

    def __init__(self, view: LiveView, *, host: str, port: int, tick_s: float = 0.5) -> None:
        if not 0 <= port <= 65535:
            raise ConfigError(f"--port must be between 0 and 65535, got {port!r}")
        if not tick_s > 0:
            raise ConfigError(f"tick_s must be > 0 seconds, got {tick_s!r}")
        self.view = view
        self.host = host
        self.port = port
        self.tick_s = tick_s
        self._server: Any = None
        self._tick: asyncio.Task[None] | None = None
        self._assets = {path: (load_asset(name), ctype) for path, (name, ctype) in _CONTENT_TYPES.items()}
        self.messages_sent = 0

    # -- lifecycle ------------------------------------------------------------------

    async def __aenter__(self) -> WebView:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Bind and start serving (raises ConfigError when the port is taken)."""
        from websockets.asyncio.server import serve

        try:
            self._server = await serve(
                self._handler, self.host, self.port, process_request=self._http,
                compression=None, ping_interval=5, ping_timeout=10, close_timeout=1,
                logger=_log, server_header="imu-tempo",
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"--port {self.port}: the port is in use on {self.host} (another imu-tempo?); "
                    "choose another with --port, or --port 0 for any free port"
                ) from None
            if exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME) or isinstance(exc, socket.gaierror):
                raise ConfigError(f"--host {self.host}: not an address of this computer ({exc.strerror or exc})") from None
            raise ConfigError(f"cannot serve the web view on {self.host}:{self.port}: {exc}") from None
        sock = next(iter(self._server.sockets))
        self.port = int(sock.getsockname()[1])
        self._tick = asyncio.get_running_loop().create_task(self._ticker(), name="imu-tempo web heartbeat")

    async def close(self) -> None:
        """Stop serving and close every page's socket (pages then show 'reconnecting')."""
        if self._tick is not None:
            self._tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick
            self._tick = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- addresses ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL to open on this computer."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    @property
    def local_only(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    def phone_urls(self) -> list[str]:
        """URLs a phone on the same network can open (empty when bound to localhost)."""
        if self.local_only:
            return []
        if self.host not in ("0.0.0.0", "", "::"):
            return [self.url]
        return [f"http://{ip}:{self.port}/" for ip in lan_addresses()]

    def startup_message(self) -> str:
        """What to print on start-up: where the page is and how to open it on a phone."""
        lines = [f"web view: {self.url}"]
        if self.local_only:
            lines.append(
                f"  bound to {self.host}: only this computer can open it. For a phone on the same Wi-Fi, "
                "restart with --host 0.0.0.0 and open the address it prints."
            )
        else:
            phones = self.phone_urls()
            where = ", ".join(phones) if phones else f"http://<this computer's address>:{self.port}/"
            lines.append(f"  bound to {self.host}: open {where} on a phone on the same network "
                         "(anyone on that network can see it; nothing leaves it).")
        return "\n".join(lines)

    # -- pushing ------------------------------------------------------------------

    @property
    def clients(self) -> int:
        """Pages connected now."""
        return 0 if self._server is None else len(self._server.connections)

    def publish(self, event: Event | None = None, *, t_ms: float | None = None) -> None:
        """Push the current state to every page at once (does not await; call in the loop's thread).

        ``t_ms`` (wall clock, ms since the epoch) is when the event was emitted; the
        page measures its latency from it.  Default: now.
        """
        if t_ms is None:
            t_ms = time.time() * 1000.0
        if self._server is None:
            return
        conns = self._server.connections
        if not conns:
            return
        from websockets.asyncio.server import broadcast

        broadcast(conns, self._state_message(t_ms))
        self.messages_sent += 1

    def _state_message(self, t_ms: float | None = None) -> str:
        return json.dumps({"type": "state", "state": self.view.snapshot(),
                           "t_ms": time.time() * 1000.0 if t_ms is None else t_ms}, separators=(",", ":"))

    async def _ticker(self) -> None:
        from websockets.asyncio.server import broadcast

        while True:
            await asyncio.sleep(self.tick_s)
            conns = self._server.connections if self._server is not None else ()
            if conns:
                msg = json.dumps({"type": "link", "link": self.view.link(), "t_ms": time.time() * 1000.0},
                                 separators=(",", ":"))
                broadcast(conns, msg)

    # -- serving --------------------------------------------------------------------

    def _http(self, connection: Any, request: Any) -> Any:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None  # go on with the WebSocket handshake
        if path == "/state":
            body, ctype = json.dumps(self.view.snapshot()).encode(), "application/json"
        elif path in self._assets:
            body, ctype = self._assets[path]
        else:
            return self._response(connection, http.HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
        return self._response(connection, http.HTTPStatus.OK, body, ctype)

    @staticmethod
    def _response(connection: Any, status: http.HTTPStatus, body: bytes, ctype: str) -> Any:
        resp = connection.respond(status, "")
        resp.body = body
        for name in ("Content-Type", "Content-Length"):
            del resp.headers[name]  # websockets' Headers appends on assignment
        resp.headers["Content-Type"] = ctype
        resp.headers["Content-Length"] = str(len(body))
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        return resp

    async def _handler(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await connection.send(self._state_message())
            async for _ in connection:  # the page sends nothing we need; keep the socket open
                pass
        except ConnectionClosed:
            pass


def lan_addresses() -> list[str]:
    """IPv4 addresses of this computer other than loopback, best guess first.

    No packet is sent: connecting a UDP socket only asks the kernel which
    interface would route to a private address.
    """
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.254.254.254", 9))
        found.append(s.getsockname()[0])
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            found.append(str(info[4][0]))
    out: list[str] = []
    for ip in found:
        if not ip.startswith("127.") and ip != "0.0.0.0" and ip not in out:
            out.append(ip)
    return out
