"""Server-rendered pages and their HTMX partials, as a browser (or htmx) calls them."""
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_for, csrf_from, login
from webapp.extensions import db
from webapp.models import Booking, Lesson, WeeklyWindow
from webapp.services import availability

HX = {"HX-Request": "true"}


def _slot(tutor, teach, days_ahead: int = 2) -> datetime:
    now = datetime.now(UTC)
    start = now + timedelta(days=days_ahead)
    return availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now).slots[0]


def _count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_directory_filters_return_only_the_results_partial_to_htmx(client):
    factories.tutor(subject_name="Physics", name="Pia Physics")
    factories.tutor(subject_name="French", name="Fred French")
    physics = factories.subject("Physics")
    full = client.get(f"/tutors?subject_id={physics.id}")
    partial = client.get(f"/tutors?subject_id={physics.id}", headers=HX)
    assert "HX-Request" in full.vary and "HX-Request" in partial.vary
    assert "<html" in full.get_data(as_text=True)
    body = partial.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="tutor-results"') and "<html" not in body
    assert "Pia Physics" in body and "Fred French" not in body


def test_directory_price_filter_in_major_units(client):
    factories.tutor(rate_minor=3000, name="Cheap Chris")
    factories.tutor(rate_minor=6000, name="Pricey Pat")
    body = client.get("/tutors?max_rate=45.50", headers=HX).get_data(as_text=True)
    assert "Cheap Chris" in body and "Pricey Pat" not in body
    bad = client.get("/tutors?max_rate=cheap", headers=HX)
    assert bad.status_code == 422 and "Enter an amount like 42.50" in bad.get_data(as_text=True)


def test_slot_picker_partial_shows_times_in_the_viewers_zone(client):
    tutor, teach = factories.tutor(timezone="Europe/London", weekly=[(d, "10:00", "11:00") for d in range(7)])
    response = client.get(f"/tutors/{tutor.id}/slots?tz=Asia/Kathmandu&duration=60", headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="slot-picker"')
    assert "Asia/Kathmandu" in body
    # 10:00 London is 15:45 (winter) or 14:45 (summer) in Kathmandu: quarter-hour zones line up.
    assert ">15:45<" in body or ">14:45<" in body
    assert "£40.00 per lesson" in body


def test_slot_picker_explains_bad_input_in_words(client):
    tutor, _ = factories.tutor()
    for query, message in [("duration=50", "Duration must be 15–120 minutes"),
                           ("duration=135", "Duration must be 15–120 minutes"),
                           ("tz=Mars/Olympus", "Unknown time zone"),
                           ("lesson_type=in_person", "online only")]:
        response = client.get(f"/tutors/{tutor.id}/slots?{query}", headers=HX)
        assert response.status_code == 422, query
        assert message in response.get_data(as_text=True), query


def test_student_books_a_slot_through_the_form_and_sees_it_listed(client):
    tutor, teach = factories.tutor()
    student = factories.user("student", timezone="America/New_York")
    login(client, student.email, factories.PASSWORD)
    slot = _slot(tutor, teach)
    query = urlencode({"teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online"})
    page = client.get(f"/tutors/{tutor.id}/book?{query}")
    assert page.status_code == 200 and "This lesson is for you" in page.get_data(as_text=True)
    response = client.post(f"/tutors/{tutor.id}/book", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "teach_id": teach.id, "start": slot.isoformat(),
        "duration": 60, "lesson_type": "online", "note": "See you then"})
    assert response.status_code == 303 and "/bookings/" in response.headers["Location"]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Awaiting payment" in detail
    listing = client.get("/bookings").get_data(as_text=True)
    local = slot.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York")).strftime("%H:%M")
    assert 'id="upcoming-bookings"' in listing and local in listing


def test_losing_the_race_in_the_browser_says_the_slot_was_just_taken(client, app):
    tutor, teach = factories.tutor()
    slot = _slot(tutor, teach)
    data = {"teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online"}
    first = app.test_client()
    login(first, factories.user("student").email, factories.PASSWORD)
    login(client, factories.user("student").email, factories.PASSWORD)
    token = csrf_for(client)
    assert first.post(f"/tutors/{tutor.id}/book", data={**data, "csrf_token": csrf_for(first)}).status_code == 303
    response = client.post(f"/tutors/{tutor.id}/book", data={**data, "csrf_token": token})
    assert response.status_code == 303 and f"/tutors/{tutor.id}" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "That slot was just taken" in page and 'id="slot-picker"' in page
    assert _count(Booking) == 1


def test_posting_without_a_csrf_token_is_refused_and_changes_nothing(client):
    tutor, teach = factories.tutor()
    login(client, factories.user("student").email, factories.PASSWORD)
    response = client.post(f"/tutors/{tutor.id}/book", data={"teach_id": teach.id,
                                                             "start": _slot(tutor, teach).isoformat()})
    assert response.status_code == 400 and "Reload the page" in response.get_data(as_text=True)
    assert _count(Lesson) == 0


def test_tutor_adds_and_removes_weekly_hours_with_htmx(client):
    tutor, _ = factories.tutor(weekly=[])
    login(client, tutor.email, factories.PASSWORD)
    token = csrf_for(client)
    response = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": token},
                           data={"weekday": "2", "start": "09:00", "end": "12:30"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="weekly-hours"')
    assert "09:00–12:30" in body
    bad = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": token},
                      data={"weekday": "2", "start": "09:10", "end": "12:00"})
    assert bad.status_code == 422 and "quarter hour" in bad.get_data(as_text=True)
    overlap = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": token},
                          data={"weekday": "2", "start": "12:00", "end": "14:00"})
    assert overlap.status_code == 422 and "overlaps" in overlap.get_data(as_text=True)
    window = db.session.scalar(select(WeeklyWindow).where(WeeklyWindow.tutor_id == tutor.id))
    gone = client.post(f"/tutor/availability/windows/{window.id}/delete", headers={**HX, "X-CSRFToken": token})
    assert gone.status_code == 200 and "09:00–12:30" not in gone.get_data(as_text=True)


def test_a_tutor_cannot_delete_another_tutors_hours(client):
    owner, _ = factories.tutor(weekly=[(0, "09:00", "10:00")])
    window_id = db.session.scalar(select(WeeklyWindow.id).where(WeeklyWindow.tutor_id == owner.id))
    intruder, _ = factories.tutor(weekly=[])
    login(client, intruder.email, factories.PASSWORD)
    client.post(f"/tutor/availability/windows/{window_id}/delete", headers={**HX, "X-CSRFToken": csrf_for(client)})
    assert _count(WeeklyWindow) == 1


def test_tutor_sets_a_day_off_and_rules(client):
    tutor, _ = factories.tutor(weekly=[])
    login(client, tutor.email, factories.PASSWORD)
    token = csrf_for(client)
    day = (datetime.now(UTC) + timedelta(days=5)).date().isoformat()
    added = client.post("/tutor/availability/overrides", headers={**HX, "X-CSRFToken": token},
                        data={"on_date": day, "day_off": "y"})
    assert added.status_code == 200 and "day off" in added.get_data(as_text=True)
    past = client.post("/tutor/availability/overrides", headers={**HX, "X-CSRFToken": token},
                       data={"on_date": "2020-01-01", "day_off": "y"})
    assert past.status_code == 422 and "past" in past.get_data(as_text=True)
    rules = client.post("/tutor/availability/rules", headers={**HX, "X-CSRFToken": token}, data={
        "timezone": "Mars/Base", "min_notice_hours": "4", "horizon_days": "30", "travel_buffer_minutes": "20"})
    assert rules.status_code == 422 and "Unknown time zone" in rules.get_data(as_text=True)
    rules = client.post("/tutor/availability/rules", headers={**HX, "X-CSRFToken": token}, data={
        "timezone": "Europe/Paris", "min_notice_hours": "4", "horizon_days": "30", "travel_buffer_minutes": "20"})
    assert rules.status_code == 200
    db.session.refresh(tutor)
    assert tutor.timezone == "Europe/Paris" and tutor.tutor_profile.horizon_days == 30


def test_someone_elses_booking_is_not_found(client, app):
    tutor, teach = factories.tutor()
    owner = app.test_client()
    login(owner, factories.user("student").email, factories.PASSWORD)
    slot = _slot(tutor, teach)
    response = owner.post(f"/tutors/{tutor.id}/book", data={
        "csrf_token": csrf_for(owner), "teach_id": teach.id, "start": slot.isoformat(), "duration": 60,
        "lesson_type": "online"})
    booking_path = response.headers["Location"]
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get(booking_path).status_code == 404
    assert client.get("/bookings/999999").status_code == 404


def test_parent_books_for_a_child_but_not_for_someone_elses(client):
    tutor, teach = factories.tutor()
    parent = factories.user("parent")
    mine = factories.child(parent, "Robin")
    theirs = factories.child(factories.user("parent"), "Stranger")
    login(client, parent.email, factories.PASSWORD)
    slot = _slot(tutor, teach)
    data = {"teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online",
            "csrf_token": csrf_for(client)}
    page = client.get(f"/tutors/{tutor.id}/book?" + urlencode({k: v for k, v in data.items() if k != "csrf_token"}))
    assert "Robin" in page.get_data(as_text=True) and "Stranger" not in page.get_data(as_text=True)
    refused = client.post(f"/tutors/{tutor.id}/book", data={**data, "child_id": theirs.id})
    assert refused.status_code == 422 and _count(Lesson) == 0
    booked = client.post(f"/tutors/{tutor.id}/book", data={**data, "child_id": mine.id})
    assert booked.status_code == 303


def test_booking_form_rejects_garbage_without_a_server_error(client):
    tutor, teach = factories.tutor()
    login(client, factories.user("student").email, factories.PASSWORD)
    token = csrf_for(client)
    for data in [{"teach_id": "x", "start": "soon"}, {"teach_id": teach.id, "start": "2027-01-01T10:00"},
                 {"teach_id": teach.id, "start": "2030-01-01T10:00Z", "duration": "999"},
                 {"teach_id": 10**30, "start": "2030-01-01T10:00Z"}]:
        response = client.post(f"/tutors/{tutor.id}/book", data={**data, "csrf_token": token})
        assert 400 <= response.status_code < 500, data
    # A time that has passed is not free, as a taken one: back to the times, saying so.
    past = client.post(f"/tutors/{tutor.id}/book", data={"teach_id": teach.id, "start": "2020-01-01T10:00Z",
                                                         "duration": 60, "csrf_token": token})
    assert past.status_code == 303 and "#slot-picker" in past.headers["Location"]
    assert "in the past" in client.get(past.headers["Location"]).get_data(as_text=True)
    assert _count(Lesson) == 0


def test_login_is_rate_limited(client, app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        user = factories.user("student")
        token = csrf_for(client)
        statuses = [client.post("/login", data={"email": user.email, "password": "wrong-password!",
                                                "csrf_token": token}).status_code for _ in range(4)]
        assert statuses == [422, 422, 422, 429]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10 per minute"


def test_registration_explains_problems_and_detects_nothing_silently(client):
    page = client.get("/register").get_data(as_text=True)
    token = csrf_from(page)
    bad = client.post("/register", data={"csrf_token": token, "name": "Zed", "email": "zed@example.com",
                                         "password": "long-enough-pw", "role": "student", "timezone": "Nowhere/Land"})
    assert bad.status_code == 422 and "Unknown time zone" in bad.get_data(as_text=True)
    ok = client.post("/register", data={"csrf_token": token, "name": "Zed", "email": "zed@example.com",
                                        "password": "long-enough-pw", "role": "student", "timezone": "Asia/Kolkata"})
    assert ok.status_code == 200 and "Check your email" in ok.get_data(as_text=True)


def test_session_cookie_is_httponly_and_lax(client):
    user = factories.user("student")
    login(client, user.email, factories.PASSWORD)
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_htmx_request_after_the_session_ends_is_sent_to_the_login_page(client):
    response = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": csrf_for(client)},
                           data={"weekday": "1", "start": "09:00", "end": "10:00"})
    assert response.status_code == 401 and response.headers["HX-Redirect"].startswith("/login")


def test_end_before_start_is_refused_in_words(client):
    tutor, _ = factories.tutor(weekly=[])
    login(client, tutor.email, factories.PASSWORD)
    response = client.post("/tutor/availability/windows", headers={**HX, "X-CSRFToken": csrf_for(client)},
                           data={"weekday": "1", "start": "12:00", "end": "10:00"})
    assert response.status_code == 422
    assert "The end time (10:00) must be after the start time (12:00)." in response.get_data(as_text=True)


def test_extreme_values_in_pages_get_answers_not_server_errors(client):
    tutor, _ = factories.tutor()
    assert client.get(f"/tutors/{10**30}").status_code == 404
    assert client.get(f"/tutors/{tutor.id}/slots?month=9999-12", headers=HX).status_code == 422
    assert client.get(f"/tutors/{tutor.id}?day=9999-12-31", headers=HX).status_code == 422
    assert client.get(f"/tutors/{tutor.id}?month=2027-13", headers=HX).status_code == 422
    assert client.get(f"/tutors/{tutor.id}/slots?tz={'A/' * 200}", headers=HX).status_code == 422
    assert client.get("/tutors?max_rate=" + "9" * 40).status_code == 200
    assert client.get("/bookings/0").status_code in (302, 404)


def test_every_page_forbids_framing_and_sniffing_and_keeps_links_out_of_referers(client):
    for path in ("/", "/tutors", "/login", "/api/subjects", "/does-not-exist"):
        headers = client.get(path).headers
        assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
