"""What people are told when a booking does not go ahead, when money comes back, and when a lesson is over
(issue 7, items 2, 3 and 4), clicked through as the tutor, the admin and the student do it."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.paying import nav
from tests.e2e.test_payments_flow import (PRICE, _authorize_in_the_background, _booking, _held_booking, _paid_booking,
                                          _receipt_row)
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.services import accounts

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]


def test_a_declined_booking_is_told_to_the_student_by_notification_and_email(
        browser_page, live_server, stripe_webhooks):
    held = _held_booking()
    _authorize_in_the_background(live_server, held["booking_id"])

    tutor = browser_page()
    log_in(tutor, held["tutor_email"])
    nav(tutor, "My lessons").click()
    row = tutor.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    row.get_by_text("Decline", exact=True).click()  # opens the confirmation; nothing is declined yet
    expect(row).to_contain_text("The student's card authorization is released")
    assert _booking(held["booking_id"]).state == BookingState.REQUIRES_CAPTURE
    row.get_by_role("button", name="Yes, decline this booking").click()
    expect(tutor.get_by_role("status").filter(has_text="Declined")).to_contain_text("the student pays nothing")
    assert _booking(held["booking_id"]).state == BookingState.DECLINED

    student = browser_page()
    log_in(student, held["student_email"])
    bell = student.get_by_role("navigation").get_by_role("link", name="Notifications, 1 unread", exact=True)
    bell.click()
    item = student.locator("#notification-list li", has_text="Not booked")
    expect(item).to_contain_text("declined by the tutor")
    expect(item).to_contain_text(f"The card authorization of {PRICE.format()} was released; you were not charged.")

    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.locator("#booking-status")).to_have_text(
        "Declined by the tutor; the card authorization was released and nothing was charged.")
    expect(student.locator("#money-state")).to_have_text(f"Authorization of {PRICE.format()} released; nothing charged")
    expect(_receipt_row(student, "Authorized, then released")).to_have_text(PRICE.format())
    expect(student.locator("#receipt")).not_to_contain_text("Amount paid")
    expect(student.locator("#receipt")).not_to_contain_text("Total paid")

    open_latest_mail(student, held["student_email"], "Not booked")
    expect(student.locator("#mail-message")).to_contain_text("is not booked")
    expect(student.locator("#mail-message")).to_contain_text("you were not charged")


def test_a_goodwill_refund_leaves_the_lesson_booked_for_everyone(browser_page, live_server, stripe_webhooks):
    held = _paid_booking(live_server, ahead=timedelta(days=3))
    admin_email = factories.user("admin").email
    db.session.remove()

    admin = browser_page()
    log_in(admin, admin_email)
    admin.goto(f"/bookings/{held['booking_id']}")
    admin.get_by_label(re.compile(r"^Refund amount")).fill("10.00")
    admin.get_by_label("Reason").fill("Sorry about the wobbly video")
    admin.locator("#refund-confirm").get_by_text("Refund", exact=True).click()  # asks first: nothing sent yet
    admin.get_by_role("button", name="Yes, send the refund").click()
    expect(admin.get_by_role("status").filter(has_text="Refund of")).to_contain_text(
        "Refund of £10.00 sent. The lesson still stands")
    expect(admin.locator("#lesson-state")).to_have_text("Booked")
    expect(admin.locator("#money-state")).to_have_text(f"£10.00 refunded of {PRICE.format()}")
    nav(admin, "Admin").click()
    expect(admin.locator("table").first).to_contain_text("Partly refunded")
    expect(admin.locator("table").first).not_to_contain_text("PARTIAL_REFUNDED")

    booking = _booking(held["booking_id"])
    assert (booking.lesson.state, booking.state) == (LessonState.ACTIVE, BookingState.PARTIAL_REFUNDED)

    student = browser_page()
    log_in(student, held["student_email"])
    nav(student, "My bookings").click()
    expect(student.locator("#upcoming-bookings tbody tr")).to_contain_text(
        f"Booked and paid; £10.00 of {PRICE.format()} was refunded.")
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.locator("#booking-status")).not_to_contain_text("Cancelled")
    expect(student.locator("#lesson-state")).to_have_text("Booked")
    expect(_receipt_row(student, "Refunded")).to_have_text("£10.00")
    expect(student.get_by_role("link", name="Cancel this lesson")).to_be_visible()  # it still can be

    tutor = browser_page()
    log_in(tutor, held["tutor_email"])
    nav(tutor, "My lessons").click()
    row = tutor.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row).to_contain_text("Partly refunded")
    expect(row).not_to_contain_text("Cancelled")


def test_a_lesson_that_happened_cannot_be_cancelled_and_offers_report_a_problem(browser_page, live_server):
    lesson = factories.finished_lesson()
    booking_id, student = lesson.booking.id, lesson.booking.booker
    email, token = student.email, accounts.issue_api_token(student)[0]
    db.session.commit()
    db.session.remove()

    page = browser_page()
    log_in(page, email)
    page.goto(f"/bookings/{booking_id}")
    expect(page.locator("#lesson-state")).to_have_text("Taken place")
    expect(page.get_by_role("link", name="Cancel this lesson")).to_have_count(0)
    page.get_by_role("link", name="Report a problem with this lesson").click()
    expect(page.get_by_role("heading", name="Report a problem")).to_be_visible()
    expect(page.locator("#ticket-about")).to_contain_text(f"booking #{booking_id}")

    # Typing the cancel address by hand, or asking the API, changes nothing either.
    page.goto(f"/bookings/{booking_id}/cancel")
    expect(page.locator("#refund-preview")).to_have_text(re.compile(r"has started, so it can no longer be cancelled"))
    expect(page.get_by_role("button", name="Cancel the lesson")).to_have_count(0)
    answer = requests.put(f"{live_server.url}/api/bookings/{booking_id}/cancel", json={}, timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 409
    assert "can no longer be cancelled" in answer.json()["error"]["message"]
    assert _booking(booking_id).state == BookingState.PAID
