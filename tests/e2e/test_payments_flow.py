"""Paying for a held slot on Stripe's hosted page (test cards, 3-D Secure, declines), the tutor's approval,
cancellations with their refunds, and a coupon typed on the pay page.

Each test drives Debian's Chromium through Lessonbook and the local Stripe server's hosted checkout page;
the local Stripe server delivers its signed webhooks to the live server, as Stripe does in production.
Data that is not the point of a test (accounts, the held booking, an authorization to approve) is built
through the services.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import (DECLINED, LONDON, PAY_BUTTON, VISA, VISA_3DS, WHEN, nav, open_checkout_for_my_held_booking,
                              open_my_booking, pay_on_the_hosted_page)
from webapp.domain.money import Money, round_half_up
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking, Refund, StripeEvent, User
from webapp.services import approvals, availability, bookings, checkout
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e

RATE_MINOR = 4000  # the factories' hourly rate: a 60-minute lesson costs £40.00
PRICE = Money(RATE_MINOR, "GBP")


# --- setup through the services ------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def _first_free_slot(tutor_id: int, teach_id: int, after: datetime) -> datetime:
    """The tutor's first free 60-minute start at or after `after` (UTC)."""
    found = availability.find_slots(availability.SlotRequest(tutor_id, teach_id, after, after + timedelta(days=1), 60),
                                    _now()).slots
    assert found, f"the tutor has no free slot after {after}"
    return found[0]


def _held_booking(ahead: timedelta = timedelta(days=3), notice_hours: int = 0) -> dict:
    """A tutor (teaching all week) and a student whose 60-minute booking is held, awaiting payment."""
    tutor, teach = factories.tutor(notice_hours=notice_hours)
    student = factories.user("student")
    start = _first_free_slot(tutor.id, teach.id, _now() + ahead)
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), _now())
    data = {"booking_id": booking.id, "start": start, "tutor_id": tutor.id, "tutor_name": tutor.name,
            "tutor_email": tutor.email, "teach_id": teach.id, "student_name": student.name,
            "student_email": student.email}
    db.session.remove()  # the live server's threads read and write the same database from here on
    return data


def _choose_day(page: Page, day) -> None:
    """Pick a day in the booker's month calendar (turning to the next month first if the day is there)."""
    picker = page.locator("#slot-picker")
    expect(picker.locator("table.month")).to_be_visible()
    if picker.locator(f'a.cal-day[data-date="{day.isoformat()}"]').count() == 0:
        picker.get_by_role("link", name=re.compile("^Next month")).click()
    picker.locator(f'a.cal-day[data-date="{day.isoformat()}"]').click()
    expect(picker.get_by_role("heading", name=f"{day:%A} {day.day} {day:%B}")).to_be_visible()


def _eventually(check: Callable[[], object], what: str, timeout: float = 10.0):
    """Wait for the live server (a webhook) to change the database; each look is a fresh snapshot."""
    deadline = time.monotonic() + timeout
    while True:
        db.session.rollback()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _booking(booking_id: int) -> Booking:
    db.session.rollback()  # read what the live server committed, not an old snapshot
    return db.session.get(Booking, booking_id)


def _authorize_in_the_background(live_server, booking_id: int) -> None:
    """The student has paid (the hosted page answered over plain HTTP) and the webhook has arrived."""
    booking = _booking(booking_id)
    url = checkout.start_checkout(booking.booker, booking_id, None, _now(),
                                  success_url=f"{live_server.url}/bookings/{booking_id}?paid=1",
                                  cancel_url=f"{live_server.url}/bookings/{booking_id}/pay")
    answer = requests.post(url, data={"email": booking.booker.email, "cardNumber": VISA, "cardExpiry": "12 / 34",
                                      "cardCvc": "123"}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text[:300]
    _eventually(lambda: _booking(booking_id).state == BookingState.REQUIRES_CAPTURE, "the authorization webhook")
    db.session.remove()


def _paid_booking(live_server, ahead: timedelta) -> dict:
    """A booking the student has paid for and the tutor has approved (captured)."""
    data = _held_booking(ahead=ahead)
    _authorize_in_the_background(live_server, data["booking_id"])
    approvals.approve(db.session.get(User, data["tutor_id"]), data["booking_id"], _now())
    db.session.remove()
    return data


# --- what a user does ----------------------------------------------------------------------------------------

def _receipt_row(page: Page, label: str):
    return page.locator("#receipt tr", has=page.locator("th", has_text=label)).locator("td")


def _quote_line(page: Page, label: str):
    return page.locator("#quote tr", has=page.locator("th", has_text=label)).locator("td")


def _mark_document(page: Page) -> None:
    """Tag the loaded document so a later check can tell that no full page load happened since."""
    page.evaluate("window.__sameDocument = true")


def _still_same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


# --- the tests -----------------------------------------------------------------------------------------------

def test_student_pays_with_a_test_card_and_the_booking_awaits_the_tutors_approval(
        browser_page, live_server, stripe_webhooks, stripe_client):
    held = _held_booking()
    page = browser_page()
    log_in(page, held["student_email"])
    open_my_booking(page, held["start"])
    expect(page.locator("#booking-status")).to_contain_text("Awaiting payment")

    page.get_by_role("link", name="Pay now").click()
    expect(page.get_by_role("heading", name=f"Pay for Mathematics with {held['tutor_name']}")).to_be_visible()
    expect(_quote_line(page, "Lesson price")).to_have_text(PRICE.format())
    expect(_quote_line(page, "Total due")).to_have_text(PRICE.format())
    page.get_by_role("button", name=PAY_BUTTON).click()

    expect(page).to_have_url(re.compile(r"^" + re.escape(stripe_webhooks.url) + r"/c/pay/"))
    pay_on_the_hosted_page(page, VISA, held["student_email"], PRICE)

    # Back on Lessonbook: the page polls until the webhook has moved the booking.
    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}?paid=1")
    expect(page.locator("#booking-status")).to_have_text(
        re.compile(r"^\s*Payment authorized; waiting for the tutor to approve"))
    booking = _booking(held["booking_id"])
    deadline = booking.approval_deadline.astimezone(LONDON).strftime(WHEN + ' %Z')
    expect(page.locator("#payment-status")).to_contain_text(
        f"If the tutor has not approved by {deadline}, the authorization is released and you pay nothing.")
    expect(_receipt_row(page, "Total authorized")).to_have_text(PRICE.format())
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)

    intent = stripe_client.v1.payment_intents.retrieve(booking.payment_intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("requires_capture", RATE_MINOR, "gbp")


def test_three_d_secure_passed_authorizes_the_booking(browser_page, live_server, stripe_webhooks):
    held = _held_booking()
    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    pay_on_the_hosted_page(page, VISA_3DS, held["student_email"], PRICE)

    expect(page.get_by_role("heading", name="3D Secure test authentication")).to_be_visible()
    expect(page.get_by_text(f"Authenticate the payment of {PRICE.format()}")).to_be_visible()
    page.get_by_role("button", name="Complete authentication").click()

    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}?paid=1")
    expect(page.locator("#booking-status")).to_contain_text("Payment authorized; waiting for the tutor to approve")
    expect(_receipt_row(page, "Total authorized")).to_have_text(PRICE.format())


def test_three_d_secure_failed_leaves_the_booking_unpaid(browser_page, live_server, stripe_webhooks, stripe_client):
    held = _held_booking()
    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    pay_on_the_hosted_page(page, VISA_3DS, held["student_email"], PRICE)

    page.get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_role("alert")).to_have_text(re.compile(r"unable to authenticate your payment method"))
    expect(page.get_by_role("button", name="Pay", exact=True)).to_be_visible()  # free to try another card

    page.get_by_role("link", name="Cancel and go back").click()
    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}/pay")
    expect(page.get_by_role("button", name=PAY_BUTTON)).to_be_visible()
    page.get_by_role("link", name="Back to the booking").click()
    expect(page.locator("#booking-status")).to_contain_text("Awaiting payment")
    expect(page.locator("#receipt")).to_have_count(0)
    expect(page.get_by_role("link", name="Pay now")).to_be_visible()

    booking = _booking(held["booking_id"])
    assert booking.state == BookingState.AWAITING_PAYMENT and booking.payment_intent_id is None
    session = stripe_client.v1.checkout.sessions.retrieve(booking.checkout_session_id)
    assert stripe_client.v1.payment_intents.retrieve(session.payment_intent).status == "requires_payment_method"


def test_a_declined_card_says_so_and_the_slot_stays_held_until_the_hold_expires(
        browser_page, live_server, stripe_webhooks):
    held = _held_booking()
    page = browser_page()
    open_checkout_for_my_held_booking(page, held["student_email"], held["start"])
    pay_on_the_hosted_page(page, DECLINED, held["student_email"], PRICE)
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")

    page.get_by_role("link", name="Cancel and go back").click()
    page.get_by_role("link", name="Back to the booking").click()
    # Opening the payment page kept the slot for as long as Stripe keeps that page open.
    hold = _booking(held["booking_id"]).hold_expires_at
    expect(page.locator("#booking-status")).to_have_text(
        f"Awaiting payment. The slot is held for you until {hold.astimezone(LONDON).strftime('%a %d %b, %H:%M %Z')}.")
    assert hold > _now() + timedelta(minutes=29)
    expect(page.locator("#hold-until")).to_have_count(0)  # said once, in the status sentence

    # Another student does not see the held start, though the hour beside it (on the same day) is free.
    other = factories.user("student")
    other_email = other.email
    db.session.remove()
    second = browser_page()
    log_in(second, other_email)
    nav(second, "Find a tutor").click()
    second.get_by_role("link", name=held["tutor_name"]).click()
    picker = second.locator("#slot-picker")
    held_start = held["start"].astimezone(LONDON)
    _choose_day(second, held_start.date())
    beside = held_start + timedelta(hours=1)
    if beside.date() != held_start.date():  # held from 23:00: the hour after is on the next day's list
        beside = held_start - timedelta(hours=1)
    expect(picker.locator(f'a.slot[data-start="{beside.isoformat()}"]')).to_have_count(1)
    expect(picker.locator(f'a.slot[data-start="{held_start.isoformat()}"]')).to_have_count(0)

    # The hold runs out (moved to the past rather than waited for, and Stripe's page expires with it).
    booking = _booking(held["booking_id"])
    booking.hold_expires_at = _now() - timedelta(seconds=1)
    db.session.commit()
    db.session.remove()
    stripe_webhooks.advance_clock(31 * 60)

    page.reload()
    expect(page.locator("#booking-status")).to_have_text("The hold on this slot has expired; the time is free again.")
    expect(page.get_by_role("link", name="Pay now")).to_have_count(0)
    second.reload()
    expect(second.locator(f'#slot-picker a.slot[data-start="{held_start.isoformat()}"]')).to_have_count(1)


def test_tutor_approves_a_paid_booking_and_the_student_sees_it_confirmed(
        browser_page, live_server, stripe_webhooks, stripe_client):
    held = _held_booking()
    _authorize_in_the_background(live_server, held["booking_id"])
    deadline = _booking(held["booking_id"]).approval_deadline
    db.session.remove()

    tutor_page = browser_page()
    log_in(tutor_page, held["tutor_email"])
    nav(tutor_page, "My lessons").click()
    row = tutor_page.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row).to_contain_text(f"Card authorized — approve by {deadline.astimezone(LONDON).strftime(WHEN + ' %Z')}")
    row.get_by_role("button", name="Approve").click()
    expect(tutor_page.get_by_role("status").filter(has_text="Approved")).to_have_text(
        "Approved: the card payment is taken and the lesson is confirmed.")
    row = tutor_page.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row.locator("td").nth(4)).to_have_text("Paid")
    expect(row.get_by_role("button", name="Approve")).to_have_count(0)

    intent = stripe_client.v1.payment_intents.retrieve(_booking(held["booking_id"]).payment_intent_id)
    assert (intent.status, intent.amount_received) == ("succeeded", RATE_MINOR)
    db.session.remove()

    student_page = browser_page()
    log_in(student_page, held["student_email"])
    nav(student_page, "My bookings").click()
    expect(student_page.locator("#upcoming-bookings tbody tr")).to_contain_text("Confirmed and paid.")
    open_my_booking(student_page, held["start"])
    expect(student_page.locator("#booking-status")).to_have_text("Confirmed and paid.")


def _cancel_and_check_the_refund(browser_page, stripe_client, held: dict, preview: str, status: str,
                                 refund_minor: int) -> None:
    """The student cancels from the booking page; the refund shown is the refund made, in Stripe too."""
    page = browser_page()
    log_in(page, held["student_email"])
    open_my_booking(page, held["start"])
    expect(page.locator("#booking-status")).to_have_text("Confirmed and paid.")
    page.get_by_role("link", name="Cancel this lesson").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Cancel Mathematics on"))).to_be_visible()
    expect(page.locator("#refund-preview")).to_have_text(preview)
    page.get_by_label("A note for the other side (optional)").fill("Something came up, sorry.")
    page.get_by_role("button", name="Cancel the lesson").click()

    expect(page).to_have_url(re.compile(rf"/bookings/{held['booking_id']}$"))
    expect(page.get_by_role("status").filter(has_text="cancelled")).to_have_text("The lesson is cancelled.")
    expect(page.locator("#booking-status")).to_have_text(status)
    expect(_receipt_row(page, "Refunded")).to_have_text(Money(refund_minor, "GBP").format())
    expect(page.get_by_role("link", name="Cancel this lesson")).to_have_count(0)

    booking = _booking(held["booking_id"])
    made = stripe_client.v1.refunds.list(params={"payment_intent": booking.payment_intent_id}).data
    assert [(r.amount, r.currency, r.status) for r in made] == [(refund_minor, "gbp", "succeeded")]
    assert [r.amount_minor for r in db.session.scalars(select(Refund).where(Refund.booking_id == booking.id))] \
        == [refund_minor]
    # Stripe then reports the refund by webhook too; it is recognised as ours, not counted twice.
    _eventually(lambda: db.session.scalar(select(StripeEvent.id).where(StripeEvent.type == "charge.refunded")),
                "the charge.refunded webhook")
    page.reload()
    expect(_receipt_row(page, "Refunded")).to_have_text(Money(refund_minor, "GBP").format())
    assert _booking(held["booking_id"]).receipt.refunded_minor == refund_minor


def test_student_cancels_early_and_gets_a_full_refund(browser_page, live_server, stripe_webhooks, stripe_client):
    held = _paid_booking(live_server, ahead=timedelta(days=3))
    _cancel_and_check_the_refund(
        browser_page, stripe_client, held,
        preview=f"Cancelled at least 24 hours before the start: full refund of {PRICE.format()}.",
        status="Cancelled and refunded in full.", refund_minor=RATE_MINOR)


def test_student_cancels_late_and_gets_half_back(browser_page, live_server, stripe_webhooks, stripe_client):
    held = _paid_booking(live_server, ahead=timedelta(hours=5))  # the tutor takes bookings at no notice
    half = round_half_up(Fraction(RATE_MINOR * 50, 100))
    _cancel_and_check_the_refund(
        browser_page, stripe_client, held,
        preview=(f"Cancelled less than 24 hours before the start: 50% refund, "
                 f"{Money(half, 'GBP').format()} of {PRICE.format()}."),
        status="Cancelled with a partial refund.", refund_minor=half)


def test_a_coupon_made_by_an_admin_lowers_the_total_as_it_is_typed_and_that_total_is_charged(
        browser_page, live_server, stripe_webhooks, stripe_client):
    held = _held_booking()
    admin_email = factories.user("admin").email
    db.session.remove()
    discount = Money(RATE_MINOR // 4, "GBP")  # 25 % off £40.00
    total = Money(RATE_MINOR - discount.amount_minor, "GBP")

    admin = browser_page()
    log_in(admin, admin_email)
    nav(admin, "Admin").click()
    admin.get_by_role("link", name="Special offers").click()
    offer = admin.locator("form.row-form")
    offer.get_by_label("Code").fill("SPRING25")
    offer.get_by_label("Per user").select_option(label="Once")
    offer.get_by_label("Type").select_option(label="Percent off")
    offer.get_by_label("Percent", exact=True).fill("25")
    offer.get_by_role("button", name="Create").click()
    expect(admin.get_by_role("status")).to_have_text("Coupon created.")
    expect(admin.locator("#coupons tbody tr", has_text="SPRING25")).to_contain_text("25% off")

    page = browser_page()
    log_in(page, held["student_email"])
    open_my_booking(page, held["start"])
    page.get_by_role("link", name="Pay now").click()
    expect(_quote_line(page, "Total due")).to_have_text(PRICE.format())
    _mark_document(page)

    code = page.get_by_label("Discount code (optional)")
    code.press_sequentially("SPRING52")  # a slip of the finger first
    expect(page.locator("#quote").get_by_role("alert")).to_have_text("We do not know that code. Check the spelling.")
    expect(_quote_line(page, "Total due")).to_have_text(PRICE.format())
    code.press("Backspace")
    code.press("Backspace")
    code.press_sequentially("25")
    expect(page.locator("#quote")).to_contain_text("Code SPRING25 applied.")
    expect(page.locator("#quote").get_by_role("alert")).to_have_count(0)
    expect(_quote_line(page, "Lesson price")).to_have_text(PRICE.format())
    expect(_quote_line(page, "Discount")).to_have_text(f"-{discount.format()}")
    expect(_quote_line(page, "Total due")).to_have_text(total.format())
    expect(page.locator("#pay-button")).to_have_text(f"Pay {total.format()}")
    assert _still_same_document(page), "the quote reloaded the page instead of updating in place"

    page.get_by_role("button", name=PAY_BUTTON).click()
    pay_on_the_hosted_page(page, VISA, held["student_email"], total)
    expect(page.locator("#booking-status")).to_contain_text("Payment authorized; waiting for the tutor to approve")
    expect(_receipt_row(page, "Total authorized")).to_have_text(total.format())
    # The receipt carries the whole breakdown the student agreed to, not just the total.
    expect(_receipt_row(page, "Lesson price")).to_have_text(PRICE.format())
    expect(_receipt_row(page, "Discount")).to_have_text(f"-{discount.format()}")
    expect(_receipt_row(page, "Service fee")).to_have_text("£0.00")

    intent = stripe_client.v1.payment_intents.retrieve(_booking(held["booking_id"]).payment_intent_id)
    assert (intent.status, intent.amount) == ("requires_capture", total.amount_minor)
