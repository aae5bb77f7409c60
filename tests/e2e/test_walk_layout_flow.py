"""Found walking the product: a note typed without spaces must not widen the booking page, the settings page
shows one push button (on or off), not both, a tutor's navigation is one row at 1280 px, and a pasted discount code
is checked at once."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import Notification
from webapp.services import tickets

pytestmark = pytest.mark.e2e


def test_a_long_unbroken_note_wraps_on_the_booking_page_at_phone_width(app, browser_page):
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=5)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15))
    booking = lesson.booking
    booking.note = "https://example.com/" + "x" * 400  # a pasted link: no spaces to break at
    db.session.commit()
    email, booking_id = booking.booker.email, booking.id
    page = browser_page()
    log_in(page, email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/bookings/{booking_id}")
    expect(page.get_by_text("https://example.com/xxx")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_settings_show_only_the_push_button_that_applies(app, browser_page):
    user = factories.user("student")
    page = browser_page()
    log_in(page, user.email)
    page.goto("/settings")
    expect(page.locator("[data-push-status]")).not_to_have_text("This needs JavaScript turned on.")
    on = page.get_by_role("button", name="Turn on notifications")
    off = page.get_by_role("button", name="Turn off on this device")
    # Headless Chromium has no push subscription: "on" is offered, "off" is not (or neither, if unsupported).
    assert not (on.is_visible() and off.is_visible())
    expect(off).to_be_hidden()


def test_a_tutors_navigation_is_one_row_of_links_on_a_1280_px_screen(app, browser_page):
    # Ten links for a tutor wrapped into three rows at 1280 px, "Log out" alone on the last one.
    tutor, _ = factories.tutor(name="Alice Hart", timezone="America/Argentina/Buenos_Aires")
    db.session.add(Notification(user_id=tutor.id, kind="booking", title="New booking to approve"))
    db.session.commit()  # the bell then shows a count beside it: the row must still hold
    page = browser_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, tutor.email)
    middles = page.evaluate("[...document.querySelectorAll('#site-nav > *')].map(e => {"
                            " const box = e.getBoundingClientRect(); return Math.round(box.top + box.height / 2); })")
    assert len(middles) >= 10 and max(middles) - min(middles) <= 2, middles  # one row: the items are centred on it
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.locator("#notification-bell .chip")).to_have_text("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_a_discount_code_pasted_into_the_pay_page_is_checked_without_leaving_the_field(app, browser_page):
    # The live quote listened for keyup only: a code pasted with the mouse (or put in by autofill) was not checked
    # until the field lost focus. Playwright's fill() is such an input: one input event, no key pressed.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now + timedelta(days=5)
    lesson = factories.lesson_at(start - timedelta(minutes=start.minute % 15), booked_at=now,
                                 booking_state="AWAITING_PAYMENT")
    email, booking_id = lesson.booking.booker.email, lesson.booking.id
    page = browser_page()
    log_in(page, email)
    page.goto(f"/bookings/{booking_id}/pay")
    code = page.get_by_label("Discount code (optional)")
    code.fill("NOSUCHCODE")
    expect(page.locator("#quote").get_by_role("alert")).to_have_text("We do not know that code. Check the spelling.")
    expect(code).to_be_focused()


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_search_forms_keep_a_gap_above_their_results(app, browser_page, width):
    # The inbox's Filter button touched the first result (at 390 px it sat on the first card).
    tickets.open_ticket(factories.user("student"), "Link broken", "It does not open.", None, [],
                               datetime.now(UTC))
    email = factories.user("admin").email
    db.session.remove()
    page = browser_page()
    log_in(page, email)
    page.set_viewport_size({"width": width, "height": 844})
    for path in ("/admin/tickets/", "/admin/users/", "/admin/audit"):
        page.goto(path)
        gap = page.evaluate("(() => { const f = document.querySelector('main form[role=search]');"
                            " const next = f.nextElementSibling; return next.getBoundingClientRect().top"
                            " - f.getBoundingClientRect().bottom; })()")
        assert gap >= 8, (path, gap)
