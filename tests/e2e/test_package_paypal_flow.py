"""Buying a package of minutes with PayPal, as a student clicks it: the PayPal button beside a tutor's package, Approve
on the local PayPal stand-in's approval page, back on Lessonbook with the minutes granted; then the minutes page and
the receipt email. The stand-in delivers its signed webhooks to the live server and a worker thread applies them
(`paypal_live`), so the webhook may race the return page, as in production."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.paying import nav
from tests.e2e.test_paypal_flow import paypal_live  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.services import packages

pytestmark = pytest.mark.e2e


def test_student_buys_a_package_with_paypal_and_sees_the_minutes_and_the_receipt(
        browser_page, live_server, paypal_live, dev_mail):
    tutor, _teach = factories.tutor()  # £40.00 an hour
    packages.add_package(tutor, 2, 10)
    student = factories.user("student")
    tutor_id, tutor_name, email = tutor.id, tutor.name, student.email
    db.session.remove()  # the live server's threads use the database from here on

    page = browser_page()
    log_in(page, email)
    page.goto(f"/tutors/{tutor_id}")
    offer = page.locator("#packages-offer")
    expect(offer).to_contain_text("2 hours (120 minutes) for £72.00")
    offer.get_by_role("button", name="Pay with PayPal: 2 hours for £72.00").click()

    # PayPal's approval page (the local stand-in): what is bought, the amount, and Approve.
    expect(page).to_have_url(re.compile("^" + re.escape(paypal_live.url) + r"/checkoutnow\?token="))
    expect(page.locator(".what")).to_have_text(f"2 hours of lessons with {tutor_name}")
    expect(page.locator(".amount")).to_contain_text("72.00 GBP")
    page.get_by_role("button", name="Approve payment").click()

    # Back on Lessonbook: captured and granted.
    expect(page).to_have_url(re.compile(re.escape(live_server.url) + r"/minutes/purchases/\d+\?returned=1$"))
    expect(page.get_by_role("status").filter(has_text="PayPal has taken your payment")).to_have_text(
        "PayPal has taken your payment: 120 minutes are yours.")
    expect(page.locator("#purchase-state")).to_contain_text(f"Paid: 120 minutes with {tutor_name} are yours")
    expect(page.locator("#minutes-balance")).to_contain_text("120 minutes")

    nav(page, "My minutes").click()
    expect(page.locator("#minutes tbody tr", has_text=tutor_name)).to_contain_text("120 minutes")
    bought = page.locator("#purchases tbody tr").first
    expect(bought).to_contain_text("2 hours")
    expect(bought).to_contain_text("£72.00")
    expect(bought).to_contain_text("PayPal")
    expect(bought.locator(".purchase-status")).to_have_text("Paid")

    open_latest_mail(page, email, "Receipt: 2 hours")
    expect(page.get_by_role("heading", name=f"Receipt: 2 hours with {tutor_name}, £72.00 paid")).to_be_visible()
    body = page.locator("#mail-message .mail-body")
    expect(body).to_contain_text("£72.00 (PayPal)")
    expect(body).to_contain_text("Minutes added")
    expect(body).to_contain_text("120")
    # In the student's zone (London), as the email says it: near midnight UTC that may be the next day's date.
    expect(body).to_contain_text((datetime.now(UTC) + timedelta(days=183)).astimezone(ZoneInfo("Europe/London"))
                                 .strftime("%d %B %Y"))
    assert paypal_live.wait_for_deliveries()
    assert paypal_live.event_types() == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"]
    assert len(paypal_live.captures) == 1


def test_back_from_a_payment_page_then_another_package_or_paypal_opens_that_payment(
        browser_page, live_server, stripe_webhooks, paypal_live):
    # A student who leaves Stripe's page with Back and changes their mind (a bigger package, or PayPal) gets what they
    # chose, not "This form was already used for another package".
    tutor, _teach = factories.tutor()  # £40.00 an hour
    packages.add_package(tutor, 2, 10)
    packages.add_package(tutor, 5, 10)
    student = factories.user("student")
    tutor_id, tutor_name, email = tutor.id, tutor.name, student.email
    db.session.remove()  # the live server's threads use the database from here on

    page = browser_page()
    log_in(page, email)
    page.goto(f"/tutors/{tutor_id}")
    offer = page.locator("#packages-offer")
    offer.get_by_role("button", name="Buy 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    expect(page.get_by_test_id("product-summary-total-amount")).to_have_text("£72.00")

    page.go_back()
    offer.get_by_role("button", name="Buy 5 hours for £180.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    expect(page.get_by_test_id("product-summary-total-amount")).to_have_text("£180.00")

    page.go_back()
    offer.get_by_role("button", name="Pay with PayPal: 2 hours for £72.00").click()
    expect(page).to_have_url(re.compile("^" + re.escape(paypal_live.url) + r"/checkoutnow\?token="))
    expect(page.locator(".what")).to_have_text(f"2 hours of lessons with {tutor_name}")
    expect(page.locator(".amount")).to_contain_text("72.00 GBP")
