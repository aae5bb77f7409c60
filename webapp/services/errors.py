"""Errors services raise; the shells turn them into pages or JSON without knowing the details."""
from __future__ import annotations


class ServiceError(Exception):
    """Base: a message for the user, an HTTP status, and optional per-field messages."""

    status = 400
    details: dict = {}  # extra members of a JSON error (say the fresh refundable amount), beside the message

    def __init__(self, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(ServiceError):
    """The input is wrong; `fields` says which part."""

    status = 422


class NotFound(ServiceError):
    """The object does not exist, or the user may not see it (the two look the same, on purpose)."""

    status = 404


class NotOffered(NotFound):
    """The tutor does not offer what was asked (that subject, level or way of teaching): 404 to API clients, while
    the booker page shows it beside its choices like a wrong input."""


class Forbidden(ServiceError):
    """The user is known but may not do this."""

    status = 403


class Conflict(ServiceError):
    """The request was valid but the world changed (a slot was just taken)."""

    status = 409


class Unavailable(ServiceError):
    """A service the action needs (Redis, a provider) cannot be reached; nothing was done, try again later."""

    status = 503


class AlreadyYours(Conflict):
    """The slot is held by a booking this user already made (Back, then Book again)."""

    def __init__(self, booking_id: int):
        self.booking_id = booking_id
        self.details = {"booking_id": booking_id}  # API clients get the booking's id beside the message
        super().__init__("You already hold this time: this is your booking.", {"start": "You already hold this time."})


class SlotTaken(Conflict):
    """Someone else booked the slot first."""

    def __init__(self, message: str = "That slot was just taken. Please pick another time."):
        super().__init__(message, {"start": message})


class PaymentFailed(ServiceError):
    """Stripe refused or could not be reached; nothing changed on our side."""

    status = 502


class NotRecorded(ServiceError):
    """Stripe did what was asked but our record of it failed; a retry (same idempotency key) records it."""

    status = 503


class BadWebhook(ServiceError):
    """A webhook whose signature or body does not verify; Stripe will retry, we change nothing."""

    status = 400


class AccountSuspended(Forbidden):
    """The password is right but an admin suspended the account: it cannot log in (or book) until reactivated."""

    def __init__(self, reason: str = ""):
        self.reason = reason
        message = "This account is suspended"
        message += f": {reason.rstrip('.')}." if reason else "."
        super().__init__(message + " Contact support if you think this is a mistake.")
