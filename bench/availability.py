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
        estimator=StraightLineEstimator(),
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
    """Sweep vs naive on the same query, then the sweep with ten times the busy intervals."""
    query = busy_tutor_query(1)
    sweep_s, sweep_slots = best_of(ENGINE_REPEATS, lambda: free_slots(query))
    naive_s, naive_slots = best_of(NAIVE_REPEATS, lambda: naive_free_slots(query))
    assert sweep_slots == naive_slots, "sweep and naive reference disagree"

    busy_count = len(query.busy)
    in_range = sum(1 for b in query.busy if b.end > query.range_start and b.start < query.range_end)
    print(f"availability engine: {RANGE_DAYS} days, Mon-Sat 08:00-20:00 Europe/London, "
          f"{busy_count:,} busy intervals ({in_range:,} in the range), in-person request with travel estimates")
    print(f"  free slots found          {len(sweep_slots):>10,}")
    print(f"  free_slots (sweep)        {sweep_s * 1000:>10.1f} ms  (best of {ENGINE_REPEATS})")
    print(f"  naive_free_slots          {naive_s * 1000:>10.1f} ms  (best of {NAIVE_REPEATS})")
    print(f"  naive / sweep             {naive_s / sweep_s:>10.1f} x")

    big = busy_tutor_query(10)
    big_s, big_slots = best_of(ENGINE_REPEATS, lambda: free_slots(big))
    print(f"  free_slots, {len(big.busy):,} busy    {big_s * 1000:>10.1f} ms  "
          f"({len(big_slots):,} slots left)")
    print(f"  10x busy / 1x busy        {big_s / sweep_s:>10.1f} x  (linear would be 10x)")
    # The naive reference is not run at 10x: it would take minutes, which is the point.


def main() -> None:
    """Run every benchmark section."""
    bench_engine()


if __name__ == "__main__":
    main()
