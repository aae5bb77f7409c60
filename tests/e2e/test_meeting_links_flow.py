"""An online lesson's meeting link, as people meet it: the student pays on the hosted page, the tutor approves, the
worker runs the job approval queued, and the booking page offers "Join the lesson" with the stored meeting's link."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.e2e.conftest import log_in
from tests.e2e.test_payments_flow import PAY_BUTTON, PRICE, VISA, _held_booking, _nav, _pay_on_the_hosted_page
from webapp.adapters.queue import get_queue
from webapp.extensions import db
from webapp.models import Meeting

pytestmark = pytest.mark.e2e


def _run_queued_meeting_jobs(app) -> int:
    """What `worker.py worker` does with the jobs approval queued: run them (in this process, no fork)."""
    ran = 0
    with app.app_context():
        for job in get_queue().get_jobs():
            if job.func_name == "webapp.jobs.sync_meeting":
                job.perform()
                ran += 1
        db.session.remove()
    return ran


def test_student_pays_tutor_approves_and_the_booking_page_offers_the_stored_meeting(
        app, browser_page, live_server, stripe_webhooks):
    held = _held_booking(ahead=timedelta(0))  # the next free slot: within the quarter hour, so the room is open
    assert held["start"] - datetime.now(UTC) <= timedelta(minutes=15)

    student = browser_page()
    log_in(student, held["student_email"])
    student.goto(f"/bookings/{held['booking_id']}")
    student.get_by_role("link", name="Pay now").click()
    student.get_by_role("button", name=PAY_BUTTON).click()
    _pay_on_the_hosted_page(student, VISA, held["student_email"], PRICE)
    expect(student.locator("#booking-status")).to_have_text(
        re.compile(r"^\s*Payment authorized; waiting for the tutor to approve"))
    expect(student.get_by_role("link", name="Join the lesson")).to_have_count(0)  # not approved: no meeting

    tutor = browser_page()
    log_in(tutor, held["tutor_email"])
    _nav(tutor, "My lessons").click()
    tutor.locator("#tutor-lessons tbody tr", has_text=held["student_name"]).get_by_role("button",
                                                                                      name="Approve").click()
    expect(tutor.get_by_role("status").filter(has_text="Approved")).to_be_visible()

    # Before the worker has run, the page says the link is on its way (no link is ever shown before the provider
    # made the room).
    student.goto(f"/bookings/{held['booking_id']}")
    expect(student.locator("#booking-status")).to_have_text("Confirmed and paid.")
    expect(student.get_by_text("The link to join online is being prepared")).to_be_visible()

    assert _run_queued_meeting_jobs(app) == 1
    meeting = db.session.scalar(select(Meeting))
    assert meeting.status == "active"

    student.reload()
    join = student.get_by_role("link", name="Join the lesson")
    expect(join).to_have_attribute("href", meeting.participant_join_url)
    assert meeting.participant_join_url.startswith("https://meet.jit.si/lesson-")

    tutor.goto(f"/bookings/{held['booking_id']}")
    expect(tutor.get_by_role("link", name="Join the lesson")).to_have_attribute("href", meeting.join_url)
    student.screenshot(path="var/screenshots/meeting-join-student.png", full_page=True)
