"""Calendar files: iTIP messages written by icalendar and read back with it (times in UTC, organizer, sequence)."""
from datetime import UTC, datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from webapp.adapters.calendar_files import attachment, to_ics
from webapp.domain.calendar_entry import Attendee, CalendarEntry

START = datetime(2027, 3, 28, 9, 30, tzinfo=timezone(timedelta(hours=1)))
STAMP = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ORGANIZER = "Lessonbook <no-reply@lessonbook.example.com>"
PEOPLE = (Attendee("alice@example.com", "Alice Hart"), Attendee("sam@example.com", "Sam Student"))


def entry(**changes) -> CalendarEntry:
    fields = dict(uid="lesson-7@lessonbook", start=START, end=START + timedelta(hours=1), summary="Maths",
                  sequence=2, attendees=PEOPLE)
    return CalendarEntry(**{**fields, **changes})


def parsed(item: CalendarEntry) -> tuple[Calendar, object]:
    calendar = Calendar.from_ical(to_ics(item, organizer=ORGANIZER, stamp=STAMP))
    [event] = calendar.events
    return calendar, event


def test_a_lesson_is_a_request_from_the_platform_with_times_in_utc():
    calendar, event = parsed(entry())
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0" and calendar["PRODID"]
    assert event["UID"] == "lesson-7@lessonbook" and event["SEQUENCE"] == 2 and event["STATUS"] == "CONFIRMED"
    assert event.start == datetime(2027, 3, 28, 8, 30, tzinfo=UTC) and event.start.utcoffset() == timedelta(0)
    assert event.end == datetime(2027, 3, 28, 9, 30, tzinfo=UTC)
    assert event.DTSTAMP == STAMP
    raw = to_ics(entry(), organizer=ORGANIZER, stamp=STAMP).decode()
    assert "DTSTART:20270328T083000Z\r\n" in raw and "DTEND:20270328T093000Z\r\n" in raw  # UTC, no TZID


def test_the_organizer_is_the_mail_from_address_with_its_name():
    _, event = parsed(entry())
    organizer = event["ORGANIZER"]
    assert organizer.email == "no-reply@lessonbook.example.com" and organizer.params["CN"] == "Lessonbook"


def test_an_organizer_without_a_name_is_named_by_its_address():
    calendar = Calendar.from_ical(to_ics(entry(), organizer="team@example.com", stamp=STAMP))
    assert calendar.events[0]["ORGANIZER"].params["CN"] == "team@example.com"


def test_an_organizer_must_have_an_email_address():
    with pytest.raises(ValueError, match="email address"):
        to_ics(entry(), organizer="Lessonbook", stamp=STAMP)


def test_everyone_in_the_lesson_is_an_attendee_who_has_accepted():
    _, event = parsed(entry())
    attendees = {a.email: a for a in event.attendees}
    assert set(attendees) == {"alice@example.com", "sam@example.com"}
    assert attendees["alice@example.com"].params["CN"] == "Alice Hart"
    assert {a.params["PARTSTAT"] for a in attendees.values()} == {"ACCEPTED"}
    assert {a.params["RSVP"] for a in attendees.values()} == {"FALSE"}


def test_a_cancelled_lesson_is_a_cancel_message_for_the_same_event():
    calendar, event = parsed(entry(cancelled=True, sequence=3))
    assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
    assert event["UID"] == "lesson-7@lessonbook" and event["SEQUENCE"] == 3
    assert event["ORGANIZER"].email == "no-reply@lessonbook.example.com" and len(event.attendees) == 2


def test_text_with_commas_semicolons_newlines_and_long_lines_survives_the_round_trip():
    summary, description = "A; B, C " + "Ω" * 100, "line1\nline2"
    raw = to_ics(entry(summary=summary, description=description, location="1 High St, London"),
                 organizer=ORGANIZER, stamp=STAMP)
    assert all(len(line) <= 75 for line in raw.split(b"\r\n"))  # folded at 75 octets
    event = Calendar.from_ical(raw).events[0]
    assert (event["SUMMARY"], event["DESCRIPTION"], event["LOCATION"]) == (summary, description, "1 High St, London")


def test_the_attachment_names_the_method_for_mail_clients():
    name, mime, data = attachment(entry(cancelled=True), organizer=ORGANIZER, stamp=STAMP)
    assert name == "lesson.ics" and mime.startswith("text/calendar; method=CANCEL")
    assert Calendar.from_ical(data)["METHOD"] == "CANCEL"


def test_entries_need_aware_times_in_order():
    with pytest.raises(ValueError, match="aware"):
        entry(start=datetime(2027, 3, 28, 9, 30), end=datetime(2027, 3, 28, 10, 30))
    with pytest.raises(ValueError, match="before it starts"):
        entry(end=START - timedelta(minutes=1))


def test_an_entry_survives_its_json_form_and_old_json_without_attendees_still_reads():
    item = entry(description="d", location="Online", cancelled=True)
    assert CalendarEntry.from_json(item.to_json()) == item
    old = {"uid": "lesson-9@lessonbook", "start": "2027-03-28T09:00:00+00:00", "end": "2027-03-28T10:00:00+00:00",
           "summary": "Maths", "location": "Online", "sequence": 1, "cancelled": False}
    read = CalendarEntry.from_json(old)
    assert (read.sequence, read.attendees, read.method) == (1, (), "REQUEST")
