"""Refunds after a tutor was paid: take the tutor's share of the refund back from their transfer.

The payout job sends the tutor's share once the lesson has settled; a refund after that (an admin's goodwill refund,
one made in the Stripe dashboard) lowers what the tutor is owed but leaves the money with them, so the platform would
pay the refund out of its own pocket. This job compares what was transferred with what the tutor is owed now (from
the refund rows) and reverses the difference. Like refunds: the intent is recorded as a `pending` row under its
idempotency key, Stripe is called with no transaction open, and its answer is recorded in a second short
transaction; a lost answer leaves the row pending and the next run repeats the same call (Stripe replays it).

The same holds for transfers made from the platform's balance: PayPal-funded lessons (their receipts record the
transfer like a card's) and lessons paid with prepaid minutes (a MinutePayout row per lesson). A minute lesson's
tutor keeps the share of the transfer that the minutes still kept are of the minutes it paid for
(domain/packages.minute_payout_kept); refunded minutes take the rest back, proportionally, never more than was sent.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func, or_, select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.fees import transfer_reversal_due
from ..domain.ledger import Move
from ..domain.packages import minute_payout_kept
from ..extensions import db
from ..models import LedgerTransaction, MinutePayout, PaymentReceipt, Refund, TransferReversal
from . import wallet
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


def _minute_candidates():
    """Minute payouts that were transferred and whose lesson had minutes refunded, or unfinished reversals."""
    return (select(MinutePayout.id, MinutePayout.booking_id)
            .where(MinutePayout.transfer_id.is_not(None), MinutePayout.amount_minor > 0,
                   or_(select(LedgerTransaction.id).where(LedgerTransaction.booking_id == MinutePayout.booking_id,
                                                          LedgerTransaction.move == str(Move.REFUND)).exists(),
                       select(TransferReversal.id).where(TransferReversal.booking_id == MinutePayout.booking_id,
                                                         TransferReversal.status == "pending").exists()))
            .order_by(MinutePayout.id))


def _owed_on_receipt(session, receipt_id: int, booking_id: int) -> tuple[str, int, int, str] | None:
    """A card or PayPal lesson: (transfer id, amount sent, what the tutor is owed now, currency), or None while a
    refund's amount is not final yet (the next run takes back what it decides)."""
    if session.scalar(select(Refund.id).where(Refund.booking_id == booking_id, Refund.status == "pending")):
        return None
    receipt = session.get(PaymentReceipt, receipt_id, populate_existing=True)
    owed_now = refresh_refund_totals(session, receipt).tutor_payout_after
    return receipt.transfer_id, receipt.transferred_minor, owed_now, receipt.currency


def _owed_on_minutes(session, payout_id: int, booking_id: int) -> tuple[str, int, int, str] | None:
    """A minute lesson: the transfer keeps the share of the minutes it paid for that were not refunded since
    (minute refunds are final in their own write: nothing is pending)."""
    payout = session.get(MinutePayout, payout_id, populate_existing=True)
    posted, returned = wallet.posted_minutes(session, booking_id)
    owed_now = minute_payout_kept(payout.amount_minor, payout.minutes, posted - returned)
    return payout.transfer_id, payout.amount_minor, owed_now, payout.currency


def _claim(owed, source_id: int, booking_id: int, now: datetime) -> TransferReversal | None:
    """Under the booking lock: the pending reversal to (re)send, recording a new one when more is due (``owed``
    reads the transfer and what the tutor is owed now: _owed_on_receipt or _owed_on_minutes)."""
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        pending = session.scalar(select(TransferReversal).where(TransferReversal.booking_id == booking_id,
                                                                TransferReversal.status == "pending")
                                 .order_by(TransferReversal.id))
        if pending is not None:
            return pending  # an earlier answer was lost: send the same request again
        found = owed(session, source_id, booking_id)
        if found is None:
            return None
        transfer_id, sent, owed_now, currency = found
        due = transfer_reversal_due(sent, owed_now, reversed_total(session, booking_id))
        if due == 0:
            return None
        # Keyed on what the tutor is owed after it: the same state of refunds always makes the same request.
        key = f"booking:{booking_id}:reversal:{owed_now}"
        if session.scalar(select(TransferReversal.id).where(TransferReversal.idempotency_key == key)):
            return None  # Stripe refused this one (recorded as failed, with its error): it needs a person
        row = TransferReversal(booking_id=booking_id, transfer_id=transfer_id, amount_minor=due,
                               currency=currency, created_at=now, idempotency_key=key)
        session.add(row)
        session.flush()
        return row


def reverse_overpaid_transfers(now: datetime) -> int:
    """Job: take back from tutors' transfers (card, PayPal-funded and minute lessons) the share of refunds made
    after they were paid; returns how many reversals Stripe made. Safe to run twice; Stripe being down only delays
    it."""
    candidates = [(_owed_on_receipt, *row) for row in db.session.execute(_candidates()).all()]
    candidates += [(_owed_on_minutes, *row) for row in db.session.execute(_minute_candidates()).all()]
    end_read()
    made = 0
    for owed, source_id, booking_id in candidates:
        row = _claim(owed, source_id, booking_id, now)
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
