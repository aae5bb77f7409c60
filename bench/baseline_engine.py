"""Frozen copy of webapp/domain/availability.py as it was before the speed-up (commit c787c43).

The benchmark runs it beside the current engine on the same queries, so the speed-up is measured in one
run and both answers are checked to be identical. Do not edit: it is the baseline.
"""
# ruff: noqa

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from webapp.domain.travel import Coordinates, TravelTimeEstimator

SLOT_GRID_MINUTES = 15
MIN_DURATION = 15
MAX_DURATION = 120
DEFAULT_DURATION = 60

MINUTES_PER_DAY = 24 * 60

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_US_PER_MINUTE = 60_000_000
_GRID_US = SLOT_GRID_MINUTES * _US_PER_MINUTE


class AvailabilityError(ValueError):
    """A slot query that cannot be answered (bad duration, zone, range or naive datetime)."""


# --------------------------------------------------------------------------- value objects


def _check_minute(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number of minutes, got {value!r}")
    if not 0 <= value <= MINUTES_PER_DAY:
        raise ValueError(f"{name} must be between 0 and 1440 minutes from local midnight, got {value}")
    if value % SLOT_GRID_MINUTES:
        raise ValueError(f"{name} must be a multiple of {SLOT_GRID_MINUTES} minutes, got {value}")


def _check_window(start_minute: object, end_minute: object) -> None:
    _check_minute("start_minute", start_minute)
    _check_minute("end_minute", end_minute)
    if not start_minute < end_minute:  # type: ignore[operator]
        raise ValueError(f"start_minute ({start_minute}) must be before end_minute ({end_minute})")


@dataclass(frozen=True)
class WeeklyWindow:
    """Recurring open hours on one weekday (0=Monday), in minutes from local midnight."""

    weekday: int
    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not isinstance(self.weekday, int) or not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday!r}")
        _check_window(self.start_minute, self.end_minute)


@dataclass(frozen=True)
class DateOverride:
    """Replacement hours for one local date; both minutes None means a day off."""

    on_date: date
    start_minute: int | None
    end_minute: int | None

    def __post_init__(self) -> None:
        if not isinstance(self.on_date, date) or isinstance(self.on_date, datetime):
            raise ValueError(f"on_date must be a date, got {self.on_date!r}")
        if self.start_minute is None and self.end_minute is None:
            return
        if self.start_minute is None or self.end_minute is None:
            raise ValueError("An override needs both start_minute and end_minute, or neither for a day off")
        _check_window(self.start_minute, self.end_minute)

    @property
    def is_day_off(self) -> bool:
        """True for a row that only removes the date's weekly hours."""
        return self.start_minute is None


def _require_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise AvailabilityError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise AvailabilityError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True)
class BusyInterval:
    """Time the tutor cannot teach: a lesson (maybe in person, with a location) or a calendar event."""

    start: datetime
    end: datetime
    in_person: bool = False
    location: Coordinates | None = None

    def __post_init__(self) -> None:
        _require_aware("BusyInterval.start", self.start)
        _require_aware("BusyInterval.end", self.end)
        if self.end < self.start:
            raise AvailabilityError(f"BusyInterval ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")


def _zone(key: object) -> ZoneInfo:
    try:
        if not isinstance(key, str) or not key:
            raise ValueError
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ZoneInfo raises ValueError for malformed keys such as "../x"; all mean the same to a caller.
        raise AvailabilityError(f"Unknown time zone: {key}") from None


@dataclass(frozen=True)
class SlotQuery:
    """Everything needed to list a tutor's free slots; validated on construction."""

    tutor_zone: str
    weekly: tuple[WeeklyWindow, ...]
    overrides: tuple[DateOverride, ...]
    busy: tuple[BusyInterval, ...]
    range_start: datetime
    range_end: datetime
    duration_minutes: int
    now: datetime
    min_notice_minutes: int = 0
    horizon_days: int = 60
    in_person: bool = False
    location: Coordinates | None = None
    default_buffer_minutes: int = 0
    estimator: TravelTimeEstimator | None = None

    def __post_init__(self) -> None:
        # Callers often hold lists (ORM results); freeze them so the query stays immutable and hashable.
        for name in ("weekly", "overrides", "busy"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        _zone(self.tutor_zone)
        d = self.duration_minutes
        if (
            isinstance(d, bool)
            or not isinstance(d, int)
            or not MIN_DURATION <= d <= MAX_DURATION
            or d % SLOT_GRID_MINUTES
        ):
            raise AvailabilityError(
                f"Lesson length must be {MIN_DURATION}-{MAX_DURATION} minutes in steps of "
                f"{SLOT_GRID_MINUTES}, got {d!r}"
            )
        for name in ("range_start", "range_end", "now"):
            _require_aware(name, getattr(self, name))
        if self.range_end <= self.range_start:
            raise AvailabilityError("range_end must be after range_start")
        for name in ("min_notice_minutes", "horizon_days", "default_buffer_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AvailabilityError(f"{name} must be a whole number >= 0, got {value!r}")


# --------------------------------------------------------------------------- shared rules


def _to_us(dt: datetime) -> int:
    """Exact microseconds since the epoch (floats would lose the microseconds)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _wall_to_instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """First UTC instant at which a clock in ``tz`` shows ``day`` + ``minute`` or later."""
    if minute == MINUTES_PER_DAY:
        day, minute = day + timedelta(days=1), 0
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    # fold=0 is the first occurrence of an ambiguous time; for a nonexistent time it applies the
    # pre-transition offset, giving an instant at or after the gap - detected by the round trip.
    early = wall.replace(tzinfo=tz).astimezone(_UTC)
    if early.astimezone(tz).replace(tzinfo=None) == wall:
        return early
    # In a gap: fold=1 applies the post-transition offset, giving an instant before the
    # transition. Bisect (whole seconds) for the transition itself: the first valid instant.
    after_offset = early.astimezone(tz).utcoffset()
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(_UTC).timestamp())
    hi = int(early.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, _UTC)


def _windows_on(day: date, weekly_by_day: dict[int, list[tuple[int, int]]],
                overrides_by_date: dict[date, list[tuple[int, int]]]) -> list[tuple[int, int]]:
    if day in overrides_by_date:
        return overrides_by_date[day]
    return weekly_by_day.get(day.weekday(), [])


def _open_windows(query: SlotQuery, first_day: date, last_day: date) -> list[tuple[datetime, datetime]]:
    """Open windows of every local date from first_day to last_day inclusive, as UTC instants (unmerged)."""
    tz = _zone(query.tutor_zone)
    weekly_by_day: dict[int, list[tuple[int, int]]] = {}
    for w in query.weekly:
        weekly_by_day.setdefault(w.weekday, []).append((w.start_minute, w.end_minute))
    overrides_by_date: dict[date, list[tuple[int, int]]] = {}
    for o in query.overrides:
        rows = overrides_by_date.setdefault(o.on_date, [])
        if not o.is_day_off:
            rows.append((o.start_minute, o.end_minute))  # type: ignore[arg-type]
    windows = []
    day = first_day
    while day <= last_day:
        for start_minute, end_minute in _windows_on(day, weekly_by_day, overrides_by_date):
            start = _wall_to_instant(day, start_minute, tz)
            end = _wall_to_instant(day, end_minute, tz)
            if start < end:  # a window wholly inside a DST gap is empty
                windows.append((start, end))
        day += timedelta(days=1)
    return windows


def _buffer_minutes(query: SlotQuery, busy: BusyInterval) -> tuple[int, int]:
    """(minutes before, minutes after) a busy interval, by the buffer rule in the module docstring."""
    if not (query.in_person or busy.in_person):
        return 0, 0
    here, there = query.location, busy.location
    if here is None or there is None or query.estimator is None:
        return query.default_buffer_minutes, query.default_buffer_minutes
    # A negative estimate would mean arriving before leaving; treat it as no travel.
    return max(0, query.estimator.minutes(here, there)), max(0, query.estimator.minutes(there, here))


def _buffered_busy(query: SlotQuery) -> list[tuple[datetime, datetime]]:
    """Each busy interval widened by its travel buffers."""
    result = []
    for b in query.busy:
        before, after = _buffer_minutes(query, b)
        result.append((b.start - timedelta(minutes=before), b.end + timedelta(minutes=after)))
    return result


def _start_bounds(query: SlotQuery) -> tuple[datetime, datetime, datetime]:
    """(earliest allowed start, exclusive range end, latest allowed start by horizon)."""
    earliest = max(query.range_start, query.now + timedelta(minutes=query.min_notice_minutes))
    horizon = query.now + timedelta(days=query.horizon_days)
    return earliest, query.range_end, horizon


def _local_day_span(tz: ZoneInfo, first: datetime, last: datetime) -> tuple[date, date]:
    # One spare day each side covers windows ending at 24:00 and clocks that fall back over midnight.
    return (first.astimezone(tz).date() - timedelta(days=1), last.astimezone(tz).date() + timedelta(days=1))


# --------------------------------------------------------------------------- the sweep


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort and merge overlapping or touching non-empty intervals."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if start >= end:
            continue  # empty intervals would split free time in two without blocking anything
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _subtract(open_: list[tuple[int, int]], busy: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """open minus busy, both sorted, merged and disjoint; one forward pass over each."""
    free: list[tuple[int, int]] = []
    j = 0
    for start, end in open_:
        while j < len(busy) and busy[j][1] <= start:
            j += 1  # busy intervals wholly before this window can't touch later windows either
        cursor = start
        k = j
        while k < len(busy) and busy[k][0] < end:
            busy_start, busy_end = busy[k]
            if busy_start > cursor:
                free.append((cursor, busy_start))
            cursor = max(cursor, busy_end)
            if cursor >= end:
                break
            k += 1
        if cursor < end:
            free.append((cursor, end))
    return free


def _free_us(query: SlotQuery) -> tuple[list[tuple[int, int]], int, int]:
    """Free intervals (µs) clipped to the bookable span, plus the earliest and latest allowed start."""
    earliest, range_end, horizon = _start_bounds(query)
    latest_start = min(_to_us(range_end) - 1, _to_us(horizon))  # start < range_end, start <= horizon
    lo = _to_us(earliest)
    if lo > latest_start:
        return [], lo, latest_start
    duration = query.duration_minutes * _US_PER_MINUTE
    # No allowed slot reaches past this: start < range_end and start <= horizon.
    hi = min(_to_us(range_end), _to_us(horizon)) + duration

    tz = _zone(query.tutor_zone)
    first_day, last_day = _local_day_span(tz, _from_us(lo), _from_us(hi))
    open_us = []
    for start, end in _open_windows(query, first_day, last_day):
        s, e = max(_to_us(start), lo), min(_to_us(end), hi)
        if s < e:
            open_us.append((s, e))
    busy_us = []
    for b in query.busy:
        before, after = _buffer_minutes(query, b)
        s = _to_us(b.start) - before * _US_PER_MINUTE
        e = _to_us(b.end) + after * _US_PER_MINUTE
        if e > lo and s < hi:  # most of a busy tutor's calendar lies outside the range
            busy_us.append((s, e))
    return _subtract(_merge(open_us), _merge(busy_us)), lo, latest_start


def free_intervals(query: SlotQuery) -> list[tuple[datetime, datetime]]:
    """Merged free time (open hours minus buffered busy time) in UTC, clipped to where allowed slots can lie."""
    free, _, _ = _free_us(query)
    return [(_from_us(s), _from_us(e)) for s, e in free]


def free_slots(query: SlotQuery) -> list[datetime]:
    """Sorted UTC start instants of every free slot of the query's duration (the sweep)."""
    free, earliest, latest_start = _free_us(query)
    duration = query.duration_minutes * _US_PER_MINUTE
    slots: list[datetime] = []
    for start, end in free:
        first = -(-max(start, earliest) // _GRID_US) * _GRID_US  # ceil to the UTC quarter-hour grid
        last = min(end - duration, latest_start)
        slots.extend(_from_us(s) for s in range(first, last + 1, _GRID_US))
    return slots


# --------------------------------------------------------------------------- reference and display


def naive_free_slots(query: SlotQuery) -> list[datetime]:
    """Reference answer: test every quarter-hour candidate against every window and busy interval."""
    earliest, range_end, horizon = _start_bounds(query)
    duration = timedelta(minutes=query.duration_minutes)
    step = timedelta(minutes=SLOT_GRID_MINUTES)
    tz = _zone(query.tutor_zone)
    first_day, last_day = _local_day_span(tz, earliest, max(earliest, min(range_end, horizon)) + duration)
    windows = _open_windows(query, first_day, last_day)
    busy = _buffered_busy(query)

    def covered(start: datetime, end: datetime) -> bool:
        # Walk forward through whichever windows contain the current point; windows may touch.
        point = start
        while point < end:
            reach = max((e for s, e in windows if s <= point < e), default=None)
            if reach is None:
                return False
            point = reach
        return True

    def clashes(start: datetime, end: datetime) -> bool:
        # max(starts) < min(ends): the overlap test that is also right for zero-length intervals.
        return any(max(start, b_start) < min(end, b_end) for b_start, b_end in busy)

    candidate = earliest.astimezone(_UTC).replace(minute=0, second=0, microsecond=0)
    slots = []
    while candidate < range_end and candidate <= horizon:
        end = candidate + duration
        if candidate >= earliest and covered(candidate, end) and not clashes(candidate, end):
            slots.append(candidate)
        candidate += step
    return slots


def slots_by_local_date(slots: list[datetime], zone: str | tzinfo) -> dict[date, list[datetime]]:
    """Group slots by the viewer's local date, in date order, each converted to the viewer's zone."""
    # A tzinfo is accepted too, for clients that only send a fixed UTC offset.
    tz = zone if isinstance(zone, tzinfo) else _zone(zone)
    grouped: dict[date, list[datetime]] = {}
    for slot in sorted(slots):
        _require_aware("slot", slot)
        local = slot.astimezone(tz)
        grouped.setdefault(local.date(), []).append(local)
    return grouped


__all__ = [
    "DEFAULT_DURATION",
    "MAX_DURATION",
    "MIN_DURATION",
    "SLOT_GRID_MINUTES",
    "AvailabilityError",
    "BusyInterval",
    "Coordinates",
    "DateOverride",
    "SlotQuery",
    "TravelTimeEstimator",
    "WeeklyWindow",
    "free_intervals",
    "free_slots",
    "naive_free_slots",
    "slots_by_local_date",
]
