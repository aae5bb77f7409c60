"""A monthly plan as people use it: a student subscribes from the tutor's profile on Stripe's hosted page, the period
ends (the local Stripe server's dev page advances the subscription, as a test clock would) and the renewal grants the
next month's minutes, then the student cancels at period end and the subscription ends there.

Debian's Chromium drives Lessonbook and the local Stripe server's pages; the local Stripe server delivers its signed
webhooks to the live server. The tutor and their plan are made through the services.
"""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.paying import VISA, nav, open_my_booking
from webapp.extensions import db
from webapp.services import availability, bookings, subscriptions
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def _tutor_with_a_plan() -> dict:
    tutor, _ = factories.tutor()
    subscriptions.add_plan(tutor, 240, 8000)
    student = factories.user("student")
    data = {"tutor_id": tutor.id, "tutor_name": tutor.name, "student_email": student.email}
    db.session.remove()  # the live server's threads use the database from here on
    return data


def _reload_until(page: Page, locator: str, text: str, attempts: int = 50) -> None:
    """Reload the page until `locator` shows `text` (the webhook is applied by a worker, not by the click)."""
    for _ in range(attempts):
        if text in (page.locator(locator).first.text_content() or ""):
            break
        time.sleep(0.2)
        page.reload()
    expect(page.locator(locator).first).to_contain_text(text)


def _advance_on_the_stripe_dev_page(page: Page, stripe_url: str, button: str = "Advance (card pays)") -> None:
    page.goto(f"{stripe_url}/_local/subscriptions")
    page.get_by_role("button", name=button).click()
    expect(page).to_have_url(re.compile(r"/_local/subscriptions$"))


def _subscribe_on_the_hosted_page(page: Page, tutor_id: int) -> None:
    page.goto(f"/tutors/{tutor_id}")
    page.locator("#plans-offer").get_by_role("button", name="Subscribe to 240 minutes a month for £80.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    _fill_card(page, VISA)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator(".subscription-status")).to_have_text("Active")


def _fill_card(page: Page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")


def test_subscribe_renew_at_the_next_period_then_cancel_at_period_end(browser_page, live_server, stripe_webhooks):
    held = _tutor_with_a_plan()
    page = browser_page()
    log_in(page, held["student_email"])

    # The tutor's profile loads their monthly plans; subscribe on Stripe's hosted page.
    page.goto(f"/tutors/{held['tutor_id']}")
    offer = page.locator("#plans-offer")
    expect(offer).to_contain_text("240 minutes a month for £80.00 a month")
    offer.get_by_role("button", name="Subscribe to 240 minutes a month for £80.00").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    expect(page.get_by_test_id("product-summary-total-amount")).to_have_text("£80.00 per month")
    page.get_by_label("Card number").fill(VISA)
    page.get_by_label("Expiry").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Subscribe").click()

    # Back on Lessonbook: the page waits for Stripe's webhook, then shows the subscription and its minutes.
    expect(page).to_have_url(re.compile(r"/account/subscriptions\?subscribed=1$"))
    card = page.locator("section.subscription")
    expect(card.locator(".subscription-status")).to_have_text("Active")
    expect(card.locator(".subscription-minutes")).to_have_text("240 minutes")
    first_renewal = card.locator(".subscription-renewal").text_content()

    # The period ends: Stripe renews it with the saved card and the invoice grants the next month's minutes.
    _advance_on_the_stripe_dev_page(page, stripe_webhooks.url)
    page.goto(f"{live_server.url}/account/subscriptions")
    _reload_until(page, ".subscription-minutes", "480 minutes")
    expect(page.locator(".subscription-renewal")).not_to_have_text(first_renewal)

    # Cancel at period end, confirmed: it stays active until then and says when it ends.
    page.get_by_text("Cancel", exact=True).click()
    page.get_by_role("button", name="Yes, cancel at period end").click()
    expect(page.get_by_text("Cancelled: it ends at the end of this period.")).to_be_visible()
    expect(page.locator(".subscription-status")).to_contain_text("Cancelled: ends on")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()

    # At the period's end it ends instead of renewing; the minutes stay.
    _advance_on_the_stripe_dev_page(page, stripe_webhooks.url)
    page.goto(f"{live_server.url}/account/subscriptions")
    _reload_until(page, ".subscription-status", "Ended")
    expect(page.locator(".subscription-minutes")).to_have_text("480 minutes")
    expect(page.get_by_role("button", name="Resume")).to_have_count(0)
    nav(page, "My minutes").click()
    expect(page.locator("#minutes")).to_contain_text("480 minutes")


def _tutor_with_a_plan_and_a_held_booking() -> dict:
    tutor, teach = factories.tutor()
    subscriptions.add_plan(tutor, 240, 8000)
    student = factories.user("student")
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=3),
                                                             now + timedelta(days=4), 60), now).slots[0]
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    data = {"tutor_id": tutor.id, "tutor_name": tutor.name, "student_email": student.email, "start": start,
            "booking_id": booking.id}
    db.session.remove()  # the live server's threads use the database from here on
    return data


def test_a_failed_renewal_pauses_minutes_until_the_student_updates_their_card_then_they_book_with_minutes(
        browser_page, live_server, stripe_webhooks, dev_mail, app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", live_server.url)  # links in emails made by the worker
    held = _tutor_with_a_plan_and_a_held_booking()
    page = browser_page()
    log_in(page, held["student_email"])
    _subscribe_on_the_hosted_page(page, held["tutor_id"])

    # The renewal fails: the saved card now declines. The plan is past due and minutes cannot pay for the lesson.
    _advance_on_the_stripe_dev_page(page, stripe_webhooks.url, "Advance (card declines)")
    page.goto(f"{live_server.url}/account/subscriptions")
    _reload_until(page, ".subscription-status", "Payment failed")
    open_my_booking(page, held["start"])
    page.get_by_role("link", name="Pay now").click()
    expect(page.locator("#minutes-paused")).to_contain_text("the last payment of your monthly plan failed")
    expect(page.get_by_role("button", name=re.compile("^Pay with 60 minutes"))).to_have_count(0)

    # The email about the failed payment links the card page.
    open_latest_mail(page, held["student_email"], "Payment failed")
    page.get_by_role("link", name="Update your card").click()
    expect(page.get_by_role("heading", name="Update your card")).to_be_visible()
    expect(page.locator("#card-owed")).to_contain_text("The last payment failed")

    # A card that saves but is declined when charged: said in words, still paused.
    page.get_by_role("button", name="Enter a new card on Stripe").click()
    expect(page).to_have_url(re.compile(r"/c/pay/"))
    _fill_card(page, "4000 0000 0000 0341")
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#card-result")).to_contain_text("Your new card was declined: Your card was declined.")
    page.get_by_role("link", name="Try another card").click()

    # A good card: the unpaid month is charged, the plan is active again and this month's minutes arrive.
    page.get_by_role("button", name="Enter a new card on Stripe").click()
    _fill_card(page, VISA)
    page.get_by_role("button", name="Save card").click()
    expect(page.locator("#card-result")).to_contain_text("Your new card paid £80.00")
    expect(page.locator("#card-result")).to_contain_text("active again")
    page.get_by_role("link", name="Back to your subscriptions").click()
    _reload_until(page, ".subscription-minutes", "480 minutes")
    expect(page.locator(".subscription-status")).to_have_text("Active")

    # Booking with minutes works again.
    open_my_booking(page, held["start"])
    page.get_by_role("link", name="Pay now").click()
    page.get_by_role("button", name="Pay with 60 minutes").click()
    expect(page).to_have_url(re.compile(rf"/bookings/{held['booking_id']}$"))
    expect(page.locator("#money-state")).to_have_text("60 minutes held, not spent yet")


def test_cancelling_again_from_a_tab_left_open_says_nothing_changed(browser_page, live_server, stripe_webhooks):
    held = _tutor_with_a_plan()
    page = browser_page()
    log_in(page, held["student_email"])
    _subscribe_on_the_hosted_page(page, held["tutor_id"])

    # The Subscriptions page is open in a second tab too; the student cancels in the first.
    other_tab = page.context.new_page()
    other_tab.goto("/account/subscriptions")
    page.goto("/account/subscriptions")
    page.get_by_text("Cancel", exact=True).click()
    page.get_by_role("button", name="Yes, cancel at period end").click()
    expect(page.get_by_text("Cancelled: it ends at the end of this period.")).to_be_visible()

    # Then cancels again in the stale tab: told it already was, in words that claim no change.
    other_tab.get_by_text("Cancel", exact=True).click()
    other_tab.get_by_role("button", name="Yes, cancel at period end").click()
    notice = other_tab.get_by_text(re.compile(r"This subscription is already cancelled: it ends on .+ Nothing changed"))
    expect(notice).to_be_visible()
    expect(other_tab.get_by_text("Cancelled: it ends at the end of this period.")).to_have_count(0)
    expect(other_tab.locator(".subscription-status")).to_contain_text("Cancelled: ends on")
    expect(other_tab.get_by_role("button", name="Resume")).to_be_visible()
