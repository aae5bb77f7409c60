"""An online lesson's meeting link, as people meet it: the student pays on the hosted page, the tutor approves, the
worker runs the job approval queued, and the booking page and the lesson room offer "Join the lesson" with the stored
meeting's link."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import VISA, nav, open_checkout_for_my_held_booking, pay_on_the_hosted_page
from webapp.adapters.queue import get_queue
from webapp.domain.money import Money
from webapp.extensions import db
from webapp.models import Meeting
from webapp.services import availability, bookings
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def _held_online_booking_starting_soon() -> dict:
    """A tutor teaching all week and a student holding (unpaid) the tutor's next free online hour: within the quarter
    hour, so its room is open."""
    tutor, teach = factories.tutor()
    student = factories.user("student")
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now, now + timedelta(hours=2), 60),
                                    now).slots[0]
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    held = {"booking_id": booking.id, "start": start, "tutor_email": tutor.email, "student_email": student.email,
            "student_name": student.name}
    db.session.remove()  # the live server's threads read and write the same database from here on
    return held


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
    held = _held_online_booking_starting_soon()
    assert held["start"] - datetime.now(UTC) <= timedelta(minutes=15)

    student = browser_page()
    open_checkout_for_my_held_booking(student, held["student_email"], held["start"])
    pay_on_the_hosted_page(student, VISA, held["student_email"], Money(4000, "GBP"))
    expect(student.locator("#booking-status")).to_have_text(
        re.compile(r"^\s*Payment authorized; waiting for the tutor to approve"))
    expect(student.get_by_role("link", name="Join the lesson")).to_have_count(0)  # not approved: no meeting

    tutor = browser_page()
    log_in(tutor, held["tutor_email"])
    nav(tutor, "My lessons").click()
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

    # The lesson room offers the same stored link, each side its own.
    student.goto(f"/lessons/{meeting.lesson_id}/room")
    expect(student.locator("#lesson-room").get_by_role("link", name="Join the lesson")).to_have_attribute(
        "href", meeting.participant_join_url)
    tutor.goto(f"/lessons/{meeting.lesson_id}/room")
    expect(tutor.locator("#lesson-room").get_by_role("link", name="Join the lesson")).to_have_attribute(
        "href", meeting.join_url)
    tutor.screenshot(path="var/screenshots/meeting-join-room-tutor.png", full_page=True)
