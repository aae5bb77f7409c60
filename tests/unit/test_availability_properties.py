"""Properties of the availability sweep over random hours, overrides, busy time, zones and DST dates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.domain.availability import (
    BusyInterval,
    any_slot_starting_in,
    DateOverride,
    SlotQuery,
    WeeklyWindow,
    free_intervals,
    free_slots,
    local_time_windows,
    naive_free_slots,
)
from webapp.domain.travel import Coordinates, StraightLineEstimator

UTC = timezone.utc
ZONES = [
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "UTC",
]
# 2027 clock changes (and the day before each), paired with their zone so DST is hit often.
DST_DAYS = [
    ("America/New_York", date(2027, 3, 13)), ("America/New_York", date(2027, 3, 14)),  # spring forward
    ("Europe/London", date(2027, 3, 27)), ("Europe/London", date(2027, 3, 28)),  # spring forward
    ("Australia/Lord_Howe", date(2027, 4, 3)), ("Australia/Lord_Howe", date(2027, 4, 4)),  # back 30 min
    ("Australia/Lord_Howe", date(2027, 10, 2)), ("Australia/Lord_Howe", date(2027, 10, 3)),  # forward 30 min
    ("Europe/London", date(2027, 10, 30)), ("Europe/London", date(2027, 10, 31)),  # fall back
    ("America/New_York", date(2027, 11, 6)), ("America/New_York", date(2027, 11, 7)),  # fall back
]
PLACES = [Coordinates(51.5074, -0.1278), Coordinates(51.4613, -0.3037), Coordinates(51.5560, -0.2796)]

# Boundaries that make windows touch (across midnight too) or start/end inside DST gaps and overlaps
# (London 01:00-02:00, New York 02:00-03:00, Lord Howe 02:00-02:30), which random minutes rarely hit.
EDGY_MINUTES = [0, 60, 90, 120, 135, 150, 540, 720, 1020, 1440]


@st.composite
def windows(draw):
    if draw(st.booleans()):
        start, end = sorted(draw(st.lists(st.sampled_from(EDGY_MINUTES), min_size=2, max_size=2, unique=True)))
        return start, end
    start = draw(st.integers(0, 95))
    end = draw(st.integers(start + 1, 96))
    return start * 15, end * 15


@st.composite
def weekly_windows(draw):
    start, end = draw(windows())
    return WeeklyWindow(draw(st.integers(0, 6)), start, end)


@st.composite
def weekly_hours(draw):
    """Same hours every day, a day cut into touching windows, or a scatter of windows."""
    kind = draw(st.sampled_from(["every_day", "touching", "scatter"]))
    if kind == "every_day":
        start, end = draw(windows())
        return tuple(WeeklyWindow(day, start, end) for day in range(7))
    if kind == "touching":
        # Consecutive windows share boundaries; with 0 and 1440 they also touch across midnight.
        cuts = sorted(draw(st.lists(st.sampled_from(EDGY_MINUTES), min_size=3, max_size=6, unique=True)))
        return tuple(WeeklyWindow(day, a, b) for day in range(7) for a, b in zip(cuts, cuts[1:]))
    return tuple(draw(st.lists(weekly_windows(), min_size=1, max_size=12)))


@st.composite
def slot_queries(draw):
    zone, first_day = draw(st.one_of(
        st.sampled_from(DST_DAYS),
        st.tuples(st.sampled_from(ZONES), st.dates(date(2026, 1, 1), date(2028, 12, 31))),
    ))
    # Ranges start at arbitrary seconds (not on the grid) and last up to four days.
    range_start = datetime.combine(first_day, datetime.min.time(), UTC) + timedelta(
        seconds=draw(st.integers(-86_400, 86_400)))
    short_range = draw(st.integers(0, 3)) == 0  # a quarter of ranges are a few hours, the rest days
    range_end = range_start + timedelta(minutes=draw(st.integers(1, 180) if short_range else st.integers(24 * 60, 4 * 24 * 60)))
    now = range_start + timedelta(seconds=draw(st.integers(-2 * 86_400, 6 * 3_600)))

    override_rows = []
    for _ in range(draw(st.integers(0, 3))):
        on = first_day + timedelta(days=draw(st.integers(-1, 4)))
        if draw(st.booleans()):
            override_rows.append(DateOverride(on, None, None))
        else:
            override_rows.append(DateOverride(on, *draw(windows())))

    busy = []
    for _ in range(draw(st.integers(0, 12))):
        start = range_start + timedelta(minutes=draw(st.integers(-24 * 60, 5 * 24 * 60)))
        length = timedelta(minutes=draw(st.integers(0, 300)))
        shown_in = ZoneInfo(draw(st.sampled_from(ZONES)))  # busy times arrive in any zone
        in_person = draw(st.booleans())
        location = draw(st.one_of(st.none(), st.sampled_from(PLACES)))
        busy.append(BusyInterval(start.astimezone(shown_in), (start + length).astimezone(shown_in), in_person, location))

    return SlotQuery(
        tutor_zone=zone,
        weekly=draw(weekly_hours()),
        overrides=tuple(override_rows),
        busy=tuple(busy),
        range_start=range_start,
        range_end=range_end,
        duration_minutes=draw(st.integers(1, 8)) * 15,
        now=now,
        min_notice_minutes=draw(st.sampled_from([0, 0, 15, 60, 90, 600])),
        horizon_days=draw(st.integers(0, 7)),
        in_person=draw(st.booleans()),
        location=draw(st.one_of(st.none(), st.sampled_from(PLACES))),
        default_buffer_minutes=draw(st.integers(0, 60)),
        # A capped estimator lets the engine skip busy time beyond the longest possible buffer; the
        # reference never skips anything, so both kinds are drawn.
        estimator=draw(st.one_of(st.none(), st.just(StraightLineEstimator(speed_kmh=20, overhead_minutes=7)),
                                 st.just(StraightLineEstimator(speed_kmh=5, overhead_minutes=7, max_minutes=45)))),
    )


# No example database: the suite should leave nothing behind in the working tree.
PROPERTY = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------- oracles written apart from the engine


def buffered_busy(q: SlotQuery) -> list[tuple[datetime, datetime]]:
    """The documented buffer rule, restated: buffers only when someone travels; estimator when it can."""
    out = []
    for b in q.busy:
        if not (q.in_person or b.in_person):
            before = after = 0
        elif q.location and b.location and q.estimator:
            before, after = q.estimator.minutes(q.location, b.location), q.estimator.minutes(b.location, q.location)
        else:
            before = after = q.default_buffer_minutes
        out.append((b.start - timedelta(minutes=before), b.end + timedelta(minutes=after)))
    return out


@lru_cache(maxsize=None)
def first_instant_showing(zone: str, day: date, minute: int) -> datetime:
    """Brute force: scan quarter hours for the first instant whose local clock reads day+minute or later."""
    tz = ZoneInfo(zone)
    wall = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minute)
    instant = wall.replace(tzinfo=UTC) - timedelta(hours=15)  # every zone's clock is behind wall here
    while instant.astimezone(tz).replace(tzinfo=None) < wall:
        instant += timedelta(minutes=15)
    return instant


def open_windows_near(q: SlotQuery, instant: datetime) -> list[tuple[datetime, datetime]]:
    """Open windows of the tutor's local dates around an instant, by the override-replaces-weekly rule."""
    local_day = instant.astimezone(ZoneInfo(q.tutor_zone)).date()
    out = []
    for offset in (-2, -1, 0, 1):
        day = local_day + timedelta(days=offset)
        rows = [o for o in q.overrides if o.on_date == day]
        if rows:
            hours = [(o.start_minute, o.end_minute) for o in rows if o.start_minute is not None]
        else:
            hours = [(w.start_minute, w.end_minute) for w in q.weekly if w.weekday == day.weekday()]
        for start, end in hours:
            out.append((first_instant_showing(q.tutor_zone, day, start), first_instant_showing(q.tutor_zone, day, end)))
    return out


def inside_union(start: datetime, end: datetime, intervals: list[tuple[datetime, datetime]]) -> bool:
    point = start
    for s, e in sorted(intervals):
        if s <= point < e:
            point = max(point, e)
    return point >= end


# ----------------------------------------------------------------- properties


@PROPERTY
@given(slot_queries())
def test_no_slot_overlaps_any_buffered_busy_interval(q):
    duration = timedelta(minutes=q.duration_minutes)
    for start in free_slots(q):
        for busy_start, busy_end in buffered_busy(q):
            assert not (max(start, busy_start) < min(start + duration, busy_end)), (start, busy_start, busy_end)


@PROPERTY
@given(slot_queries())
def test_sweep_returns_exactly_the_free_aligned_starts_the_naive_check_finds(q):
    assert free_slots(q) == naive_free_slots(q)


@PROPERTY
@given(slot_queries())
def test_every_slot_lies_inside_an_open_window(q):
    duration = timedelta(minutes=q.duration_minutes)
    for start in free_slots(q):
        assert inside_union(start, start + duration, open_windows_near(q, start)), start


@PROPERTY
@given(slot_queries())
def test_every_slot_is_on_the_grid_and_within_range_notice_and_horizon(q):
    result = free_slots(q)
    assert result == sorted(set(result))
    for start in result:
        assert start.tzinfo is UTC
        assert start.second == start.microsecond == 0 and start.minute % 15 == 0
        assert q.range_start <= start < q.range_end
        assert start >= q.now + timedelta(minutes=q.min_notice_minutes)
        assert start <= q.now + timedelta(days=q.horizon_days)


@PROPERTY
@given(slot_queries())
def test_free_intervals_are_sorted_disjoint_and_clear_of_busy_time(q):
    intervals = free_intervals(q)
    for (s1, e1), (s2, e2) in zip(intervals, intervals[1:]):
        assert s1 < e1 < s2 < e2  # gaps between them: touching pieces would have been merged
    for s, e in intervals:
        for busy_start, busy_end in buffered_busy(q):
            assert not (max(s, busy_start) < min(e, busy_end))


@st.composite
def dst_day_queries(draw):
    """Open hours only, around a clock change, so window expansion can be checked against the wall clock."""
    zone, day = draw(st.sampled_from(DST_DAYS))
    range_start = datetime.combine(day - timedelta(days=1), datetime.min.time(), UTC)
    return SlotQuery(
        tutor_zone=zone,
        weekly=draw(weekly_hours()),
        overrides=(),
        busy=(),
        range_start=range_start,
        range_end=range_start + timedelta(days=3),
        duration_minutes=draw(st.integers(1, 8)) * 15,
        now=range_start - timedelta(days=1),
    )


@PROPERTY
@given(dst_day_queries())
def test_around_clock_changes_slots_are_exactly_the_starts_the_wall_clock_allows(q):
    duration = timedelta(minutes=q.duration_minutes)
    expected = []
    candidate = q.range_start
    while candidate < q.range_end:
        if inside_union(candidate, candidate + duration, open_windows_near(q, candidate)):
            expected.append(candidate)
        candidate += timedelta(minutes=15)
    assert free_slots(q) == expected


@st.composite
def queries_and_time_windows(draw):
    """A slot query and the directory's day/time-of-day windows in some viewer's zone around its range."""
    q = draw(slot_queries())
    viewer = draw(st.sampled_from(ZONES))
    weekdays = frozenset(draw(st.lists(st.integers(0, 6), min_size=1, max_size=7)))
    spans = draw(st.lists(st.sampled_from([(0, 360), (360, 720), (720, 1080), (1080, 1440), (555, 600)]),
                          min_size=1, max_size=4))
    first_day = q.range_start.astimezone(ZoneInfo(viewer)).date() - timedelta(days=1)
    return q, local_time_windows(viewer, first_day, 6, weekdays, spans)


@PROPERTY
@given(queries_and_time_windows())
def test_a_slot_starts_in_the_windows_exactly_when_the_slot_list_has_one_there(case):
    q, windows = case
    expected = any(start <= slot < end for slot in naive_free_slots(q) for start, end in windows)
    assert any_slot_starting_in(q, windows) == expected


def test_time_windows_are_the_viewers_wall_clock_across_a_clock_change():
    # London springs forward on Sunday 28 March 2027: mornings are 06:00-12:00 local on both sides of it.
    windows = local_time_windows("Europe/London", date(2027, 3, 27), 2, {5, 6}, [(360, 720)])
    assert windows == [(datetime(2027, 3, 27, 6, tzinfo=UTC), datetime(2027, 3, 27, 12, tzinfo=UTC)),
                       (datetime(2027, 3, 28, 5, tzinfo=UTC), datetime(2027, 3, 28, 11, tzinfo=UTC))]
