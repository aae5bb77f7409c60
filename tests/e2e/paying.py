"""What a student does to pay for a held booking, as steps the browser tests share: find the booking, open Stripe's
hosted checkout from it, and pay there with a test card."""
from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from tests.e2e.conftest import log_in
from webapp.domain.money import Money

LONDON = ZoneInfo("Europe/London")
WHEN = "%a %d %b %Y, %H:%M"  # how Lessonbook writes an instant
VISA = "4242 4242 4242 4242"
VISA_3DS = "4000 0025 0000 3155"
DECLINED = "4000 0000 0000 0002"
PAY_BUTTON = re.compile(r"^Pay £\d")  # the pay button names the total: "Pay £40.00"


def nav(page: Page, name: str):
    """A link in the top navigation bar."""
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def open_my_booking(page: Page, start: datetime) -> None:
    """From the navigation bar: My bookings, then the lesson at `start`."""
    nav(page, "My bookings").click()
    page.locator("#upcoming-bookings").get_by_role("link", name=start.astimezone(LONDON).strftime(WHEN)).click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))


def open_checkout_for_my_held_booking(page: Page, email: str, start: datetime) -> None:
    """Log in, open the booking held at `start` from My bookings, Pay now, then Pay: on Stripe's hosted page."""
    log_in(page, email)
    open_my_booking(page, start)
    page.get_by_role("link", name="Pay now").click()
    page.get_by_role("button", name=PAY_BUTTON).click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))


def pay_on_the_hosted_page(page: Page, card: str, email: str, amount: Money) -> None:
    """Stripe's hosted checkout page: check what it charges, type a test card, press Pay."""
    expect(page.get_by_test_id("product-summary-total-amount")).to_have_text(amount.format())
    expect(page.get_by_label("Email")).to_have_value(email)
    page.get_by_label("Card number").fill(card)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Pay", exact=True).click()


def buy_a_package_then_open_the_buyer_as_admin(browser_page, student_name: str, card: str):
    """A student (new, called `student_name`) buys a tutor's 2 hours for £72.00 with `card` on the hosted page and
    sees them granted; an admin then finds the student in the admin panel and opens their page.
    Returns (student page, admin page, tutor's name)."""
    from tests import factories
    from webapp.extensions import db
    from webapp.services import packages
    tutor, _teach = factories.tutor()  # £40.00 an hour
    packages.add_package(tutor, 2, 10)  # 2 hours for £72.00
    student = factories.user("student", name=student_name)
    admin_email, student_email, tutor_id, tutor_name = factories.user("admin").email, student.email, tutor.id, tutor.name
    db.session.remove()  # the live server's threads use the database from here on

    page = browser_page()
    log_in(page, student_email)
    page.goto(f"/tutors/{tutor_id}")
    page.locator("#packages-offer").get_by_role("button", name="Buy 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    pay_on_the_hosted_page(page, card, student_email, Money(7200, "GBP"))
    expect(page.locator("#purchase-state")).to_contain_text(f"Paid: 120 minutes with {tutor_name} are yours")

    admin = browser_page()
    log_in(admin, admin_email)
    admin.get_by_role("navigation").get_by_role("link", name="Users").click()
    admin.get_by_label("Name or email").fill(student_name.lower())
    admin.get_by_role("link", name=student_name).click()
    return page, admin, tutor_name
