"""Defects found walking Lessonbook as a newcomer (fresh clone, `make run`, every kind of user): each test names
the page that said something wrong or said it twice."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.conftest import csrf_for, login
from tests.integration.test_minute_payments import _with_minutes, no_stripe  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.models import CalendarSource
from webapp.services import minute_payments

pytestmark = pytest.mark.integration


def _future_start(days: int = 5) -> datetime:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=days)
    return start - timedelta(minutes=start.minute % 15)


def _text(response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_booking_page_says_until_when_the_slot_is_held_once(app, client):
    lesson = factories.lesson_at(_future_start(), booking_state="AWAITING_PAYMENT",
                                 booked_at=datetime.now(UTC) - timedelta(minutes=5))
    email, booking_id = lesson.booking.booker.email, lesson.booking.id
    login(client, email, factories.PASSWORD)
    page = _text(client.get(f"/bookings/{booking_id}"))
    assert "The slot is held for you until" in page
    assert page.count("until") == 1, "the hold's end is said twice"
    assert "Held until" not in page


def test_a_minute_paid_booking_shows_its_minutes_and_never_a_card_price(app, client, no_stripe):  # noqa: F811
    booking = _with_minutes(60)
    minute_payments.pay_with_minutes(booking.booker, booking.id, datetime.now(UTC))
    login(client, booking.booker.email, factories.PASSWORD)
    detail = _text(client.get(f"/bookings/{booking.id}"))
    assert re.search(r"Paid with\s+60 prepaid minutes", detail)
    assert "by card" not in detail and "£40.00" not in detail
    listing = _text(client.get("/bookings"))
    assert "60 prepaid minutes" in listing and "£40.00" not in listing


def test_a_tutor_hidden_by_a_stale_calendar_says_why_there_are_no_times(app, client):
    tutor, _ = factories.tutor(weekly=[(d, "09:00", "17:00") for d in range(7)], horizon_days=60)
    tutor_id, name = tutor.id, tutor.name
    before = _text(client.get(f"/tutors/{tutor_id}"))
    assert "connected calendar" not in before  # free times, no excuse
    # A calendar connected but never read (or not read within the hour) hides every slot: fail closed.
    db.session.add(CalendarSource(tutor_id=tutor_id, kind="ics", label="Personal",
                                  url="https://calendar.example.com/basic.ics"))
    db.session.commit()
    page = _text(client.get(f"/tutors/{tutor_id}"))
    assert f"No times can be offered just now: {name}'s connected calendar has not been read lately" in page
    assert "No free times in" not in page
    partial = _text(client.get(f"/tutors/{tutor_id}", headers={"HX-Request": "true"}))
    assert "connected calendar has not been read lately" in partial


def test_the_api_says_when_a_stale_calendar_is_why_there_are_no_slots(app, client):
    tutor, teach = factories.tutor(weekly=[(d, "09:00", "17:00") for d in range(7)], horizon_days=60)
    tutor_id, teach_id = tutor.id, teach.id
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    ask = (f"/api/availabilities?tutor_id={tutor_id}&teach_id={teach_id}&tz=UTC&start_date={tomorrow}"
           f"&end_date={tomorrow + timedelta(days=7)}")
    fresh = client.get(ask).get_json()
    assert fresh["slots"] and fresh["calendar_stale"] is False
    db.session.add(CalendarSource(tutor_id=tutor_id, kind="ics", label="Personal",
                                  url="https://calendar.example.com/basic.ics"))
    db.session.commit()
    stale = client.get(ask).get_json()
    assert stale["slots"] == [] and stale["calendar_stale"] is True


def test_a_wrong_weekly_window_says_its_problem_beside_the_field_and_in_the_list_not_a_third_time(app, client):
    tutor, _ = factories.tutor(weekly=[(0, "09:00", "12:00")])
    login(client, tutor.email, factories.PASSWORD)
    response = client.post("/tutor/availability/windows", headers={"HX-Request": "true",
                                                                    "X-CSRFToken": csrf_for(client)},
                           data={"weekday": "6", "start": "18:00", "end": "09:00"})
    assert response.status_code == 422
    page = _text(response)
    assert page.count("The end time (09:00) must be after the start time (18:00).") == 2
    assert "There is a problem" in page


@pytest.mark.parametrize("hours_ahead, offered", [(24 * 5, True), (24, False), (-24, False)])
def test_reschedule_is_offered_only_while_a_new_time_may_be_proposed(app, client, hours_ahead, offered):
    # A finished lesson (and one inside the 72-hour notice) linked to a page saying it cannot be rescheduled.
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_ahead)
    lesson = factories.lesson_at(start, booked_at=start - timedelta(days=6))
    student, tutor, booking_id = lesson.booking.booker.email, lesson.tutor.email, lesson.booking.id
    login(client, student, factories.PASSWORD)
    assert ('id="reschedule-link"' in client.get(f"/bookings/{booking_id}").get_data(as_text=True)) is offered
    tutor_client = app.test_client()
    login(tutor_client, tutor, factories.PASSWORD)
    if hours_ahead > 0:  # the tutor's upcoming lessons
        assert (">Reschedule</a>" in tutor_client.get("/tutor/").get_data(as_text=True)) is offered
    assert ('id="reschedule-link"' in tutor_client.get(f"/bookings/{booking_id}").get_data(as_text=True)) is offered


def test_a_new_offer_with_several_mistakes_names_each_beside_its_field_in_words(app, client):
    # One problem at a time was shown, under "Code", in words such as "percent_bp between 1 and 10000".
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    response = client.post("/admin/coupons", data={
        "csrf_token": csrf_for(client), "code": "SAVE 10!!", "usage": "ONE_TIME_USE",
        "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "150", "currency": "GBP",
        "valid_from": "2027-01-10", "valid_until": "2027-01-01", "max_total_uses": "-3"})
    assert response.status_code == 422
    page = _text(response)
    for label, words in [("Code", "A discount code has only letters, digits, hyphens and underscores."),
                         ("Percent", "A percentage is more than 0 and at most 100, not '150'."),
                         ("Ends", "The offer must end after the day it starts."),
                         ("Total uses", "At least 1, not '-3'; leave it empty for no limit.")]:
        assert f"{label}: {words}" in page
    assert "percent_bp" not in page
    zero = _text(client.post("/admin/coupons", data={
        "csrf_token": csrf_for(client), "code": "ZERO", "usage": "ONE_TIME_USE",
        "discount_type": "DISCOUNT_TYPE_PERCENT", "percent": "0", "currency": "GBP"}))
    assert "Percent: A percentage is more than 0 and at most 100, not '0'." in zero and "percent_bp" not in zero


def test_a_date_the_reschedule_page_cannot_read_is_answered_on_the_page_in_words(app, client):
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=6)
    lesson = factories.lesson_at(start, booked_at=start - timedelta(days=7))
    login(client, lesson.booking.booker.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/reschedule?date=2026-99-01")
    assert page.status_code == 422
    text = _text(page)
    assert "That is not a date we can read" in text and "Reschedule" in text and "Date" in text
    assert "date must be a date" not in text and "Back to the start" not in text
    partial = _text(client.get(f"/lessons/{lesson.id}/reschedule/times?date=2026-13-45",
                               headers={"HX-Request": "true"}))
    assert "That is not a date we can read" in partial and "date must be" not in partial


def test_the_tutors_decline_says_what_happens_to_minutes_rather_than_a_card(app, client, no_stripe):  # noqa: F811
    booking = _with_minutes(60)
    minute_payments.pay_with_minutes(booking.booker, booking.id, datetime.now(UTC))
    login(client, booking.lesson.tutor.email, factories.PASSWORD)
    page = _text(client.get("/tutor/"))
    assert "The student's 60 held minutes go back to their balance, they are told" in page
    assert "card authorization" not in page
