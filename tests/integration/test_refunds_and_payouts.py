"""Cancelling and refunding through Stripe, admin refunds, and the payout job that pays each booking once."""
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from tests import factories
from tests.integration.test_payments import URLS, authorize, book, now
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Coupon, CouponUse, OutboxMessage, PaymentReceipt, PayoutAccount
from webapp.services import approvals, cancellations, checkout, payouts
from webapp.services.errors import Conflict, Forbidden, ValidationError


def paid_booking(world, client, **kw) -> Booking:
    booking = authorize(world, client, book(**kw))
    return approvals.approve(booking.lesson.tutor, booking.id, now())


def receipt_charge(booking) -> str:
    return db.session.scalar(select(PaymentReceipt.charge_id).where(PaymentReceipt.booking_id == booking.id))


def refunds_in_stripe(world, booking) -> list[int]:
    return [r.amount for r in world.client.v1.refunds.list(params={"payment_intent": booking.payment_intent_id}).data]


@pytest.mark.parametrize("role", ["booker", "tutor", "admin", "parent", "stranger", "other_tutor"])
def test_who_may_cancel(app, role):
    parent = factories.user("parent")
    kid = factories.child(parent)
    tutor, teach = factories.tutor()
    from webapp.services import availability, bookings
    from webapp.services.bookings import BookingRequest
    start = now() + timedelta(days=3)
    slot = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now()).slots[0]
    booking = bookings.request_booking(parent, BookingRequest(tutor.id, teach.id, slot, 60, child_id=kid.id), now())
    who = {"booker": parent, "tutor": tutor, "admin": factories.user("admin"), "parent": parent,
           "stranger": factories.user("student"), "other_tutor": factories.user("tutor")}[role]
    allowed = cancellations.canceller_for(who, booking) is not None
    assert allowed == (role not in ("stranger", "other_tutor"))


def test_cancelling_more_than_24_hours_ahead_refunds_in_full(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    plan = cancellations.preview(booking.booker, booking.id, now())
    assert plan.kind == "refund" and plan.refund.amount_minor == 4000 and "full refund" in plan.explanation
    cancelled = cancellations.cancel_booking(booking.booker, booking.id, "Exam moved", now())
    assert cancelled.state == BookingState.REFUNDED and cancelled.lesson.state == LessonState.CANCELLED
    assert cancelled.cancellation_note == "Exam moved"
    assert refunds_in_stripe(stripe_world, booking) == [4000]
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert (receipt.refunded_minor, receipt.tutor_payout_minor) == (4000, 0)


def test_cancelling_within_24_hours_refunds_half(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    late = booking.lesson.start_at - timedelta(hours=3)
    assert cancellations.preview(booking.booker, booking.id, late).refund.amount_minor == 2000
    cancelled = cancellations.cancel_booking(booking.booker, booking.id, "", late)
    assert cancelled.state == BookingState.PARTIAL_REFUNDED
    assert refunds_in_stripe(stripe_world, booking) == [2000]
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.refunded_minor == 2000 and receipt.tutor_payout_minor == 2000


def test_cancelling_after_the_start_is_refused_and_changes_nothing(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    started = booking.lesson.start_at + timedelta(minutes=5)
    with pytest.raises(Conflict, match="can no longer be cancelled"):
        cancellations.cancel_booking(booking.booker, booking.id, "", started)
    db.session.rollback()
    booking = db.session.get(Booking, booking.id)
    assert booking.state == BookingState.PAID and booking.lesson.state == LessonState.ACTIVE
    assert refunds_in_stripe(stripe_world, booking) == []


def test_the_tutor_cancelling_late_still_refunds_in_full(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    late = booking.lesson.start_at - timedelta(hours=1)
    cancelled = cancellations.cancel_booking(booking.lesson.tutor, booking.id, "Ill", late)
    assert cancelled.state == BookingState.REFUNDED and refunds_in_stripe(stripe_world, booking) == [4000]


def test_cancelling_twice_refunds_once(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    cancellations.cancel_booking(booking.booker, booking.id, "", now())
    cancellations.cancel_booking(booking.booker, booking.id, "", now())
    assert refunds_in_stripe(stripe_world, booking) == [4000]


def test_cancelling_before_capture_just_releases_the_authorization(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    assert cancellations.preview(booking.booker, booking.id, now()).kind == "release"
    cancelled = cancellations.cancel_booking(booking.booker, booking.id, "", now())
    assert cancelled.state == BookingState.CANCELLED and cancelled.lesson.state == LessonState.CANCELLED
    assert stripe_world.client.v1.payment_intents.retrieve(booking.payment_intent_id).status == "canceled"
    assert refunds_in_stripe(stripe_world, booking) == []


def test_strangers_cannot_cancel_or_even_see_the_booking(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    from webapp.services.errors import NotFound
    with pytest.raises(NotFound):
        cancellations.cancel_booking(factories.user("student"), booking.id, "", now())
    assert refunds_in_stripe(stripe_world, booking) == []


def test_admin_refunds_any_amount_up_to_what_remains(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    admin = factories.user("admin")
    assert cancellations.admin_refund(admin, booking.id, 1234, "Goodwill", now()).state == BookingState.PARTIAL_REFUNDED
    with pytest.raises(cancellations.RefundRaceLost, match="Only £27.66 is left to refund"):
        cancellations.admin_refund(admin, booking.id, 4000 - 1234 + 1, "", now())
    with pytest.raises(ValidationError, match="Refund between"):
        cancellations.admin_refund(admin, booking.id, 0, "", now())
    with pytest.raises(Forbidden):
        cancellations.admin_refund(booking.booker, booking.id, 1, "", now())
    assert cancellations.admin_refund(admin, booking.id, 4000 - 1234, "", now()).state == BookingState.REFUNDED
    assert sorted(refunds_in_stripe(stripe_world, booking)) == [1234, 2766]
    with pytest.raises(Exception):
        cancellations.admin_refund(admin, booking.id, 1, "", now())


def test_a_refund_made_in_the_stripe_dashboard_reaches_the_books_once(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    stripe_world.client.v1.refunds.create(params={"payment_intent": booking.payment_intent_id, "amount": 1000})
    stripe_world.receiver.wait_for("charge.refunded", amount_refunded=1000)
    stripe_world.deliver(client)
    stripe_world.deliver(client)
    db.session.rollback()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.refunded_minor == 1000
    assert db.session.get(Booking, booking.id).state == BookingState.PARTIAL_REFUNDED


# --- payouts ---------------------------------------------------------------------------------------

def onboard(tutor) -> PayoutAccount:
    link = payouts.start_onboarding(tutor, return_url="http://127.0.0.1/back", refresh_url="http://127.0.0.1/again")
    assert requests.post(link, allow_redirects=False, timeout=10).status_code == 303
    return payouts.refresh_onboarding(tutor)


def test_payouts_are_blocked_until_onboarding_is_complete(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    later = booking.lesson.finish_at + timedelta(days=3)
    assert payouts.send_pending_payouts(later) == 0
    payouts.start_onboarding(booking.lesson.tutor, return_url="http://x/r", refresh_url="http://x/f")
    assert payouts.send_pending_payouts(later) == 0
    assert onboard(booking.lesson.tutor).payouts_enabled
    assert payouts.send_pending_payouts(later) == 1


def test_the_payout_job_run_twice_pays_once_after_the_settlement_period(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    account = onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=1)) == 0  # not settled yet
    later = booking.lesson.finish_at + timedelta(days=2, minutes=1)
    assert payouts.send_pending_payouts(later) == 1
    assert payouts.send_pending_payouts(later) == 0
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [(t.amount, t.transfer_group, t.source_transaction) for t in transfers] == [
        (4000, f"booking_{booking.id}", receipt_charge(booking))]
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.transfer_id == transfers[0].id
    mails = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payout_status")))
    assert len(mails) == 1 and mails[0].context["transfer_id"] == transfers[0].id
    assert mails[0].context["booking_id"] == booking.id


def test_two_workers_paying_out_at_once_pay_once(app, client, stripe_world):
    booking = paid_booking(stripe_world, client)
    account = onboard(booking.lesson.tutor)
    later = booking.lesson.finish_at + timedelta(days=3)
    db.session.commit()
    results = []

    def worker():
        with app.app_context():
            results.append(payouts.send_pending_payouts(later))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [0, 1]
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert len(transfers) == 1


def test_a_half_refunded_booking_pays_the_tutor_their_remaining_share(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    cancellations.cancel_booking(booking.booker, booking.id, "", booking.lesson.start_at - timedelta(hours=2))
    account = onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [t.amount for t in transfers] == [2000]


def test_coupon_limits_hold_when_two_payments_race(app, stripe_world):
    db.session.add(Coupon(code="LASTONE", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_AMOUNT", amount_minor=500,
                          currency="GBP", max_total_uses=1, active=True))
    db.session.commit()
    first, second = book(), book(days_ahead=6)
    db.session.commit()
    outcomes = []

    def pay(booking_id, user_id):
        with app.app_context():
            from webapp.models import User
            try:
                checkout.start_checkout(db.session.get(User, user_id), booking_id, "LASTONE", now(), **URLS)
                outcomes.append("ok")
            except ValidationError as exc:
                outcomes.append(exc.message)

    threads = [threading.Thread(target=pay, args=(b.id, b.booker_id)) for b in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("ok") == 1, outcomes
    assert any("usage limit" in o or "used up" in o for o in outcomes)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CouponUse)) == 1


def test_a_lesson_refunded_in_full_as_goodwill_still_stands_and_can_be_cancelled_without_moving_money(
        app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    admin = factories.user("admin")
    assert cancellations.admin_refund(admin, booking.id, 4000, "Goodwill", now()).state == BookingState.REFUNDED
    assert booking.lesson.state == LessonState.ACTIVE  # a refund is not a cancellation
    assert cancellations.can_cancel(booking.booker, booking, now())
    plan = cancellations.preview(booking.booker, booking.id, now())
    assert (plan.kind, plan.refund.amount_minor) == ("refund", 0)
    assert "already been refunded" in plan.explanation
    cancelled = cancellations.cancel_booking(booking.booker, booking.id, "Not needed after all", now())
    assert cancelled.lesson.state == LessonState.CANCELLED and cancelled.state == BookingState.REFUNDED
    assert cancellations.cancel_booking(booking.booker, booking.id, "", now()).lesson.state == LessonState.CANCELLED
    assert refunds_in_stripe(stripe_world, booking) == [4000]  # no second refund
