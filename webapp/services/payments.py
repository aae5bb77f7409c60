"""Paying for a booking: quote (fees and coupon), Stripe Checkout, webhooks, tutor approval, expiry.

The redirect back from Stripe only shows status; webhooks move the money states (stored by event id,
applied once, states only move forward). Every Stripe POST carries an idempotency key from our ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..adapters.queue import get_queue
from ..domain.coupons import CouponTerms, coupon_problem, discount_for, normalize_code
from ..domain.fees import CommissionRates, FeeBreakdown, fee_breakdown
from ..domain.refunds import RefundPolicy
from ..domain.states import BookingState, next_booking_state
from ..extensions import db
from ..filters import local
from ..models import Booking, Commission, Coupon, CouponUse, Lesson, PaymentReceipt, StripeEvent, User
from . import meetings, outbox
from .authorizations import close_before_capture, expire_checkout_session, recorded_after_stripe, release_authorization
from .bookings import get_booking, is_hold_lapsed
from .cancellations import book_stripe_refunds
from .errors import BadWebhook, Conflict, NotFound, PaymentFailed, ServiceError, ValidationError
from .lesson_messages import tell_booked, tell_not_booked, tell_receipt
from .locks import LOCK_BOOKING, LOCK_COUPON
from .payouts import sync_account
from .urls import public_url

NO_RATES = CommissionRates(0, 0, 0, 0, 0)


@dataclass(frozen=True)
class Quote:
    """What the student will pay for a booking, with the coupon (if any) and the problem with it (if any)."""

    breakdown: FeeBreakdown
    commission_id: int | None
    coupon: Coupon | None
    coupon_code: str
    coupon_problem: str | None


# --- quoting -------------------------------------------------------------------------------------

def active_commission() -> Commission | None:
    """The one active commission, if any."""
    return db.session.scalar(select(Commission).where(Commission.active.is_(True)))


def rates_of(commission: Commission | None) -> CommissionRates:
    """Commission row → domain rates (no commission means no fees)."""
    if commission is None:
        return NO_RATES
    return CommissionRates(commission.commission_fee_bp, commission.service_fee_bp, commission.payout_fee_bp,
                           commission.payout_amount_fee_minor, commission.account_management_amount_fee_minor)


def coupon_terms(coupon: Coupon) -> CouponTerms:
    """Coupon row → domain terms."""
    return CouponTerms(code=coupon.code, usage=coupon.usage, discount_type=coupon.discount_type,
                       amount_minor=coupon.amount_minor, percent_bp=coupon.percent_bp,
                       max_discount_amount_minor=coupon.max_discount_amount_minor, currency=coupon.currency,
                       valid_from=coupon.valid_from, valid_until=coupon.valid_until,
                       max_total_uses=coupon.max_total_uses, active=coupon.active)


UNKNOWN_COUPON = "We do not know that code. Check the spelling."


def _coupon_refusal(code_text: str | None, problem: str) -> ServiceError:
    """Why a coupon cannot be used, as the error it is: a code that cannot be one is wrong input (422); which codes
    exist, and what each allows now, is the state of the world: unknown is 404, unusable 409."""
    try:
        normalize_code(code_text)
    except ValueError:
        return ValidationError(problem, {"coupon": problem})
    kind = NotFound if problem == UNKNOWN_COUPON else Conflict
    return kind(problem, {"coupon": problem})


def _coupon_for(code_text: str | None, user: User, booking: Booking, now: datetime) -> tuple[Coupon | None, str, str | None]:
    if not (code_text or "").strip():
        return None, "", None
    try:
        code = normalize_code(code_text)
    except ValueError as exc:
        return None, str(code_text).strip()[:40], str(exc)
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
    if coupon is None:
        return None, code, UNKNOWN_COUPON
    others = select(func.count()).select_from(CouponUse).where(CouponUse.coupon_id == coupon.id,
                                                                CouponUse.booking_id != booking.id)
    problem = coupon_problem(coupon_terms(coupon), now=now, currency=booking.currency,
                             uses_by_user=db.session.scalar(others.where(CouponUse.user_id == user.id)),
                             total_uses=db.session.scalar(others))
    return (None if problem else coupon), code, problem


def quote_booking(user: User, booking: Booking, coupon_code: str | None, now: datetime) -> Quote:
    """Price the booking for its booker: lesson price, coupon discount and service fee."""
    coupon, code, problem = _coupon_for(coupon_code, user, booking, now)
    commission = active_commission()
    discount = discount_for(coupon_terms(coupon), booking.price_minor) if coupon else 0
    breakdown = fee_breakdown(booking.price_minor, booking.currency, rates_of(commission), discount)
    return Quote(breakdown, commission.id if commission else None, coupon, code, problem)


def payable_booking(user: User, booking_id: int, now: datetime) -> Booking:
    """The user's own booking that can still be paid, or an error in words."""
    booking = get_booking(user, booking_id)
    if booking.booker_id != user.id:
        raise NotFound("We could not find that booking.")
    if booking.state != BookingState.AWAITING_PAYMENT:
        raise Conflict("This booking is not waiting for payment any more.")
    if is_hold_lapsed(booking, now):
        raise Conflict("The hold on this slot has expired, so it can no longer be paid. Please book again.")
    return booking


# --- checkout ------------------------------------------------------------------------------------

def _prepare_payment(user: User, booking_id: int, coupon_code: str | None, now: datetime,
                     hold_until: datetime | None = None, new_checkout: bool = False) -> tuple[Booking, Quote]:
    """Quote the booking, reserve its coupon and record the quote, in one write transaction.

    With ``new_checkout`` it also numbers a new Checkout attempt and forgets the previous session, so that
    session's late ``checkout.session.expired`` event cannot release the coupon this attempt reserves."""
    booking = payable_booking(user, booking_id, now)
    quote = quote_booking(user, booking, coupon_code, now)
    if quote.coupon_problem:
        raise _coupon_refusal(coupon_code, quote.coupon_problem)
    with serialized_write((LOCK_BOOKING, booking_id), (LOCK_COUPON, quote.coupon.id if quote.coupon else 0)) as session:
        booking = session.get(Booking, booking_id)
        if booking.state != BookingState.AWAITING_PAYMENT:
            raise Conflict("This booking is not waiting for payment any more.")
        session.execute(delete(CouponUse).where(CouponUse.booking_id == booking.id, CouponUse.confirmed.is_(False)))
        if quote.coupon:
            _reserve_coupon(quote.coupon, user, booking, quote.breakdown.discount)
        booking.quote = {"breakdown": quote.breakdown.as_dict(), "commission_id": quote.commission_id,
                         "coupon_id": quote.coupon.id if quote.coupon else None}
        if hold_until:
            booking.hold_expires_at = max(booking.hold_expires_at, hold_until)
        if new_checkout:
            booking.checkout_attempt = (booking.checkout_attempt or 0) + 1
            booking.checkout_session_id = None
    return booking, quote


def _release_reserved_coupon(booking_id: int) -> None:
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        session.execute(delete(CouponUse).where(CouponUse.booking_id == booking_id, CouponUse.confirmed.is_(False)))


# A session closer than this to its expiry is not worth resuming: the student could not finish paying on it.
RESUME_MARGIN = timedelta(minutes=5)


def start_checkout(user: User, booking_id: int, coupon_code: str | None, now: datetime, *, success_url: str,
                   cancel_url: str) -> str:
    """Resume the booking's open Checkout Session, or expire it and open a fresh one; returns the page's URL.

    Stripe is called outside any write transaction: read → call with a key naming this attempt → a short
    write that re-checks the booking. A fresh session is a new numbered attempt with a key of its own."""
    booking = payable_booking(user, booking_id, now)
    quote = quote_booking(user, booking, coupon_code, now)
    if quote.coupon_problem:
        raise ValidationError(quote.coupon_problem, {"coupon": quote.coupon_problem})
    previous = _retrieve_session(booking.checkout_session_id) if booking.checkout_session_id else None
    if previous is not None:
        if previous.status == "complete":
            raise Conflict("Your payment is being confirmed. Refresh the booking in a moment.")
        if _resumable(previous, booking, quote, now):
            return previous.url
    cfg = current_app.config
    # Stripe keeps a session open at least 30 minutes; the slot stays held while it is, but never more than
    # one session-length past the booking's original hold.
    session_minutes = timedelta(minutes=cfg["CHECKOUT_MIN_MINUTES"] + 1)
    latest = booking.created_at + timedelta(minutes=cfg["BOOKING_HOLD_MINUTES"]) + session_minutes
    expires_at = min(max(now + session_minutes, booking.hold_expires_at), max(latest, now + session_minutes))
    if booking.checkout_session_id and (previous is None or previous.status == "open"):
        expire_checkout_session(booking.checkout_session_id)  # one payable page per booking
    booking, quote = _prepare_payment(user, booking_id, coupon_code, now, hold_until=expires_at, new_checkout=True)
    attempt = booking.checkout_attempt
    lesson = booking.lesson
    try:
        checkout = gateway.create_checkout_session(
            amount_minor=quote.breakdown.student_pays, currency=booking.currency,
            product_name=f"{lesson.subject.name} lesson with {lesson.tutor.name} ({lesson.duration_minutes} min)",
            booking_id=booking.id, customer_email=user.email, success_url=success_url, cancel_url=cancel_url,
            expires_at=int(expires_at.timestamp()), idempotency_key=f"booking:{booking.id}:checkout:{attempt}")
    except gateway.PaymentError as exc:
        _release_reserved_coupon(booking_id)
        raise PaymentFailed("We could not open the payment page. Nothing was charged; please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        booking = session.get(Booking, booking_id)
        current = booking.state == BookingState.AWAITING_PAYMENT and booking.checkout_attempt == attempt
        if current:
            booking.checkout_session_id = checkout.id
    if not current:
        # Another click (a second tab) opened a newer page meanwhile, or the booking moved on: this one must not stay payable.
        expire_checkout_session(checkout.id)
        raise Conflict("This booking changed while the payment page was opening. Open the booking again to pay.")
    return checkout.url


def _resumable(session, booking: Booking, quote: Quote, now: datetime) -> bool:
    """An open session for exactly this quote (amount and coupon) with time left to pay on it."""
    agreed = booking.quote or {}
    return (session.status == "open" and bool(session.url)
            and session.amount_total == quote.breakdown.student_pays
            and agreed.get("coupon_id") == (quote.coupon.id if quote.coupon else None)
            and datetime.fromtimestamp(session.expires_at, UTC) - now >= RESUME_MARGIN)


def pay_with_payment_method(user: User, booking_id: int, payment_method: str, coupon_code: str | None,
                            now: datetime, *, return_url: str) -> dict:
    """The mobile path (seed 002): a confirmed PaymentIntent with manual capture for a payment method.

    Answers what the client needs next: ``requires_capture`` (done; the webhook records it),
    ``requires_action`` (finish 3-D Secure at ``next_action``), or a card error in words."""
    if not isinstance(payment_method, str) or not payment_method.startswith(("pm_", "card_", "tok_")):
        raise ValidationError("Send the payment method id from Stripe (pm_...).",
                              {"payment_method": "A Stripe payment method id such as pm_card_visa."})
    booking, quote = _prepare_payment(user, booking_id, coupon_code, now)
    key = f"booking:{booking.id}:pay:{payment_method}:{quote.breakdown.student_pays}"
    try:
        intent = gateway.create_payment_intent(amount_minor=quote.breakdown.student_pays, currency=booking.currency,
                                               payment_method=payment_method, booking_id=booking.id,
                                               idempotency_key=key)
    except gateway.CardError as exc:
        _release_reserved_coupon(booking_id)
        raise ValidationError(exc.user_message or "Your card was declined.",
                              {"payment_method": exc.user_message or "Declined."}) from exc
    except gateway.InvalidRequest as exc:
        _release_reserved_coupon(booking_id)
        # Stripe answers resource_missing for an id it does not have; the local stand-in (localstripe) answers a
        # bare 400 or 404 with no code at all, which Stripe itself never does.
        if exc.code != "resource_missing" and not (exc.code is None and exc.http_status in (400, 404)):
            raise PaymentFailed("We could not take the payment. Nothing was charged; please try again.") from exc
        # The client sent a payment method id Stripe does not have: its mistake, not an outage.
        raise NotFound("Stripe has no such payment method; nothing was charged.",
                       {"payment_method": "Stripe has no payment method with this id."}) from exc
    except gateway.PaymentError as exc:
        _release_reserved_coupon(booking_id)
        raise PaymentFailed("We could not take the payment. Nothing was charged; please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        session.get(Booking, booking_id).payment_intent_id = intent.id
    answer = {"booking_id": booking.id, "payment_intent_id": intent.id, "status": intent.status,
              "client_secret": intent.client_secret, "amount_minor": intent.amount, "currency": booking.currency}
    if intent.status == "requires_action":
        answer["next_action"] = intent.next_action.to_dict() if intent.next_action else None
    return answer


def _reserve_coupon(coupon: Coupon, user: User, booking: Booking, discount: int) -> None:
    """Take the lowest free per-user and per-coupon slot (unique constraints make a lost race an error)."""
    taken = db.session.execute(select(CouponUse.user_id, CouponUse.user_slot, CouponUse.total_slot).where(
        CouponUse.coupon_id == coupon.id)).all()
    terms = coupon_terms(coupon)
    user_slots = {row.user_slot for row in taken if row.user_id == user.id}
    total_slots = {row.total_slot for row in taken}
    user_slot = next(n for n in range(1, len(user_slots) + 2) if n not in user_slots)
    total_slot = next(n for n in range(1, len(total_slots) + 2) if n not in total_slots)
    if user_slot > terms.usage.uses_per_user or (coupon.max_total_uses and total_slot > coupon.max_total_uses):
        raise ValidationError("This code has just been used up.", {"coupon": "This code has just been used up."})
    db.session.add(CouponUse(coupon_id=coupon.id, user_id=user.id, booking_id=booking.id, user_slot=user_slot,
                             total_slot=total_slot, discount_minor=discount))
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise ValidationError("This code has just been used up.", {"coupon": "This code has just been used up."}) from exc


def _retrieve_session(session_id: str):
    """The Checkout Session, or None when Stripe cannot tell us (then a fresh one is opened)."""
    try:
        return gateway.retrieve_checkout_session(session_id)
    except gateway.PaymentError:
        return None


def payment_status(user: User, booking_id: int) -> dict:
    """What the student sees while the webhook catches up: our booking state and Stripe's PaymentIntent status."""
    booking = get_booking(user, booking_id)
    pi_status = None
    if booking.payment_intent_id or booking.checkout_session_id:
        try:
            pi_id = booking.payment_intent_id or _session_payment_intent(booking.checkout_session_id)
            pi_status = gateway.retrieve_payment_intent(pi_id).status if pi_id else None
        except gateway.PaymentError:
            pi_status = None
    return {"booking_id": booking.id, "booking_state": booking.state, "payment_intent_status": pi_status}


def _session_payment_intent(session_id: str) -> str | None:
    pi = gateway.retrieve_checkout_session(session_id).payment_intent
    return pi if isinstance(pi, str) or pi is None else pi.id


# --- webhooks ------------------------------------------------------------------------------------

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
            session.add(StripeEvent(id=event.id, type=event.type, payload=event.to_dict(for_json=True),
                                    received_at=now))
    except IntegrityError:
        return "duplicate"  # the same event, delivered twice at once: the other delivery stored it
    _enqueue_apply(event.id)
    return "stored"


def _enqueue_apply(event_id: str) -> None:
    """Ask a worker to apply the event now; if Redis is down the periodic sweep applies it later."""
    try:
        get_queue().enqueue("webapp.jobs.apply_stripe_event", event_id)
    except Exception:  # noqa: BLE001 — Redis down or unreachable: the stored event waits for the sweep
        current_app.logger.warning("could not enqueue stripe event %s; the sweep will apply it", event_id)


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
    fetch = _FETCHERS.get(event_type)
    fetched = fetch(obj, booking_id) if fetch else None
    locks = [(LOCK_BOOKING, booking_id)] if booking_id else []
    after: list = []
    with serialized_write(*locks) as session:
        record = session.get(StripeEvent, event_id, populate_existing=True, with_for_update=True)
        if record.processed_at is not None:
            return record.outcome or "already-applied"
        handler = _HANDLERS.get(event_type)
        # Handlers work on plain dicts (the event's object as sent, and what was fetched), never on SDK objects.
        outcome = handler(obj, fetched, now, after) if handler else "ignored"
        record.attempts = (record.attempts or 0) + 1
        record.outcome, record.last_error = outcome, None
        if not after:
            record.processed_at = now
    if after:
        for call in after:
            call()  # raises on failure: the event stays unapplied and the sweep tries again
        with serialized_write(*locks) as session:
            record = session.get(StripeEvent, event_id, populate_existing=True, with_for_update=True)
            if record.processed_at is None:
                record.processed_at = now
    return outcome


def apply_stored_events(now: datetime, limit: int = 500) -> int:
    """The sweep: apply every stored event not applied yet, oldest first (a Redis outage or a failed job only
    delays them); returns how many were applied."""
    ids = list(db.session.scalars(select(StripeEvent.id).where(StripeEvent.processed_at.is_(None))
                                  .order_by(StripeEvent.received_at, StripeEvent.id).limit(limit)))
    end_read()
    applied = 0
    for event_id in ids:
        try:
            apply_event(event_id, now)
            applied += 1
        except Exception as exc:  # noqa: BLE001 — one bad event must not hold up the others
            db.session.rollback()
            current_app.logger.warning("stripe event %s not applied yet: %s", event_id, exc)
            with serialized_write() as session:
                record = session.get(StripeEvent, event_id, populate_existing=True)
                if record is not None and record.processed_at is None:
                    record.attempts = (record.attempts or 0) + 1
                    record.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    return applied


def _event_booking_id(event_type: str, obj: dict) -> int | None:
    """The booking an event is about (its lock key), from its metadata or, for charges, our receipt."""
    booking_id = (obj.get("metadata") or {}).get("booking_id") or obj.get("client_reference_id")
    if str(booking_id or "").isdigit():
        return int(booking_id)
    if event_type.startswith("charge."):
        return db.session.scalar(select(PaymentReceipt.booking_id).where(PaymentReceipt.charge_id == obj.get("id"))) \
            or db.session.scalar(select(PaymentReceipt.booking_id).where(
                PaymentReceipt.payment_intent_id == obj.get("payment_intent")))
    return None


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
    booking = _booking_for_metadata(session_obj)
    if booking is None or pi is None:
        return "ignored"
    return _authorized(booking, pi, now, after)


def _on_amount_capturable(pi, _fetched, now: datetime, after: list) -> str:
    booking = _booking_for_metadata(pi)
    return _authorized(booking, pi, now, after) if booking else "ignored"


def _authorized(booking: Booking, pi, now: datetime, after: list) -> str:
    """The card is authorized: AWAITING_PAYMENT → REQUIRES_CAPTURE with a receipt (once; later states win)."""
    if pi.get("status") != "requires_capture":
        return "ignored"
    if booking.state != BookingState.AWAITING_PAYMENT:
        receipt = booking.receipt
        if receipt is not None and receipt.payment_intent_id == pi["id"]:
            return "already-applied"
        # Paid after the hold lapsed, after cancelling, or a second payment for a booking already paid: release it
        # (after the commit; the event counts as applied once the release went through).
        after.append(lambda pi_id=pi["id"], bid=booking.id: release_authorization(pi_id, f"booking:{bid}:release:{pi_id}"))
        return "released"
    quote = booking.quote or {}
    first_of_month = _first_paid_lesson_of_month(booking.lesson.tutor_id, now)
    commission = db.session.get(Commission, quote["commission_id"]) if quote.get("commission_id") else None
    agreed = FeeBreakdown.from_dict(quote["breakdown"]) if quote.get("breakdown") else None
    discount = agreed.discount if agreed else 0
    breakdown = fee_breakdown(booking.price_minor, booking.currency, rates_of(commission), discount, first_of_month)
    if breakdown.student_pays != pi.get("amount"):
        # An older checkout paid after the quote changed (say a coupon was added): never keep money we did not quote.
        current_app.logger.warning("booking %s: authorized %s but quoted %s; releasing it", booking.id,
                                   pi.get("amount"), breakdown.student_pays)
        after.append(lambda pi_id=pi["id"], bid=booking.id: release_authorization(pi_id, f"booking:{bid}:release:{pi_id}"))
        return "released-mismatch"
    booking.state = next_booking_state(booking.state, BookingState.REQUIRES_CAPTURE)
    booking.payment_intent_id = pi["id"]
    booking.authorized_at = now
    booking.approval_deadline = approval_deadline(booking.lesson.start_at, now)
    booking.updated_at = now
    charge = pi.get("latest_charge")
    db.session.add(PaymentReceipt(
        booking_id=booking.id, payment_intent_id=pi["id"],
        charge_id=charge if isinstance(charge, str) else (charge or {}).get("id"),
        amount_minor=breakdown.student_pays, currency=booking.currency, application_fee_id=None,
        application_fee_amount_minor=breakdown.platform_take, commission_id=commission.id if commission else None,
        coupon_id=quote.get("coupon_id"), breakdown=breakdown.as_dict(), tutor_payout_minor=breakdown.tutor_payout,
        created_at=now))
    db.session.execute(CouponUse.__table__.update().where(CouponUse.booking_id == booking.id).values(confirmed=True))
    db.session.flush()
    _tell_tutor_to_approve(booking)
    tell_receipt(booking)
    return "authorized"


def approval_deadline(lesson_start: datetime, authorized_at: datetime) -> datetime:
    """When an unapproved authorization is released: the approval window, never after the lesson starts,
    never more than five days after authorization (card holds lapse after about seven)."""
    cfg = current_app.config
    return min(authorized_at + timedelta(hours=cfg["APPROVAL_WINDOW_HOURS"]), lesson_start,
               authorized_at + timedelta(hours=cfg["MAX_AUTHORIZATION_HOURS"]))


def _first_paid_lesson_of_month(tutor_id: int, now: datetime) -> bool:
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earlier = db.session.scalar(select(func.count()).select_from(PaymentReceipt).join(Booking).join(Lesson).where(
        Lesson.tutor_id == tutor_id, PaymentReceipt.created_at >= month_start,
        Booking.state.notin_([BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED])))
    return earlier == 0


def _tell_tutor_to_approve(booking: Booking) -> None:
    lesson, tutor = booking.lesson, booking.lesson.tutor
    student = (lesson.children[0].name if lesson.children else lesson.students[0].name if lesson.students else "")
    outbox.enqueue_email("booking_awaiting_approval", tutor.email, {
        "tutor_name": tutor.name, "student_name": student, "subject": lesson.subject.name,
        "when": local(lesson.start_at, tutor.timezone), "zone": tutor.timezone,
        "deadline": local(booking.approval_deadline, tutor.timezone),
        "link": public_url("/tutor/")}, dedupe_key=f"booking:{booking.id}:awaiting-approval")


def _on_session_expired(session_obj, _fetched, now: datetime, _after: list) -> str:
    booking = _booking_for_metadata(session_obj)
    if booking is None or booking.checkout_session_id != session_obj.get("id"):
        return "ignored"
    db.session.execute(delete(CouponUse).where(CouponUse.booking_id == booking.id, CouponUse.confirmed.is_(False)))
    return "coupon-released"


def _on_payment_canceled(pi, _fetched, now: datetime, _after: list) -> str:
    booking = _booking_for_metadata(pi)
    if booking is None or booking.state != BookingState.REQUIRES_CAPTURE or booking.payment_intent_id != pi.get("id"):
        return "ignored"
    close_before_capture(booking, BookingState.EXPIRED, now)
    return "expired"


def _fetch_refunds(charge, booking_id: int | None) -> list[dict] | None:
    """charge.refunded: the charge's refunds, each with its id, read from Stripe (the event may not list them)."""
    pi_id = charge.get("payment_intent")
    return gateway.list_refunds(pi_id) if booking_id and isinstance(pi_id, str) else None


def _on_charge_refunded(charge, refunds, now: datetime, _after: list) -> str:
    """Every refund reaches our books once, by its Stripe id: ours (matched to the row that asked for it) and
    those made outside the app (the Stripe dashboard)."""
    booking_id = _event_booking_id("charge.refunded", charge)
    if booking_id is None or refunds is None:
        return "ignored"
    return book_stripe_refunds(db.session, booking_id, refunds)


def _on_account_updated(account, _fetched, now: datetime, _after: list) -> str:
    return sync_account(account)


_FETCHERS = {
    "checkout.session.completed": _fetch_session_pi,
    "charge.refunded": _fetch_refunds,
}


_HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    "payment_intent.amount_capturable_updated": _on_amount_capturable,
    "checkout.session.expired": _on_session_expired,
    "payment_intent.canceled": _on_payment_canceled,
    "charge.refunded": _on_charge_refunded,
    "account.updated": _on_account_updated,
}


# --- approval and release ------------------------------------------------------------------------

def _tutor_booking(tutor: User, booking_id: int) -> Booking:
    booking = db.session.scalar(select(Booking).join(Lesson).where(Booking.id == booking_id,
                                                                   Lesson.tutor_id == tutor.id))
    if booking is None:
        raise NotFound("We could not find that booking.")
    return booking


def approve(tutor: User, booking_id: int, now: datetime) -> Booking:
    """The tutor approves: capture the authorization (→ PAID) and freeze the refund policy."""
    booking = _tutor_booking(tutor, booking_id)
    if booking.state == BookingState.PAID:
        return booking  # a double click: already done
    if booking.state != BookingState.REQUIRES_CAPTURE:
        raise Conflict("This booking is not waiting for your approval.")
    if booking.approval_deadline and booking.approval_deadline <= now:
        raise Conflict("The time to approve this booking has passed; the payment was released.")
    try:
        gateway.capture_payment_intent(booking.payment_intent_id, f"booking:{booking.id}:capture")
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not capture the payment; the booking is unchanged. "
                            f"({getattr(exc, 'user_message', None) or 'please try again'})") from exc
    with recorded_after_stripe("Stripe captured the payment but we could not record it yet. Approve again to "
                               "record it; it will not be charged twice."):
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id, populate_existing=True)
            if booking.state == BookingState.REQUIRES_CAPTURE:
                booking.state = next_booking_state(booking.state, BookingState.PAID)
                booking.refund_policy = RefundPolicy().as_dict()
                booking.updated_at = now
                tell_booked(booking.lesson)
    meetings.request_sync(booking.lesson_id)  # approved: an online lesson gets its meeting (the sweep backs this up)
    return booking


def decline(tutor: User, booking_id: int, now: datetime) -> Booking:
    """The tutor declines: release the authorization, free the slot, give the coupon back."""
    booking = _tutor_booking(tutor, booking_id)
    if booking.state == BookingState.DECLINED:
        return booking
    if booking.state != BookingState.REQUIRES_CAPTURE:
        raise Conflict("This booking is not waiting for your approval.")
    release_authorization(booking.payment_intent_id, f"booking:{booking.id}:release")
    with recorded_after_stripe("Stripe released the payment but we could not record it yet. Decline again to "
                               "record it."):
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id, populate_existing=True)
            if booking.state == BookingState.REQUIRES_CAPTURE:
                close_before_capture(booking, BookingState.DECLINED, now)
                tell_not_booked(booking)
    return booking


def expire_unapproved(now: datetime) -> int:
    """Release authorizations the tutor did not approve in time (the scheduled job; safe to run twice)."""
    ids = list(db.session.scalars(select(Booking.id).where(
        Booking.state == BookingState.REQUIRES_CAPTURE, Booking.approval_deadline <= now)))
    expired = 0
    for booking_id in ids:
        booking = db.session.get(Booking, booking_id)
        if booking.state != BookingState.REQUIRES_CAPTURE:
            continue
        try:
            release_authorization(booking.payment_intent_id, f"booking:{booking.id}:release")
        except (PaymentFailed, Conflict):
            db.session.rollback()
            continue  # Stripe down: the next run tries again; captured meanwhile: the tutor approved in time
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            booking = session.get(Booking, booking_id)
            if booking.state == BookingState.REQUIRES_CAPTURE:  # a second worker may have done it meanwhile
                close_before_capture(booking, BookingState.EXPIRED, now)
                tell_not_booked(booking, expired=True)
                expired += 1
    return expired


def expire_open_checkouts(booking_ids: list[int]) -> None:
    """After holds lapse: close their Checkout Sessions and give reserved coupons back.

    Each Stripe call runs outside any transaction; each booking's coupons go back in a short one of its own."""
    for booking_id in booking_ids:
        session_id = db.session.scalar(select(Booking.checkout_session_id).where(Booking.id == booking_id))
        end_read()
        if session_id:
            expire_checkout_session(session_id)
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            session.execute(delete(CouponUse).where(CouponUse.booking_id == booking_id,
                                                    CouponUse.confirmed.is_(False)))
