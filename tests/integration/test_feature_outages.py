"""Outages in the wallet, offers, support and analytics features: Redis down (nothing can be enqueued), SMTP down,
Mixpanel unreachable or silent. Each request still succeeds or answers in words, and the work is kept and done
once the service is back (by the periodic sweeps a worker runs)."""
from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests import factories
from tests.conftest import SmtpSink, csrf_from, login
from tests.integration.test_mixpanel_export import add_events, mixpanel, unsent  # noqa: F401 (fixture)
from tests.integration.test_paypal_webhooks import _fresh, _order_row
from tests.integration.test_special_offers import offer
from tests.paypal_fixtures import apply_paypal_events, paypal_world  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.models import OutboxMessage, PayPalEvent
from webapp.services import mixpanel_export, offer_announcements, outbox, tickets


def now() -> datetime:
    return datetime.now(UTC)


def test_paypal_webhooks_arriving_while_redis_is_down_are_stored_and_applied_after_it_is_back(
        app, client, paypal_world, redis_outage):
    row = _order_row(paypal_world)
    paypal_world.approve(row.approve_url)
    redis_outage.kill()  # the endpoint cannot enqueue the job that applies them

    responses = paypal_world.deliver(client, apply=False)

    assert responses and all(r.status_code == 200 for r in responses)
    assert _fresh(row.order_id).status == "CREATED"
    assert db.session.scalar(select(func.count()).select_from(PayPalEvent).where(
        PayPalEvent.processed_at.is_(None))) == len(responses)
    redis_outage.start()
    assert apply_paypal_events() == len(responses)  # the periodic sweep, once the worker runs again
    assert _fresh(row.order_id).status == "APPROVED"


def test_an_announcement_asked_for_while_redis_is_down_is_accepted_and_the_sweep_writes_it(
        app, client, redis_outage):
    students = [factories.user("student") for _ in range(2)]
    coupon = offer("QUIET", "EVERYONE", percent=1000)
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/coupons").get_data(as_text=True)
    redis_outage.kill()

    answer = client.post(f"/admin/coupons/{coupon.id}/announce", data={"csrf_token": csrf_from(page)})

    assert answer.status_code == 303
    assert offer_announcements.announced_count(coupon.id) == 0  # no worker was asked: nothing written yet
    redis_outage.start()
    assert offer_announcements.announce_requested(now()) == 2  # the periodic sweep
    db.session.rollback()
    assert sorted(db.session.scalars(select(OutboxMessage.to_address).where(
        OutboxMessage.template == "offer_announcement"))) == sorted(s.email for s in students)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens on it once the socket is closed


def test_with_smtp_down_a_ticket_opens_and_its_email_goes_once_when_smtp_is_back(app):
    app.config.update(MAIL_HOST="127.0.0.1", MAIL_PORT=_closed_port())
    student = factories.user("student")

    ticket = tickets.open_ticket(student, "No sound", "The tutor cannot hear me.", None, [], now())

    assert ticket.id is not None
    assert outbox.deliver_due(now()) == 0
    [waiting] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "ticket_for_staff"))
    assert waiting.status == "pending" and waiting.last_error
    sink = SmtpSink()
    try:
        app.config.update(MAIL_PORT=sink.port)
        assert outbox.deliver_due(now() + timedelta(hours=1)) == 1
        assert outbox.deliver_due(now() + timedelta(hours=2)) == 0
        assert [m["Subject"] for _, m in sink.messages] == [f"New ticket #{ticket.id}: No sound"]
    finally:
        sink.stop()


class SilentServer:
    """Accepts connections and never answers (a hung Mixpanel behind a load balancer)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            while True:
                self.held.append(self.sock.accept()[0])
        except OSError:
            return

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_mixpanel_unreachable_or_silent_delays_the_events_and_a_later_run_sends_each_once(app, mixpanel):
    add_events(3)
    silent = SilentServer()
    try:
        down = [f"http://127.0.0.1:{_closed_port()}/track", f"http://127.0.0.1:{silent.port}/track"]
        for hours, url in enumerate(down):  # each run is past the backoff the one before set
            app.config.update(MIXPANEL_TRACK_URL=url, MIXPANEL_TIMEOUT_SECONDS=1)
            assert mixpanel_export.send_due(now() + timedelta(hours=hours)) == 0
    finally:
        silent.close()
    assert unsent() == 3
    app.config.update(MIXPANEL_TRACK_URL=f"{mixpanel.url}/track", MIXPANEL_TIMEOUT_SECONDS=5)
    assert mixpanel_export.send_due(now() + timedelta(hours=4)) == 3
    assert mixpanel_export.send_due(now() + timedelta(hours=8)) == 0
    assert sorted(mixpanel.events) == [f"slots_viewed:e{i}" for i in range(3)]


def test_a_silent_stripe_answers_the_package_buyer_in_words_and_the_purchase_opens_when_it_is_back(app, stripe_world):
    """Stripe accepts the connection and never answers: the SDK gives up after STRIPE_TIMEOUT_SECONDS a try."""
    from webapp.adapters import stripe_gateway
    from webapp.models import PackagePurchase
    from webapp.services import packages
    from webapp.services.errors import PaymentFailed
    tutor = factories.tutor(rate_minor=4000)[0]
    package = packages.add_package(tutor, 5, 10)
    student = factories.user("student")
    urls = {"success_url": "http://127.0.0.1/ok", "cancel_url": "http://127.0.0.1/back"}
    silent = SilentServer()
    saved = app.config["STRIPE_API_BASE"], app.config.get("STRIPE_TIMEOUT_SECONDS")
    app.config.update(STRIPE_API_BASE=f"http://127.0.0.1:{silent.port}", STRIPE_TIMEOUT_SECONDS=0.5)
    app.extensions.pop("stripe_client", None)
    try:
        try:
            packages.start_purchase(student, package.id, "buy-once", now(), **urls)
            raise AssertionError("a silent Stripe opened a payment page")
        except PaymentFailed as failed:
            assert "Nothing was charged" in failed.message
    finally:
        silent.close()
        app.config.update(STRIPE_API_BASE=saved[0], STRIPE_TIMEOUT_SECONDS=saved[1])
        app.extensions.pop("stripe_client", None)
    assert stripe_gateway.client() is not None

    purchase, url = packages.start_purchase(student, package.id, "buy-once", now(), **urls)  # the same form again

    assert url and db.session.scalar(select(func.count()).select_from(PackagePurchase)) == 1
    assert purchase.state == "open"
