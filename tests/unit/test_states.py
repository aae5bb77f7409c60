"""Every state change goes through one table per entity; this walks every pair of both tables."""
import itertools

import pytest

from webapp.domain.states import (BOOKING_TRANSITIONS, LESSON_TRANSITIONS, BookingState, InvalidTransition,
                                  LessonState, next_booking_state, next_lesson_state)

# The seed's diagrams, written out: what may follow what.
EXPECTED_LESSON = {("ACTIVE", "RESCHEDULE"), ("ACTIVE", "CANCELLED"), ("RESCHEDULE", "ACTIVE"),
                   ("RESCHEDULE", "CANCELLED")}
EXPECTED_BOOKING = {
    ("AWAITING_PAYMENT", "REQUIRES_CAPTURE"), ("AWAITING_PAYMENT", "EXPIRED"), ("AWAITING_PAYMENT", "CANCELLED"),
    ("REQUIRES_CAPTURE", "PAID"), ("REQUIRES_CAPTURE", "DECLINED"), ("REQUIRES_CAPTURE", "EXPIRED"),
    ("REQUIRES_CAPTURE", "CANCELLED"), ("PAID", "REFUNDED"), ("PAID", "PARTIAL_REFUNDED"),
    ("PARTIAL_REFUNDED", "PARTIAL_REFUNDED"), ("PARTIAL_REFUNDED", "REFUNDED"),
    # A refund the provider accepted and then failed gives the money back to the booking.
    ("REFUNDED", "PARTIAL_REFUNDED"), ("REFUNDED", "PAID"), ("PARTIAL_REFUNDED", "PAID"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(LessonState, LessonState)))
def test_lesson_transition_table(current, target):
    if (current.value, target.value) in EXPECTED_LESSON:
        assert next_lesson_state(current, target) == target
    else:
        with pytest.raises(InvalidTransition, match=f"cannot go from {current} to {target}"):
            next_lesson_state(current, target)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(BookingState, BookingState)))
def test_booking_transition_table(current, target):
    if (current.value, target.value) in EXPECTED_BOOKING:
        assert next_booking_state(current, target) == target
    else:
        with pytest.raises(InvalidTransition):
            next_booking_state(current, target)


def test_tables_cover_every_state_and_terminal_states_lead_nowhere():
    assert set(LESSON_TRANSITIONS) == set(LessonState) and set(BOOKING_TRANSITIONS) == set(BookingState)
    for terminal in (BookingState.EXPIRED, BookingState.DECLINED, BookingState.CANCELLED):
        assert BOOKING_TRANSITIONS[terminal] == frozenset()
    assert LESSON_TRANSITIONS[LessonState.CANCELLED] == frozenset()


def test_unknown_states_are_errors():
    with pytest.raises(ValueError):
        next_booking_state("PAYED", "PAID")
