"""What PayPal tells us about an order, recorded on our PayPalOrder row and its booking.

A PayPalOrder's status only moves forward (CREATED → APPROVED → AUTHORIZED → CAPTURED, or to VOIDED/CANCELLED), so
our own calls' answers and webhook events, replayed or in any order, agree: whatever arrives late and would move it
back changes nothing. Every function here runs inside the caller's locked write (the booking's lock); PayPal calls
they decide on are appended to ``after`` for the caller to run once that write has committed.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ..adapters import paypal
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, PaymentReceipt, PayPalOrder, Refund
from .authorizations import close_before_capture
from .cancellations import refresh_refund_totals
from .lesson_messages import tell_not_booked

RANK = {"CREATED": 0, "APPROVED": 1, "AUTHORIZED": 2, "CAPTURED": 3, "VOIDED": 3, "CANCELLED": 3}
REFUND_INVOICE_PREFIX = "lessonbook-refund-"  # our refund row's id travels as the refund's invoice_id


def advance(row: PayPalOrder, status: str, now: datetime) -> bool:
    """Move the row to `status` if that is forward (True), else leave it (False: it is there already or past it)."""
    if RANK[status] <= RANK[row.status]:
        return False
    row.status = status
    row.updated_at = now
    return True


def order_row(order_id: str | None) -> PayPalOrder | None:
    """Our row for a PayPal order id (fresh from the database), if we opened that order."""
    if not order_id:
        return None
    return db.session.scalar(select(PayPalOrder).where(PayPalOrder.order_id == order_id)
                             .execution_options(populate_existing=True))


def record_authorization(row: PayPalOrder, auth: paypal.Authorization, now: datetime) -> bool:
    """The order's money is held by `auth` (True if that is news). A reauthorization replaces the live id and keeps
    the first one, which is the one a void must name."""
    if row.authorization_id == auth.id or row.first_authorization_id == auth.id:
        return False
    if row.authorization_id is not None and RANK[row.status] >= RANK["AUTHORIZED"]:
        if row.status != "AUTHORIZED":
            return False  # captured or voided already: a late notice of an older authorization
        row.authorization_id = auth.id  # a reauthorization (a new id for the same held money)
    else:
        if not advance(row, "AUTHORIZED", now):
            return False  # voided or cancelled before this notice arrived
        row.authorization_id = row.first_authorization_id = auth.id
        row.authorized_at = auth.created_at or now
    row.authorization_expires_at = auth.expires_at
    row.honor_until = (auth.created_at or now) + paypal.HONOR_PERIOD
    row.updated_at = now
    return True


def order_approved(order_id: str | None, now: datetime, after: list) -> str:
    """CHECKOUT.ORDER.APPROVED: the buyer approved on PayPal's page (our return handler normally acts first)."""
    row = order_row(order_id)
    if row is None:
        return "ignored"
    return "approved" if advance(row, "APPROVED", now) else "already-applied"


def authorization_created(order_id: str | None, auth: paypal.Authorization, now: datetime, after: list) -> str:
    """PAYMENT.AUTHORIZATION.CREATED: record the authorization on its order row."""
    row = order_row(order_id)
    if row is None:
        return "ignored"
    return "authorized" if record_authorization(row, auth, now) else "already-applied"


def authorization_voided(order_id: str | None, auth: paypal.Authorization, now: datetime) -> str:
    """PAYMENT.AUTHORIZATION.VOIDED: the hold is gone (we voided it, or PayPal or the buyer did): a booking still
    waiting for approval on it cannot be approved any more, so it ends as expired. Arriving before the notice of
    the authorization itself, it records that authorization too, so the late notice finds nothing to do."""
    row = order_row(order_id) or db.session.scalar(select(PayPalOrder).where(
        (PayPalOrder.authorization_id == auth.id) | (PayPalOrder.first_authorization_id == auth.id))
        .execution_options(populate_existing=True))
    if row is None:
        return "ignored"
    if row.authorization_id is None:
        row.authorization_id = row.first_authorization_id = auth.id
        row.authorized_at = auth.created_at or now
    elif auth.id not in (row.authorization_id, row.first_authorization_id):
        return "ignored"  # some other authorization of this order (not one we hold the booking on)
    if not advance(row, "VOIDED", now):
        return "already-applied"
    booking = db.session.get(Booking, row.booking_id) if row.booking_id else None
    receipt = booking.receipt if booking is not None else None
    if booking is not None and booking.state == BookingState.REQUIRES_CAPTURE and receipt is not None \
            and receipt.provider == "paypal" and receipt.payment_intent_id == row.order_id:
        close_before_capture(booking, BookingState.EXPIRED, now)
        tell_not_booked(booking, expired=True)
        return "expired"
    return "voided"


def capture_completed(order_id: str | None, capture_id: str | None, now: datetime) -> str:
    """PAYMENT.CAPTURE.COMPLETED: the money is taken (the tutor's approval records the booking as paid)."""
    row = order_row(order_id)
    if row is None or not capture_id:
        return "ignored"
    if row.capture_id == capture_id:
        return "already-applied"
    if row.status in ("VOIDED", "CANCELLED"):
        current_app.logger.error("paypal order %s captured (%s) after we recorded it %s", row.order_id, capture_id,
                                 row.status)
    row.capture_id = capture_id
    advance(row, "CAPTURED", now)
    return "captured"


def refunded_capture_id(refund: dict) -> str | None:
    """The capture a refund resource belongs to (its `up` link, as PayPal sends it)."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up" and "/captures/" in str(link.get("href")):
            return str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
    return None


def refund_reported(refund: dict, now: datetime) -> str:
    """PAYMENT.CAPTURE.REFUNDED: book the refund once by PayPal's id: ours (its row id came back as invoice_id) or
    one made outside the app (PayPal's dashboard); then the receipt's totals from the rows."""
    capture_id, refund_id = refunded_capture_id(refund), refund.get("id")
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.capture_id == capture_id)) if capture_id else None
    if row is None or not refund_id or row.booking_id is None:
        return "ignored"
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == row.booking_id)
                                .execution_options(populate_existing=True))
    if receipt is None or receipt.provider != "paypal":
        return "ignored"
    if db.session.scalar(select(Refund.id).where(Refund.paypal_refund_id == refund_id)) is not None:
        return "already-applied"
    status = "succeeded" if refund.get("status") in ("COMPLETED", "PENDING") else "failed"
    invoice = str(refund.get("invoice_id") or "")
    ours = db.session.get(Refund, int(invoice.removeprefix(REFUND_INVOICE_PREFIX))) \
        if invoice.startswith(REFUND_INVOICE_PREFIX) and invoice.removeprefix(REFUND_INVOICE_PREFIX).isdigit() else None
    if ours is not None and ours.booking_id == row.booking_id and ours.paypal_refund_id is None:
        ours.paypal_refund_id, ours.status = refund_id, status
    else:
        amount_minor, currency = paypal.minor_amount(refund["amount"])
        db.session.add(Refund(booking_id=row.booking_id, paypal_refund_id=refund_id, status=status,
                              amount_minor=amount_minor, currency=currency, reason="Refunded outside the app",
                              created_at=now))
    refresh_refund_totals(db.session, receipt)
    return "refund-recorded"
