"""An admin refunds a student's package from the student's page in the admin panel; the student's minutes page then
shows the minutes gone and the refund.

Debian's Chromium drives Lessonbook and the local Stripe server's hosted checkout; the local Stripe server delivers
its signed webhooks (checkout.session.completed, charge.refunded) to the live server.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.paying import VISA, buy_a_package_then_open_the_buyer_as_admin, nav

pytestmark = pytest.mark.e2e


def test_an_admin_refunds_a_students_package_and_the_student_sees_the_minutes_gone_and_the_refund(
        browser_page, live_server, stripe_webhooks):
    page, admin, tutor_name = buy_a_package_then_open_the_buyer_as_admin(browser_page, "Robin Package", VISA)
    purchases = admin.locator("#user-package-purchases")
    expect(purchases).to_contain_text("120 minutes, worth £72.00")
    purchases.get_by_label("Reason").fill("Moving abroad")
    purchases.get_by_role("button", name="Refund package").click()
    expect(admin.locator("body")).to_contain_text("Refunded £72.00; 120 unused minutes were taken back")
    expect(admin.locator("#user-package-purchases")).to_contain_text("Nothing left to refund")
    expect(admin.get_by_role("button", name="Refund package")).to_have_count(0)  # no second refund is offered

    nav(page, "My minutes").click()
    row = page.locator("#minutes tbody tr", has_text=tutor_name)
    expect(row.locator("td").nth(1)).to_have_text("0 minutes")
    expect(page.locator("#purchases")).to_contain_text("Refunded: £72.00")
