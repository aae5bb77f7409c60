"""Availability use cases: a tutor edits weekly hours and overrides; anyone finds a tutor's free slots."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import Boolean, Date, Float, Integer, and_, bindparam, cast, delete, literal, null, or_, select, union_all

from ..domain import availability as engine
from ..domain import limits
from ..domain.money import LessonPriceBreakdown, lesson_price
from ..domain.states import BLOCKING_LESSON_STATES, BookingState
from ..domain.timezones import TimeZoneError, validate_zone
from ..domain.travel import Coordinates, StraightLineEstimator, distance_km
from ..extensions import db
from ..models import (Booking, CalendarEvent, CalendarSource, DateOverride, Lesson, LessonAddress, Teach, TutorProfile, User,
                      UTCDateTime, WeeklyWindow, lesson_child, lesson_user)
from . import places
from .catalogue import TEACH_NAMES, TutorCard, TutorFilters, get_tutor, search_tutors
from .errors import NotFound, NotOffered, ValidationError

# The longest travel buffer we add around a busy interval (the estimator is capped at it), so loading busy time
# this far either side of a range never misses a lesson whose buffer reaches into it.
MAX_BUFFER = timedelta(hours=6)


@dataclass(frozen=True)
class AvailabilitySettings:
    """A tutor's booking rules as one value (what the editor and the API show)."""

    timezone: str
    weekly: list[engine.WeeklyWindow]
    overrides: list[engine.DateOverride]
    min_notice_hours: int
    horizon_days: int
    travel_buffer_minutes: int
    base_latitude: float | None
    base_longitude: float | None
    base_line1: str = ""
    base_postcode: str = ""
    base_city: str = ""


@dataclass(frozen=True)
class SlotRequest:
    """What a student asks for: which tutor and teach record, when, how long, where."""

    tutor_id: int
    teach_id: int
    range_start: datetime
    range_end: datetime
    duration_minutes: int
    in_person: bool = False
    location: Coordinates | None = None
    ignore_lesson_id: int | None = None  # a lesson being moved does not block its own new time


@dataclass(frozen=True)
class SlotResult:
    """Free slot starts (UTC) with the price each one carries."""

    slots: list[datetime]
    price: LessonPriceBreakdown
    teach: Teach
    # No slots because one of the tutor's connected calendars has not synced recently (fail closed): the booker says so.
    calendar_stale: bool = False


def get_settings(tutor: User) -> AvailabilitySettings:
    """Read a tutor's weekly windows, overrides and rules."""
    profile = tutor.tutor_profile
    weekly = db.session.scalars(select(WeeklyWindow).where(WeeklyWindow.tutor_id == tutor.id)
                                .order_by(WeeklyWindow.weekday, WeeklyWindow.start_minute))
    overrides = db.session.scalars(select(DateOverride).where(DateOverride.tutor_id == tutor.id)
                                   .order_by(DateOverride.on_date, DateOverride.start_minute))
    return AvailabilitySettings(
        timezone=tutor.timezone,
        weekly=[engine.WeeklyWindow(w.weekday, w.start_minute, w.end_minute) for w in weekly],
        overrides=[engine.DateOverride(o.on_date, o.start_minute, o.end_minute) for o in overrides],
        min_notice_hours=profile.min_notice_hours, horizon_days=profile.horizon_days,
        travel_buffer_minutes=profile.travel_buffer_minutes,
        base_latitude=profile.base_latitude, base_longitude=profile.base_longitude,
        base_line1=profile.base_line1 or "", base_postcode=profile.base_postcode or "", base_city=profile.base_city or "")


BASE_ADDRESS_KEYS = ("base_line1", "base_postcode", "base_city")
BASE_ADDRESS_LIMITS = {"base_line1": ("Street address", 200), "base_postcode": ("Postcode", 20),
                       "base_city": ("City", 100)}


def _base_address(data: dict, errors: dict) -> dict[str, str] | None:
    """The base address fields in `data` (None when none were sent), trimmed and checked for length."""
    if not any(key in data for key in BASE_ADDRESS_KEYS):
        return None
    address = {}
    for key in BASE_ADDRESS_KEYS:
        value = data.get(key)
        value = value.strip() if isinstance(value, str) else ""
        label, limit = BASE_ADDRESS_LIMITS[key]
        if len(value) > limit:
            errors[key] = f"{label}: up to {limit} characters."
        address[key] = value
    if not address["base_line1"] and (address["base_postcode"] or address["base_city"]):
        errors["base_line1"] = "Give the street and number too, or clear the postcode and city."
    return address


def _bounded_int(data: dict, name: str, low: int, high: int, errors: dict, label: str) -> int | None:
    value = data.get(name)
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        errors[name] = f"{label} must be a whole number."
        return None
    if not low <= number <= high:
        errors[name] = f"{label} must be between {low} and {high}."
        return None
    return number


def parse_windows(items, errors: dict) -> list[engine.WeeklyWindow]:
    """Validate weekly windows sent as dicts {weekday, start, end} with HH:MM times."""
    windows: list[engine.WeeklyWindow] = []
    if not isinstance(items, list) or len(items) > limits.MAX_WEEKLY_WINDOWS:
        errors["weekly"] = "Send a list of at most 100 weekly windows."
        return windows
    for i, item in enumerate(items):
        try:
            weekday = int(item["weekday"])
            if not 0 <= weekday <= 6:
                raise ValueError("The weekday is 0 (Monday) to 6 (Sunday).")
            start, end = _ordered_minutes(item["start"], item["end"])
            windows.append(engine.WeeklyWindow(weekday, start, end))
        except (KeyError, TypeError):
            errors[f"weekly[{i}]"] = "Each window needs weekday (0=Monday), start and end (HH:MM)."
        except ValueError as exc:
            errors[f"weekly[{i}]"] = str(exc)
    return windows


def parse_overrides(items, errors: dict) -> list[engine.DateOverride]:
    """Validate overrides sent as dicts {date, start?, end?}; no times means a day off."""
    overrides: list[engine.DateOverride] = []
    if not isinstance(items, list) or len(items) > limits.MAX_DATE_OVERRIDES:
        errors["overrides"] = "Send a list of at most 400 date overrides."
        return overrides
    for i, item in enumerate(items):
        try:
            on_date = date.fromisoformat(str(item["date"]))
            start, end = item.get("start"), item.get("end")
            if start in (None, "") and end in (None, ""):
                overrides.append(engine.DateOverride(on_date, None, None))
            else:
                overrides.append(engine.DateOverride(on_date, *_ordered_minutes(start, end)))
        except (KeyError, TypeError, AttributeError):
            errors[f"overrides[{i}]"] = "Each override needs a date (YYYY-MM-DD) and optional start and end (HH:MM)."
        except _TimeError as exc:
            errors[f"overrides[{i}]"] = str(exc)
        except ValueError:
            errors[f"overrides[{i}]"] = "Dates look like 2027-03-28 and times like 09:30."
    days = {o.on_date for o in overrides}
    for day in days:
        rows = [o for o in overrides if o.on_date == day]
        if len(rows) > 1 and any(o.start_minute is None for o in rows):
            errors[f"overrides.{day.isoformat()}"] = f"{day.isoformat()} is both a day off and has hours; pick one."
    return overrides


class _TimeError(ValueError):
    """A time the user typed that we cannot use (its message is meant for the user)."""


def minutes_of(text, allow_midnight_end: bool = False) -> int:
    """'09:30' → 570; '24:00' allowed only as an end; quarter hours only."""
    hours, _, minutes = str(text).strip().partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and len(hours) <= 2):
        raise _TimeError(f"Times look like 09:30, not {text!r}.")
    value = int(hours) * 60 + int(minutes)
    if value == 1440 and allow_midnight_end:
        return value
    if int(minutes) >= 60 or not 0 <= value < 1440:
        raise _TimeError(f"{text} is not a time of day.")
    if value % engine.SLOT_GRID_MINUTES:
        raise _TimeError(f"{text}: times must be on the quarter hour (:00, :15, :30, :45).")
    return value


def _ordered_minutes(start, end) -> tuple[int, int]:
    """A start and end time of day, the end after the start (24:00 allowed as the end)."""
    first, last = minutes_of(start), minutes_of(end, allow_midnight_end=True)
    if last <= first:
        raise _TimeError(f"The end time ({end}) must be after the start time ({start}).")
    return first, last


def update_settings(tutor: User, data: dict) -> AvailabilitySettings:
    """Replace a tutor's weekly windows, overrides and rules in one go (validated whole, all or nothing)."""
    if not tutor.is_tutor:
        raise ValidationError("Only tutors have availability.")
    if not isinstance(data, dict):
        raise ValidationError("Send an object with weekly, overrides and rules.")
    errors: dict[str, str] = {}
    base = _base_address(data, errors)
    located = None
    if base is not None and not errors and base["base_line1"] and "base_latitude" not in data:
        # The geocoder is a network call: it runs before this request writes (or reads) anything.
        located = places.locate(base["base_line1"], base["base_postcode"], base["base_city"])
    current = get_settings(tutor)
    zone = data.get("timezone", current.timezone)
    try:
        zone = validate_zone(zone)
    except TimeZoneError as exc:
        errors["timezone"] = str(exc)
    weekly = parse_windows(data.get("weekly", [_window_dict(w) for w in current.weekly]), errors)
    overrides = parse_overrides(data.get("overrides", [_override_dict(o) for o in current.overrides]), errors)
    rules = {**_rules(current), **data}
    notice = _bounded_int(rules, "min_notice_hours", *limits.MIN_NOTICE_HOURS, errors, "Minimum notice")
    horizon = _bounded_int(rules, "horizon_days", *limits.HORIZON_DAYS, errors, "Booking horizon")
    buffer = _bounded_int(rules, "travel_buffer_minutes", *limits.TRAVEL_BUFFER_MINUTES, errors, "Travel buffer")
    lat, lon = data.get("base_latitude", current.base_latitude), data.get("base_longitude", current.base_longitude)
    if base is not None and "base_latitude" not in data:
        # A typed address replaces the old place: its coordinates are the geocoder's, or none (never stale ones).
        changed = (base["base_line1"], base["base_postcode"], base["base_city"]) != (
            current.base_line1, current.base_postcode, current.base_city)
        if changed or located is not None:
            lat, lon = (located.lat, located.lon) if located is not None else (None, None)
    if (lat in (None, "")) != (lon in (None, "")):
        errors["base_latitude"] = "Give both latitude and longitude, or neither."
    elif lat not in (None, ""):
        try:
            Coordinates(float(lat), float(lon))
        except (TypeError, ValueError):
            errors["base_latitude"] = "Latitude is -90..90 and longitude -180..180."
    if errors:
        raise ValidationError("Please correct the availability.", errors)
    db.session.execute(delete(WeeklyWindow).where(WeeklyWindow.tutor_id == tutor.id))
    db.session.execute(delete(DateOverride).where(DateOverride.tutor_id == tutor.id))
    db.session.add_all(WeeklyWindow(tutor_id=tutor.id, weekday=w.weekday, start_minute=w.start_minute,
                                    end_minute=w.end_minute) for w in weekly)
    db.session.add_all(DateOverride(tutor_id=tutor.id, on_date=o.on_date, start_minute=o.start_minute,
                                    end_minute=o.end_minute) for o in overrides)
    profile = tutor.tutor_profile
    tutor.timezone = zone
    profile.min_notice_hours, profile.horizon_days, profile.travel_buffer_minutes = notice, horizon, buffer
    profile.base_latitude = float(lat) if lat not in (None, "") else None
    profile.base_longitude = float(lon) if lon not in (None, "") else None
    if base is not None:
        profile.base_line1, profile.base_postcode, profile.base_city = (
            base["base_line1"] or None, base["base_postcode"] or None, base["base_city"] or None)
    db.session.commit()
    return get_settings(tutor)


def _rules(s: AvailabilitySettings) -> dict:
    return {"min_notice_hours": s.min_notice_hours, "horizon_days": s.horizon_days,
            "travel_buffer_minutes": s.travel_buffer_minutes}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window_dict(w: engine.WeeklyWindow) -> dict:
    return {"weekday": w.weekday, "start": _hhmm(w.start_minute), "end": _hhmm(w.end_minute)}


def _override_dict(o: engine.DateOverride) -> dict:
    if o.start_minute is None:
        return {"date": o.on_date.isoformat(), "start": None, "end": None}
    return {"date": o.on_date.isoformat(), "start": _hhmm(o.start_minute), "end": _hhmm(o.end_minute)}


def settings_as_dict(s: AvailabilitySettings) -> dict:
    """JSON form of a tutor's availability."""
    return {"timezone": s.timezone, "weekly": [_window_dict(w) for w in s.weekly],
            "overrides": [_override_dict(o) for o in s.overrides], **_rules(s),
            "base_latitude": s.base_latitude, "base_longitude": s.base_longitude}


# Lessons last at most the engine's longest duration (bookings and reschedules go through find_slots, which refuses
# longer ones), so a lesson overlapping [lo, hi) starts in [lo - LONGEST_LESSON, hi): both ends of an index range.
LONGEST_LESSON = timedelta(minutes=engine.MAX_DURATION)


def blocking_lessons_query(tutor_id: int, start: datetime, end: datetime, now: datetime):
    """Lessons that occupy the tutor between start and end: active or rescheduling, and not an expired hold."""
    return (select(Lesson).outerjoin(Booking, Booking.lesson_id == Lesson.id)
            .where(Lesson.tutor_id == tutor_id, Lesson.state.in_(BLOCKING_LESSON_STATES),
                   Lesson.start_at > start - LONGEST_LESSON, Lesson.start_at < end, Lesson.finish_at > start,
                   _hold_not_lapsed(now)))


def _hold_not_lapsed(now: datetime):
    return or_(Booking.id.is_(None), Booking.state != BookingState.AWAITING_PAYMENT, Booking.hold_expires_at > now)


@dataclass
class TutorCalendar:
    """What the engine needs about one tutor: weekly hours, overrides and busy time near a range."""

    weekly: list[engine.WeeklyWindow]
    overrides: list[engine.DateOverride]
    busy: list[engine.BusyInterval]
    # An external calendar of the tutor's has not synced recently: its busy time is unknown, so no slot is free.
    stale: bool = False


# Row kinds of the calendar statement (one UNION ALL, so a picker request loads the engine's input in one go).
_WEEKLY, _OVERRIDE, _LESSON, _PROPOSAL, _EVENT, _STALE = range(6)


def _nulls(**types):
    """Typed NULL columns, so every branch of the UNION ALL has the same column types on PostgreSQL."""
    return {name: cast(null(), type_).label(name) for name, type_ in types.items()}


@lru_cache(maxsize=32)
def _calendar_select(ranges: int = 1):
    """One UNION ALL of narrow, index-bounded selects: weekly windows, overrides on first_day..last_day, and for
    each of `ranges` time ranges: lessons starting in [lesson_lo_i, hi_i) (by start, and by proposed start: two
    range scans instead of an OR that would scan the tutor's whole history) and calendar events ending after lo_i
    (events have no longest length, so they are bounded by their end). Built once per number of ranges with bound
    parameters: building it per request cost more than running it."""
    tutor_ids = bindparam("tutor_ids", expanding=True)
    now = bindparam("now", type_=UTCDateTime())
    first_day, last_day = bindparam("first_day", type_=Date()), bindparam("last_day", type_=Date())
    columns = ("kind", "tutor_id", "lesson_id", "weekday", "on_date", "start_minute", "end_minute", "start_at",
               "finish_at", "in_person", "latitude", "longitude")
    types = {"lesson_id": Integer(), "weekday": Integer(), "on_date": Date(), "start_minute": Integer(),
             "end_minute": Integer(), "start_at": UTCDateTime(), "finish_at": UTCDateTime(),
             "in_person": Boolean(), "latitude": Float(), "longitude": Float()}

    def branch(kind: int, tutor_id, **given):
        cols = {"kind": literal(kind, Integer()).label("kind"), "tutor_id": tutor_id.label("tutor_id"),
                **_nulls(**{k: t for k, t in types.items() if k not in given}),
                **{k: v.label(k) for k, v in given.items()}}
        return select(*(cols[c] for c in columns))

    weekly = branch(_WEEKLY, WeeklyWindow.tutor_id, weekday=WeeklyWindow.weekday,
                    start_minute=WeeklyWindow.start_minute, end_minute=WeeklyWindow.end_minute
                    ).where(WeeklyWindow.tutor_id.in_(tutor_ids))
    overrides = branch(_OVERRIDE, DateOverride.tutor_id, on_date=DateOverride.on_date,
                       start_minute=DateOverride.start_minute, end_minute=DateOverride.end_minute
                       ).where(DateOverride.tutor_id.in_(tutor_ids), DateOverride.on_date >= first_day,
                               DateOverride.on_date <= last_day)
    # Calendar sources whose last good sync is too old (or never happened): fail closed.
    stale = branch(_STALE, CalendarSource.tutor_id).where(
        CalendarSource.tutor_id.in_(tutor_ids),
        or_(CalendarSource.last_synced_at.is_(None),
            CalendarSource.last_synced_at < bindparam("synced_before", type_=UTCDateTime())))

    def lessons(kind: int, start_col, finish_col, lo, hi, lesson_lo):
        return (branch(kind, Lesson.tutor_id, lesson_id=Lesson.id, start_at=start_col, finish_at=finish_col,
                       in_person=Lesson.in_person, latitude=LessonAddress.latitude,
                       longitude=LessonAddress.longitude)
                .outerjoin(Booking, Booking.lesson_id == Lesson.id)
                .outerjoin(LessonAddress, LessonAddress.lesson_id == Lesson.id)
                .where(Lesson.tutor_id.in_(tutor_ids), Lesson.state.in_(BLOCKING_LESSON_STATES),
                       start_col > lesson_lo, start_col < hi, finish_col > lo, _hold_not_lapsed(now)))

    def events(lo, hi):
        return branch(_EVENT, CalendarEvent.tutor_id, start_at=CalendarEvent.start_at,
                      finish_at=CalendarEvent.finish_at).where(
            CalendarEvent.tutor_id.in_(tutor_ids), CalendarEvent.finish_at > lo, CalendarEvent.start_at < hi,
            CalendarEvent.busy.is_(True), CalendarEvent.lesson_id.is_(None))

    branches = [weekly, overrides, stale]
    for i in range(ranges):
        lo, hi, lesson_lo = (bindparam(f"{name}_{i}", type_=UTCDateTime()) for name in ("lo", "hi", "lesson_lo"))
        branches += [lessons(_LESSON, Lesson.start_at, Lesson.finish_at, lo, hi, lesson_lo),
                     lessons(_PROPOSAL, Lesson.suggested_start_at, Lesson.suggested_finish_at, lo, hi, lesson_lo),
                     events(lo, hi)]
    return union_all(*branches)


def _calendar_params(tutor_ids: list[int], ranges: list[tuple[datetime, datetime]], first_day: date,
                     last_day: date, now: datetime) -> dict:
    values = {"tutor_ids": list(tutor_ids), "now": now, "first_day": first_day, "last_day": last_day,
              "synced_before": now - timedelta(minutes=current_app.config["CALENDAR_STALE_MINUTES"])}
    for i, (lo, hi) in enumerate(ranges):
        values.update({f"lo_{i}": lo, f"hi_{i}": hi, f"lesson_lo_{i}": lo - LONGEST_LESSON})
    return values


def calendar_statement(tutor_ids: list[int], lo: datetime, hi: datetime, first_day: date, last_day: date,
                       now: datetime):
    """The calendar statement with its values bound, as load_calendars runs it (for EXPLAIN in tests and bench)."""
    return _calendar_select(1).params(**_calendar_params(tutor_ids, [(lo, hi)], first_day, last_day, now))


def load_calendars(tutor_ids: list[int], start: datetime, end: datetime, first_day: date, last_day: date,
                   now: datetime, ignore_lesson_id: int | None = None) -> dict[int, TutorCalendar]:
    """Each tutor's hours and busy time near [start, end) (travel buffers included), in one SQL statement.

    Busy time: blocking lessons (with places), the times proposed in standing reschedule requests (held while
    they stand) and external calendar events. Overrides: those on local dates first_day..last_day."""
    return load_calendars_near(tutor_ids, [(start, end)], first_day, last_day, now, ignore_lesson_id)


# Bound parameters per statement, under SQLite's limit (32,766) and PostgreSQL's (65,535): tutor ids are repeated
# in every branch, so a long candidate list with many ranges is loaded in a few chunks.
MAX_BOUND_PARAMETERS = 30_000


def load_calendars_near(tutor_ids: list[int], ranges: list[tuple[datetime, datetime]], first_day: date,
                        last_day: date, now: datetime, ignore_lesson_id: int | None = None) -> dict[int, TutorCalendar]:
    """Each tutor's hours, and busy time near any of the (disjoint) `ranges`, in as few statements as the
    database's parameter limit allows (one for a profile; one or two for a directory page)."""
    calendars = {tid: TutorCalendar([], [], []) for tid in tutor_ids}
    if not tutor_ids:
        return calendars
    near = [(start - MAX_BUFFER, end + MAX_BUFFER) for start, end in ranges]
    statement = _calendar_select(len(near))
    chunk = max(1, MAX_BOUND_PARAMETERS // (3 + 3 * len(near)))  # ids in hours, overrides, stale sources, per range
    for first in range(0, len(tutor_ids), chunk):
        rows = db.session.execute(statement, _calendar_params(tutor_ids[first:first + chunk], near, first_day,
                                                              last_day, now))
        _collect(rows, calendars, ignore_lesson_id)
    return calendars


def _collect(rows, calendars: dict[int, TutorCalendar], ignore_lesson_id: int | None) -> None:
    busy = engine.BusyInterval.from_storage  # UTCDateTime hands back aware UTC instants
    for (kind, tutor_id, lesson_id, weekday, on_date, start_minute, end_minute, start_at, finish_at, in_person,
         lat, lon) in rows:
        calendar = calendars[tutor_id]
        if kind == _WEEKLY:
            calendar.weekly.append(engine.WeeklyWindow(weekday, start_minute, end_minute))
        elif kind == _OVERRIDE:
            calendar.overrides.append(engine.DateOverride(on_date, start_minute, end_minute))
        elif kind == _EVENT:
            calendar.busy.append(busy(start_at, finish_at))
        elif kind == _STALE:
            calendar.stale = True
        elif lesson_id != ignore_lesson_id:
            place = Coordinates(lat, lon) if lat is not None and lon is not None else None
            calendar.busy.append(busy(start_at, finish_at, bool(in_person), place))


# The directory's time-of-day filter, in the viewer's zone (minutes from local midnight), like Preply's.
TIMES_OF_DAY = {"morning": (6 * 60, 12 * 60), "afternoon": (12 * 60, 18 * 60), "evening": (18 * 60, 24 * 60),
                "night": (0, 6 * 60)}
FREE_WITHIN_DAYS = 14


def search_tutors_by_free_time(filters: TutorFilters, now: datetime) -> list[TutorCard]:
    """The directory: tutors matching the catalogue filters and, when asked, free on the chosen days and times."""
    cards = search_tutors(filters)
    if not filters.by_free_time:
        return cards
    free = tutors_free_at([(c.tutor, c.profile) for c in cards], filters.zone, filters.free_days, filters.free_times,
                          now, in_person=filters.mode == "in_person")
    return [c for c in cards if c.tutor.id in free]


def tutors_free_at(tutors: list[tuple[User, TutorProfile]], zone: tzinfo, weekdays: frozenset[int],
                   times: frozenset[str], now: datetime, in_person: bool = False) -> set[int]:
    """Ids of the tutors with a free lesson of the default length starting within the next 14 days on one of the
    viewer's local `weekdays` (0=Monday; empty: any) at one of the `times` of day (empty: any time).

    Calendars are loaded for all candidates at once, and only near the chosen days and times: first the earliest
    chosen day, then the next two, the next four, then the rest, each round only for the tutors not yet found free
    (most busy tutors are free on the first day asked about). At most four statements; the engine runs in memory."""
    if not tutors:
        return set()
    end = now + timedelta(days=FREE_WITHIN_DAYS)
    duration = timedelta(minutes=current_app.config["LESSON_DEFAULT_DURATION"])
    spans = sorted(TIMES_OF_DAY[t] for t in times) or [(0, 24 * 60)]
    today = now.astimezone(zone).date()
    by_day: dict[date, list[tuple[datetime, datetime]]] = {}
    for start, finish in engine.local_time_windows(zone, today, FREE_WITHIN_DAYS + 1,
                                                   weekdays or frozenset(range(7)), spans):
        if finish > now and start < end:
            by_day.setdefault(start.astimezone(zone).date(), []).append((max(start, now), min(finish, end)))
    days = [by_day[day] for day in sorted(by_day)]
    rounds, taken, size = [], 0, 1
    while taken < len(days):
        rounds.append(sorted(w for day in days[taken:taken + size] for w in day))
        taken += size
        size = size * 2 if len(rounds) < 3 else len(days)
    remaining = list(tutors)
    free: set[int] = set()
    for windows in rounds:
        if not remaining:
            break
        found = _free_in(remaining, windows, duration, now, end, in_person)
        free |= found
        remaining = [(tutor, profile) for tutor, profile in remaining if tutor.id not in found]
    return free


def _free_in(tutors: list[tuple[User, TutorProfile]], windows: list[tuple[datetime, datetime]],
             duration: timedelta, now: datetime, end: datetime, in_person: bool) -> set[int]:
    """Which tutors have a free slot starting in one of the (sorted) windows: one load, then the engine per tutor."""
    # Busy time matters only near the windows (a slot starting in one, plus its length). Windows closer together
    # than twice the longest buffer are loaded as one range.
    ranges: list[tuple[datetime, datetime]] = []
    for start, finish in windows:
        if ranges and start - 2 * MAX_BUFFER <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], finish + duration))
        else:
            ranges.append((start, finish + duration))
    # Overrides are by each tutor's own local date, which is within a day of the UTC date: two days either side.
    calendars = load_calendars_near([u.id for u, _ in tutors], ranges, now.date() - timedelta(days=2),
                                    end.date() + timedelta(days=2), now)
    estimator = travel_estimator()
    minutes = int(duration.total_seconds() // 60)
    free = set()
    for tutor, profile in tutors:
        calendar = calendars[tutor.id]
        if profile is None or not (calendar.weekly or calendar.overrides) or calendar.stale:
            continue  # no hours at all, or a calendar too old to trust: nothing to sweep
        busy, default_buffer = with_unknown_place_buffers(calendar.busy, profile.travel_buffer_minutes, in_person, None)
        try:
            query = engine.SlotQuery(
                tutor_zone=tutor.timezone, weekly=calendar.weekly, overrides=calendar.overrides, busy=busy,
                range_start=windows[0][0], range_end=max(e for _, e in windows), duration_minutes=minutes, now=now,
                min_notice_minutes=profile.min_notice_hours * 60, horizon_days=profile.horizon_days,
                in_person=in_person, default_buffer_minutes=default_buffer, estimator=estimator)
        except engine.AvailabilityError:
            continue  # a tutor whose stored zone no longer exists is not free at any time we can name
        if engine.any_slot_starting_in(query, windows):
            free.add(tutor.id)
    return free


def resolve_teach(tutor_id: int, teach_id: int | None = None, subject_id: int | None = None,
                  level_id: int | None = None, include_retired: bool = False) -> Teach:
    """The tutor's teach record by id, or by subject and level, or else their first (seed 002: 'resolves the Teach
    record').

    Only subjects on offer, unless `include_retired` (moving a lesson booked before the tutor stopped offering it)."""
    if teach_id is not None:
        # The directory and profile have usually loaded the tutor's teaches already: the identity map answers.
        teach = db.session.get(Teach, teach_id, options=TEACH_NAMES)
        if teach is None or teach.tutor_id != tutor_id or not (teach.active or include_retired):
            raise NotFound("This tutor does not teach that subject at that level.",
                           {"subject_id": "This tutor does not teach that subject at that level."})
        return teach
    query = select(Teach).where(Teach.tutor_id == tutor_id).options(*TEACH_NAMES)
    if not include_retired:
        query = query.where(Teach.active.is_(True))
    # Neither given: the tutor's first subject on offer (what the booker shows first).
    if subject_id is not None:
        query = query.where(Teach.subject_id == subject_id)
    if level_id is not None:
        query = query.where(Teach.level_id == level_id)
    teach = db.session.scalars(query.order_by(Teach.id)).first()
    if teach is None:
        raise NotFound("This tutor does not teach that subject at that level.",
                       {"subject_id": "This tutor does not teach that subject at that level."})
    return teach


def validate_duration(duration) -> int:
    """15–120 minutes in steps of 15, or ValidationError in words."""
    cfg = current_app.config
    low, high = cfg["LESSON_MIN_DURATION"], cfg["LESSON_MAX_DURATION"]
    try:
        minutes = int(duration)
        if isinstance(duration, bool) or isinstance(duration, float) and duration != minutes:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValidationError("Duration must be a whole number of minutes.",
                              {"duration": "Duration must be a whole number of minutes."}) from None
    if not low <= minutes <= high or minutes % engine.SLOT_GRID_MINUTES:
        message = f"Duration must be {low}–{high} minutes in steps of {engine.SLOT_GRID_MINUTES}; {minutes} is not."
        raise ValidationError(message, {"duration": message})
    return minutes


def date_range_in_zone(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The instants covering local dates first..last (inclusive) in the viewer's zone."""
    if last < first:
        raise ValidationError("The end date is before the start date.", {"end_date": "Must be on or after start."})
    if (last - first).days > limits.MAX_RANGE_DAYS:
        raise ValidationError(f"Ask for at most {limits.MAX_RANGE_DAYS} days at a time.",
                              {"end_date": f"At most {limits.MAX_RANGE_DAYS} days after the start."})
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return start, end


def find_slots(request: SlotRequest, now: datetime) -> SlotResult:
    """Free slot starts for a tutor's teach record in a range, each priced (the slot picker and the API)."""
    tutor = get_tutor(request.tutor_id)
    teach = resolve_teach(tutor.id, request.teach_id, include_retired=request.ignore_lesson_id is not None)
    return _find_slots(tutor, teach, request, now)


def _find_slots(tutor: User, teach: Teach, request: SlotRequest, now: datetime) -> SlotResult:
    """find_slots for a tutor and teach record already loaded (and checked to belong together)."""
    duration = validate_duration(request.duration_minutes)
    # The tutor's offer decides these, as it decides the subject and level: what is not offered is not found.
    if request.in_person and not teach.in_person:
        raise NotOffered("This tutor teaches that subject online only.", {"lesson_type": "Online only."})
    if not request.in_person and not teach.online:
        raise NotOffered("This tutor teaches that subject in person only.", {"lesson_type": "In person only."})
    if request.range_end <= now:
        raise ValidationError("Those dates are in the past.", {"start_date": "Choose dates from today on."})
    profile: TutorProfile = tutor.tutor_profile
    _check_travel_distance(teach, profile, request)
    horizon_end = now + timedelta(days=profile.horizon_days)
    if request.range_start > horizon_end:
        message = f"This tutor takes bookings up to {profile.horizon_days} days ahead."
        raise ValidationError(message, {"start_date": message})
    try:
        tz = ZoneInfo(tutor.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("This tutor's time zone is not one we know.") from None
    end = request.range_end + timedelta(minutes=duration)
    first_day, last_day = engine.local_dates_around(request.range_start, end, tz)
    calendar = load_calendars([tutor.id], request.range_start, end, first_day, last_day, now,
                              request.ignore_lesson_id)[tutor.id]
    if calendar.stale:  # fail closed: the tutor's external busy time is unknown (the tutor is told why)
        return SlotResult([], lesson_price(teach.hourly_rate_minor, teach.currency, duration), teach,
                          calendar_stale=True)
    busy, default_buffer = with_unknown_place_buffers(calendar.busy, profile.travel_buffer_minutes,
                                                      request.in_person, request.location)
    try:
        query = engine.SlotQuery(
            tutor_zone=tutor.timezone, weekly=calendar.weekly, overrides=calendar.overrides, busy=tuple(busy),
            range_start=request.range_start, range_end=request.range_end, duration_minutes=duration, now=now,
            min_notice_minutes=profile.min_notice_hours * 60, horizon_days=profile.horizon_days,
            in_person=request.in_person, location=request.location,
            default_buffer_minutes=default_buffer, estimator=travel_estimator())
        slots = engine.free_slots(query)
    except engine.AvailabilityError as exc:
        raise ValidationError(str(exc)) from None
    return SlotResult(slots, lesson_price(teach.hourly_rate_minor, teach.currency, duration), teach)


@dataclass(frozen=True)
class MonthAvailability:
    """A month of a tutor's free times as the viewer sees them: each of the viewer's local days with its starts."""

    month: date  # the first of the month shown
    days: dict[date, list[datetime]]  # viewer's local date → UTC starts, in order (only days that have any)
    price: LessonPriceBreakdown
    teach: Teach
    today: date  # in the viewer's zone
    last_day: date  # the last local date the tutor takes bookings for
    calendar_stale: bool = False  # nothing is free because a connected calendar of the tutor's is out of date


def find_month(tutor: User, teach: Teach, month: date, zone: tzinfo, duration_minutes: int, now: datetime,
               in_person: bool = False, location: Coordinates | None = None,
               advance_if_empty: bool = False) -> MonthAvailability:
    """The booker's month for a tutor and one of their teach records on offer (both loaded by the caller): which
    days have free times and what they are, from one engine call over the month (from today on). With
    `advance_if_empty`, a month with nothing free moves on to the next one, once."""
    today = now.astimezone(zone).date()
    month = max(month.replace(day=1), today.replace(day=1))
    result = _month_slots(tutor, teach, month, zone, duration_minutes, now, in_person, location, today)
    last_day = (now + timedelta(days=tutor.tutor_profile.horizon_days)).astimezone(zone).date()
    if advance_if_empty and not result.slots:
        following = _next_month(month)
        if following <= last_day:
            month = following
            result = _month_slots(tutor, teach, month, zone, duration_minutes, now, in_person, location, today)
    days = engine.utc_slots_by_local_date(result.slots, zone)
    return MonthAvailability(month, days, result.price, result.teach, today, last_day, result.calendar_stale)


def _next_month(first: date) -> date:
    return date(first.year + 1, 1, 1) if first.month == 12 else date(first.year, first.month + 1, 1)


def _month_slots(tutor, teach, month, zone, duration_minutes, now, in_person, location, today) -> SlotResult:
    """One engine call over the local days of `month` from today on."""
    start, end = date_range_in_zone(max(month, today), _next_month(month) - timedelta(days=1), zone)
    request = SlotRequest(tutor.id, teach.id, start, end, duration_minutes, in_person, location)
    return _find_slots(tutor, teach, request, now)


def with_unknown_place_buffers(busy, default_minutes: int, in_person: bool,
                               location: Coordinates | None) -> tuple[tuple[engine.BusyInterval, ...], int]:
    """Busy time and the default buffer, so that an in-person lesson whose place has no coordinates (no geocoder, or
    it found nothing) keeps the tutor free for at least TRAVEL_UNKNOWN_PLACE_MINUTES either side.

    The engine buffers with `default_minutes` whenever it cannot estimate a journey. When the requested lesson's own
    place is unknown, that default is raised to the floor; a booked in-person lesson of unknown place is widened by
    what the default lacks, so its buffer reaches the floor too. Known places keep the estimator's times."""
    floor = min(current_app.config["TRAVEL_UNKNOWN_PLACE_MINUTES"], int(MAX_BUFFER.total_seconds() // 60))
    if in_person and location is None:
        default_minutes = max(default_minutes, floor)
    extra = timedelta(minutes=max(0, floor - default_minutes))
    if extra:
        busy = [engine.BusyInterval(b.start - extra, b.end + extra, True, None) if b.in_person and b.location is None
                else b for b in busy]
    return tuple(busy), default_minutes


def _check_travel_distance(teach: Teach, profile: TutorProfile, request: SlotRequest) -> None:
    """An in-person lesson must lie within the distance the tutor travels for this subject (when both places are known)."""
    if not (request.in_person and teach.max_travel_km and request.location
            and profile.base_latitude is not None and profile.base_longitude is not None):
        return
    km = distance_km(Coordinates(profile.base_latitude, profile.base_longitude), request.location)
    if km > teach.max_travel_km:
        message = f"That address is about {km:.0f} km away; this tutor travels up to {teach.max_travel_km} km."
        raise ValidationError(message, {"address.line1": message})


def travel_estimator() -> StraightLineEstimator:
    """The configured travel-time estimator (straight line at a set speed plus overhead)."""
    cfg = current_app.config
    return StraightLineEstimator(speed_kmh=cfg["TRAVEL_SPEED_KMH"], overhead_minutes=cfg["TRAVEL_OVERHEAD_MINUTES"],
                                 max_minutes=int(MAX_BUFFER.total_seconds() // 60))


def student_overlaps(user_id: int | None, child_id: int | None, start: datetime, end: datetime, now: datetime,
                     ignore_lesson_id: int | None = None) -> bool:
    """Whether the student (a user, or a parent's child) already holds a lesson overlapping [start, end)."""
    query = (select(Lesson.id).outerjoin(Booking, Booking.lesson_id == Lesson.id)
             .where(Lesson.state.in_(BLOCKING_LESSON_STATES),
                    or_(and_(Lesson.start_at < end, Lesson.finish_at > start),
                        and_(Lesson.suggested_start_at < end, Lesson.suggested_finish_at > start)),
                    Lesson.id != (ignore_lesson_id or 0),
                    or_(Booking.id.is_(None), Booking.state != BookingState.AWAITING_PAYMENT,
                        Booking.hold_expires_at > now)))
    if child_id is not None:
        query = query.join(lesson_child, and_(lesson_child.c.lesson_id == Lesson.id, lesson_child.c.child_id == child_id))
    else:
        query = query.join(lesson_user, and_(lesson_user.c.lesson_id == Lesson.id, lesson_user.c.user_id == user_id))
    return db.session.scalar(query.limit(1)) is not None


def weekly_rows(tutor: User) -> list[WeeklyWindow]:
    """A tutor's weekly window rows (with ids, for the editor)."""
    return list(db.session.scalars(select(WeeklyWindow).where(WeeklyWindow.tutor_id == tutor.id)
                                   .order_by(WeeklyWindow.weekday, WeeklyWindow.start_minute)))


def override_rows(tutor: User, today: date) -> list[DateOverride]:
    """A tutor's date overrides from today on (with ids, for the editor)."""
    return list(db.session.scalars(select(DateOverride).where(
        DateOverride.tutor_id == tutor.id, DateOverride.on_date >= today)
        .order_by(DateOverride.on_date, DateOverride.start_minute)))


def add_weekly_window(tutor: User, weekday, start, end) -> WeeklyWindow:
    """Add one weekly window; it may not overlap another window on the same weekday."""
    errors: dict[str, str] = {}
    windows = parse_windows([{"weekday": weekday, "start": start, "end": end}], errors)
    if errors:
        raise ValidationError(next(iter(errors.values())), {"window": next(iter(errors.values()))})
    new = windows[0]
    for row in weekly_rows(tutor):
        if row.weekday == new.weekday and row.start_minute < new.end_minute and new.start_minute < row.end_minute:
            message = f"That overlaps your {_hhmm(row.start_minute)}–{_hhmm(row.end_minute)} window on the same day."
            raise ValidationError(message, {"window": message})
    row = WeeklyWindow(tutor_id=tutor.id, weekday=new.weekday, start_minute=new.start_minute, end_minute=new.end_minute)
    db.session.add(row)
    db.session.commit()
    return row


def remove_weekly_window(tutor: User, window_id: int) -> None:
    """Remove one of the tutor's own weekly windows."""
    deleted = db.session.execute(delete(WeeklyWindow).where(WeeklyWindow.id == window_id,
                                                            WeeklyWindow.tutor_id == tutor.id))
    db.session.commit()
    if not deleted.rowcount:
        raise NotFound("That window is already gone.")


def add_override(tutor: User, on_date, day_off: bool, start, end, today: date) -> DateOverride:
    """Mark a date as a day off, or give it other hours (replacing the weekly hours that date)."""
    errors: dict[str, str] = {}
    item = {"date": on_date} if day_off else {"date": on_date, "start": start, "end": end}
    if not day_off and (start in (None, "") or end in (None, "")):
        raise ValidationError("Give start and end times, or tick 'day off'.", {"override": "Give start and end times."})
    parsed = parse_overrides([item], errors)
    if errors:
        message = next(iter(errors.values()))
        raise ValidationError(message, {"override": message})
    new = parsed[0]
    if new.on_date < today:
        raise ValidationError("That date is in the past.", {"override": "Choose today or a later date."})
    same_day = [o for o in override_rows(tutor, today) if o.on_date == new.on_date]
    if same_day and (day_off or any(o.start_minute is None for o in same_day)):
        message = f"{new.on_date.isoformat()} already has an override; remove it first."
        raise ValidationError(message, {"override": message})
    for row in same_day:
        if row.start_minute < new.end_minute and new.start_minute < row.end_minute:
            message = "That overlaps other hours you set for the same date."
            raise ValidationError(message, {"override": message})
    row = DateOverride(tutor_id=tutor.id, on_date=new.on_date, start_minute=new.start_minute, end_minute=new.end_minute)
    db.session.add(row)
    db.session.commit()
    return row


def remove_override(tutor: User, override_id: int) -> None:
    """Remove one of the tutor's own date overrides."""
    deleted = db.session.execute(delete(DateOverride).where(DateOverride.id == override_id,
                                                            DateOverride.tutor_id == tutor.id))
    db.session.commit()
    if not deleted.rowcount:
        raise NotFound("That override is already gone.")


def update_rules(tutor: User, data: dict) -> AvailabilitySettings:
    """Change notice, horizon, travel buffer, time zone and base address (placed by the geocoder, if one is
    configured), keeping windows as they are."""
    keys = ("timezone", "min_notice_hours", "horizon_days", "travel_buffer_minutes", "base_latitude", "base_longitude",
            *BASE_ADDRESS_KEYS)
    return update_settings(tutor, {k: data.get(k) for k in keys if k in data})
