"""A tiny threaded HTTP server on 127.0.0.1 for fetch tests and benchmarks.

pytest-httpserver covers ordinary responses; this one exists for what it cannot do well: slow and endless
bodies, concurrent requests, and server-side arrival timestamps (to check politeness from the server's
point of view).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Handler = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Hit:
    """One request as the server saw it (times from ``time.monotonic`` in this process)."""

    path: str
    start: float
    end: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    client: tuple[str, int] | None = None  # the client's address: one port per TCP connection


def send(
    req: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_type: str | None = "text/html; charset=utf-8",
) -> None:
    """Write a complete response with a Content-Length (keep-alive friendly)."""
    req.send_response(status)
    hdrs = dict(headers or {})
    if content_type is not None and not any(k.lower() == "content-type" for k in hdrs):
        hdrs["Content-Type"] = content_type
    if not any(k.lower() == "content-length" for k in hdrs):
        hdrs["Content-Length"] = str(len(body))
    for name, value in hdrs.items():
        req.send_header(name, value)
    req.end_headers()
    if body:
        req.wfile.write(body)


class LocalServer:
    """Routes exact paths (query string ignored) to handler functions; unknown paths are 404."""

    def __init__(self, routes: dict[str, Handler] | None = None) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.hits: list[Hit] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class _Req(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                hit = Hit(
                    self.path,
                    time.monotonic(),
                    headers={k: v for k, v in self.headers.items()},
                    client=(str(self.client_address[0]), int(self.client_address[1])),
                )
                with server._lock:
                    server.hits.append(hit)
                try:
                    handler = server.routes.get(self.path.split("?", 1)[0])
                    if handler is None:
                        send(self, 404, b"not found", content_type="text/plain")
                    else:
                        handler(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                finally:
                    hit.end = time.monotonic()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Req)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def static(
        self,
        path: str,
        body: bytes,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Serve fixed bytes at ``path``, optionally after a server-side delay."""

        def handler(req: BaseHTTPRequestHandler) -> None:
            if delay:
                time.sleep(delay)
            send(req, status, body, headers)

        self.routes[path] = handler

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path.split("?", 1)[0] == path]

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
