"""Calendar export: a user's secret feed address lists their lessons as iCalendar, parsed back here with the
icalendar library: one UID per lesson that never changes, a SEQUENCE that rises when it moves, STATUS:CANCELLED
when it is cancelled; a new address makes the old one useless; no log-in is needed, and readers are rate-limited."""
from __future__ import annotations

import re
from datetime import UTC, timedelta
from urllib.parse import urlsplit

import pytest
from icalendar import Calendar

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import authorize, book, now
from webapp.extensions import db
from webapp.models import CalendarFeed
from webapp.services import approvals, calendar_feeds, cancellations, reschedules

pytestmark = pytest.mark.integration
FEED_URL = re.compile(r"https?://[^\s\"<]+/calendar/[A-Za-z0-9_-]+\.ics")


def make_address(client, user) -> str:
    """Log in and press "Make my calendar address" on the settings page; returns the address shown."""
    login(client, user.email, factories.PASSWORD)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    response = client.post("/settings/calendar-feed", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    [url] = set(FEED_URL.findall(response.get_data(as_text=True)))
    return url


def read_feed(app, url: str, status: int = 200) -> Calendar | None:
    """Fetch the feed as a calendar app would: no cookies, no log-in."""
    response = app.test_client().get(urlsplit(url).path)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    if status != 200:
        return None
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def test_a_lessons_feed_keeps_its_uid_raises_its_sequence_when_moved_and_shows_a_cancellation(
        app, client, stripe_world):
    booking = authorize(stripe_world, client, book(days_ahead=10))
    booking = approvals.approve(booking.lesson.tutor, booking.id, now())
    lesson, student, tutor = booking.lesson, booking.booker, booking.lesson.tutor
    url = make_address(client, student)
    tutor_url = make_address(app.test_client(), tutor)

    booked = read_feed(app, url)
    [event] = booked.events
    assert event["UID"] == f"lesson-{lesson.id}@lessonbook" and event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED" and "METHOD" not in booked
    assert event.start == lesson.start_at and event.end == lesson.finish_at
    assert "ORGANIZER" not in event and not event.attendees  # a published feed, not an invitation
    assert booked["X-WR-CALNAME"] == f"Lessonbook: {student.name}"
    [tutor_event] = read_feed(app, tutor_url).events
    assert tutor_event["UID"] == event["UID"] and student.name in str(tutor_event["SUMMARY"])

    new_start = lesson.start_at + timedelta(hours=3)
    proposal = reschedules.propose(student, lesson.id, new_start, None, now())
    reschedules.respond(tutor, lesson.id, proposal.reschedule_version, True, now())
    [moved] = read_feed(app, url).events
    assert moved["UID"] == event["UID"] and moved["SEQUENCE"] > event["SEQUENCE"]
    assert moved.start == new_start.astimezone(UTC) and moved["STATUS"] == "CONFIRMED"

    cancellations.cancel_booking(student, booking.id, "Exam moved", now())
    for feed in (url, tutor_url):
        [cancelled] = read_feed(app, feed).events
        assert cancelled["UID"] == event["UID"] and cancelled["STATUS"] == "CANCELLED"
        assert cancelled["SEQUENCE"] > moved["SEQUENCE"]


def test_the_feed_lists_only_the_owners_booked_lessons(app, client):
    tutor, teach = factories.tutor()
    mine = factories.lesson_at(_slot(days=4), teacher=tutor, teach=teach)
    other_student = factories.user("student")
    theirs = factories.lesson_at(_slot(days=5), teacher=tutor, teach=teach, booker=other_student)
    unpaid = factories.lesson_at(_slot(days=6), teacher=tutor, teach=teach, booker=mine.students[0],
                                 booking_state="AWAITING_PAYMENT")
    parent = factories.user("parent")
    childs = factories.lesson_at(_slot(days=7), teacher=tutor, teach=teach, for_child=factories.child(parent))
    uids = lambda cal: {str(e["UID"]) for e in cal.events}  # noqa: E731
    student_feed = read_feed(app, make_address(client, mine.students[0]))
    assert uids(student_feed) == {f"lesson-{mine.id}@lessonbook"}  # not the unpaid hold, not someone else's
    assert unpaid.id != mine.id and theirs.id != mine.id
    assert uids(read_feed(app, make_address(app.test_client(), parent))) == {f"lesson-{childs.id}@lessonbook"}
    assert uids(read_feed(app, make_address(app.test_client(), tutor))) == {
        f"lesson-{mine.id}@lessonbook", f"lesson-{theirs.id}@lessonbook", f"lesson-{childs.id}@lessonbook"}


def _slot(days: int):
    start = now().replace(minute=0, second=0, microsecond=0) + timedelta(days=days)
    return start


def test_a_new_address_makes_the_old_one_useless_and_turning_off_ends_it(app, client):
    student = factories.user("student")
    first = make_address(client, student)
    read_feed(app, first)
    token = csrf_from(client.get("/settings").get_data(as_text=True))
    page = client.post("/settings/calendar-feed", data={"csrf_token": token}).get_data(as_text=True)
    [second] = set(FEED_URL.findall(page))
    assert second != first
    read_feed(app, first, status=404)
    read_feed(app, second)
    # Only a hash is stored: the address itself is nowhere in the database, nor shown again.
    stored = db.session.get(CalendarFeed, student.id)
    assert second.rsplit("/", 1)[1].removesuffix(".ics") not in stored.token_hash
    assert not FEED_URL.search(client.get("/settings").get_data(as_text=True))
    client.post("/settings/calendar-feed/off", data={"csrf_token": token})
    read_feed(app, second, status=404)


def test_made_up_addresses_are_not_found(app):
    for path in ("/calendar/nope.ics", "/calendar/" + "A" * 43 + ".ics", "/calendar/" + "x" * 500 + ".ics"):
        assert app.test_client().get(path).status_code == 404


def test_feed_readers_are_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "CALENDAR_FEED_RATE_LIMIT", "3 per minute")
    url = make_address(client, factories.user("student"))
    for _ in range(3):
        read_feed(app, url)
    read_feed(app, url, status=429)


def test_making_an_address_needs_a_log_in_and_the_form_token(app, client):
    assert client.post("/settings/calendar-feed").status_code in (302, 400, 401)
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert client.post("/settings/calendar-feed").status_code == 400  # no CSRF token
    assert calendar_feeds.feed_of(student) is None
