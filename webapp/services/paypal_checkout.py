"""Paying for a lesson with PayPal: an order with intent AUTHORIZE that the student approves on PayPal's page; back
on our site we authorize it, and the booking waits for the tutor's approval with the money held (REQUIRES_CAPTURE,
with a receipt), exactly as after a card payment. The webhook (CHECKOUT.ORDER.APPROVED, PAYMENT.AUTHORIZATION.CREATED)
is the backstop when the student never comes back. Capture, release and refunds go through `funding`.

One open order per booking and amount: a second click (or a second tab) gets the same approve link, and two clicks
at once send the same PayPal-Request-Id, so PayPal opens one order.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..adapters import paypal
from ..adapters.database import end_read, serialized_write
from ..domain.funding import Funding
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, PayPalOrder, User
from .bookings import get_booking, is_hold_lapsed
from .card_holds import Hold, record_hold
from .coupon_uses import release_reserved_coupon
from .errors import Conflict, NotFound, PaymentFailed
from .funding import void_paypal
from .locks import LOCK_BOOKING
from .paypal_orders import advance, order_row, record_authorization
from .quotes import record_quote

# PayPal keeps an order approvable for hours; we hand out the same one for at most this long.
ORDER_REUSE = timedelta(hours=3)
OPEN = ("CREATED", "APPROVED")


def available() -> bool:
    """Whether PayPal is offered here (it is configured)."""
    return paypal.configured()


@dataclass(frozen=True)
class Approval:
    """A booking's PayPal order waiting for the student: its id and the page where they approve it."""

    order_id: str
    approve_url: str


def start(user: User, booking_id: int, coupon_code: str | None, now: datetime, *, return_url: str,
          cancel_url: str) -> str:
    """The approve link of the booking's PayPal order for the quoted amount: the open one, or a new one."""
    return open_order(user, booking_id, coupon_code, now, return_url=return_url, cancel_url=cancel_url).approve_url


def open_order(user: User, booking_id: int, coupon_code: str | None, now: datetime, *, return_url: str,
               cancel_url: str) -> Approval:
    """The booking's PayPal order for the quoted amount, open for approval: the open one, or a new one."""
    if not available():
        raise Conflict("PayPal is not available here; please pay by card.")
    booking, quote = record_quote(user, booking_id, coupon_code, now)
    amount = quote.breakdown.student_pays
    reusable = db.session.scalar(select(PayPalOrder).where(
        PayPalOrder.booking_id == booking_id, PayPalOrder.status.in_(OPEN), PayPalOrder.amount_minor == amount,
        PayPalOrder.created_at > now - ORDER_REUSE).order_by(PayPalOrder.id.desc()).limit(1))
    if reusable is not None and reusable.approve_url:
        return Approval(reusable.order_id, reusable.approve_url)
    attempt = db.session.scalar(select(func.count()).select_from(PayPalOrder)
                                .where(PayPalOrder.booking_id == booking_id)) + 1
    lesson = booking.lesson
    description = f"{lesson.subject.name} lesson with {lesson.tutor.name} ({lesson.duration_minutes} min)"
    currency = booking.currency
    end_read()  # PayPal is called outside any transaction
    try:
        order = paypal.client().create_order(
            intent="AUTHORIZE", amount_minor=amount, currency=currency, custom_id=f"booking:{booking_id}",
            invoice_id=f"lessonbook-booking-{booking_id}-{attempt}", description=description, return_url=return_url,
            cancel_url=cancel_url, request_id=f"booking:{booking_id}:paypal-order:{attempt}:{amount}")
    except paypal.PayPalError as exc:
        release_reserved_coupon(booking_id)
        raise PaymentFailed("We could not open PayPal. Nothing was charged; please try again.") from exc
    try:
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            if session.scalar(select(PayPalOrder.id).where(PayPalOrder.order_id == order.id)) is None:
                # An open order for another amount (the coupon changed) must not be authorized any more.
                for older in session.scalars(select(PayPalOrder).where(PayPalOrder.booking_id == booking_id,
                                                                       PayPalOrder.status.in_(OPEN))):
                    advance(older, "CANCELLED", now)
                session.add(PayPalOrder(order_id=order.id, booking_id=booking_id, status="CREATED",
                                        request_id=f"booking:{booking_id}:paypal-order:{attempt}:{amount}",
                                        amount_minor=amount, currency=currency, approve_url=order.approve_url,
                                        created_at=now, updated_at=now))
    except IntegrityError:
        db.session.rollback()  # the other click of a double click recorded this very order (same PayPal-Request-Id)
    return Approval(order.id, order.approve_url)


def finish(user: User, booking_id: int, order_id: str | None, now: datetime) -> Booking:
    """Back from PayPal's page having approved: authorize the order and hold the booking for the tutor."""
    booking = get_booking(user, booking_id)
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.order_id == (order_id or ""),
                                                      PayPalOrder.booking_id == booking_id))
    if booking.booker_id != user.id or row is None:
        raise NotFound("We could not find that PayPal payment.")
    receipt = booking.receipt
    if receipt is not None and receipt.payment_intent_id == row.order_id:
        return booking  # back twice (a reload): already held
    if booking.state != BookingState.AWAITING_PAYMENT:
        raise Conflict("This booking is not waiting for payment any more, so PayPal was not charged.")
    if is_hold_lapsed(booking, now):
        raise Conflict("The hold on this slot expired before PayPal confirmed, so nothing was taken. Please book "
                       "again.")
    if row.status == "CANCELLED":
        raise Conflict("That PayPal payment was replaced by a newer one (the price changed), so nothing was taken. "
                       "Pay again from the booking.")
    authorize(booking_id, row.order_id, now)
    db.session.expire_all()
    return get_booking(user, booking_id)


def authorize(booking_id: int, order_id: str, now: datetime) -> str:
    """Authorize an approved order and record the hold; a hold the booking cannot keep any more (it lapsed or was
    paid otherwise meanwhile) is voided at once. Safe to repeat (PayPal-Request-Id from our ids)."""
    end_read()
    api = paypal.client()
    try:
        auth = api.authorize_order(order_id, request_id=f"booking:{booking_id}:paypal-authorize:{order_id}")
    except paypal.PayPalRefused as exc:
        if exc.issue != "ORDER_ALREADY_AUTHORIZED":
            if exc.issue == "ORDER_NOT_APPROVED":
                raise Conflict("PayPal has not confirmed your approval, so nothing was taken. Use Pay with PayPal "
                               "again.") from exc
            raise PaymentFailed(f"PayPal refused the payment, so nothing was taken. ({exc})") from exc
        try:
            units = api.get_order(order_id)["purchase_units"][0]
            auth = paypal.authorization_from(units["payments"]["authorizations"][0])
        except (paypal.PayPalError, KeyError, IndexError) as lookup:
            raise PaymentFailed("PayPal could not be reached to confirm the payment; reload this page to try "
                                "again.") from lookup
    except paypal.PayPalError as exc:
        raise PaymentFailed("PayPal could not be reached to confirm the payment; nothing was taken yet. Reload this "
                            "page to try again.") from exc
    after: list = []
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        outcome = hold_authorized(session.get(Booking, booking_id), order_row(order_id), auth, now, after)
    for call in after:
        call()
    return outcome


def hold_authorized(booking: Booking, row: PayPalOrder, auth: paypal.Authorization, now: datetime,
                    after: list) -> str:
    """Inside the booking's locked write: the order's money is held by `auth`; record it on the row and, if that is
    news, as the booking's hold (or void it after the commit when the booking cannot keep it)."""
    release = (lambda order_id=row.order_id, bid=booking.id:
               void_paypal(order_id, f"booking:{bid}:release:{order_id}", now))
    if not record_authorization(row, auth, now):
        if row.status == "CANCELLED" and row.first_authorization_id is None:
            # A replaced order approved in an old tab: its money must not stay held.
            row.authorization_id = row.first_authorization_id = auth.id
            after.append(release)
            return "released-replaced"
        if row.status in ("VOIDED", "CANCELLED") or row.authorization_id != auth.id:
            return "already-applied"
    hold = Hold("paypal", row.order_id, auth.amount_minor if auth.currency == booking.currency else None,
                current_app.config["PAYPAL_MAX_AUTHORIZATION_HOURS"], release=release, funding=Funding.PAYPAL)
    return record_hold(booking, hold, now, after)


def authorize_if_waiting(booking_id: int, order_id: str, now: datetime) -> None:
    """The webhook's backstop for a student who approved but never came back: authorize, unless the booking no longer
    waits for payment (then nothing is taken: an approved order that is never authorized holds no money)."""
    booking = db.session.get(Booking, booking_id)
    row = order_row(order_id)
    if booking is None or row is None or booking.state != BookingState.AWAITING_PAYMENT or row.status not in OPEN:
        return
    try:
        authorize(booking_id, order_id, now)
    except Conflict as exc:
        current_app.logger.info("paypal order %s not authorized by the backstop: %s", order_id, exc)
