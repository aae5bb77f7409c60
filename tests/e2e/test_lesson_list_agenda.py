"""The tutor's lesson list, as a tutor sees it: an upcoming lesson shows its student's topics still weak from
homework, and the line leads to the full agenda."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.services import curriculum

pytestmark = pytest.mark.e2e


def test_the_lesson_list_shows_a_weak_topics_line_for_the_next_lesson(browser_page):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    tutor, teach = factories.tutor()
    student = factories.user("student", name="Sam Weak")
    factories.weak_topic(factories.finished_lesson(tutor, teach, booker=student), "pythagoras")
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    factories.lesson_at(soon, teacher=tutor, teach=teach, booker=student)
    tutor_email = tutor.email
    db.session.remove()  # the live server's threads read the same database from here on

    page = browser_page("Europe/London")
    log_in(page, tutor_email)
    page.get_by_role("link", name="My lessons").first.click()
    row = page.locator("#tutor-lessons tr").filter(has_text="Sam Weak")
    line = row.locator(".weak-topics")
    expect(line).to_contain_text("Weak topics:")
    expect(line).to_contain_text("Pythagoras' theorem")
    expect(line).to_contain_text("attempted")
    page.screenshot(path="/tmp/lesson-list-agenda.png", full_page=True)
    line.get_by_role("link", name="agenda").click()
    expect(page.locator("#agenda")).to_contain_text("Pythagoras' theorem")
