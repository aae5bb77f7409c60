"""The email outbox: written with the change, delivered over real SMTP by the job, never lost when SMTP is down."""
from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import select

from tests.integration.test_payments import now
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import outbox

CONTEXT = {"booking_id": 7, "tutor_id": 3, "tutor_name": "Alice", "amount": "£40.00", "transfer_id": "tr_1",
           "error": None}


def test_queued_email_is_delivered_once_over_smtp(app, smtp_sink):
    outbox.enqueue_email("payout_status", "team@example.com", CONTEXT, dedupe_key="payout:7")
    outbox.enqueue_email("payout_status", "team@example.com", CONTEXT, dedupe_key="payout:7")  # same key: once
    db.session.commit()
    assert outbox.deliver_due(now()) == 1
    assert outbox.deliver_due(now()) == 0
    [(recipients, message)] = smtp_sink.messages
    assert recipients == ["team@example.com"]
    assert message["Subject"] == "Payout for booking #7: sent"
    assert "Transfer: tr_1" in message.get_body(("plain",)).get_content()
    assert "<strong>Transfer:</strong> tr_1" in message.get_body(("html",)).get_content()


def test_smtp_down_then_up_delivers_every_message_once(app, smtp_sink):
    for booking_id in (1, 2):
        outbox.enqueue_email("payout_status", "team@example.com", {**CONTEXT, "booking_id": booking_id})
    db.session.commit()
    working_port = app.config["MAIL_PORT"]
    smtp_sink.stop()  # the server goes away
    t0 = now()
    assert outbox.deliver_due(t0) == 0
    waiting = list(db.session.scalars(select(OutboxMessage)))
    assert {m.status for m in waiting} == {"pending"} and all(m.attempts == 1 for m in waiting)
    assert all(m.next_attempt_at > t0 and m.last_error for m in waiting)
    assert outbox.deliver_due(t0) == 0  # not due yet: backoff
    from tests.conftest import SmtpSink
    revived = SmtpSink()
    app.config["MAIL_PORT"] = revived.port
    try:
        assert outbox.deliver_due(t0 + timedelta(hours=1)) == 2
        assert outbox.deliver_due(t0 + timedelta(hours=2)) == 0
        assert sorted(m["Subject"] for _, m in revived.messages) == ["Payout for booking #1: sent",
                                                                     "Payout for booking #2: sent"]
    finally:
        revived.stop()
        app.config["MAIL_PORT"] = working_port


def test_lesson_emails_carry_a_calendar_file(app, smtp_sink):
    ics = {"uid": "lesson-9@lessonbook", "start": "2027-03-28T09:00:00+00:00", "end": "2027-03-28T10:00:00+00:00",
           "summary": "Maths lesson with Alice", "location": "Online", "sequence": 1, "cancelled": False}
    outbox.enqueue_email("reschedule_accepted", "sam@example.com", {
        "title": "Moved", "recipient_name": "Sam", "subject": "Maths", "tutor_name": "Alice", "learners": "Sam",
        "when": "Sun 28 Mar 2027, 10:00", "until": "11:00", "zone": "Europe/London", "lesson_url": "http://x/1",
        "ics": ics})
    db.session.commit()
    assert outbox.deliver_due(now()) == 1
    [(_, message)] = smtp_sink.messages
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "lesson.ics" and attachment.get_content_type() == "text/calendar"
    assert attachment.get_param("method") == "REQUEST"
    calendar = Calendar.from_ical(attachment.get_content())
    [event] = calendar.events
    assert calendar["METHOD"] == "REQUEST" and event["SEQUENCE"] == 1 and event["UID"] == "lesson-9@lessonbook"
    assert event.start == datetime(2027, 3, 28, 9, tzinfo=UTC)
    assert event["ORGANIZER"].email in app.config["MAIL_FROM"] and event["ORGANIZER"].params["CN"]
