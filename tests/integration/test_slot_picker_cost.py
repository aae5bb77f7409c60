"""What a slot-picker request costs the database: a few statements and index range scans, whatever the history."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, text

from tests import factories
from tests.conftest import login
from webapp.domain.states import LessonState
from webapp.extensions import db
from webapp.models import CalendarEvent, Lesson
from webapp.query_plans import explain
from webapp.services import availability

HX = {"HX-Request": "true"}
YEARS_OF_HISTORY = 10


def _with_ten_years_of_history(tutor, teach, now: datetime) -> None:
    """Five lessons a week for ten years (a few with a proposal that was never answered) and as many events."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(days=365 * YEARS_OF_HISTORY)
    lessons, events = [], []
    for i in range(52 * 5 * YEARS_OF_HISTORY):
        start = first + timedelta(days=7 * (i // 5) + i % 5, hours=9)
        if start > now - timedelta(days=2):
            break
        proposed = start + timedelta(days=1) if i % 50 == 0 else None
        lessons.append({"tutor_id": tutor.id, "subject_id": teach.subject_id, "level_id": teach.level_id,
                        "teach_id": teach.id, "start_at": start, "finish_at": start + timedelta(hours=1),
                        "duration_minutes": 60, "state": LessonState.ACTIVE, "in_person": False,
                        "suggested_start_at": proposed,
                        "suggested_finish_at": proposed + timedelta(hours=1) if proposed else None})
        events.append({"tutor_id": tutor.id, "event_id": f"past-{i}", "start_at": start + timedelta(hours=3),
                       "finish_at": start + timedelta(hours=4), "busy": True, "summary": ""})
    db.session.execute(insert(Lesson), lessons)
    db.session.execute(insert(CalendarEvent), events)
    db.session.commit()
    db.session.execute(text("ANALYZE"))  # the planner sees the history as it would in production
    db.session.commit()


def _statements(app, do) -> int:
    """How many SQL statements `do()` sends (SQLite's explicit BEGIN aside: PostgreSQL's driver sends its own
    unseen, so leaving it out counts the same work on both backends)."""
    sent = []

    def count(_conn, _cursor, statement, *_args):
        if statement != "BEGIN":
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        do()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(sent)


def _picker_statements(app, client, tutor_id: int) -> tuple[int, int]:
    """Statements for the slot-picker partial and for the full profile page."""
    def picker():
        response = client.get(f"/tutors/{tutor_id}/slots?duration=60&tz=Europe/London", headers=HX)
        assert response.status_code == 200
        assert 'class="slot"' in response.get_data(as_text=True)  # it found free times, not an error

    def profile():
        assert client.get(f"/tutors/{tutor_id}").status_code == 200

    profile()  # the review summary is cached after the first visit, as on a live site
    return _statements(app, picker), _statements(app, profile)


def test_slot_picker_runs_at_most_five_statements_for_a_new_tutor_and_one_with_ten_years_of_history(app, client):
    now = datetime.now(UTC)
    new_tutor, _ = factories.tutor()
    seasoned, teach = factories.tutor()
    _with_ten_years_of_history(seasoned, teach, now)

    tutor_ids = (new_tutor.id, seasoned.id)
    anonymous = [_picker_statements(app, client, tutor_id) for tutor_id in tutor_ids]
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    signed_in = [_picker_statements(app, client, tutor_id) for tutor_id in tutor_ids]

    for picker, profile in anonymous + signed_in:
        assert picker <= 5 and profile <= 5, (anonymous, signed_in)
    assert anonymous[0] == anonymous[1] and signed_in[0] == signed_in[1]  # history costs no statement


def _assert_range_scans(plan: list[str], dialect: str) -> None:
    """The lessons (by start and by proposed start) and events lookups are index range scans bounded in time."""
    if dialect == "sqlite":
        assert "SEARCH lessons USING INDEX ix_lessons_tutor_start (tutor_id=? AND start_at>? AND start_at<?)" in plan
        assert ("SEARCH lessons USING INDEX ix_lessons_tutor_suggested_start "
                "(tutor_id=? AND suggested_start_at>? AND suggested_start_at<?)") in plan
        assert "SEARCH calendar_events USING INDEX ix_calendar_events_tutor_finish (tutor_id=? AND finish_at>?)" in plan
        assert not [line for line in plan if line.startswith(("SCAN lessons", "SCAN calendar_events"))], plan
        return
    text_plan = "\n".join(plan)
    assert "Seq Scan on lessons" not in text_plan and "Seq Scan on calendar_events" not in text_plan, text_plan
    expected = {"ix_lessons_tutor_start": ("start_at >", "start_at <"),
                "ix_lessons_tutor_suggested_start": ("suggested_start_at >", "suggested_start_at <"),
                "ix_calendar_events_tutor_finish": ("finish_at >",)}
    for index, bounds in expected.items():
        at = next((i for i, line in enumerate(plan) if re.search(rf"Index Scan (using|on) {index}\b", line)), None)
        assert at is not None, f"{index} not used:\n{text_plan}"
        condition = next(line for line in plan[at + 1:] if "Index Cond" in line)
        for bound in bounds:
            assert bound in condition, f"{index} not bounded by {bound}:\n{text_plan}"


def test_busy_time_lookup_range_scans_indexes_so_ten_years_of_history_cost_what_none_do(app):
    now = datetime.now(UTC)
    new_tutor, _ = factories.tutor()
    seasoned, teach = factories.tutor()
    _with_ten_years_of_history(seasoned, teach, now)
    week = (now, now + timedelta(days=7))
    dialect = db.engine.dialect.name
    for tutor in (new_tutor, seasoned):
        statement = availability.calendar_statement([tutor.id], *week, now.date(), now.date() + timedelta(days=8), now)
        _assert_range_scans(explain(statement), dialect)


def test_a_two_hour_lesson_that_began_before_the_range_still_blocks_its_first_slot(app):
    tutor, teach = factories.tutor()
    now = datetime.now(UTC)
    start = (now + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    factories.lesson_at(start, teacher=tutor, teach=teach, duration_minutes=120, booked_at=now)
    # The range starts 1 h 45 into the lesson: only a lesson starting up to two hours before it can reach in.
    range_start = start + timedelta(minutes=105)
    slots = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, range_start,
                                                             range_start + timedelta(hours=3), 60), now).slots
    assert slots[0] == start + timedelta(hours=2)


def test_a_calendar_event_that_began_days_before_the_range_still_blocks_it(app):
    tutor, teach = factories.tutor()
    now = datetime.now(UTC)
    day = (now + timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    db.session.add(CalendarEvent(tutor_id=tutor.id, event_id="holiday", start_at=day - timedelta(days=4),
                                 finish_at=day + timedelta(hours=12), busy=True))
    db.session.commit()
    slots = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, day, day + timedelta(days=1), 60),
                                    now).slots
    assert slots[0] == day + timedelta(hours=12)


def test_a_standing_reschedule_proposal_blocks_the_proposed_time_but_not_when_it_is_the_lesson_being_moved(app):
    tutor, teach = factories.tutor()
    now = datetime.now(UTC)
    start = (now + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    lesson = factories.lesson_at(start, teacher=tutor, teach=teach, booked_at=now)
    proposed = start + timedelta(days=1)
    lesson.suggested_start_at, lesson.suggested_finish_at = proposed, proposed + timedelta(hours=1)
    db.session.commit()

    def slots(ignore=None):
        return availability.find_slots(availability.SlotRequest(
            tutor.id, teach.id, proposed - timedelta(hours=1), proposed + timedelta(hours=2), 60,
            ignore_lesson_id=ignore), now).slots

    assert proposed not in slots()
    assert proposed in slots(ignore=lesson.id)
