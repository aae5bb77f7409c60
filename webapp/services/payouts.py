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


@dataclass(frozen=True)
class Due:
    """What one receipt's payout comes to now: `amount` to transfer, or 0 with `why_not` in words."""

    booking_id: int
    amount: int
    why_not: str | None = None


ALREADY_TRANSFERRED = "That payout was already transferred."
REFUND_PENDING = ("A refund of this booking is still waiting for its answer from the payment provider, so the "
                  "payout's amount is not final: nothing was sent. The payout run pays what is left once it settles.")
NOTHING_OWED = ("Nothing is owed to the tutor: refunds have given the student back the payment the payout would "
                "come from, so nothing was sent.")


def _payout_due(receipt_id: int, release_hold: bool = False) -> Due:
    """What to transfer now, decided under the booking lock from the refund rows; nothing when it was transferred
    meanwhile, nothing is owed, a refund is still waiting for Stripe's answer, or a refund failed after Stripe
    accepted it and nobody has refunded the customer again since (the hold, said on the receipt; `release_hold`: an
    admin's retry pays the tutor anyway), with the reason in words."""
    booking_id = db.session.scalar(select(PaymentReceipt.booking_id).where(PaymentReceipt.id == receipt_id))
    end_read()
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        receipt = session.get(PaymentReceipt, receipt_id, populate_existing=True)
        if receipt.transfer_id:
            return Due(booking_id, 0, ALREADY_TRANSFERRED)
        if session.scalar(select(Refund.id).where(Refund.booking_id == booking_id, Refund.status == "pending")):
            return Due(booking_id, 0, REFUND_PENDING)  # its amount is not final yet; the next run pays the rest
        held = refund_failures.payout_hold(session, booking_id)
        if held is not None and not release_hold:
            words = refund_failures.hold_words(held)
            if receipt.transfer_error != words:
                receipt.transfer_error = words
            return Due(booking_id, 0, words)
        if held is None and (receipt.transfer_error or "").startswith(refund_failures.HELD):
            receipt.transfer_error = None  # the customer was refunded again: the hold lifts
        split = refresh_refund_totals(session, receipt)
        # The tutor's share never exceeds what the refunds leave on the charge (the transfer's source_transaction).
        amount = min(receipt.tutor_payout_minor, split.remaining_refundable)
        return Due(booking_id, amount) if amount > 0 else Due(booking_id, 0, NOTHING_OWED)


def send_pending_payouts(now: datetime) -> int:
    """Transfer each settled booking's tutor payout once (idempotency key per booking and amount); email the team.

    The amount comes from the refund rows, decided in a short transaction; Stripe is called outside it, and the
    transfer is recorded in another that records nothing if a second worker got there first."""
    receipt_ids = list(db.session.scalars(pending_payouts_query(now)))
    end_read()
    return sum(1 for receipt_id in receipt_ids if _pay_receipt(receipt_id, now).transferred)


@dataclass(frozen=True)
class Sent:
    """One attempt's outcome: this call recorded the transfer, or Stripe refused (`error`), or nothing was sent
    (`why_not`, in words)."""

    transferred: bool
    error: str | None = None
    why_not: str | None = None


def _pay_receipt(receipt_id: int, now: datetime, audit_as: User | None = None) -> Sent:
    """Transfer one receipt's payout if it is still owed. With `audit_as` (an admin's retry), the audit entry is
    written in the transaction that records the outcome."""
    due = _payout_due(receipt_id, release_hold=audit_as is not None)
    if not due.amount:
        return Sent(False, why_not=due.why_not)
    booking_id, amount = due.booking_id, due.amount
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
        return Sent(False, error=message[:1000]) if failed.rowcount else Sent(False, why_not=ALREADY_TRANSFERRED)
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
            return Sent(True)
    return Sent(False, why_not=ALREADY_TRANSFERRED)  # a second worker holding the same transfer recorded it


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
        elif receipt.tutor_payout_minor <= 0 or booking.state not in PAYABLE_STATES:
            # Before "failed": a payout that failed and was then refunded in full is owed nothing (no Retry).
            rows.append(PayoutRow(receipt, booking, "nothing_owed", "Nothing to pay out"))
        elif (receipt.transfer_error or "").startswith(refund_failures.HELD):
            rows.append(PayoutRow(receipt, booking, "held", receipt.transfer_error))
        elif receipt.transfer_error:
            rows.append(PayoutRow(receipt, booking, "failed", f"Failed: {receipt.transfer_error}"))
        elif booking.lesson.tutor_id not in enabled:
            rows.append(PayoutRow(receipt, booking, "not_payable", "The tutor cannot receive payouts yet"))
        elif booking.lesson.finish_at > settled_before:
            rows.append(PayoutRow(receipt, booking, "waiting", "Waiting for the settlement period"))
        else:
            rows.append(PayoutRow(receipt, booking, "waiting", "Due: the next payout run sends it"))
    return rows


@dataclass(frozen=True)
class Retried:
    """What an admin's payout retry did, in words: `transferred`, or nothing sent (and why)."""

    transferred: bool
    words: str


def retry_payout(admin: User, booking_id: int, now: datetime) -> Retried:
    """Retry one failed payout now through the payout job's own path; audited with the outcome, also when nothing
    was owed any more (then nothing is sent and nothing on the payout changes)."""
    if not admin.is_admin:
        raise Forbidden("Only admins retry payouts.")
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking_id))
    if receipt is None:
        raise NotFound("That booking has no payment to pay out.")
    if receipt.transfer_id:
        raise Conflict(ALREADY_TRANSFERRED)
    if receipt.tutor_payout_minor <= 0 or receipt.booking.state not in PAYABLE_STATES:
        return _nothing_sent(admin, receipt, NOTHING_OWED, now)  # refunded in full, or never owed anything
    due = db.session.scalar(pending_payouts_query(now).where(PaymentReceipt.id == receipt.id))
    if due is None:
        raise Conflict("That payout is not due yet (settlement period, or the tutor cannot receive payouts).")
    receipt_id = receipt.id
    end_read()
    sent = _pay_receipt(receipt_id, now, audit_as=admin)
    if sent.transferred:
        return Retried(True, f"The payout of booking #{booking_id} is transferred.")
    if sent.error:
        raise PaymentFailed(f"The payout failed again: {sent.error}")
    if sent.why_not == ALREADY_TRANSFERRED:
        raise Conflict(ALREADY_TRANSFERRED)  # a second click, or the job, got there first
    return _nothing_sent(admin, db.session.get(PaymentReceipt, receipt_id), sent.why_not or NOTHING_OWED, now)


PAYABLE_STATES = (BookingState.PAID, BookingState.PARTIAL_REFUNDED)


def _nothing_sent(admin: User, receipt: PaymentReceipt, why: str, now: datetime) -> Retried:
    """Audit a retry that found nothing to send (the payout's record stays as it was) and say so."""
    booking_id, error = receipt.booking_id, receipt.transfer_error
    end_read()
    with serialized_write((LOCK_BOOKING, booking_id)):
        audit.record(admin, "payout.retry", "booking", booking_id,
                     f"Retried the payout of booking #{booking_id}: nothing sent ({why})", now,
                     before={"transfer_id": None, "transfer_error": error},
                     after={"transfer_id": None, "transfer_error": error, "amount_minor": 0, "sent": False})
    return Retried(False, f"Booking #{booking_id}: {why}")


def _audit_retry(admin: User, booking_id: int, amount: int, currency: str, before_error: str | None, now: datetime,
                 transfer_id: str | None, error: str | None) -> None:
    """The admin's payout retry, in the caller's transaction (the one that records its outcome)."""
    outcome = f"transferred {Money(amount, currency).format()} ({transfer_id})" if transfer_id \
        else f"failed again ({error})"
    audit.record(admin, "payout.retry", "booking", booking_id, f"Retried the payout of booking #{booking_id}: {outcome}",
                 now, before={"transfer_id": None, "transfer_error": before_error},
                 after={"transfer_id": transfer_id, "transfer_error": error, "amount_minor": amount})
