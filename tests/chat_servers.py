"""Real web server processes for the chat tests and the bench: gunicorn's gthread worker, as `make run` serves."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebProcess:
    """`gunicorn -k gthread` serving the app on 127.0.0.1:<port> against the given database and Redis; it can be
    killed (SIGKILL, as a crash) and started again on the same port."""

    def __init__(self, database_url: str, redis_url: str, port: int | None = None, threads: int = 32,
                 extra: dict | None = None, log_path: Path | None = None):
        self.database_url, self.redis_url = database_url, redis_url
        self.port, self.threads, self.extra = port or free_port(), threads, extra or {}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        overrides = {"SQLALCHEMY_DATABASE_URI": self.database_url, "REDIS_URL": self.redis_url,
                     "RATELIMIT_STORAGE_URI": self.redis_url, "STRIPE_API_BASE": None, **self.extra}
        args = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        return [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1",
                "--threads", str(self.threads), "--worker-connections", str(self.threads + 100),
                "--bind", f"127.0.0.1:{self.port}", "--graceful-timeout", "2", "--log-level", "warning", "--no-control-socket",
                f'webapp:create_app("testing", {args})']

    def start(self, wait_seconds: float = 30) -> "WebProcess":
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     env={**os.environ, "LESSONBOOK_ENV": "testing"}, start_new_session=True)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if requests.get(self.url + "/login", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer on {self.url}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and worker), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def session_cookie(base_url: str, email: str, password: str) -> str:
    """Log in through the real form with requests; the Cookie header value a WebSocket client then sends."""
    import re
    http = requests.Session()
    page = http.get(base_url + "/login", timeout=10).text
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    response = http.post(base_url + "/login", data={"email": email, "password": password, "csrf_token": token},
                         allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text[:300]
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)
