"""What a booking costs its booker (lesson price, coupon discount, service fee), and the quote recorded to pay it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..adapters.database import serialized_write
from ..domain.coupons import discount_for, normalize_code
from ..domain.fees import CommissionRates, FeeBreakdown, fee_breakdown
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, Commission, Coupon, User
from .bookings import get_booking, is_hold_lapsed
from .coupon_uses import (UNKNOWN_COUPON, automatic_offer, coupon_for, coupon_terms, give_back_reserved_uses,
                          reserve_coupon_use)
from .errors import Conflict, NotFound, ValidationError
from .locks import LOCK_BOOKING, LOCK_COUPON

NO_RATES = CommissionRates(0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Quote:
    """What the student will pay for a booking, with the coupon (if any) and the problem with it (if any)."""

    breakdown: FeeBreakdown
    commission_id: int | None
    coupon: Coupon | None
    coupon_code: str
    coupon_problem: str | None
    automatic: bool = False  # the coupon is a special offer applied without a code


def active_commission() -> Commission | None:
    """The one active commission, if any."""
    return db.session.scalar(select(Commission).where(Commission.active.is_(True)))


def rates_of(commission: Commission | None) -> CommissionRates:
    """Commission row → domain rates (no commission means no fees)."""
    if commission is None:
        return NO_RATES
    return CommissionRates(commission.commission_fee_bp, commission.service_fee_bp, commission.payout_fee_bp,
                           commission.payout_amount_fee_minor, commission.account_management_amount_fee_minor)


def quote_booking(user: User, booking: Booking, coupon_code: str | None, now: datetime) -> Quote:
    """Price the booking for its booker: lesson price, coupon discount and service fee.

    Without a typed code, the best special offer the booker matches applies by itself; a typed code is the
    booker's choice and replaces it."""
    coupon, code, problem = coupon_for(coupon_code, user, booking, now)
    automatic = not code and coupon is None
    if automatic:
        coupon = automatic_offer(user, booking, now)
    commission = active_commission()
    discount = discount_for(coupon_terms(coupon), booking.price_minor) if coupon else 0
    breakdown = fee_breakdown(booking.price_minor, booking.currency, rates_of(commission), discount)
    return Quote(breakdown, commission.id if commission else None, coupon, code, problem,
                 automatic=automatic and coupon is not None)


def payable_quote(user: User, booking: Booking, coupon_code: str | None, now: datetime) -> Quote:
    """The quote to pay, or an error saying what is wrong with the coupon code: a code that cannot be one is wrong
    input (422); which codes exist, and what each allows now, is the state of the world: unknown is 404, unusable
    409."""
    quote = quote_booking(user, booking, coupon_code, now)
    if quote.coupon_problem:
        try:
            normalize_code(coupon_code)
        except ValueError:
            raise ValidationError(quote.coupon_problem, {"coupon": quote.coupon_problem}) from None
        kind = NotFound if quote.coupon_problem == UNKNOWN_COUPON else Conflict
        raise kind(quote.coupon_problem, {"coupon": quote.coupon_problem})
    return quote


def payable_booking(user: User, booking_id: int, now: datetime) -> Booking:
    """The user's own booking that can still be paid, or an error in words."""
    booking = get_booking(user, booking_id)
    if booking.booker_id != user.id:
        raise NotFound("We could not find that booking.")
    if booking.state != BookingState.AWAITING_PAYMENT:
        raise Conflict("This booking is not waiting for payment any more.")
    if is_hold_lapsed(booking, now):
        raise Conflict("The hold on this slot has expired, so it can no longer be paid. Please book again.")
    return booking


def record_quote(user: User, booking_id: int, coupon_code: str | None, now: datetime,
                 hold_until: datetime | None = None, new_checkout: bool = False) -> tuple[Booking, Quote]:
    """Quote the booking, reserve its coupon and record the quote, in one write transaction.

    With ``new_checkout`` it also numbers a new Checkout attempt and forgets the previous session, so that
    session's late ``checkout.session.expired`` event cannot release the coupon this attempt reserves."""
    booking = payable_booking(user, booking_id, now)
    quote = payable_quote(user, booking, coupon_code, now)
    with serialized_write((LOCK_BOOKING, booking_id), (LOCK_COUPON, quote.coupon.id if quote.coupon else 0)) as session:
        booking = session.get(Booking, booking_id)
        if booking.state != BookingState.AWAITING_PAYMENT:
            raise Conflict("This booking is not waiting for payment any more.")
        give_back_reserved_uses(booking.id)
        if quote.coupon:
            reserve_coupon_use(quote.coupon, user, booking, quote.breakdown.discount)
        booking.quote = {"breakdown": quote.breakdown.as_dict(), "commission_id": quote.commission_id,
                         "coupon_id": quote.coupon.id if quote.coupon else None}
        if hold_until:
            booking.hold_expires_at = max(booking.hold_expires_at, hold_until)
        if new_checkout:
            booking.checkout_attempt = (booking.checkout_attempt or 0) + 1
            booking.checkout_session_id = None
    return booking, quote
