"""Benchmark: the availability sweep against the naive per-slot check, and how the sweep scales.

Run from the repository root: ``python bench/availability.py``. Figures are measured in one run
and printed as ratios, so they compare like with like on whatever machine runs them.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TypeVar
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp.domain.availability import (  # noqa: E402  (needs the path above)
    BusyInterval,
    SlotQuery,
    WeeklyWindow,
    free_slots,
    naive_free_slots,
)
from webapp.domain.travel import Coordinates, StraightLineEstimator  # noqa: E402

import baseline_engine  # noqa: E402  (bench/ is on the path when this file runs)

T = TypeVar("T")

UTC = timezone.utc
RANGE_DAYS = 90
LESSONS = 2_000
CALENDAR_EVENTS = 2_000
ENGINE_REPEATS = 20
NAIVE_REPEATS = 3
# Mon-Sat 08:00-20:00, Europe/London; the range crosses the March 2027 clock change.
WEEKLY = tuple(WeeklyWindow(day, 8 * 60, 20 * 60) for day in range(6))
NOW = datetime(2027, 3, 1, 7, 3, tzinfo=UTC)
HOME = Coordinates(51.5074, -0.1278)


HISTORY_DAYS = 270  # a year of calendar: nine months already taught plus the 90 days asked about
LONDON = ZoneInfo("Europe/London")


def _somewhere_in_london(rng: random.Random) -> Coordinates:
    return Coordinates(51.45 + rng.random() * 0.12, -0.30 + rng.random() * 0.35)


def _random_start(rng: random.Random, on_grid: bool) -> datetime:
    span_minutes = (HISTORY_DAYS + RANGE_DAYS) * 24 * 60
    minute = 15 * rng.randrange(span_minutes // 15) if on_grid else rng.randrange(span_minutes)
    return NOW - timedelta(days=HISTORY_DAYS) + timedelta(minutes=minute)


def busy_calendar(scale: int, seed: int = 42) -> tuple[BusyInterval, ...]:
    """scale x (2,000 lessons, a third in person with coordinates, + 2,000 calendar events) over a year."""
    rng = random.Random(seed)
    busy = []
    while len(busy) < LESSONS * scale:
        start = _random_start(rng, on_grid=True)
        local = start.astimezone(LONDON)
        if local.weekday() == 6 or not 8 <= local.hour < 19:
            continue  # lessons are booked inside the tutor's hours
        length = timedelta(minutes=rng.choice((30, 45, 60, 60, 90, 120)))
        if rng.random() < 1 / 3:
            busy.append(BusyInterval(start, start + length, in_person=True, location=_somewhere_in_london(rng)))
        else:
            busy.append(BusyInterval(start, start + length))
    for _ in range(CALENDAR_EVENTS * scale):
        start = _random_start(rng, on_grid=False)  # calendar feeds are not on our grid
        busy.append(BusyInterval(start, start + timedelta(minutes=rng.randint(10, 180))))
    rng.shuffle(busy)
    return tuple(busy)


def busy_tutor_query(scale: int = 1) -> SlotQuery:
    """An in-person hour's lesson request to a busy London tutor over 90 days."""
    return SlotQuery(
        tutor_zone="Europe/London",
        weekly=WEEKLY,
        overrides=(),
        busy=busy_calendar(scale),
        range_start=NOW,
        range_end=NOW + timedelta(days=RANGE_DAYS),
        duration_minutes=60,
        now=NOW,
        min_notice_minutes=120,
        horizon_days=RANGE_DAYS,
        in_person=True,
        location=HOME,
        default_buffer_minutes=15,
        # As the service builds it (services.availability.travel_estimator): capped at the 6 h it loads around a range.
        estimator=StraightLineEstimator(max_minutes=360),
    )


def best_of(repeats: int, fn: Callable[[], T]) -> tuple[float, T]:
    """Best wall time of several runs (the least disturbed by the machine), and the result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        gc.disable()  # as timeit does: a collection landing in one run but not another is noise
        try:
            started = time.perf_counter()
            result = fn()
            best = min(best, time.perf_counter() - started)
        finally:
            gc.enable()
    return best, result  # type: ignore[return-value]


def bench_engine() -> None:
    """Today's engine against the one before the speed-up and the naive check, on the same query; then 10x busy."""
    query = busy_tutor_query(1)
    sweep_s, sweep_slots = best_of(ENGINE_REPEATS, lambda: free_slots(query))
    base_s, base_slots = best_of(ENGINE_REPEATS, lambda: baseline_engine.free_slots(query))
    naive_s, naive_slots = best_of(NAIVE_REPEATS, lambda: naive_free_slots(query))
    assert sweep_slots == base_slots, "engine and baseline disagree"
    assert sweep_slots == naive_slots, "engine and naive reference disagree"

    busy_count = len(query.busy)
    in_range = sum(1 for b in query.busy if b.end > query.range_start and b.start < query.range_end)
    print(f"availability engine: {RANGE_DAYS} days, Mon-Sat 08:00-20:00 Europe/London, "
          f"{busy_count:,} busy intervals ({in_range:,} in the range), in-person request with travel estimates")
    print(f"  free slots found (all three agree)  {len(sweep_slots):>8,}")
    print(f"  free_slots (engine)                 {sweep_s * 1000:>8.2f} ms  (best of {ENGINE_REPEATS})")
    print(f"  baseline (engine before speed-up)   {base_s * 1000:>8.2f} ms  (best of {ENGINE_REPEATS})")
    print(f"  naive_free_slots                    {naive_s * 1000:>8.2f} ms  (best of {NAIVE_REPEATS})")
    print(f"  baseline / engine                   {base_s / sweep_s:>8.1f} x  (goal: >= 2x)")
    print(f"  naive / engine                      {naive_s / sweep_s:>8.1f} x")

    big = busy_tutor_query(10)
    big_s, big_slots = best_of(ENGINE_REPEATS, lambda: free_slots(big))
    big_base_s, big_base_slots = best_of(3, lambda: baseline_engine.free_slots(big))
    assert big_slots == big_base_slots, "engine and baseline disagree at 10x"
    print(f"  engine, {len(big.busy):,} busy             {big_s * 1000:>8.2f} ms  ({len(big_slots):,} slots left)")
    print(f"  baseline, {len(big.busy):,} busy           {big_base_s * 1000:>8.2f} ms")
    print(f"  engine 10x busy / 1x busy           {big_s / sweep_s:>8.1f} x  (linear would be 10x)")
    # The naive reference is not run at 10x: it would take minutes, which is the point.


def _count_picker_queries(client, tutor_id: int) -> int:
    """SQL statements one slot-picker request (the HTMX partial) runs."""
    from sqlalchemy import event

    from webapp.extensions import db
    statements = []

    def record(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/tutors/{tutor_id}/slots?duration=60&tz=Europe/London", headers={"HX-Request": "true"})
        assert response.status_code == 200, response.status_code
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def _tutor_with_history(past_lessons: int, events: int, rng: random.Random) -> int:
    """A tutor whose past holds `past_lessons` lessons and `events` calendar events, plus a few upcoming."""
    from webapp.domain.states import LessonState
    from webapp.extensions import db
    from webapp.models import CalendarEvent, Lesson, LessonAddress
    from webapp.services import accounts, availability, catalogue
    from webapp.models import Level, Subject, Teach

    n = db.session.query(Subject).count() + 1
    subject, level = Subject(name=f"Subject {n}", slug=f"subject-{n}"), Level(name=f"Level {n}", rank=n)
    db.session.add_all([subject, level])
    db.session.commit()
    tutor = accounts.create_user(email=f"bench{n}@example.com", password="bench-password", name=f"Bench {n}",
                                 role="tutor", timezone="Europe/London")
    catalogue.replace_teaches(tutor, [{"subject_id": subject.id, "level_id": level.id, "hourly_rate_minor": 4000,
                                       "online": True, "in_person": True}])
    availability.update_settings(tutor, {"weekly": [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(6)],
                                         "min_notice_hours": 0})
    teach = db.session.query(Teach).filter_by(tutor_id=tutor.id).one()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(past_lessons + 20):
        start = now - timedelta(days=1 + i // 8, hours=i % 8) if i < past_lessons else now + timedelta(days=1 + i % 20)
        lesson = Lesson(tutor_id=tutor.id, subject_id=subject.id, level_id=level.id, teach_id=teach.id, start_at=start,
                        finish_at=start + timedelta(hours=1), duration_minutes=60, state=LessonState.ACTIVE,
                        in_person=i % 3 == 0)
        db.session.add(lesson)
        if lesson.in_person:
            place = _somewhere_in_london(rng)
            db.session.add(LessonAddress(lesson=lesson, line1="1 Bench Road", latitude=place.lat, longitude=place.lon))
    db.session.add_all(CalendarEvent(tutor_id=tutor.id, event_id=f"evt-{i}", start_at=now - timedelta(hours=3 * i + 5),
                                     finish_at=now - timedelta(hours=3 * i + 4)) for i in range(events))
    db.session.commit()
    return tutor.id


def bench_slot_picker_queries() -> None:
    """SQL statements per slot-picker request: a new tutor against one with a long history."""
    import tempfile

    from flask_migrate import upgrade

    from webapp import create_app
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.sqlite3", REDIS_URL=None,
                         RATELIMIT_STORAGE_URI="memory://")
        with app.app_context():
            upgrade()
            rng = random.Random(7)
            fresh = _tutor_with_history(0, 0, rng)
            seasoned = _tutor_with_history(3_000, 2_000, rng)
            client = app.test_client()
            fresh_q, seasoned_q = _count_picker_queries(client, fresh), _count_picker_queries(client, seasoned)
    print("slot picker request (GET /tutors/<id>/slots, HTMX partial):")
    print(f"  SQL statements, new tutor                                    {fresh_q:>4}")
    print(f"  SQL statements, tutor with 3,000 past lessons + 2,000 events {seasoned_q:>4}")
    print(f"  growth with history                                          {seasoned_q - fresh_q:>4}")


def main() -> None:
    """Run every benchmark section."""
    bench_engine()
    bench_slot_picker_queries()


if __name__ == "__main__":
    main()
