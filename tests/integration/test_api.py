"""The JSON API under /api: bearer tokens or the session (with CSRF), JSON errors with a message and field details."""
from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_for, login
from webapp.extensions import db
from webapp.models import Booking, DateOverride, ExamBoard, Lesson, User, WeeklyWindow
from webapp.services import accounts, availability, catalogue

TODAY = datetime.now(UTC).date()
DAY = TODAY + timedelta(days=7)  # inside every test tutor's horizon, past any notice


def bearer(user) -> dict:
    """Headers that authenticate as `user` with a fresh API token."""
    return {"Authorization": f"Bearer {accounts.issue_api_token(user)[0]}"}


def at(day: date, hour: int, minute: int = 0) -> str:
    """An ISO instant in UTC on `day`."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).isoformat()


def error_of(response) -> dict:
    """The JSON error object, checking it has the documented shape."""
    body = response.get_json()
    assert body is not None, response.get_data(as_text=True)[:300]
    error = body["error"]
    assert error["status"] == response.status_code
    assert isinstance(error["message"], str) and error["message"].strip()
    return error


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def booking_body(tutor, teach, start=None, **extra) -> dict:
    return {"tutor_id": tutor.id, "teach_id": teach.id, "start": start or at(DAY, 10), "duration": 60, **extra}


# --- auth ------------------------------------------------------------------------------------------

def test_register_answers_202_and_the_emailed_link_makes_an_account_whose_token_works(client):
    response = client.post("/api/auth/register", json={
        "email": "Ada@Example.com", "password": "long-enough-password", "name": "Ada", "role": "student",
        "timezone": "Europe/Paris"})
    assert response.status_code == 202
    assert response.get_json()["email"] == "ada@example.com"
    assert count(User) == 0  # nothing until the emailed link is followed
    from tests.integration.test_registration import confirm_by_email
    confirm_by_email(client.application.test_client(), "ada@example.com")  # in the browser
    token = client.post("/api/auth/token", json={"email": "ada@example.com", "password": "long-enough-password"})
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == "ada@example.com"
    assert me.get_json()["timezone"] == "Europe/Paris"


def test_register_with_bad_fields_answers_422_naming_each_field(client):
    response = client.post("/api/auth/register", json={
        "email": "ada@example.com", "password": "short", "name": "Ada", "role": "admin", "timezone": "Europe/London"})
    assert response.status_code == 422
    assert {"password", "role"} <= set(error_of(response)["fields"])


def test_register_with_a_taken_email_answers_exactly_as_for_a_new_one(client):
    taken = factories.user("student")
    body = {"password": "long-enough-password", "name": "Ada", "role": "student", "timezone": "Europe/London"}
    for_taken = client.post("/api/auth/register", json={**body, "email": taken.email})
    for_new = client.post("/api/auth/register", json={**body, "email": "fresh@example.com"})
    assert for_taken.status_code == for_new.status_code == 202
    assert for_taken.get_json()["message"] == for_new.get_json()["message"]


def test_token_for_the_right_password_authenticates_later_requests(client):
    student = factories.user("student")
    response = client.post("/api/auth/token", json={"email": student.email, "password": factories.PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["user"]["id"] == student.id
    assert client.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"}).get_json()["id"] == student.id


def test_wrong_password_answers_401_with_a_message(client):
    student = factories.user("student")
    response = client.post("/api/auth/token", json={"email": student.email, "password": "not-the-password"})
    assert response.status_code == 401
    assert "do not match" in error_of(response)["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_attempts_past_the_login_rate_limit_answer_429_json(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    student = factories.user("student")
    wrong = {"email": student.email, "password": "not-the-password"}
    assert [client.post("/api/auth/token", json=wrong).status_code for _ in range(3)] == [401, 401, 401]
    limited = client.post("/api/auth/token", json={"email": student.email, "password": factories.PASSWORD})
    assert limited.status_code == 429
    assert "Too many attempts" in error_of(limited)["message"]


def test_requests_without_credentials_answer_401_json(client):
    response = client.get("/api/me")
    assert response.status_code == 401 and "Bearer" in error_of(response)["message"]


def test_an_invalid_bearer_token_answers_401_even_on_public_endpoints(client):
    response = client.get("/api/subjects", headers={"Authorization": "Bearer lb_not-a-real-token"})
    assert response.status_code == 401 and "invalid or has expired" in error_of(response)["message"]


def test_a_bearer_token_wins_over_a_session_cookie_for_another_user(client):
    tutor, _ = factories.tutor()
    student = factories.user("student")
    login(client, tutor.email, factories.PASSWORD)
    assert client.get("/api/me", headers=bearer(student)).get_json()["id"] == student.id
    assert client.get("/api/me").get_json()["id"] == tutor.id


def test_unknown_api_paths_and_methods_answer_json(client):
    assert error_of(client.get("/api/nothing-here"))["status"] == 404
    assert error_of(client.delete("/api/subjects"))["status"] == 405


# --- CSRF for session-authenticated writes -------------------------------------------------------

def test_session_writes_need_the_csrf_header(client):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    refused = client.post("/api/bookings", json=booking_body(tutor, teach))
    assert refused.status_code == 400 and "token" in error_of(refused)["message"]
    assert count(Booking) == 0
    accepted = client.post("/api/bookings", json=booking_body(tutor, teach), headers={"X-CSRFToken": csrf_for(client)})
    assert accepted.status_code == 201


def test_bearer_writes_need_no_csrf_header(client):
    tutor, teach = factories.tutor()
    response = client.post("/api/bookings", json=booking_body(tutor, teach), headers=bearer(factories.user("student")))
    assert response.status_code == 201


# --- catalogue and the tutor directory ------------------------------------------------------------

def test_subjects_lists_subjects_levels_and_exam_boards(client):
    maths, gcse = factories.subject("Mathematics"), factories.level("GCSE")
    db.session.add(ExamBoard(name="AQA"))
    db.session.commit()
    body = client.get("/api/subjects").get_json()
    assert body["subjects"] == [{"id": maths.id, "name": "Mathematics", "slug": "mathematics"}]
    assert body["levels"] == [{"id": gcse.id, "name": "GCSE"}]
    assert [b["name"] for b in body["exam_boards"]] == ["AQA"]


@pytest.fixture
def directory(app):
    """Three tutors: maths GCSE online £40, physics A-level in person £60, maths GCSE both ways £25."""
    online, _ = factories.tutor(name="Online Maths", rate_minor=4000)
    physics, _ = factories.tutor(name="Physics", subject_name="Physics", level_name="A-level", rate_minor=6000,
                                 online=False, in_person=True)
    both, _ = factories.tutor(name="Both Ways", rate_minor=2500, in_person=True)
    return {"tutors": {"online maths": online.id, "physics": physics.id, "both ways": both.id},
            "ids": {"<maths>": factories.subject("Mathematics").id, "<alevel>": factories.level("A-level").id}}


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["both ways", "online maths", "physics"]),
    ({"subject_id": "<maths>"}, ["both ways", "online maths"]),
    ({"level_id": "<alevel>"}, ["physics"]),
    ({"mode": "in_person"}, ["both ways", "physics"]),
    ({"mode": "online"}, ["both ways", "online maths"]),
    ({"max_rate": "40"}, ["both ways", "online maths"]),
    ({"max_rate": "39.99", "mode": "online"}, ["both ways"]),
])
def test_tutors_filter_by_subject_level_mode_and_max_rate(client, directory, query, expected):
    args = {k: directory["ids"].get(v, v) for k, v in query.items()}
    tutors = client.get("/api/tutors", query_string=args).get_json()["tutors"]
    assert [t["id"] for t in tutors] == [directory["tutors"][name] for name in expected]  # cheapest first


def test_tutors_list_only_the_teach_records_matching_the_filters(client):
    tutor, _ = factories.tutor()
    catalogue.replace_teaches(tutor, [
        {"subject_id": factories.subject("Mathematics").id, "level_id": factories.level("GCSE").id,
         "hourly_rate_minor": 4000},
        {"subject_id": factories.subject("Physics").id, "level_id": factories.level("GCSE").id,
         "hourly_rate_minor": 5000}])
    physics = factories.subject("Physics").id
    [card] = client.get("/api/tutors", query_string={"subject_id": physics}).get_json()["tutors"]
    assert [t["subject"]["name"] for t in card["teaches"]] == ["Physics"]


@pytest.mark.parametrize(("query", "field"), [
    ({"mode": "flying"}, "mode"), ({"max_rate": "lots"}, "max_rate"), ({"subject_id": "maths"}, "subject_id")])
def test_tutors_with_a_bad_filter_answer_422_naming_it(client, query, field):
    response = client.get("/api/tutors", query_string=query)
    assert response.status_code == 422 and field in error_of(response)["fields"]


def test_tutor_by_id_shows_bio_and_teach_records(client):
    tutor, teach = factories.tutor(rate_minor=4500)
    catalogue.update_profile(tutor, headline="Patient maths help", bio="Ten years of GCSE.")
    body = client.get(f"/api/tutors/{tutor.id}").get_json()
    assert (body["id"], body["headline"], body["bio"]) == (tutor.id, "Patient maths help", "Ten years of GCSE.")
    assert [(t["id"], t["hourly_rate_minor"], t["currency"]) for t in body["teaches"]] == [(teach.id, 4500, "GBP")]


def test_tutor_by_id_is_404_for_unknown_and_non_tutor_ids(client):
    student = factories.user("student")
    for tutor_id in (student.id, 999_999, 10**30):
        response = client.get(f"/api/tutors/{tutor_id}")
        assert response.status_code == 404 and error_of(response)


# --- a tutor's teach records ---------------------------------------------------------------------------

def test_put_teaches_replaces_the_tutors_teach_records(client):
    tutor, _ = factories.tutor()
    physics, alevel = factories.subject("Physics"), factories.level("A-level")
    response = client.put("/api/tutors/me/teaches", headers=bearer(tutor), json={"teaches": [
        {"subject_id": physics.id, "level_id": alevel.id, "hourly_rate_minor": 5500, "online": False,
         "in_person": True, "max_travel_km": 12}]})
    assert response.status_code == 200
    [teach] = response.get_json()["teaches"]
    assert (teach["subject"]["name"], teach["level"]["name"]) == ("Physics", "A-level")
    assert teach["hourly_rate_minor"] == 5500
    assert (teach["online"], teach["in_person"], teach["max_travel_km"]) == (False, True, 12)
    assert [t.subject_id for t in catalogue.tutor_teaches(tutor.id)] == [physics.id]


def test_put_teaches_is_403_for_students_and_401_for_anonymous(client):
    body = {"teaches": []}
    student = client.put("/api/tutors/me/teaches", json=body, headers=bearer(factories.user("student")))
    assert student.status_code == 403 and "Only tutors" in error_of(student)["message"]
    anonymous = client.put("/api/tutors/me/teaches", json=body)
    assert anonymous.status_code == 401 and error_of(anonymous)


def test_put_teaches_checks_credentials_before_the_body(client):
    assert client.put("/api/tutors/me/teaches", data="not json").status_code == 401


def test_put_teaches_with_invalid_records_answers_422_with_field_keys_and_changes_nothing(client):
    tutor, teach = factories.tutor()
    response = client.put("/api/tutors/me/teaches", headers=bearer(tutor), json={"teaches": [
        {"subject_id": teach.subject_id, "level_id": teach.level_id, "hourly_rate_minor": 5000},
        {"subject_id": 0, "level_id": "gcse", "hourly_rate_minor": 50, "currency": "XYZ"}]})
    assert response.status_code == 422
    fields = error_of(response)["fields"]
    assert {"teaches[1].subject_id", "teaches[1].level_id", "teaches[1].hourly_rate_minor",
            "teaches[1].currency"} <= set(fields)
    unknown = client.put("/api/tutors/me/teaches", headers=bearer(tutor), json={"teaches": [
        {"subject_id": 9999, "level_id": teach.level_id, "hourly_rate_minor": 5000}]})
    assert unknown.status_code == 422 and error_of(unknown)["fields"] == {"teaches[0].subject_id": "Unknown subject."}
    db.session.expire_all()
    assert [(t.id, t.hourly_rate_minor) for t in catalogue.tutor_teaches(tutor.id)] == [(teach.id, 4000)]


def test_put_teaches_without_a_list_answers_422_on_teaches(client):
    tutor, _ = factories.tutor()
    response = client.put("/api/tutors/me/teaches", headers=bearer(tutor), json={"teaches": {"subject_id": 1}})
    assert response.status_code == 422 and "teaches" in error_of(response)["fields"]


# --- a tutor's availability --------------------------------------------------------------------------

def test_get_availability_shows_windows_overrides_notice_horizon_and_zone(client):
    tutor, _ = factories.tutor(weekly=[(0, "09:00", "12:00"), (2, "14:00", "24:00")], notice_hours=6,
                               horizon_days=30, timezone="America/New_York")
    availability.add_override(tutor, DAY.isoformat(), True, None, None, TODAY)
    body = client.get("/api/tutors/me/availability", headers=bearer(tutor)).get_json()
    assert body["timezone"] == "America/New_York"
    assert body["weekly"] == [{"weekday": 0, "start": "09:00", "end": "12:00"},
                              {"weekday": 2, "start": "14:00", "end": "24:00"}]
    assert body["overrides"] == [{"date": DAY.isoformat(), "start": None, "end": None}]
    assert (body["min_notice_hours"], body["horizon_days"]) == (6, 30)


def test_availability_is_for_tutors_only(client):
    parent = bearer(factories.user("parent"))
    assert client.get("/api/tutors/me/availability").status_code == 401
    assert client.get("/api/tutors/me/availability", headers=parent).status_code == 403
    assert client.put("/api/tutors/me/availability", json={"horizon_days": 5}).status_code == 401
    assert client.put("/api/tutors/me/availability", json={"horizon_days": 5}, headers=parent).status_code == 403


def test_put_availability_replaces_windows_overrides_rules_and_zone(client):
    tutor, _ = factories.tutor()
    response = client.put("/api/tutors/me/availability", headers=bearer(tutor), json={
        "timezone": "Asia/Kolkata",
        "weekly": [{"weekday": 1, "start": "08:15", "end": "11:45"}],
        "overrides": [{"date": DAY.isoformat(), "start": "18:00", "end": "20:00"},
                      {"date": (DAY + timedelta(days=1)).isoformat()}],
        "min_notice_hours": 24, "horizon_days": 90, "travel_buffer_minutes": 15})
    assert response.status_code == 200
    body = response.get_json()
    assert body["timezone"] == "Asia/Kolkata"
    assert body["weekly"] == [{"weekday": 1, "start": "08:15", "end": "11:45"}]
    assert body["overrides"] == [{"date": DAY.isoformat(), "start": "18:00", "end": "20:00"},
                                 {"date": (DAY + timedelta(days=1)).isoformat(), "start": None, "end": None}]
    assert (body["min_notice_hours"], body["horizon_days"], body["travel_buffer_minutes"]) == (24, 90, 15)
    assert client.get("/api/tutors/me/availability", headers=bearer(tutor)).get_json() == body


def test_put_availability_keeps_the_fields_left_out(client):
    tutor, _ = factories.tutor(weekly=[(4, "10:00", "11:00")], horizon_days=45)
    body = client.put("/api/tutors/me/availability", headers=bearer(tutor), json={"min_notice_hours": 2}).get_json()
    assert body["weekly"] == [{"weekday": 4, "start": "10:00", "end": "11:00"}]
    assert (body["min_notice_hours"], body["horizon_days"]) == (2, 45)


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"weekly": [{"weekday": 0, "start": "9am", "end": "17:00"}]}, "weekly[0].start", "Times look like 09:30"),
    ({"weekly": [{"weekday": 0, "start": "09:10", "end": "17:00"}]}, "weekly[0].start", "quarter hour"),
    ({"weekly": [{"weekday": 0, "start": "17:00", "end": "09:00"}]}, "weekly[0]", "must be after the start"),
    ({"overrides": [{"date": "2027-02-30"}]}, "overrides[0].date", "Dates look like"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Unknown time zone: Mars/Olympus_Mons"),
    ({"horizon_days": 0}, "horizon_days", "between 1 and 365"),
])
def test_put_availability_rejects_bad_values_in_words_and_saves_nothing(client, change, field, words):
    tutor, _ = factories.tutor(weekly=[(0, "09:00", "17:00")])
    before = client.get("/api/tutors/me/availability", headers=bearer(tutor)).get_json()
    payload = {"weekly": [{"weekday": 3, "start": "10:00", "end": "12:00"}], "min_notice_hours": 48,
               "timezone": "Asia/Tokyo", **change}
    response = client.put("/api/tutors/me/availability", headers=bearer(tutor), json=payload)
    assert response.status_code == 422
    assert words in error_of(response)["fields"][field]
    db.session.expire_all()
    assert client.get("/api/tutors/me/availability", headers=bearer(tutor)).get_json() == before
    assert count(WeeklyWindow) == 1 and count(DateOverride) == 0


# --- free slots --------------------------------------------------------------------------------------

@pytest.fixture
def morning_tutor(app):
    """A tutor in UTC open 09:00-10:00 every day, £40 an hour."""
    return factories.tutor(timezone="UTC", weekly=[(d, "09:00", "10:00") for d in range(7)])


def slots_of(client, tutor, teach, **query):
    args = {"tutor_id": tutor.id, "teach_id": teach.id, "start_date": DAY.isoformat(), **query}
    return client.get("/api/availabilities", query_string=args)


def test_availabilities_list_priced_slots_for_a_teach_record(client, morning_tutor):
    tutor, teach = morning_tutor
    body = slots_of(client, tutor, teach, duration=30, tz="UTC").get_json()
    assert (body["tutor_id"], body["teach_id"], body["timezone"], body["duration_minutes"]) == (
        tutor.id, teach.id, "UTC", 30)
    assert [s["start"] for s in body["slots"]] == [at(DAY, 9), at(DAY, 9, 15), at(DAY, 9, 30)]
    assert body["slots"][0]["finish"] == at(DAY, 9, 30)
    assert body["price"] == body["slots"][0]["price"] == {
        "currency": "GBP", "hourly_rate_minor": 4000, "duration_minutes": 30, "lesson_price_minor": 2000,
        "lesson_price_display": "£20.00"}


def test_availabilities_find_the_teach_record_from_subject_and_level(client, morning_tutor):
    tutor, teach = morning_tutor
    response = client.get("/api/availabilities", query_string={
        "tutor_id": tutor.id, "subject_id": teach.subject_id, "level_id": teach.level_id,
        "start_date": DAY.isoformat()})
    assert response.status_code == 200 and response.get_json()["teach_id"] == teach.id
    other = client.get("/api/availabilities", query_string={
        "tutor_id": tutor.id, "subject_id": factories.subject("Latin").id, "start_date": DAY.isoformat()})
    assert other.status_code == 404 and "does not teach" in error_of(other)["message"]


def test_availabilities_cover_every_date_from_start_to_end(client, morning_tutor):
    tutor, teach = morning_tutor
    body = slots_of(client, tutor, teach, end_date=(DAY + timedelta(days=2)).isoformat(), tz="UTC").get_json()
    assert [s["start"] for s in body["slots"]] == [at(DAY + timedelta(days=i), 9) for i in range(3)]


def test_availabilities_count_past_dates_from_today_and_list_nothing_for_a_past_range(client, morning_tutor):
    tutor, teach = morning_tutor
    from_the_past = slots_of(client, tutor, teach, tz="UTC", start_date=(TODAY - timedelta(days=3)).isoformat(),
                             end_date=(TODAY + timedelta(days=2)).isoformat())
    assert from_the_past.status_code == 200
    assert {s["start"][:10] for s in from_the_past.get_json()["slots"]} <= {
        (TODAY + timedelta(days=i)).isoformat() for i in range(3)}
    past = slots_of(client, tutor, teach, start_date=(TODAY - timedelta(days=9)).isoformat(),
                    end_date=(TODAY - timedelta(days=8)).isoformat())
    assert past.status_code == 200 and past.get_json()["slots"] == []
    beyond = slots_of(client, tutor, teach, start_date="9999-12-01", end_date="9999-12-31")
    assert beyond.status_code == 200 and beyond.get_json()["slots"] == []


def test_availabilities_in_kathmandu_start_at_quarter_to_with_a_0545_offset(client, morning_tutor):
    tutor, teach = morning_tutor
    body = slots_of(client, tutor, teach, tz="Asia/Kathmandu").get_json()
    assert body["timezone"] == "Asia/Kathmandu"
    assert [(s["start"], s["finish"], s["start_utc"]) for s in body["slots"]] == [
        (f"{DAY}T14:45:00+05:45", f"{DAY}T15:45:00+05:45", at(DAY, 9))]
    quarter = slots_of(client, tutor, teach, tz="Asia/Kathmandu", duration=15).get_json()["slots"]
    assert [s["start"][11:] for s in quarter] == [
        "14:45:00+05:45", "15:00:00+05:45", "15:15:00+05:45", "15:30:00+05:45"]


def test_availabilities_accept_a_bare_utc_offset(client, morning_tutor):
    tutor, teach = morning_tutor
    body = slots_of(client, tutor, teach, utc_offset="+05:30").get_json()
    assert [s["start"] for s in body["slots"]] == [f"{DAY}T14:30:00+05:30"]
    assert body["timezone"] == "UTC+05:30"


def test_availabilities_default_to_the_viewers_own_zone(client, morning_tutor):
    tutor, teach = morning_tutor
    viewer = factories.user("student", timezone="Asia/Tokyo")
    body = client.get("/api/availabilities", headers=bearer(viewer), query_string={
        "tutor_id": tutor.id, "teach_id": teach.id, "start_date": DAY.isoformat()}).get_json()
    assert body["timezone"] == "Asia/Tokyo"
    assert [s["start"] for s in body["slots"]] == [f"{DAY}T18:00:00+09:00"]


@pytest.mark.parametrize(("query", "field", "words"), [
    ({"tz": "Mars/Olympus_Mons"}, "tz", "Unknown time zone"),
    ({"utc_offset": "+05:10"}, "utc_offset", "quarter hours"),
    ({"duration": "50"}, "duration", "50 is not"),
    ({"duration": "135"}, "duration", "135 is not"),
    ({"duration": "an hour"}, "duration", "whole number"),
    # Worked out when the test runs, not when the module is imported: a run crossing midnight moves the horizon.
    ({"start_date": lambda: (datetime.now(UTC).date() + timedelta(days=61)).isoformat()}, "start_date",
     "up to 60 days ahead"),
    ({"start_date": "28/03/2027"}, "start_date", "YYYY-MM-DD"),
    ({"tutor_id": ""}, "tutor_id", "required"),
])
def test_availabilities_reject_bad_queries_with_422_in_words(client, morning_tutor, query, field, words):
    tutor, teach = morning_tutor
    response = slots_of(client, tutor, teach, **{k: v() if callable(v) else v for k, v in query.items()})
    assert response.status_code == 422
    assert words in error_of(response)["fields"][field]


def test_availabilities_cut_a_long_range_and_list_nothing_for_an_end_before_the_start(client, morning_tutor):
    tutor, teach = morning_tutor
    long = slots_of(client, tutor, teach, tz="UTC", end_date=(DAY + timedelta(days=63)).isoformat()).get_json()
    assert (long["first_date"], long["last_date"]) == (DAY.isoformat(), (DAY + timedelta(days=62)).isoformat())
    assert long["slots"]
    backwards = slots_of(client, tutor, teach, end_date=(DAY - timedelta(days=1)).isoformat())
    assert backwards.status_code == 200
    assert backwards.get_json()["slots"] == [] and backwards.get_json()["first_date"] is None


def test_availabilities_in_a_mode_the_tutor_does_not_offer_are_not_found(client, morning_tutor):
    tutor, teach = morning_tutor
    response = slots_of(client, tutor, teach, lesson_type="in_person")
    assert response.status_code == 404 and "Online only" in error_of(response)["fields"]["lesson_type"]


def test_availabilities_for_an_unknown_tutor_are_404(client, morning_tutor):
    _, teach = morning_tutor
    response = client.get("/api/availabilities", query_string={"tutor_id": 999_999, "teach_id": teach.id})
    assert response.status_code == 404 and error_of(response)


def test_in_person_availabilities_keep_travel_time_around_a_far_lesson(client):
    tutor, teach = factories.tutor(timezone="UTC", online=False, in_person=True, buffer_minutes=30)
    far = {"line1": "1 Far Road", "latitude": 51.0, "longitude": -1.0}
    booked = client.post("/api/bookings", headers=bearer(factories.user("student")), json=booking_body(
        tutor, teach, lesson_type="in_person", address=far))
    assert booked.status_code == 201
    near = {"line1": "2 Near Street", "latitude": 51.5, "longitude": -0.1}  # ~70 km away: hours of travel
    body = slots_of(client, tutor, teach, tz="UTC", lesson_type="in_person", **near).get_json()
    starts = {s["start"] for s in body["slots"]}
    assert at(DAY, 12) not in starts and at(DAY, 8) not in starts
    assert at(DAY, 18) in starts and at(DAY, 3) in starts


# --- bookings -----------------------------------------------------------------------------------------

def test_booking_a_free_slot_answers_201_with_location_and_the_held_booking(client):
    tutor, teach = factories.tutor(rate_minor=4500)
    student = factories.user("student")
    response = client.post("/api/bookings", headers=bearer(student),
                           json=booking_body(tutor, teach, duration=90, note="Quadratics please"))
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/bookings/{body['id']}")
    assert (body["state"], body["price_minor"], body["currency"], body["note"]) == (
        "AWAITING_PAYMENT", 6750, "GBP", "Quadratics please")
    lesson = body["lesson"]
    assert (lesson["start"], lesson["finish"], lesson["duration_minutes"]) == (at(DAY, 10), at(DAY, 11, 30), 90)
    assert lesson["students"] == [{"id": student.id, "name": student.name}] and lesson["address"] is None
    assert client.get(response.headers["Location"], headers=bearer(student)).get_json() == body


def test_booking_a_taken_slot_answers_409_with_fresh_slots_for_that_day(client):
    tutor, teach = factories.tutor(timezone="UTC", weekly=[(d, "08:00", "13:00") for d in range(7)])
    assert client.post("/api/bookings", headers=bearer(factories.user("student")),
                       json=booking_body(tutor, teach)).status_code == 201
    loser = factories.user("student", timezone="Europe/London")
    response = client.post("/api/bookings", headers=bearer(loser),
                           json=booking_body(tutor, teach, start=at(DAY, 10, 30), tz="UTC"))
    assert response.status_code == 409
    error = error_of(response)
    assert "Please pick another" in error["message"] and "start" in error["fields"]
    fresh = [s["start"] for s in response.get_json()["fresh_slots"]]
    assert fresh == [at(DAY, 8), at(DAY, 8, 15), at(DAY, 8, 30), at(DAY, 8, 45), at(DAY, 9),
                     at(DAY, 11), at(DAY, 11, 15), at(DAY, 11, 30), at(DAY, 11, 45), at(DAY, 12)]
    assert count(Booking) == 1


def test_fresh_slots_come_in_the_bookers_zone_when_no_tz_is_sent(client):
    tutor, teach = factories.tutor(timezone="UTC", weekly=[(d, "09:00", "11:00") for d in range(7)])
    client.post("/api/bookings", headers=bearer(factories.user("student")), json=booking_body(tutor, teach))
    loser = factories.user("student", timezone="Asia/Kathmandu")
    response = client.post("/api/bookings", headers=bearer(loser), json=booking_body(tutor, teach))
    assert response.status_code == 409
    assert [s["start"] for s in response.get_json()["fresh_slots"]] == [f"{DAY}T14:45:00+05:45"]


def test_bookings_list_and_detail_show_only_my_own(client):
    tutor, teach = factories.tutor()
    mine, theirs = factories.user("student"), factories.user("student")
    my_id = client.post("/api/bookings", headers=bearer(mine), json=booking_body(tutor, teach)).get_json()["id"]
    their_id = client.post("/api/bookings", headers=bearer(theirs),
                           json=booking_body(tutor, teach, start=at(DAY, 14))).get_json()["id"]
    assert [b["id"] for b in client.get("/api/bookings", headers=bearer(mine)).get_json()["bookings"]] == [my_id]
    tutors_view = client.get("/api/bookings", headers=bearer(tutor)).get_json()["bookings"]
    assert [b["id"] for b in tutors_view] == [my_id, their_id]
    leak = client.get(f"/api/bookings/{their_id}", headers=bearer(mine))
    missing = client.get("/api/bookings/999999", headers=bearer(mine))
    assert leak.status_code == missing.status_code == 404
    assert error_of(leak) == error_of(missing)  # a booking that is not yours looks exactly like no booking


def test_bookings_list_splits_upcoming_and_past(client):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    client.post("/api/bookings", headers=bearer(student), json=booking_body(tutor, teach))
    assert len(client.get("/api/bookings?when=upcoming", headers=bearer(student)).get_json()["bookings"]) == 1
    assert client.get("/api/bookings?when=past", headers=bearer(student)).get_json()["bookings"] == []
    bad = client.get("/api/bookings?when=someday", headers=bearer(student))
    assert bad.status_code == 422 and "when" in error_of(bad)["fields"]


def test_bookings_need_credentials(client):
    assert client.get("/api/bookings").status_code == 401
    assert client.get("/api/bookings/1").status_code == 401
    assert client.post("/api/bookings", json={}).status_code == 401


def test_a_tutor_booking_a_lesson_is_403_in_words(client):
    tutor, teach = factories.tutor()
    response = client.post("/api/bookings", headers=bearer(factories.user("tutor")), json=booking_body(tutor, teach))
    assert response.status_code == 403
    assert "Only student and parent accounts" in response.get_json()["error"]["message"]


def test_parent_books_for_their_own_child(client):
    tutor, teach = factories.tutor()
    parent = factories.user("parent")
    kid = factories.child(parent, "Robin")
    response = client.post("/api/bookings", headers=bearer(parent), json=booking_body(tutor, teach, child_id=kid.id))
    assert response.status_code == 201
    assert response.get_json()["lesson"]["children"] == [{"id": kid.id, "name": "Robin"}]
    assert client.get("/api/me", headers=bearer(parent)).get_json()["children"][0]["name"] == "Robin"


def test_parent_booking_for_another_parents_child_is_404(client):
    tutor, teach = factories.tutor()
    other_kid = factories.child(factories.user("parent"), "Not yours")
    response = client.post("/api/bookings", headers=bearer(factories.user("parent")),
                           json=booking_body(tutor, teach, child_id=other_kid.id))
    assert response.status_code == 404 and "child_id" in error_of(response)["fields"]
    assert count(Lesson) == 0


def test_in_person_booking_without_an_address_is_422(client):
    tutor, teach = factories.tutor(online=False, in_person=True)
    response = client.post("/api/bookings", headers=bearer(factories.user("student")),
                           json=booking_body(tutor, teach, lesson_type="in_person"))
    assert response.status_code == 422 and "address.line1" in error_of(response)["fields"]
    assert count(Lesson) == 0


def test_in_person_booking_stores_the_address(client):
    tutor, teach = factories.tutor(online=False, in_person=True)
    address = {"line1": "1 High Street", "city": "Oxford", "postcode": "OX1 1AA", "latitude": 51.75, "longitude": -1.25}
    response = client.post("/api/bookings", headers=bearer(factories.user("student")),
                           json=booking_body(tutor, teach, lesson_type="in_person", address=address))
    assert response.status_code == 201
    lesson = response.get_json()["lesson"]
    assert lesson["lesson_type"] == "in_person" and lesson["address"] == address


@pytest.mark.parametrize(("body", "status", "words"), [
    ("{not json", 400, "not valid JSON"),
    ('{"tutor_id": NaN}', 400, "not valid JSON"),
    ('{"duration": 1e400}', 400, "not valid JSON"),
    ("", 422, "JSON object"),
    ('[{"tutor_id": 1}]', 422, "JSON object"),
    ("null", 422, "JSON object"),
])
def test_a_body_that_is_not_a_json_object_answers_4xx_with_a_message(client, body, status, words):
    response = client.post("/api/bookings", data=body, content_type="application/json",
                           headers=bearer(factories.user("student")))
    assert response.status_code == status
    error = error_of(response)
    assert words in error["message"] and "body" in error["fields"]


def test_booking_fields_are_checked_in_words(client):
    tutor, teach = factories.tutor()
    headers = bearer(factories.user("student"))
    cases = [({"start": "tomorrow at ten"}, "start"), ({"start": f"{DAY}T10:00:00"}, "start"),
             ({"duration": 50}, "duration"), ({"lesson_type": "by post"}, "lesson_type"),
             ({"teach_id": None}, "teach_id"), ({"note": "x" * 2001}, "note")]
    for change, field in cases:
        response = client.post("/api/bookings", headers=headers, json={**booking_body(tutor, teach), **change})
        assert response.status_code == 422, change
        assert field in error_of(response)["fields"], change
    assert count(Booking) == 0


# --- no input makes the API fail --------------------------------------------------------------------------

GARBAGE = ["abc", 10**30, -1, 0, None, "null", {"nested": {"deeper": [1]}}, [1, "x"], "", True, 1.5,
           float("inf"), float("nan"), "9999-12-31", "NaN"]
# Per-field extras: the ends of the calendar (where date arithmetic overflows) and zone names that are paths.
EXTREMES = {"start_date": ["9999-12-31", "0001-01-01"], "end_date": ["9999-12-31", "0001-01-01"],
            "start": ["9999-12-31T23:59:00+00:00", "0001-01-01T00:00:00+05:00", "0001-01-01T00:00:00-14:00"],
            "date": ["9999-12-31", "0001-01-01"],
            "tz": ["../../../etc/passwd", "UTC\x00", "x" * 300],
            "timezone": ["../../../etc/passwd", "UTC\x00", "x" * 300],
            "utc_offset": ["+99:99", "-00:07", "UTC+"]}
BAD_BODIES = ["", "{", "[]", "null", "1", '"text"', "[" * 5000 + "]" * 5000, b"\xff\xfe\x00"]


def _as_query(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fuzz_query(client, path, base, headers=None):
    """Every parameter replaced by each garbage value; date parameters also alone (without their partner)."""
    for name in base:
        for value in GARBAGE + EXTREMES.get(name, []):
            yield (name, value), client.get(path, query_string={**base, name: _as_query(value)}, headers=headers), None
            if name in ("start_date", "end_date"):
                alone = {k: v for k, v in base.items() if k not in ("start_date", "end_date")}
                yield (name + " alone", value), client.get(path, query_string={**alone, name: _as_query(value)},
                                                           headers=headers), None


def _fuzz_body(client, method, path, base, headers, nested=()):
    """Every top-level field (and each field of `nested` items) replaced by each garbage value, then bad bodies."""
    send = getattr(client, method)
    for name in base:
        for value in GARBAGE + EXTREMES.get(name, []):
            body = {**base, name: value}
            yield (name, value), send(path, json=body, headers=headers), (path, method, body)
    for key, index in nested:
        for name in base[key][index]:
            for value in GARBAGE + EXTREMES.get(name, []):
                items = list(base[key])
                items[index] = {**items[index], name: value}
                body = {**base, key: items}
                yield (f"{key}[{index}].{name}", value), send(path, json=body, headers=headers), (path, method, body)
    for raw in BAD_BODIES:
        yield ("body", raw[:20]), send(path, data=raw, content_type="application/json", headers=headers), None


def _fuzz_cases(client, endpoint):
    tutor, teach = factories.tutor(in_person=True)
    student = factories.user("student")
    parent = factories.user("parent")
    kid = factories.child(parent)
    if endpoint == "register":
        return _fuzz_body(client, "post", "/api/auth/register", {
            "email": "new@example.com", "password": "long-enough-password", "name": "New", "role": "student",
            "timezone": "Europe/London"}, {})
    if endpoint == "token":
        return _fuzz_body(client, "post", "/api/auth/token",
                          {"email": student.email, "password": factories.PASSWORD}, {})
    if endpoint == "tutors":
        return _fuzz_query(client, "/api/tutors", {"subject_id": teach.subject_id, "level_id": teach.level_id,
                                                   "mode": "online", "max_rate": "40"})
    if endpoint == "ids":
        paths = [f"/api/{kind}/{value}" for kind in ("tutors", "bookings")
                 for value in ("abc", "-1", "0", str(10**30), "2147483648", "1.5", "null", "%00")]
        return ((("path", p), client.get(p, headers=bearer(student)), None) for p in paths)
    if endpoint == "teaches":
        return _fuzz_body(client, "put", "/api/tutors/me/teaches", {"teaches": [{
            "subject_id": teach.subject_id, "level_id": teach.level_id, "exam_board_id": None,
            "hourly_rate_minor": 4000, "currency": "GBP", "online": True, "in_person": True, "max_travel_km": 10}]},
            bearer(tutor), nested=[("teaches", 0)])
    if endpoint == "availability":
        return _fuzz_body(client, "put", "/api/tutors/me/availability", {
            "timezone": "Europe/London", "weekly": [{"weekday": 0, "start": "09:00", "end": "17:00"}],
            "overrides": [{"date": DAY.isoformat(), "start": "10:00", "end": "12:00"}], "min_notice_hours": 0,
            "horizon_days": 60, "travel_buffer_minutes": 0, "base_latitude": 51.5, "base_longitude": -0.1},
            bearer(tutor), nested=[("weekly", 0), ("overrides", 0)])
    if endpoint == "availabilities":
        return _fuzz_query(client, "/api/availabilities", {
            "tutor_id": tutor.id, "teach_id": teach.id, "subject_id": teach.subject_id, "level_id": teach.level_id,
            "start_date": DAY.isoformat(), "end_date": DAY.isoformat(), "duration": "60", "lesson_type": "in_person",
            "line1": "1 High Street", "latitude": "51.5", "longitude": "-0.1", "tz": "Europe/London",
            "utc_offset": "+01:00"})
    if endpoint == "bookings":
        # Booked as a parent so child_id is live. After the first success the slot is taken, but every field is
        # still parsed and checked before the 409.
        return _fuzz_body(client, "post", "/api/bookings", {
            "tutor_id": tutor.id, "teach_id": teach.id, "start": at(DAY, 10), "duration": 60,
            "lesson_type": "in_person", "child_id": kid.id, "note": "hi", "tz": "Europe/London", "utc_offset": "+01:00",
            "address": {"line1": "1 High Street", "city": "Oxford", "postcode": "OX1", "latitude": 51.7,
                        "longitude": -1.2}}, bearer(parent))
    if endpoint == "list_bookings":
        return _fuzz_query(client, "/api/bookings", {"when": "upcoming"}, headers=bearer(student))
    raise AssertionError(endpoint)


def _document_refuses(document, path: str, method: str, body: dict) -> bool:
    """Whether the served OpenAPI document's schema for this request body refuses `body`."""
    content = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**content, "components": document["components"]},
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    return not validator.is_valid(body)


@pytest.mark.parametrize("endpoint", ["register", "token", "tutors", "ids", "teaches", "availability",
                                      "availabilities", "bookings", "list_bookings"])
def test_garbage_input_is_refused_as_the_document_says_and_never_answers_500(client, app, monkeypatch, endpoint):
    """A body the served document refuses answers 422 naming the field (or 400 for what is not JSON at all); any
    other answer is a success or a 4xx in the error shape, never a 500."""
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "1000 per minute")
    monkeypatch.setitem(app.config, "REGISTER_RATE_LIMIT", "1000 per hour")
    document = client.get("/api/openapi.json").get_json()
    failures = []
    for (where, value), response, sent in _fuzz_cases(client, endpoint):
        case = (where, repr(value)[:40], response.status_code, response.get_data(as_text=True)[:120])
        if response.status_code >= 500 or response.get_json(silent=True) is None:
            failures.append(case)
            continue
        if response.status_code >= 400:
            error_of(response)
        if sent is not None and isinstance(value, float) and not math.isfinite(value):  # json= writes NaN: not JSON
            if response.status_code != 400:
                failures.append(("not JSON but not refused with 400", *case))
        elif sent is not None and _document_refuses(document, *sent):
            fields = (response.get_json().get("error") or {}).get("fields") or {}
            if response.status_code != 422 or not any(f == where or f.startswith(where + ".") or
                                                      f.startswith(where + "[") for f in fields):
                failures.append(("refused by the document but not by the API", *case))
    assert failures == []


@pytest.mark.parametrize(("path", "method", "body", "field"), [
    ("/api/tutors/me/teaches", "put", {"teaches": [{"subject_id": 1, "level_id": 1, "hourly_rate_minor": 4000,
                                                    "online": "false"}]}, "teaches[0].online"),
    ("/api/tutors/me/teaches", "put", {"teaches": [{"subject_id": 1, "level_id": 1, "hourly_rate_minor": "4000"}]},
     "teaches[0].hourly_rate_minor"),
    ("/api/tutors/me/teaches", "put", {"teaches": [{"subject_id": 1, "level_id": 1, "hourly_rate_minor": 4000,
                                                    "in_person": 1}]}, "teaches[0].in_person"),
    ("/api/tutors/me/availability", "put", {"min_notice_hours": "2"}, "min_notice_hours"),
    ("/api/tutors/me/availability", "put", {"horizon_days": 30.5}, "horizon_days"),
    ("/api/tutors/me/teaches", "put", {"teaches": [], "colour": "red"}, "colour"),
])
def test_json_bodies_take_only_their_declared_types_and_properties(client, path, method, body, field):
    tutor, _ = factories.tutor()
    response = getattr(client, method)(path, json=body, headers=bearer(tutor))
    assert response.status_code == 422
    error = error_of(response)
    assert field in error["fields"] and field in error["message"]


def test_a_whole_number_may_be_written_60_point_0_but_not_as_text(client):
    tutor, teach = factories.tutor()
    headers = bearer(factories.user("student"))
    as_text = client.post("/api/bookings", headers=headers, json=booking_body(tutor, teach, duration="60"))
    assert as_text.status_code == 422 and error_of(as_text)["fields"] == {"duration": "Must be a whole number."}
    assert client.post("/api/bookings", headers=headers,
                       json=booking_body(tutor, teach, duration=60.0)).status_code == 201


def test_cancelling_refuses_properties_it_does_not_declare_and_takes_no_body_at_all(client):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    booked = client.post("/api/bookings", headers=bearer(student), json=booking_body(tutor, teach)).get_json()
    extra = client.put(f"/api/bookings/{booked['id']}/cancel", headers=bearer(student), json={"reason": "ill"})
    assert extra.status_code == 422 and error_of(extra)["fields"] == {"reason": "This request has no such field."}
    assert count(Booking) == 1 and db.session.get(Booking, booked["id"]).state == "AWAITING_PAYMENT"
    cancelled = client.put(f"/api/bookings/{booked['id']}/cancel", headers=bearer(student))
    assert cancelled.status_code == 200


def test_query_strings_are_read_as_their_declared_types(client):
    tutor, teach = factories.tutor(timezone="UTC", weekly=[(d, "09:00", "10:00") for d in range(7)])
    ok = client.get("/api/availabilities", query_string={"tutor_id": str(tutor.id), "teach_id": str(teach.id),
                                                         "start_date": DAY.isoformat(), "duration": "30"})
    assert ok.status_code == 200 and ok.get_json()["duration_minutes"] == 30
    zero = client.get("/api/availabilities", query_string={"tutor_id": "0"})
    assert zero.status_code == 422 and "tutor_id" in error_of(zero)["fields"]


def test_nested_address_fields_never_answer_500(client):
    tutor, teach = factories.tutor(in_person=True)
    headers = bearer(factories.user("student"))
    failures = []
    for name in ("line1", "city", "postcode", "latitude", "longitude"):
        for value in GARBAGE:
            address = {"line1": "1 High Street", "latitude": 51.7, "longitude": -1.2, name: value}
            response = client.post("/api/bookings", headers=headers, json=booking_body(
                tutor, teach, start=at(DAY, 6), lesson_type="in_person", address=address))
            if response.status_code >= 500:
                failures.append((name, repr(value)[:40], response.get_data(as_text=True)[:120]))
    assert failures == []
