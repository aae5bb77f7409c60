"""Forms as people fill them in: every error at once, an address instead of coordinates, an explicit choice of who a
lesson is for, and a second step before removing a child."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import Child, Lesson, LessonAddress

pytestmark = pytest.mark.e2e


def _booking_form_url(app, tutor, teach, lesson_type: str) -> str:
    """The booking form a time in the booker links to (the booker itself has its own tests)."""
    start = (datetime.now(UTC) + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)
    with app.test_request_context():
        return url_for("bookings.new", tutor_id=tutor.id, teach_id=teach.id, start=start.isoformat(), duration=60,
                       lesson_type=lesson_type)


def test_a_form_with_two_bad_fields_shows_both_errors_beside_them_and_in_a_summary(browser_page):
    page = browser_page()
    page.goto("/register")
    page.get_by_label("Email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Sign up").click()

    summary = page.get_by_role("alert").filter(has_text="problems")
    expect(summary).to_contain_text("There are 3 problems")
    expect(summary.get_by_role("link", name=re.compile("Email: Invalid email address"))).to_be_visible()
    expect(summary.get_by_role("link", name=re.compile("Password: Use at least 10 characters"))).to_be_visible()
    for label, message in (("Your name", "Your name is missing: please fill it in."), ("Email", "Invalid email address."),
                           ("Password", "Use at least 10 characters.")):
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        described = field.get_attribute("aria-describedby").split()
        error_id = next(i for i in described if i.endswith("-error"))
        expect(page.locator(f"#{error_id}")).to_have_text(message)
    # The summary's link takes the user to the field.
    summary.get_by_role("link", name=re.compile("Password:")).click()
    expect(page.get_by_label("Password", exact=True)).to_be_focused()


def test_an_in_person_lesson_is_booked_with_an_address_the_geocoder_places(app, browser_page, geocoder):
    tutor, teach = factories.tutor(online=False, in_person=True, name="Tess Tutor")
    student = factories.user("student")
    email, form_url = student.email, _booking_form_url(app, tutor, teach, "in_person")
    db.session.remove()

    page = browser_page()
    log_in(page, email)
    page.goto(form_url)
    expect(page.get_by_label("Latitude")).to_have_count(0)  # nobody types coordinates
    where = page.get_by_role("group", name="Where should the lesson be?")
    where.get_by_label("Street address").fill("221B Baker Street")
    where.get_by_label("Postcode").fill("NW1 6XE")
    where.get_by_label("City").fill("London")
    page.get_by_role("button", name="Book and hold this slot").click()

    expect(page.get_by_text("Your slot is held")).to_be_visible()
    expect(page.locator("main")).to_contain_text("221B Baker Street, London NW1 6XE")
    stored = db.session.scalar(select(LessonAddress))
    assert (stored.line1, stored.postcode, stored.city) == ("221B Baker Street", "NW1 6XE", "London")
    assert (stored.latitude, stored.longitude) == (51.5237629, -0.1584743)  # the stand-in's answer
    assert geocoder.requests[-1]["params"]["postalcode"] == "NW1 6XE"


def test_a_parent_must_choose_who_the_lesson_is_for(app, browser_page):
    tutor, teach = factories.tutor(name="Tess Tutor")
    parent = factories.user("parent")
    factories.child(parent, "Robin")
    factories.child(parent, "Kai")
    email, form_url = parent.email, _booking_form_url(app, tutor, teach, "online")
    db.session.remove()

    page = browser_page()
    log_in(page, email)
    page.goto(form_url)
    who = page.get_by_role("group", name="Who is the lesson for?")
    expect(who.get_by_role("radio", name="Robin")).not_to_be_checked()
    expect(who.get_by_role("radio", name="Kai")).not_to_be_checked()
    expect(who.get_by_role("radio", name="Myself")).to_have_count(0)  # a parent books for their children only
    page.get_by_role("button", name="Book and hold this slot").click()

    expect(page.get_by_role("alert")).to_contain_text("Choose who the lesson is for.")
    expect(who).to_contain_text("Choose who the lesson is for.")
    assert db.session.scalar(select(Lesson)) is None
    who.get_by_role("radio", name="Kai").check()
    page.get_by_role("button", name="Book and hold this slot").click()
    expect(page.get_by_text("Your slot is held")).to_be_visible()
    expect(page.locator("main dl").filter(has_text="For")).to_contain_text("Kai")


def test_removing_a_child_asks_first_and_works_without_javascript(browser_page, new_context, live_server):
    parent = factories.user("parent")
    factories.child(parent, "Robin")
    email = parent.email
    db.session.remove()

    context = new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/children")
    children = page.locator("#children")
    expect(children).to_contain_text("Robin")
    expect(page.get_by_role("button", name="Yes, remove Robin")).to_be_hidden()

    children.get_by_text("Remove", exact=True).click()  # opens the question; nothing is removed yet
    expect(children).to_contain_text("Remove Robin from your account?")
    assert db.session.scalar(select(Child).where(Child.name == "Robin")) is not None

    page.get_by_role("button", name="Yes, remove Robin").click()
    expect(page.get_by_text("Child removed.")).to_be_visible()
    expect(page.locator("#children")).not_to_contain_text("Robin")
    db.session.rollback()
    assert db.session.scalar(select(Child).where(Child.name == "Robin")) is None
