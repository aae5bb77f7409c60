"""Special offers as people use them: an admin makes an offer for new students that applies by itself, and a new
student's checkout shows it applied by name, charges the lower total, and names it on the receipt."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import PAY_BUTTON, VISA, nav, open_my_booking, pay_on_the_hosted_page
from webapp.domain.money import Money
from webapp.extensions import db
from webapp.services import availability, bookings
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def _row(page: Page, table: str, label: str):
    return page.locator(f"{table} tr", has=page.locator("th", has_text=label)).locator("td")


def test_an_offer_for_new_students_made_by_an_admin_is_applied_at_a_new_students_checkout(
        browser_page, live_server, stripe_webhooks):
    tutor, teach = factories.tutor(rate_minor=4000)
    student = factories.user("student")
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=3),
                                                             now + timedelta(days=4), 60), now).slots[0]
    bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    admin_email, student_email = factories.user("admin").email, student.email
    db.session.remove()

    admin = browser_page()
    log_in(admin, admin_email)
    nav(admin, "Admin").click()
    admin.get_by_role("link", name="Special offers").click()
    form = admin.locator("form.row-form")
    form.get_by_label("Code").fill("WELCOME20")
    form.get_by_label("Offer name").fill("Welcome to Lessonbook")
    form.get_by_label("For", exact=True).select_option(label="New students")
    form.get_by_label("Apply at checkout by itself").check()
    form.get_by_label("Type").select_option(label="Percent off")
    form.get_by_label("Percent", exact=True).fill("20")
    form.get_by_role("button", name="Create").click()
    expect(admin.get_by_role("status")).to_have_text("Special offer created.")
    row = admin.locator("#coupons tbody tr", has_text="WELCOME20")
    expect(row).to_contain_text("Welcome to Lessonbook")
    expect(row).to_contain_text("New students · automatic")
    expect(row).to_contain_text("0 uses")

    page = browser_page()
    log_in(page, student_email)
    open_my_booking(page, start)
    page.get_by_role("link", name="Pay now").click()
    total = Money(3200, "GBP")  # 20 % off £40.00, typed nothing
    expect(page.locator("#offer-applied")).to_have_text("Special offer “Welcome to Lessonbook” applied.")
    expect(_row(page, "#quote", "Discount")).to_have_text("-£8.00")
    expect(_row(page, "#quote", "Total due")).to_have_text(total.format())
    page.get_by_role("button", name=PAY_BUTTON).click()
    pay_on_the_hosted_page(page, VISA, student_email, total)
    expect(page.locator("#booking-status")).to_contain_text("Payment authorized")
    expect(page.locator("#receipt-offer")).to_have_text("Welcome to Lessonbook")

    admin.reload()
    expect(admin.locator("#coupons tbody tr", has_text="WELCOME20")).to_contain_text("1 use · £32.00 revenue")
