"""Staff refunds of lessons paid with prepaid minutes: minutes back to the student's balance, never more than were
posted for the lesson (less earlier refunds, summed from the ledger's rows), in one locked write with the audit
entry and the student's email.

No outside call is made: minutes live on our own ledger, so the whole refund is one transaction (no pending row is
needed, unlike a card refund). Two admins at once are serialized by the booking's lock; the same form sent twice
carries the same request key, which is the ledger transaction's key, so it is one refund.

Support agents' cap (SUPPORT_REFUND_CAP_MINOR is money) applies to the minutes' value: what they cost the student
(the same valuation as the tutor's payout, services/minute_payouts.minutes_worth) or, when no price is known for
their minutes (goodwill minutes, lots granted before prices were kept), the lesson's card price pro rata.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from flask import current_app
from sqlalchemy import select

from ..adapters.database import serialized_write
from ..domain import limits
from ..domain.money import Money, round_half_up
from ..domain.packages import minutes_words
from ..domain.roles import refund_cap_minor
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, LedgerTransaction, User
from . import audit, wallet
from .bookings import get_booking
from .cancellations import REQUEST_KEY, follow_minute_refunds
from .errors import Conflict, Forbidden, ValidationError
from .funding import is_minutes
from .lesson_messages import tell_minutes_refunded
from .locks import LOCK_BOOKING
from .minute_payouts import minutes_worth

REFUNDABLE_STATES = (BookingState.PAID, BookingState.PARTIAL_REFUNDED)


class MinuteRefundRaceLost(Conflict):
    """More minutes were asked for than are left (usually: another refund took them first)."""

    def __init__(self, left: int):
        message = (f"Only {minutes_words(left)} are left to refund now, so nothing was refunded." if left
                   else "Nothing is left to refund now, so nothing was refunded.")
        super().__init__(message, {"minutes": message})
        self.details = {"refundable_minutes": left}


@dataclass(frozen=True)
class MinuteRefund:
    """What one staff refund in minutes did."""

    minutes: int
    left: int  # minutes still refundable after it
    replayed: bool  # the same form was sent again: nothing new happened


def value_of(session, booking: Booking, minutes: int) -> Money:
    """What ``minutes`` of this booking are worth, for the support agents' cap (see the module docstring)."""
    value, currency = minutes_worth(session, booking, minutes)
    if value == 0 and minutes > 0 and booking.lesson.duration_minutes:
        value = round_half_up(Fraction(booking.price_minor * minutes, booking.lesson.duration_minutes))
        currency = booking.currency
    return Money(value, currency)


def refundable(session, booking: Booking) -> int:
    """Minutes of a minute-paid lesson still refundable: posted at approval less every refund since (rows)."""
    posted, returned = wallet.posted_minutes(session, booking.id)
    return max(posted - returned, 0)


def staff_refund_minutes(staff: User, booking_id: int, minutes: int, reason: str, now: datetime,
                         request_key: str | None = None) -> MinuteRefund:
    """Return ``minutes`` of a minute-paid lesson to the student's balance without cancelling it (admins any part
    of what is left; support agents up to their cap by value), audited and emailed in the same transaction."""
    cap = refund_cap_minor(staff.role, current_app.config["SUPPORT_REFUND_CAP_MINOR"])
    if cap == 0:
        raise Forbidden("Only admins and support agents can make refunds.")
    booking = get_booking(staff, booking_id)
    if not is_minutes(booking):
        raise Conflict("This lesson was not paid with minutes; refund it in money.")
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 0 < minutes <= limits.MAX_DURATION:
        message = f"Refund a whole number of minutes, from 1 to {limits.MAX_DURATION}."
        raise ValidationError(message, {"minutes": message})
    if request_key is not None and not REQUEST_KEY.fullmatch(request_key):
        raise ValidationError("The idempotency key is 8 to 64 letters, digits, - or _.",
                              {"idempotency_key": "8 to 64 letters, digits, - or _."})
    key = f"booking:{booking_id}:admin-minute-refund:{request_key or uuid.uuid4().hex}"
    reason = (reason or "").strip()[:200] or "Admin refund"
    with serialized_write((LOCK_BOOKING, booking_id), wallet.wallet_lock(booking.booker_id)) as session:
        booking = session.get(Booking, booking_id, populate_existing=True)
        done = session.scalar(select(LedgerTransaction).where(LedgerTransaction.key == key))
        if done is not None:  # the same form again: the refund it made, once
            return MinuteRefund(done.minutes, refundable(session, booking), replayed=True)
        if booking.state not in (*REFUNDABLE_STATES, BookingState.REFUNDED):
            raise Conflict("Only lessons whose minutes were spent (approved by the tutor) can be refunded; "
                           "minutes still held go back when the booking is declined or cancelled.")
        left = refundable(session, booking)
        if minutes > left:
            raise MinuteRefundRaceLost(left)
        if cap is not None:
            worth = value_of(session, booking, minutes)
            if worth.amount_minor > cap:
                message = (f"{minutes_words(minutes)} are worth {worth.format()}; support agents refund up to "
                           f"{Money(cap, worth.currency).format()}. Ask an admin for more.")
                raise Forbidden(message, {"minutes": message})
        state_before = str(booking.state)
        returned = wallet.refund_booking_minutes(
            session, booking_id, minutes, key=key, now=now,
            fresh_lot_days=current_app.config["REFUNDED_MINUTES_EXPIRE_AFTER_DAYS"])
        follow_minute_refunds(session, booking)
        booking.updated_at = now
        audit.record(staff, "booking.refund_minutes", "booking", booking_id,
                     f"Refunded {minutes_words(returned)} on booking #{booking_id}: {reason}", now,
                     before={"refundable_minutes": left, "state": state_before},
                     after={"refundable_minutes": left - returned, "state": str(booking.state)}, dedupe_key=key)
        available = wallet.balance(booking.booker_id, booking.lesson.tutor_id).available
        tell_minutes_refunded(booking, returned, available, key)
        return MinuteRefund(returned, left - returned, replayed=False)


@dataclass(frozen=True)
class RefundOffer:
    """The staff refund form for a booking at this moment: in money (card or PayPal) or in minutes."""

    in_minutes: bool
    left_words: str  # "up to £40.00" / "up to 60 minutes"
    cap_words: str | None  # a support agent's limit, in words


def staff_refund_offer(staff: User, booking: Booking) -> RefundOffer | None:
    """Whether staff may refund this booking now, and how (None: no refund form)."""
    cap = refund_cap_minor(staff.role, current_app.config["SUPPORT_REFUND_CAP_MINOR"])
    if cap == 0 or booking.state not in REFUNDABLE_STATES:
        return None
    if is_minutes(booking):
        left = refundable(db.session, booking)
        if left == 0:
            return None
        return RefundOffer(True, f"up to {minutes_words(left)}",
                           None if cap is None else f"your limit: minutes worth {Money(cap, booking.currency).format()}")
    receipt = booking.receipt
    if receipt is None:
        return None
    return RefundOffer(False, f"up to {Money(receipt.amount_minor - receipt.refunded_minor, receipt.currency).format()}",
                       None if cap is None else f"your limit {Money(cap, receipt.currency).format()}")
