"""A Checkout can always be resumed or restarted while the hold lasts (issue 7, item 1).

Each Checkout Session is one numbered attempt with an idempotency key of its own; an open session for the
same quote is resumed (same URL); anything else expires the old session before a fresh one opens.
"""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests import factories
from tests.integration.test_payments import URLS, book, wait_for_types
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking, Coupon, CouponUse, StripeEvent
from webapp.services import checkout


def now() -> datetime:
    return datetime.now(UTC)


def _booking(booking_id: int) -> Booking:
    db.session.rollback()
    return db.session.get(Booking, booking_id)


def test_paying_again_after_going_back_resumes_the_same_open_checkout(app, client, stripe_world):
    booking = book()
    first = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    session_id = _booking(booking.id).checkout_session_id
    again = checkout.start_checkout(booking.booker, booking.id, None, now() + timedelta(minutes=2), **URLS)
    assert again == first
    assert _booking(booking.id).checkout_session_id == session_id
    assert _booking(booking.id).checkout_attempt == 1
    assert stripe_world.pay(again).status_code == 303


def test_after_a_declined_card_the_same_checkout_takes_another_card(app, client, stripe_world):
    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    assert "declined" in stripe_world.pay(url, card="4000000000000002").text
    resumed = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    assert resumed == url
    assert stripe_world.pay(resumed).status_code == 303
    wait_for_types(stripe_world, "checkout.session.completed", "payment_intent.amount_capturable_updated")
    stripe_world.deliver(client)
    assert _booking(booking.id).state == BookingState.REQUIRES_CAPTURE


def test_a_different_quote_expires_the_old_checkout_and_opens_a_new_attempt(app, client, stripe_world):
    db.session.add(Coupon(code="WELCOME10", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT",
                          percent_bp=1000, active=True))
    db.session.commit()
    booking = book()
    first = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    old_id = _booking(booking.id).checkout_session_id
    second = checkout.start_checkout(booking.booker, booking.id, "WELCOME10", now(), **URLS)
    third = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    assert len({first, second, third}) == 3
    assert _booking(booking.id).checkout_attempt == 3
    assert stripe_world.client.v1.checkout.sessions.retrieve(old_id).status == "expired"
    assert "expired" in stripe_world.pay(second).text.lower()
    # The late "expired" events of the old sessions are about sessions the booking has forgotten.
    wait_for_types(stripe_world, "checkout.session.expired")
    assert all(r.status_code == 200 for r in stripe_world.deliver(client))
    assert stripe_world.pay(third).status_code == 303


def test_a_session_stripe_expired_is_replaced_by_a_fresh_one_while_the_hold_lasts(app, client, stripe_world):
    booking = book()
    first = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    session_id = _booking(booking.id).checkout_session_id
    stripe_world.client.v1.checkout.sessions.expire(session_id)
    fresh = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    assert fresh != first
    assert stripe_world.client.v1.checkout.sessions.retrieve(
        _booking(booking.id).checkout_session_id).status == "open"
    assert stripe_world.pay(fresh).status_code == 303


def test_the_expired_event_of_a_replaced_session_keeps_the_new_sessions_coupon(app, client, stripe_world):
    db.session.add(Coupon(code="WELCOME10", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT",
                          percent_bp=1000, active=True))
    db.session.commit()
    booking = book()
    checkout.start_checkout(booking.booker, booking.id, "WELCOME10", now(), **URLS)
    old_id = _booking(booking.id).checkout_session_id
    stripe_world.client.v1.checkout.sessions.expire(old_id)
    checkout.start_checkout(booking.booker, booking.id, "WELCOME10", now(), **URLS)
    wait_for_types(stripe_world, "checkout.session.expired")
    stripe_world.deliver(client)
    assert db.session.scalar(select(StripeEvent.id).where(StripeEvent.type == "checkout.session.expired"))
    db.session.rollback()
    uses = list(db.session.scalars(select(CouponUse).where(CouponUse.booking_id == booking.id)))
    assert len(uses) == 1 and not uses[0].confirmed


def test_a_stale_attempt_that_lost_to_a_newer_click_is_expired_not_left_payable(app, client, stripe_world):
    booking = book()
    # A second tab numbered a newer attempt while this one was talking to Stripe.
    from webapp.adapters import stripe_gateway
    real_create = stripe_gateway.create_checkout_session
    made = []

    def create_then_lose(**kwargs):
        opened = real_create(**kwargs)
        made.append(opened.id)
        b = db.session.get(Booking, booking.id)
        b.checkout_attempt += 1
        db.session.commit()
        return opened

    stripe_gateway.create_checkout_session = create_then_lose
    try:
        import pytest
        from webapp.services.errors import Conflict
        with pytest.raises(Conflict):
            checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    finally:
        stripe_gateway.create_checkout_session = real_create
    assert stripe_world.client.v1.checkout.sessions.retrieve(made[0]).status == "expired"
    assert _booking(booking.id).checkout_session_id is None
