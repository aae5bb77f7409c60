"""A real HTTP server on 127.0.0.1 serving calendar files (what Google's secret iCal addresses answer), for the
calendar import tests: each path answers what the test put there (a body, a status, a redirect, or a stall)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Reply:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    stall_seconds: float = 0  # wait this long before answering (a server that hangs)


class CalendarFeedServer:
    """The server in a background thread; `hits` counts requests per path."""

    def __init__(self):
        self.replies: dict[str, Reply] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                reply = server.replies.get(self.path, Reply(b"not found", 404))
                if reply.stall_seconds:
                    time.sleep(reply.stall_seconds)
                self.send_response(reply.status)
                headers = {"Content-Type": "text/calendar; charset=utf-8", **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                try:
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (size cap, timeout): that is what some tests check

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def serve(self, path: str, body: bytes | str, **kwargs) -> str:
        """Answer `path` with `body`; returns its full address."""
        self.replies[path] = Reply(body.encode() if isinstance(body, str) else body, **kwargs)
        return self.url + path

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def feed_server():
    """A local HTTP server for calendar files."""
    with CalendarFeedServer() as server:
        yield server
