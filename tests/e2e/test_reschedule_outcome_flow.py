"""A declined reschedule cancels the lesson, and both sides are told so, with the refund (issue 7, item 6)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.test_payments_flow import PRICE, WHEN, LONDON, _booking, _paid_booking
from webapp.domain.states import BookingState, LessonState

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]


def test_declining_a_proposed_time_tells_both_sides_the_lesson_is_cancelled_and_refunded(
        browser_page, live_server, stripe_webhooks):
    held = _paid_booking(live_server, ahead=timedelta(days=6))
    new_start = (held["start"] + timedelta(days=1, hours=3)).astimezone(LONDON)

    student = browser_page()
    log_in(student, held["student_email"])
    student.goto(f"/bookings/{held['booking_id']}")
    student.locator("#reschedule-link").click()
    # Before sending, the student is told what a "no" would mean, in money.
    expect(student.locator("#decline-outcome")).to_have_text(
        f"If {held['tutor_name']} declines, or does not answer within 24 hours, the lesson is cancelled and "
        f"{PRICE.format()} is refunded.")
    expect(student.get_by_text("72 hours from now")).to_have_count(0)
    student.get_by_label("Date").fill(new_start.date().isoformat())
    student.get_by_label("Date").dispatch_event("change")
    student.locator("#free-times").get_by_role("button", name=new_start.strftime("%H:%M"), exact=True).click()
    expect(student.get_by_text("Your proposal is sent")).to_be_visible()

    tutor = browser_page()
    log_in(tutor, held["tutor_email"])
    tutor.goto(f"/bookings/{held['booking_id']}")
    tutor.locator("#reschedule-link").click()
    expect(tutor.locator("#decline-outcome")).to_contain_text(f"Declining cancels the lesson: {PRICE.format()} is refunded.")
    tutor.locator("#decline-confirm").get_by_text("Decline (cancels the lesson)").click()  # asks first
    tutor.get_by_role("button", name="Yes, decline and cancel the lesson").click()
    expect(tutor.get_by_role("status").filter(has_text="Declined")).to_have_text(
        f"Declined. The lesson is cancelled. Payment: {PRICE.format()} paid, refunded in full.")
    booking = _booking(held["booking_id"])
    assert (booking.lesson.state, booking.state) == (LessonState.CANCELLED, BookingState.REFUNDED)

    when = held["start"].astimezone(LONDON).strftime(WHEN)
    for page in (student, tutor):
        page.goto("/notifications")
        item = page.locator("#notification-list li", has_text=f"Cancelled: Mathematics on {when}")
        expect(item).to_contain_text(f"declined the proposed new time, so the lesson is cancelled; "
                                     f"{PRICE.format()} is refunded.")
    open_latest_mail(student, held["student_email"], "declined the new time")
    expect(student.locator("#mail-message")).to_contain_text(f"is cancelled: {PRICE.format()} is refunded")
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.locator("#booking-status")).to_have_text("Cancelled and refunded in full.")
