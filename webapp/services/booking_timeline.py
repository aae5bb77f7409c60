"""A booking's story for the staff, assembled from the rows that already record it: the booking and its receipt,
refunds, the payout, emails sent, staff actions and support tickets."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from ..domain.labels import state_label
from ..domain.money import Money
from ..extensions import db
from ..models import (AuditEntry, Booking, LedgerTransaction, MinutePayout, OutboxMessage, PaymentReceipt, Refund,
                      SupportTicket, TransferReversal, User)
from .bookings import get_booking
from .errors import NotFound


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    kind: str  # booking, payment, refund, payout, email, staff, ticket
    text: str


def timeline(viewer: User, booking_id: int) -> tuple[Booking, list[TimelineEvent]]:
    """Every recorded fact about a booking, oldest first (staff only)."""
    if not viewer.is_staff:
        raise NotFound("We could not find that booking.")
    booking = get_booking(viewer, booking_id)
    money = (lambda minor: Money(minor, booking.currency).format())
    events = [TimelineEvent(booking.created_at, "booking",
                            f"Booked by {booking.booker.name} for {money(booking.price_minor)}")]
    if booking.authorized_at:
        events.append(TimelineEvent(booking.authorized_at, "payment", "Payment authorized"))
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    if receipt is not None:
        events.append(TimelineEvent(receipt.created_at, "payment",
                                    f"Receipt: {money(receipt.amount_minor)} via {receipt.provider}"))
        if receipt.transferred_at:
            events.append(TimelineEvent(receipt.transferred_at, "payout",
                                        f"Paid out {money(receipt.tutor_payout_minor)} to the tutor "
                                        f"({receipt.transfer_id})"))
        elif receipt.transfer_error:
            events.append(TimelineEvent(receipt.created_at, "payout", f"Payout failed: {receipt.transfer_error}"))
    for refund in db.session.scalars(select(Refund).where(Refund.booking_id == booking.id)):
        events.append(TimelineEvent(refund.created_at, "refund",
                                    f"Refund {money(refund.amount_minor)} ({refund.status}): {refund.reason}"))
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
    for ticket in db.session.scalars(select(SupportTicket).where(SupportTicket.booking_id == booking.id)):
        events.append(TimelineEvent(ticket.created_at, "ticket", f"Ticket #{ticket.id} opened: {ticket.subject}"))
    events.append(TimelineEvent(booking.updated_at, "booking", f"Now: {state_label(booking.state)}"))
    return booking, sorted(events, key=lambda e: e.at)
