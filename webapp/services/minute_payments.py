"""Paying for a booking with prepaid minutes: no card, no Checkout. The booking's minutes (its duration) are held on
the ledger in the same write that moves it to REQUIRES_CAPTURE with funding "minutes"; the tutor's approval posts
them and a decline, approval expiry or cancellation returns them (services/funding.py, approvals.py,
cancellations.py). Two bookings racing for the last minutes: the ledger's balance row is locked in each write, so one
wins and the other is told the balance is short."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete

from ..adapters.database import end_read, serialized_write
from ..domain.funding import Funding
from ..domain.ledger import InsufficientMinutes
from ..domain.states import BookingState, next_booking_state
from ..extensions import db
from ..models import Booking, CouponUse, User
from . import subscriptions, wallet
from .authorizations import expire_checkout_session
from .bookings import get_booking, is_hold_lapsed
from .card_holds import approval_deadline, tell_tutor_to_approve
from .errors import Conflict, NotFound
from .lesson_messages import tell_minutes_receipt
from .locks import LOCK_BOOKING
from .quotes import payable_booking


@dataclass(frozen=True)
class MinutesOffer:
    """What paying a booking with minutes would take, and what the booker has with its tutor."""

    needed: int
    available: int
    paused: str | None = None  # why booking with these minutes is paused (a monthly plan's payment failed)

    @property
    def covers(self) -> bool:
        return self.paused is None and self.available >= self.needed


def minutes_offer(user: User, booking: Booking) -> MinutesOffer | None:
    """Whether to offer "Pay with minutes" on a booking's pay page: None when the booker holds no minutes with the
    tutor at all (nothing to offer), else what it would take and what they have."""
    balance = wallet.balance(user.id, booking.lesson.tutor_id)
    if balance.available == 0 and balance.held == 0:
        return None
    owed = subscriptions.payment_owed(db.session, user.id, booking.lesson.tutor_id)
    return MinutesOffer(needed=booking.lesson.duration_minutes, available=balance.available,
                        paused=subscriptions.paused_message(booking.lesson.tutor.name) if owed else None)


def pay_with_minutes(user: User, booking_id: int, now: datetime) -> Booking:
    """Hold the lesson's minutes and send the booking to the tutor for approval. A second click finds it done; a
    balance too short (another booking took the last minutes) is a Conflict saying so."""
    booking = get_booking(user, booking_id)
    if booking.booker_id != user.id:
        raise NotFound("We could not find that booking.")
    if booking.funding == Funding.MINUTES and booking.state != BookingState.AWAITING_PAYMENT:
        return booking  # a double click: already paid with minutes
    booking = payable_booking(user, booking_id, now)
    checkout_session_id = booking.checkout_session_id
    end_read()
    if checkout_session_id:
        expire_checkout_session(checkout_session_id)  # a card page left open must not be paid as well
    with serialized_write((LOCK_BOOKING, booking_id), wallet.wallet_lock(user.id)) as session:
        booking = session.get(Booking, booking_id, populate_existing=True)
        if booking.funding == Funding.MINUTES and booking.state != BookingState.AWAITING_PAYMENT:
            return booking
        if booking.state != BookingState.AWAITING_PAYMENT:
            raise Conflict("This booking is not waiting for payment any more.")
        if is_hold_lapsed(booking, now):
            raise Conflict("The hold on this slot has expired, so it can no longer be paid. Please book again.")
        lesson = booking.lesson
        if subscriptions.payment_owed(session, user.id, lesson.tutor_id) is not None:
            message = subscriptions.paused_message(lesson.tutor.name)
            raise Conflict(message, {"method": message})
        try:
            wallet.hold_for_booking(session, booking_id=booking.id, user_id=user.id, tutor_id=lesson.tutor_id,
                                    minutes=lesson.duration_minutes)
        except InsufficientMinutes as exc:
            message = (f"Your minutes with {lesson.tutor.name} do not cover this {lesson.duration_minutes}-minute "
                       f"lesson any more. {exc} Pay by card instead, or buy a package.")
            raise Conflict(message, {"method": message}) from exc
        session.execute(delete(CouponUse).where(CouponUse.booking_id == booking.id))  # no coupon on minutes
        booking.funding = Funding.MINUTES
        booking.state = next_booking_state(booking.state, BookingState.REQUIRES_CAPTURE)
        booking.authorized_at = now
        booking.approval_deadline = approval_deadline(lesson.start_at, now)
        booking.updated_at = now
        tell_tutor_to_approve(booking)
        left = wallet.balance(user.id, lesson.tutor_id)
        tell_minutes_receipt(booking, lesson.duration_minutes, left.available, left.held - lesson.duration_minutes)
    return booking
