"""Cancelling a booking and refunding it: who may, how much comes back, and the Stripe refund."""
from __future__ import annotations

import re
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain import limits
from ..domain.analytics import EventName, dedupe_id
from ..domain.fees import FeeBreakdown, RefundSplit, refund_split
from ..domain.funding import authorization_name
from ..domain.labels import refund_failure_words, state_label
from ..domain.money import Money
from ..domain.refunds import Canceller, RefundPolicy, cancellation_refund, has_started
from ..domain.roles import refund_cap_minor
from ..domain.states import BookingState, LessonState, next_booking_state, next_lesson_state
from ..extensions import db
from ..models import Booking, PaymentReceipt, Refund, TransferReversal, User
from . import audit, funding, meetings, refund_failures, wallet
from .authorizations import expire_checkout_session, recorded_after_stripe
from .bookings import get_booking
from .coupon_uses import give_back_all_uses
from .errors import Conflict, Forbidden, NotRecorded, PaymentFailed, ServiceError, ValidationError
from .funding import funding_of, is_minutes
from .lesson_messages import tell_cancelled
from .analytics import record_event
from .locks import LOCK_BOOKING

MAX_NOTE = limits.CANCEL_NOTE_MAX
NO_RECEIPT = ("We have no record of a card payment for this booking, so nothing is refunded automatically. "
              "If you did pay, report a problem and we will sort it out.")
ALL_REFUNDED = "Everything paid for this lesson has already been refunded, so cancelling it moves no money."
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
    minutes: int | None = None  # a booking paid with prepaid minutes: the minutes that come back (refund is then 0)
    holder: str = "card authorization"  # what a "release" releases: a card's or PayPal's authorization


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
    if is_minutes(booking):
        return _minutes_preview(booking, who, now)
    if booking.state == BookingState.REQUIRES_CAPTURE:
        amount = booking.receipt.amount_minor if booking.receipt else 0
        return CancellationPreview("release", Money(amount, currency),
                                   f"The {authorization_name(booking.funding)} of {Money(amount, currency).format()} "
                                   "is released in full; nothing is charged.",
                                   holder=authorization_name(booking.funding))
    if booking.state == BookingState.REFUNDED:
        # A goodwill refund is not a cancellation: the lesson still stands, and cancelling it moves no money.
        return CancellationPreview("refund", Money(0, currency), ALL_REFUNDED)
    if booking.receipt is None:
        # Paid by the state machine but no receipt (legacy data): there is no payment on record to refund from.
        return CancellationPreview("refund", Money(0, currency), NO_RECEIPT)
    decision = cancellation_refund(RefundPolicy.from_dict(booking.refund_policy or {}),
                                   refundable_minor=_refundable(booking.receipt), lesson_start=booking.lesson.start_at,
                                   now=now, cancelled_by=who)
    return CancellationPreview("refund", Money(decision.amount_minor, currency), decision.explanation(currency))


def _minutes_preview(booking: Booking, who: Canceller, now: datetime) -> CancellationPreview:
    """What cancelling a booking paid with prepaid minutes gives back: the held minutes in full before approval,
    the posted minutes by the same policy as a card refund after it."""
    paid, returned = wallet.booking_minutes(db.session, booking.id)
    nothing = Money(0, booking.currency)
    if booking.state == BookingState.REQUIRES_CAPTURE:
        return CancellationPreview("release", nothing, f"The {paid} minutes held for this lesson go back to your "
                                   "balance; nothing is spent.", minutes=paid)
    decision = _minutes_decision(booking, who, paid - returned, now)
    return CancellationPreview("refund", nothing, decision.explanation_in_minutes(), minutes=decision.amount_minor)


def _minutes_decision(booking: Booking, who: Canceller, refundable: int, now: datetime):
    # The cancellation policy in minutes: the same rule and rounding as for money, on the minutes not yet returned.
    return cancellation_refund(RefundPolicy.from_dict(booking.refund_policy or {}), refundable_minor=max(refundable, 0),
                               lesson_start=booking.lesson.start_at, now=now, cancelled_by=who)


def _return_minutes(session, booking: Booking, who: Canceller, now: datetime) -> int:
    """Inside the cancellation's write: return a paid booking's minutes by the policy (never more than were paid
    and not yet returned; the key makes a second click the same refund); the booking's state follows."""
    paid, returned = wallet.booking_minutes(session, booking.id)
    decision = _minutes_decision(booking, who, paid - returned, now)
    wallet.refund_booking_minutes(session, booking.id, decision.amount_minor, key=f"booking:{booking.id}:cancel-refund",
                                  now=now, fresh_lot_days=current_app.config["REFUNDED_MINUTES_EXPIRE_AFTER_DAYS"])
    return follow_minute_refunds(session, booking)


def follow_minute_refunds(session, booking: Booking) -> int:
    """Inside a write that returned some of a minute-paid booking's minutes: its state follows what the ledger's
    rows say was returned (all of them: REFUNDED; some: PARTIAL_REFUNDED). Returns the minutes returned so far."""
    session.flush()
    paid, returned = wallet.booking_minutes(session, booking.id)
    if returned and booking.state in (BookingState.PAID, BookingState.PARTIAL_REFUNDED):
        target = BookingState.REFUNDED if returned >= paid else BookingState.PARTIAL_REFUNDED
        if booking.state != target:
            booking.state = next_booking_state(booking.state, target)
    return returned


def preview_for(user: User, booking: Booking, now: datetime) -> CancellationPreview:
    """What cancelling by `user` would give back now (say, the other side declining a proposed time)."""
    who = canceller_for(user, booking)
    if who is None:
        raise Forbidden("You cannot cancel this booking.")
    return _preview(booking, who, now)


def refund_words(plan: CancellationPreview) -> str:
    """The money outcome of a cancellation in a few words: "£40.00 is refunded", "nothing is charged"."""
    if plan.minutes is not None:
        if plan.kind == "release":
            return f"the {plan.minutes} minutes held go back to the balance"
        return f"{plan.minutes} minutes go back to the balance" if plan.minutes else "no minutes go back"
    if plan.kind == "release":
        return (f"the {plan.holder} of {plan.refund.format()} is released and nothing is charged"
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
    refund = plan.refund
    returned_minutes = 0
    state_seen = booking.state
    if state_seen == BookingState.AWAITING_PAYMENT:
        if booking.checkout_session_id:
            expire_checkout_session(booking.checkout_session_id)
    elif state_seen == BookingState.REQUIRES_CAPTURE:
        funding_of(booking).release(booking, f"booking:{booking.id}:release", now)  # minutes go back below
    elif is_minutes(booking):
        pass  # the minutes go back in the write below, by the same policy
    else:
        policy, start = RefundPolicy.from_dict(booking.refund_policy or {}), booking.lesson.start_at
        # The amount is decided again under the lock, from what the refund rows leave (another refund may have
        # landed since the preview); the key makes a second click or a retry the same refund (its amount comes back
        # from the row even when nothing is left now).
        amount = _refund(booking_id, lambda remaining: cancellation_refund(
            policy, refundable_minor=remaining, lesson_start=start, now=now, cancelled_by=who).amount_minor,
            f"Cancelled ({who.value.lower()})", user.id, f"booking:{booking_id}:cancel-refund", now)
        refund = Money(amount, booking.currency)
    stripe_acted = not is_minutes(booking) and state_seen != BookingState.AWAITING_PAYMENT and (
        state_seen == BookingState.REQUIRES_CAPTURE or refund.amount_minor > 0)
    with (recorded_after_stripe("Stripe has released or refunded the payment, but the cancellation is not recorded "
                                "yet. Cancel again to finish it; nothing is refunded twice.")
          if stripe_acted else nullcontext()):
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = _fresh(session, Booking, booking_id)
            if booking.lesson.state != LessonState.CANCELLED:
                lesson_before = str(booking.lesson.state)
                if state_seen in (BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE):
                    if booking.state not in (state_seen, BookingState.CANCELLED):
                        # Paid or approved while we released it: cancelling now would keep money without a refund.
                        raise Conflict("This booking just changed (it was paid or approved). Reload the page to see "
                                       "what cancelling would refund now.")
                    if booking.state != BookingState.CANCELLED:
                        booking.state = next_booking_state(booking.state, BookingState.CANCELLED)
                    wallet.void_hold(session, booking.id)  # minutes held for it go back (a card's: nothing here)
                    give_back_all_uses(booking.id)
                    returned_minutes = plan.minutes
                elif is_minutes(booking):
                    returned_minutes = _return_minutes(session, booking, who, now)
                booking.lesson.state = next_lesson_state(booking.lesson.state, LessonState.CANCELLED)
                booking.cancellation_note = note
                booking.updated_at = now
                if who == Canceller.ADMIN:  # staff cancelling someone's lesson: on the record with the change
                    audit.record(user, "booking.cancel", "booking", booking.id,
                                 f"Cancelled booking #{booking.id} ({refund_words(plan)})"
                                 + (f": {note}" if note else ""), now,
                                 before={"state": str(state_seen), "lesson_state": lesson_before},
                                 after={"state": str(booking.state), "lesson_state": str(booking.lesson.state),
                                        "refund_minor": refund.amount_minor, "returned_minutes": returned_minutes})
                record_event(session, EventName.BOOKING_CANCELLED, at=now, user_id=user.id,
                             dedupe=dedupe_id(EventName.BOOKING_CANCELLED, booking.id), booking_id=booking.id,
                             tutor_id=booking.lesson.tutor_id, reason=who.value.lower(), state_before=str(state_seen),
                             refund_minor=refund.amount_minor, currency=booking.currency)
                if tell_others:
                    tell_cancelled(booking.lesson, user, note, refund if plan.kind == "refund" else None,
                                   everyone=tell_everyone,
                                   refund_words=(f"{returned_minutes} minutes, back in the prepaid balance they "
                                                 "were paid from") if is_minutes(booking) and returned_minutes
                                   else None)
    if state_seen in meetings.PAID_STATES:
        meetings.request_sync(booking.lesson_id)  # an approved lesson cancelled: its meeting is deleted
    return booking


# --- refunds: rows first, totals from rows -------------------------------------------------------
#
# A refund is recorded as a `pending` row (under the booking lock, after re-checking what is left) before Stripe
# is called with that row's idempotency key; Stripe's answer is recorded in a second short transaction. The
# receipt's refunded total, the tutor's share and the platform take are always recomputed from the rows, so a
# late answer or a webhook in between can never write a stale absolute total.

COUNTED = ("pending", "succeeded")  # money that has left, or is leaving


class RefundRaceLost(Conflict):
    """More than is left was asked for (usually: another refund took it first); the answer carries what is left."""

    def __init__(self, remaining: Money):
        self.remaining = remaining
        message = (f"Only {remaining.format()} is left to refund now, so nothing was refunded."
                   if remaining.amount_minor else "Nothing is left to refund now, so nothing was refunded.")
        super().__init__(message, {"amount": message})
        self.details = {"refundable_minor": remaining.amount_minor, "currency": remaining.currency}


class RefundNotRecorded(NotRecorded):
    """Stripe may have refunded (or did) but our books do not show it yet; retrying records it, never refunds twice."""


def refunded_total(session, booking_id: int) -> int:
    """What has been (or is being) refunded on a booking: the sum of its counted refund rows."""
    return int(session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.booking_id == booking_id, Refund.status.in_(COUNTED))))


def refresh_refund_totals(session, receipt: PaymentReceipt) -> RefundSplit:
    """Recompute the receipt's refunded total, tutor share and platform take from the refund rows (and the
    booking's refund state), inside the caller's write transaction."""
    session.flush()
    total = refunded_total(session, receipt.booking_id)
    if total > receipt.amount_minor:  # only if Stripe's books and ours disagree; never claim more than was paid
        current_app.logger.error("booking %s: refund rows total %s of %s paid", receipt.booking_id, total,
                                 receipt.amount_minor)
        total = receipt.amount_minor
    split = refund_split(FeeBreakdown.from_dict(receipt.breakdown), total, 0)
    receipt.refunded_minor = split.total_refunded
    receipt.tutor_payout_minor = split.tutor_payout_after
    receipt.application_fee_amount_minor = split.platform_take_after
    if (receipt.transfer_error or "").startswith(refund_failures.HELD) and \
            refund_failures.payout_hold(session, receipt.booking_id) is None:
        receipt.transfer_error = None  # the customer was refunded again since the failure: the payout hold lifts
    # The booking's state follows the refunds Stripe has made, not those still waiting for its answer (which
    # may be refused). It moves back only when a refund Stripe had accepted failed later (the money stayed here).
    settled = int(session.scalar(select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.booking_id == receipt.booking_id, Refund.status == "succeeded")))
    booking = session.get(Booking, receipt.booking_id)
    if booking.state in _REFUND_ORDER:
        target = (BookingState.PAID if not settled else
                  BookingState.REFUNDED if settled >= receipt.amount_minor else BookingState.PARTIAL_REFUNDED)
        back = _REFUND_ORDER[target] < _REFUND_ORDER[booking.state]
        if target != booking.state and (not back or _failed_later(session, booking.id)):
            booking.state = next_booking_state(booking.state, target)
    return split


_REFUND_ORDER = {BookingState.PAID: 0, BookingState.PARTIAL_REFUNDED: 1, BookingState.REFUNDED: 2}


def _failed_later(session, booking_id: int) -> bool:
    """Whether one of the booking's refunds failed after Stripe had accepted it."""
    return session.scalar(select(Refund.id).where(Refund.booking_id == booking_id, Refund.status == "failed",
                                                  Refund.failed_at.is_not(None)).limit(1)) is not None


def _refund(booking_id: int, amount_for, reason: str, by_user_id: int | None, key: str, now: datetime,
            audit_as: User | None = None) -> int:
    """Refund through Stripe: record the intent, commit, call Stripe with its key, record the answer; returns the
    amount refunded (0 when `amount_for` leaves nothing to refund).

    `amount_for(remaining)` picks the amount from what is left, read under the lock. A retry with the same key
    resumes the same row (and Stripe answers with the same refund), so a retry never refunds twice. With
    `audit_as` (a staff member's own refund), the audit entry is written with the refund row, and a refusal's
    with the row marked failed."""
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        receipt = _receipt_of(session, booking_id)
        row = session.scalar(select(Refund).where(Refund.idempotency_key == key)
                             .execution_options(populate_existing=True))
        if row is None:
            if receipt is None:  # no payment on record (legacy data): nothing to refund through Stripe
                return 0
            remaining = receipt.amount_minor - refunded_total(session, booking_id)
            amount = amount_for(max(remaining, 0))
            if amount <= 0:
                return 0
            if amount > remaining:
                raise RefundRaceLost(Money(max(remaining, 0), receipt.currency))
            row = Refund(booking_id=booking_id, amount_minor=amount, currency=receipt.currency, reason=reason[:200],
                         created_by_id=by_user_id, idempotency_key=key, status="pending", created_at=now)
            session.add(row)
            before = {"refunded_minor": receipt.refunded_minor, "state": str(receipt.booking.state)}
            refresh_refund_totals(session, receipt)
            if audit_as is not None:
                holder = "PayPal" if receipt.provider == "paypal" else "Stripe"
                audit.record(audit_as, "booking.refund", "booking", booking_id,
                             f"Refund of {Money(amount, receipt.currency).format()} on booking #{booking_id} sent to "
                             f"{holder}: {reason}", now, before=before,
                             after={"refunded_minor": receipt.refunded_minor, "state": str(receipt.booking.state),
                                    "refund_id": row.id, "refund_status": "pending"},
                             dedupe_key=f"refund:{row.id}")
        row_id, amount, status, currency = row.id, row.amount_minor, row.status, receipt.currency
        provider, reference = receipt.provider, receipt.payment_intent_id
        if status == "failed" and row.failed_at is not None:
            # The same form again after Stripe reported this refund failed: Stripe would only replay it.
            raise Conflict(f"This refund was made and then failed at Stripe "
                           f"({refund_failure_words(row.failure_reason)}), so the money is still here. "
                           "Refund again from a fresh form.")
    if status == "succeeded":
        return amount  # a retry of a refund already made and recorded
    holder = "PayPal" if provider == "paypal" else "Stripe"
    try:
        refund = funding.send_refund(provider, reference, amount, currency, key, row_id)
    except funding.RefundOutcomeUnknown as exc:
        raise RefundNotRecorded(
            f"We could not get {holder}'s answer, so the refund may or may not have been made. It is held as "
            "pending; try again in a minute to confirm it (a retry never refunds twice).") from exc
    except funding.RefundRefused as exc:
        _fail(booking_id, row_id, audit_as, now, str(exc))
        if exc.exceeded:
            raise RefundRaceLost(Money(_left_after_refusal(booking_id, provider), currency)) from exc
        raise PaymentFailed(str(exc)) from exc
    try:
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            _attach(session, _fresh(session, Refund, row_id), refund.id, refund.status, refund.id_column)
            refresh_refund_totals(session, _receipt_of(session, booking_id))
    except Exception as exc:
        db.session.rollback()
        current_app.logger.exception("refund %s made on Stripe but not recorded", refund.id)
        raise RefundNotRecorded(f"Stripe made the refund ({refund.id}) but we could not record it yet. It will be "
                                "recorded when Stripe's notice arrives, or when you try again (which never "
                                "refunds twice).") from exc
    return amount


def _fresh(session, model, key):
    return session.get(model, key, populate_existing=True)


def _receipt_of(session, booking_id: int) -> PaymentReceipt | None:
    return session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking_id)
                          .execution_options(populate_existing=True))


def _fail(booking_id: int, row_id: int, audit_as: User | None = None, now: datetime | None = None,
          why: str = "") -> None:
    """Stripe refused: the row stops counting and frees its key, so a later attempt may use the key again (a staff
    member's refund says so in the audit log, in the same write)."""
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        row = _fresh(session, Refund, row_id)
        if row is not None and row.status == "pending" and row.stripe_refund_id is None:
            receipt = _receipt_of(session, booking_id)
            before = {"refunded_minor": receipt.refunded_minor, "refund_id": row.id, "refund_status": "pending"}
            row.status = "failed"
            row.idempotency_key = f"{row.idempotency_key}:failed:{row.id}"[:255]
            refresh_refund_totals(session, receipt)
            if audit_as is not None:
                audit.record(audit_as, "booking.refund_failed", "booking", booking_id,
                             f"Refund of {Money(row.amount_minor, row.currency).format()} on booking #{booking_id} "
                             f"was refused: {why}", now or datetime.now(UTC), before=before,
                             after={"refunded_minor": receipt.refunded_minor, "refund_id": row.id,
                                    "refund_status": "failed"})


def _attach(session, row: Refund, refund_id: str, status: str | None, column: str = "stripe_refund_id") -> None:
    """Our row `row` became the provider's refund `refund_id` (`column` says whose id it is: Stripe's or PayPal's;
    once: a second answer changes nothing)."""
    if getattr(row, column) == refund_id:
        return
    if session.scalar(select(Refund.id).where(getattr(Refund, column) == refund_id)) is not None:
        session.delete(row)  # already booked from the provider's notice without our row id: that row stands for it
        return
    setattr(row, column, refund_id)
    row.status = _status_of(status)


def _left_after_refusal(booking_id: int, provider: str) -> int:
    """What is left to refund after the provider said "more than is left": Stripe's list is read and booked
    (refunds made outside the app show up there); PayPal's refunds reach our rows through its webhook."""
    if provider == "stripe":
        return sync_refunds_from_stripe(booking_id)
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        receipt = _receipt_of(session, booking_id)
        return max(receipt.amount_minor - refunded_total(session, booking_id), 0)


def _status_of(stripe_status: str | None) -> str:
    # Stripe's `pending` and `requires_action` refunds are on their way out: they count like `succeeded`.
    return "failed" if stripe_status in ("failed", "canceled") else "succeeded"


def book_stripe_refunds(session, booking_id: int, refunds: list[dict], now: datetime | None = None) -> str:
    """Book Stripe's refunds of a booking (read from Stripe beforehand): one row per refund id, ours matched by
    the row id in their metadata, others added as made outside the app; then the totals from the rows.

    A row's status only moves forward (pending → succeeded → failed; failed is final), so events replayed or
    arriving in any order end where Stripe is. A refund Stripe accepted and later reported failed stops counting:
    the booking can be refunded again, its payout waits for the staff, and the staff are told."""
    now = now or datetime.now(UTC)
    receipt = _receipt_of(session, booking_id)
    if receipt is None:
        return "ignored"
    changed, failed_late = False, []
    for refund in refunds:
        status = _status_of(refund.get("status"))
        known = session.scalar(select(Refund).where(Refund.stripe_refund_id == refund["id"]))
        if known is None:
            row_id = str((refund.get("metadata") or {}).get("refund_row_id") or "")
            ours = session.get(Refund, int(row_id)) if row_id.isdigit() else None
            if ours is None or ours.booking_id != booking_id or ours.stripe_refund_id is not None:
                row = Refund(booking_id=booking_id, stripe_refund_id=refund["id"], status=status,
                             amount_minor=int(refund["amount"]), currency=receipt.currency,
                             reason="Refunded outside the app", created_at=now)
                session.add(row)
                if status == "failed":
                    _failed(row, refund, now)
                    failed_late.append(row)
                changed = True
                continue
            ours.stripe_refund_id = refund["id"]
            known, changed = ours, True
        if known.status == "failed" or known.status == status:
            continue  # failed is final; a replay or an older event changes nothing
        if status == "failed":
            _failed(known, refund, now)
            failed_late.append(known)
        else:
            known.status = status
        changed = True
    refresh_refund_totals(session, receipt)
    for row in failed_late:
        _tell_staff_failed(session, receipt, row)
    return ("refund-failed" if failed_late else "refund-recorded") if changed else "already-applied"


def _failed(row: Refund, refund: dict, now: datetime) -> None:
    """Stripe reports the refund failed (or was cancelled) after accepting it: the row stops counting."""
    row.status = "failed"
    row.failed_at = now
    row.failure_reason = str(refund.get("failure_reason") or refund.get("status") or "unknown")[:100]


def _tell_staff_failed(session, receipt: PaymentReceipt, row: Refund) -> None:
    """In the write that booked the failure: the staff hear of it once, with what it changed (the booking's
    refunded total, its payout, and any part of the tutor's transfer already taken back for it)."""
    session.flush()
    currency = receipt.currency
    reversed_minor = int(session.scalar(select(func.coalesce(func.sum(TransferReversal.amount_minor), 0)).where(
        TransferReversal.booking_id == receipt.booking_id, TransferReversal.status.in_(("pending", "succeeded")))))
    # What the tutor is owed now beyond what they hold (sent less taken back): a reversal made for the failed refund,
    # or a payout made smaller by it. Never re-paid by itself (README, "Money").
    holds = (receipt.transferred_minor or 0) - reversed_minor
    short = max(0, receipt.tutor_payout_minor - holds) if receipt.transfer_id else 0
    booking = session.get(Booking, receipt.booking_id)
    consequence = (f"It no longer counts: {Money(receipt.refunded_minor, currency).format()} of "
                   f"{Money(receipt.amount_minor, currency).format()} is refunded now and the booking is "
                   f"{state_label(booking.state).lower()} again, so it can be refunded again from its page.")
    consequence += (" The tutor was already paid." if receipt.transfer_id else
                    " Its payout is held until the customer is refunded again (or a payout retry pays the tutor).")
    refund_failures.tell_staff(session, key=f"booking-refund:{row.id}", what=f"lesson booking #{receipt.booking_id}",
                               amount=Money(row.amount_minor, currency), refund_id=row.stripe_refund_id or "",
                               reason=row.failure_reason, path=f"/admin/bookings/{receipt.booking_id}",
                               consequence=consequence, tutor_short=Money(short, currency))


def sync_refunds_from_stripe(booking_id: int) -> int:
    """Read the booking's refunds from Stripe, then book them in a short transaction; returns what is left."""
    payment_intent_id = db.session.scalar(select(PaymentReceipt.payment_intent_id)
                                          .where(PaymentReceipt.booking_id == booking_id))
    end_read()  # end the read: Stripe is called outside any transaction
    refunds = gateway.list_refunds(payment_intent_id)
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        book_stripe_refunds(session, booking_id, refunds, datetime.now(UTC))
        receipt = _receipt_of(session, booking_id)
        return receipt.amount_minor - receipt.refunded_minor


def confirm_pending_refunds(now: datetime, older_than: timedelta = timedelta(minutes=15)) -> int:
    """The sweep for refunds whose provider's answer was lost. Stripe's: book what Stripe has (each refund carries
    its row's id, so it is found even after Stripe forgot the idempotency key); a row Stripe still does not have
    after `older_than` never reached it and stops counting (nothing is refunded that the person was not told of).
    PayPal's (it lists no refunds to read): ask again under the row's own PayPal-Request-Id, which PayPal answers
    with the refund it made, or makes the refund the person was told is pending. Either way a cancellation whose
    refund turns out made is finished. Returns how many rows were settled."""
    rows = db.session.execute(select(Refund.id, Refund.booking_id, PaymentReceipt.provider).join(
        PaymentReceipt, PaymentReceipt.booking_id == Refund.booking_id).where(
        Refund.status == "pending", Refund.created_at <= now - older_than).order_by(Refund.id)).all()
    end_read()
    settled = 0
    for booking_id in sorted({row.booking_id for row in rows if row.provider == "stripe"}):
        try:
            sync_refunds_from_stripe(booking_id)
        except gateway.PaymentError:
            current_app.logger.warning("could not read booking %s's refunds from Stripe; next run", booking_id)
            continue
        for row in (r for r in rows if r.booking_id == booking_id):
            _fail(booking_id, row.id)  # only if still pending: Stripe has no refund for it
            settled += 1
        _finish_cancellation(booking_id, now)
    for row in (r for r in rows if r.provider == "paypal"):
        pending = db.session.get(Refund, row.id)
        key, reason, by = pending.idempotency_key, pending.reason, pending.created_by_id
        end_read()
        try:
            _refund(row.booking_id, lambda _remaining: 0, reason, by, key, now)  # resumes the row: same key
        except NotRecorded:
            current_app.logger.warning("booking %s: PayPal still gives no answer for refund %s; next run",
                                       row.booking_id, row.id)
            continue
        except ServiceError as exc:  # refused: _refund has already marked the row failed
            current_app.logger.warning("booking %s: PayPal refused refund %s: %s", row.booking_id, row.id,
                                       exc.message)
        settled += 1
        _finish_cancellation(row.booking_id, now)
    return settled


def _finish_cancellation(booking_id: int, now: datetime) -> None:
    """A cancellation's refund that Stripe made while its request lost the answer: cancel the lesson as asked."""
    row = db.session.scalar(select(Refund).where(Refund.idempotency_key == f"booking:{booking_id}:cancel-refund",
                                                 Refund.status == "succeeded"))
    booking = db.session.get(Booking, booking_id)
    who = db.session.get(User, row.created_by_id) if row is not None and row.created_by_id else None
    if who is None or booking.lesson.state == LessonState.CANCELLED:
        return
    end_read()
    try:
        cancel_booking(who, booking_id, "", now)  # resumes the same refund row: nothing is refunded twice
    except ServiceError as exc:
        current_app.logger.warning("booking %s: refund made but the cancellation could not finish: %s",
                                   booking_id, exc.message)


def admin_refund(admin: User, booking_id: int, amount_minor: int, reason: str, now: datetime,
                 request_key: str | None = None) -> Booking:
    """An admin refunds any amount up to what remains, without cancelling the lesson (a support agent up to
    SUPPORT_REFUND_CAP_MINOR); the audit entry is written with the booking's last write.

    `request_key` (from the form the admin submitted) makes a resubmission of the same form the same refund."""
    cap = refund_cap_minor(admin.role, current_app.config["SUPPORT_REFUND_CAP_MINOR"])
    if cap == 0:
        raise Forbidden("Only admins and support agents can make refunds.")
    booking = get_booking(admin, booking_id)
    if cap is not None and amount_minor > cap:
        message = (f"Support agents refund up to {Money(cap, booking.currency).format()}; ask an admin for more.")
        raise Forbidden(message, {"amount": message})
    if request_key is not None and not REQUEST_KEY.fullmatch(request_key):
        raise ValidationError("The idempotency key is 8 to 64 letters, digits, - or _.",
                              {"idempotency_key": "8 to 64 letters, digits, - or _."})
    key = f"booking:{booking_id}:admin-refund:{request_key or uuid.uuid4().hex}"
    # The same form (or API key) again resumes or answers the same refund instead of checking the amount anew.
    if db.session.scalar(select(Refund.id).where(Refund.idempotency_key == key)) is None:
        if booking.state not in (BookingState.PAID, BookingState.PARTIAL_REFUNDED) or booking.receipt is None:
            raise Conflict("Only captured payments can be refunded.")
        if not 0 < amount_minor <= booking.receipt.amount_minor:
            message = (f"Refund between {Money(1, booking.currency).format()} and "
                       f"{Money(booking.receipt.amount_minor, booking.currency).format()}.")
            raise ValidationError(message, {"amount": message})
    # More than is left (read again under the lock) is a 409 that says what is left now. The audit entry is
    # written with the refund row (the same form sent again resumes that row: one refund and one entry).
    _refund(booking_id, lambda _remaining: amount_minor, reason or "Admin refund", admin.id, key, now, audit_as=admin)
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        booking = _fresh(session, Booking, booking_id)
        booking.updated_at = now
    return booking


REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{8,64}")


def can_cancel(user: User, booking: Booking, now: datetime) -> bool:
    """Whether to offer the cancel button: the same rules cancel_booking enforces."""
    return canceller_for(user, booking) is not None and booking.lesson.state != LessonState.CANCELLED \
        and booking.state in OPEN_STATES and not has_started(booking.lesson.start_at, now)


def needs_support_link(user: User, booking: Booking, now: datetime) -> bool:
    """Offer "Report a problem" where cancelling is no longer possible: a lesson that started and still stands."""
    return canceller_for(user, booking) is not None and booking.lesson.state != LessonState.CANCELLED \
        and booking.state in OPEN_STATES and has_started(booking.lesson.start_at, now)


# The booking states in which the lesson can still be cancelled: every state of a lesson that stands (a refund,
# even in full, does not cancel the lesson; only a cancellation does).
OPEN_STATES = (BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE, BookingState.PAID,
               BookingState.PARTIAL_REFUNDED, BookingState.REFUNDED)
