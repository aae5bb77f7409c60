"""Ending a payment before any money is taken: release a card authorization, expire a Checkout Session, close the
booking, and say so honestly when Stripe acted but our record of it failed."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime

from flask import current_app

from ..adapters import stripe_gateway as gateway
from ..domain.states import BookingState, LessonState, next_booking_state, next_lesson_state
from ..extensions import db
from ..models import Booking
from .coupon_uses import give_back_all_uses
from . import wallet
from .errors import Conflict, NotRecorded, PaymentFailed, ServiceError


def release_authorization(payment_intent_id: str, key: str) -> None:
    """Cancel an authorization; one already cancelled is fine, one captured meanwhile is a Conflict."""
    try:
        gateway.cancel_payment_intent(payment_intent_id, key)
    except gateway.PaymentError as exc:
        if gateway.error_code(exc) != "payment_intent_unexpected_state":
            raise PaymentFailed("Stripe could not release the payment; please try again.") from exc
        try:
            status = gateway.retrieve_payment_intent(payment_intent_id).status
        except gateway.PaymentError:
            raise PaymentFailed("Stripe could not release the payment; please try again.") from exc
        if status != "canceled":
            # Captured (approved) a moment ago: releasing now would keep the money with the booking closed.
            raise Conflict("This payment was just captured, so it can no longer be released. Reload the page to "
                           "see the booking as it is now.") from exc


def expire_checkout_session(session_id: str) -> None:
    """Expire a Checkout Session that is still open, so nobody can pay on it; Stripe being down is only logged."""
    try:
        checkout = gateway.retrieve_checkout_session(session_id)
        if checkout.status == "open":
            gateway.expire_checkout_session(session_id)
    except gateway.PaymentError:
        current_app.logger.warning("could not expire checkout session %s", session_id)


def close_before_capture(booking: Booking, state: BookingState, now: datetime) -> None:
    """End a booking before capture: its lesson is cancelled, its coupon use given back and, if it was paid with
    minutes, its held minutes returned (decline, approval expiry, cancellation before approval all end here)."""
    wallet.void_hold(db.session, booking.id)
    booking.state = next_booking_state(booking.state, state)
    booking.updated_at = now
    if booking.lesson.state != LessonState.CANCELLED:
        booking.lesson.state = next_lesson_state(booking.lesson.state, LessonState.CANCELLED)
    give_back_all_uses(booking.id)


@contextmanager
def recorded_after_stripe(message: str):
    """Around the write that records what Stripe just did: if it fails, say so (never "nothing changed"); the
    caller's retry repeats the Stripe call with the same idempotency key and records it."""
    try:
        yield
    except ServiceError:
        raise
    except Exception as exc:
        db.session.rollback()
        current_app.logger.exception("Stripe acted but the record failed")
        raise NotRecorded(message) from exc
