"""What pays for a booking, behind one interface: a card authorization on Stripe, or prepaid minutes held on the
ledger. Approval, decline, approval expiry and cancellation ask the booking's strategy what to do instead of
branching on how it was paid; a minute-paid booking never calls Stripe.

Each operation has an outside part (a Stripe call, run before the write and outside any transaction, keyed by our
ids) and an inside part (run in the caller's locked write, beside the state change). Returning held minutes on
decline, expiry or cancellation before approval is done where every such booking ends, in
authorizations.close_before_capture.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from sqlalchemy.orm import Session

from ..adapters import stripe_gateway as gateway
from ..domain.funding import Funding
from ..models import Booking
from . import wallet
from .authorizations import recorded_after_stripe, release_authorization
from .errors import PaymentFailed


class CardFunding:
    """A Stripe card authorization (manual capture): captured at approval, released otherwise."""

    def capture(self, booking: Booking) -> None:
        """Take the authorized money (outside any transaction; the key makes a retry the same capture)."""
        try:
            gateway.capture_payment_intent(booking.payment_intent_id, f"booking:{booking.id}:capture")
        except gateway.PaymentError as exc:
            raise PaymentFailed("Stripe could not capture the payment; the booking is unchanged. "
                                f"({getattr(exc, 'user_message', None) or 'please try again'})") from exc

    def record_capture(self, session: Session, booking: Booking) -> None:
        """Nothing to write beside the state: the receipt was written at authorization."""

    def release(self, booking: Booking, key: str) -> None:
        """Release the authorization (legacy rows without one have nothing to release)."""
        if booking.payment_intent_id:
            release_authorization(booking.payment_intent_id, key)

    def recorded(self, message: str) -> AbstractContextManager:
        """Around the write recording what Stripe just did: a failure says so honestly."""
        return recorded_after_stripe(message)


class MinuteFunding:
    """Prepaid minutes with the tutor, held on the ledger when booked: posted at approval, returned otherwise."""

    def capture(self, booking: Booking) -> None:
        """Nothing outside: the minutes move in the approval's own write."""

    def record_capture(self, session: Session, booking: Booking) -> None:
        """Post the held minutes to the lesson (once: the ledger's key makes a second post nothing)."""
        wallet.post_hold(session, booking.id)

    def release(self, booking: Booking, key: str) -> None:
        """Nothing outside: close_before_capture returns the held minutes in the same write."""

    def recorded(self, message: str) -> AbstractContextManager:
        """No outside call happened, so a failed write is an ordinary error: nothing changed."""
        return nullcontext()


STRATEGIES = {Funding.CARD: CardFunding(), Funding.MINUTES: MinuteFunding()}


def funding_of(booking: Booking) -> CardFunding | MinuteFunding:
    """The strategy for how this booking is paid."""
    return STRATEGIES[Funding(booking.funding or Funding.CARD)]


def is_minutes(booking: Booking) -> bool:
    """Whether the booking is paid with prepaid minutes (pages word it so)."""
    return booking.funding == Funding.MINUTES
