"""Tutor payouts: Stripe Connect Express onboarding, the job that transfers each settled booking once, and the
admin's view of every payout with a retry for failed ones (the job's own path)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.money import Money
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, Lesson, PaymentReceipt, PayoutAccount, Refund, User
from . import audit, outbox, refund_failures
from .cancellations import refresh_refund_totals
from .errors import Conflict, Forbidden, NotFound, PaymentFailed, ValidationError
from .locks import LOCK_BOOKING, LOCK_TUTOR_ACCOUNT


def payout_account(tutor: User) -> PayoutAccount | None:
    """The tutor's Connect account record, if they started onboarding."""
    return db.session.get(PayoutAccount, tutor.id)


def start_onboarding(tutor: User, *, return_url: str, refresh_url: str) -> str:
    """Create the tutor's Express account once, and return a fresh onboarding link."""
    if not tutor.is_tutor:
        raise ValidationError("Only tutors receive payouts.")
    account = payout_account(tutor)
    stripe_account_id = account.stripe_account_id if account else None
    end_read()  # end the read: Stripe is called outside any transaction
    try:
        if stripe_account_id is None:
            created = gateway.create_express_account(
                email=tutor.email, country=current_app.config["STRIPE_CONNECT_COUNTRY"], tutor_id=tutor.id,
                idempotency_key=f"tutor:{tutor.id}:connect-account")
            stripe_account_id = created.id
            with serialized_write((LOCK_TUTOR_ACCOUNT, tutor.id)) as session:
                # A second click got the same account from Stripe (same key) and may have recorded it first.
                if session.get(PayoutAccount, tutor.id, populate_existing=True) is None:
                    session.add(PayoutAccount(tutor_id=tutor.id, stripe_account_id=stripe_account_id))
        link = gateway.create_account_link(stripe_account_id, return_url=return_url, refresh_url=refresh_url)
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not start onboarding; please try again.") from exc
    return link.url


def refresh_onboarding(tutor: User) -> PayoutAccount | None:
    """Read the account's state from Stripe (after the tutor returns from onboarding), then record it."""
    account = payout_account(tutor)
    if account is None:
        return None
    stripe_account_id = account.stripe_account_id
    end_read()  # end the read: Stripe is called outside any transaction
    try:
        fetched = gateway.retrieve_account(stripe_account_id).to_dict()
    except gateway.PaymentError:
        current_app.logger.warning("could not refresh Connect account %s", stripe_account_id)
        return payout_account(tutor)
    with serialized_write((LOCK_TUTOR_ACCOUNT, tutor.id)):
        sync_account(fetched)
    return payout_account(tutor)


def sync_account(account_obj) -> str:
    """Copy a Connect account's onboarding and payout flags (account.updated webhook or a refresh)."""
    account = db.session.scalar(select(PayoutAccount).where(PayoutAccount.stripe_account_id == account_obj.get("id")))
    if account is None:
        return "ignored"
    account.details_submitted = bool(account_obj.get("details_submitted"))
    account.payouts_enabled = bool(account_obj.get("payouts_enabled"))
    return "account-updated"


def pending_payouts_query(now: datetime):
    """Paid bookings whose lesson ended a settlement period ago, not yet transferred, to tutors who can be paid."""
    settled_before = now - timedelta(days=current_app.config["SETTLEMENT_DAYS"])
    return (select(PaymentReceipt.id).join(Booking, Booking.id == PaymentReceipt.booking_id)
            .join(Lesson, Lesson.id == Booking.lesson_id)
            .join(PayoutAccount, PayoutAccount.tutor_id == Lesson.tutor_id)
            .where(Booking.state.in_([BookingState.PAID, BookingState.PARTIAL_REFUNDED]),
                   PaymentReceipt.transfer_id.is_(None), PaymentReceipt.tutor_payout_minor > 0,
                   Lesson.finish_at <= settled_before, PayoutAccount.payouts_enabled.is_(True))
            .order_by(PaymentReceipt.id))


def _payout_due(receipt_id: int, release_hold: bool = False) -> tuple[int, int] | None:
    """(booking id, amount) to transfer now, decided under the booking lock from the refund rows; None when it
    was transferred meanwhile, nothing is owed, a refund is still waiting for Stripe's answer, or a refund failed
    after Stripe accepted it and nobody has refunded the customer again since (the hold, said on the receipt;
    `release_hold`: an admin's retry pays the tutor anyway)."""
    booking_id = db.session.scalar(select(PaymentReceipt.booking_id).where(PaymentReceipt.id == receipt_id))
    end_read()
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        receipt = session.get(PaymentReceipt, receipt_id, populate_existing=True)
        if receipt.transfer_id:
            return None
        if session.scalar(select(Refund.id).where(Refund.booking_id == booking_id, Refund.status == "pending")):
            return None  # its amount is not final yet; the next run pays what is left
        held = refund_failures.payout_hold(session, booking_id)
        if held is not None and not release_hold:
            words = refund_failures.hold_words(held)
            if receipt.transfer_error != words:
                receipt.transfer_error = words
            return None
        if held is None and (receipt.transfer_error or "").startswith(refund_failures.HELD):
            receipt.transfer_error = None  # the customer was refunded again: the hold lifts
        split = refresh_refund_totals(session, receipt)
        # The tutor's share never exceeds what the refunds leave on the charge (the transfer's source_transaction).
        amount = min(receipt.tutor_payout_minor, split.remaining_refundable)
        return (booking_id, amount) if amount > 0 else None


def send_pending_payouts(now: datetime) -> int:
    """Transfer each settled booking's tutor payout once (idempotency key per booking and amount); email the team.

    The amount comes from the refund rows, decided in a short transaction; Stripe is called outside it, and the
    transfer is recorded in another that records nothing if a second worker got there first."""
    receipt_ids = list(db.session.scalars(pending_payouts_query(now)))
    end_read()
    return sum(1 for receipt_id in receipt_ids if _pay_receipt(receipt_id, now))


def _pay_receipt(receipt_id: int, now: datetime, audit_as: User | None = None) -> bool:
    """Transfer one receipt's payout if it is still owed; True when this call recorded the transfer. With
    `audit_as` (an admin's retry), the audit entry is written in the transaction that records the outcome."""
    due = _payout_due(receipt_id, release_hold=audit_as is not None)
    if due is None:
        return False
    booking_id, amount = due
    receipt = db.session.get(PaymentReceipt, receipt_id)
    booking = db.session.get(Booking, booking_id)
    tutor = booking.lesson.tutor
    account = db.session.get(PayoutAccount, tutor.id)
    currency, charge_id, destination = receipt.currency, receipt.charge_id, account.stripe_account_id
    before_error = receipt.transfer_error
    context = {"booking_id": booking_id, "tutor_id": tutor.id, "tutor_name": tutor.name,
               "amount": Money(amount, currency).format()}
    end_read()  # no transaction stays open across the Stripe call
    try:
        transfer = gateway.create_transfer(amount_minor=amount, currency=currency, destination=destination,
                                           booking_id=booking_id, source_charge=charge_id,
                                           idempotency_key=f"booking:{booking_id}:payout:{amount}")
    except gateway.PaymentError as exc:
        message = getattr(exc, "user_message", None) or str(exc)
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            failed = session.execute(update(PaymentReceipt).where(PaymentReceipt.id == receipt_id,
                                                                  PaymentReceipt.transfer_id.is_(None))
                                     .values(transfer_error=message[:1000]))
            if audit_as is not None and failed.rowcount:
                _audit_retry(audit_as, booking_id, amount, currency, before_error, now, None, message[:1000])
            outbox.enqueue_email("payout_status", current_app.config["INTERNAL_TEAM_EMAIL"],
                                 {**context, "transfer_id": None, "error": message},
                                 dedupe_key=f"payout-error:{booking_id}:{now.date().isoformat()}")
        return False
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        # Conditional: a second worker holding the same (idempotent) transfer records nothing new.
        moved = session.execute(update(PaymentReceipt).where(
            PaymentReceipt.id == receipt_id, PaymentReceipt.transfer_id.is_(None))
            .values(transfer_id=transfer.id, transfer_error=None, transferred_at=now,
                    transferred_minor=amount))
        if moved.rowcount:
            if audit_as is not None:
                _audit_retry(audit_as, booking_id, amount, currency, before_error, now, transfer.id, None)
            outbox.enqueue_email("payout_status", current_app.config["INTERNAL_TEAM_EMAIL"],
                                 {**context, "transfer_id": transfer.id, "error": None},
                                 dedupe_key=f"payout:{booking_id}")
            return True
    return False


@dataclass(frozen=True)
class PayoutRow:
    """One paid lesson's payout as the admin sees it."""

    receipt: PaymentReceipt
    booking: Booking
    status: str  # paid, failed, held (a refund failed at Stripe), waiting, not_payable, nothing_owed
    words: str


def payout_overview(admin: User, now: datetime, failed_only: bool = False, limit: int = 200) -> list[PayoutRow]:
    """Each paid lesson's payout status, newest first: transferred, failed (with Stripe's error), waiting for the
    settlement period, or waiting for the tutor's payout account (admins only)."""
    if not admin.is_admin:
        raise Forbidden("Only admins see payouts.")
    query = (select(PaymentReceipt).join(Booking, Booking.id == PaymentReceipt.booking_id)
             .options(selectinload(PaymentReceipt.booking).selectinload(Booking.lesson).selectinload(Lesson.tutor))
             .order_by(PaymentReceipt.id.desc()).limit(limit))
    if failed_only:
        query = query.where(PaymentReceipt.transfer_id.is_(None), PaymentReceipt.transfer_error.is_not(None))
    settled_before = now - timedelta(days=current_app.config["SETTLEMENT_DAYS"])
    enabled = set(db.session.scalars(select(PayoutAccount.tutor_id).where(PayoutAccount.payouts_enabled.is_(True))))
    rows = []
    for receipt in db.session.scalars(query):
        booking = receipt.booking
        if receipt.transfer_id:
            rows.append(PayoutRow(receipt, booking, "paid", f"Transferred ({receipt.transfer_id})"))
        elif (receipt.transfer_error or "").startswith(refund_failures.HELD):
            rows.append(PayoutRow(receipt, booking, "held", receipt.transfer_error))
        elif receipt.transfer_error:
            rows.append(PayoutRow(receipt, booking, "failed", f"Failed: {receipt.transfer_error}"))
        elif receipt.tutor_payout_minor <= 0 or booking.state not in (BookingState.PAID,
                                                                      BookingState.PARTIAL_REFUNDED):
            rows.append(PayoutRow(receipt, booking, "nothing_owed", "Nothing to pay out"))
        elif booking.lesson.tutor_id not in enabled:
            rows.append(PayoutRow(receipt, booking, "not_payable", "The tutor cannot receive payouts yet"))
        elif booking.lesson.finish_at > settled_before:
            rows.append(PayoutRow(receipt, booking, "waiting", "Waiting for the settlement period"))
        else:
            rows.append(PayoutRow(receipt, booking, "waiting", "Due: the next payout run sends it"))
    return rows


def retry_payout(admin: User, booking_id: int, now: datetime) -> bool:
    """Retry one failed payout now through the payout job's own path; audited with the outcome."""
    if not admin.is_admin:
        raise Forbidden("Only admins retry payouts.")
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking_id))
    if receipt is None:
        raise NotFound("That booking has no payment to pay out.")
    if receipt.transfer_id:
        raise Conflict("That payout was already transferred.")
    due = db.session.scalar(pending_payouts_query(now).where(PaymentReceipt.id == receipt.id))
    if due is None:
        raise Conflict("That payout is not due yet (settlement period, or the tutor cannot receive payouts).")
    receipt_id = receipt.id
    end_read()
    paid = _pay_receipt(receipt_id, now, audit_as=admin)
    receipt = db.session.get(PaymentReceipt, receipt_id, populate_existing=True)
    if receipt.transfer_id and not paid:
        raise Conflict("That payout was already transferred.")  # a second click, or the job, got there first
    if not paid:
        raise PaymentFailed(f"The payout failed again: {receipt.transfer_error or 'nothing was owed'}")
    return paid


def _audit_retry(admin: User, booking_id: int, amount: int, currency: str, before_error: str | None, now: datetime,
                 transfer_id: str | None, error: str | None) -> None:
    """The admin's payout retry, in the caller's transaction (the one that records its outcome)."""
    outcome = f"transferred {Money(amount, currency).format()} ({transfer_id})" if transfer_id \
        else f"failed again ({error})"
    audit.record(admin, "payout.retry", "booking", booking_id, f"Retried the payout of booking #{booking_id}: {outcome}",
                 now, before={"transfer_id": None, "transfer_error": before_error},
                 after={"transfer_id": transfer_id, "transfer_error": error, "amount_minor": amount})
