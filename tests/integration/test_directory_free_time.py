"""The directory's free-time filter: days of the week and times of day in the viewer's zone, next 14 days."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from tests import factories
from webapp.extensions import db
from webapp.services import availability

HX = {"HX-Request": "true"}


def _names(client, query: str) -> list[str]:
    response = client.get(f"/tutors?{query}", headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    return sorted(name for name in ("Morning Maud", "Evening Eve", "Weekend Wes") if name in body)


def _three_tutors():
    factories.tutor(name="Morning Maud", weekly=[(d, "07:00", "11:00") for d in range(7)])
    factories.tutor(name="Evening Eve", weekly=[(d, "19:00", "22:00") for d in range(5)])
    factories.tutor(name="Weekend Wes", weekly=[(d, "13:00", "17:00") for d in (5, 6)])


def test_times_of_day_and_weekdays_keep_only_tutors_free_then_in_the_viewers_zone(client):
    _three_tutors()
    assert _names(client, "") == ["Evening Eve", "Morning Maud", "Weekend Wes"]
    assert _names(client, "times=morning&tz=Europe/London") == ["Morning Maud"]
    assert _names(client, "times=evening&tz=Europe/London") == ["Evening Eve"]
    assert _names(client, "times=morning&times=afternoon&tz=Europe/London") == ["Morning Maud", "Weekend Wes"]
    assert _names(client, "days=sat&tz=Europe/London") == ["Morning Maud", "Weekend Wes"]
    assert _names(client, "days=sat&times=evening&tz=Europe/London") == []
    # London 07:00-11:00 is 02:00-06:00 in New York (night there), and 13:00-17:00 is 08:00-12:00 (morning).
    assert _names(client, "times=morning&tz=America/New_York") == ["Weekend Wes"]
    assert _names(client, "times=night&tz=America/New_York") == ["Morning Maud"]


def test_a_tutor_booked_through_every_evening_is_not_listed_as_free_in_the_evening(client):
    eve, teach = factories.tutor(name="Evening Eve", weekly=[(d, "19:00", "20:00") for d in range(7)])
    now = datetime.now(UTC)
    for slot in availability.find_slots(availability.SlotRequest(
            eve.id, teach.id, now, now + timedelta(days=availability.FREE_WITHIN_DAYS + 1), 60), now).slots:
        factories.lesson_at(slot, teacher=eve, teach=teach, booked_at=now)
    assert _names(client, "times=evening&tz=Europe/London") == []


def test_a_day_off_on_every_matching_date_removes_the_tutor(client):
    wes, _ = factories.tutor(name="Weekend Wes", weekly=[(5, "13:00", "17:00")])
    today = datetime.now(UTC).date()
    saturdays = [today + timedelta(days=i) for i in range(availability.FREE_WITHIN_DAYS + 2)
                 if (today + timedelta(days=i)).weekday() == 5]
    for saturday in saturdays:
        availability.add_override(wes, saturday.isoformat(), True, None, None, today)
    assert _names(client, "days=sat&tz=Europe/London") == []


def test_free_time_choices_stay_in_the_page_and_bad_ones_get_words(client):
    _three_tutors()
    page = client.get("/tutors?days=sat&times=evening&tz=Europe/London").get_data(as_text=True)
    assert 'value="sat" checked' in page and 'value="evening" checked' in page
    assert 'value="mon" checked' not in page
    response = client.get("/tutors?days=funday", headers=HX)
    assert response.status_code == 422 and "Choose days of the week" in response.get_data(as_text=True)
    response = client.get("/tutors?times=brunch", headers=HX)
    assert response.status_code == 422 and "Choose times of day" in response.get_data(as_text=True)
    response = client.get("/tutors?times=morning&tz=Mars/Olympus", headers=HX)
    assert response.status_code == 422


def _statements(client, query: str) -> int:
    sent = []

    def count(_conn, _cursor, statement, *_args):
        if statement != "BEGIN":
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(f"/tutors?{query}", headers=HX).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(sent)


def test_the_filter_runs_the_same_statements_for_three_tutors_as_for_twelve(client):
    _three_tutors()
    query = "times=evening&days=mon&days=tue&tz=Europe/London"
    few = _statements(client, query)
    for _ in range(9):
        factories.tutor(weekly=[(d, "18:00", "23:00") for d in range(7)])
    assert _statements(client, query) == few


def test_a_long_candidate_list_loaded_in_chunks_gives_the_same_answer(client, monkeypatch):
    _three_tutors()
    query = "times=morning&times=afternoon&tz=Europe/London"
    whole = _names(client, query)
    # Room for one tutor's ids per statement: each tutor is then loaded by a statement of its own.
    monkeypatch.setattr(availability, "MAX_BOUND_PARAMETERS", 2 + 3 * 2)
    assert _statements(client, query) > _statements(client, "tz=Europe/London") + 1
    assert _names(client, query) == whole == ["Morning Maud", "Weekend Wes"]


def test_a_tutor_free_only_on_the_last_chosen_day_is_still_found(client):
    # Free days are checked earliest first, the later ones only for tutors not yet found free.
    late, _ = factories.tutor(name="Weekend Wes", weekly=[])
    today = datetime.now(UTC).date()
    availability.add_override(late, (today + timedelta(days=12)).isoformat(), False, "09:00", "11:00", today)
    factories.tutor(name="Morning Maud", weekly=[(d, "07:00", "11:00") for d in range(7)])
    assert _names(client, "times=morning&tz=Europe/London") == ["Morning Maud", "Weekend Wes"]
