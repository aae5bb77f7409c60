"""What PayPal's webhook events tell us about an order, recorded on our PayPalOrder row (see `paypal_orders`: its
status only moves forward) and its booking. Every function here runs inside the caller's locked write (the booking's
lock); PayPal calls they decide on are appended to ``after`` for the caller to run once that write has committed.
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
from .paypal_checkout import authorize_if_waiting, hold_authorized
from .paypal_orders import REFUND_INVOICE_PREFIX, advance, order_row, record_authorization


def order_approved(order_id: str | None, now: datetime, after: list) -> str:
    """CHECKOUT.ORDER.APPROVED: the buyer approved on PayPal's page (our return handler normally acts first)."""
    row = order_row(order_id)
    if row is None:
        return "ignored"
    if not advance(row, "APPROVED", now):
        return "already-applied"
    if row.booking_id is not None:
        # The student may never come back to our return page: authorize from here (after the commit).
        after.append(lambda bid=row.booking_id, oid=row.order_id: authorize_if_waiting(bid, oid, now))
    return "approved"


def authorization_created(order_id: str | None, auth: paypal.Authorization, now: datetime, after: list) -> str:
    """PAYMENT.AUTHORIZATION.CREATED: record the authorization on its order row and, if our return page has not
    yet, as the booking's hold (a hold the booking cannot keep is voided after the commit)."""
    row = order_row(order_id)
    if row is None:
        return "ignored"
    booking = db.session.get(Booking, row.booking_id) if row.booking_id else None
    if booking is None:
        return "authorized" if record_authorization(row, auth, now) else "already-applied"
    return hold_authorized(booking, row, auth, now, after)


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
