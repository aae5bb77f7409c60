"""Paying for a lesson with PayPal on the local stand-in: an AUTHORIZE order approved on its page, authorized on our
return (or by the webhook's backstop), captured when the tutor approves, voided on decline or expiry, refunded by
the cancellation policy; a double click opens one order; replayed or reordered webhooks change nothing."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from tests.integration.test_payments import authorize
from tests.integration.test_payments import book as card_book
from tests.integration.test_refunds_and_payouts import onboard
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, OutboxMessage, PaymentReceipt, PayPalEvent, PayPalOrder, Refund, User
from webapp.services import approvals, availability, bookings, cancellations, payouts, paypal_checkout
from webapp.services.bookings import BookingRequest
from webapp.services.errors import Conflict, NotRecorded

URLS = {"return_url": "http://127.0.0.1/back", "cancel_url": "http://127.0.0.1/cancel"}


def now() -> datetime:
    return datetime.now(UTC)


def book(days_ahead: int = 5, rate_minor: int = 4000) -> Booking:
    """A fresh AWAITING_PAYMENT booking for a lesson `days_ahead` days from now."""
    tutor, teach = factories.tutor(rate_minor=rate_minor)
    student = factories.user("student")
    start = now() + timedelta(days=days_ahead)
    slot = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now()).slots[0]
    return bookings.request_booking(student, BookingRequest(tutor.id, teach.id, slot, 60), now())


def pay(world, booking: Booking) -> Booking:
    """Pay with PayPal: approve on the stand-in's page and come back; returns the reloaded booking."""
    url = paypal_checkout.start(booking.booker, booking.id, None, now(), **URLS)
    answer = world.approve(url)
    assert answer.status_code == 303
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["PayerID"]
    paypal_checkout.finish(booking.booker, booking.id, back["token"][0], now())
    db.session.rollback()
    return db.session.get(Booking, booking.id)


def order_of(booking: Booking) -> PayPalOrder:
    db.session.rollback()
    return db.session.scalar(select(PayPalOrder).where(PayPalOrder.booking_id == booking.id))


def test_paying_with_paypal_holds_the_booking_for_the_tutor_with_a_paypal_receipt(app, paypal_world):
    booking = pay(paypal_world, book(rate_minor=4500))
    assert booking.state == BookingState.REQUIRES_CAPTURE and booking.payment_intent_id is None
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    row = order_of(booking)
    assert receipt.provider == "paypal" and receipt.payment_intent_id == row.order_id
    assert receipt.amount_minor == 4500 and row.status == "AUTHORIZED"
    held = paypal_world.server.authorizations[row.authorization_id]
    assert held["status"] == "CREATED" and held["amount"] == {"currency_code": "GBP", "value": "45.00"}
    sent = paypal_world.server.orders[row.order_id]["purchase_units"][0]
    assert sent["custom_id"] == f"booking:{booking.id}"
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "payment_receipt"))
    assert mail.context["held_by"] == "Your PayPal payment is"
    # PayPal's authorization lives 29 days, but the approval window (48 h) comes first.
    assert booking.approval_deadline <= booking.authorized_at + timedelta(hours=48)


def test_the_tutors_approval_captures_the_authorization_once(app, paypal_world):
    booking = pay(paypal_world, book())
    tutor = booking.lesson.tutor
    assert approvals.approve(tutor, booking.id, now()).state == BookingState.PAID
    assert approvals.approve(tutor, booking.id, now()).state == BookingState.PAID  # a double click
    row = order_of(booking)
    assert row.status == "CAPTURED" and paypal_world.server.captures[row.capture_id]["amount"]["value"] == "40.00"
    assert paypal_world.server.authorizations[row.authorization_id]["status"] == "CAPTURED"
    assert len(paypal_world.server.captures) == 1


def test_declining_and_expiry_void_the_authorization(app, paypal_world):
    declined = pay(paypal_world, book())
    approvals.decline(declined.lesson.tutor, declined.id, now())
    db.session.rollback()
    assert db.session.get(Booking, declined.id).state == BookingState.DECLINED
    assert paypal_world.server.authorizations[order_of(declined).first_authorization_id]["status"] == "VOIDED"
    late = pay(paypal_world, book(days_ahead=10))
    assert approvals.expire_unapproved(now() + timedelta(hours=49)) == 1
    db.session.rollback()
    expired = db.session.get(Booking, late.id)
    assert expired.state == BookingState.EXPIRED and expired.lesson.state == LessonState.CANCELLED
    assert paypal_world.server.authorizations[order_of(late).authorization_id]["status"] == "VOIDED"
    with pytest.raises(Conflict):
        approvals.approve(expired.lesson.tutor, late.id, now())


def test_capture_after_the_honor_period_reauthorizes_first_and_captures_the_new_authorization(app, paypal_world,
                                                                                             monkeypatch):
    # A platform that gives tutors a week to approve: past PayPal's 3-day honor period, within its 29 days.
    monkeypatch.setitem(app.config, "APPROVAL_WINDOW_HOURS", 7 * 24)
    booking = pay(paypal_world, book(days_ahead=10))
    assert booking.approval_deadline - booking.authorized_at == timedelta(days=7)
    first = order_of(booking).authorization_id
    paypal_world.server.clock_offset = 4 * 86400  # PayPal's clock: the 3-day honor period is over
    approvals.approve(booking.lesson.tutor, booking.id, now() + timedelta(days=4))
    row = order_of(booking)
    assert row.authorization_id != first and row.first_authorization_id == first
    assert paypal_world.server.captures[row.capture_id]["supplementary_data"]["related_ids"]["authorization_id"] \
        == row.authorization_id
    assert db.session.get(Booking, booking.id).state == BookingState.PAID


def test_the_approval_deadline_stays_a_day_inside_paypals_29_day_authorization(app, paypal_world, monkeypatch):
    monkeypatch.setitem(app.config, "APPROVAL_WINDOW_HOURS", 60 * 24)
    booking = pay(paypal_world, book(days_ahead=50))
    assert booking.approval_deadline - booking.authorized_at == timedelta(days=28)


def test_a_cancellation_after_capture_refunds_by_the_card_policy_once(app, paypal_world):
    booking = pay(paypal_world, book(days_ahead=5))
    approvals.approve(booking.lesson.tutor, booking.id, now())
    cancellations.cancel_booking(booking.booker, booking.id, "", now())
    cancellations.cancel_booking(booking.booker, booking.id, "", now())  # a second click
    db.session.rollback()
    refunds = db.session.scalars(select(Refund).where(Refund.booking_id == booking.id)).all()
    assert [(r.amount_minor, r.status) for r in refunds] == [(4000, "succeeded")]
    assert refunds[0].paypal_refund_id in paypal_world.server.refunds
    assert paypal_world.server.captures[order_of(booking).capture_id]["status"] == "REFUNDED"
    assert db.session.get(Booking, booking.id).state == BookingState.REFUNDED


def test_cancelling_before_approval_voids(app, paypal_world):
    booking = pay(paypal_world, book())
    cancellations.cancel_booking(booking.booker, booking.id, "", now())
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.CANCELLED
    assert paypal_world.server.authorizations[order_of(booking).authorization_id]["status"] == "VOIDED"


def test_pay_with_paypal_double_clicked_at_once_opens_one_order(app, paypal_world):
    booking = book()
    booker_id, booking_id = booking.booker_id, booking.id
    db.session.commit()
    urls, errors = [], []

    def click():
        with app.app_context():
            try:
                user = db.session.get(User, booker_id)
                urls.append(paypal_checkout.start(user, booking_id, None, now(), **URLS))
            except Exception as exc:  # noqa: BLE001 — collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(set(urls)) == 1
    assert len(paypal_world.server.orders) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PayPalOrder)) == 1
    assert paypal_checkout.start(db.session.get(Booking, booking_id).booker, booking_id, None, now(), **URLS) \
        == urls[0]  # and a later click resumes it


def test_the_webhook_authorizes_when_the_student_never_comes_back_and_replays_change_nothing(app, client,
                                                                                             paypal_world):
    booking = book()
    url = paypal_checkout.start(booking.booker, booking.id, None, now(), **URLS)
    paypal_world.approve(url)  # ... and the browser closes before our return page
    paypal_world.deliver(client)  # CHECKOUT.ORDER.APPROVED → the job authorizes
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
    paypal_world.deliver(client)  # now PAYMENT.AUTHORIZATION.CREATED too, and the approval again
    paypal_world.deliver(client, list(reversed(paypal_world.event_ids())))
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
    assert len(paypal_world.server.authorizations) == 1
    assert db.session.scalar(select(func.count()).select_from(PaymentReceipt)) == 1
    assert db.session.scalar(select(func.count()).select_from(PayPalEvent)
                             .where(PayPalEvent.processed_at.is_(None))) == 0


def test_an_approval_after_the_hold_lapsed_takes_nothing(app, paypal_world):
    booking = book()
    url = paypal_checkout.start(booking.booker, booking.id, None, now(), **URLS)
    token = parse_qs(urlsplit(paypal_world.approve(url).headers["Location"]).query)["token"][0]
    with pytest.raises(Conflict):
        paypal_checkout.finish(booking.booker, booking.id, token, now() + timedelta(hours=2))
    assert paypal_world.server.authorizations == {}


def test_a_paypal_funded_lesson_is_paid_out_from_the_platforms_stripe_balance_once_it_covers_it(app, client,
                                                                                                 paypal_world,
                                                                                                 stripe_world):
    booking = pay(paypal_world, book())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    account = onboard(booking.lesson.tutor)
    later = booking.lesson.finish_at + timedelta(days=2, minutes=1)
    # PayPal paid the platform's PayPal account, not its Stripe balance: with that balance empty the transfer is
    # refused, the refusal is recorded and the team told, and nothing is lost.
    assert payouts.send_pending_payouts(later) == 0
    db.session.rollback()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert "insufficient available funds" in receipt.transfer_error and receipt.transfer_id is None
    assert db.session.scalar(select(OutboxMessage.context).where(OutboxMessage.template == "payout_status"))["error"]
    # A card lesson (another tutor, not yet paid out) captured: the balance now covers it, and the next run pays once.
    card = authorize(stripe_world, client, card_book())
    approvals.approve(card.lesson.tutor, card.id, now())
    assert payouts.send_pending_payouts(later) == 1
    assert payouts.send_pending_payouts(later) == 0
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [(t.amount, t.source_transaction) for t in transfers] == [(4000, None)]  # from the balance, no charge


def test_a_refund_whose_paypal_answer_was_lost_is_settled_by_the_sweep_once(app, paypal_world):
    booking = pay(paypal_world, book(days_ahead=5))
    approvals.approve(booking.lesson.tutor, booking.id, now())
    paypal_world.server.fail_with = 503
    with pytest.raises(NotRecorded):
        cancellations.cancel_booking(booking.booker, booking.id, "", now())
    db.session.rollback()
    assert [r.status for r in db.session.scalars(select(Refund))] == ["pending"]
    assert cancellations.confirm_pending_refunds(now() + timedelta(minutes=20)) == 0  # PayPal still down: waits
    paypal_world.server.fail_with = None
    assert cancellations.confirm_pending_refunds(now() + timedelta(minutes=20)) == 1
    assert cancellations.confirm_pending_refunds(now() + timedelta(minutes=40)) == 0
    db.session.rollback()
    assert [(r.amount_minor, r.status) for r in db.session.scalars(select(Refund))] == [(4000, "succeeded")]
    assert len(paypal_world.server.refunds) == 1
    finished = db.session.get(Booking, booking.id)
    assert finished.state == BookingState.REFUNDED and finished.lesson.state == LessonState.CANCELLED


def test_declining_when_paypal_forgot_the_order_releases_the_booking_in_words(app, paypal_world):
    # The local PayPal stand-in restarted (or PayPal purged an expired authorization): it answers 404 for both.
    booking = pay(paypal_world, book())
    row = order_of(booking)
    paypal_world.server.forget(row.order_id)
    declined = approvals.decline(booking.lesson.tutor, booking.id, now())
    db.session.rollback()
    assert db.session.get(Booking, declined.id).state == BookingState.DECLINED
    assert order_of(booking).status == "VOIDED"
    assert approvals.decline(booking.lesson.tutor, booking.id, now()).state == BookingState.DECLINED  # a 2nd click


def test_expiry_when_paypal_forgot_the_order_closes_the_booking(app, paypal_world):
    booking = pay(paypal_world, book(days_ahead=10))
    paypal_world.server.forget(order_of(booking).order_id)
    assert approvals.expire_unapproved(now() + timedelta(hours=49)) == 1
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.EXPIRED
    assert order_of(booking).status == "VOIDED"


def test_approving_when_paypal_forgot_the_authorization_says_so_and_closes_the_booking(app, paypal_world):
    booking = pay(paypal_world, book())
    paypal_world.server.forget(order_of(booking).order_id)
    with pytest.raises(Conflict) as refused:
        approvals.approve(booking.lesson.tutor, booking.id, now())
    assert "no longer holds this payment" in refused.value.message
    assert "does not exist" not in refused.value.message
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.EXPIRED
    assert order_of(booking).status == "VOIDED"


def test_a_void_paypal_refuses_for_another_reason_is_told_in_words_not_paypals_text(app, paypal_world):
    booking = pay(paypal_world, book())
    auth = paypal_world.server.authorizations[order_of(booking).first_authorization_id]
    auth["_parent"] = "someone"  # the stand-in then refuses the void (CANNOT_BE_VOIDED)
    from webapp.services.errors import PaymentFailed
    with pytest.raises(PaymentFailed) as refused:
        approvals.decline(booking.lesson.tutor, booking.id, now())
    assert "reauthorization" not in refused.value.message and "PayPal" in refused.value.message


def test_cancel_on_paypals_page_after_paying_does_not_say_nothing_was_taken(app, client, paypal_world):
    # Back from the booking to PayPal's approval page (still in the history), then "Cancel and return": the booking
    # was paid; "You left PayPal without paying, so nothing was taken" would be untrue.
    booking = pay(paypal_world, book())
    login(client, booking.booker.email, factories.PASSWORD)
    answer = client.get(f"/bookings/{booking.id}/paypal/cancel?token={order_of(booking).order_id}")
    assert answer.status_code == 303 and answer.location.endswith(f"/bookings/{booking.id}")
    page = client.get(answer.location).get_data(as_text=True)
    assert "without paying" not in page and "not waiting for payment" not in page
    assert "Nothing more was taken" in page and "authorized" in page
    assert order_of(booking).status == "AUTHORIZED"

    unpaid = book()
    login(client, unpaid.booker.email, factories.PASSWORD)
    answer = client.get(f"/bookings/{unpaid.id}/paypal/cancel?token=EC-NOTHING")
    assert answer.location.endswith(f"/bookings/{unpaid.id}/pay")
    assert "You left PayPal without paying, so nothing was taken." in client.get(answer.location).get_data(as_text=True)
    assert client.get(f"/bookings/{booking.id}/paypal/cancel").status_code == 303  # someone else's: not found
