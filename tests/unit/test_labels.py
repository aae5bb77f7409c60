"""State names become words in one place; the lesson and the money are worded separately."""
from datetime import UTC, datetime, timedelta

import pytest

from webapp.domain.labels import booking_label, clock_time, lesson_words, payment_words, state_label, total_label
from webapp.domain.states import BookingState, LessonState

START = datetime(2027, 3, 1, 10, tzinfo=UTC)
FINISH = START + timedelta(hours=1)
BEFORE = START - timedelta(days=1)


@pytest.mark.parametrize("state", list(BookingState) + list(LessonState))
def test_every_state_has_words_and_no_raw_name_reaches_a_page(state):
    assert state_label(state) and "_" not in state_label(state) and state_label(state) != state.value


def test_a_partly_refunded_booking_is_partly_refunded_not_partial_refunded():
    assert state_label(BookingState.PARTIAL_REFUNDED) == "Partly refunded"


def test_a_goodwill_refund_keeps_the_lesson_booked_and_says_how_much_came_back():
    assert lesson_words(LessonState.ACTIVE, BookingState.PARTIAL_REFUNDED, START, FINISH, BEFORE) == "Booked"
    assert payment_words(BookingState.PARTIAL_REFUNDED, 3800, 1000, "GBP") == "£10.00 refunded of £38.00"


def test_a_released_authorization_is_never_called_paid():
    for state in (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED):
        assert payment_words(state, 3800, 0, "GBP") == "Authorization of £38.00 released; nothing charged"
        assert total_label(state) == "Authorized, then released"
    assert payment_words(BookingState.REQUIRES_CAPTURE, 3800, 0, "GBP") == "£38.00 authorized, not charged yet"
    assert payment_words(BookingState.EXPIRED, None, 0, "GBP") == "Nothing paid"


def test_the_receipt_total_is_due_before_paying_authorized_while_held_and_paid_once_captured():
    assert [total_label(s) for s in (None, BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE,
                                     BookingState.PAID, BookingState.PARTIAL_REFUNDED)] == \
        ["Total due", "Total due", "Total authorized", "Total paid", "Total paid"]


def test_the_lesson_is_in_progress_then_taken_place():
    assert lesson_words(LessonState.ACTIVE, BookingState.PAID, START, FINISH, START + timedelta(minutes=5)) \
        == "In progress"
    assert lesson_words(LessonState.ACTIVE, BookingState.PAID, START, FINISH, FINISH) == "Taken place"
    assert lesson_words(LessonState.CANCELLED, BookingState.REFUNDED, START, FINISH, BEFORE) == "Cancelled"


@pytest.mark.parametrize(("hour", "minute", "clock", "words"), [
    (0, 0, "24", "00:00"), (9, 5, "24", "09:05"), (13, 30, "24", "13:30"),
    (0, 0, "12", "12:00am"), (9, 5, "12", "9:05am"), (12, 0, "12", "12:00pm"), (13, 30, "12", "1:30pm"),
])
def test_a_time_reads_on_the_viewers_clock(hour, minute, clock, words):
    assert clock_time(hour, minute, clock) == words


def test_a_paypal_booking_awaiting_approval_is_not_called_a_card_authorization():
    # The admin's bookings list said "Card authorized, awaiting approval" for a booking paid with PayPal.
    assert booking_label("REQUIRES_CAPTURE", "paypal", 60) == "PayPal authorized, awaiting approval"
    assert booking_label("REQUIRES_CAPTURE", "card", 60) == "Card authorized, awaiting approval"
    assert booking_label("PAID", "paypal", 60) == "Paid"


def test_units_are_shown_with_raised_powers():
    from webapp.domain.labels import unit_label
    from webapp.domain.marking import normalise_unit
    assert unit_label("m/s^2") == "m/s²" and unit_label("kg/m^3") == "kg/m³" and unit_label("cm^2") == "cm²"
    assert unit_label("N s") == "N s" and unit_label("") == ""
    # A pupil who copies the unit as shown is marked as if they had typed the stored one.
    for stored in ("m/s^2", "kg/m^3", "cm^2", "cm^3"):
        assert normalise_unit(unit_label(stored)) == normalise_unit(stored)
