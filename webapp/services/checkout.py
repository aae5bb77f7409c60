"""Paying on Stripe's Checkout page: open (or resume) one page per booking, show the status while the webhook catches
up, and close the pages of holds that lapsed. The redirect back from Stripe only shows status; `stripe_events`
moves the money states."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, User
from .authorizations import expire_checkout_session
from .bookings import get_booking
from .coupon_uses import release_reserved_coupon
from .errors import Conflict, PaymentFailed
from .locks import LOCK_BOOKING
from .quotes import Quote, payable_booking, payable_quote, record_quote

# A session closer than this to its expiry is not worth resuming: the student could not finish paying on it.
RESUME_MARGIN = timedelta(minutes=5)


def start_checkout(user: User, booking_id: int, coupon_code: str | None, now: datetime, *, success_url: str,
                   cancel_url: str) -> str:
    """Resume the booking's open Checkout Session, or expire it and open a fresh one; returns the page's URL.

    Stripe is called outside any write transaction: read → call with a key naming this attempt → a short
    write that re-checks the booking. A fresh session is a new numbered attempt with a key of its own."""
    booking = payable_booking(user, booking_id, now)
    quote = payable_quote(user, booking, coupon_code, now)
    previous = _retrieve_session(booking.checkout_session_id) if booking.checkout_session_id else None
    if previous is not None:
        if previous.status == "complete":
            raise Conflict("Your payment is being confirmed. Refresh the booking in a moment.")
        if _resumable(previous, booking, quote, now):
            return previous.url
    cfg = current_app.config
    # Stripe keeps a session open at least 30 minutes; the slot stays held while it is, but never more than
    # one session-length past the booking's original hold.
    session_minutes = timedelta(minutes=cfg["CHECKOUT_MIN_MINUTES"] + 1)
    latest = booking.created_at + timedelta(minutes=cfg["BOOKING_HOLD_MINUTES"]) + session_minutes
    expires_at = min(max(now + session_minutes, booking.hold_expires_at), max(latest, now + session_minutes))
    if booking.checkout_session_id and (previous is None or previous.status == "open"):
        expire_checkout_session(booking.checkout_session_id)  # one payable page per booking
    booking, quote = record_quote(user, booking_id, coupon_code, now, hold_until=expires_at, new_checkout=True)
    attempt = booking.checkout_attempt
    lesson = booking.lesson
    try:
        checkout = gateway.create_checkout_session(
            amount_minor=quote.breakdown.student_pays, currency=booking.currency,
            product_name=f"{lesson.subject.name} lesson with {lesson.tutor.name} ({lesson.duration_minutes} min)",
            booking_id=booking.id, customer_email=user.email, success_url=success_url, cancel_url=cancel_url,
            expires_at=int(expires_at.timestamp()), idempotency_key=f"booking:{booking.id}:checkout:{attempt}")
    except gateway.PaymentError as exc:
        release_reserved_coupon(booking_id)
        raise PaymentFailed("We could not open the payment page. Nothing was charged; please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        booking = session.get(Booking, booking_id)
        current = booking.state == BookingState.AWAITING_PAYMENT and booking.checkout_attempt == attempt
        if current:
            booking.checkout_session_id = checkout.id
    if not current:
        # Another click (a second tab) opened a newer page meanwhile, or the booking moved on: this one must not stay payable.
        expire_checkout_session(checkout.id)
        raise Conflict("This booking changed while the payment page was opening. Open the booking again to pay.")
    return checkout.url


def _resumable(session, booking: Booking, quote: Quote, now: datetime) -> bool:
    """An open session for exactly this quote (amount and coupon) with time left to pay on it."""
    agreed = booking.quote or {}
    return (session.status == "open" and bool(session.url)
            and session.amount_total == quote.breakdown.student_pays
            and agreed.get("coupon_id") == (quote.coupon.id if quote.coupon else None)
            and datetime.fromtimestamp(session.expires_at, UTC) - now >= RESUME_MARGIN)


def _retrieve_session(session_id: str):
    """The Checkout Session, or None when Stripe cannot tell us (then a fresh one is opened)."""
    try:
        return gateway.retrieve_checkout_session(session_id)
    except gateway.PaymentError:
        return None


def payment_status(user: User, booking_id: int) -> dict:
    """What the student sees while the webhook catches up: our booking state and Stripe's PaymentIntent status."""
    booking = get_booking(user, booking_id)
    pi_status = None
    if booking.payment_intent_id or booking.checkout_session_id:
        try:
            pi_id = booking.payment_intent_id or _session_payment_intent(booking.checkout_session_id)
            pi_status = gateway.retrieve_payment_intent(pi_id).status if pi_id else None
        except gateway.PaymentError:
            pi_status = None
    return {"booking_id": booking.id, "booking_state": booking.state, "payment_intent_status": pi_status}


def _session_payment_intent(session_id: str) -> str | None:
    pi = gateway.retrieve_checkout_session(session_id).payment_intent
    return pi if isinstance(pi, str) or pi is None else pi.id


def expire_open_checkouts(booking_ids: list[int]) -> None:
    """After holds lapse: close their Checkout Sessions and give reserved coupons back.

    Each Stripe call runs outside any transaction; each booking's coupons go back in a short one of its own."""
    for booking_id in booking_ids:
        session_id = db.session.scalar(select(Booking.checkout_session_id).where(Booking.id == booking_id))
        end_read()
        if session_id:
            expire_checkout_session(session_id)
        release_reserved_coupon(booking_id)
