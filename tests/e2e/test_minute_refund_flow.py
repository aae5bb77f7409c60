"""An admin refunds part of a lesson paid with prepaid minutes from its booking page, and the student sees the
minutes back in their wallet (and in their email). The paid-and-approved booking is built through the services;
everything after that is clicked as the admin and the student do it."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.paying import nav
from webapp.extensions import db
from webapp.services import approvals, availability, bookings, minute_payments, wallet
from webapp.services.bookings import BookingRequest

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]


def _lesson_paid_with_minutes() -> dict:
    """A student with 90 minutes from a tutor's package spends 60 on a lesson three days on; the tutor approved it."""
    tutor, teach = factories.tutor()
    student = factories.user("student")
    now = datetime.now(UTC)
    wallet.grant_minutes(user_id=student.id, tutor_id=tutor.id, minutes=90, source="package",
                         source_ref=f"cs_test_e2e_{student.id}", expires_at=now + timedelta(days=180))
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=3),
                                                             now + timedelta(days=4), 60), now).slots[0]
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    minute_payments.pay_with_minutes(student, booking.id, now)
    approvals.approve(tutor, booking.id, now)
    data = {"booking_id": booking.id, "tutor_name": tutor.name, "student_email": student.email,
            "admin_email": factories.user("admin").email}
    db.session.remove()  # the live server's threads use the database from here on
    return data


def test_an_admin_refunds_minutes_from_the_booking_page_and_the_student_sees_them_in_their_wallet(
        browser_page, live_server):
    paid = _lesson_paid_with_minutes()

    student = browser_page()
    log_in(student, paid["student_email"])
    nav(student, "My minutes").click()
    row = student.locator("#minutes tbody tr", has_text=paid["tutor_name"])
    expect(row.locator("td").nth(1)).to_have_text("30 minutes")  # 90 bought, 60 spent on the lesson

    admin = browser_page()
    log_in(admin, paid["admin_email"])
    admin.goto(f"/bookings/{paid['booking_id']}")
    field = admin.get_by_label(re.compile(r"^Minutes to refund"))
    expect(field).to_be_visible()
    expect(admin.locator("#refund-form")).to_contain_text("up to 60 minutes")
    field.fill("100")  # more than the lesson took: told, nothing moves
    admin.get_by_label("Reason").fill("The tutor joined late")
    admin.locator("#refund-confirm").get_by_text("Refund", exact=True).click()
    admin.get_by_role("button", name="Yes, refund the minutes").click()
    expect(admin.get_by_role("status").filter(has_text="Only 60 minutes are left to refund")).to_be_visible()

    admin.get_by_label(re.compile(r"^Minutes to refund")).fill("20")
    admin.get_by_label("Reason").fill("The tutor joined late")
    admin.locator("#refund-confirm").get_by_text("Refund", exact=True).click()
    admin.get_by_role("button", name="Yes, refund the minutes").click()
    expect(admin.get_by_role("status").filter(has_text="20 minutes returned to the student's balance")).to_be_visible()
    expect(admin.locator("#refund-form")).to_contain_text("up to 40 minutes")

    student.reload()
    row = student.locator("#minutes tbody tr", has_text=paid["tutor_name"])
    expect(row.locator("td").nth(1)).to_have_text("50 minutes")
    open_latest_mail(student, paid["student_email"], "minutes are back")
    expect(student.locator("#mail-message")).to_contain_text("We have refunded 20 minutes")
    expect(student.locator("#mail-message")).to_contain_text("You now have 50 minutes to book with.")
