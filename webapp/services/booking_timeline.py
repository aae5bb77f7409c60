"""A booking's story for the staff, assembled from the rows that already record it: the booking and its receipt,
the Stripe and PayPal events about it (applied or not), refunds, the payout, emails sent, staff actions and support
tickets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from ..domain.analytics import EventName, dedupe_id
from ..domain.funding import Funding
from ..domain.labels import booking_label, funding_name, minutes_payment_words, refund_failure_words
from ..domain.money import Money
from ..extensions import db
from ..filters import zoned
from ..models import (AnalyticsEvent, AuditEntry, Booking, LedgerTransaction, MinutePayout, OutboxMessage, PaymentReceipt, PayPalEvent,
                      Refund, StripeEvent, SupportTicket, TransferReversal, User)
from . import refund_failures, wallet
from .bookings import get_booking
from .errors import NotFound


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # booking, payment, provider (a Stripe or PayPal event), refund, payout, email, staff, ticket
    text: str


def timeline(viewer: User, booking_id: int) -> tuple[Booking, list[TimelineEvent]]:
    """Every recorded fact about a booking, oldest first (staff only)."""
    if not viewer.is_staff:
        raise NotFound("We could not find that booking.")
    booking = get_booking(viewer, booking_id)
    money = (lambda minor: Money(minor, booking.currency).format())
    minutes = booking.funding == Funding.MINUTES
    price = f"{booking.lesson.duration_minutes} prepaid minutes" if minutes else money(booking.price_minor)
    events = [TimelineEvent(booking.created_at, "booking", f"Booked by {booking.booker.name} for {price}")]
    if booking.authorized_at and not minutes:  # minutes held, spent or returned are the ledger's moves below
        events.append(TimelineEvent(booking.authorized_at, "payment",
                                    f"Payment authorized ({funding_name(booking.funding)})"))
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    if receipt is not None:
        paid_with = "PayPal" if receipt.provider == "paypal" else funding_name(booking.funding)
        events.append(TimelineEvent(receipt.created_at, "payment",
                                    f"Receipt: {money(receipt.amount_minor)} paid with {paid_with}"))
        if receipt.transferred_at:
            events.append(TimelineEvent(receipt.transferred_at, "payout",
                                        f"Paid out {money(receipt.tutor_payout_minor)} to the tutor "
                                        f"({receipt.transfer_id})"))
        elif (receipt.transfer_error or "").startswith(refund_failures.HELD):
            events.append(TimelineEvent(booking.updated_at, "payout", f"Payout {receipt.transfer_error}"))
        elif receipt.transfer_error:
            events.append(TimelineEvent(receipt.created_at, "payout", f"Payout failed: {receipt.transfer_error}"))
    for model, provider in ((StripeEvent, "Stripe"), (PayPalEvent, "PayPal")):
        for event in db.session.scalars(select(model).where(model.booking_id == booking.id).order_by(model.received_at)):
            events.append(TimelineEvent(event.received_at, "provider", f"{provider} event {event.type} ({event.id}): "
                                        + _applied_words(event)))
    failed_later = []
    for refund in db.session.scalars(select(Refund).where(Refund.booking_id == booking.id)):
        status = "made, failed later" if refund.failed_at is not None else refund.status
        events.append(TimelineEvent(refund.created_at, "refund",
                                    f"Refund {money(refund.amount_minor)} ({status}): {refund.reason}"))
        if refund.failed_at is not None:
            failed_later.append(refund)
            events.append(TimelineEvent(refund.failed_at, "refund", (
                f"Refund {money(refund.amount_minor)} ({refund.stripe_refund_id or refund.paypal_refund_id}) FAILED "
                f"after it was accepted: {refund_failure_words(refund.failure_reason)}. It no longer counts; "
                "the customer has not had this money back.")))
    if failed_later and receipt is not None and receipt.transfer_id:
        taken = sum(r.amount_minor for r in db.session.scalars(select(TransferReversal).where(
            TransferReversal.booking_id == booking.id, TransferReversal.status.in_(("pending", "succeeded")))))
        short = receipt.tutor_payout_minor - ((receipt.transferred_minor or 0) - taken)
        if short > 0:
            events.append(TimelineEvent(max(r.failed_at for r in failed_later), "payout", (
                f"The tutor is {money(short)} short: taken back from their transfer, or left out of it, for a refund "
                "that failed later. Not paid automatically: refunding the customer again takes nothing more from the "
                "tutor; otherwise pay the tutor by hand.")))
    minute_words = {"hold": "held", "post": "spent on the lesson", "void": "returned (hold released)",
                    "refund": "refunded to the balance"}
    for move in db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.booking_id == booking.id)):
        events.append(TimelineEvent(move.created_at, "payment" if move.move != "refund" else "refund",
                                    f"{move.minutes} minutes {minute_words.get(move.move, move.move)}"))
    payout = db.session.scalar(select(MinutePayout).where(MinutePayout.booking_id == booking.id))
    if payout is not None and payout.transferred_at:
        events.append(TimelineEvent(payout.transferred_at, "payout",
                                    f"Paid out {Money(payout.amount_minor, payout.currency).format()} for "
                                    f"{payout.minutes} minutes to the tutor ({payout.transfer_id})"))
    for reversal in db.session.scalars(select(TransferReversal).where(TransferReversal.booking_id == booking.id)):
        events.append(TimelineEvent(reversal.created_at, "payout",
                                    f"Taken back from the tutor's transfer: "
                                    f"{Money(reversal.amount_minor, reversal.currency).format()} ({reversal.status})"))
    lesson_key, booking_key = f"lesson:{booking.lesson_id}:%", f"booking:{booking.id}:%"
    for message in db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.channel == "email",
            or_(OutboxMessage.dedupe_key.like(lesson_key), OutboxMessage.dedupe_key.like(booking_key)))):
        state = "sent" if message.sent_at else message.status
        events.append(TimelineEvent(message.sent_at or message.created_at, "email",
                                    f"Email “{message.template.replace('_', ' ')}” to {message.to_address} ({state})"))
    for entry in db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "booking",
                                                             AuditEntry.target_id == booking.id)):
        events.append(TimelineEvent(entry.at, "staff", f"{entry.actor_name}: {entry.summary}"))
    # Who answered or ended the booking: the approve/decline/cancel steps record one analytics event each (its
    # dedupe id is the action and the booking's id), with the acting user.
    actions = {dedupe_id(EventName.BOOKING_APPROVED, booking.id): "Approved by the tutor",
               dedupe_id(EventName.BOOKING_DECLINED, booking.id): "Declined by the tutor",
               dedupe_id(EventName.BOOKING_CANCELLED, booking.id): "Cancelled"}
    for action, actor in db.session.execute(select(AnalyticsEvent, User).outerjoin(
            User, User.id == AnalyticsEvent.user_id).where(AnalyticsEvent.dedupe_id.in_(list(actions)))):
        who = actor.name if actor is not None else "someone no longer on the site"
        events.append(TimelineEvent(action.occurred_at, "booking", f"{actions[action.dedupe_id]} ({who})"
                                    if action.name != EventName.BOOKING_CANCELLED else f"Cancelled by {who}"))
    for ticket in db.session.scalars(select(SupportTicket).where(SupportTicket.booking_id == booking.id)):
        events.append(TimelineEvent(ticket.created_at, "ticket", f"Ticket #{ticket.id} opened: {ticket.subject}"))
    if minutes:
        held, returned = wallet.booking_minutes(db.session, booking.id)
        state = minutes_payment_words(booking.state, held, returned)
    else:
        state = booking_label(booking.state, booking.funding, booking.lesson.duration_minutes)
    events.append(TimelineEvent(booking.updated_at, "booking", f"Now: {state}"))
    return booking, sorted(events, key=lambda e: e.at)


def _applied_words(event) -> str:
    """Whether a stored provider event was applied, when, and what it did (or why it has not been applied yet)."""
    if event.processed_at is not None:
        return f"applied {zoned(event.processed_at)} ({(event.outcome or 'done').replace('-', ' ')})"
    if event.last_error:
        return f"not applied yet after {event.attempts} attempt(s): {event.last_error[:200]}"
    return "not applied yet"
