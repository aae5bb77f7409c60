"""Money under races, against a running server: refunds racing refunds, cancels and webhooks; Stripe's answer
lost after it refunded; the write lock refusing changes it did not start. The books must equal Stripe's."""
import re
import threading
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from
from tests.integration.test_payments import authorize, book, now
from tests.integration.test_refunds_and_payouts import onboard
from tests.stripe_fixtures import TEST_WEBHOOK_SECRET
from webapp.adapters import stripe_gateway as gateway
from webapp.adapters.database import ForeignChanges, serialized_write
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Commission, PaymentReceipt, Refund, StripeEvent, Subject
from webapp.services import accounts, approvals, payouts, stripe_events

PAID = 4200  # 40.00 lesson + 5% service fee; the tutor's share is 31.41 (see test_payments)


def paid_booking(world, client):
    """A captured booking of 42.00 under a commission, so the tutor's share and the platform take differ."""
    db.session.add(Commission(commission_fee_bp=1500, service_fee_bp=500, payout_fee_bp=100,
                              payout_amount_fee_minor=25, account_management_amount_fee_minor=200, active=True))
    db.session.commit()
    booking = authorize(world, client, book(days_ahead=5, rate_minor=4000))
    booking = approvals.approve(booking.lesson.tutor, booking.id, now())
    db.session.commit()
    return booking


def stripe_refunds(world, booking) -> list[int]:
    page = world.client.v1.refunds.list(params={"payment_intent": booking.payment_intent_id, "limit": 100})
    return sorted(r.amount for r in page.data)


def books(booking_id: int) -> tuple[int, int, int]:
    """(receipt total, sum of counted rows, pending rows) as committed now."""
    db.session.rollback()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking_id))
    rows = db.session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.booking_id == booking_id, Refund.status == "succeeded"))
    pending = db.session.scalar(select(func.count()).select_from(Refund).where(
        Refund.booking_id == booking_id, Refund.status == "pending"))
    return receipt.refunded_minor, rows, pending


def run_together(*calls):
    """Start every call at the same moment on its own thread; returns their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


class Worker:
    """Applies stored webhook events in a loop, as `worker.py` does, while the test races requests."""

    def __init__(self, app):
        self.app, self.stop, self.errors = app, threading.Event(), []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(0.05):
            with self.app.app_context():
                try:
                    stripe_events.apply_stored_events(now())
                except Exception as exc:  # noqa: BLE001 — reported by the test
                    self.errors.append(exc)
                finally:
                    db.session.remove()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)


@pytest.fixture
def webhooks_to_server(stripe_world, live_server):
    """Stripe also delivers its webhooks to the running server (the test's receiver keeps a copy)."""
    url = f"{live_server.url}/stripe/webhook"
    stripe_world.server.register_webhook(url, TEST_WEBHOOK_SECRET)
    yield stripe_world
    stripe_world.server.unregister_webhook(url)


def wait_until_applied(event_type: str, count: int, timeout: float = 15) -> None:
    """Wait for `count` stored events of this type, all applied (each look is a fresh snapshot)."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        stored = db.session.scalar(select(func.count()).select_from(StripeEvent).where(StripeEvent.type == event_type))
        waiting = db.session.scalar(select(func.count()).select_from(StripeEvent).where(
            StripeEvent.processed_at.is_(None)))
        if stored >= count and waiting == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{stored} of {count} {event_type} events stored, {waiting} not applied")
        time.sleep(0.05)


def api_refund(server, token, booking_id, amount, key=None):
    body = {"amount_minor": amount, "reason": "race"}
    if key:
        body["idempotency_key"] = key
    r = requests.post(f"{server.url}/api/bookings/{booking_id}/refunds", json=body, timeout=120,
                      headers={"Authorization": f"Bearer {token}"})
    return r.status_code, r.json()


def test_six_admin_refunds_at_once_while_webhooks_arrive_refund_exactly_what_was_paid_and_the_payout_works(
        app, client, live_server, webhooks_to_server):
    world = webhooks_to_server
    booking = paid_booking(world, client)
    token = accounts.issue_api_token(factories.user("admin"))[0]
    booking_id = booking.id  # threads have no app context to reload a model with
    db.session.commit()
    with Worker(app) as worker:
        results = run_together(*[lambda: api_refund(live_server, token, booking_id, 1000)] * 6)
        world.receiver.wait_for("charge.refunded", amount_refunded=4000, timeout=15)
        wait_until_applied("charge.refunded", 4)
    assert worker.errors == []
    assert sorted(status for status, _ in results) == [201] * 4 + [409] * 2, results
    losers = [body["error"] for status, body in results if status == 409]
    # The loser hears what is left now: 42.00 paid, 40.00 refunded or being refunded by the winners.
    assert all(e["refundable_minor"] == 200 and e["currency"] == "GBP" for e in losers), losers
    assert all("Only £2.00 is left to refund now" in e["message"] for e in losers)
    assert stripe_refunds(world, booking) == [1000] * 4
    assert books(booking.id) == (4000, 4000, 0)
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 4  # one row per Stripe refund
    assert db.session.get(Booking, booking.id).state == BookingState.PARTIAL_REFUNDED
    # The tutor's share follows the rows, and the payout fits what the refunds left on the charge.
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert 0 < receipt.tutor_payout_minor <= PAID - 4000
    assert receipt.tutor_payout_minor + receipt.application_fee_amount_minor == PAID - 4000
    account = onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    transfers = world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [t.amount for t in transfers] == [receipt.tutor_payout_minor]
    db.session.rollback()
    assert db.session.scalar(select(PaymentReceipt.transfer_error)) is None


def test_a_cancel_racing_admin_refunds_never_refunds_more_than_was_paid(app, client, live_server,
                                                                         webhooks_to_server):
    world = webhooks_to_server
    booking = paid_booking(world, client)
    admin_token = accounts.issue_api_token(factories.user("admin"))[0]
    student_token = accounts.issue_api_token(booking.booker)[0]
    booking_id = booking.id
    db.session.commit()

    def cancel():
        r = requests.put(f"{live_server.url}/api/bookings/{booking_id}/cancel", json={"note": "race"}, timeout=120,
                         headers={"Authorization": f"Bearer {student_token}"})
        return r.status_code, r.json()

    with Worker(app) as worker:
        results = run_together(cancel, cancel, *[lambda: api_refund(live_server, admin_token, booking_id, 1500)] * 3)
        world.receiver.wait_for("charge.refunded", amount_refunded=PAID, timeout=15)
        wait_until_applied("charge.refunded", 1)
    assert worker.errors == []
    statuses = [status for status, _ in results]
    assert statuses[:2] == [200, 200], results  # both cancel clicks answer; the lesson is cancelled once
    assert set(statuses[2:]) <= {201, 409}, results
    # Whatever the order, the refunds add up to what was paid (the cancel refunds what the others left).
    assert sum(stripe_refunds(world, booking)) == PAID
    assert books(booking.id) == (PAID, PAID, 0)
    cancelled = db.session.get(Booking, booking.id)
    assert cancelled.state == BookingState.REFUNDED and cancelled.lesson.state == LessonState.CANCELLED


def test_a_refund_that_lost_to_one_made_outside_the_app_answers_409_with_what_is_left(
        app, client, live_server, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    token = accounts.issue_api_token(admin)[0]
    db.session.commit()
    # Someone refunds 30.00 in the Stripe dashboard; its webhook has not reached us yet.
    stripe_world.client.v1.refunds.create(params={"payment_intent": booking.payment_intent_id, "amount": 3000})
    status, body = api_refund(live_server, token, booking.id, 2000)
    assert status == 409, body
    assert body["error"]["refundable_minor"] == PAID - 3000
    assert "Only £12.00 is left to refund now" in body["error"]["message"]
    # The books caught up with Stripe on the way: the outside refund is a row; the refused one counts for nothing.
    assert books(booking.id) == (3000, 3000, 0)
    assert db.session.scalar(select(Refund.status).where(Refund.amount_minor == 2000)) == "failed"
    # The page says the same, in the flash message, and the form offers what is left.
    stripe_world.client.v1.refunds.create(params={"payment_intent": booking.payment_intent_id, "amount": 200})
    page = requests.Session()
    form = page.get(f"{live_server.url}/login", timeout=30).text
    page.post(f"{live_server.url}/login", data={"email": admin.email, "password": factories.PASSWORD,
                                                "csrf_token": csrf_from(form)}, timeout=30)
    detail = page.get(f"{live_server.url}/bookings/{booking.id}", timeout=30).text
    key = re.search(r'name="request_key" value="([^"]+)"', detail).group(1)
    answer = page.post(f"{live_server.url}/admin/bookings/{booking.id}/refund", timeout=60, data={
        "csrf_token": csrf_from(detail), "request_key": key, "amount": "12.00", "reason": "goodwill"})
    assert answer.status_code == 200 and "Only £10.00 is left to refund now" in answer.text
    assert "up to £10.00" in answer.text, re.sub(r"\s+", " ", answer.text)[-3000:]
    assert stripe_refunds(stripe_world, booking) == [200, 3000]


def test_the_same_refund_form_submitted_twice_at_once_refunds_once(app, client, live_server, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    db.session.commit()
    page = requests.Session()
    form = page.get(f"{live_server.url}/login", timeout=30).text
    page.post(f"{live_server.url}/login", data={"email": admin.email, "password": factories.PASSWORD,
                                                "csrf_token": csrf_from(form)}, timeout=30)
    detail = page.get(f"{live_server.url}/bookings/{booking.id}", timeout=30).text
    data = {"csrf_token": csrf_from(detail), "amount": "5.00", "reason": "double click",
            "request_key": re.search(r'name="request_key" value="([^"]+)"', detail).group(1)}
    url = f"{live_server.url}/admin/bookings/{booking.id}/refund"

    def submit():
        return page.post(url, data=data, timeout=60, allow_redirects=False)

    answers = run_together(submit, submit)
    # Both tabs share one cookie (and its flash messages), so look at the answers before following them.
    assert [a.status_code for a in answers] == [303, 303]
    assert "Refund of £5.00 sent." in page.get(live_server.url + answers[0].headers["Location"], timeout=30).text
    assert stripe_refunds(stripe_world, booking) == [500]
    assert books(booking.id) == (500, 500, 0)


@pytest.mark.parametrize("webhook_first", [True, False])
def test_stripe_refunded_but_our_record_was_lost_the_retry_records_it_without_refunding_twice(
        app, client, live_server, stripe_world, webhook_first):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    token = accounts.issue_api_token(admin)[0]
    key = "retry-after-crash"
    # The request that crashed: it recorded its intent and Stripe refunded, then its process died.
    with serialized_write() as session:
        row = Refund(booking_id=booking.id, amount_minor=1500, currency="GBP", reason="crashed", status="pending",
                     idempotency_key=f"booking:{booking.id}:admin-refund:{key}", created_by_id=admin.id)
        session.add(row)
    made = gateway.create_refund(booking.payment_intent_id, 1500, row.idempotency_key, refund_row_id=row.id)
    # Meanwhile another refund goes through normally (the pending 15.00 already counts against what is left).
    assert api_refund(live_server, token, booking.id, 1000)[0] == 201
    stripe_world.receiver.wait_for("charge.refunded", amount_refunded=2500)
    if webhook_first:
        stripe_world.deliver(client)
    status, body = api_refund(live_server, token, booking.id, 1500, key=key)
    assert status == 201, body
    stripe_world.deliver(client)
    assert stripe_refunds(stripe_world, booking) == [1000, 1500]
    assert books(booking.id) == (2500, 2500, 0)
    assert db.session.scalar(select(Refund.stripe_refund_id).where(Refund.id == row.id)) == made.id
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 2


# --- the write lock refuses changes it did not start ---------------------------------------------------

def test_serialized_write_refuses_an_object_added_before_it(app):
    db.session.add(Subject(name="Smuggled"))
    with pytest.raises(ForeignChanges):
        with serialized_write():
            pass
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 0


def test_serialized_write_refuses_a_change_already_flushed(app):
    subject = factories.subject("Physics")
    subject.name = "Renamed"
    db.session.flush()  # in the transaction, no longer in session.dirty
    with pytest.raises(ForeignChanges):
        with serialized_write():
            pass
    db.session.rollback()
    assert db.session.scalar(select(Subject.name)) == "Physics"


def test_serialized_write_refuses_an_edited_object_and_accepts_a_plain_read(app):
    subject = factories.subject("Chemistry")
    subject.name = "Edited outside"
    with pytest.raises(ForeignChanges):
        with serialized_write():
            pass
    db.session.rollback()
    db.session.scalar(select(Subject.name))  # an open read transaction is fine: it is ended, not committed into
    with serialized_write() as session:
        session.get(Subject, subject.id).name = "Edited inside"
    db.session.rollback()
    assert db.session.scalar(select(Subject.name)) == "Edited inside"


def test_approving_and_declining_at_the_same_moment_leave_stripe_and_the_books_agreeing(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    booking_id, tutor_id, pi_id = booking.id, booking.lesson.tutor_id, booking.payment_intent_id
    db.session.commit()
    from webapp.models import User
    from webapp.services.errors import ServiceError

    def act(verb):
        def call():
            with app.app_context():
                try:
                    getattr(approvals, verb)(db.session.get(User, tutor_id), booking_id, now())
                    return "ok"
                except ServiceError as exc:
                    return exc.status
                finally:
                    db.session.remove()
        return call

    outcomes = run_together(act("approve"), act("decline"))
    assert outcomes.count("ok") >= 1 and set(outcomes) <= {"ok", 409, 502}, outcomes
    db.session.rollback()
    state = db.session.get(Booking, booking_id).state
    status = stripe_world.client.v1.payment_intents.retrieve(pi_id).status
    assert (state, status) in ((BookingState.PAID, "succeeded"), (BookingState.DECLINED, "canceled")), (state, status)


def test_the_sweep_books_refunds_whose_answer_was_lost_and_drops_those_stripe_never_got(app, client, stripe_world):
    from webapp.services import cancellations
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    earlier = now() - timedelta(minutes=30)
    # An admin's request died after Stripe refunded; another died before its call reached Stripe; the student's
    # cancellation lost Stripe's answer although the refund was made, and the student never came back.
    with serialized_write() as session:
        made = Refund(booking_id=booking.id, amount_minor=1000, currency="GBP", reason="made", status="pending",
                      idempotency_key=f"booking:{booking.id}:admin-refund:made-then-died", created_by_id=admin.id,
                      created_at=earlier)
        never = Refund(booking_id=booking.id, amount_minor=700, currency="GBP", reason="never", status="pending",
                       idempotency_key=f"booking:{booking.id}:admin-refund:died-first", created_by_id=admin.id,
                       created_at=earlier)
        cancel = Refund(booking_id=booking.id, amount_minor=1500, currency="GBP", reason="Cancelled (student_side)",
                        status="pending", idempotency_key=f"booking:{booking.id}:cancel-refund",
                        created_by_id=booking.booker_id, created_at=earlier)
        session.add_all([made, never, cancel])
    for row in (made, cancel):
        gateway.create_refund(booking.payment_intent_id, row.amount_minor, row.idempotency_key, refund_row_id=row.id)
    assert cancellations.confirm_pending_refunds(now()) == 3
    assert stripe_refunds(stripe_world, booking) == [1000, 1500]  # nothing the admin was not told of
    assert books(booking.id) == (2500, 2500, 0)
    assert db.session.scalar(select(Refund.status).where(Refund.id == never.id)) == "failed"
    assert db.session.get(Booking, booking.id).lesson.state == LessonState.CANCELLED  # as the student asked
    assert cancellations.confirm_pending_refunds(now()) == 0
    assert stripe_refunds(stripe_world, booking) == [1000, 1500]
