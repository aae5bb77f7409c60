"""Tutor payouts for lessons paid with prepaid minutes: by the existing payout job, once per lesson after the
settlement period, from the platform's balance (no source charge), worth what the minutes cost the student less the
platform's commission, and only for the minutes a cancellation did not return."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests import factories
from tests.integration.test_payments import book
from tests.integration.test_refunds_and_payouts import onboard
from webapp import jobs
from webapp.extensions import db
from webapp.models import Booking, Commission, MinuteLot, MinutePayout, OutboxMessage
from webapp.services import approvals, cancellations, minute_payments, minute_payouts, packages


def now() -> datetime:
    return datetime.now(UTC)


def _bought_and_approved(world, client, *, hours: int = 5, discount: int = 10, days_ahead: int = 5):
    """A student buys a package on Checkout (the platform holds the money), pays a booking with minutes, and the
    tutor approves it."""
    booking = book(days_ahead=days_ahead)
    tutor, student = booking.lesson.tutor, booking.booker
    package = packages.add_package(tutor, hours, discount)
    _, url = packages.start_purchase(student, package.id, "buy-once", now(), success_url="http://127.0.0.1/ok",
                                     cancel_url="http://127.0.0.1/back")
    assert world.pay(url).status_code == 303
    deadline = time.monotonic() + 5
    while "checkout.session.completed" not in world.receiver.types():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    world.deliver(client)
    minute_payments.pay_with_minutes(student, booking.id, now())
    approvals.approve(tutor, booking.id, now())
    db.session.rollback()
    return booking


def test_a_minute_paid_lesson_is_paid_out_once_after_settlement_from_the_platform_balance(app, client, stripe_world):
    booking = _bought_and_approved(stripe_world, client)  # 5 hours at £40.00 less 10 %: £180.00 for 300 minutes
    account = onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=1)) == 0  # not settled
    later = (booking.lesson.finish_at + timedelta(days=2, minutes=1)).isoformat()
    assert jobs.send_pending_payouts(later) == 1  # the existing payout job pays it
    assert jobs.send_pending_payouts(later) == 0
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [(t.amount, t.currency, t.source_transaction, t.transfer_group) for t in transfers] == [
        (3600, "gbp", None, f"booking_{booking.id}")]  # 60 of 300 minutes bought for £180.00
    row = db.session.scalar(select(MinutePayout))
    assert (row.minutes, row.value_minor, row.amount_minor, row.transfer_id) == (60, 3600, 3600, transfers[0].id)
    mails = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "payout_status")))
    assert len(mails) == 1 and mails[0].context["transfer_id"] == transfers[0].id


def test_the_platform_keeps_its_commission_and_returned_minutes_are_not_paid_out(app, client, stripe_world):
    db.session.add(Commission(commission_fee_bp=1500, service_fee_bp=0, payout_fee_bp=0, payout_amount_fee_minor=0,
                              account_management_amount_fee_minor=0, active=True))
    db.session.commit()
    booking = _bought_and_approved(stripe_world, client, hours=2, discount=0, days_ahead=0)  # £80.00 for 120 minutes
    cancellations.cancel_booking(booking.booker, booking.id, "", now())  # late: 30 of the 60 minutes come back
    account = onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    row = db.session.scalar(select(MinutePayout))
    # 30 minutes kept are worth £20.00; the tutor gets that less 15 %: £17.00.
    assert (row.minutes, row.value_minor, row.amount_minor) == (30, 2000, 1700)
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert [t.amount for t in transfers] == [1700]


def test_payouts_wait_for_onboarding_and_a_fully_returned_lesson_pays_nothing(app, client, stripe_world):
    booking = _bought_and_approved(stripe_world, client)
    later = booking.lesson.finish_at + timedelta(days=3)
    assert minute_payouts.send_minute_payouts(later) == 0  # no Connect account yet
    cancellations.cancel_booking(booking.lesson.tutor, booking.id, "", now())  # the tutor cancels: all returned
    onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(later) == 0
    assert stripe_world.client.v1.transfers.list(params={"limit": 10}).data == []


def _subscribed_and_taught(world, client, lessons: int = 2):
    """A student subscribes to a £80.00 plan of 240 minutes a month on the local Checkout, pays for `lessons`
    one-hour lessons with those minutes, and the tutor approves them."""
    from tests.integration.test_subscriptions import _plan, _subscribe
    tutor, teach = factories.tutor(rate_minor=4000)
    student = factories.user("student")
    plan = _plan(tutor, 240, 8000)
    _subscribe(world, client, student, plan)
    taught = []
    for day in range(lessons):
        booking = book(student=student, tutor_teach=(tutor, teach), days_ahead=3 + day)
        minute_payments.pay_with_minutes(student, booking.id, now())
        approvals.approve(tutor, booking.id, now())
        taught.append(booking.id)
    db.session.rollback()
    return tutor, student, taught


def test_lessons_taught_with_subscription_minutes_are_paid_out_at_the_plans_price_per_minute(app, client, stripe_world):
    db.session.add(Commission(commission_fee_bp=1500, service_fee_bp=0, payout_fee_bp=0, payout_amount_fee_minor=0,
                              account_management_amount_fee_minor=0, active=True))
    db.session.commit()
    tutor, student, taught = _subscribed_and_taught(stripe_world, client)
    lot = db.session.scalar(select(MinuteLot).where(MinuteLot.user_id == student.id))
    assert (lot.source, lot.minutes, lot.paid_minor, lot.currency) == ("subscription", 240, 8000, "GBP")
    account = onboard(tutor)
    later = (db.session.get(Booking, taught[-1]).lesson.finish_at + timedelta(days=3)).isoformat()

    assert jobs.send_pending_payouts(later) == 2
    assert jobs.send_pending_payouts(later) == 0

    rows = db.session.scalars(select(MinutePayout).order_by(MinutePayout.booking_id)).all()
    # 60 of the plan's 240 minutes for £80.00 are worth £20.00; the tutor gets that less 15 %: £17.00 each.
    assert [(r.booking_id, r.minutes, r.value_minor, r.amount_minor, r.currency) for r in rows] == [
        (taught[0], 60, 2000, 1700, "GBP"), (taught[1], 60, 2000, 1700, "GBP")]
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert sorted(t.amount for t in transfers) == [1700, 1700]
    assert all(t.source_transaction is None for t in transfers)


def test_subscription_and_package_minutes_together_never_pay_out_more_than_was_paid_less_commission(
        app, client, stripe_world):
    db.session.add(Commission(commission_fee_bp=1500, service_fee_bp=0, payout_fee_bp=0, payout_amount_fee_minor=0,
                              account_management_amount_fee_minor=0, active=True))
    db.session.commit()
    tutor, student, taught = _subscribed_and_taught(stripe_world, client, lessons=1)
    package = packages.add_package(tutor, 5, 10)  # £180.00 for 300 minutes
    _, url = packages.start_purchase(student, package.id, "buy-1", now(), success_url="http://127.0.0.1/ok",
                                     cancel_url="http://127.0.0.1/back")
    seen = stripe_world.receiver.types().count("checkout.session.completed")
    assert stripe_world.pay(url).status_code == 303
    deadline = time.monotonic() + 5
    while stripe_world.receiver.types().count("checkout.session.completed") <= seen:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    stripe_world.deliver(client)
    teach = db.session.get(Booking, taught[0]).lesson.teach
    for day in (5, 6, 7, 8, 9, 10, 11, 12):  # eight more hours: all 540 minutes taught
        booking = book(student=student, tutor_teach=(tutor, teach), days_ahead=day)
        minute_payments.pay_with_minutes(student, booking.id, now())
        approvals.approve(tutor, booking.id, now())
        taught.append(booking.id)
    db.session.rollback()
    onboard(tutor)
    later = (db.session.get(Booking, taught[-1]).lesson.finish_at + timedelta(days=3)).isoformat()

    assert jobs.send_pending_payouts(later) == 9

    rows = db.session.scalars(select(MinutePayout).order_by(MinutePayout.booking_id)).all()
    paid = 8000 + 18000
    assert sum(r.minutes for r in rows) == 540 and sum(r.value_minor for r in rows) <= paid
    assert sum(r.value_minor for r in rows) >= paid - len(rows)  # all minutes taught: at most a penny a lesson kept
    assert sum(r.amount_minor for r in rows) * 10000 <= paid * (10000 - 1500)
    # Valued when paid out, at the average of what is not valued yet: £260.00 for 540 minutes → 60 are worth
    # £28.88 (rounded down), then (£260.00 − £28.88) for 480 → £28.89: the pennies rounded away come back later.
    assert [r.value_minor for r in rows[:2]] == [2888, 2889]
