"""How much a cancellation refunds, by the policy frozen on the booking when it was paid.

Stdlib only; ``now`` is an argument. Who may cancel is decided elsewhere (services' policy).

The rule
    * A cancellation by the tutor or by an admin refunds everything still refundable.
    * A cancellation by the student side (the booker, the student, a parent):
        - full refund while the lesson starts ``full_refund_until_hours`` or more from now. "Until
          24 hours before" includes the boundary: at exactly 24:00:00 before the start the refund
          is still full; one microsecond later it is the late rate;
        - ``late_refund_percent`` from then until the start (exclusive);
        - ``refund_after_start_percent`` from the start instant on (at the start the lesson has
          started). The policy requires after-start <= late <= 100 %, so cancelling later never
          refunds more.
    * The amount is ``round_half_up(refundable x percent / 100)``, the one rounding rule, on what
      is still refundable (what the student paid minus earlier refunds).

The decision carries a reason code and the percent, so callers can word it their own way, and
``explanation(currency)`` gives the standard sentence ("Cancelled at least 24 hours before the
start: full refund of £40.00.").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from .money import Money, round_half_up


def _whole(name: str, value: object, low: int, high: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")


@dataclass(frozen=True)
class RefundPolicy:
    """The cancellation terms a booking was paid under (stored as JSON on the booking)."""

    full_refund_until_hours: int = 24
    late_refund_percent: int = 50
    refund_after_start_percent: int = 0

    def __post_init__(self) -> None:
        _whole("full_refund_until_hours", self.full_refund_until_hours, 0)
        _whole("late_refund_percent", self.late_refund_percent, 0, 100)
        _whole("refund_after_start_percent", self.refund_after_start_percent, 0, 100)
        # Otherwise a student would do better by waiting for the lesson to start before cancelling.
        if self.refund_after_start_percent > self.late_refund_percent:
            raise ValueError("A cancellation after the start cannot refund more than a late one")

    def as_dict(self) -> dict:
        """JSON form to freeze on the booking."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RefundPolicy:
        """Inverse of ``as_dict``. Missing keys take today's defaults; unknown keys are an error."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"Unknown refund policy keys: {sorted(unknown)}")
        return cls(**data)


class Canceller(StrEnum):
    """Who cancelled: the booker, student or parent (one side), the tutor, or an admin."""

    STUDENT_SIDE = "STUDENT_SIDE"
    TUTOR = "TUTOR"
    ADMIN = "ADMIN"


class RefundReason(StrEnum):
    """Which branch of the rule applied."""

    TUTOR_CANCELLED = "TUTOR_CANCELLED"
    ADMIN_CANCELLED = "ADMIN_CANCELLED"
    IN_GOOD_TIME = "IN_GOOD_TIME"  # student side, full_refund_until_hours or more before the start
    LATE = "LATE"  # student side, less than that before the start
    AFTER_START = "AFTER_START"  # student side, at or after the start


@dataclass(frozen=True)
class RefundDecision:
    """The refund for one cancellation, with why."""

    amount_minor: int
    percent: int
    reason: RefundReason
    refundable_minor: int
    notice_hours: int  # the policy's full_refund_until_hours, for the sentence

    @property
    def is_full(self) -> bool:
        return self.amount_minor == self.refundable_minor

    def explanation(self, currency: str) -> str:
        """The standard sentence for emails and pages, e.g. "Cancelled by the tutor: full refund of £40.00."."""
        return self._explain(lambda amount: Money(amount, currency).format())

    def explanation_in_minutes(self) -> str:
        """The same sentence for a booking paid with prepaid minutes (the amounts are minutes, returned to the
        student's balance): "Cancelled by the tutor: full refund of 60 minutes."."""
        return self._explain(lambda amount: f"{amount} minute{'' if amount == 1 else 's'}")

    def _explain(self, fmt) -> str:
        hours = f"{self.notice_hours} hour{'' if self.notice_hours == 1 else 's'}"
        when = {
            RefundReason.TUTOR_CANCELLED: "Cancelled by the tutor",
            RefundReason.ADMIN_CANCELLED: "Cancelled by an administrator",
            RefundReason.IN_GOOD_TIME: (f"Cancelled at least {hours} before the start" if self.notice_hours
                                        else "Cancelled before the start"),
            RefundReason.LATE: f"Cancelled less than {hours} before the start",
            RefundReason.AFTER_START: "Cancelled after the lesson started",
        }[self.reason]
        if self.refundable_minor == 0:
            return f"{when}: nothing was left to refund."
        if self.percent == 100:
            return f"{when}: full refund of {fmt(self.amount_minor)}."
        if self.percent == 0:
            return f"{when}: no refund."
        return f"{when}: {self.percent}% refund, {fmt(self.amount_minor)} of {fmt(self.refundable_minor)}."


def cancellation_refund(policy: RefundPolicy, *, refundable_minor: int, lesson_start: datetime, now: datetime,
                        cancelled_by: Canceller) -> RefundDecision:
    """Apply the rule in the module docstring to one cancellation."""
    _whole("refundable_minor", refundable_minor, 0)
    for name, moment in (("lesson_start", lesson_start), ("now", now)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    who = Canceller(cancelled_by)
    if who is Canceller.TUTOR:
        reason, percent = RefundReason.TUTOR_CANCELLED, 100
    elif who is Canceller.ADMIN:
        reason, percent = RefundReason.ADMIN_CANCELLED, 100
    elif now >= lesson_start:
        reason, percent = RefundReason.AFTER_START, policy.refund_after_start_percent
    elif lesson_start - now >= timedelta(hours=policy.full_refund_until_hours):
        reason, percent = RefundReason.IN_GOOD_TIME, 100
    else:
        reason, percent = RefundReason.LATE, policy.late_refund_percent
    amount = round_half_up(Fraction(refundable_minor * percent, 100))
    return RefundDecision(amount_minor=amount, percent=percent, reason=reason, refundable_minor=refundable_minor,
                          notice_hours=policy.full_refund_until_hours)


def has_started(lesson_start: datetime, now: datetime) -> bool:
    """Once a lesson has started it can no longer be cancelled (money questions go to support instead)."""
    return now >= lesson_start
