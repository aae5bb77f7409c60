"""Defects found walking the product after issues 7 and 8: each test names the page that misbehaved."""
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.conftest import csrf_for, login
from webapp.domain.states import LessonState
from webapp.extensions import db
from webapp.models import Lesson, Refund


def _future_start(days: int = 5) -> datetime:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=days)
    return start - timedelta(minutes=start.minute % 15)


@pytest.mark.parametrize("state", ["PAID", "PARTIAL_REFUNDED", "REQUIRES_CAPTURE"])
@pytest.mark.parametrize("who", ["booker", "tutor"])
def test_a_booking_without_a_payment_record_shows_and_cancels_without_a_500(app, client, state, who):
    # The factory walks the state machine without Stripe, as legacy rows may look: no PaymentReceipt, no intent id.
    lesson = factories.lesson_at(_future_start(), booking_state=state)
    assert lesson.booking.receipt is None and not lesson.booking.payment_intent_id
    user = lesson.booking.booker if who == "booker" else lesson.tutor
    email, booking_id, lesson_id = user.email, lesson.booking.id, lesson.id
    login(client, email, factories.PASSWORD)
    detail = client.get(f"/bookings/{booking_id}")
    assert detail.status_code == 200
    preview = client.get(f"/bookings/{booking_id}/cancel")
    assert preview.status_code == 200
    if state != "REQUIRES_CAPTURE":
        assert "no record of a card payment" in preview.get_data(as_text=True)
    response = client.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf_for(client), "note": ""},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "The lesson is cancelled." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lesson, lesson_id).state == LessonState.CANCELLED
    assert db.session.query(Refund).count() == 0


def _paid_in_person(tutor, teach, start, address) -> Lesson:
    from webapp.domain.states import BookingState, next_booking_state
    from webapp.services import bookings
    booking = bookings.request_booking(factories.user("student", timezone="UTC"), bookings.BookingRequest(
        tutor.id, teach.id, start, 60, in_person=True, address=address), now=start - timedelta(days=3))
    for state in ("REQUIRES_CAPTURE", "PAID"):
        booking.state = next_booking_state(booking.state, BookingState(state))
    db.session.commit()
    return booking.lesson


def test_reschedule_times_for_an_in_person_lesson_estimate_travel_from_its_known_address(app, client):
    from webapp.services.bookings import Address
    tutor, teach = factories.tutor(online=False, in_person=True, timezone="UTC")
    home = Address("1 High St", "London", "N1 1AA", latitude=51.50, longitude=-0.12)
    base = _future_start(days=6).replace(hour=10, minute=0)
    moving = _paid_in_person(tutor, teach, base, home)
    _paid_in_person(tutor, teach, base + timedelta(days=2), home)  # another lesson at the same address, 10:00-11:00
    email, lesson_id, day = moving.booking.booker.email, moving.id, (base + timedelta(days=2)).date()
    login(client, email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson_id}/reschedule/times?date={day.isoformat()}").get_data(as_text=True)
    # Same place: the journey is the 10-minute overhead, so 11:15 is free; the unknown-place buffer (60 minutes)
    # would have pushed the first free time after that lesson to 12:00.
    assert ">11:15<" in page and ">08:45<" in page
    assert ">10:30<" not in page
    response = client.post(f"/lessons/{lesson_id}/reschedule", data={
        "csrf_token": csrf_for(client), "suggested_start": f"{day.isoformat()}T11:15:00+00:00"})
    assert response.status_code == 303


def test_the_cancel_page_of_a_closed_booking_links_back_instead_of_offering_to_keep_the_lesson(app, client):
    lesson = factories.lesson_at(_future_start())
    email, booking_id = lesson.booking.booker.email, lesson.booking.id
    login(client, email, factories.PASSWORD)
    open_page = client.get(f"/bookings/{booking_id}/cancel").get_data(as_text=True)
    assert "Keep the lesson" in open_page
    client.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf_for(client), "note": ""})
    closed = client.get(f"/bookings/{booking_id}/cancel").get_data(as_text=True)  # the Back button after cancelling
    assert "This booking is already closed." in closed
    assert "Keep the lesson" not in closed and "Back to the booking" in closed


def test_a_mistyped_zone_in_the_booker_keeps_the_chosen_month_and_day_for_the_next_try(app, client):
    import html
    import re
    tutor, _ = factories.tutor(horizon_days=120)
    day = (datetime.now(UTC) + timedelta(days=40)).date()
    response = client.get(f"/tutors/{tutor.id}?month={day:%Y-%m}&day={day.isoformat()}&tz=Not/AZone",
                          headers={"HX-Request": "true"})
    body = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 422 and "Unknown time zone" in body
    form = re.search(r'<form[^>]*id="picker-form".*?</form>', body, re.S).group(0)
    assert f'name="month" value="{day:%Y-%m}"' in form and f'name="day" value="{day.isoformat()}"' in form
    # Fixing the zone (the form sends its fields again) shows that day, not this month.
    fixed = html.unescape(client.get(f"/tutors/{tutor.id}?month={day:%Y-%m}&day={day.isoformat()}&tz=UTC",
                                     headers={"HX-Request": "true"}).get_data(as_text=True))
    assert f'id="booker-day-{day.isoformat()}"' in fixed and 'aria-current="true"' in fixed
    # Values that are themselves bad are not carried along.
    bad = client.get(f"/tutors/{tutor.id}?month=2027-W01&day=2027-02-30&tz=Not/AZone", headers={"HX-Request": "true"})
    assert 'name="month"' not in bad.get_data(as_text=True) and 'name="day"' not in bad.get_data(as_text=True)


def test_the_bookings_list_says_until_when_an_unpaid_slot_is_held(app, client):
    from zoneinfo import ZoneInfo
    lesson = factories.lesson_at(_future_start(), booking_state="AWAITING_PAYMENT",
                                 booked_at=datetime.now(UTC) - timedelta(minutes=5))
    booker, hold = lesson.booking.booker, lesson.booking.hold_expires_at
    email, zone = booker.email, ZoneInfo(booker.timezone)
    login(client, email, factories.PASSWORD)
    page = client.get("/bookings").get_data(as_text=True)
    assert "until the time shown" not in page  # the list shows no hold time to point at
    assert f"held for you until {hold.astimezone(zone).strftime('%a %d %b, %H:%M %Z')}." in page


@pytest.mark.parametrize("state", ["REQUIRES_CAPTURE", "PAID"])
def test_the_pay_page_of_a_booking_already_paid_goes_back_to_the_booking_with_the_reason(app, client, state):
    # Back from the booking page after paying (card, PayPal or minutes) lands on /pay: an error page with
    # "Back to the start" left the student lost; the booking page says where the payment stands.
    lesson = factories.lesson_at(_future_start(), booking_state=state)
    email, booking_id = lesson.booking.booker.email, lesson.booking.id
    login(client, email, factories.PASSWORD)
    response = client.get(f"/bookings/{booking_id}/pay")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/bookings/{booking_id}")
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "This booking is not waiting for payment any more." in page
    twice = client.post(f"/bookings/{booking_id}/pay", data={"csrf_token": csrf_for(client), "coupon": ""})
    assert twice.status_code == 303 and twice.headers["Location"].endswith(f"/bookings/{booking_id}")


def test_the_pay_page_of_someone_elses_booking_is_still_not_found(app, client):
    lesson = factories.lesson_at(_future_start(), booking_state="PAID")
    stranger = factories.user("student")
    login(client, stranger.email, factories.PASSWORD)
    assert client.get(f"/bookings/{lesson.booking.id}/pay").status_code == 404


@pytest.mark.parametrize(("state", "offered"), [("AWAITING_PAYMENT", False), ("REQUIRES_CAPTURE", True), ("PAID", True)])
def test_the_lesson_room_is_linked_only_once_the_slot_is_paid_for(app, client, state, offered):
    lesson = factories.lesson_at(_future_start(), booking_state=state,
                                 booked_at=datetime.now(UTC) - timedelta(minutes=5))
    booking_id, booker, tutor = lesson.booking.id, lesson.booking.booker.email, lesson.tutor.email
    room = f"/lessons/{lesson.id}/room"
    login(client, booker, factories.PASSWORD)
    assert (room in client.get(f"/bookings/{booking_id}").get_data(as_text=True)) is offered
    client.post("/logout", data={"csrf_token": csrf_for(client)})
    login(client, tutor, factories.PASSWORD)
    assert (room in client.get("/tutor/").get_data(as_text=True)) is offered


def test_a_lesson_email_queued_before_with_name_existed_still_names_the_tutor(app):
    from webapp.services.outbox import render_email
    context = {"subject": "Physics", "tutor_name": "Ada Tutor", "when": "Mon 07 Dec, 10:00", "replaced": False,
               "recipient_name": "Sam", "learners": "Sam", "until": "11:00", "zone": "Europe/London",
               "duration": 60, "meeting_url": "https://meet.example/x", "lesson_url": "https://x/bookings/1",
               "where": "Online", "room_url": "https://x/room", "lesson_id": 1, "level": "GCSE"}
    for template in ("meeting_link", "lesson_booked"):
        subject, _text, _html = render_email(template, context)
        assert "with Ada Tutor on Mon 07 Dec" in subject


def test_the_tutor_directory_answers_with_or_without_a_trailing_slash(app, client):
    assert client.get("/tutors/").status_code == client.get("/tutors").status_code == 200


def test_a_max_rate_is_in_one_currency_and_leaves_out_tutors_charging_in_another(app, client):
    pounds, _ = factories.tutor(rate_minor=3000, currency="GBP")
    euros, _ = factories.tutor(rate_minor=3000, currency="EUR")
    pricey_euros, _ = factories.tutor(rate_minor=5000, currency="EUR")
    ids = {t: f'href="/tutors/{t.id}"' for t in (pounds, euros, pricey_euros)}

    def listed(query: str) -> set:
        page = client.get(f"/tutors?{query}").get_data(as_text=True)
        return {t for t, link in ids.items() if link in page}

    assert listed("") == {pounds, euros, pricey_euros}
    assert listed("max_rate=30") == {pounds}  # £30 by default: €30 is not compared with it
    assert listed("max_rate=30&currency=EUR") == {euros}
    assert listed("max_rate=60&currency=eur") == {euros, pricey_euros}
    bad = client.get("/tutors?max_rate=30&currency=XYZ")
    assert bad.status_code == 422 and "Currency: Choose a currency from GBP, EUR, USD." in bad.get_data(as_text=True)
    api = client.get("/api/tutors", query_string={"max_rate": "30", "currency": "EUR"}).get_json()
    assert [t["id"] for t in api["tutors"]] == [euros.id]
