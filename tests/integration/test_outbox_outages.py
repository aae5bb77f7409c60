"""The outbox under outages: a stalled SMTP server, a write during the send, a worker killed mid-send.

Nothing is lost and nothing is sent twice: each message is claimed under a lease, sent with no transaction open,
and its result recorded for that claim only."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import SmtpSink, _free_port
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import outbox

CONTEXT = {"booking_id": 7, "tutor_id": 3, "tutor_name": "Alice", "amount": "£40.00", "transfer_id": "tr_1",
           "error": None}
ROOT = Path(__file__).resolve().parents[2]


def now() -> datetime:
    return datetime.now(UTC)


class SilentSmtp:
    """A TCP server on 127.0.0.1 that accepts connections, says nothing for `hold` seconds, then hangs up."""

    def __init__(self, hold: float):
        self.hold = hold
        self.accepted = threading.Event()
        self.connections = 0
        self._stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            self.accepted.set()
            threading.Thread(target=self._hold_then_drop, args=(conn,), daemon=True).start()

    def _hold_then_drop(self, conn: socket.socket) -> None:
        self._stop.wait(self.hold)
        conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


def _use_smtp(app, port: int) -> None:
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=port)


def _messages() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def _queue_email(booking_id: int = 7) -> None:
    outbox.enqueue_email("payout_status", "team@example.com", {**CONTEXT, "booking_id": booking_id})
    db.session.commit()


@pytest.fixture
def mail_settings(app):
    """Restore the app's mail settings after a test points them elsewhere."""
    saved = {k: app.config.get(k) for k in ("MAIL_HOST", "MAIL_PORT", "MAIL_TIMEOUT_SECONDS")}
    yield
    app.config.update(saved)


@pytest.mark.parametrize("hold, timeout", [(30, 0.5), (0.05, 30)], ids=["silent-past-the-timeout", "drops-at-once"])
def test_a_server_that_accepts_then_stays_silent_or_drops_delays_the_message_which_is_then_sent_once(
        app, mail_settings, hold, timeout):
    _queue_email()
    silent = SilentSmtp(hold)
    _use_smtp(app, silent.port)
    app.config["MAIL_TIMEOUT_SECONDS"] = timeout
    t0 = now()
    try:
        assert outbox.deliver_due(t0) == 0  # returns: the socket timeout ends the wait
    finally:
        silent.close()
    assert silent.connections == 1
    [message] = _messages()
    assert (message.status, message.attempts, message.sending_until) == ("pending", 1, None)
    assert message.next_attempt_at > t0
    assert message.last_error.startswith(("TimeoutError", "SMTPServerDisconnected", "ConnectionResetError"))

    sink = SmtpSink()
    _use_smtp(app, sink.port)
    try:
        assert outbox.deliver_due(t0) == 0  # backing off
        assert outbox.deliver_due(t0 + timedelta(hours=1)) == 1
        assert outbox.deliver_due(t0 + timedelta(hours=2)) == 0
        assert [m["Subject"] for _, m in sink.messages] == ["Payout for booking #7: sent"]
    finally:
        sink.stop()
    [message] = _messages()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)


def test_a_write_committed_while_the_email_is_being_sent_does_not_strand_it(app, mail_settings):
    _queue_email()
    sink = SmtpSink()
    _use_smtp(app, sink.port)
    written: list[int] = []

    def write_during_send() -> None:
        # Another request commits while the SMTP conversation is going on (its own app context and session).
        with app.app_context():
            written.append(factories.user("student").id)
            db.session.remove()

    original = sink.controller.handler.handle_DATA

    async def handle_data(server, session, envelope):
        thread = threading.Thread(target=write_during_send)
        thread.start()
        thread.join(30)
        return await original(server, session, envelope)

    sink.controller.handler.handle_DATA = handle_data
    try:
        assert outbox.deliver_due(now()) == 1
        assert outbox.deliver_due(now() + timedelta(hours=1)) == 0
    finally:
        sink.stop()
    assert len(written) == 1 and len(sink.messages) == 1
    [message] = _messages()
    assert (message.status, message.sending_until, message.attempts) == ("sent", None, 1)


def test_two_runners_at_once_send_each_message_once(app, mail_settings):
    for booking_id in range(1, 7):
        _queue_email(booking_id)
    sink = SmtpSink()
    _use_smtp(app, sink.port)
    at = now()
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def runner() -> None:
        with app.app_context():
            barrier.wait()
            counts.append(outbox.deliver_due(at))
            db.session.remove()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    sink.stop()
    assert sum(counts) == 6
    assert sorted(m["Subject"] for _, m in sink.messages) == [f"Payout for booking #{i}: sent" for i in range(1, 7)]
    assert {m.status for m in _messages()} == {"sent"}


_WORKER = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from webapp import create_app
    from webapp.services import outbox
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=sys.argv[1], REDIS_URL=sys.argv[2], MAIL_HOST="127.0.0.1",
                     MAIL_PORT=int(sys.argv[3]), MAIL_TIMEOUT_SECONDS=600)
    with app.app_context():
        outbox.deliver_due(datetime.now(UTC))
""")


def test_a_worker_killed_mid_send_leaves_the_message_leased_and_it_is_sent_once_after_the_lease(
        app, redis_url, mail_settings):
    _queue_email()
    silent = SilentSmtp(hold=600)  # the worker connects and waits for a greeting that never comes
    worker = subprocess.Popen([sys.executable, "-c", _WORKER, app.config["SQLALCHEMY_DATABASE_URI"], redis_url,
                               str(silent.port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert silent.accepted.wait(120), worker.stderr.read().decode() if worker.poll() is not None else "no connect"
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        silent.close()
    killed_at = now()
    [message] = _messages()
    assert message.status == "sending" and message.attempts == 1
    assert message.sending_until > killed_at  # claimed under a lease that has not run out

    sink = SmtpSink()
    _use_smtp(app, sink.port)
    try:
        assert outbox.deliver_due(killed_at) == 0  # still leased: nobody sends it meanwhile
        assert sink.messages == []
        after_lease = message.sending_until + timedelta(seconds=1)
        assert outbox.deliver_due(after_lease) == 1
        assert outbox.deliver_due(after_lease + timedelta(hours=1)) == 0
        assert [m["Subject"] for _, m in sink.messages] == ["Payout for booking #7: sent"]
    finally:
        sink.stop()
    [message] = _messages()
    assert (message.status, message.attempts, message.sending_until) == ("sent", 2, None)


def test_a_message_left_sending_without_a_lease_by_older_code_is_retried(app, mail_settings):
    _queue_email()
    [message] = _messages()
    message.status, message.attempts = "sending", 1  # what the code before leases left behind after a crash
    db.session.commit()
    sink = SmtpSink()
    _use_smtp(app, sink.port)
    try:
        assert outbox.deliver_due(now()) == 1
    finally:
        sink.stop()
    assert len(sink.messages) == 1
    assert _messages()[0].status == "sent"


def test_a_silent_server_costs_one_timeout_per_run_and_the_other_emails_wait_unclaimed(app, mail_settings):
    for booking_id in (1, 2, 3):
        _queue_email(booking_id)
    silent = SilentSmtp(hold=30)
    _use_smtp(app, silent.port)
    app.config["MAIL_TIMEOUT_SECONDS"] = 0.5
    t0 = now()
    try:
        assert outbox.deliver_due(t0) == 0
    finally:
        silent.close()
    assert silent.connections == 1  # not one wait per message
    assert [(m.status, m.attempts) for m in _messages()] == [("pending", 1), ("pending", 0), ("pending", 0)]

    sink = SmtpSink()
    _use_smtp(app, sink.port)
    try:
        assert outbox.deliver_due(t0) == 2  # the two never tried are due at once; the first backs off
        assert outbox.deliver_due(t0 + timedelta(hours=1)) == 1
        assert sorted(m["Subject"] for _, m in sink.messages) == [f"Payout for booking #{i}: sent" for i in (1, 2, 3)]
    finally:
        sink.stop()
