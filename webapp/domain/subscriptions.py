"""Tutors' monthly plans and the rules of subscription minutes, as pure functions over plain values.

Stdlib only. A plan grants a number of minutes each month for a price (minor units). Minutes are granted when a
period's invoice is paid, as one lot per invoice (domain/ledger.py's lots).

The rollover rule: at most ``carry_periods`` periods' allowance carries over (default one). It is implemented by
when a period's lot expires, not by a special move: the lot of a period expires at the end of the period
``carry_periods`` after it. Lots are spent earliest expiry first (ledger.lot_remaining), so when a period ends, what
is left of the lots that end with it expires (recorded as expiry on the ledger) and what is still unused of the
later lots carries over, at most their allowance. ``carry_over`` states the same rule on totals; the unit tests
check that the two agree.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from .money import round_half_up

MIN_PLAN_MINUTES = 30
MAX_PLAN_MINUTES = 100 * 60
MIN_PLAN_PRICE_MINOR = 100
MAX_PLAN_PRICE_MINOR = 1_000_000
MAX_ACTIVE_PLANS = 4
DEFAULT_CARRY_PERIODS = 1


class SubscriptionStatus(StrEnum):
    """Stripe's subscription statuses, as we record them (we follow Stripe's state, we never decide it)."""

    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    PAUSED = "paused"


LIVE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE,
        SubscriptionStatus.UNPAID, SubscriptionStatus.INCOMPLETE, SubscriptionStatus.PAUSED)
# Booking with the tutor's minutes is paused while a payment is owed.
PAUSED_FOR_PAYMENT = (SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID)


def plan_problems(minutes: object, price_minor: object) -> dict[str, str]:
    """What is wrong with a plan's terms, per field, in words (empty when they are fine)."""
    problems: dict[str, str] = {}
    if (not isinstance(minutes, int) or isinstance(minutes, bool)
            or not MIN_PLAN_MINUTES <= minutes <= MAX_PLAN_MINUTES or minutes % 15):
        problems["minutes"] = (f"Give the minutes per month as a whole number from {MIN_PLAN_MINUTES} to "
                               f"{MAX_PLAN_MINUTES}, in steps of 15.")
    if (not isinstance(price_minor, int) or isinstance(price_minor, bool)
            or not MIN_PLAN_PRICE_MINOR <= price_minor <= MAX_PLAN_PRICE_MINOR):
        problems["price"] = (f"Give a monthly price from {MIN_PLAN_PRICE_MINOR / 100:.2f} to "
                             f"{MAX_PLAN_PRICE_MINOR / 100:,.2f}.")
    return problems


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months, the day clamped to the month's end (Jan 31 + 1 → Feb 28)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def lot_expiry(anchor: datetime, period_end: datetime, carry_periods: int = DEFAULT_CARRY_PERIODS) -> datetime:
    """When the lot granted for the period ending at ``period_end`` expires: at the end of the ``carry_periods``-th
    period after it, so at most that many periods' allowance is ever carried over. Periods are whole months from the
    subscription's billing ``anchor`` (each counted from the anchor, so Jan 31 → Feb 28 → Mar 31 never drifts)."""
    if carry_periods < 0:
        raise ValueError("carry_periods cannot be negative")
    if period_end <= anchor:
        raise ValueError("a period must end after the billing anchor")
    months = 1
    while add_months(anchor, months) < period_end:
        months += 1
    return add_months(anchor, months + carry_periods)


@dataclass(frozen=True)
class Rollover:
    """What happens to unused subscription minutes when a period ends: kept (carried over) and expired."""

    kept: int
    expired: int


def carry_over(unused: int, allowance: int, carry_periods: int = DEFAULT_CARRY_PERIODS) -> Rollover:
    """The rollover rule on totals: of ``unused`` minutes at a period's end, at most ``carry_periods`` × the period's
    ``allowance`` carry over; the rest expires."""
    if unused < 0 or allowance < 0 or carry_periods < 0:
        raise ValueError("minutes and periods cannot be negative")
    kept = min(unused, allowance * carry_periods)
    return Rollover(kept=kept, expired=unused - kept)


def prorated_minutes(old_minutes: int, new_minutes: int, left: Fraction) -> int:
    """The extra minutes an upgrade grants for what is left of the period (``left`` in [0, 1]): the difference of
    the two allowances for that share, rounded half up; never negative (a downgrade grants nothing)."""
    if not 0 <= left <= 1:
        raise ValueError("the share of the period left must be between 0 and 1")
    return max(0, round_half_up((new_minutes - old_minutes) * left))


def period_left(change_at: int, period_start: int, period_end: int) -> Fraction:
    """The share of the period [period_start, period_end) still to come at ``change_at`` (unix seconds)."""
    if period_end <= period_start:
        return Fraction(0)
    return Fraction(min(max(period_end - change_at, 0), period_end - period_start), period_end - period_start)


def is_upgrade(old_price_minor: int, new_price_minor: int) -> bool:
    """A change to a dearer plan is billed at once (prorated) and grants the extra minutes now; a cheaper one takes
    effect from the next renewal (no credit, the period's minutes stay)."""
    return new_price_minor > old_price_minor
