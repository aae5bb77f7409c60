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

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import nav, pay_on_the_hosted_page
from webapp.domain.money import Money
from webapp.extensions import db
from webapp.services import packages

pytestmark = pytest.mark.e2e

REFUND_FAILS = "4000 0000 0000 5126"


def test_a_refund_that_fails_later_shows_the_purchase_paid_again_and_tells_the_admin(
        browser_page, live_server, stripe_webhooks):
    tutor, _teach = factories.tutor()  # £40.00 an hour
    packages.add_package(tutor, 2, 10)  # 2 hours for £72.00
    student = factories.user("student", name="Robin Bounce")
    admin_email, student_email, tutor_id, tutor_name = factories.user("admin").email, student.email, tutor.id, tutor.name
    db.session.remove()  # the live server's threads use the database from here on

    page = browser_page()
    log_in(page, student_email)
    page.goto(f"/tutors/{tutor_id}")
    page.locator("#packages-offer").get_by_role("button", name="Buy 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    pay_on_the_hosted_page(page, REFUND_FAILS, student_email, Money(7200, "GBP"))
    expect(page.locator("#purchase-state")).to_contain_text(f"Paid: 120 minutes with {tutor_name} are yours")

    admin = browser_page()
    log_in(admin, admin_email)
    admin.get_by_role("navigation").get_by_role("link", name="Users").click()
    admin.get_by_label("Name or email").fill("robin bounce")
    admin.get_by_role("link", name="Robin Bounce").click()
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
