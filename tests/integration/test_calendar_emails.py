"""Lesson emails carry iTIP calendar files: a REQUEST when booked or moved, a CANCEL with a higher SEQUENCE."""
from datetime import UTC, timedelta

from icalendar import Calendar

from tests.integration.test_payments import authorize, book, now
from webapp.extensions import db
from webapp.models import Booking
from webapp.services import approvals, cancellations, outbox, reschedules


def calendars_sent(smtp_sink, to: str) -> list[tuple[str, Calendar]]:
    """(subject, parsed calendar) of every email to `to` that carried a calendar file, in the order sent."""
    found = []
    for recipients, message in smtp_sink.messages:
        for part in message.iter_attachments():
            if to in recipients and part.get_content_type() == "text/calendar":
                data = part.get_content()
                assert part.get_param("method") == Calendar.from_ical(data)["METHOD"]
                found.append((message["Subject"], Calendar.from_ical(data)))
    return found


def test_a_booked_moved_then_cancelled_lesson_updates_the_same_calendar_event(app, client, stripe_world, smtp_sink):
    booking = authorize(stripe_world, client, book(days_ahead=10))
    booking = approvals.approve(booking.lesson.tutor, booking.id, now())
    lesson, student, tutor = booking.lesson, booking.booker, booking.lesson.tutor
    outbox.deliver_due(now())
    [(_, booked)] = calendars_sent(smtp_sink, student.email)
    event = booked.events[0]
    assert booked["METHOD"] == "REQUEST" and event["STATUS"] == "CONFIRMED" and event["SEQUENCE"] == 0
    assert event["UID"] == f"lesson-{lesson.id}@lessonbook"
    assert event.start == lesson.start_at and event.start.utcoffset() == timedelta(0)
    assert event.end == lesson.finish_at
    assert event["ORGANIZER"].email == app.config["MAIL_FROM"].split("<")[1].rstrip(">")
    assert event["ORGANIZER"].params["CN"] == app.config["MAIL_FROM"].split("<")[0].strip()
    assert {(a.email, a.params["PARTSTAT"]) for a in event.attendees} == {(tutor.email, "ACCEPTED"),
                                                                           (student.email, "ACCEPTED")}
    assert calendars_sent(smtp_sink, tutor.email)[0][1].events[0]["UID"] == event["UID"]

    new_start = lesson.start_at + timedelta(hours=3)
    proposal = reschedules.propose(student, lesson.id, new_start, None, now())
    reschedules.respond(tutor, lesson.id, proposal.reschedule_version, True, now())
    outbox.deliver_due(now())
    moved = calendars_sent(smtp_sink, student.email)[-1][1]
    assert moved["METHOD"] == "REQUEST" and moved.events[0]["UID"] == event["UID"]
    assert moved.events[0].start == new_start.astimezone(UTC)
    assert moved.events[0]["SEQUENCE"] > event["SEQUENCE"]

    cancellations.cancel_booking(student, booking.id, "Exam moved", now())
    outbox.deliver_due(now())
    cancelled = calendars_sent(smtp_sink, tutor.email)[-1][1]
    assert cancelled["METHOD"] == "CANCEL" and cancelled.events[0]["STATUS"] == "CANCELLED"
    assert cancelled.events[0]["UID"] == event["UID"]
    assert cancelled.events[0]["SEQUENCE"] > moved.events[0]["SEQUENCE"]
    assert cancelled.events[0]["ORGANIZER"].email == event["ORGANIZER"].email


def test_declining_a_proposed_time_takes_the_lesson_off_the_proposers_calendar(app, client, stripe_world,
                                                                                smtp_sink):
    booking = authorize(stripe_world, client, book(days_ahead=10))
    booking = approvals.approve(booking.lesson.tutor, booking.id, now())
    lesson, student, tutor = booking.lesson, booking.booker, booking.lesson.tutor
    proposal = reschedules.propose(student, lesson.id, lesson.start_at + timedelta(hours=3), None, now())
    reschedules.respond(tutor, lesson.id, proposal.reschedule_version, False, now())
    outbox.deliver_due(now())
    subject, declined = calendars_sent(smtp_sink, student.email)[-1]
    assert "declined" in subject.lower()
    assert declined["METHOD"] == "CANCEL" and declined.events[0]["UID"] == f"lesson-{lesson.id}@lessonbook"
    assert declined.events[0]["SEQUENCE"] > 0
    db.session.rollback()
    assert db.session.get(Booking, booking.id).lesson.state == "CANCELLED"
