"""Phones: every page, for every role, fits a 390 px and a 360 px wide screen without sideways scrolling, with the
page as the only scroll box; the navigation folds behind a Menu button that opens it.

Screenshots of the main pages at both widths land in var/screenshots/mobile/ to be looked at.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import url_for
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.integration.test_payments import authorize, book
from webapp.extensions import db
from webapp.services import approvals, reviews

pytestmark = pytest.mark.e2e

WIDTHS = (390, 360)
# Not test-results/: pytest-playwright empties that folder at the start of every run.
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "mobile"

# Elements wider than the screen, for the failure message; and scroll boxes inside the page (content that overflows
# an element whose overflow is auto or scroll).
OVERFLOW_JS = """() => {
  const width = window.innerWidth, wide = [], boxes = [];
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                     (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 0.5) wide.push(name(el) + ' right=' + Math.round(box.right));
    const style = getComputedStyle(el);
    const scrolls = v => v === 'auto' || v === 'scroll';
    if ((scrolls(style.overflowY) && el.scrollHeight > el.clientHeight + 1) ||
        (scrolls(style.overflowX) && el.scrollWidth > el.clientWidth + 1)) boxes.push(name(el));
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, wide: wide.slice(0, 6), boxes};
}"""


def _paid_booking(stripe_world, client, student, tutor_teach, days_ahead):
    """A booking paid through the local Stripe and approved by the tutor, so it has a receipt."""
    booking = authorize(stripe_world, client, book(student, tutor_teach, days_ahead=days_ahead))
    return approvals.approve(booking.lesson.tutor, booking.id, datetime.now(UTC))


@pytest.fixture
def world(app, client, stripe_world):
    """Each role with something on every page: bookings awaiting payment and paid, a child, a finished lesson."""
    tutor, teach = factories.tutor(online=True, in_person=True, name="Alexandra Montgomery-Fairweather")
    student = factories.user("student", name="Maximilian Bartholomew-Smythe")
    parent = factories.user("parent", name="Penelope Parent")
    kid = factories.child(parent, "Robin")
    admin = factories.user("admin", name="Ada Admin")
    awaiting = book(student, (tutor, teach), days_ahead=3)
    paid = _paid_booking(stripe_world, client, student, (tutor, teach), days_ahead=6)
    child_lesson = factories.lesson_at(paid.lesson.start_at + timedelta(days=1), teacher=tutor, teach=teach,
                                       for_child=kid, booked_at=datetime.now(UTC))
    finished = factories.finished_lesson(tutor, teach, booker=student)
    # Reviews on the profile, and an open review form for the student's finished lesson.
    criteria = [reviews.add_criterion(admin, name, i) for i, name in enumerate(["Subject knowledge", "Clarity"], 1)]
    reviewer = factories.user("student")
    reviewed = factories.finished_lesson(tutor, teach, booker=reviewer, ended_ago=timedelta(days=3))
    reviews.submit_review(reviewer, reviewed.id, {c.id: 5 for c in criteria},
                          "Patient, clear and well prepared: my daughter's confidence with quadratic equations "
                          "went up a lot over three lessons.", datetime.now(UTC))
    slot = (datetime.now(UTC) + timedelta(days=9)).replace(hour=10, minute=0, second=0, microsecond=0)
    with app.test_request_context():
        book_online = url_for("bookings.new", tutor_id=tutor.id, teach_id=teach.id, start=slot.isoformat(),
                              duration=60, lesson_type="online")
        book_in_person = url_for("bookings.new", tutor_id=tutor.id, teach_id=teach.id, start=slot.isoformat(),
                                 duration=60, lesson_type="in_person")
        common = [url_for("main.home"), url_for("tutors.directory"), url_for("tutors.profile", tutor_id=tutor.id),
                  url_for("support.new_ticket")]
        signed_in = [url_for("account.settings"), url_for("notifications.index"), url_for("bookings.index")]
        pages = {
            "anonymous": (None, common + [url_for("auth.login"), url_for("auth.register"),
                                          url_for("auth.forgot_password")]),
            "student": (student.email, common + signed_in + [
                book_online, url_for("bookings.detail", booking_id=awaiting.id),
                url_for("bookings.pay", booking_id=awaiting.id), url_for("bookings.detail", booking_id=paid.id),
                url_for("bookings.cancel", booking_id=paid.id), url_for("lessons.reschedule", lesson_id=paid.lesson_id),
                url_for("notes.page", lesson_id=finished.id), url_for("reviews.review", lesson_id=finished.id)]),
            "parent": (parent.email, common + signed_in + [
                book_in_person, url_for("account.children"),
                url_for("bookings.detail", booking_id=child_lesson.booking.id)]),
            "tutor": (tutor.email, common + signed_in + [
                url_for("tutor_dashboard.lessons"), url_for("tutor_dashboard.availability"),
                url_for("tutor_dashboard.teaches"), url_for("tutor_dashboard.profile"),
                url_for("tutor_dashboard.payouts_page"), url_for("calendars.sources"),
                url_for("bookings.detail", booking_id=paid.id),
                url_for("lessons.reschedule", lesson_id=paid.lesson_id), url_for("notes.page", lesson_id=finished.id)]),
            "admin": (admin.email, common + signed_in + [
                url_for("admin.index"), url_for("admin.commissions"), url_for("admin.coupons"),
                url_for("admin_jobs.index"), url_for("reviews.criteria"),
                url_for("bookings.detail", booking_id=paid.id)]),
        }
    db.session.remove()  # the live server's threads read and write the same database from here on
    return pages


# The pages whose screenshots are looked at (path fragments).
MAIN_PAGES = ("/bookings", "/pay", "/tutor", "/admin/", "/settings", "/children", "/book", "/review", "/notes")


def _check_page(page: Page, path: str, role: str, width: int) -> list[str]:
    response = page.goto(path)
    assert response is not None and response.status == 200, f"{role} {path}: HTTP {response and response.status}"
    found = page.evaluate(OVERFLOW_JS)
    problems = []
    if found["scrollWidth"] > found["innerWidth"]:
        problems.append(f"{role} at {width}px: {path} is {found['scrollWidth']}px wide: {found['wide']}")
    if found["boxes"]:
        problems.append(f"{role} at {width}px: {path} has scroll boxes inside the page: {found['boxes']}")
    if any(fragment in path for fragment in MAIN_PAGES):
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/").split("?")[0].replace("/", "_") or "home"
        page.screenshot(path=str(SHOTS / f"{role}-{name}-{width}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("role", ["anonymous", "student", "parent", "tutor", "admin"])
def test_every_page_fits_a_phone_for_every_role(world, role, new_context, live_server):
    email, paths = world[role]
    context = new_context(base_url=live_server.url, timezone_id="Europe/London", locale="en-GB",
                          viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    if email:
        log_in(page, email)  # at desktop width, where the navigation is spread out
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        for path in paths:
            problems += _check_page(page, path, role, width)
    assert not problems, "\n".join(problems)

    # On a phone the links fold behind the Menu button, which opens them.
    page.goto("/")
    nav = page.locator("#site-nav")
    expect(nav).to_be_hidden()
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_have_attribute("aria-expanded", "false")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Find a tutor")).to_be_visible()
    if email:
        expect(nav.get_by_role("button", name="Log out")).to_be_visible()
    else:
        expect(nav.get_by_role("link", name="Log in")).to_be_visible()
