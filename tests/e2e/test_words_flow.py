"""Words and numbers a newcomer reads (issue 7, item 10): review comments shown, the tutor's rows carry the
student's note and lead to the booking, a tutor profile loads without an htmx error, and every page has an icon."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import nav
from webapp.extensions import db
from webapp.services import bookings, reviews
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def test_a_review_comment_is_shown_on_the_profile_and_to_the_tutor_and_the_profile_has_no_htmx_error(
        browser_page, live_server):
    admin = factories.user("admin")
    knowledge = reviews.add_criterion(admin, "Knowledge", 1)
    lesson = factories.finished_lesson()
    student = lesson.students[0]
    reviews.submit_review(student, lesson.id, {str(knowledge.id): 4}, "Explains fractions like nobody else.",
                          datetime.now(UTC))
    tutor_id, tutor_email, booking_id = lesson.tutor_id, lesson.tutor.email, lesson.booking.id
    first_name = student.name.split(" ")[0]
    db.session.remove()

    page = browser_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"/tutors/{tutor_id}")
    comments = page.locator("#review-comments")
    expect(comments).to_contain_text("Explains fractions like nobody else.")
    expect(comments).to_contain_text(f"— {first_name}, ")
    page.locator("#slot-picker").wait_for()
    assert not [p for p in problems if "htmx" in p.lower() or "syntax" in p.lower()], problems

    icon = page.locator('link[rel="icon"]')
    expect(icon).to_have_count(1)
    answer = requests.get(live_server.url + icon.get_attribute("href"), timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("image/svg+xml")

    log_in(page, tutor_email)
    page.goto(f"/bookings/{booking_id}")
    expect(page.locator("#lesson-reviews")).to_contain_text("Explains fractions like nobody else.")


def test_the_tutors_lesson_row_shows_the_students_note_and_opens_the_booking(browser_page, live_server):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    now = datetime.now(UTC)
    start = (now + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60,
                                                               note="Exam on Friday: past paper 2, please."), now)
    tutor_email, student_name, booking_id = tutor.email, student.name, booking.id
    db.session.remove()

    page = browser_page()
    log_in(page, tutor_email)
    nav(page, "My lessons").click()
    row = page.locator("#tutor-lessons tbody tr", has_text=student_name)
    expect(row).to_contain_text("Note: Exam on Friday: past paper 2, please.")
    expect(row).to_contain_text("Awaiting payment")
    row.get_by_role("link", name=re.compile(r"^\w{3} \d{2} \w{3} \d{4}, 10:00")).click()
    expect(page).to_have_url(re.compile(rf"/bookings/{booking_id}$"))
    expect(page.locator("#lesson-state")).to_have_text("Held, awaiting payment")
