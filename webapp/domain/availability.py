"""Free lesson slots for a tutor: a pure interval sweep over open hours and busy time.

Stdlib only. ``now`` and every zone are arguments; nothing here reads the clock.

Open hours
    Weekly windows are wall-clock minutes in the tutor's IANA zone. They are expanded date by
    date in that zone and only then converted to instants, so a DST change never moves a
    tutor's hours (09:00-17:00 in London is 09:00-17:00 local in both January and July; in UTC
    it moves by an hour). If a date has any override rows, those rows replace that weekday's
    windows for that date; a row with no times is a day off and contributes nothing (so a date
    whose only row is a day off has no hours, and a date with a day-off row plus rows with
    times has exactly those times). ``end_minute == 1440`` means the next local midnight.

    A local wall time maps to the FIRST instant at which the tutor's clock shows that time or
    later. That one rule settles both DST edge cases:
      * nonexistent times (spring-forward gap): 01:30 on 28 Mar 2027 in London never appears on
        the clock, so it maps to the first valid instant after the gap, 02:00 BST (01:00 UTC).
        A window lying wholly inside a gap is empty.
      * ambiguous times (fall-back overlap): 01:30 on 31 Oct 2027 in London appears twice; the
        first occurrence (fold=0, 01:30 BST) is used, for starts and ends alike. The mapping is
        therefore monotonic, a window never inverts, and "until 01:30" ends the first time the
        clock reads 01:30.

Busy time and travel buffers
    A buffer applies between the requested lesson and a busy interval only if at least one of
    the two is in person. Its length is ``estimator.minutes(a, b)`` when both locations are
    known and an estimator is given, otherwise ``default_buffer_minutes``. The buffer before a
    busy interval is travel from the requested location to the busy one; the buffer after it is
    travel from the busy location back to the requested one. So an online request next to a
    calendar event or an online lesson gets no buffer. A slot is free when its half-open span
    [start, start + duration) does not meet any buffered busy interval; a lesson ending 10:00
    and a slot starting 10:00 do not meet. Zero-length busy intervals block nothing.
    An estimator may state ``max_minutes`` (its longest answer); then busy time farther than that
    from the range is skipped before any estimate is asked for, which is most of a long history.

Sweep
    Open windows and buffered busy intervals are each sorted and merged, then subtracted in one
    pass (O((W + B) log(W + B))); slots are sliced out of the remaining free intervals. No
    candidate slot is ever checked against every busy interval - except in ``naive_free_slots``,
    the deliberately simple reference used by property tests and the benchmark.

Slots
    Starts lie on a 15-minute grid aligned to UTC quarter hours. Every zone in use today has an
    offset that is a whole number of quarter hours (+05:30, +05:45, +10:30 ...), so this is the
    quarter-hour grid in every viewer's zone too. A slot must satisfy
    ``start >= range_start``, ``start < range_end`` (it may end after range_end),
    ``start >= now + min_notice_minutes`` and ``start <= now + horizon_days * 24h``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .travel import Coordinates, TravelTimeEstimator

SLOT_GRID_MINUTES = 15
MIN_DURATION = 15
MAX_DURATION = 120
DEFAULT_DURATION = 60

MINUTES_PER_DAY = 24 * 60

_UTC = timezone.utc
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_US_PER_MINUTE = 60_000_000
_GRID_US = SLOT_GRID_MINUTES * _US_PER_MINUTE
_ONE_US = timedelta(microseconds=1)
_FIRST_INSTANT = datetime.min.replace(tzinfo=_UTC)
_LAST_INSTANT = datetime.max.replace(tzinfo=_UTC)
_GRID = timedelta(minutes=SLOT_GRID_MINUTES)


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
        # Compare and compute in UTC: two datetimes sharing one ZoneInfo compare by wall clock and ignore
        # `fold`, so 01:41 EDT and 01:00 EST on the night clocks go back would look reversed.
        object.__setattr__(self, "start", self.start.astimezone(_UTC))
        object.__setattr__(self, "end", self.end.astimezone(_UTC))
        if self.end < self.start:
            raise AvailabilityError(f"BusyInterval ends ({self.end.isoformat()}) before it starts ({self.start.isoformat()})")

    @classmethod
    def from_storage(cls, start: datetime, end: datetime, in_person: bool = False,
                     location: Coordinates | None = None) -> BusyInterval:
        """A busy interval from rows whose instants are already aware UTC (a month of a tutor's calendar is hundreds
        of rows, and checking each again cost more than the sweep). An end before the start counts as no time."""
        interval = object.__new__(cls)
        # A frozen dataclass refuses attribute assignment; filling __dict__ is what its own __init__ amounts to.
        interval.__dict__.update(start=start, end=end if end >= start else start, in_person=in_person,
                                 location=location)
        return interval


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
            object.__setattr__(self, name, getattr(self, name).astimezone(_UTC))  # see BusyInterval: fold
        if self.range_end <= self.range_start:
            raise AvailabilityError("range_end must be after range_start")
        for name in ("min_notice_minutes", "horizon_days", "default_buffer_minutes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise AvailabilityError(f"{name} must be a whole number >= 0, got {value!r}")


# --------------------------------------------------------------------------- shared rules


def _to_us(dt: datetime) -> int:
    """Exact microseconds since the epoch (floats would lose the microseconds)."""
    return (dt - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@lru_cache(maxsize=1 << 16)
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
    return _expand(query.tutor_zone, query.weekly, query.overrides, first_day, last_day)


def offered_minutes(tutor_zone: str, weekly: tuple[WeeklyWindow, ...] | list[WeeklyWindow],
                    overrides: tuple[DateOverride, ...] | list[DateOverride], range_start: datetime,
                    range_end: datetime) -> int:
    """Minutes of open hours between two instants (weekly hours and date overrides, expanded date by date in the
    tutor's zone, merged, clipped to the range): the denominator of a tutor's utilisation."""
    _require_aware("range_start", range_start)
    _require_aware("range_end", range_end)
    first, last = _local_day_span(_zone(tutor_zone), range_start, range_end)
    lo, hi = _to_us(range_start), _to_us(range_end)
    windows = _merge([(max(_to_us(a), lo), min(_to_us(b), hi))
                      for a, b in _expand(tutor_zone, tuple(weekly), tuple(overrides), first, last)])
    return sum(end - start for start, end in windows) // 60_000_000


def _expand(tutor_zone: str, weekly: tuple[WeeklyWindow, ...], overrides: tuple[DateOverride, ...],
            first_day: date, last_day: date) -> list[tuple[datetime, datetime]]:
    tz = _zone(tutor_zone)
    weekly_by_day: dict[int, list[tuple[int, int]]] = {}
    for w in weekly:
        weekly_by_day.setdefault(w.weekday, []).append((w.start_minute, w.end_minute))
    overrides_by_date: dict[date, list[tuple[int, int]]] = {}
    for o in overrides:
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


def local_dates_around(first: datetime, last: datetime, tz: tzinfo) -> tuple[date, date]:
    """The tutor's local dates whose hours (and date overrides) can matter to slots between two instants."""
    return _local_day_span(tz, first, last)  # type: ignore[arg-type]


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


def _max_buffer_minutes(query: SlotQuery) -> int | None:
    """The longest buffer any busy interval can get, or None when the estimator states no cap."""
    if query.estimator is None:
        return query.default_buffer_minutes
    cap = getattr(query.estimator, "max_minutes", None)
    if cap is None:
        return None
    return max(query.default_buffer_minutes, cap)


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
    lo_dt, hi_dt = _from_us(lo), _from_us(hi)

    tz = _zone(query.tutor_zone)
    first_day, last_day = _local_day_span(tz, lo_dt, hi_dt)
    open_us = []
    for start, end in _open_windows(query, first_day, last_day):
        s, e = max(_to_us(start), lo), min(_to_us(end), hi)
        if s < e:
            open_us.append((s, e))

    # Most of a busy tutor's calendar lies far outside the range. When buffers are bounded, such an interval is
    # dropped by two datetime comparisons before paying for a conversion or a travel estimate.
    near_lo, near_hi = _FIRST_INSTANT, _LAST_INSTANT
    cap = _max_buffer_minutes(query)
    if cap is not None:
        reach = timedelta(minutes=cap)
        near_lo, near_hi = max(lo_dt, _FIRST_INSTANT + reach) - reach, min(hi_dt, _LAST_INSTANT - reach) + reach
    busy_us = []
    append = busy_us.append
    wanted_in_person, here, estimator = query.in_person, query.location, query.estimator
    default_us = query.default_buffer_minutes * _US_PER_MINUTE
    epoch, one_us, per_minute = _EPOCH, _ONE_US, _US_PER_MINUTE
    for b in query.busy:
        start, end = b.start, b.end
        if end <= near_lo or start >= near_hi:
            continue
        s, e = (start - epoch) // one_us, (end - epoch) // one_us
        if wanted_in_person or b.in_person:  # the buffer rule of _buffer_minutes, inlined for speed
            there = b.location
            if here is None or there is None or estimator is None:
                s, e = s - default_us, e + default_us
            else:
                before, after = estimator.minutes(here, there), estimator.minutes(there, here)
                s -= before * per_minute if before > 0 else 0  # a negative estimate means no travel
                e += after * per_minute if after > 0 else 0
        if e > lo and s < hi:
            append((s, e))
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
    append = slots.append
    for start, end in free:
        first = -(-max(start, earliest) // _GRID_US) * _GRID_US  # ceil to the UTC quarter-hour grid
        last = min(end - duration, latest_start)
        if first > last:
            continue
        slot = _from_us(first)
        for _ in range((last - first) // _GRID_US + 1):
            append(slot)
            slot += _GRID  # one datetime addition per slot instead of a conversion from µs
    return slots


def any_slot_starting_in(query: SlotQuery, windows: list[tuple[datetime, datetime]]) -> bool:
    """Whether some free slot of the query starts inside one of the half-open windows (the directory's
    "free on these days at these times" filter): the same sweep, but no slot is materialized."""
    free, earliest, latest_start = _free_us(query)
    duration = query.duration_minutes * _US_PER_MINUTE
    wanted = sorted((_to_us(s), _to_us(e)) for s, e in windows if s < e)
    j = 0
    for start, end in free:
        first = -(-max(start, earliest) // _GRID_US) * _GRID_US  # first allowed start on the grid
        last = min(end - duration, latest_start)  # last allowed start
        while j < len(wanted) and wanted[j][1] <= first:
            j += 1  # windows wholly before this free interval can't meet later ones either
        k = j
        while k < len(wanted) and wanted[k][0] <= last:
            window_start, window_end = wanted[k]
            candidate = max(first, -(-window_start // _GRID_US) * _GRID_US)
            if candidate <= last and candidate < window_end:
                return True
            k += 1
    return False


def local_time_windows(zone: str | tzinfo, first_day: date, days: int, weekdays: frozenset[int] | set[int],
                       spans: list[tuple[int, int]]) -> list[tuple[datetime, datetime]]:
    """UTC windows for the given local weekdays (0=Monday) and minute spans of the day (end 1440 = midnight)
    over `days` local dates from first_day, in a viewer's zone (the directory's day and time-of-day filter)."""
    tz = zone if isinstance(zone, tzinfo) else _zone(zone)
    windows = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if day.weekday() not in weekdays:
            continue
        for start_minute, end_minute in spans:
            start, end = _wall_to_instant(day, start_minute, tz), _wall_to_instant(day, end_minute, tz)
            if start < end:
                windows.append((start, end))
    return windows


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
    tz = zone if isinstance(zone, tzinfo) else _zone(zone)
    return {day: [slot.astimezone(tz) for slot in day_slots]
            for day, day_slots in utc_slots_by_local_date(slots, tz).items()}


def utc_slots_by_local_date(slots: list[datetime], zone: str | tzinfo) -> dict[date, list[datetime]]:
    """Group slots by the viewer's local date, in date order, left as given (the booker converts only the day it
    shows: a month holds about a thousand slots)."""
    # A tzinfo is accepted too, for clients that only send a fixed UTC offset.
    tz = zone if isinstance(zone, tzinfo) else _zone(zone)
    for slot in slots:
        if slot.tzinfo is None:
            _require_aware("slot", slot)  # raises, in words
    ordered = sorted(slots)
    grouped: dict[date, list[datetime]] = {}
    i = 0
    # Cut the sorted list at each local midnight (one bisection per day) rather than asking every slot for its
    # local date.
    while i < len(ordered):
        day = ordered[i].astimezone(tz).date()
        next_day_starts = _wall_to_instant(day + timedelta(days=1), 0, tz)
        j = bisect_left(ordered, next_day_starts, lo=i)
        grouped[day] = ordered[i:j]
        i = j
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
    "any_slot_starting_in",
    "free_intervals",
    "free_slots",
    "local_dates_around",
    "local_time_windows",
    "naive_free_slots",
    "slots_by_local_date",
    "utc_slots_by_local_date",
]
