"""Parsing request parameters shared by the pages and the JSON API (validation in words)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from flask import current_app

from ..domain import limits
from ..domain.money import parse_major_amount
from ..domain.timezones import TimeZoneError, viewer_zone
from ..services.availability import SlotRequest, date_range_in_zone
from ..services.bookings import Address, BookingRequest, parse_address
from ..services import places
from ..services.errors import ValidationError

MAX_INT = limits.MAX_ID  # ids and counts fit a 32-bit column; larger numbers are input errors, not server errors
# Dates people can mean; beyond these, date arithmetic overflows (year 1 or 9999) and nobody books lessons.
EARLIEST, LATEST = date(1900, 1, 1), date(9999, 12, 1)


def optional_int(args, name: str) -> int | None:
    """An optional whole-number parameter, or ValidationError naming it."""
    value = args.get(name)
    if value in (None, ""):
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValidationError(f"{name} must be a whole number.", {name: "Must be a whole number."}) from None
    if abs(number) > MAX_INT:
        raise ValidationError(f"{name} is out of range.", {name: "Out of range."})
    return number


def required_int(args, name: str, label: str) -> int:
    """A required whole-number parameter."""
    number = optional_int(args, name)
    if number is None:
        raise ValidationError(f"{label} is required.", {name: f"{label} is required."})
    return number


def parse_date(value, name: str) -> date:
    """YYYY-MM-DD, or ValidationError."""
    try:
        day = date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a date like 2027-03-28.", {name: "Use YYYY-MM-DD."}) from None
    return _in_calendar(day, name)


def _in_calendar(day: date, name: str) -> date:
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(f"{name} is out of range.", {name: f"Choose a date between {EARLIEST} and {LATEST}."})
    return day


def parse_instant(value, name: str = "start") -> datetime:
    """An ISO 8601 instant with an offset (e.g. 2027-03-28T09:00:00+01:00 or ...Z)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be an ISO 8601 time like 2027-03-28T09:00:00Z.",
                              {name: "Use ISO 8601 with an offset."}) from None
    if moment.tzinfo is None:
        raise ValidationError(f"{name} needs a UTC offset or Z.", {name: "Include a UTC offset or Z."})
    _in_calendar(moment.date(), name)
    return moment


def bookable_dates(first: date, last: date, today: date) -> tuple[date, date] | None:
    """Of the local dates first..last, those anyone could book: from today, up to the longest horizon, at most
    MAX_RANGE_DAYS after the first of them; None when there are none (an end before the start names no date)."""
    first, latest = max(first, today), today + timedelta(days=limits.HORIZON_DAYS[1])
    if first > latest or last < first:
        return None
    return first, min(last, latest, first + timedelta(days=limits.MAX_RANGE_DAYS))


def zone_from(args, fallback: str) -> tuple[tzinfo, str]:
    """The viewer's zone from `tz` (IANA) or `utc_offset`, else the fallback."""
    try:
        return viewer_zone(args.get("tz"), args.get("utc_offset"), fallback)
    except TimeZoneError as exc:
        field = "tz" if args.get("tz") else "utc_offset"
        raise ValidationError(str(exc), {field: str(exc)}) from None


def lesson_type(args) -> bool:
    """True for in person; 'online' (default) or 'in_person'."""
    value = (args.get("lesson_type") or "online")
    if value not in ("online", "in_person"):
        raise ValidationError("lesson_type is online or in_person.", {"lesson_type": "Choose online or in person."})
    return value == "in_person"


def address_from(args, prefix: str = "") -> Address:
    """An address from flat fields (line1, city, postcode, latitude, longitude)."""
    return parse_address(args.get(prefix + "line1"), args.get(prefix + "city"), args.get(prefix + "postcode"),
                         args.get(prefix + "latitude"), args.get(prefix + "longitude"))


def located(address: Address):
    """The address's coordinates: those an API client sent, else the geocoder's (None without one)."""
    return address.coordinates or places.locate(address.line1, address.postcode, address.city)


def duration_from(args) -> int:
    """The requested duration, defaulting to the configured default."""
    value = optional_int(args, "duration")
    return current_app.config["LESSON_DEFAULT_DURATION"] if value is None else value


def slot_request_from(args, tutor_id: int, teach_id: int, zone: tzinfo, first: date, last: date) -> SlotRequest:
    """Build the slot query for local dates first..last in the viewer's zone."""
    start, end = date_range_in_zone(first, last, zone)
    in_person = lesson_type(args)
    location = None
    if in_person and args.get("line1"):
        if (args.get("latitude") in (None, "")) != (args.get("longitude") in (None, "")):
            args = {**args, "latitude": None, "longitude": None}  # half a position is none: place the address
        location = located(address_from(args))
    return SlotRequest(tutor_id, teach_id, start, end, duration_from(args), in_person, location)


def booking_request_from(data, tutor_id: int) -> BookingRequest:
    """Build a booking request from form fields or a JSON body."""
    in_person = lesson_type(data)
    address = None
    if in_person:
        address_data = data.get("address") if isinstance(data.get("address"), dict) else data
        address = address_from(address_data)
    return BookingRequest(
        tutor_id=tutor_id, teach_id=required_int(data, "teach_id", "The subject"),
        # The API's schema has read the start already (any year); a form sends text.
        start=data["start"] if isinstance(data.get("start"), datetime) else parse_instant(data.get("start")),
        duration_minutes=duration_from(data), in_person=in_person, address=address,
        child_id=optional_int(data, "child_id"), note=str(data.get("note") or ""),
        form_key=data.get("form_key") if isinstance(data.get("form_key"), str) else None)


def rate_currency_from(args) -> str:
    """The currency a max-rate filter is typed in (`currency`, default GBP); ValidationError in words otherwise."""
    currency = str(args.get("currency") or "GBP").strip().upper()
    if currency not in limits.CURRENCIES:
        message = f"Choose a currency from {', '.join(limits.CURRENCIES)}."
        raise ValidationError(message, {"currency": message})
    return currency


def max_rate_from(args, currency: str = "GBP") -> int | None:
    """A price filter typed as major units ('40' or '40.50') in `currency` → minor units."""
    value = str(args.get("max_rate") or "").strip()
    if not value:
        return None
    try:
        amount = parse_major_amount(value, currency, bounded=False)
    except ValueError as exc:
        raise ValidationError(str(exc), {"max_rate": str(exc)}) from None
    return min(amount, MAX_INT)  # rates are 32-bit columns, so capping changes no result


def month_from(args, today: date) -> date | None:
    """The booker's month from `month` (YYYY-MM): None when absent; never before this month, at most a year ahead."""
    value = args.get("month")
    if not value:
        return None
    try:
        year, month = (int(part) for part in str(value).split("-"))
        first = date(year, month, 1)
    except (TypeError, ValueError):
        raise ValidationError("month must look like 2027-03.", {"month": "Use YYYY-MM."}) from None
    if first > today + timedelta(days=400):
        raise ValidationError("Choose a month within the next year.", {"month": "Within the next year."})
    return max(first, today.replace(day=1))


def clock_from(args, remembered: str | None) -> str:
    """'12' or '24' (hours on the clock): the URL's choice, else the remembered one, else 24."""
    for value in (args.get("clock"), remembered):
        if value in ("12", "24"):
            return value
    return "24"


def week_dates(args, zone: tzinfo, today: date) -> tuple[date, date]:
    """The 7 local dates the slot picker shows, starting at `week` (default today), never before today."""
    first = parse_date(args["week"], "week") if args.get("week") else today
    first = max(first, today)
    return first, first + timedelta(days=6)
