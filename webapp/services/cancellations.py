"""Cancelling a booking and refunding it: who may, how much comes back, and the Stripe refund."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import serialized_write
from ..domain.fees import FeeBreakdown, refund_split
from ..domain.money import Money
from ..domain.refunds import Canceller, RefundPolicy, cancellation_refund, has_started
from ..domain.states import BOOKING_TRANSITIONS, BookingState, LessonState, next_booking_state, next_lesson_state
from ..extensions import db
from ..models import Booking, CouponUse, PaymentReceipt, Refund, User
from .bookings import get_booking
from .errors import Conflict, Forbidden, ValidationError
from .payments import LOCK_BOOKING, PaymentFailed, _expire_session_quietly, _release

MAX_NOTE = 1000
STARTED = ("This lesson has started, so it can no longer be cancelled. If something went wrong, "
           "report a problem and we will look into it.")


def canceller_for(user: User, booking: Booking) -> Canceller | None:
    """The cancellation policy: admins, the tutor, the booker, the lesson's student, a parent of a child in it."""
    lesson = booking.lesson
    if user.is_admin:
        return Canceller.ADMIN
    if lesson.tutor_id == user.id:
        return Canceller.TUTOR
    if booking.booker_id == user.id or any(s.id == user.id for s in lesson.students):
        return Canceller.STUDENT_SIDE
    if any(c.parent_id == user.id for c in lesson.children):
        return Canceller.STUDENT_SIDE
    return None


@dataclass(frozen=True)
class CancellationPreview:
    """Exactly what cancelling now would do, for the confirmation page."""

    kind: str  # "release" (nothing was captured), "refund", "closed", or "started" (too late: report a problem)
    refund: Money
    explanation: str


def _refundable(receipt: PaymentReceipt | None) -> int:
    return receipt.amount_minor - receipt.refunded_minor if receipt is not None else 0


def preview(user: User, booking_id: int, now: datetime) -> CancellationPreview:
    """What the user would get back if they cancelled now."""
    booking = get_booking(user, booking_id)
    who = canceller_for(user, booking)
    if who is None:
        raise Forbidden("You cannot cancel this booking.")
    return _preview(booking, who, now)


def _preview(booking: Booking, who: Canceller, now: datetime) -> CancellationPreview:
    currency = booking.currency
    if booking.lesson.state == LessonState.CANCELLED or booking.state not in OPEN_STATES:
        return CancellationPreview("closed", Money(0, currency), "This booking is already closed.")
    if has_started(booking.lesson.start_at, now):
        return CancellationPreview("started", Money(0, currency), STARTED)
    if booking.state == BookingState.AWAITING_PAYMENT:
        return CancellationPreview("release", Money(0, currency), "Nothing has been paid, so nothing is charged.")
    if booking.state == BookingState.REQUIRES_CAPTURE:
        amount = booking.receipt.amount_minor if booking.receipt else 0
        return CancellationPreview("release", Money(amount, currency),
                                   f"The card authorization of {Money(amount, currency).format()} is released in full; "
                                   "nothing is charged.")
    decision = cancellation_refund(RefundPolicy.from_dict(booking.refund_policy or {}),
                                   refundable_minor=_refundable(booking.receipt), lesson_start=booking.lesson.start_at,
                                   now=now, cancelled_by=who)
    return CancellationPreview("refund", Money(decision.amount_minor, currency), decision.explanation(currency))


def preview_for(user: User, booking: Booking, now: datetime) -> CancellationPreview:
    """What cancelling by `user` would give back now (say, the other side declining a proposed time)."""
    who = canceller_for(user, booking)
    if who is None:
        raise Forbidden("You cannot cancel this booking.")
    return _preview(booking, who, now)


def refund_words(plan: CancellationPreview) -> str:
    """The money outcome of a cancellation in a few words: "£40.00 is refunded", "nothing is charged"."""
    if plan.kind == "release":
        return (f"the card authorization of {plan.refund.format()} is released and nothing is charged"
                if plan.refund.amount_minor else "nothing is charged")
    if plan.kind == "refund":
        return f"{plan.refund.format()} is refunded" if plan.refund.amount_minor else "nothing is refunded"
    return "no money moves"


def cancel_booking(user: User, booking_id: int, note: str, now: datetime, tell_others: bool = True,
                   tell_everyone: bool = False) -> Booking:
    """Cancel the lesson and refund what the policy gives (or release an uncaptured authorization), and tell the
    other party (LessonCancelled, BCC the internal team)."""
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError("The note is too long.", {"note": f"Up to {MAX_NOTE} characters."})
    booking = get_booking(user, booking_id)
    who = canceller_for(user, booking)
    if who is None:
        raise Forbidden("You cannot cancel this booking.")
    plan = _preview(booking, who, now)
    if plan.kind == "closed":
        if booking.lesson.state == LessonState.CANCELLED:
            return booking  # a second click: already cancelled
        raise Conflict("This booking is already closed.")
    if plan.kind == "started":
        raise Conflict(plan.explanation)
    if booking.state == BookingState.AWAITING_PAYMENT:
        if booking.checkout_session_id:
            _expire_session_quietly(booking.checkout_session_id)
        target = BookingState.CANCELLED
    elif booking.state == BookingState.REQUIRES_CAPTURE:
        _release(booking.payment_intent_id, f"booking:{booking.id}:release")
        target = BookingState.CANCELLED
    else:
        target = _refund(booking, plan.refund.amount_minor, f"Cancelled ({who.value.lower()})", user.id) \
            if plan.refund.amount_minor else None
    with serialized_write((LOCK_BOOKING, booking.id)) as session:
        booking = session.get(Booking, booking_id)
        if target is not None and booking.state != target:
            booking.state = next_booking_state(booking.state, target)
        if booking.lesson.state != LessonState.CANCELLED:
            booking.lesson.state = next_lesson_state(booking.lesson.state, LessonState.CANCELLED)
        booking.cancellation_note = note
        booking.updated_at = now
        if target == BookingState.CANCELLED:
            session.execute(delete(CouponUse).where(CouponUse.booking_id == booking.id))
        if tell_others:
            from .lesson_messages import tell_cancelled
            tell_cancelled(booking.lesson, user, note, plan.refund if plan.kind == "refund" else None,
                           everyone=tell_everyone)
    return booking


def _refund(booking: Booking, amount: int, reason: str, by_user_id: int | None) -> BookingState:
    """Refund `amount` through Stripe and book it on the receipt; returns the booking's next state."""
    receipt = booking.receipt
    split = refund_split(FeeBreakdown.from_dict(receipt.breakdown), amount, receipt.refunded_minor)
    key = f"booking:{booking.id}:refund:{receipt.refunded_minor}:{amount}"
    try:
        refund = gateway.create_refund(booking.payment_intent_id, amount, key)
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not make the refund; nothing changed. Please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking.id)) as session:
        if session.scalar(select(Refund.id).where(Refund.stripe_refund_id == refund.id)) is None:
            session.add(Refund(booking_id=booking.id, stripe_refund_id=refund.id, amount_minor=amount,
                               currency=booking.currency, reason=reason[:200], created_by_id=by_user_id))
            receipt = session.get(PaymentReceipt, receipt.id)
            receipt.refunded_minor = split.total_refunded
            receipt.tutor_payout_minor = split.tutor_payout_after
            receipt.application_fee_amount_minor = split.platform_take_after
    return BookingState.REFUNDED if split.fully_refunded else BookingState.PARTIAL_REFUNDED


def admin_refund(admin: User, booking_id: int, amount_minor: int, reason: str, now: datetime) -> Booking:
    """An admin refunds any amount up to what remains, without cancelling the lesson."""
    if not admin.is_admin:
        raise Forbidden("Only admins can make refunds.")
    booking = get_booking(admin, booking_id)
    if booking.state not in (BookingState.PAID, BookingState.PARTIAL_REFUNDED) or booking.receipt is None:
        raise Conflict("Only captured payments can be refunded.")
    remaining = _refundable(booking.receipt)
    if not 0 < amount_minor <= remaining:
        message = f"Refund between {Money(1, booking.currency).format()} and {Money(remaining, booking.currency).format()}."
        raise ValidationError(message, {"amount": message})
    target = _refund(booking, amount_minor, reason or "Admin refund", admin.id)
    # A write transaction of its own: the refund's webhook may be applying meanwhile (SQLite cannot upgrade a read).
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        booking = session.get(Booking, booking_id)
        if booking.state != target and target in BOOKING_TRANSITIONS.get(BookingState(booking.state), ()):
            booking.state = next_booking_state(booking.state, target)
        booking.updated_at = now
    return booking


def record_external_refund(charge, now: datetime) -> str:
    """charge.refunded: bring refunds made outside the app into the books (never double counting ours)."""
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.charge_id == charge.get("id"))) \
        or db.session.scalar(select(PaymentReceipt).where(
            PaymentReceipt.payment_intent_id == charge.get("payment_intent")))
    if receipt is None:
        return "ignored"
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= receipt.refunded_minor:
        return "already-applied"
    split = refund_split(FeeBreakdown.from_dict(receipt.breakdown), refunded - receipt.refunded_minor,
                         receipt.refunded_minor)
    receipt.refunded_minor = split.total_refunded
    receipt.tutor_payout_minor = split.tutor_payout_after
    receipt.application_fee_amount_minor = split.platform_take_after
    booking = db.session.get(Booking, receipt.booking_id)
    target = BookingState.REFUNDED if split.fully_refunded else BookingState.PARTIAL_REFUNDED
    if booking.state in (BookingState.PAID, BookingState.PARTIAL_REFUNDED) and booking.state != target:
        booking.state = next_booking_state(booking.state, target)
    return "refund-recorded"


def can_cancel(user: User, booking: Booking, now: datetime) -> bool:
    """Whether to offer the cancel button: the same rules cancel_booking enforces."""
    return canceller_for(user, booking) is not None and booking.lesson.state != LessonState.CANCELLED \
        and booking.state in OPEN_STATES and not has_started(booking.lesson.start_at, now)


def needs_support_link(user: User, booking: Booking, now: datetime) -> bool:
    """Offer "Report a problem" where cancelling is no longer possible: a lesson that started and still stands."""
    return canceller_for(user, booking) is not None and booking.lesson.state != LessonState.CANCELLED \
        and booking.state in OPEN_STATES and has_started(booking.lesson.start_at, now)


OPEN_STATES = (BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE, BookingState.PAID,
               BookingState.PARTIAL_REFUNDED)
