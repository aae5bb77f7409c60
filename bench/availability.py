"""Benchmark: the availability sweep against the naive per-slot check, and how the sweep scales.

Run from the repository root: ``python bench/availability.py``. Figures are measured in one run
and printed as ratios, so they compare like with like on whatever machine runs them.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
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


# --------------------------------------------------------------------------- requests against a real database

YEARS_OF_HISTORY = 10
REQUEST_REPEATS = 40
# The booker's own HTMX request (the profile URL answers an HX-Request with the booker partial: a month calendar
# and the first free day's times); the full profile page is measured too.
PICKER_PATH = "/tutors/{id}?duration=60&tz=Europe/London"
PLAIN_PATH = "/login"


def _bench_app(url: str):
    """The app on `url`, migrated to head; no Redis (the review cache misses quietly, as the app allows)."""
    from flask_migrate import upgrade

    from webapp import create_app
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, REDIS_URL=None, RATELIMIT_STORAGE_URI="memory://")
    with app.app_context():
        upgrade()
    return app


def _bulk_tutors(count: int, *, past_years: int, upcoming_per_day: int, events_per_day: int, seed: int) -> list[int]:
    """`count` tutors (Core inserts: seeding through the services would hash a password each) with Mon-Sat
    08:00-20:00 London hours, `past_years` of past lessons (five a week, a third in person with an address),
    `upcoming_per_day` lessons a day for the next 15 days and `events_per_day` calendar events a day."""
    from sqlalchemy import func, insert, select

    from webapp.domain.states import LessonState
    from webapp.extensions import db
    from webapp.models import (CalendarEvent, Lesson, LessonAddress, Level, Subject, Teach, TutorProfile, User,
                               WeeklyWindow)
    rng = random.Random(seed)
    n = (db.session.scalar(select(func.max(User.id))) or 0) + 1
    subject = db.session.scalar(select(Subject).limit(1))
    level = db.session.scalar(select(Level).limit(1))
    if subject is None:
        subject, level = Subject(name="Mathematics", slug="mathematics"), Level(name="GCSE", rank=1)
        db.session.add_all([subject, level])
        db.session.commit()
    ids = list(range(n, n + count))
    db.session.execute(insert(User), [{"id": i, "email": f"bench{i}@example.com", "password_hash": "x",
                                       "name": f"Bench Tutor {i}", "role": "tutor", "timezone": "Europe/London"}
                                      for i in ids])
    db.session.execute(insert(TutorProfile), [{"user_id": i, "headline": "Maths, patiently", "bio": "",
                                               "min_notice_hours": 0, "horizon_days": 60, "travel_buffer_minutes": 15}
                                              for i in ids])
    db.session.execute(insert(Teach), [{"id": i, "tutor_id": i, "subject_id": subject.id, "level_id": level.id,
                                        "hourly_rate_minor": 3000 + 10 * (i % 300), "currency": "GBP",
                                        "online": True, "in_person": True, "active": True} for i in ids])
    db.session.execute(insert(WeeklyWindow), [{"tutor_id": i, "weekday": d, "start_minute": 8 * 60,
                                               "end_minute": 20 * 60} for i in ids for d in range(6)])
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lessons, events = [], []
    for i in ids:
        first = now - timedelta(days=365 * past_years)
        for k in range(52 * 5 * past_years):
            start = first + timedelta(days=7 * (k // 5) + k % 5, hours=9 + k % 8)
            if start > now - timedelta(days=1):
                break
            lessons.append((i, start, k % 3 == 0))
        for day in range(15):
            for h in rng.sample(range(8, 19), upcoming_per_day):
                lessons.append((i, now.replace(hour=0) + timedelta(days=day, hours=h), rng.random() < 1 / 3))
            for _ in range(events_per_day):
                start = now.replace(hour=0) + timedelta(days=day, minutes=rng.randrange(24 * 60))
                events.append({"tutor_id": i, "event_id": f"e{len(events)}", "start_at": start,
                               "finish_at": start + timedelta(minutes=rng.randint(15, 120)), "busy": True,
                               "summary": ""})
        for year in range(past_years):  # past events too: a long history is what the indexes must skip
            start = now - timedelta(days=365 * year + rng.randrange(365))
            events.append({"tutor_id": i, "event_id": f"e{len(events)}", "start_at": start - timedelta(days=2),
                           "finish_at": start - timedelta(days=2, hours=-1), "busy": True, "summary": ""})
    first_id = (db.session.scalar(select(func.max(Lesson.id))) or 0) + 1
    db.session.execute(insert(Lesson), [
        {"id": first_id + j, "tutor_id": i, "subject_id": subject.id, "level_id": level.id, "teach_id": i,
         "start_at": start, "finish_at": start + timedelta(hours=1), "duration_minutes": 60,
         "state": LessonState.ACTIVE, "in_person": in_person} for j, (i, start, in_person) in enumerate(lessons)])
    db.session.execute(insert(LessonAddress), [
        {"lesson_id": first_id + j, "line1": "1 Bench Road", "latitude": 51.45 + rng.random() * 0.12,
         "longitude": -0.30 + rng.random() * 0.35} for j, (_, _, in_person) in enumerate(lessons) if in_person])
    if events:
        db.session.execute(insert(CalendarEvent), events)
    db.session.commit()
    return ids


def _analyze() -> None:
    from sqlalchemy import text

    from webapp.extensions import db
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _get(client, path: str):
    """GET as the browser does: the booker (PICKER_PATH) and directory requests via htmx, other pages in full."""
    htmx = path.startswith("/tutors") and "?" in path
    return client.get(path, headers={"HX-Request": "true"} if htmx else {})


def _statements(client, path: str) -> int:
    """SQL statements one request runs (SQLite's explicit BEGIN aside; PostgreSQL's driver sends its own unseen)."""
    from sqlalchemy import event

    from webapp.extensions import db
    statements = []

    def record(_conn, _cursor, statement, *_args):
        if statement != "BEGIN":
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = _get(client, path)
        assert response.status_code == 200, (path, response.status_code)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return len(statements)


def _request_times(client, paths: list[str], repeats: int) -> list[float]:
    """Server time of each path: the least CPU time of `repeats` requests, interleaved. CPU time of this process,
    not wall time, because the machine is shared: waiting for a core is not the app's cost. The database runs in
    this process for SQLite; PostgreSQL's own work is in another process, so there the figures leave it out."""
    samples: list[list[float]] = [[] for _ in paths]
    for path in paths:
        _get(client, path)  # warm caches (templates, compiled SQL)
    for _ in range(repeats):
        for i, path in enumerate(paths):
            started = time.process_time()
            response = _get(client, path)
            samples[i].append(time.process_time() - started)
            assert response.status_code == 200, (path, response.status_code)
    return [min(s) for s in samples]


def _calendar_plan(tutor_id: int) -> list[str]:
    from webapp.query_plans import explain
    from webapp.services.availability import calendar_statement
    now = datetime.now(UTC)
    return explain(calendar_statement([tutor_id], now, now + timedelta(days=7), now.date(),
                                      now.date() + timedelta(days=8), now))


def bench_slot_picker(url: str, label: str) -> None:
    """Statements and server time of the slot-picker request, a new tutor against one with ten years of history."""
    from webapp.services.availability import load_calendars
    app = _bench_app(url)
    with app.app_context():
        fresh, = _bulk_tutors(1, past_years=0, upcoming_per_day=3, events_per_day=2, seed=1)
        seasoned, = _bulk_tutors(1, past_years=YEARS_OF_HISTORY, upcoming_per_day=3, events_per_day=2, seed=2)
        _bulk_tutors(50, past_years=2, upcoming_per_day=3, events_per_day=2, seed=3)  # other tutors' rows
        _analyze()
        client = app.test_client()
        paths = [PLAIN_PATH, PICKER_PATH.format(id=fresh), PICKER_PATH.format(id=seasoned),
                 f"/tutors/{fresh}", f"/tutors/{seasoned}"]
        counts = [_statements(client, p) for p in paths[1:]]
        plain, fresh_t, seasoned_t, fresh_page, seasoned_page = _request_times(client, paths, REQUEST_REPEATS)
        now = datetime.now(UTC)

        def calendar(tutor_id: int):
            return lambda: load_calendars([tutor_id], now, now + timedelta(days=7), now.date(),
                                          now.date() + timedelta(days=8), now)
        load_fresh, _ = best_of(50, calendar(fresh))
        load_seasoned, _ = best_of(50, calendar(seasoned))
        plans = {tid: _calendar_plan(tid) for tid in (fresh, seasoned)}
    print(f"slot picker on {label}: the booker's request (GET {PICKER_PATH.format(id='<id>')}, HTMX) "
          f"and the profile page in full, anonymous:")
    print(f"  SQL statements, new tutor: picker {counts[0]}, profile {counts[2]}   "
          f"(before this work, the week picker: 13 and 15)")
    print(f"  SQL statements, {YEARS_OF_HISTORY} years of history: picker {counts[1]}, profile {counts[3]}")
    print(f"  server time {PLAIN_PATH:<28} {plain * 1000:>8.2f} ms  (the plain page)")
    print(f"  picker, new tutor            {fresh_t * 1000:>8.2f} ms  {fresh_t / plain:>5.1f}x the plain page (goal <= 3x)")
    print(f"  picker, {YEARS_OF_HISTORY} years of history    {seasoned_t * 1000:>8.2f} ms  {seasoned_t / plain:>5.1f}x")
    print(f"  profile page, new tutor      {fresh_page * 1000:>8.2f} ms  {fresh_page / plain:>5.1f}x")
    print(f"  profile page, long history   {seasoned_page * 1000:>8.2f} ms  {seasoned_page / plain:>5.1f}x")
    print(f"  calendar load, new tutor     {load_fresh * 1000:>8.3f} ms; with {YEARS_OF_HISTORY} years of history "
          f"{load_seasoned * 1000:.3f} ms ({load_seasoned / load_fresh:.2f}x)")
    same = "the same plan" if _plan_shape(plans[fresh]) == _plan_shape(plans[seasoned]) else "DIFFERENT plans"
    print(f"  EXPLAIN of the calendar statement ({same} for both tutors):")
    for line in plans[seasoned]:
        print(f"    {line}")


def _plan_shape(plan: list[str]) -> list[str]:
    """A plan without its numbers (costs, ids, instants), to compare two tutors' plans."""
    import re
    return [re.sub(r"\d+(\.\d+)?", "#", line) for line in plan]


def bench_directory(url: str, label: str, tutors: int = 1_000) -> None:
    """The directory page filtered by free time against the unfiltered page, over tutors with busy calendars."""
    app = _bench_app(url)
    with app.app_context():
        _bulk_tutors(tutors, past_years=1, upcoming_per_day=4, events_per_day=2, seed=4)
        _analyze()
        client = app.test_client()
        plain = "/tutors?tz=Europe/London"  # the results partial, as the filters' htmx requests fetch it
        narrow = "/tutors?days=sat&times=evening&tz=Europe/London"  # free Saturday evenings: few match
        broad = "/tutors?days=mon&days=tue&days=wed&times=morning&times=afternoon&tz=Europe/London"
        counts = [_statements(client, p) for p in (plain, narrow, broad)]
        results = [_get(client, p).get_data(as_text=True).count('class="card tutor-card"') for p in (plain, narrow, broad)]
        t_plain, t_narrow, t_broad = _request_times(client, [plain, narrow, broad], 8)
    print(f"directory on {label}: {tutors:,} tutors, each with 4 lessons and 2 calendar events a day for the next "
          f"15 days and a year of past lessons (HTMX results partial)")
    print(f"  unfiltered                   {t_plain * 1000:>8.1f} ms  {results[0]:>5} tutors  {counts[0]} statements")
    print(f"  Saturday evenings            {t_narrow * 1000:>8.1f} ms  {results[1]:>5} tutors  {counts[1]} statements"
          f"  {t_narrow / t_plain:>5.1f}x unfiltered (aim <= 5x)")
    print(f"  Mon-Wed mornings/afternoons  {t_broad * 1000:>8.1f} ms  {results[2]:>5} tutors  {counts[2]} statements"
          f"  {t_broad / t_plain:>5.1f}x unfiltered")


def _postgres_database():
    """A throwaway PostgreSQL database for the benchmark (dropped afterwards), or None when none is reachable."""
    import contextlib
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import config
    admin_url = config.test_database_url()
    if not admin_url:
        return None

    @contextlib.contextmanager
    def database():
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        name = f"lessonbook_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    try:
        with create_engine(admin_url).connect():
            pass
    except Exception:
        return None
    return database


def main() -> None:
    """Run every benchmark section (PostgreSQL ones when TEST_DATABASE_URL reaches a server)."""
    import logging
    import tempfile
    logging.disable(logging.WARNING)  # Alembic chatter; the review cache says once per request that Redis is off
    bench_engine()
    postgres = _postgres_database()
    for section in (bench_slot_picker, bench_directory):
        with tempfile.TemporaryDirectory() as tmp:
            section(f"sqlite:///{tmp}/bench.sqlite3", "SQLite")
        if postgres is not None:
            with postgres() as url:
                section(url, "PostgreSQL")
        else:
            print("  (PostgreSQL not measured: set TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
