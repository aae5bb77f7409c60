"""What pays for a booking, behind one interface: a card authorization on Stripe, prepaid minutes held on the ledger,
or a PayPal authorization. Approval, decline, approval expiry and cancellation ask the booking's strategy what to do
instead of branching on how it was paid; a minute-paid booking never calls Stripe, a PayPal-paid one calls PayPal.

Each operation has an outside part (a Stripe call, run before the write and outside any transaction, keyed by our
ids) and an inside part (run in the caller's locked write, beside the state change). Returning held minutes on
decline, expiry or cancellation before approval is done where every such booking ends, in
authorizations.close_before_capture. Refunds after capture go to whoever holds the money (`send_refund`, by the
receipt's provider).

A PayPal hold is the authorization of a PayPal order; what PayPal answers is recorded on our PayPalOrder row in a
short write of its own, and every call carries a PayPal-Request-Id made from our ids.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy.orm import Session

from ..adapters import paypal
from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.funding import Funding
from ..models import Booking, PayPalOrder
from . import wallet
from .authorizations import recorded_after_stripe, release_authorization
from .errors import Conflict, PaymentFailed
from .locks import LOCK_BOOKING
from .paypal_orders import REFUND_INVOICE_PREFIX, advance, order_row, record_authorization

HOLD_GONE = ("PayPal no longer holds this payment (the authorization expired or was withdrawn), so nothing was "
             "taken. The booking is closed and the time is free again; the student can book it afresh.")
CAPTURED_MEANWHILE = ("This payment was just captured, so it can no longer be released. Reload the page to see the "
                      "booking as it is now.")


class CardFunding:
    """A Stripe card authorization (manual capture): captured at approval, released otherwise."""

    name = "Stripe"

    def capture(self, booking: Booking, now: datetime | None = None) -> None:
        """Take the authorized money (outside any transaction; the key makes a retry the same capture)."""
        try:
            gateway.capture_payment_intent(booking.payment_intent_id, f"booking:{booking.id}:capture")
        except gateway.PaymentError as exc:
            raise PaymentFailed("Stripe could not capture the payment; the booking is unchanged. "
                                f"({getattr(exc, 'user_message', None) or 'please try again'})") from exc

    def record_capture(self, session: Session, booking: Booking) -> None:
        """Nothing to write beside the state: the receipt was written at authorization."""

    def release(self, booking: Booking, key: str, now: datetime | None = None) -> None:
        """Release the authorization (legacy rows without one have nothing to release)."""
        if booking.payment_intent_id:
            release_authorization(booking.payment_intent_id, key)

    def recorded(self, message: str) -> AbstractContextManager:
        """Around the write recording what Stripe just did: a failure says so honestly."""
        return recorded_after_stripe(message)


class MinuteFunding:
    """Prepaid minutes with the tutor, held on the ledger when booked: posted at approval, returned otherwise."""

    name = "The wallet"

    def capture(self, booking: Booking, now: datetime | None = None) -> None:
        """Nothing outside: the minutes move in the approval's own write."""

    def record_capture(self, session: Session, booking: Booking) -> None:
        """Post the held minutes to the lesson (once: the ledger's key makes a second post nothing)."""
        wallet.post_hold(session, booking.id)

    def release(self, booking: Booking, key: str, now: datetime | None = None) -> None:
        """Nothing outside: close_before_capture returns the held minutes in the same write."""

    def recorded(self, message: str) -> AbstractContextManager:
        """No outside call happened, so a failed write is an ordinary error: nothing changed."""
        return nullcontext()


class PayPalFunding:
    """A PayPal order's authorization (intent AUTHORIZE): captured at approval (reauthorized first past PayPal's
    3-day honor period), voided otherwise."""

    name = "PayPal"

    def capture(self, booking: Booking, now: datetime | None = None) -> None:
        """Take the authorized money (outside any transaction; the PayPal-Request-Id makes a retry the same)."""
        _capture_paypal(booking, now or datetime.now(UTC))

    def record_capture(self, session: Session, booking: Booking) -> None:
        """Nothing beside the state: the capture's id went on the order row when PayPal answered."""

    def release(self, booking: Booking, key: str, now: datetime | None = None) -> None:
        """Void the authorization (already voided or expired is fine; captured meanwhile is a Conflict)."""
        void_paypal(booking.receipt.payment_intent_id, key, now or datetime.now(UTC))

    def recorded(self, message: str) -> AbstractContextManager:
        """Around the write recording what PayPal just did: a failure says so honestly (a retry is answered by
        PayPal, not repeated)."""
        return recorded_after_stripe(message)


STRATEGIES = {Funding.CARD: CardFunding(), Funding.MINUTES: MinuteFunding(), Funding.PAYPAL: PayPalFunding()}


def funding_of(booking: Booking) -> CardFunding | MinuteFunding | PayPalFunding:
    """The strategy for how this booking is paid."""
    return STRATEGIES[Funding(booking.funding or Funding.CARD)]


def is_minutes(booking: Booking) -> bool:
    """Whether the booking is paid with prepaid minutes (pages word it so)."""
    return booking.funding == Funding.MINUTES


class PayPalHoldGone(PaymentFailed):
    """PayPal no longer knows the authorization, and its order shows nothing left to capture: no money is held."""


def _not_found(exc: paypal.PayPalRefused) -> bool:
    return exc.status == 404 or exc.name == "RESOURCE_NOT_FOUND" or exc.issue == "INVALID_RESOURCE_ID"


def _order_fate(api: paypal.PayPalClient, order_id: str) -> str:
    """After PayPal said an authorization does not exist, what its order says (outside any transaction):
    "captured" (some authorization was captured), "held" (one can still be captured), or "gone" (the order is
    unknown too, as after a restart of the local stand-in or PayPal purging it, or nothing on it can be captured)."""
    try:
        order = api.get_order(order_id)
    except paypal.PayPalRefused as exc:
        if _not_found(exc):
            return "gone"
        raise
    statuses = {auth.get("status") for unit in order.get("purchase_units") or []
                for auth in ((unit.get("payments") or {}).get("authorizations") or [])}
    if statuses & {"CAPTURED", "PARTIALLY_CAPTURED"}:
        return "captured"
    if statuses & {"CREATED", "PENDING"}:
        return "held"
    return "gone"


def _paypal_row(booking: Booking) -> PayPalOrder:
    row = order_row(booking.receipt.payment_intent_id)
    if row is None or row.authorization_id is None:
        raise PaymentFailed("We could not find this booking's PayPal authorization; please contact support.")
    return row



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
        current_app.logger.warning("booking %s: PayPal refused the capture of %s: %s %s (%s)", booking_id, auth_id,
                                   exc.status, exc.issue, exc)
        if exc.issue in ("AUTHORIZATION_EXPIRED", "AUTHORIZATION_VOIDED") or _not_found(exc):
            try:
                fate = _order_fate(api, order_id) if _not_found(exc) else "gone"
            except paypal.PayPalError as lookup:
                raise PaymentFailed("PayPal could not be reached to capture the payment; the booking is unchanged. "
                                    "Please try again.") from lookup
            if fate == "captured":
                return  # captured by an earlier attempt whose answer we lost: the webhook records its id
            if fate == "gone":
                with serialized_write((LOCK_BOOKING, booking_id)):
                    advance(order_row(order_id), "VOIDED", now)
                raise PayPalHoldGone(HOLD_GONE) from exc
        raise PaymentFailed("PayPal would not capture this payment, so nothing was taken and the booking is "
                            "unchanged. Please try again in a few minutes.") from exc
    except paypal.PayPalError as exc:
        raise PaymentFailed("PayPal could not be reached to capture the payment; the booking is unchanged. "
                            "Please try again.") from exc
    with serialized_write((LOCK_BOOKING, booking_id)):
        row = order_row(order_id)
        if row.capture_id is None:
            row.capture_id = captured.id
        advance(row, "CAPTURED", now)


def void_paypal(order_id: str, key: str, now: datetime) -> None:
    """Void a PayPal order's authorization: always the first one (PayPal voids a reauthorization only through its
    parent); already voided or expired is fine."""
    row = order_row(order_id)
    if row is None or row.first_authorization_id is None or row.status == "VOIDED":
        return
    booking_id, first = row.booking_id, row.first_authorization_id
    end_read()
    api = paypal.client()
    try:
        api.void_authorization(first, request_id=key)
    except paypal.PayPalRefused as exc:
        if exc.issue in ("PREVIOUSLY_CAPTURED", "AUTHORIZATION_ALREADY_CAPTURED"):
            raise Conflict(CAPTURED_MEANWHILE) from exc
        if _not_found(exc):
            # PayPal has no such authorization (purged after expiry, or a restarted stand-in lost it): ask its order
            # whether anything can still be captured; if not, no money is held and the booking may close.
            try:
                fate = _order_fate(api, order_id)
            except paypal.PayPalError as lookup:
                raise PaymentFailed("PayPal could not be reached to release the payment; please try again.") \
                    from lookup
            if fate == "captured":
                raise Conflict(CAPTURED_MEANWHILE) from exc
            if fate == "held":
                current_app.logger.error("booking %s: PayPal does not know authorization %s but order %s still "
                                         "holds one", booking_id, first, order_id)
                raise PaymentFailed("PayPal could not release the payment just now; please try again later. If "
                                    "this keeps happening, contact support.") from exc
            current_app.logger.warning("booking %s: PayPal no longer knows authorization %s (order %s: %s); "
                                       "nothing is held, so it is recorded as released", booking_id, first,
                                       order_id, exc.issue)
        elif exc.issue not in ("PREVIOUSLY_VOIDED", "AUTHORIZATION_VOIDED", "AUTHORIZATION_EXPIRED"):
            current_app.logger.warning("booking %s: PayPal refused the void of %s: %s %s (%s)", booking_id, first,
                                       exc.status, exc.issue, exc)
            raise PaymentFailed("PayPal would not release the payment just now; please try again in a few "
                                "minutes.") from exc
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
