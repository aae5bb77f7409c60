"""Stripe's webhooks, the one dispatcher: store each event once by id, then apply it through the service that owns
what it reports (card holds, coupon uses, authorizations, refunds, Connect accounts). States only move forward;
every Stripe POST a handler leads to carries an idempotency key from our ids."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, PaymentReceipt, StripeEvent
from . import package_refunds, packages, stored_events, subscription_checkouts, subscriptions, wallet
from .authorizations import close_before_capture
from .cancellations import book_stripe_refunds
from .card_holds import record_card_hold
from .coupon_uses import give_back_reserved_uses
from .errors import BadWebhook
from .locks import LOCK_BOOKING
from .payouts import sync_account


def receive_webhook(payload: bytes, signature: str | None, now: datetime) -> str:
    """Verify the signature and store the event by id (once), then answer: a job applies it ("stored"), a replay
    is acknowledged ("duplicate"). Nothing here calls Stripe, so Stripe's retries never wait on our lock."""
    try:
        event = gateway.construct_event(payload, signature)
    except (gateway.SignatureError, ValueError) as exc:
        raise BadWebhook("Invalid webhook signature or payload.") from exc
    try:
        with serialized_write() as session:
            if session.get(StripeEvent, event.id) is not None:
                return "duplicate"
            payload = event.to_dict(for_json=True)
            session.add(StripeEvent(id=event.id, type=event.type, payload=payload, received_at=now,
                                    booking_id=_event_booking_id(event.type, (payload.get("data") or {})
                                                                 .get("object") or {})))
    except IntegrityError:
        return "duplicate"  # the same event, delivered twice at once: the other delivery stored it
    _enqueue_apply(event.id)
    return "stored"


def _enqueue_apply(event_id: str) -> None:
    """Ask a worker to apply the event now; with Redis down the periodic sweep applies it later."""
    stored_events.enqueue_apply("webapp.jobs.apply_stripe_event", event_id, "stripe")


def apply_event(event_id: str, now: datetime) -> str:
    """Apply one stored event, once: read what it needs from Stripe outside any transaction, then re-check and
    record in one short locked transaction; Stripe calls it decides on (releasing an authorization) run after
    that commit, and the event counts as applied only when they succeeded (each is idempotent, keyed by our ids)."""
    record = db.session.get(StripeEvent, event_id)
    if record is None:
        return "missing"
    if record.processed_at is not None:
        return record.outcome or "already-applied"
    event_type, obj = record.type, record.payload["data"]["object"]
    booking_id = _event_booking_id(event_type, obj)
    end_read()  # end the read transaction: what follows may call Stripe
    is_subscription = subscriptions.subscription_id_of(event_type, obj) is not None
    fetch = _FETCHERS.get(event_type)
    if is_subscription:  # Stripe's subscription now, whatever order its events came in
        fetched = subscriptions.fetch_subscription(event_type, obj)
    else:
        fetched = fetch(obj, booking_id) if fetch else None
    locks = [(LOCK_BOOKING, booking_id)] if booking_id else []
    locks += packages.event_locks(obj) if event_type.startswith("checkout.session.") else []
    locks += subscriptions.event_locks(event_type, obj)
    locks += subscription_checkouts.refund_locks(obj) if event_type in REFUND_EVENTS and booking_id is None else []
    locks += _package_charge_locks(event_type, obj) if booking_id is None else []
    if event_type == "checkout.session.completed":
        locks += subscription_checkouts.card_update_locks(obj)
    after: list = []
    with serialized_write(*locks) as session:
        record = session.get(StripeEvent, event_id, populate_existing=True, with_for_update=True)
        if record.processed_at is not None:
            return record.outcome or "already-applied"
        handler = _HANDLERS.get(event_type)
        # Handlers work on plain dicts (the event's object as sent, and what was fetched), never on SDK objects.
        if is_subscription:
            outcome = subscriptions.apply_event(event_type, obj, fetched, now)
            _after_subscription_event(event_type, obj, fetched, now, after)
        else:
            outcome = handler(obj, fetched, now, after) if handler else "ignored"
        record.attempts = (record.attempts or 0) + 1
        record.outcome, record.last_error = outcome, None
        record.booking_id = record.booking_id or booking_id
        if not after:
            record.processed_at = now
    if after:
        stored_events.finish_after(StripeEvent, event_id, locks, after, now)
    return outcome


def _after_subscription_event(event_type: str, obj: dict, fetched, now: datetime, after: list) -> None:
    """The Stripe calls a subscription event leads to, run once its transaction committed: a duplicate subscription
    is cancelled and refunded; a paid Checkout expires the student's other open ones with the tutor."""
    duplicate = subscription_checkouts.duplicates_to_close(fetched.sub["id"] if fetched else None)
    if duplicate is not None:
        after.append(lambda: subscription_checkouts.close_duplicate(duplicate, now))
    if event_type == "checkout.session.completed":
        after.append(lambda: subscription_checkouts.after_subscribe_completed(obj, now))


def apply_stored_events(now: datetime, limit: int = 500) -> int:
    """The sweep: apply every stored event not applied yet, oldest first (a Redis outage or a failed job only
    delays them); returns how many were applied."""
    return stored_events.sweep(StripeEvent, apply_event, now, limit, "stripe")


def _event_booking_id(event_type: str, obj: dict) -> int | None:
    """The booking an event is about (its lock key), from its metadata or, for charges, our receipt."""
    booking_id = (obj.get("metadata") or {}).get("booking_id") or obj.get("client_reference_id")
    if str(booking_id or "").isdigit() and len(str(booking_id)) < 10:  # an id, not a number past the column
        return int(booking_id)
    if obj.get("object") == "refund":  # charge.refund.updated, refund.*: the refund names its charge
        return _receipt_booking(obj.get("charge"), obj.get("payment_intent"))
    if event_type.startswith("charge."):
        return _receipt_booking(obj.get("id"), obj.get("payment_intent"))
    return None


def _receipt_booking(charge_id: object, payment_intent_id: object) -> int | None:
    """The booking whose receipt holds this charge or PaymentIntent."""
    found = None
    if isinstance(charge_id, str) and charge_id:
        found = db.session.scalar(select(PaymentReceipt.booking_id).where(PaymentReceipt.charge_id == charge_id))
    if found is None and isinstance(payment_intent_id, str) and payment_intent_id:
        found = db.session.scalar(select(PaymentReceipt.booking_id).where(
            PaymentReceipt.payment_intent_id == payment_intent_id))
    return found


def _booking_for_metadata(obj) -> Booking | None:
    metadata = obj.get("metadata") or {}
    booking_id = metadata.get("booking_id") or obj.get("client_reference_id")
    if not booking_id or not str(booking_id).isdigit():
        return None
    return db.session.get(Booking, int(booking_id))


def _session_pi_id(session_obj) -> str | None:
    pi = session_obj.get("payment_intent")
    return pi if isinstance(pi, str) else (pi or {}).get("id")


def _fetch_session_pi(session_obj, booking_id: int | None) -> dict | None:
    """checkout.session.completed names its PaymentIntent; its status and amount are read from Stripe."""
    pi_id = _session_pi_id(session_obj)
    return gateway.retrieve_payment_intent(pi_id).to_dict() if booking_id and pi_id else None


def _on_checkout_completed(session_obj, pi, now: datetime, after: list) -> str:
    if packages.purchase_id_of(session_obj) is not None:  # a package of minutes, not a booking
        return packages.on_checkout_completed(session_obj, now)
    if subscription_checkouts.card_update_of(session_obj) is not None:  # a new card for a monthly plan
        after.append(lambda: subscription_checkouts.apply_saved_card(session_obj["id"], now))
        return "card-saved"
    booking = _booking_for_metadata(session_obj)
    if booking is None or pi is None:
        return "ignored"
    return record_card_hold(booking, pi, now, after)


def _on_amount_capturable(pi, _fetched, now: datetime, after: list) -> str:
    booking = _booking_for_metadata(pi)
    return record_card_hold(booking, pi, now, after) if booking else "ignored"


def _on_session_expired(session_obj, _fetched, now: datetime, _after: list) -> str:
    if packages.purchase_id_of(session_obj) is not None:  # a package's Checkout lapsed unpaid
        return packages.on_checkout_expired(session_obj, now)
    booking = _booking_for_metadata(session_obj)
    if booking is None or booking.checkout_session_id != session_obj.get("id"):
        return "ignored"
    give_back_reserved_uses(booking.id)
    return "coupon-released"


def _on_payment_canceled(pi, _fetched, now: datetime, _after: list) -> str:
    booking = _booking_for_metadata(pi)
    if booking is None or booking.state != BookingState.REQUIRES_CAPTURE or booking.payment_intent_id != pi.get("id"):
        return "ignored"
    close_before_capture(booking, BookingState.EXPIRED, now)
    return "expired"


def _package_charge_locks(event_type: str, charge: dict) -> list[tuple[int, int]]:
    """A charge of a package purchase (not a booking), or a refund of one: its events lock the buyer's wallet."""
    if not event_type.startswith(("charge.", "refund.")):
        return []
    purchase = package_refunds.purchase_for_payment_intent(charge.get("payment_intent"))
    student_id = purchase.student_id if purchase is not None else None
    end_read()
    return [wallet.wallet_lock(student_id)] if student_id else []


def _fetch_refunds(charge, booking_id: int | None) -> list[dict] | None:
    """charge.refunded: the charge's refunds, each with its id, read from Stripe (the event may not list them);
    for a booking's charge or a package purchase's."""
    pi_id = charge.get("payment_intent")
    if not isinstance(pi_id, str):
        return None
    if booking_id is None:
        is_package = package_refunds.purchase_for_payment_intent(pi_id) is not None
        end_read()
        if not is_package:
            return None
    return gateway.list_refunds(pi_id)


def _on_charge_refunded(charge, refunds, now: datetime, _after: list) -> str:
    """Every refund reaches our books once, by its Stripe id: ours (matched to the row that asked for it) and
    those made outside the app (the Stripe dashboard)."""
    booking_id = _event_booking_id("charge.refunded", charge)
    if booking_id is None and refunds is not None:
        purchase = package_refunds.purchase_for_payment_intent(charge.get("payment_intent"))
        if purchase is not None:  # a package's payment refunded (from Stripe's Dashboard, or ours answered here)
            return package_refunds.book_stripe_refunds(purchase, refunds, now)
    if booking_id is None or refunds is None:
        return "ignored"
    return book_stripe_refunds(db.session, booking_id, refunds, now)


REFUND_EVENTS = ("charge.refund.updated", "refund.updated", "refund.failed")


def _fetch_refund(refund_obj, _booking_id: int | None) -> dict | None:
    """A refund's event: the refund as Stripe has it now, so events arriving late or out of order agree."""
    refund_id = refund_obj.get("id")
    return gateway.retrieve_refund(refund_id) if refund_obj.get("object") == "refund" and refund_id else None


def _on_refund_updated(refund_obj, refund, now: datetime, _after: list) -> str:
    """A refund changed at Stripe (most often: it failed after Stripe accepted it): booked once on the booking,
    the package purchase or the duplicate subscription it refunded, by its id."""
    refund = refund or refund_obj
    booking_id = _receipt_booking(refund.get("charge"), refund.get("payment_intent"))
    if booking_id is not None:
        return book_stripe_refunds(db.session, booking_id, [refund], now)
    purchase = package_refunds.purchase_for_payment_intent(refund.get("payment_intent"))
    if purchase is not None:
        return package_refunds.book_stripe_refunds(purchase, [refund], now)
    return subscription_checkouts.duplicate_refund_changed(refund, now)


def _on_account_updated(account, _fetched, now: datetime, _after: list) -> str:
    return sync_account(account)


_FETCHERS = {
    "checkout.session.completed": _fetch_session_pi,
    "charge.refunded": _fetch_refunds,
    **{kind: _fetch_refund for kind in REFUND_EVENTS},
}


_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "payment_intent.amount_capturable_updated": _on_amount_capturable,
    "checkout.session.expired": _on_session_expired,
    "payment_intent.canceled": _on_payment_canceled,
    "charge.refunded": _on_charge_refunded,
    "account.updated": _on_account_updated,
    **{kind: _on_refund_updated for kind in REFUND_EVENTS},
}

