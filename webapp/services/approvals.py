"""The tutor's answer to a paid booking: approve (capture → PAID), decline (release), or no answer in time (the
scheduled release). How the booking is paid (a card hold, minutes held on the ledger, or a PayPal authorization) is
its funding strategy's business (services/funding.py): these steps are the same for all."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..adapters.database import serialized_write
from ..domain.analytics import EventName, dedupe_id
from ..domain.refunds import RefundPolicy
from ..domain.states import BookingState, next_booking_state
from ..extensions import db
from ..models import Booking, Lesson, User
from . import meetings
from .analytics import record_event
from .authorizations import close_before_capture
from .errors import Conflict, NotFound, PaymentFailed
from .funding import PayPalHoldGone, funding_of
from .lesson_messages import tell_booked, tell_not_booked
from .locks import LOCK_BOOKING


def _tutor_booking(tutor: User, booking_id: int) -> Booking:
    booking = db.session.scalar(select(Booking).join(Lesson).where(Booking.id == booking_id,
                                                                   Lesson.tutor_id == tutor.id))
    if booking is None:
        raise NotFound("We could not find that booking.")
    return booking


def approve(tutor: User, booking_id: int, now: datetime) -> Booking:
    """The tutor approves: capture the authorization (→ PAID) and freeze the refund policy."""
    booking = _tutor_booking(tutor, booking_id)
    if booking.state == BookingState.PAID:
        return booking  # a double click: already done
    if booking.state != BookingState.REQUIRES_CAPTURE:
        raise Conflict("This booking is not waiting for your approval.")
    if booking.approval_deadline and booking.approval_deadline <= now:
        raise Conflict("The time to approve this booking has passed; the payment was released.")
    strategy = funding_of(booking)
    try:
        strategy.capture(booking, now)
    except PayPalHoldGone as gone:
        # Nothing is held any more, so nothing can be taken: close the booking (the slot frees, the student is told)
        # rather than leave it waiting on money that is gone.
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id, populate_existing=True)
            if booking.state == BookingState.REQUIRES_CAPTURE:
                close_before_capture(booking, BookingState.EXPIRED, now)
                tell_not_booked(booking, expired=True)
        raise Conflict(gone.message) from gone
    with strategy.recorded(f"{strategy.name} captured the payment but we could not record it yet. Approve again to "
                           "record it; it will not be charged twice."):
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id, populate_existing=True)
            if booking.state == BookingState.REQUIRES_CAPTURE:
                strategy.record_capture(session, booking)
                booking.state = next_booking_state(booking.state, BookingState.PAID)
                booking.refund_policy = RefundPolicy().as_dict()
                booking.updated_at = now
                receipt = booking.receipt
                record_event(session, EventName.BOOKING_APPROVED, at=now, user_id=tutor.id,
                             dedupe=dedupe_id(EventName.BOOKING_APPROVED, booking.id), booking_id=booking.id,
                             tutor_id=tutor.id, currency=booking.currency,
                             amount_minor=receipt.amount_minor if receipt else 0,
                             platform_take_minor=receipt.application_fee_amount_minor if receipt else 0)
                tell_booked(booking.lesson)
    meetings.request_sync(booking.lesson_id)  # approved: an online lesson gets its meeting (the sweep backs this up)
    return booking


def decline(tutor: User, booking_id: int, now: datetime) -> Booking:
    """The tutor declines: release the authorization, free the slot, give the coupon back."""
    booking = _tutor_booking(tutor, booking_id)
    if booking.state == BookingState.DECLINED:
        return booking
    if booking.state != BookingState.REQUIRES_CAPTURE:
        raise Conflict("This booking is not waiting for your approval.")
    strategy = funding_of(booking)
    strategy.release(booking, f"booking:{booking.id}:release", now)
    with strategy.recorded(f"{strategy.name} released the payment but we could not record it yet. Decline again to "
                           "record it."):
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id, populate_existing=True)
            if booking.state == BookingState.REQUIRES_CAPTURE:
                close_before_capture(booking, BookingState.DECLINED, now)
                record_event(session, EventName.BOOKING_DECLINED, at=now, user_id=tutor.id,
                             dedupe=dedupe_id(EventName.BOOKING_DECLINED, booking.id), booking_id=booking.id,
                             tutor_id=tutor.id)
                tell_not_booked(booking)
    return booking


def expire_unapproved(now: datetime) -> int:
    """Release authorizations the tutor did not approve in time (the scheduled job; safe to run twice)."""
    ids = list(db.session.scalars(select(Booking.id).where(
        Booking.state == BookingState.REQUIRES_CAPTURE, Booking.approval_deadline <= now)))
    expired = 0
    for booking_id in ids:
        booking = db.session.get(Booking, booking_id)
        if booking.state != BookingState.REQUIRES_CAPTURE:
            continue
        try:
            funding_of(booking).release(booking, f"booking:{booking.id}:release", now)
        except (PaymentFailed, Conflict):
            db.session.rollback()
            continue  # Stripe down: the next run tries again; captured meanwhile: the tutor approved in time
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id)
            if booking.state == BookingState.REQUIRES_CAPTURE:  # a second worker may have done it meanwhile
                close_before_capture(booking, BookingState.EXPIRED, now)
                tell_not_booked(booking, expired=True)
                expired += 1
    return expired

