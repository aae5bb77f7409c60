"""Prepaid minutes as people use them: a student buys a tutor's package on Stripe's hosted page, pays a held booking
with minutes (no card), the tutor approves it, then the student cancels and sees the minutes back.

Debian's Chromium drives Lessonbook and the local Stripe server's hosted checkout; the local Stripe server delivers
its signed webhooks to the live server. Accounts and the held booking are built through the services.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import VISA, nav, open_my_booking, pay_on_the_hosted_page
from webapp.domain.money import Money
from webapp.extensions import db
from webapp.services import availability, bookings, packages
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def _held_booking_and_a_package() -> dict:
    """A tutor (£40.00 an hour) offering 2 hours at 10 % off, and a student with a 60-minute booking held 3 days on."""
    tutor, teach = factories.tutor()
    packages.add_package(tutor, 2, 10)
    student = factories.user("student")
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=3),
                                                             now + timedelta(days=4), 60), now).slots[0]
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    data = {"booking_id": booking.id, "start": start, "tutor_id": tutor.id, "tutor_name": tutor.name,
            "tutor_email": tutor.email, "student_name": student.name, "student_email": student.email}
    db.session.remove()  # the live server's threads use the database from here on
    return data


def test_buy_a_package_book_with_minutes_the_tutor_approves_then_cancel_and_see_the_minutes_back(
        browser_page, live_server, stripe_webhooks):
    held = _held_booking_and_a_package()
    page = browser_page()
    log_in(page, held["student_email"])

    # The tutor's profile loads their packages; buy 2 hours on Stripe's hosted page.
    page.goto(f"/tutors/{held['tutor_id']}")
    offer = page.locator("#packages-offer")
    expect(offer).to_contain_text("2 hours (120 minutes) for £72.00")
    expect(offer.locator("#minutes-balance")).to_have_text(
        f"Your minutes with {held['tutor_name']}: 0 minutes.")
    offer.get_by_role("button", name="Buy 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    pay_on_the_hosted_page(page, VISA, held["student_email"], Money(7200, "GBP"))
    expect(page).to_have_url(re.compile(r"/minutes/purchases/\d+\?returned=1$"))
    expect(page.locator("#purchase-state")).to_contain_text(
        f"Paid: 120 minutes with {held['tutor_name']} are yours")  # once the webhook has granted them
    expect(page.locator("#minutes-balance")).to_contain_text("120 minutes")

    # Pay the held booking with minutes: no card.
    open_my_booking(page, held["start"])
    page.get_by_role("link", name="Pay now").click()
    expect(page.locator("#pay-with-minutes #minutes-balance")).to_have_text(
        f"You have 120 minutes with {held['tutor_name']}; this lesson takes 60.")
    page.get_by_role("button", name="Pay with 60 minutes").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{held['booking_id']}$"))
    expect(page.locator("#money-state")).to_have_text("60 minutes held, not spent yet")

    # The tutor approves: the minutes are spent.
    tutor_page = browser_page()
    log_in(tutor_page, held["tutor_email"])
    nav(tutor_page, "My lessons").click()
    row = tutor_page.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row).to_contain_text("Paid with 60 prepaid minutes — approve by")
    row.get_by_role("button", name="Approve").click()
    expect(tutor_page.get_by_role("status").filter(has_text="Approved")).to_have_text(
        "Approved: the 60 prepaid minutes held for it are spent and the lesson is confirmed.")
    row = tutor_page.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row).to_contain_text("Paid with 60 minutes")

    # The student cancels three days ahead: all 60 minutes come back.
    page.reload()
    expect(page.locator("#booking-status")).to_have_text("Confirmed and paid with 60 minutes.")
    page.get_by_role("link", name="Cancel this lesson").click()
    expect(page.locator("#refund-preview")).to_have_text(
        "Cancelled at least 24 hours before the start: full refund of 60 minutes.")
    page.get_by_role("button", name="Cancel the lesson").click()
    expect(page.locator("#booking-status")).to_have_text(
        "Cancelled; paid with 60 minutes, all of them returned to your balance.")
    nav(page, "My minutes").click()
    row = page.locator("#minutes tbody tr", has_text=held["tutor_name"])
    expect(row.locator("td").nth(1)).to_have_text("120 minutes")
    expect(row.locator("td").nth(2)).to_have_text("0 minutes")
