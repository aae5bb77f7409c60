"""Paying through the local Stripe server: checkout, webhooks (replayed, shuffled, tampered), approval, expiry."""
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Commission, CouponUse, OutboxMessage, PaymentReceipt, StripeEvent
from webapp.services import approvals, availability, bookings, card_holds, checkout, quotes, stripe_events
from webapp.services.bookings import BookingRequest
from webapp.services.errors import Conflict

URLS = {"success_url": "http://127.0.0.1/ok?session={CHECKOUT_SESSION_ID}", "cancel_url": "http://127.0.0.1/back"}


def now() -> datetime:
    return datetime.now(UTC)


def book(student=None, tutor_teach=None, days_ahead: int = 5, rate_minor: int = 4000):
    """A fresh AWAITING_PAYMENT booking for a lesson `days_ahead` days from now."""
    tutor, teach = tutor_teach or factories.tutor(rate_minor=rate_minor)
    student = student or factories.user("student")
    start = now() + timedelta(days=days_ahead)
    slot = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now()).slots[0]
    return bookings.request_booking(student, BookingRequest(tutor.id, teach.id, slot, 60), now())


def wait_for_types(world, *types: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(types) <= set(world.receiver.types()):
            return
        time.sleep(0.05)
    raise AssertionError(f"webhooks {types} not received; got {world.receiver.types()}")


def authorize(world, client, booking, card="4242424242424242", coupon=None):
    """Pay on the hosted page and hand every webhook to the app; returns the reloaded booking."""
    url = checkout.start_checkout(booking.booker, booking.id, coupon, now(), **URLS)
    response = world.pay(url, card)
    assert response.status_code == 303, response.text[:300]
    wait_for_types(world, "checkout.session.completed", "payment_intent.amount_capturable_updated")
    assert all(r.status_code == 200 for r in world.deliver(client))
    db.session.rollback()
    return db.session.get(Booking, booking.id)


def test_paying_by_card_authorizes_and_the_webhook_moves_the_booking(app, client, stripe_world):
    booking = book(rate_minor=4500)
    paid = authorize(stripe_world, client, booking)
    assert paid.state == BookingState.REQUIRES_CAPTURE
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.amount_minor == 4500 and receipt.currency == "GBP" and receipt.charge_id.startswith("ch_")
    assert receipt.breakdown["student_pays_minor"] == 4500 and receipt.tutor_payout_minor == 4500
    assert stripe_world.client.v1.payment_intents.retrieve(paid.payment_intent_id).status == "requires_capture"
    assert paid.approval_deadline == min(paid.authorized_at + timedelta(hours=48), paid.lesson.start_at)
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_awaiting_approval"))
    assert mail.to_address == paid.lesson.tutor.email


def test_fees_from_the_active_commission_are_charged_and_balance(app, client, stripe_world):
    db.session.add(Commission(commission_fee_bp=1500, service_fee_bp=500, payout_fee_bp=100,
                              payout_amount_fee_minor=25, account_management_amount_fee_minor=200, active=True))
    db.session.commit()
    booking = book(rate_minor=4000)
    authorize(stripe_world, client, booking)
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    # 40.00 + 5% service fee = 42.00 charged; tutor: 40.00 − 6.00 − 0.34 − 0.25 − 2.00 (first this month) = 31.41
    assert receipt.amount_minor == 4200
    assert receipt.tutor_payout_minor == 3141
    assert receipt.application_fee_amount_minor == 4200 - 3141
    pi = stripe_world.client.v1.payment_intents.retrieve(receipt.payment_intent_id)
    assert pi.amount == 4200


def test_every_webhook_delivered_twice_in_shuffled_order_ends_in_the_same_state(app, client, stripe_world):
    booking = book()
    authorize(stripe_world, client, booking)
    first_state = (db.session.get(Booking, booking.id).state,
                   db.session.scalar(select(func.count()).select_from(PaymentReceipt)),
                   db.session.scalar(select(func.count()).select_from(OutboxMessage)))
    events = stripe_world.deliveries() * 2
    random.Random(4).shuffle(events)
    responses = stripe_world.deliver(client, events)
    assert all(r.status_code == 200 for r in responses)
    assert {r.get_json()["outcome"] for r in responses} <= {"duplicate"}
    db.session.rollback()
    assert (db.session.get(Booking, booking.id).state,
            db.session.scalar(select(func.count()).select_from(PaymentReceipt)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage))) == first_state
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == len(stripe_world.deliveries())


def test_shuffled_first_delivery_still_applies_once(app, client, stripe_world):
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    stripe_world.pay(url)
    wait_for_types(stripe_world, "checkout.session.completed", "payment_intent.amount_capturable_updated")
    events = stripe_world.deliveries()
    random.Random(9).shuffle(events)
    stripe_world.deliver(client, events + events[::-1])
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
    assert db.session.scalar(select(func.count()).select_from(PaymentReceipt)) == 1


def test_a_tampered_signature_is_refused_and_changes_nothing(app, client, stripe_world):
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    stripe_world.pay(url)
    wait_for_types(stripe_world, "checkout.session.completed")
    headers, body = next((h, b) for h, b in stripe_world.deliveries() if b"checkout.session.completed" in b)
    tampered = body.replace(b'"livemode": false', b'"livemode": true') if b'"livemode": false' in body else body + b" "
    response = client.post("/stripe/webhook", data=tampered, content_type="application/json",
                           headers={"Stripe-Signature": headers["Stripe-Signature"]})
    assert response.status_code == 400 and "signature" in response.get_json()["error"]["message"]
    unsigned = client.post("/stripe/webhook", data=body, content_type="application/json")
    assert unsigned.status_code == 400
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_a_declined_card_changes_nothing_and_keeps_the_hold(app, client, stripe_world):
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    response = stripe_world.pay(url, "4000000000000002")
    assert response.status_code == 200 and "Your card was declined." in response.text
    stripe_world.receiver.wait_for("payment_intent.payment_failed")
    stripe_world.deliver(client)
    db.session.rollback()
    fresh = db.session.get(Booking, booking.id)
    assert fresh.state == BookingState.AWAITING_PAYMENT and fresh.hold_expires_at > now()


def test_three_d_secure_passed_authorizes_and_failed_does_not(app, client, stripe_world):
    tutor_teach = factories.tutor()
    ok, bad = book(tutor_teach=tutor_teach), book(tutor_teach=tutor_teach, days_ahead=6)
    url = checkout.start_checkout(ok.booker, ok.id, None, now(), **URLS)
    challenge = stripe_world.pay(url, "4000002500003155")
    assert challenge.status_code == 303 and challenge.headers["Location"].endswith("/3ds")
    assert stripe_world.authenticate(url, True).status_code == 303
    bad_url = checkout.start_checkout(bad.booker, bad.id, None, now(), **URLS)
    stripe_world.pay(bad_url, "4000002500003155")
    failed = stripe_world.authenticate(bad_url, False)
    if failed.status_code == 303:
        import requests
        failed = requests.get(failed.headers["Location"], timeout=10)
    assert "unable to authenticate your payment method" in failed.text
    stripe_world.receiver.wait_for("payment_intent.amount_capturable_updated", metadata={"booking_id": str(ok.id)})
    stripe_world.receiver.wait_for("checkout.session.completed", client_reference_id=str(ok.id))
    stripe_world.deliver(client)
    db.session.rollback()
    assert db.session.get(Booking, ok.id).state == BookingState.REQUIRES_CAPTURE
    assert db.session.get(Booking, bad.id).state == BookingState.AWAITING_PAYMENT


def test_tutor_approval_captures_once_and_freezes_the_refund_policy(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    tutor = booking.lesson.tutor
    approved = approvals.approve(tutor, booking.id, now())
    assert approved.state == BookingState.PAID and approved.refund_policy["full_refund_until_hours"] == 24
    assert approvals.approve(tutor, booking.id, now()).state == BookingState.PAID  # a double click
    assert stripe_world.client.v1.payment_intents.retrieve(booking.payment_intent_id).status == "succeeded"
    with pytest.raises(Exception):
        approvals.approve(factories.user("tutor"), booking.id, now())


def test_declining_releases_the_authorization_and_frees_the_slot(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    start = booking.lesson.start_at
    declined = approvals.decline(booking.lesson.tutor, booking.id, now())
    assert declined.state == BookingState.DECLINED and declined.lesson.state == LessonState.CANCELLED
    assert stripe_world.client.v1.payment_intents.retrieve(booking.payment_intent_id).status == "canceled"
    free = availability.find_slots(availability.SlotRequest(
        declined.lesson.tutor_id, declined.lesson.teach_id, start, start + timedelta(minutes=1), 60), now()).slots
    assert free == [start]


def test_declining_a_payment_captured_a_moment_ago_is_a_conflict_and_keeps_the_booking(app, client, stripe_world):
    """An approval elsewhere captured the payment at Stripe before our record said so: the decline is refused in
    words (Stripe's payment_intent_unexpected_state), never "try again", and nothing is closed."""
    booking = authorize(stripe_world, client, book())
    stripe_world.client.v1.payment_intents.capture(booking.payment_intent_id)
    with pytest.raises(Conflict, match="just captured"):
        approvals.decline(booking.lesson.tutor, booking.id, now())
    db.session.rollback()
    kept = db.session.get(Booking, booking.id)
    assert kept.state == BookingState.REQUIRES_CAPTURE and kept.lesson.state == LessonState.ACTIVE


def test_an_unapproved_booking_expires_after_the_window_and_is_released(app, client, stripe_world):
    booking = authorize(stripe_world, client, book(days_ahead=10))
    assert approvals.expire_unapproved(now() + timedelta(hours=47)) == 0
    assert approvals.expire_unapproved(now() + timedelta(hours=49)) == 1
    assert approvals.expire_unapproved(now() + timedelta(hours=49)) == 0
    db.session.rollback()
    expired = db.session.get(Booking, booking.id)
    assert expired.state == BookingState.EXPIRED and expired.lesson.state == LessonState.CANCELLED
    assert stripe_world.client.v1.payment_intents.retrieve(booking.payment_intent_id).status == "canceled"
    with pytest.raises(Conflict):
        approvals.approve(expired.lesson.tutor, booking.id, now())


def test_approval_deadline_is_never_after_the_lesson_starts_nor_five_days_after_authorization(app):
    authorized = datetime(2027, 3, 1, 9, tzinfo=UTC)
    assert card_holds.approval_deadline(authorized + timedelta(hours=3), authorized) == authorized + timedelta(hours=3)
    assert card_holds.approval_deadline(authorized + timedelta(days=30), authorized) == authorized + timedelta(hours=48)
    app.config["APPROVAL_WINDOW_HOURS"] = 24 * 9
    try:
        assert card_holds.approval_deadline(authorized + timedelta(days=30), authorized) == authorized + timedelta(days=5)
    finally:
        app.config["APPROVAL_WINDOW_HOURS"] = 48


def test_payment_after_the_hold_lapsed_is_released_not_kept(app, client, stripe_world):
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    db.session.rollback()
    b = db.session.get(Booking, booking.id)
    expired = bookings.expire_stale_holds(b.hold_expires_at + timedelta(seconds=1))
    assert expired == [booking.id]
    stripe_world.pay(url)
    wait_for_types(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client)
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.EXPIRED
    session = stripe_world.client.v1.checkout.sessions.retrieve(b.checkout_session_id)
    pi = stripe_world.client.v1.payment_intents.retrieve(session.payment_intent)
    assert pi.status == "canceled"


def test_coupon_discount_is_quoted_charged_and_recorded(app, client, stripe_world):
    from webapp.models import Coupon
    db.session.add(Coupon(code="WELCOME10", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT",
                          percent_bp=1000, active=True))
    db.session.commit()
    booking = book(rate_minor=4000)
    quote = quotes.quote_booking(booking.booker, booking, "welcome10", now())
    assert quote.coupon_problem is None and quote.breakdown.student_pays == 3600
    authorize(stripe_world, client, booking, coupon="welcome10")
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.amount_minor == 3600 and receipt.coupon_id is not None and receipt.tutor_payout_minor == 4000
    use = db.session.scalar(select(CouponUse))
    assert use.confirmed and use.booking_id == booking.id
    second = book(student=booking.booker, days_ahead=7)
    assert quotes.quote_booking(second.booker, second, "WELCOME10", now()).coupon_problem == \
        "You have already used this code."


def test_webhooks_arriving_all_at_once_over_http_apply_once(app, live_server, stripe_world):
    import threading

    import requests
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    stripe_world.pay(url)
    wait_for_types(stripe_world, "checkout.session.completed", "payment_intent.amount_capturable_updated")
    deliveries = stripe_world.deliveries() * 3
    statuses = []

    def send(headers, body):
        r = requests.post(f"{live_server.url}/stripe/webhook", data=body, timeout=30, headers={
            "Stripe-Signature": headers["Stripe-Signature"], "Content-Type": "application/json"})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=send, args=d) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * len(deliveries)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)) == len(stripe_world.deliveries())
    # Three workers apply the stored events at the same moment (say the enqueued jobs and the sweep).
    errors = []

    def work():
        try:
            with app.app_context():
                stripe_events.apply_stored_events(now())
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(3)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    assert errors == []
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
    assert db.session.scalar(select(func.count()).select_from(StripeEvent)
                             .where(StripeEvent.processed_at.is_(None))) == 0
    assert db.session.scalar(select(func.count()).select_from(PaymentReceipt)) == 1
    # Once each: the tutor's "awaiting your approval" email and the booker's receipt.
    assert sorted(db.session.scalars(select(OutboxMessage.template).where(OutboxMessage.channel == "email"))) == [
        "booking_awaiting_approval", "payment_receipt"]


def test_an_older_checkout_paid_after_the_quote_changed_is_released_not_kept(app, client, stripe_world):
    from webapp.models import Coupon
    db.session.add(Coupon(code="WELCOME10", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT",
                          percent_bp=1000, active=True))
    db.session.commit()
    booking = book()
    first_url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    second_url = checkout.start_checkout(booking.booker, booking.id, "WELCOME10", now(), **URLS)
    stripe_world.pay(second_url)
    wait_for_types(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client)
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
    # The first page was expired when the second opened; even a payment slipping through is released.
    assert "expired" in stripe_world.pay(first_url).text.lower()
    with pytest.raises(Conflict):
        checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)


def test_a_second_payment_for_an_authorized_booking_is_released(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    stray = stripe_world.client.v1.payment_intents.create(params={
        "amount": 4000, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True,
        "capture_method": "manual", "metadata": {"booking_id": str(booking.id)}})
    assert stray.status == "requires_capture"
    stripe_world.receiver.wait_for("payment_intent.amount_capturable_updated", id=stray.id)
    stripe_world.deliver(client)
    assert stripe_world.client.v1.payment_intents.retrieve(stray.id).status == "canceled"
    assert stripe_world.client.v1.payment_intents.retrieve(booking.payment_intent_id).status == "requires_capture"
