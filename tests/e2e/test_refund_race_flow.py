"""Two refunds racing for the same money, as an admin meets it: the booking open in two tabs (issue 8, money)."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.test_payments_flow import PRICE, _booking, _paid_booking, _receipt_row
from webapp.domain.money import Money
from webapp.extensions import db

pytestmark = [pytest.mark.e2e]


def _refund(page: Page, amount: str) -> None:
    page.get_by_label(re.compile(r"^Refund amount")).fill(amount)
    page.get_by_label("Reason").fill("Two tabs")
    page.locator("#refund-confirm").get_by_text("Refund", exact=True).click()
    page.get_by_role("button", name="Yes, send the refund").click()


def test_an_admin_refunding_in_two_tabs_is_told_in_the_second_what_is_left(
        browser_page, live_server, stripe_webhooks, stripe_client):
    held = _paid_booking(live_server, ahead=timedelta(days=3))
    admin_email = factories.user("admin").email
    db.session.remove()
    most = Money(PRICE.amount_minor - 1000, PRICE.currency)  # all but £10.00

    first = browser_page()
    log_in(first, admin_email)
    second = first.context.new_page()  # the same admin, a second tab opened on the same booking
    for tab in (first, second):
        tab.goto(f"/bookings/{held['booking_id']}")
        expect(tab.get_by_label(re.compile(r"^Refund amount"))).to_be_visible()

    _refund(first, f"{most.amount_minor / 100:.2f}")
    expect(first.get_by_role("status").filter(has_text="Refund of")).to_contain_text(f"Refund of {most.format()} sent")

    # The second tab still offers the whole payment; asking for the same again finds only £10.00 left.
    expect(second.get_by_label(re.compile(r"^Refund amount"))).to_be_visible()
    _refund(second, f"{most.amount_minor / 100:.2f}")
    expect(second.get_by_role("status").filter(has_text="left to refund")).to_have_text(
        "Only £10.00 is left to refund now, so nothing was refunded.")
    expect(second.get_by_label(re.compile(r"^Refund amount \(up to £10\.00\)"))).to_be_visible()
    expect(_receipt_row(second, "Refunded")).to_have_text(most.format())

    booking = _booking(held["booking_id"])
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": booking.payment_intent_id}).data
    assert [r.amount for r in refunds] == [most.amount_minor]
    assert booking.receipt.refunded_minor == most.amount_minor
