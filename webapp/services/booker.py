"""The booker (a tutor's slot picker) as one plain view model: options, a month calendar, the chosen day's times.

Built once per request with every label and link already made, so the template only places strings: one base URL
per request to which each day and time appends its own parameters (no url_for per day or per slot), and only the
chosen day's times are converted to the viewer's zone (a month holds about a thousand free starts)."""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Mapping
from urllib.parse import urlencode

from ..domain import limits
from ..domain.labels import clock_time
from ..domain.travel import Coordinates
from ..models import Teach, User
from . import availability, places
from .bookings import parse_address
from .catalogue import tutor_and_teaches
from .errors import NotOffered, ValidationError

DURATIONS = list(range(limits.MIN_DURATION, limits.MAX_DURATION + 1, limits.SLOT_GRID_MINUTES))  # 15, 30 … 120
NO_SUBJECTS = "This tutor has not listed any subjects yet."
_WEEKS = calendar.Calendar(firstweekday=0)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
                "October", "November", "December")


@dataclass(frozen=True)
class BookerAsk:
    """What the booker's URL asks for, already read (the view parses it); `error` is the first part that could not
    be read, in words, and then `kept_month`/`kept_day` are the month and day shown before, when themselves valid."""

    args: Mapping[str, str]  # as given (the form shows the address fields and an unreadable subject as typed)
    zone: tzinfo | None
    zone_label: str
    zone_in_links: bool  # the zone was asked for (or the viewer is signed in): links carry it
    detect_zone: bool  # anonymous and no zone asked: the browser's zone replaces the fallback
    clock: str  # "12" or "24"
    detect_clock: bool = False  # anonymous and no clock chosen (URL or cookie): the browser's locale decides
    teach_id: int | None = None
    day: date | None = None
    month: date | None = None
    duration: int | None = None
    in_person: bool = False
    lesson_type_asked: bool = False
    error: str | None = None
    kept_month: str | None = None
    kept_day: str | None = None


@dataclass(frozen=True, slots=True)
class DayCell:
    """One day of the month grid."""

    date: date
    iso: str
    number: int
    in_month: bool
    free: bool
    selected: bool
    today: bool
    url: str | None  # only days with free times link
    label: str  # its accessible name: 'Tuesday 8 December, 5 free times'


@dataclass(frozen=True, slots=True)
class TimeLink:
    """One free time of the chosen day: a link to book it."""

    start: str  # the local instant, ISO 8601 (for scripts)
    href: str
    label: str  # '13:30' or '1:30pm'
    name: str  # its accessible name, with the day: 'Tuesday 8 December, 13:30'


@dataclass
class Booker:
    """Everything the booker template shows (its fields are the template's names)."""

    tutor: User
    teaches: list[Teach]
    args: Mapping[str, str]
    clock: str
    zone_label: str
    detect_zone: bool
    profile_url: str
    detect_clock: bool = False
    durations: list[int] = field(default_factory=lambda: DURATIONS)
    error: str | None = None
    picker_error: str | None = None
    kept_month: str | None = None
    kept_day: str | None = None
    teach: Teach | None = None
    price: object = None  # LessonPriceBreakdown when there is a month
    duration: int | None = None
    in_person: bool = False
    month: date | None = None
    month_label: str = ""  # 'December 2026'
    month_name: str = ""  # 'December'
    month_value: str = ""
    weeks: list[list[DayCell]] = field(default_factory=list)
    free_day_count: int = 0
    calendar_stale: bool = False  # no times because the tutor's connected calendar could not be read lately
    selected: date | None = None
    day_label: str | None = None
    times: list[TimeLink] = field(default_factory=list)
    prev_month_name: str = ""
    next_month_name: str = ""
    prev_month_url: str | None = None
    next_month_url: str | None = None

    @property
    def context(self) -> dict:
        """The fields as template variables."""
        return vars(self)


def tutor_booker(tutor_id: int, ask: BookerAsk, now: datetime, profile_url: str, book_url: str) -> Booker:
    """A tutor with the teach records on offer and the booker for `ask`: the month's days with free times and the
    chosen (else the first free) day's times; anything that cannot be shown becomes `error`, in words."""
    tutor, teaches = tutor_and_teaches(tutor_id)
    view = Booker(tutor, teaches, ask.args, ask.clock, ask.zone_label, ask.detect_zone, profile_url,
                  detect_clock=ask.detect_clock, in_person=ask.in_person)
    if not teaches:
        view.error = view.picker_error = NO_SUBJECTS
        return view
    if ask.error is None:
        try:
            _fill(view, tutor, teaches, ask, now, book_url)
            return view
        except (ValidationError, NotOffered) as exc:  # what the tutor does not offer is shown like a wrong choice
            error = exc.message
    else:
        error = ask.error
    view.error = view.picker_error = error
    view.kept_month, view.kept_day = ask.kept_month, ask.kept_day
    return view


def _fill(view: Booker, tutor: User, teaches: list[Teach], ask: BookerAsk, now: datetime, book_url: str) -> None:
    """The month and the chosen day for a readable ask (ValidationError for what the tutor cannot offer)."""
    chosen = next((t for t in teaches if t.id == ask.teach_id), teaches[0])  # none, or no longer offered: the first
    in_person = ask.in_person or (not ask.lesson_type_asked and not chosen.online)  # show how it is taught
    location = _location(ask.args) if in_person and ask.args.get("line1") else None
    zone, today = ask.zone, now.astimezone(ask.zone).date()
    found = availability.find_month(tutor, chosen, ask.month or today, zone, ask.duration, now, in_person, location,
                                    advance_if_empty=ask.month is None)
    state = {"teach_id": chosen.id, "duration": ask.duration, "lesson_type": "in_person" if in_person else "online"}
    if ask.zone_in_links:
        state["tz"] = ask.zone_label
    state["clock"] = ask.clock
    if in_person:
        state.update({k: ask.args[k] for k in ("line1", "postcode", "city") if ask.args.get(k)})
    link = view.profile_url + "?" + urlencode(state) + "&month="
    first = found.month
    selected = ask.day if ask.day and ask.day.replace(day=1) == first else min(found.days, default=None)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    view.teach, view.price, view.duration, view.in_person = found.teach, found.price, ask.duration, in_person
    view.month, view.month_label, view.month_value = first, _month_name(first), f"{first:%Y-%m}"
    view.month_name = _MONTH_NAMES[first.month]
    view.weeks = _weeks(first, found.days, selected, found.today, f"{link}{view.month_value}&day=")
    view.free_day_count, view.selected = len(found.days), selected
    view.calendar_stale = found.calendar_stale
    view.prev_month_name, view.next_month_name = _month_name(previous), _month_name(following)
    if previous >= found.today.replace(day=1):
        view.prev_month_url = f"{link}{previous:%Y-%m}"
    if following <= found.last_day:
        view.next_month_url = f"{link}{following:%Y-%m}"
    if selected is not None:
        view.day_label = day_label(selected)
        base = book_url + "?" + urlencode(state) + "&start="
        view.times = [_time_link(start, zone, base, view.day_label, ask.clock) for start in found.days.get(selected, ())]


def _location(args: Mapping[str, str]) -> Coordinates | None:
    """The lesson address's coordinates: those an API client sent, else the geocoder's (None without one)."""
    address = parse_address(args.get("line1"), args.get("city"), args.get("postcode"), args.get("latitude"),
                            args.get("longitude"))
    return address.coordinates or places.locate(address.line1, address.postcode, address.city)


def _time_link(start: datetime, zone: tzinfo, base: str, day: str, clock: str) -> TimeLink:
    local = start.astimezone(zone)
    label = clock_time(local.hour, local.minute, clock)
    return TimeLink(local.isoformat(), f"{base}{start:%Y-%m-%dT%H:%M:%SZ}", label, f"{day}, {label}")


def day_label(day: date) -> str:
    """'Tuesday 8 December': how a day is named to screen readers and in the times heading."""
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month]}"


def _month_name(first: date) -> str:
    return f"{_MONTH_NAMES[first.month]} {first.year}"


def _weeks(month: date, days: dict, selected: date | None, today: date, day_url: str) -> list[list[DayCell]]:
    """The month's weeks (Monday first) as cells: the date, whether it has free times, its link and its name."""
    weeks = []
    for week in _WEEKS.monthdatescalendar(month.year, month.month):
        cells = []
        for d in week:
            count = len(days.get(d, ()))
            iso, name = d.isoformat(), day_label(d)
            cells.append(DayCell(d, iso, d.day, d.month == month.month, count > 0, d == selected, d == today,
                                 f"{day_url}{iso}" if count else None,
                                 f"{name}, {count} free time{'' if count == 1 else 's'}" if count
                                 else f"{name}, no free times"))
        weeks.append(cells)
    return weeks
