"""An admin refunds a student's package from the student's page in the admin panel; the student's minutes page then
shows the minutes gone and the refund.

Debian's Chromium drives Lessonbook and the local Stripe server's hosted checkout; the local Stripe server delivers
its signed webhooks (checkout.session.completed, charge.refunded) to the live server.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import VISA, nav, pay_on_the_hosted_page
from webapp.domain.money import Money
from webapp.extensions import db
from webapp.services import packages

pytestmark = pytest.mark.e2e


def test_an_admin_refunds_a_students_package_and_the_student_sees_the_minutes_gone_and_the_refund(
        browser_page, live_server, stripe_webhooks):
    tutor, _teach = factories.tutor()  # £40.00 an hour
    packages.add_package(tutor, 2, 10)  # 2 hours for £72.00
    student = factories.user("student", name="Robin Package")
    admin_email, student_email, tutor_id, tutor_name = factories.user("admin").email, student.email, tutor.id, tutor.name
    db.session.remove()  # the live server's threads use the database from here on

    page = browser_page()
    log_in(page, student_email)
    page.goto(f"/tutors/{tutor_id}")
    page.locator("#packages-offer").get_by_role("button", name="Buy 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    pay_on_the_hosted_page(page, VISA, student_email, Money(7200, "GBP"))
    expect(page.locator("#purchase-state")).to_contain_text(f"Paid: 120 minutes with {tutor_name} are yours")

    admin = browser_page()
    log_in(admin, admin_email)
    admin.get_by_role("navigation").get_by_role("link", name="Users").click()
    admin.get_by_label("Name or email").fill("robin package")
    admin.get_by_role("link", name="Robin Package").click()
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
