"""A student with a page open sees the bell count a new notification, opens the centre, reads it, and the count
goes back down, all without reloading the page."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import User
from webapp.services.notify import notify

pytestmark = pytest.mark.e2e


def _bell(page: Page, unread: int):
    return page.get_by_role("navigation").get_by_role("link", name=f"Notifications, {unread} unread", exact=True)


@pytest.fixture
def quick_bell(app):
    """The bell refreshes every second instead of every minute, so the test need not wait a minute."""
    saved = app.config["NOTIFICATION_POLL_SECONDS"]
    app.config["NOTIFICATION_POLL_SECONDS"] = 1
    yield
    app.config["NOTIFICATION_POLL_SECONDS"] = saved


def test_the_bell_counts_a_new_notification_and_reading_it_in_the_centre_brings_the_count_down(quick_bell,
                                                                                              browser_page):
    student = factories.user("student")
    student_id, email = student.id, student.email
    db.session.remove()  # the live server's threads read and write the same database from here on

    page = browser_page()
    log_in(page, email)
    expect(_bell(page, 0)).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    # A lesson reminder is written for the student while their page is open.
    notify(db.session.get(User, student_id), kind="lesson_reminder", title="Mathematics tomorrow at 10:00",
           body="Your lesson with Ada starts in 24 hours.", url="/notifications")
    db.session.commit()
    db.session.remove()

    expect(_bell(page, 1)).to_be_visible()
    expect(_bell(page, 1)).to_have_text("1")
    assert page.evaluate("window.__sameDocument === true"), "the count arrived by reloading the page"

    _bell(page, 1).click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    item = page.locator("#notification-list li", has_text="Mathematics tomorrow at 10:00")
    expect(item).to_contain_text("Your lesson with Ada starts in 24 hours.")
    expect(item).to_contain_text("New")
    page.evaluate("window.__sameDocument = true")

    item.get_by_role("button", name="Mark as read").click()
    expect(_bell(page, 0)).to_be_visible()
    expect(item.get_by_role("button", name="Mark as read")).to_have_count(0)
    expect(item).not_to_contain_text("New")
    assert page.evaluate("window.__sameDocument === true"), "marking it read reloaded the page"

    page.reload()
    expect(_bell(page, 0)).to_be_visible()
    expect(page.locator("#notification-list li", has_text="Mathematics tomorrow at 10:00")).to_have_class(
        "notification read")
