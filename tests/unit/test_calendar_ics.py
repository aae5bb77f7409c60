"""Calendar attachments: UTC times, escaping, folding, and cancellation."""
from datetime import UTC, datetime, timedelta, timezone

from webapp.domain.calendar_ics import CalendarEntry, to_ics

START = datetime(2027, 3, 28, 9, 30, tzinfo=timezone(timedelta(hours=1)))


def test_event_times_are_written_in_utc_with_the_sequence():
    text = to_ics(CalendarEntry("lesson-7@lessonbook", START, START + timedelta(hours=1), "Maths", sequence=2),
                  datetime(2027, 3, 1, tzinfo=UTC))
    assert "DTSTART:20270328T083000Z\r\n" in text and "DTEND:20270328T093000Z\r\n" in text
    assert "SEQUENCE:2\r\n" in text and "METHOD:REQUEST\r\n" in text and text.endswith("END:VCALENDAR\r\n")


def test_commas_semicolons_and_newlines_are_escaped():
    text = to_ics(CalendarEntry("u", START, START, "A; B, C", description="line1\nline2"), START)
    assert "SUMMARY:A\\; B\\, C" in text and "DESCRIPTION:line1\\nline2" in text


def test_long_lines_are_folded_at_75_octets():
    text = to_ics(CalendarEntry("u", START, START, "Ω" * 100), START)
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert "".join(text.split("\r\n ")).count("Ω") == 100


def test_a_cancelled_lesson_is_a_cancel_message():
    text = to_ics(CalendarEntry("u", START, START, "Maths", cancelled=True), START)
    assert "METHOD:CANCEL" in text and "STATUS:CANCELLED" in text
