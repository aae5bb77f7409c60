"""Tutors' packages of prepaid hours: their limits and their price, as pure functions over plain values.

Stdlib only. Minutes bought from a tutor are a currency of that tutor (domain/ledger.py): a minute can be spent on
any of the tutor's subjects. So a package is priced at the tutor's **highest** active hourly rate: a minute bought
in a package then covers a minute of any lesson the tutor gives, and the tutor is never paid less for a lesson taken
with minutes than its rate minus the package's discount. The discount is the student's saving on that rate. The
price is computed by ``package_price`` alone (pages, Checkout and the purchase row all use it) and frozen on the
purchase when the student starts paying, so a rate changed meanwhile never changes what they were shown.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from .money import round_half_up

MIN_HOURS = 1
MAX_HOURS = 100
MAX_DISCOUNT_PERCENT = 50
MAX_ACTIVE_PACKAGES = 6


class RefundStatus(StrEnum):
    """How much of a paid purchase has come back, from its refunds the provider made (not those still pending or
    failed): none, part of it, or all of it."""

    NONE = "none"
    PARTIAL = "partial"
    FULL = "full"


def refund_status(price_minor: int, refunded_minor: int) -> RefundStatus:
    """A purchase's refund status from what its refund rows sum to."""
    if refunded_minor <= 0:
        return RefundStatus.NONE
    return RefundStatus.FULL if refunded_minor >= price_minor else RefundStatus.PARTIAL


class PurchaseState(StrEnum):
    """A package purchase: opened on Stripe Checkout or PayPal, then paid (its minutes granted), or closed unpaid:
    expired (the payment page lapsed) or cancelled (the student cancelled on PayPal's page). Money taken always
    wins: a payment that arrives for a closed purchase still grants its minutes and makes it paid."""

    OPEN = "open"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class PurchaseMethod(StrEnum):
    """How a package is paid for: a card on Stripe Checkout, or PayPal (an order with intent CAPTURE)."""

    CARD = "card"
    PAYPAL = "paypal"


@dataclass(frozen=True)
class Rate:
    """One of a tutor's hourly rates, in minor units of its currency."""

    hourly_rate_minor: int
    currency: str


def package_rate(rates: list[Rate]) -> Rate | None:
    """The rate a tutor's packages are priced at: the highest of their active rates (None when they have none).

    Rates in different currencies are not compared: the currency of the tutor's highest rate wins, ties keep the
    first listed."""
    best: Rate | None = None
    for rate in rates:
        if best is None or rate.hourly_rate_minor > best.hourly_rate_minor:
            best = rate
    return best


def package_price(hourly_rate_minor: int, hours: int, discount_percent: int) -> int:
    """What a package of ``hours`` costs at ``hourly_rate_minor`` less ``discount_percent`` (the one rounding
    rule, half up, on the whole package)."""
    for name, value in (("hourly_rate_minor", hourly_rate_minor), ("hours", hours),
                        ("discount_percent", discount_percent)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    return round_half_up(Fraction(hourly_rate_minor * hours * (100 - discount_percent), 100))


def package_problems(hours: object, discount_percent: object) -> dict[str, str]:
    """What is wrong with a package's terms, per field, in words (empty when they are fine)."""
    problems: dict[str, str] = {}
    if not isinstance(hours, int) or isinstance(hours, bool) or not MIN_HOURS <= hours <= MAX_HOURS:
        problems["hours"] = f"Give a whole number of hours from {MIN_HOURS} to {MAX_HOURS}."
    if (not isinstance(discount_percent, int) or isinstance(discount_percent, bool)
            or not 0 <= discount_percent <= MAX_DISCOUNT_PERCENT):
        problems["discount_percent"] = f"Give a whole discount from 0 to {MAX_DISCOUNT_PERCENT} percent."
    return problems


def minutes_words(minutes: int) -> str:
    """"60 minutes", "1 minute"."""
    return f"{minutes} minute{'' if minutes == 1 else 's'}"


def minutes_value(paid_minor: int, granted_minutes: int, valued_minor: int, valued_minutes: int, minutes: int) -> int:
    """What ``minutes`` taught with a tutor's minutes are worth: the average price of the student's minutes with the
    tutor not yet valued for a payout. ``paid_minor``/``granted_minutes`` sum every lot paid for (a package's price,
    a subscription invoice's amount paid, with the minutes each granted); ``valued_minor``/``valued_minutes`` sum
    the lessons valued before. Rounded down, so the values of all lessons never add up to more than was paid (each
    lesson takes at most its share of what is left; expired minutes keep theirs, which the platform keeps). A student
    who only subscribes is valued at the plan's price per minute; mixing lots of different prices values at their
    average."""
    left_minor, left_minutes = paid_minor - valued_minor, granted_minutes - valued_minutes
    if minutes <= 0 or left_minutes <= 0 or left_minor <= 0:
        return 0
    return left_minor * min(minutes, left_minutes) // left_minutes


def minutes_payout(value_minor: int, commission_fee_bp: int) -> int:
    """The tutor's share of a lesson paid with minutes worth ``value_minor``: what is left after the platform's
    commission (basis points, the same rate as on a card lesson), rounded down: the platform keeps the fraction, so
    the tutor's payouts never exceed what was paid less the platform's take (paid × (1 − rate))."""
    return value_minor * (10000 - commission_fee_bp) // 10000


def minute_payout_kept(transferred_minor: int, paid_minutes: int, kept_minutes: int) -> int:
    """What a tutor keeps of a minute lesson's transfer (or what a lesson's value still counts for) once some of its
    minutes were refunded after it was decided: the same share as the minutes still kept are of those it paid for,
    rounded down (the platform keeps the fraction, as in ``minutes_payout``); never more than was transferred
    (refunds only lower it) and never below zero."""
    if paid_minutes <= 0 or transferred_minor <= 0:
        return 0
    kept = max(0, min(kept_minutes, paid_minutes))
    return transferred_minor * kept // paid_minutes
