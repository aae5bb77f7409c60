"""A card authorization (hold) for a booking: placed from a payment method (the mobile path), and recorded when
Stripe reports one (AWAITING_PAYMENT → REQUIRES_CAPTURE with a receipt, waiting for the tutor's approval)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..adapters import stripe_gateway as gateway
from ..adapters.database import serialized_write
from ..domain import limits
from ..domain.analytics import EventName, dedupe_id
from ..domain.fees import FeeBreakdown, fee_breakdown
from ..domain.funding import Funding
from ..domain.labels import held_for_approval
from ..domain.states import BookingState, next_booking_state
from ..extensions import db
from ..filters import local
from ..models import Booking, Commission, Lesson, PaymentReceipt, User
from . import outbox
from .analytics import record_event
from .authorizations import release_authorization
from .coupon_uses import confirm_coupon_uses, release_reserved_coupon
from .errors import NotFound, PaymentFailed, ValidationError
from .lesson_messages import tell_receipt
from .locks import LOCK_BOOKING
from .quotes import rates_of, record_quote
from .urls import public_url


def pay_with_payment_method(user: User, booking_id: int, payment_method: str, coupon_code: str | None,
                            now: datetime, *, return_url: str) -> dict:
    """The mobile path (seed 002): a confirmed PaymentIntent with manual capture for a payment method.

    Answers what the client needs next: ``requires_capture`` (done; the webhook records it),
    ``requires_action`` (finish 3-D Secure at ``next_action``), or a card error in words."""
    if not isinstance(payment_method, str) or not payment_method.startswith(limits.PAYMENT_METHOD_PREFIXES):
        raise ValidationError("Send the payment method id from Stripe (pm_...).",
                              {"payment_method": "A Stripe payment method id such as pm_card_visa."})
    booking, quote = record_quote(user, booking_id, coupon_code, now)
    key = f"booking:{booking.id}:pay:{payment_method}:{quote.breakdown.student_pays}"
    try:
        intent = gateway.create_payment_intent(amount_minor=quote.breakdown.student_pays, currency=booking.currency,
                                               payment_method=payment_method, booking_id=booking.id,
                                               idempotency_key=key)
    except gateway.CardError as exc:
        release_reserved_coupon(booking_id)
        raise ValidationError(exc.user_message or "Your card was declined.",
                              {"payment_method": exc.user_message or "Declined."}) from exc
    except gateway.InvalidRequest as exc:
        release_reserved_coupon(booking_id)
        # Stripe answers resource_missing for an id it does not have; the local stand-in (localstripe) answers a
        # bare 400 or 404 with no code at all, which Stripe itself never does.
        if exc.code != "resource_missing" and not (exc.code is None and exc.http_status in (400, 404)):
            raise PaymentFailed("We could not take the payment. Nothing was charged; please try again.") from exc
        # The client sent a payment method id Stripe does not have: its mistake, not an outage.
        raise NotFound("Stripe has no such payment method; nothing was charged.",
                       {"payment_method": "Stripe has no payment method with this id."}) from exc
    except gateway.PaymentError as exc:
        release_reserved_coupon(booking_id)
        raise PaymentFailed("We could not take the payment. Nothing was charged; please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        session.get(Booking, booking_id).payment_intent_id = intent.id
    answer = {"booking_id": booking.id, "payment_intent_id": intent.id, "status": intent.status,
              "client_secret": intent.client_secret, "amount_minor": intent.amount, "currency": booking.currency}
    if intent.status == "requires_action":
        answer["next_action"] = intent.next_action.to_dict() if intent.next_action else None
    return answer


@dataclass(frozen=True)
class Hold:
    """Money some provider holds for a booking, as `record_hold` needs it: who holds it, the reference the receipt
    keeps (a PaymentIntent id, a PayPal order id), the amount, how long that provider's hold may wait for the
    tutor's approval, and how to let it go."""

    provider: str  # "stripe" or "paypal"
    reference: str
    amount_minor: int | None
    max_hours: int
    release: Callable[[], None]
    payment_intent_id: str | None = None  # Stripe's, kept on the booking too
    charge_id: str | None = None
    funding: Funding = Funding.CARD  # the booking's strategy from now on (see services/funding.py)


def record_card_hold(booking: Booking, pi: dict, now: datetime, after: list) -> str:
    """The card is authorized: record it as the booking's hold (see `record_hold`)."""
    if pi.get("status") != "requires_capture":
        return "ignored"
    charge = pi.get("latest_charge")
    return record_hold(booking, Hold(
        "stripe", pi["id"], pi.get("amount"), current_app.config["MAX_AUTHORIZATION_HOURS"],
        release=lambda pi_id=pi["id"], bid=booking.id: release_authorization(pi_id, f"booking:{bid}:release:{pi_id}"),
        payment_intent_id=pi["id"], charge_id=charge if isinstance(charge, str) else (charge or {}).get("id")),
        now, after)


def record_hold(booking: Booking, hold: Hold, now: datetime, after: list) -> str:
    """The money is held: AWAITING_PAYMENT → REQUIRES_CAPTURE with a receipt (once; later states win).

    Runs inside the caller's locked write; a hold we must not keep is released by `hold.release`, appended to
    ``after``, which the caller runs once that write has committed."""
    if booking.state != BookingState.AWAITING_PAYMENT:
        receipt = booking.receipt
        if receipt is not None and receipt.payment_intent_id == hold.reference:
            return "already-applied"
        # Paid after the hold lapsed, after cancelling, or a second payment for a booking already paid: release it
        # (after the commit; the event counts as applied once the release went through).
        after.append(hold.release)
        return "released"
    quote = booking.quote or {}
    first_of_month = _first_paid_lesson_of_month(booking.lesson.tutor_id, now)
    commission = db.session.get(Commission, quote["commission_id"]) if quote.get("commission_id") else None
    agreed = FeeBreakdown.from_dict(quote["breakdown"]) if quote.get("breakdown") else None
    discount = agreed.discount if agreed else 0
    breakdown = fee_breakdown(booking.price_minor, booking.currency, rates_of(commission), discount, first_of_month)
    if breakdown.student_pays != hold.amount_minor:
        # An older checkout paid after the quote changed (say a coupon was added): never keep money we did not quote.
        current_app.logger.warning("booking %s: authorized %s but quoted %s; releasing it", booking.id,
                                   hold.amount_minor, breakdown.student_pays)
        after.append(hold.release)
        return "released-mismatch"
    booking.state = next_booking_state(booking.state, BookingState.REQUIRES_CAPTURE)
    if hold.payment_intent_id:
        booking.payment_intent_id = hold.payment_intent_id
    booking.funding = hold.funding
    booking.authorized_at = now
    booking.approval_deadline = approval_deadline(booking.lesson.start_at, now, hold.max_hours)
    booking.updated_at = now
    db.session.add(PaymentReceipt(
        booking_id=booking.id, provider=hold.provider, payment_intent_id=hold.reference, charge_id=hold.charge_id,
        amount_minor=breakdown.student_pays, currency=booking.currency, application_fee_id=None,
        application_fee_amount_minor=breakdown.platform_take, commission_id=commission.id if commission else None,
        coupon_id=quote.get("coupon_id"), breakdown=breakdown.as_dict(), tutor_payout_minor=breakdown.tutor_payout,
        created_at=now))
    confirm_coupon_uses(booking.id)
    db.session.flush()
    record_event(db.session, EventName.BOOKING_PAID, dedupe=dedupe_id(EventName.BOOKING_PAID, booking.id), at=now,
                 user_id=booking.booker_id, booking_id=booking.id, tutor_id=booking.lesson.tutor_id,
                 amount_minor=breakdown.student_pays, platform_take_minor=breakdown.platform_take,
                 currency=booking.currency, provider=hold.provider, coupon_id=quote.get("coupon_id"))
    tell_tutor_to_approve(booking)
    tell_receipt(booking)
    return "authorized"


def approval_deadline(lesson_start: datetime, authorized_at: datetime, max_hours: int | None = None) -> datetime:
    """When an unapproved authorization is released: the approval window, never after the lesson starts, never
    later than the provider's hold can wait (cards: five days, as card holds lapse after about seven; PayPal: a day
    inside its 29-day authorization)."""
    cfg = current_app.config
    return min(authorized_at + timedelta(hours=cfg["APPROVAL_WINDOW_HOURS"]), lesson_start,
               authorized_at + timedelta(hours=max_hours or cfg["MAX_AUTHORIZATION_HOURS"]))


def _first_paid_lesson_of_month(tutor_id: int, now: datetime) -> bool:
    month_start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    earlier = db.session.scalar(select(func.count()).select_from(PaymentReceipt).join(Booking).join(Lesson).where(
        Lesson.tutor_id == tutor_id, PaymentReceipt.created_at >= month_start,
        Booking.state.notin_([BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED])))
    return earlier == 0


def tell_tutor_to_approve(booking: Booking) -> None:
    """Email the tutor that a paid booking waits for their approval (once per booking)."""
    lesson, tutor = booking.lesson, booking.lesson.tutor
    student = (lesson.children[0].name if lesson.children else lesson.students[0].name if lesson.students else "")
    held, unanswered = held_for_approval(booking.funding, lesson.duration_minutes)
    outbox.enqueue_email("booking_awaiting_approval", tutor.email, {
        "tutor_name": tutor.name, "student_name": student, "subject": lesson.subject.name, "held": held,
        "unanswered": unanswered,
        "when": local(lesson.start_at, tutor.timezone), "zone": tutor.timezone,
        "deadline": local(booking.approval_deadline, tutor.timezone),
        "link": public_url("/tutor/")}, dedupe_key=f"booking:{booking.id}:awaiting-approval")
