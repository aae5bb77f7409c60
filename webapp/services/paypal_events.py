"""PayPal webhooks: verified with PayPal (verify-webhook-signature), stored by event id, applied once by a job.

The endpoint only verifies and stores, so PayPal's retries never wait on our locks; `apply_event` moves our
PayPalOrder row forward (its status never moves back, so events replayed or arriving in any order agree with each
other and with what our own calls recorded) and lets `paypal_holds` act on the booking.
"""
from __future__ import annotations

import json
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..adapters import paypal
from ..adapters.database import end_read, serialized_write
from ..extensions import db
from ..models import PackagePurchase, PayPalEvent, PayPalOrder
from . import package_paypal, package_refunds, paypal_holds, stored_events, wallet
from .errors import BadWebhook, Unavailable
from .locks import LOCK_BOOKING
from .paypal_orders import order_row

MAX_EVENT_BYTES = 256 * 1024


def receive_webhook(payload: bytes, headers, now: datetime) -> str:
    """Verify one delivery with PayPal and store it by id (once), then answer: "stored" (a job applies it) or
    "duplicate" (a replay). A forged or unreadable delivery is a BadWebhook (400); PayPal unreachable is Unavailable
    (503), so PayPal delivers it again later instead of it being lost."""
    if len(payload) > MAX_EVENT_BYTES:
        raise BadWebhook("Webhook body too large.")
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise BadWebhook("Webhook body is not JSON.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("id"), str) or \
            not isinstance(event.get("event_type"), str) or not isinstance(event.get("resource"), dict):
        raise BadWebhook("Webhook body is not a PayPal event.")
    if not paypal.configured():
        raise BadWebhook("PayPal is not configured here.")
    try:
        genuine = paypal.client().verify_webhook(payload, headers)
    except paypal.PayPalError as exc:
        current_app.logger.warning("could not verify paypal event %s: %s", event["id"], exc)
        raise Unavailable("Could not verify the event with PayPal now; deliver it again later.") from exc
    if not genuine:
        raise BadWebhook("Invalid webhook signature.")
    try:
        with serialized_write() as session:
            if session.get(PayPalEvent, event["id"]) is not None:
                return "duplicate"
            session.add(PayPalEvent(id=event["id"][:255], type=event["event_type"][:100], payload=event,
                                    received_at=now, booking_id=_booking_of(event["event_type"], event["resource"])))
    except IntegrityError:
        return "duplicate"  # the same event delivered twice at once: the other delivery stored it
    _enqueue_apply(event["id"])
    return "stored"


def _enqueue_apply(event_id: str) -> None:
    """Ask a worker to apply the event now; with Redis down the periodic sweep applies it later."""
    stored_events.enqueue_apply("webapp.jobs.apply_paypal_event", event_id, "paypal")


def _order_id_of(event_type: str, resource: dict) -> str | None:
    """The PayPal order an event is about: the order itself, or the order its payment belongs to."""
    if event_type.startswith("CHECKOUT.ORDER."):
        return resource.get("id")
    related = ((resource.get("supplementary_data") or {}).get("related_ids") or {})
    return related.get("order_id")


def _owner_of(event_type: str, resource: dict) -> tuple[int | None, int | None]:
    """(booking id, package buyer id) of the order an event is about (through our order row or, for refunds, the
    capture's row); (None, None) for an order we do not know."""
    order_id = _order_id_of(event_type, resource)
    capture_id = None if order_id else paypal_holds.refunded_capture_id(resource)
    if not order_id and not capture_id:
        return None, None
    where = PayPalOrder.order_id == order_id if order_id else PayPalOrder.capture_id == capture_id
    found = db.session.execute(select(PayPalOrder.booking_id, PackagePurchase.student_id)
                               .outerjoin(PackagePurchase, PackagePurchase.id == PayPalOrder.purchase_id)
                               .where(where)).first()
    return (found[0], found[1]) if found is not None else (None, None)


def _booking_of(event_type: str, resource: dict) -> int | None:
    """The booking an event is about, if it is about one (its timeline lists the event)."""
    return _owner_of(event_type, resource)[0]


def _locks_of(booking_id: int | None, student_id: int | None) -> list[tuple[int, int]]:
    """The locks applying an event takes: its booking's, or for a package's order the buyer's wallet."""
    return [(LOCK_BOOKING, booking_id)] if booking_id else [wallet.wallet_lock(student_id)] if student_id else []


def apply_event(event_id: str, now: datetime) -> str:
    """Apply one stored event, once: decide and record in one short locked transaction; PayPal calls it decides on
    (authorizing an approved order, voiding an authorization nobody wants) run after that commit, and the event
    counts as applied only once they succeeded (each carries a PayPal-Request-Id made from our ids)."""
    record = db.session.get(PayPalEvent, event_id)
    if record is None:
        return "missing"
    if record.processed_at is not None:
        return record.outcome or "already-applied"
    event_type, resource = record.type, record.payload.get("resource") or {}
    booking_id, student_id = _owner_of(event_type, resource)
    locks = _locks_of(booking_id, student_id)
    end_read()
    after: list = []
    with serialized_write(*locks) as session:
        record = session.get(PayPalEvent, event_id, populate_existing=True, with_for_update=True)
        if record.processed_at is not None:
            return record.outcome or "already-applied"
        handler = _HANDLERS.get(event_type)
        outcome = handler(resource, now, after) if handler else "ignored"
        record.attempts = (record.attempts or 0) + 1
        record.outcome, record.last_error = outcome, None
        record.booking_id = record.booking_id or booking_id
        if not after:
            record.processed_at = now
    if after:
        stored_events.finish_after(PayPalEvent, event_id, locks, after, now)
    return outcome


def apply_stored_events(now: datetime, limit: int = 500) -> int:
    """The sweep: apply every stored event not applied yet, oldest first (a Redis outage or a failed job only
    delays them); returns how many were applied."""
    return stored_events.sweep(PayPalEvent, apply_event, now, limit, "paypal")


def _on_order_approved(order: dict, now: datetime, after: list) -> str:
    row = order_row(order.get("id"))
    if row is not None and row.purchase_id is not None:
        return package_paypal.order_approved(row, now, after)
    return paypal_holds.order_approved(order.get("id"), now, after)


def _on_authorization_created(authorization: dict, now: datetime, after: list) -> str:
    return paypal_holds.authorization_created(_order_id_of("PAYMENT.AUTHORIZATION.CREATED", authorization),
                                              paypal.authorization_from(authorization), now, after)


def _on_authorization_voided(authorization: dict, now: datetime, _after: list) -> str:
    return paypal_holds.authorization_voided(_order_id_of("PAYMENT.AUTHORIZATION.VOIDED", authorization),
                                             paypal.authorization_from(authorization), now)


def _on_capture_completed(capture: dict, now: datetime, _after: list) -> str:
    row = order_row(_order_id_of("PAYMENT.CAPTURE.COMPLETED", capture))
    if row is not None and row.purchase_id is not None:
        return package_paypal.capture_completed(row, capture, now)
    return paypal_holds.capture_completed(_order_id_of("PAYMENT.CAPTURE.COMPLETED", capture), capture.get("id"),
                                          now)


def _on_capture_refunded(refund: dict, now: datetime, _after: list) -> str:
    capture_id = paypal_holds.refunded_capture_id(refund)
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.capture_id == capture_id)) if capture_id else None
    if row is not None and row.purchase_id is not None:  # a package's capture refunded
        return package_refunds.paypal_refund_reported(row, refund, now)
    return paypal_holds.refund_reported(refund, now)


_HANDLERS = {
    "CHECKOUT.ORDER.APPROVED": _on_order_approved,
    "PAYMENT.AUTHORIZATION.CREATED": _on_authorization_created,
    "PAYMENT.AUTHORIZATION.VOIDED": _on_authorization_voided,
    "PAYMENT.CAPTURE.COMPLETED": _on_capture_completed,
    "PAYMENT.CAPTURE.REFUNDED": _on_capture_refunded,
}
