"""Calendars as people use them: a tutor pastes their calendar's secret iCal address, sees it synced, and the
student's booker stops offering the busy time; a student makes, copies and renews their lessons' feed address."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from rq import SimpleWorker

from standins.google_calendar import GoogleCalendarStandIn
from tests import factories
from tests.calendar_feed_server import feed_server  # noqa: F401 (fixture)
from tests.e2e.conftest import log_in
from tests.ics_samples import single_event
from webapp.adapters.queue import JSONJob, get_queue, get_redis
from webapp.extensions import db

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
MORNINGS = [(d, "09:00", "12:00") for d in range(7)]


def _next_month_day(day: int = 10) -> date:
    today = datetime.now(LONDON).date()
    return (today.replace(day=28) + timedelta(days=4)).replace(day=day)


def _ics_time(day: date, hour: int) -> str:
    return datetime.combine(day, datetime.min.time().replace(hour=hour), LONDON).astimezone(ZoneInfo("UTC")).strftime(
        "%Y%m%dT%H%M%SZ")


def _run_worker(app) -> None:
    """What `worker.py worker` does with the enqueued sync: a real RQ worker, in this process, until the queue is
    empty."""
    with app.app_context():
        queue = get_queue()
        SimpleWorker([queue], connection=get_redis(), serializer=queue.serializer, job_class=JSONJob).work(
            burst=True, logging_level="WARNING")
        db.session.remove()


def _day_times(page, tutor_id: int, day: date) -> None:
    page.goto(f"/tutors/{tutor_id}?month={day:%Y-%m}")
    page.locator("#slot-picker").get_by_role("link", name=re.compile(rf"^{day:%A} {day.day} {day:%B}, ")).click()
    expect(page.locator("#slot-picker").get_by_role("heading", name=f"{day:%A} {day.day} {day:%B}")).to_be_visible()


def test_a_tutor_connects_a_calendar_and_the_student_is_no_longer_offered_the_busy_time(app, browser_page,
                                                                                         feed_server):
    tutor, _ = factories.tutor(name="Ana Lopez", weekly=MORNINGS, horizon_days=120)
    student = factories.user("student", timezone="Europe/London")
    tutor_email, student_email, tutor_id = tutor.email, student.email, tutor.id
    db.session.remove()
    day = _next_month_day()
    address = feed_server.serve("/calendar/ical/ana%40example.com/private-5ecret/basic.ics",
                                single_event("dentist@google.com", _ics_time(day, 10), _ics_time(day, 11)))

    student_page = browser_page("Europe/London")
    log_in(student_page, student_email)
    _day_times(student_page, tutor_id, day)
    expect(student_page.locator("#slot-picker a.slot")).to_have_text(
        ["09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00"])

    page = browser_page("Europe/London")
    log_in(page, tutor_email)
    page.get_by_role("navigation").get_by_role("link", name="Calendars").click()
    page.get_by_label("Secret address in iCal format").fill(address)
    page.get_by_label("Name (optional)").fill("Personal")
    page.get_by_role("button", name="Connect calendar").click()
    sources = page.locator("#calendar-sources")
    expect(sources.get_by_text("Waiting for the first sync")).to_be_visible()
    expect(sources.get_by_text("Students cannot book you right now")).to_be_visible()
    expect(sources).not_to_contain_text("private-5ecret")  # the secret part is never shown

    _run_worker(app)  # the sync job enqueued when the calendar was connected
    expect(sources.get_by_text(re.compile(r"Synced .*: 1 busy time ahead"))).to_be_visible()
    expect(sources.get_by_text("Students cannot book you right now")).to_have_count(0)

    _day_times(student_page, tutor_id, day)
    expect(student_page.locator("#slot-picker a.slot")).to_have_text(["09:00", "11:00"])


def test_a_student_makes_copies_and_renews_the_address_of_their_lessons_feed(app, browser_page):
    tutor, teach = factories.tutor(name="Ana Lopez")
    start = (datetime.now(LONDON) + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)
    lesson = factories.lesson_at(start, teacher=tutor, teach=teach)
    email, uid = lesson.students[0].email, f"lesson-{lesson.id}@lessonbook"
    db.session.remove()

    page = browser_page("Europe/London")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, email)
    page.goto("/settings")
    feed = page.locator("#calendar-feed")
    feed.get_by_role("button", name="Make my calendar address").click()
    address = feed.get_by_label("Your calendar address")
    expect(address).to_have_value(re.compile(r"/calendar/[A-Za-z0-9_-]+\.ics$"))
    first = address.input_value()
    feed.get_by_role("button", name="Copy").click()
    expect(feed.get_by_text("Copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == first

    answer = page.request.get(first)
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/calendar")
    assert f"UID:{uid}" in answer.text()

    # Renewing asks first, then shows the new address; the old one stops working.
    feed.get_by_text("Make a new address", exact=True).click()
    feed.get_by_role("button", name="Yes, make a new address").click()
    expect(address).not_to_have_value(first)
    assert page.request.get(address.input_value()).status == 200
    assert page.request.get(first).status == 404

    # Reloading never shows an address again (only its hash is kept).
    page.reload()
    expect(feed.get_by_label("Your calendar address")).to_have_count(0)
    expect(feed).to_contain_text("shown only once")


def test_a_tutor_connects_google_calendar_through_its_consent_page(app, browser_page, monkeypatch):
    google = GoogleCalendarStandIn(client_id="lessonbook-e2e", client_secret="e2e-secret")
    for key, value in {"GOOGLE_CLIENT_ID": "lessonbook-e2e", "GOOGLE_CLIENT_SECRET": "e2e-secret",
                       "GOOGLE_OAUTH_AUTH_URL": google.auth_url, "GOOGLE_OAUTH_TOKEN_URL": google.token_url,
                       "GOOGLE_CALENDAR_API_BASE": google.api_base}.items():
        monkeypatch.setitem(app.config, key, value)
    tutor, _ = factories.tutor(name="Ana Lopez", weekly=MORNINGS, horizon_days=120)
    email = tutor.email
    db.session.remove()
    day = _next_month_day()
    start = datetime.combine(day, datetime.min.time().replace(hour=10), LONDON)
    google.set_busy([(start, start + timedelta(hours=1))])
    try:
        page = browser_page("Europe/London")
        log_in(page, email)
        page.goto("/tutor/calendars")
        page.get_by_role("link", name="Connect Google Calendar").click()
        expect(page.get_by_role("heading", name="Lessonbook wants to access your Google Account")).to_be_visible()
        page.get_by_role("button", name="Allow").click()
        expect(page.get_by_text("Google Calendar connected")).to_be_visible()
        sources = page.locator("#calendar-sources")
        expect(sources.get_by_text("Waiting for the first sync")).to_be_visible()
        _run_worker(app)
        expect(sources.get_by_text(re.compile(r"Synced .*: 1 busy time ahead"))).to_be_visible()
        expect(sources).to_contain_text("free/busy only")
        expect(page.get_by_role("link", name="Sign in to Google again")).to_be_visible()
    finally:
        google.close()
