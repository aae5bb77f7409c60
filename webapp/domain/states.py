"""Lesson and booking state machines: one transition table per entity, nothing else moves a state."""
from __future__ import annotations

from enum import StrEnum


class LessonState(StrEnum):
    """Where a lesson stands (seed 004)."""

    ACTIVE = "ACTIVE"
    RESCHEDULE = "RESCHEDULE"
    CANCELLED = "CANCELLED"


class BookingState(StrEnum):
    """Where the money for a booking stands (seed 002), plus terminal states for holds and declines."""

    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    REQUIRES_CAPTURE = "REQUIRES_CAPTURE"
    PAID = "PAID"
    REFUNDED = "REFUNDED"
    PARTIAL_REFUNDED = "PARTIAL_REFUNDED"
    EXPIRED = "EXPIRED"  # the payment hold or the approval window ran out
    DECLINED = "DECLINED"  # the tutor declined; the authorization is released
    CANCELLED = "CANCELLED"  # cancelled before any money was captured


class InvalidTransition(ValueError):
    """A state change the transition table does not allow."""

    def __init__(self, entity: str, current: str, target: str):
        super().__init__(f"A {entity} cannot go from {current} to {target}.")
        self.entity, self.current, self.target = entity, current, target


LESSON_TRANSITIONS: dict[LessonState, frozenset[LessonState]] = {
    LessonState.ACTIVE: frozenset({LessonState.RESCHEDULE, LessonState.CANCELLED}),
    LessonState.RESCHEDULE: frozenset({LessonState.ACTIVE, LessonState.CANCELLED}),
    LessonState.CANCELLED: frozenset(),
}

BOOKING_TRANSITIONS: dict[BookingState, frozenset[BookingState]] = {
    BookingState.AWAITING_PAYMENT: frozenset(
        {BookingState.REQUIRES_CAPTURE, BookingState.EXPIRED, BookingState.CANCELLED}),
    BookingState.REQUIRES_CAPTURE: frozenset(
        {BookingState.PAID, BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED}),
    BookingState.PAID: frozenset({BookingState.REFUNDED, BookingState.PARTIAL_REFUNDED}),
    # Back towards PAID only when a refund the provider had accepted fails later (the money stayed with us).
    BookingState.PARTIAL_REFUNDED: frozenset({BookingState.REFUNDED, BookingState.PARTIAL_REFUNDED,
                                              BookingState.PAID}),
    BookingState.REFUNDED: frozenset({BookingState.PARTIAL_REFUNDED, BookingState.PAID}),
    BookingState.EXPIRED: frozenset(),
    BookingState.DECLINED: frozenset(),
    BookingState.CANCELLED: frozenset(),
}

# Lessons in these states occupy the tutor's time (the database exclusion constraint uses the same list).
BLOCKING_LESSON_STATES: frozenset[LessonState] = frozenset({LessonState.ACTIVE, LessonState.RESCHEDULE})
# A booking in one of these states still holds its lesson's slot (subject to hold expiry while unpaid).
LIVE_BOOKING_STATES: frozenset[BookingState] = frozenset(
    {BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE, BookingState.PAID})


def next_lesson_state(current: str, target: str) -> LessonState:
    """Return `target` if the lesson table allows current → target, else raise InvalidTransition."""
    return _next(LESSON_TRANSITIONS, LessonState, "lesson", current, target)


def next_booking_state(current: str, target: str) -> BookingState:
    """Return `target` if the booking table allows current → target, else raise InvalidTransition."""
    return _next(BOOKING_TRANSITIONS, BookingState, "booking", current, target)


def _next(table, enum, entity: str, current: str, target: str):
    cur, tgt = enum(current), enum(target)
    if tgt not in table[cur]:
        raise InvalidTransition(entity, cur, tgt)
    return tgt
