"""Discount codes: the terms of a coupon, whether a user may use it now, and the discount it gives.

Stdlib only; ``now`` (and the zone dates are shown in) are arguments.

Decisions
    * Percentages are basis points (``percent_bp``: 2500 = 25 %, 1250 = 12.5 %), so any rate an
      admin can type is exact and no float is ever involved. 1..10000 bp.
    * ``currency``: an AMOUNT coupon and a PERCENT coupon with a cap are amounts of money, so
      they name their currency and only apply to lessons priced in it. An uncapped PERCENT
      coupon may leave ``currency`` as None and then applies in every currency.
    * ``valid_from`` is inclusive and ``valid_until`` exclusive (usable while
      valid_from <= now < valid_until). The expiry message names the last day the code could be
      used, so a code stored as valid until 4 March 00:00 "expired on 3 March 2027".
    * Checks run from the most permanent reason to the most personal one: inactive, not yet
      valid, expired, wrong currency, usage limit across all users, this user's uses.
    * The discount is rounded once by ``money.round_half_up`` and never exceeds the lesson price
      (or the cap). Who funds it is settled in ``fees`` (the platform).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from fractions import Fraction

from .money import CURRENCY_EXPONENTS, round_half_up

MAX_CODE_LENGTH = 32
_CODE_RE = re.compile(r"[A-Z0-9_-]+")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


class CouponUsage(StrEnum):
    """How many times one user may use a coupon."""

    ONE_TIME_USE = "ONE_TIME_USE"
    TWO_TIME_USE = "TWO_TIME_USE"

    @property
    def uses_per_user(self) -> int:
        return {"ONE_TIME_USE": 1, "TWO_TIME_USE": 2}[self.value]


class DiscountType(StrEnum):
    """A fixed amount off, or a percentage off (optionally capped)."""

    DISCOUNT_TYPE_AMOUNT = "DISCOUNT_TYPE_AMOUNT"
    DISCOUNT_TYPE_PERCENT = "DISCOUNT_TYPE_PERCENT"


def normalize_code(text: object) -> str:
    """The canonical form of a typed code: trimmed, upper case; ValueError in words if it cannot be one."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Enter a discount code.")
    code = text.strip()
    if not code.isascii() or not _CODE_RE.fullmatch(code.upper()):
        raise ValueError("A discount code has only letters, digits, hyphens and underscores.")
    if len(code) > MAX_CODE_LENGTH:
        raise ValueError(f"A discount code is at most {MAX_CODE_LENGTH} characters long.")
    return code.upper()


def _is_aware(moment: datetime) -> bool:
    return moment.tzinfo is not None and moment.utcoffset() is not None


def _long_date(moment: datetime, zone: tzinfo) -> str:
    day = moment.astimezone(zone).date()
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _optional_int(name: str, value: object, minimum: int) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be a whole number of at least {minimum}, got {value!r}")


@dataclass(frozen=True)
class CouponTerms:
    """What an admin set on a coupon. Amounts are minor units of ``currency``."""

    code: str
    usage: CouponUsage
    discount_type: DiscountType
    amount_minor: int | None = None  # DISCOUNT_TYPE_AMOUNT only
    percent_bp: int | None = None  # DISCOUNT_TYPE_PERCENT only; 2500 = 25 %
    max_discount_amount_minor: int | None = None  # optional cap, DISCOUNT_TYPE_PERCENT only
    currency: str | None = None
    valid_from: datetime | None = None  # inclusive
    valid_until: datetime | None = None  # exclusive
    max_total_uses: int | None = None  # across all users
    active: bool = True

    def __post_init__(self) -> None:
        if self.code != normalize_code(self.code):
            raise ValueError(f"Store coupon codes normalised: {normalize_code(self.code)!r}, not {self.code!r}")
        # Accept the stored strings too, so a row from the database builds terms directly.
        object.__setattr__(self, "usage", CouponUsage(self.usage))
        object.__setattr__(self, "discount_type", kind := DiscountType(self.discount_type))
        if self.currency is not None and self.currency not in CURRENCY_EXPONENTS:
            raise ValueError(f"Unsupported currency: {self.currency}")
        _optional_int("amount_minor", self.amount_minor, 1)
        _optional_int("percent_bp", self.percent_bp, 1)
        _optional_int("max_discount_amount_minor", self.max_discount_amount_minor, 1)
        _optional_int("max_total_uses", self.max_total_uses, 1)
        if kind is DiscountType.DISCOUNT_TYPE_AMOUNT:
            if self.amount_minor is None or self.currency is None:
                raise ValueError("An amount coupon needs an amount and its currency")
            if self.percent_bp is not None or self.max_discount_amount_minor is not None:
                raise ValueError("An amount coupon has no percentage and no cap")
        else:
            if self.percent_bp is None or self.percent_bp > 10_000:
                raise ValueError("A percentage coupon needs percent_bp between 1 and 10000 (0.01 %-100 %)")
            if self.amount_minor is not None:
                raise ValueError("A percentage coupon has no fixed amount")
            if self.max_discount_amount_minor is not None and self.currency is None:
                raise ValueError("A capped percentage coupon needs the currency of its cap")
        for name in ("valid_from", "valid_until"):
            moment = getattr(self, name)
            if moment is not None and not _is_aware(moment):
                raise ValueError(f"{name} must be timezone-aware")
        if self.valid_from and self.valid_until and self.valid_from >= self.valid_until:
            raise ValueError("A coupon must start before it expires")
        if not isinstance(self.active, bool):
            raise TypeError("active is True or False")


def coupon_problem(terms: CouponTerms, *, now: datetime, uses_by_user: int, total_uses: int, currency: str,
                   zone: tzinfo = UTC) -> str | None:
    """None if the user may use this coupon on a lesson in ``currency`` now, else the sentence they see.

    ``zone`` is the viewer's zone, used only to name dates in the messages.
    """
    if not _is_aware(now):
        raise ValueError("now must be timezone-aware")
    for name, value in (("uses_by_user", uses_by_user), ("total_uses", total_uses)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number of at least 0, got {value!r}")
    if not terms.active:
        return "This code is no longer active."
    if terms.valid_from is not None and now < terms.valid_from:
        return "This code is not valid yet."
    if terms.valid_until is not None and now >= terms.valid_until:
        last_day = terms.valid_until - timedelta(microseconds=1)
        return f"This code expired on {_long_date(last_day, zone)}."
    if terms.currency is not None and terms.currency != currency:
        return f"This code is for {terms.currency} lessons."
    if terms.max_total_uses is not None and total_uses >= terms.max_total_uses:
        return "This code has reached its usage limit."
    limit = terms.usage.uses_per_user
    if uses_by_user >= limit:
        return "You have already used this code." if limit == 1 else "You have already used this code twice."
    return None


def discount_for(terms: CouponTerms, lesson_price_minor: int) -> int:
    """The discount in minor units on a lesson of this price (validity is ``coupon_problem``'s job)."""
    price = lesson_price_minor
    if not isinstance(price, int) or isinstance(price, bool) or price < 0:
        raise ValueError(f"A lesson price is a whole number of minor units, at least 0; got {price!r}")
    if terms.discount_type is DiscountType.DISCOUNT_TYPE_AMOUNT:
        return min(terms.amount_minor, price)
    discount = round_half_up(Fraction(price * terms.percent_bp, 10_000))
    if terms.max_discount_amount_minor is not None:
        discount = min(discount, terms.max_discount_amount_minor)
    return min(discount, price)
