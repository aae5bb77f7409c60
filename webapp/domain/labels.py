"""Human words for states: the one place every page, email and API text takes them from.

A booking has two separate facts: where the lesson stands and where the money stands. A refund is not a
cancellation, so each is worded on its own ("Lesson: booked · Payment: £10.00 refunded of £38.00").
"""
from __future__ import annotations

from datetime import datetime

from .funding import Funding
from .money import Money
from .packages import PurchaseState, RefundStatus, refund_status
from .states import BookingState, LessonState

BOOKING_STATE_LABELS: dict[str, str] = {
    BookingState.AWAITING_PAYMENT: "Awaiting payment",
    BookingState.REQUIRES_CAPTURE: "Card authorized, awaiting approval",
    BookingState.PAID: "Paid",
    BookingState.REFUNDED: "Refunded",
    BookingState.PARTIAL_REFUNDED: "Partly refunded",
    BookingState.EXPIRED: "Expired",
    BookingState.DECLINED: "Declined",
    BookingState.CANCELLED: "Cancelled before payment",
}

LESSON_STATE_LABELS: dict[str, str] = {
    LessonState.ACTIVE: "Booked",
    LessonState.RESCHEDULE: "New time proposed",
    LessonState.CANCELLED: "Cancelled",
}


def clock_time(hour: int, minute: int, clock: str = "24") -> str:
    """A wall-clock time on the viewer's chosen clock: '13:30' (24-hour) or '1:30pm' (12-hour)."""
    if clock == "12":
        return f"{hour % 12 or 12}:{minute:02d}{'am' if hour < 12 else 'pm'}"
    return f"{hour:02d}:{minute:02d}"


def state_label(state: str | None) -> str:
    """Words for a booking or lesson state (an unknown state is shown as itself, never hidden)."""
    if state is None:
        return ""
    return BOOKING_STATE_LABELS.get(state) or LESSON_STATE_LABELS.get(state) or str(state)


def lesson_words(lesson_state: str, booking_state: str, start: datetime, finish: datetime, now: datetime) -> str:
    """Where the lesson stands, whatever happened to the money."""
    if booking_state == BookingState.DECLINED:
        return "Not booked: the tutor declined"
    if booking_state == BookingState.EXPIRED:
        return "Not booked: the hold or approval time ran out"
    if lesson_state == LessonState.CANCELLED or booking_state == BookingState.CANCELLED:
        return "Cancelled"
    if booking_state == BookingState.AWAITING_PAYMENT:
        return "Held, awaiting payment"
    if booking_state == BookingState.REQUIRES_CAPTURE:
        return "Requested, awaiting the tutor's approval"
    if lesson_state == LessonState.RESCHEDULE:
        return "Booked; a new time is proposed"
    if finish <= now:
        return "Taken place"
    if start <= now:
        return "In progress"
    return "Booked"


def payment_words(booking_state: str, amount_minor: int | None, refunded_minor: int, currency: str) -> str:
    """Where the money stands: nothing paid, authorized, paid, refunded (in part or in full), or released."""
    def m(value: int) -> str:
        return Money(value, currency).format()

    if amount_minor is None:  # no card was ever authorized
        return "Nothing paid"
    if booking_state == BookingState.REQUIRES_CAPTURE:
        return f"{m(amount_minor)} authorized, not charged yet"
    if booking_state in (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED):
        return f"Authorization of {m(amount_minor)} released; nothing charged"
    if refunded_minor >= amount_minor:
        return f"{m(amount_minor)} paid, refunded in full"
    if refunded_minor:
        return f"{m(refunded_minor)} refunded of {m(amount_minor)}"
    return f"{m(amount_minor)} paid"


def total_label(booking_state: str | None) -> str:
    """The last line of a receipt: due before paying, authorized while held, paid once captured."""
    if booking_state in (None, BookingState.AWAITING_PAYMENT):
        return "Total due"
    if booking_state == BookingState.REQUIRES_CAPTURE:
        return "Total authorized"
    if booking_state in (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED):
        return "Authorized, then released"
    return "Total paid"


# A booking paid with prepaid minutes, in words: the minutes are the money.
MINUTE_BOOKING_LABELS: dict[str, str] = {
    BookingState.REQUIRES_CAPTURE: "{m} minutes held, awaiting approval",
    BookingState.PAID: "Paid with {m} minutes",
    BookingState.REFUNDED: "Paid with {m} minutes, returned",
    BookingState.PARTIAL_REFUNDED: "Paid with {m} minutes, partly returned",
    BookingState.EXPIRED: "Expired; the {m} minutes held were returned",
    BookingState.DECLINED: "Declined; the {m} minutes held were returned",
    BookingState.CANCELLED: "Cancelled; the {m} minutes held were returned",
}


def booking_label(state: str, funding: str, minutes: int) -> str:
    """A booking's state in words, for what paid for it ("Paid with 60 minutes" for prepaid minutes)."""
    if funding == Funding.MINUTES and state in MINUTE_BOOKING_LABELS:
        return MINUTE_BOOKING_LABELS[state].format(m=minutes)
    if funding == Funding.PAYPAL and state == BookingState.REQUIRES_CAPTURE:
        return "PayPal authorized, awaiting approval"
    return state_label(state)


def minutes_payment_words(booking_state: str, minutes: int, returned: int) -> str:
    """Where the minutes of a minute-paid booking stand: held, spent, returned (in part or in full)."""
    if booking_state == BookingState.REQUIRES_CAPTURE:
        return f"{minutes} minutes held, not spent yet"
    if booking_state in (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED):
        return f"{minutes} minutes held, then returned; nothing spent"
    if returned >= minutes:
        return f"Paid with {minutes} minutes, all returned"
    if returned:
        return f"Paid with {minutes} minutes, {returned} returned"
    return f"Paid with {minutes} minutes"


# What the tutor's answer did to the money, for what paid for the booking: minutes are spent or given back, never
# "captured"; a card or PayPal payment is taken or released.
def approval_outcome(funding: str, minutes: int, approved: bool) -> str:
    """The words after a tutor approves (or declines) a booking, for what paid for it."""
    if funding == Funding.MINUTES:
        # Whose minutes: the booker's, who may be a parent, so not "the student's".
        return (f"Approved: the {minutes} prepaid minutes held for it are spent and the lesson is confirmed."
                if approved else
                f"Declined: the {minutes} held minutes are back in the booker's balance and the slot is free again.")
    way = "PayPal payment" if funding == Funding.PAYPAL else "card payment"
    return (f"Approved: the {way} is taken and the lesson is confirmed." if approved
            else f"Declined: the {way} was released, so the student pays nothing, and the slot is free again.")


def held_for_approval(funding: str, minutes: int) -> tuple[str, str]:
    """What waits for a tutor's approval and what happens if they do not answer, for the tutor's email."""
    if funding == Funding.MINUTES:
        return (f"paid with {minutes} prepaid minutes, held until you approve",
                "the held minutes go back to whoever booked")
    way = "PayPal payment" if funding == Funding.PAYPAL else "card payment"
    return f"the {way} is authorized", "it is released automatically and the student is not charged"


# How a booking was paid, in words (admin pages name the real funding, never "card" for everything).
FUNDING_NAMES: dict[str, str] = {Funding.CARD: "Card", Funding.PAYPAL: "PayPal", Funding.MINUTES: "Prepaid minutes"}


def funding_name(funding: str) -> str:
    """"Card", "PayPal" or "Prepaid minutes"."""
    return FUNDING_NAMES.get(funding, str(funding).capitalize())


_POWERS = (("^-1", "⁻¹"), ("^-2", "⁻²"), ("^-3", "⁻³"), ("^2", "²"), ("^3", "³"))


def unit_label(unit: str) -> str:
    """A unit as a pupil reads it: m/s^2 → m/s², kg/m^3 → kg/m³ (stored units keep ^ so they are typed easily)."""
    for plain, raised in _POWERS:
        unit = unit.replace(plain, raised)
    return unit


PURCHASE_STATE_WORDS = {PurchaseState.OPEN: "Waiting for payment", PurchaseState.EXPIRED: "Expired (not charged)",
                        PurchaseState.CANCELLED: "Cancelled (not charged)"}


def purchase_words(state: str, price_minor: int, refunded_minor: int, pending_minor: int, currency: str) -> str:
    """A package purchase's status for its buyer and the staff: paid, partly refunded or refunded (from the refunds
    made; one still on its way is said beside it), or closed unpaid."""
    if state != PurchaseState.PAID:
        return PURCHASE_STATE_WORDS.get(state, str(state).capitalize())
    status = refund_status(price_minor, refunded_minor)
    words = {RefundStatus.NONE: "Paid",
             RefundStatus.PARTIAL: f"Partly refunded: {Money(refunded_minor, currency).format()} of "
                                   f"{Money(price_minor, currency).format()}",
             RefundStatus.FULL: f"Refunded: {Money(refunded_minor, currency).format()}"}[status]
    if pending_minor > 0:
        words += f" ({Money(pending_minor, currency).format()} refund on its way)"
    return words


# Words for Stripe's refund failure_reason values (anything else is shown as Stripe gave it).
REFUND_FAILURE_WORDS = {"expired_or_canceled_card": "the card has expired or was cancelled",
                        "lost_or_stolen_card": "the card was reported lost or stolen",
                        "insufficient_funds": "the bank could not take the money back",
                        "declined": "the bank declined the refund",
                        "charge_for_pending_refund_disputed": "the customer disputed the payment",
                        "merchant_request": "cancelled on request", "canceled": "the refund was cancelled",
                        "unknown": "no reason given"}


def refund_failure_words(reason: str | None) -> str:
    """Why a refund failed after the provider accepted it, as staff read it."""
    return REFUND_FAILURE_WORDS.get(reason or "unknown", reason or "no reason given")
