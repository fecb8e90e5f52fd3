"""Real local HTTP servers for tests: a threaded http.server with routes the test controls,
and a WSGI app (the Flask API) served on a free port. Both listen on 127.0.0.1 only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from werkzeug.serving import make_server

Route = Callable[["PeerHandler"], None]


@dataclass
class Seen:
    """One request a peer received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Peer:
    """A local HTTP server: register routes, read back the requests it saw."""

    server: ThreadingHTTPServer
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server.server_address[1])

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """Full URL of ``path`` on this peer."""
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, handler: Route, method: str = "GET") -> None:
        """Answer ``method path`` with ``handler``."""
        self.routes[(method, path)] = handler

    def requests_to(self, path: str) -> list[Seen]:
        """The requests seen for ``path`` (query string ignored)."""
        return [s for s in list(self.seen) if s.path.split("?", 1)[0] == path]


class PeerHandler(BaseHTTPRequestHandler):
    """Dispatches to the peer's routes; 404 for anything else."""

    peer: Peer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.peer.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
        route = self.peer.routes.get((self.command, self.path.split("?", 1)[0]))
        try:
            if route is None:
                respond(self, 404, b"not found")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_HEAD = _handle  # noqa: N815


def respond(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"",
            headers: dict[str, str] | None = None) -> None:
    """Send a complete response."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def endless(head: bytes, chunk: int = 64 * 1024) -> Route:
    """A route streaming ``head`` then zeros forever (no Content-Length), until the client leaves."""

    def route(handler: PeerHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "audio/wav")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        handler.wfile.write(head)
        zeros = bytes(chunk)
        while True:
            handler.wfile.write(zeros)

    return route


def hang(handler: PeerHandler) -> None:
    """A route that never answers until the test sets ``peer.released``."""
    handler.peer.released.wait(60)
    handler.close_connection = True


@contextmanager
def http_peer() -> Iterator[Peer]:
    """Start a Peer on a free port of 127.0.0.1; stop it afterwards."""
    handler = type("BoundHandler", (PeerHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    peer = Peer(server)
    handler.peer = peer  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        peer.released.set()
        server.shutdown()
        server.server_close()


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve a WSGI app (threaded) on a free port of 127.0.0.1; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
