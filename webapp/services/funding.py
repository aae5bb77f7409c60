"""Who holds a booking's money, and the one place each money operation branches on it: capture at the tutor's
approval, release before capture (decline, expiry, cancellation), refund after capture.

A card hold is a Stripe PaymentIntent; a PayPal hold is an authorization of a PayPal order (the receipt says which:
`PaymentReceipt.provider`). Each function is a network call: callers hold no write transaction while it runs, and
every call carries an idempotency key (Stripe) or PayPal-Request-Id made from our ids, so a retry is answered, not
repeated. What PayPal answers is recorded on our PayPalOrder row in a short write of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from ..adapters import paypal
from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..models import Booking, PayPalOrder
from .authorizations import release_authorization
from .errors import Conflict, PaymentFailed
from .locks import LOCK_BOOKING
from .paypal_orders import REFUND_INVOICE_PREFIX, advance, order_row, record_authorization

CAPTURED_MEANWHILE = ("This payment was just captured, so it can no longer be released. Reload the page to see the "
                      "booking as it is now.")


def provider_of(booking: Booking) -> str:
    """"paypal" when the booking's money is held by PayPal, else "stripe" (cards, and bookings with no receipt)."""
    receipt = booking.receipt
    return receipt.provider if receipt is not None else "stripe"


def provider_name(booking: Booking) -> str:
    """The holder's name, for messages."""
    return "PayPal" if provider_of(booking) == "paypal" else "Stripe"


def _paypal_row(booking: Booking) -> PayPalOrder:
    row = order_row(booking.receipt.payment_intent_id)
    if row is None or row.authorization_id is None:
        raise PaymentFailed("We could not find this booking's PayPal authorization; please contact support.")
    return row


# --- capture -------------------------------------------------------------------------------------

def capture(booking: Booking, now: datetime) -> None:
    """Take the held money (the tutor approved). PaymentFailed in words when the provider refused or could not be
    reached; nothing changed then, and approving again retries with the same key."""
    if provider_of(booking) == "paypal":
        _capture_paypal(booking, now)
        return
    try:
        gateway.capture_payment_intent(booking.payment_intent_id, f"booking:{booking.id}:capture")
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not capture the payment; the booking is unchanged. "
                            f"({getattr(exc, 'user_message', None) or 'please try again'})") from exc


def _capture_paypal(booking: Booking, now: datetime) -> None:
    """Capture the live authorization; past its 3-day honor period, reauthorize first (PayPal gives the new
    authorization a new id and a new honor period) so the funds are sure, once."""
    row = _paypal_row(booking)
    booking_id, order_id, auth_id = booking.id, row.order_id, row.authorization_id
    reauthorize = row.honor_until is not None and now >= row.honor_until and auth_id == row.first_authorization_id
    end_read()  # PayPal is called outside any transaction
    api = paypal.client()
    if reauthorize:
        try:
            fresh = api.reauthorize(auth_id, request_id=f"booking:{booking_id}:paypal-reauthorize")
        except paypal.PayPalRefused as exc:
            # Refused (too late, or the honor period is not over on PayPal's clock): the authorization can still be
            # captured within its 29 days, only without the guarantee; go on with it.
            current_app.logger.warning("booking %s: reauthorize refused (%s); capturing the original", booking_id,
                                       exc.issue)
        except paypal.PayPalError as exc:
            raise PaymentFailed("PayPal could not be reached to capture the payment; the booking is unchanged. "
                                "Please try again.") from exc
        else:
            with serialized_write((LOCK_BOOKING, booking_id)):
                record_authorization(order_row(order_id), fresh, now)
            auth_id = fresh.id
    try:
        captured = api.capture_authorization(auth_id, request_id=f"booking:{booking_id}:capture:{auth_id}",
                                             invoice_id=f"lessonbook-booking-{booking_id}")
    except paypal.PayPalRefused as exc:
        if exc.issue == "AUTHORIZATION_ALREADY_CAPTURED":
            return  # captured by an earlier attempt whose answer we lost: the webhook records its id
        raise PaymentFailed(f"PayPal could not capture the payment; the booking is unchanged. ({exc})") from exc
    except paypal.PayPalError as exc:
        raise PaymentFailed("PayPal could not be reached to capture the payment; the booking is unchanged. "
                            "Please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)):
        row = order_row(order_id)
        if row.capture_id is None:
            row.capture_id = captured.id
        advance(row, "CAPTURED", now)


# --- release -------------------------------------------------------------------------------------

def release(booking: Booking, key: str, now: datetime) -> None:
    """Let an uncaptured hold go (decline, no approval in time, cancellation before approval). One already gone
    is fine; one captured meanwhile is a Conflict (releasing would keep the money with the booking closed)."""
    if provider_of(booking) == "paypal":
        void_paypal(booking.receipt.payment_intent_id, key, now)
    elif booking.payment_intent_id:  # legacy rows may lack one: there is then no authorization to release
        release_authorization(booking.payment_intent_id, key)


def void_paypal(order_id: str, key: str, now: datetime) -> None:
    """Void a PayPal order's authorization: always the first one (PayPal voids a reauthorization only through its
    parent); already voided or expired is fine."""
    row = order_row(order_id)
    if row is None or row.first_authorization_id is None or row.status == "VOIDED":
        return
    booking_id, first = row.booking_id, row.first_authorization_id
    end_read()
    try:
        paypal.client().void_authorization(first, request_id=key)
    except paypal.PayPalRefused as exc:
        if exc.issue in ("PREVIOUSLY_CAPTURED", "AUTHORIZATION_ALREADY_CAPTURED"):
            raise Conflict(CAPTURED_MEANWHILE) from exc
        if exc.issue not in ("PREVIOUSLY_VOIDED", "AUTHORIZATION_VOIDED", "AUTHORIZATION_EXPIRED"):
            raise PaymentFailed(f"PayPal could not release the payment; please try again. ({exc})") from exc
    except paypal.PayPalError as exc:
        raise PaymentFailed("PayPal could not be reached to release the payment; please try again.") from exc
    with serialized_write(*([(LOCK_BOOKING, booking_id)] if booking_id else [])):
        advance(order_row(order_id), "VOIDED", now)


# --- refund --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProviderRefund:
    """A refund the provider made: its id, our status word for it, and the refunds-table column its id goes in."""

    id: str
    status: str  # succeeded or failed
    id_column: str  # "stripe_refund_id" or "paypal_refund_id"


class RefundOutcomeUnknown(Exception):
    """No answer we can trust: the refund may or may not have been made; retrying with the same key finds out."""


class RefundRefused(Exception):
    """The provider refused; `exceeded` when it was more than is left on the payment."""

    def __init__(self, message: str, exceeded: bool):
        super().__init__(message)
        self.exceeded = exceeded


def send_refund(provider: str, reference: str, amount_minor: int, currency: str, key: str,
                row_id: int) -> ProviderRefund:
    """Refund `amount_minor` of a captured payment (`reference`: the receipt's PaymentIntent or PayPal order id);
    our refund row's id travels with it so the provider's notice finds the row."""
    if provider == "paypal":
        row = order_row(reference)
        capture_id = row.capture_id if row is not None else None
        end_read()
        if capture_id is None:
            raise RefundRefused("PayPal has not reported this payment as captured yet; try again in a minute.",
                                exceeded=False)
        try:
            made = paypal.client().refund_capture(capture_id, amount_minor=amount_minor, currency=currency,
                                                  request_id=key, invoice_id=f"{REFUND_INVOICE_PREFIX}{row_id}")
        except paypal.PayPalUnavailable as exc:
            raise RefundOutcomeUnknown(str(exc)) from exc
        except paypal.PayPalRefused as exc:
            raise RefundRefused(f"PayPal refused the refund ({exc})",
                                exceeded=exc.issue in ("REFUND_AMOUNT_EXCEEDED", "CAPTURE_FULLY_REFUNDED")) from exc
        return ProviderRefund(made.id, "failed" if made.status in ("FAILED", "CANCELLED") else "succeeded",
                              "paypal_refund_id")
    try:
        made = gateway.create_refund(reference, amount_minor, key, refund_row_id=row_id)
    except gateway.PaymentError as exc:
        if gateway.outcome_unknown(exc):
            raise RefundOutcomeUnknown(str(exc)) from exc
        code = gateway.error_code(exc)
        raise RefundRefused(f"Stripe refused the refund, so nothing was refunded. "
                            f"({getattr(exc, 'user_message', None) or code or 'please try again'})",
                            exceeded=code in ("amount_too_large", "charge_already_refunded")) from exc
    return ProviderRefund(made.id, "failed" if made.status in ("failed", "canceled") else "succeeded",
                          "stripe_refund_id")
