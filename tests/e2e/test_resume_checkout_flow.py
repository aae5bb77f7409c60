"""A student who leaves Stripe's page (Cancel and go back) can pay again and succeed (issue 7, item 1)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.paying import DECLINED, PAY_BUTTON, VISA, open_checkout_for_my_held_booking, pay_on_the_hosted_page
from tests.e2e.test_payments_flow import PRICE, _booking, _held_booking
from webapp.domain.states import BookingState

pytestmark = pytest.mark.e2e


def test_going_back_from_checkout_then_paying_again_succeeds(browser_page, live_server, stripe_webhooks):
    held = _held_booking()
    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    first_page = page.url

    page.get_by_role("link", name="Cancel and go back").click()
    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}/pay")
    page.get_by_role("button", name=PAY_BUTTON).click()
    expect(page).to_have_url(first_page)  # the same Checkout, resumed

    pay_on_the_hosted_page(page, DECLINED, held["student_email"], PRICE)
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    page.get_by_role("link", name="Cancel and go back").click()
    page.get_by_role("button", name=PAY_BUTTON).click()
    expect(page.get_by_role("alert")).to_have_count(0)
    pay_on_the_hosted_page(page, VISA, held["student_email"], PRICE)

    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}?paid=1")
    expect(page.locator("#booking-status")).to_contain_text("Payment authorized; waiting for the tutor to approve")
    assert _booking(held["booking_id"]).state == BookingState.REQUIRES_CAPTURE


def test_after_closing_the_checkout_tab_the_student_can_still_pay(
        browser_page, live_server, stripe_webhooks):
    held = _held_booking()
    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    page.close()  # the student closes the tab

    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    pay_on_the_hosted_page(page, VISA, held["student_email"], PRICE)
    expect(page.locator("#booking-status")).to_contain_text("Payment authorized; waiting for the tutor to approve")
