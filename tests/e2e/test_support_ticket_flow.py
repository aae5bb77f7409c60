"""A student reports a problem with a lesson that has started; the admin answers and refunds from the ticket; the
student sees the answer (and the answer's email carries a reply link)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from tests.e2e.test_payments_flow import _paid_booking
from webapp.extensions import db
from webapp.models import AuditEntry, Booking, Lesson

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]


def _started(booking_id: int) -> None:
    """Move the paid lesson so it began ten minutes ago (it can no longer be cancelled)."""
    lesson = db.session.get(Booking, booking_id).lesson
    now = datetime.now(UTC)
    lesson.start_at, lesson.finish_at = now - timedelta(minutes=10), now + timedelta(minutes=50)
    db.session.commit()
    db.session.remove()


def test_a_student_reports_a_lesson_problem_and_the_admin_answers_and_refunds_from_the_ticket(
        browser_page, live_server, stripe_webhooks):
    held = _paid_booking(live_server, ahead=timedelta(days=3))
    _started(held["booking_id"])
    admin_email = factories.user("admin").email
    db.session.remove()

    student = browser_page()
    log_in(student, held["student_email"])
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.get_by_role("link", name="Cancel this lesson")).to_have_count(0)
    student.get_by_role("link", name="Report a problem with this lesson").click()
    expect(student.locator("#ticket-about")).to_contain_text(f"booking #{held['booking_id']}")
    student.get_by_label("Subject").fill("Tutor left after 10 minutes")
    student.get_by_label("Message").fill("The video stopped and the tutor never came back.")
    student.get_by_role("button", name="Send to support").click()
    expect(student.get_by_text("Your ticket is open.")).to_be_visible()
    expect(student.locator("#ticket-status")).to_have_text("New")

    admin = browser_page()
    log_in(admin, admin_email)
    admin.get_by_role("navigation").get_by_role("link", name="Tickets").click()
    admin.get_by_role("link", name="Tutor left after 10 minutes").click()
    expect(admin.locator("#booking-timeline")).to_contain_text("Payment authorized (Card)")
    expect(admin.locator("#booking-timeline")).to_contain_text(  # Stripe's events about the payment, applied
        re.compile(r"Stripe event checkout\.session\.completed \(evt_\w+\): applied"))
    admin.get_by_label("Message").fill("Internal: tutor's connection logs show a drop.")
    admin.get_by_role("button", name="Add internal note").click()
    expect(admin.get_by_text("Internal note added.")).to_be_visible()
    admin.get_by_label("Message").fill("Sorry about that. We have refunded £20.00 to your card.")
    admin.get_by_role("button", name=re.compile("^Send answer to")).click()
    expect(admin.get_by_text("Answer sent to the user.")).to_be_visible()
    admin.get_by_label(re.compile(r"^Refund amount")).fill("20.00")
    admin.locator("#ticket-refund-confirm summary").click()
    admin.get_by_role("button", name="Yes, send the refund").click()
    expect(admin.get_by_role("status").filter(has_text="Refund of")).to_contain_text("Refund of £20.00 sent.")
    expect(admin.locator("#booking-timeline")).to_contain_text("Refund £20.00")
    expect(admin.get_by_role("heading", name=re.compile("Tutor left after 10 minutes"))).to_be_visible()

    student.reload()
    expect(student.locator("#ticket-thread")).to_contain_text("We have refunded £20.00 to your card.")
    expect(student.locator("#ticket-thread")).not_to_contain_text("connection logs")
    expect(student.locator("#ticket-status")).to_have_text("Pending")
    open_latest_mail(student, held["student_email"], "Re: Tutor left after 10 minutes")
    expect(student.locator("#mail-message")).to_contain_text("We have refunded £20.00 to your card.")

    db.session.rollback()
    actions = {a for (a,) in db.session.query(AuditEntry.action)}
    assert {"ticket.note", "ticket.reply", "booking.refund"} <= actions
    assert db.session.get(Lesson, db.session.get(Booking, held["booking_id"]).lesson_id).state == "ACTIVE"


def test_two_staff_save_the_same_ticket_and_the_second_is_told_who_changed_it(browser_page, live_server):
    student_email = factories.user("student").email
    alex_email = factories.user("support", name="Alex Agent").email
    blake_email = factories.user("admin", name="Blake Boss").email
    db.session.remove()
    student = browser_page()
    log_in(student, student_email)
    student.goto("/support")
    student.get_by_label("Subject").fill("Calendar not syncing")
    student.get_by_label("Message").fill("My lessons do not show in my calendar.")
    student.get_by_role("button", name="Send to support").click()
    expect(student.get_by_text("Your ticket is open.")).to_be_visible()

    alex, blake = browser_page(), browser_page()
    for page, email in ((alex, alex_email), (blake, blake_email)):
        log_in(page, email)
        page.get_by_role("navigation").get_by_role("link", name="Tickets").click()
        page.get_by_role("link", name="Calendar not syncing").click()
    alex.get_by_label("Status").select_option("pending")
    alex.get_by_role("button", name="Save").click()
    expect(alex.get_by_text("Ticket updated.")).to_be_visible()
    # Blake's page still shows "New": changing the status from it is refused, and nothing of the form is saved.
    blake.get_by_label("Status").select_option("solved")
    blake.get_by_label("Priority").select_option("high")
    blake.get_by_role("button", name="Save").click()
    expect(blake.get_by_text("Alex Agent changed the status to Pending meanwhile.")).to_be_visible()
    expect(blake.get_by_label("Status")).to_have_value("pending")
    expect(blake.get_by_label("Priority")).to_have_value("normal")
    # Looking again, Blake raises only the priority: Alex's status stays.
    blake.get_by_label("Priority").select_option("high")
    blake.get_by_role("button", name="Save").click()
    expect(blake.get_by_text("Ticket updated.")).to_be_visible()
    expect(blake.get_by_label("Status")).to_have_value("pending")
    expect(blake.get_by_label("Priority")).to_have_value("high")
