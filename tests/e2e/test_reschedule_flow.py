"""Rescheduling as people do it: a student proposes a new time, the tutor answers from the link in the email."""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.e2e.test_payments_flow import WHEN, _booking, _paid_booking
from webapp.domain.states import BookingState, LessonState

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]
NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")


def _live_in_new_york(email: str) -> None:
    """The student's account is set to New York (the tutor's stays in London)."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.models import User
    from webapp.services import accounts
    user = db.session.scalar(select(User).where(User.email == email))
    accounts.update_settings(user, name=user.name, timezone="America/New_York")
    db.session.remove()


def _propose_from_the_booking_page(page, booking_id: int, new_start, zone=LONDON) -> None:
    """The student opens the booking, clicks Reschedule, picks the date and a free time (in their own zone)."""
    page.goto(f"/bookings/{booking_id}")
    page.locator("#reschedule-link").click()
    local = new_start.astimezone(zone)
    page.get_by_label("Date").fill(local.date().isoformat())
    page.get_by_label("Date").dispatch_event("change")
    page.locator("#free-times").get_by_role("button", name=local.strftime("%H:%M"), exact=True).click()
    expect(page.get_by_text("Your proposal is sent")).to_be_visible()
    expect(page.locator("#proposal")).to_contain_text(local.strftime(WHEN))


def _open_the_latest_mail_to(page, email: str, subject_part: str) -> None:
    page.goto("/dev/mail")
    row = page.locator("#mail-list tr", has_text=email).filter(has_text=subject_part).first
    row.get_by_role("link").click()


def test_student_proposes_a_new_time_and_the_tutor_accepts_it_from_the_email(
        browser_page, live_server, stripe_webhooks):
    held = _paid_booking(live_server, ahead=timedelta(days=6))
    _live_in_new_york(held["student_email"])
    new_start = held["start"] + timedelta(days=1, hours=2)
    student = browser_page("America/New_York")
    log_in(student, held["student_email"])
    _propose_from_the_booking_page(student, held["booking_id"], new_start, NEW_YORK)

    tutor = browser_page("America/New_York")
    _open_the_latest_mail_to(tutor, held["tutor_email"], "asks to move")
    expect(tutor.locator("#mail-message")).to_contain_text(new_start.astimezone(LONDON).strftime(WHEN))
    tutor.get_by_role("link", name="Accept the new time").click()
    expect(tutor.get_by_role("heading", name="Accept the new time?")).to_be_visible()
    assert _booking(held["booking_id"]).lesson.start_at == held["start"]  # opening the link changed nothing
    tutor.get_by_role("button", name="Yes, move the lesson").click()
    expect(tutor.locator("#new-time")).to_contain_text(new_start.astimezone(LONDON).strftime(WHEN))
    lesson = _booking(held["booking_id"]).lesson
    assert (lesson.state, lesson.start_at) == (LessonState.ACTIVE, new_start)

    # Both see the new time, each in their own zone: the student in New York, the tutor in London.
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.get_by_text(new_start.astimezone(NEW_YORK).strftime(WHEN)).first).to_be_visible()
    log_in(tutor, held["tutor_email"])
    tutor.goto("/tutor/")
    expect(tutor.locator("#tutor-lessons")).to_contain_text(new_start.astimezone(LONDON).strftime(WHEN))
    # The link works once: opening it again says so and changes nothing.
    _open_the_latest_mail_to(tutor, held["tutor_email"], "asks to move")
    tutor.get_by_role("link", name="Accept the new time").click()
    expect(tutor.locator("#link-refused")).to_contain_text("already")


def test_a_declined_proposal_cancels_the_lesson_and_refunds_it(
        browser_page, live_server, stripe_webhooks, stripe_client):
    held = _paid_booking(live_server, ahead=timedelta(days=6))
    new_start = held["start"] + timedelta(days=1, hours=3)
    student = browser_page("Europe/London")
    log_in(student, held["student_email"])
    _propose_from_the_booking_page(student, held["booking_id"], new_start)

    tutor = browser_page("Europe/London")
    _open_the_latest_mail_to(tutor, held["tutor_email"], "asks to move")
    tutor.get_by_role("link", name="Decline (cancels the lesson)").click()
    expect(tutor.get_by_text("Declining cancels the lesson")).to_be_visible()
    tutor.get_by_role("button", name="Yes, decline and cancel").click()
    expect(tutor.get_by_role("heading", name="Declined")).to_be_visible()

    booking = _booking(held["booking_id"])
    assert booking.lesson.state == LessonState.CANCELLED and booking.state == BookingState.REFUNDED
    refunds = stripe_client.v1.refunds.list(params={"payment_intent": booking.payment_intent_id}).data
    assert [r.amount for r in refunds] == [4000]
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.locator("#booking-status")).to_contain_text("Cancelled and refunded in full")
