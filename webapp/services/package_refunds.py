"""Refunds of package purchases: an admin's (money back for the unused minutes of the purchase's lot, pro rata, or a
smaller amount) and those made at the provider (Stripe's Dashboard: charge.refunded; PayPal's:
PAYMENT.CAPTURE.REFUNDED), each taking the minutes it paid for back out of the lot by balancing ledger entries.

The rules for which minutes are unused, rounding and minutes per amount are in domain/package_refunds.py. The same
pattern as booking refunds (services/cancellations.py): a `pending` row under its idempotency key, written with the
withdrawn minutes and the audit entry in one write under the student's wallet lock; the provider called outside any
transaction with that key; its answer recorded in a second short write (a refusal gives the minutes back). Totals
are sums of the rows; the provider's refunds are booked once by their id, ours matched by our row id travelling with
the refund (Stripe metadata `refund_row_id`, PayPal `invoice_id`), so a webhook replayed, reordered or racing our own
answer books each refund once.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..adapters import paypal
from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.ledger import Lot, Move
from ..domain.money import Money
from ..domain.package_refunds import minutes_for_amount, prorata_minor, split_taken, unused_minutes
from ..domain.packages import PurchaseMethod, PurchaseState
from ..domain.roles import refund_cap_minor
from ..extensions import db
from ..models import MinuteLot, PackagePurchase, PackageRefund, PayPalOrder, User
from . import audit, funding, outbox, refund_failures, wallet
from .cancellations import REQUEST_KEY
from .errors import Conflict, Forbidden, NotFound, NotRecorded, PaymentFailed, ValidationError
from .paypal_orders import REFUND_INVOICE_PREFIX
from .urls import public_url

COUNTED = ("pending", "succeeded")  # money that has left, or is leaving


@dataclass(frozen=True)
class RefundTotals:
    """A purchase's refunds summed from its rows: made (succeeded) and still waiting for the provider (pending);
    failed ones count for neither."""

    refunded_minor: int = 0
    pending_minor: int = 0


@dataclass(frozen=True)
class PurchaseRefunds:
    """A paid purchase as an admin sees it: what is unused, what a full refund of that would be, and its refunds."""

    purchase: PackagePurchase
    unused_minutes: int
    refundable: Money  # the unused minutes' pro-rata worth, capped at what was paid less earlier refunds
    refunded: Money
    shortfall_minutes: int  # minutes refunds were due to take back but the student had already used
    refunds: list[PackageRefund]
    totals: RefundTotals  # made and pending, for the purchase's status (failed refunds count for neither)


def _counted_minor(session, purchase_id: int) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(PackageRefund.amount_minor), 0)).where(
        PackageRefund.purchase_id == purchase_id, PackageRefund.status.in_(COUNTED))))


def _due_so_far(session, purchase_id: int) -> int:
    """Minutes earlier counted refunds took back or found already used (a purchase never owes more than its lot)."""
    taken, short = session.execute(select(func.coalesce(func.sum(PackageRefund.minutes), 0),
                                          func.coalesce(func.sum(PackageRefund.shortfall_minutes), 0))
                                   .where(PackageRefund.purchase_id == purchase_id,
                                          PackageRefund.status.in_(COUNTED))).one()
    return int(taken) + int(short)


def _unused(session, purchase: PackagePurchase) -> int:
    """The purchase's lot's minutes neither used nor held (domain/package_refunds.unused_minutes)."""
    lots = [Lot(id=lot.id, minutes=lot.minutes, expires_at=lot.expires_at, expired=wallet.lot_gone(session, lot.id))
            for lot in session.scalars(select(MinuteLot).where(MinuteLot.user_id == purchase.student_id,
                                                               MinuteLot.tutor_id == purchase.tutor_id))]
    available = wallet.balance(purchase.student_id, purchase.tutor_id).available
    return unused_minutes(lots, purchase.lot_id, available)


def _quote(session, purchase: PackagePurchase) -> tuple[int, int, int]:
    """(unused minutes, their refundable worth, refunded so far) read in the caller's transaction."""
    lot = session.get(MinuteLot, purchase.lot_id)
    unused = _unused(session, purchase)
    refunded = _counted_minor(session, purchase.id)
    return unused, prorata_minor(lot.paid_minor or 0, lot.minutes, unused, refunded), refunded


def overview(viewer: User, student_id: int) -> list[PurchaseRefunds]:
    """A student's paid package purchases with what is refundable and their refunds (staff only), newest first."""
    if not viewer.is_staff:
        raise Forbidden("Only staff see package refunds.")
    purchases = db.session.scalars(select(PackagePurchase).where(PackagePurchase.student_id == student_id,
                                                                 PackagePurchase.state == PurchaseState.PAID)
                                   .order_by(PackagePurchase.id.desc()))
    result = []
    for purchase in purchases:
        unused, refundable, refunded = _quote(db.session, purchase)
        rows = list(db.session.scalars(select(PackageRefund).where(PackageRefund.purchase_id == purchase.id)
                                       .order_by(PackageRefund.id)))
        totals = RefundTotals(sum(r.amount_minor for r in rows if r.status == "succeeded"),
                              sum(r.amount_minor for r in rows if r.status == "pending"))
        result.append(PurchaseRefunds(purchase, unused, Money(refundable, purchase.currency),
                                      Money(refunded, purchase.currency),
                                      sum(r.shortfall_minutes for r in rows if r.status in COUNTED), rows, totals))
    return result


def refund_totals(student_id: int | None = None, purchase_id: int | None = None) -> dict[int, RefundTotals]:
    """Each of a student's purchases' (or one purchase's) refund totals, by purchase id, in one query."""
    query = (select(PackageRefund.purchase_id, PackageRefund.status, func.sum(PackageRefund.amount_minor))
             .join(PackagePurchase, PackagePurchase.id == PackageRefund.purchase_id)
             .where(PackageRefund.status.in_(COUNTED)).group_by(PackageRefund.purchase_id, PackageRefund.status))
    if student_id is not None:
        query = query.where(PackagePurchase.student_id == student_id)
    if purchase_id is not None:
        query = query.where(PackagePurchase.id == purchase_id)
    sums: dict[int, dict[str, int]] = {}
    for pid, status, total in db.session.execute(query):
        sums.setdefault(pid, {})[status] = int(total)
    return {pid: RefundTotals(by.get("succeeded", 0), by.get("pending", 0)) for pid, by in sums.items()}


def _provider_reference(purchase_id: int) -> tuple[str, str | None]:
    """(provider, what its refund names: the PaymentIntent or our PayPal order id), read outside any write; a card
    purchase granted before we kept its PaymentIntent asks Stripe for it through its Checkout Session."""
    purchase = db.session.get(PackagePurchase, purchase_id)
    if purchase.method == PurchaseMethod.PAYPAL:
        order_id = db.session.scalar(select(PayPalOrder.order_id).where(PayPalOrder.purchase_id == purchase_id,
                                                                        PayPalOrder.capture_id.is_not(None)))
        end_read()
        return "paypal", order_id
    if purchase.payment_intent_id:
        pi = purchase.payment_intent_id
        end_read()
        return "stripe", pi
    session_id = purchase.checkout_session_id
    end_read()
    try:
        checkout = gateway.retrieve_checkout_session(session_id) if session_id else None
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not reach Stripe to find this payment. Nothing was refunded; try again.") from exc
    pi = checkout.payment_intent if checkout is not None else None
    pi = pi if isinstance(pi, str) or pi is None else pi.id
    return "stripe", pi


def refund_purchase(admin: User, purchase_id: int, amount_minor: int | None, reason: str, now: datetime,
                    request_key: str | None = None) -> PackageRefund:
    """An admin refunds a package purchase: the unused minutes' pro-rata worth (``amount_minor`` None) or a smaller
    amount, taking back the minutes it paid for (support agents up to SUPPORT_REFUND_CAP_MINOR). The same form sent
    twice (``request_key``) is one refund; two admins at once: the second is told what is left."""
    cap = refund_cap_minor(admin.role, current_app.config["SUPPORT_REFUND_CAP_MINOR"])
    if cap == 0:
        raise Forbidden("Only admins and support agents can make refunds.")
    if request_key is not None and not REQUEST_KEY.fullmatch(request_key):
        raise ValidationError("The idempotency key is 8 to 64 letters, digits, - or _.",
                              {"idempotency_key": "8 to 64 letters, digits, - or _."})
    if amount_minor is not None and amount_minor <= 0:
        raise ValidationError("A refund must be more than nothing.", {"amount": "More than 0."})
    purchase = db.session.get(PackagePurchase, purchase_id)
    if purchase is None:
        raise NotFound("We could not find that purchase.")
    if purchase.state != PurchaseState.PAID or purchase.lot_id is None:
        raise Conflict("Only a paid purchase can be refunded.")
    student_id, currency = purchase.student_id, purchase.currency
    key = f"package:{purchase_id}:admin-refund:{request_key or uuid.uuid4().hex}"
    provider, reference = _provider_reference(purchase_id)
    if reference is None:
        raise Conflict("We have no record of this purchase's payment at the provider, so it cannot be refunded here.")
    with serialized_write(wallet.wallet_lock(student_id)) as session:
        row = session.scalar(select(PackageRefund).where(PackageRefund.idempotency_key == key)
                             .execution_options(populate_existing=True))
        if row is None:
            purchase = session.get(PackagePurchase, purchase_id, populate_existing=True)
            if provider == "stripe" and not purchase.payment_intent_id:
                purchase.payment_intent_id = reference
            unused, most, refunded = _quote(session, purchase)
            amount = most if amount_minor is None else amount_minor
            if amount <= 0 or amount > most:
                left = Money(most, currency)
                message = (f"Only {left.format()} is left to refund for the {unused} unused minutes, so nothing was "
                           "refunded." if most else
                           "Nothing is left to refund: the minutes are used or held, or were refunded already.")
                raise Conflict(message, {"amount": message})
            if cap is not None and amount > cap:
                message = f"Support agents refund up to {Money(cap, currency).format()}; ask an admin for more."
                raise Forbidden(message, {"amount": message})
            lot = session.get(MinuteLot, purchase.lot_id)
            minutes = min(minutes_for_amount(amount, lot.paid_minor or 0, lot.minutes), unused)
            row = PackageRefund(purchase_id=purchase_id, amount_minor=amount, currency=currency, minutes=minutes,
                                shortfall_minutes=0, status="pending", idempotency_key=key,
                                reason=(reason or "Admin refund")[:200], created_by_id=admin.id, created_at=now)
            session.add(row)
            session.flush()
            if minutes:
                wallet.record_move(session, Move.WITHDRAW, user_id=student_id, tutor_id=purchase.tutor_id,
                                   minutes=minutes, key=f"withdraw:package-refund:{row.id}", lot_id=lot.id)
            audit.record(admin, "package.refund", "user", student_id,
                         f"Refunded {Money(amount, currency).format()} on package purchase #{purchase_id} "
                         f"({minutes} unused minutes taken back): {reason or 'Admin refund'}", now,
                         before={"refunded_minor": refunded, "unused_minutes": unused},
                         after={"refunded_minor": refunded + amount, "unused_minutes": unused - minutes},
                         dedupe_key=key)
        row_id, amount, status = row.id, row.amount_minor, row.status
    if status == "succeeded":
        return db.session.get(PackageRefund, row_id)  # the same form again: already made and recorded
    if status == "failed":
        raise PaymentFailed("This refund was refused by the provider; nothing was refunded.")
    _send(student_id, row_id, provider, reference, amount, currency, key)
    return db.session.get(PackageRefund, row_id)


def _send(student_id: int, row_id: int, provider: str, reference: str, amount: int, currency: str, key: str) -> None:
    """Call the provider for a pending row with its own key (outside any transaction) and record the answer."""
    holder = "PayPal" if provider == "paypal" else "Stripe"
    try:
        made = funding.send_refund(provider, reference, amount, currency, key, row_id)
    except funding.RefundOutcomeUnknown as exc:
        raise NotRecorded(f"We could not get {holder}'s answer, so the refund may or may not have been made. It is "
                          "held as pending (its minutes stay taken back) and settled within minutes by the sweep, "
                          "or now if you send the same form again (a retry never refunds twice).") from exc
    except funding.RefundRefused as exc:
        _refused(student_id, row_id)
        raise PaymentFailed(f"{exc} The minutes are back in the student's balance.") from exc
    with serialized_write(wallet.wallet_lock(student_id)) as session:
        row = session.get(PackageRefund, row_id, populate_existing=True)
        if row.provider_refund_id is None:
            other = session.scalar(select(PackageRefund).where(PackageRefund.provider_refund_id == made.id))
            if other is None:
                row.provider_refund_id = made.id
        if made.status == "failed":
            _fail_row(session, row)
        elif row.status == "pending":
            row.status = "succeeded"
            _email_receipt(session, row)


def confirm_pending(now: datetime, older_than: timedelta = timedelta(minutes=15)) -> int:
    """The sweep for package refunds whose provider answer was lost. Stripe's: book the PaymentIntent's refunds (ours
    carry our row id); a row Stripe still does not have never reached it, so it stops counting and its minutes come
    back. PayPal's (it lists no refunds to read): ask again under the row's own PayPal-Request-Id, which PayPal answers
    with the refund it made, or makes the one the admin was told is pending. Returns how many rows were settled."""
    rows = db.session.execute(select(PackageRefund.id, PackageRefund.purchase_id).where(
        PackageRefund.status == "pending", PackageRefund.created_at <= now - older_than)
        .order_by(PackageRefund.id)).all()
    end_read()
    settled = 0
    for row_id, purchase_id in rows:
        provider, reference = _provider_reference(purchase_id)
        purchase = db.session.get(PackagePurchase, purchase_id)
        row = db.session.get(PackageRefund, row_id)
        student_id, amount, currency, key = purchase.student_id, row.amount_minor, row.currency, row.idempotency_key
        end_read()
        try:
            if provider == "stripe":
                refunds = gateway.list_refunds(reference)
                with serialized_write(wallet.wallet_lock(student_id)) as session:
                    book_stripe_refunds(session.get(PackagePurchase, purchase_id, populate_existing=True), refunds,
                                        now)
                    _fail_row(session, session.get(PackageRefund, row_id, populate_existing=True))
            else:
                _send(student_id, row_id, provider, reference, amount, currency, key)
        except (gateway.PaymentError, NotRecorded, PaymentFailed) as exc:
            current_app.logger.warning("package refund %s not settled yet: %s", row_id, exc)
            continue
        settled += 1
    return settled


def _refused(student_id: int, row_id: int) -> None:
    with serialized_write(wallet.wallet_lock(student_id)) as session:
        _fail_row(session, session.get(PackageRefund, row_id, populate_existing=True))


def _fail_row(session, row: PackageRefund) -> None:
    """The provider refused: the row stops counting, frees its key, and its minutes go back to the student."""
    if row.status != "pending":
        return
    row.status = "failed"
    row.idempotency_key = f"{row.idempotency_key}:failed:{row.id}"[:255]
    if row.minutes:
        purchase = session.get(PackagePurchase, row.purchase_id)
        wallet.record_move(session, Move.RESTORE, user_id=purchase.student_id, tutor_id=purchase.tutor_id,
                           minutes=row.minutes, key=f"restore:package-refund:{row.id}", lot_id=purchase.lot_id)


def _failed_later(session, row: PackageRefund, reason: str | None, origin: str, now: datetime) -> None:
    """The provider reports a refund failed (or cancelled) after accepting it: the row stops counting, the minutes
    it took back are the student's again, and the staff are told once."""
    if row.status == "pending":
        _fail_row(session, row)  # stops counting, frees its key, gives the minutes back
    elif row.status == "succeeded":
        row.status = "failed"
        if row.minutes:
            purchase = session.get(PackagePurchase, row.purchase_id)
            wallet.record_move(session, Move.RESTORE, user_id=purchase.student_id, tutor_id=purchase.tutor_id,
                               minutes=row.minutes, key=f"restore:package-refund:{row.id}", lot_id=purchase.lot_id)
    row.failed_at, row.failure_reason = now, str(reason or "unknown")[:100]
    session.flush()
    purchase = session.get(PackagePurchase, row.purchase_id)
    left = Money(purchase.price_minor - _counted_minor(session, purchase.id), purchase.currency)
    refund_failures.tell_staff(
        session, key=f"package-refund:{row.id}", what=f"package purchase #{purchase.id}",
        amount=Money(row.amount_minor, row.currency), refund_id=row.provider_refund_id or "", reason=row.failure_reason,
        path=f"/admin/users/{purchase.student_id}", provider=origin,
        consequence=(f"It no longer counts ({left.format()} of the purchase is not refunded now)"
                     + (f" and the {row.minutes} minutes it took back are the student's again" if row.minutes else "")
                     + ", so it can be refunded again from the student's page."))


def _email_receipt(session, row: PackageRefund) -> None:
    """The student's refund receipt (outbox, in the write that records the refund as made; once per refund)."""
    purchase = session.get(PackagePurchase, row.purchase_id)
    student, tutor = session.get(User, purchase.student_id), session.get(User, purchase.tutor_id)
    outbox.enqueue_email("package_refund", student.email, {
        "recipient_name": student.name, "purchase_id": purchase.id, "tutor_name": tutor.name,
        "amount": Money(row.amount_minor, row.currency).format(), "minutes": row.minutes,
        "shortfall_minutes": row.shortfall_minutes,
        "paid_with": "PayPal" if purchase.method == PurchaseMethod.PAYPAL else "card",
        "balance": wallet.balance(purchase.student_id, purchase.tutor_id).available,
        "minutes_url": public_url("/minutes"),
    }, dedupe_key=f"package-refund:{row.id}")


# --- refunds reported by the provider -------------------------------------------------------------

def purchase_for_payment_intent(payment_intent_id: object) -> PackagePurchase | None:
    """The card purchase a PaymentIntent paid for, if any."""
    if not isinstance(payment_intent_id, str) or not payment_intent_id:
        return None
    return db.session.scalar(select(PackagePurchase).where(PackagePurchase.payment_intent_id == payment_intent_id))


def _book(session, purchase: PackagePurchase, refund_id: str, amount_minor: int, succeeded: bool, our_row_id: str,
          origin: str, now: datetime, failure_reason: str | None = None) -> bool:
    """Book one provider refund of a purchase once by its id: ours (matched by our row id) or one made at the
    provider, which takes the refunded share of the lot's minutes back from what is still unused and records the
    rest as a shortfall. A row only moves forward (pending → succeeded → failed): a refund the provider reports
    failed after accepting it gives its minutes back and stops counting. Returns whether anything changed. Runs in
    the caller's write under the wallet lock."""
    known = session.scalar(select(PackageRefund).where(PackageRefund.provider_refund_id == refund_id))
    attached = False
    if known is None:
        ours = session.get(PackageRefund, int(our_row_id)) if our_row_id.isdigit() else None
        if ours is not None and ours.purchase_id == purchase.id and ours.provider_refund_id is None:
            ours.provider_refund_id = refund_id
            known, attached = ours, True
    if known is not None:
        if known.status == "failed" or (succeeded and known.status == "succeeded"):
            return attached  # failed is final; a replay or an older event changes nothing
        if succeeded:
            known.status = "succeeded"
            _email_receipt(session, known)
        else:
            _failed_later(session, known, failure_reason, origin, now)
        return True
    if amount_minor <= 0:
        return False
    if not succeeded:  # made at the provider and failed there before we heard of it: kept for the staff to see
        row = PackageRefund(purchase_id=purchase.id, provider_refund_id=refund_id, status="failed",
                            amount_minor=amount_minor, currency=purchase.currency, minutes=0, shortfall_minutes=0,
                            reason=f"Refunded at {origin}", created_at=now)
        session.add(row)
        session.flush()
        _failed_later(session, row, failure_reason, origin, now)
        return True
    lot = session.get(MinuteLot, purchase.lot_id)
    owed = max(0, lot.minutes - _due_so_far(session, purchase.id))
    due = min(minutes_for_amount(amount_minor, lot.paid_minor or 0, lot.minutes), owed)
    taken, shortfall = split_taken(due, _unused(session, purchase))
    row = PackageRefund(purchase_id=purchase.id, provider_refund_id=refund_id, status="succeeded",
                        amount_minor=amount_minor, currency=purchase.currency, minutes=taken,
                        shortfall_minutes=shortfall, reason=f"Refunded at {origin}", created_at=now)
    session.add(row)
    session.flush()
    if taken:
        wallet.record_move(session, Move.WITHDRAW, user_id=purchase.student_id, tutor_id=purchase.tutor_id,
                           minutes=taken, key=f"withdraw:package-refund:{row.id}", lot_id=lot.id)
    if shortfall:
        current_app.logger.warning("package purchase %s: refund %s was due %s minutes the student had used",
                                   purchase.id, refund_id, shortfall)
    _email_receipt(session, row)
    return True


def book_stripe_refunds(purchase: PackagePurchase, refunds: list[dict], now: datetime) -> str:
    """charge.refunded, charge.refund.updated or refund.* on a package's PaymentIntent: book each of Stripe's refunds
    once, as Stripe has it now (in the dispatcher's write)."""
    if purchase.lot_id is None:
        return "ignored"
    changed = False
    for refund in refunds:
        succeeded = refund.get("status") not in ("failed", "canceled")
        changed |= _book(db.session, purchase, refund["id"], int(refund.get("amount") or 0), succeeded,
                         str((refund.get("metadata") or {}).get("refund_row_id") or ""), "Stripe", now,
                         refund.get("failure_reason") or refund.get("status"))
    return "package-refund-recorded" if changed else "already-applied"


def paypal_refund_reported(order: PayPalOrder, refund: dict, now: datetime) -> str:
    """PAYMENT.CAPTURE.REFUNDED on a package's capture: book the refund once (in the dispatcher's write)."""
    purchase = db.session.get(PackagePurchase, order.purchase_id, populate_existing=True)
    if purchase is None or purchase.lot_id is None or not refund.get("id"):
        return "ignored"
    amount_minor, _currency = paypal.minor_amount(refund["amount"])
    invoice = str(refund.get("invoice_id") or "")
    our_id = invoice.removeprefix(REFUND_INVOICE_PREFIX) if invoice.startswith(REFUND_INVOICE_PREFIX) else ""
    changed = _book(db.session, purchase, str(refund["id"]), amount_minor,
                    refund.get("status") in ("COMPLETED", "PENDING"), our_id, "PayPal", now)
    return "package-refund-recorded" if changed else "already-applied"
