"""Refunds after a tutor was paid: take the tutor's share of the refund back from their transfer.

The payout job sends the tutor's share once the lesson has settled; a refund after that (an admin's goodwill refund,
one made in the Stripe dashboard) lowers what the tutor is owed but leaves the money with them, so the platform would
pay the refund out of its own pocket. This job compares what was transferred with what the tutor is owed now (from
the refund rows) and reverses the difference. Like refunds: the intent is recorded as a `pending` row under its
idempotency key, Stripe is called with no transaction open, and its answer is recorded in a second short
transaction; a lost answer leaves the row pending and the next run repeats the same call (Stripe replays it).
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func, or_, select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.fees import transfer_reversal_due
from ..extensions import db
from ..models import PaymentReceipt, Refund, TransferReversal
from .cancellations import refresh_refund_totals
from .locks import LOCK_BOOKING

COUNTED = ("pending", "succeeded")  # taken back, or being taken back


def reversed_total(session, booking_id: int) -> int:
    """What has been (or is being) taken back from a booking's transfer: the sum of its counted reversal rows."""
    return int(session.scalar(select(func.coalesce(func.sum(TransferReversal.amount_minor), 0)).where(
        TransferReversal.booking_id == booking_id, TransferReversal.status.in_(COUNTED))))


def _candidates():
    """Receipts whose transfer was sent and that have refunds or unfinished reversals (cheap pre-filter)."""
    return (select(PaymentReceipt.id, PaymentReceipt.booking_id)
            .where(PaymentReceipt.transfer_id.is_not(None), PaymentReceipt.transferred_minor.is_not(None),
                   or_(select(Refund.id).where(Refund.booking_id == PaymentReceipt.booking_id).exists(),
                       select(TransferReversal.id).where(TransferReversal.booking_id == PaymentReceipt.booking_id,
                                                         TransferReversal.status == "pending").exists()))
            .order_by(PaymentReceipt.id))


def _claim(receipt_id: int, booking_id: int, now: datetime) -> TransferReversal | None:
    """Under the booking lock: the pending reversal to (re)send, recording a new one when more is due."""
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        pending = session.scalar(select(TransferReversal).where(TransferReversal.booking_id == booking_id,
                                                                TransferReversal.status == "pending")
                                 .order_by(TransferReversal.id))
        if pending is not None:
            return pending  # an earlier answer was lost: send the same request again
        if session.scalar(select(Refund.id).where(Refund.booking_id == booking_id, Refund.status == "pending")):
            return None  # a refund's amount is not final yet; the next run takes back what it decides
        receipt = session.get(PaymentReceipt, receipt_id, populate_existing=True)
        owed_now = refresh_refund_totals(session, receipt).tutor_payout_after
        due = transfer_reversal_due(receipt.transferred_minor, owed_now, reversed_total(session, booking_id))
        if due == 0:
            return None
        # Keyed on what the tutor is owed after it: the same state of refunds always makes the same request.
        key = f"booking:{booking_id}:reversal:{owed_now}"
        if session.scalar(select(TransferReversal.id).where(TransferReversal.idempotency_key == key)):
            return None  # Stripe refused this one (recorded as failed, with its error): it needs a person
        row = TransferReversal(booking_id=booking_id, transfer_id=receipt.transfer_id, amount_minor=due,
                               currency=receipt.currency, created_at=now, idempotency_key=key)
        session.add(row)
        session.flush()
        return row


def reverse_overpaid_transfers(now: datetime) -> int:
    """Job: take back from tutors' transfers the share of refunds made after they were paid; returns how many
    reversals Stripe made. Safe to run twice; Stripe being down only delays it."""
    candidates = db.session.execute(_candidates()).all()
    end_read()
    made = 0
    for receipt_id, booking_id in candidates:
        row = _claim(receipt_id, booking_id, now)
        if row is None:
            continue
        row_id, transfer_id, amount, key = row.id, row.transfer_id, row.amount_minor, row.idempotency_key
        end_read()  # no transaction stays open across the Stripe call
        try:
            reversal = gateway.reverse_transfer(transfer_id, amount_minor=amount, booking_id=booking_id,
                                                idempotency_key=key)
        except gateway.PaymentError as exc:
            if gateway.outcome_unknown(exc):
                current_app.logger.warning("booking %s: reversal %s unanswered; retrying next run", booking_id, key)
                continue  # the row stays pending: the next run repeats the same request
            with serialized_write((LOCK_BOOKING, booking_id)) as session:
                failed = session.get(TransferReversal, row_id)
                failed.status, failed.error = "failed", (getattr(exc, "user_message", None) or str(exc))[:1000]
            current_app.logger.error("booking %s: Stripe refused reversal %s: %s", booking_id, key, exc)
            continue
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            done = session.get(TransferReversal, row_id)
            if done.status == "pending":
                done.status, done.stripe_reversal_id = "succeeded", reversal.id
                made += 1
    return made
