"""A package refund that Stripe accepts and later reports failed: the student first sees the purchase refunded and
the minutes gone, then, once Stripe says the refund failed, the purchase paid again with the minutes back; the
admin is told in the notification centre and sees the failed refund with the refund form offered again.

The student pays with Stripe's refund-fail test card (4000 0000 0000 5126): its refunds succeed and then fail a
little later. The local Stripe server does that after 10 seconds of its clock, which the test moves on rather than
waiting; it delivers its signed webhooks (charge.refund.updated, refund.updated, refund.failed) to the live server.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.paying import buy_a_package_then_open_the_buyer_as_admin, nav

pytestmark = pytest.mark.e2e

REFUND_FAILS = "4000 0000 0000 5126"


def test_a_refund_that_fails_later_shows_the_purchase_paid_again_and_tells_the_admin(
        browser_page, live_server, stripe_webhooks):
    page, admin, tutor_name = buy_a_package_then_open_the_buyer_as_admin(browser_page, "Robin Bounce", REFUND_FAILS)
    admin.locator("#user-package-purchases").get_by_label("Reason").fill("Changed their mind")
    admin.get_by_role("button", name="Refund package").click()
    expect(admin.locator("body")).to_contain_text("Refunded £72.00; 120 unused minutes were taken back")

    nav(page, "My minutes").click()
    expect(page.locator("#purchases")).to_contain_text("Refunded: £72.00")
    expect(page.locator("#minutes tbody tr", has_text=tutor_name).locator("td").nth(1)).to_have_text("0 minutes")

    stripe_webhooks.advance_clock(60)  # the bank sends the refund back: Stripe marks it failed
    status = page.locator("#purchases .purchase-status")
    for _ in range(100):  # the student comes back to the page later (the event's delivery takes a moment)
        page.reload()
        if status.inner_text() == "Paid":
            break
        page.wait_for_timeout(200)
    expect(status).to_have_text("Paid")
    expect(page.locator("#minutes tbody tr", has_text=tutor_name).locator("td").nth(1)).to_have_text("120 minutes")

    admin.goto("/notifications")
    expect(admin.locator("main")).to_contain_text("Refund of £72.00 failed")
    admin.get_by_role("link", name=re.compile("Refund of £72.00 failed")).first.click()
    purchases = admin.locator("#user-package-purchases")
    expect(purchases).to_contain_text("failed")
    expect(purchases).to_contain_text("120 minutes, worth £72.00")
    expect(purchases.get_by_role("button", name="Refund package")).to_be_visible()
