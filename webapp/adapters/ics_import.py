"""Read a calendar file (iCalendar) into busy time: recurring events expanded by `recurring-ical-events`.

RRULE, RDATE, EXDATE and moved or cancelled single instances (RECURRENCE-ID) are the library's; Google's
X-WR-TIMEZONE is applied by it too. Here: skip what does not make anyone busy (cancelled, transparent), read
all-day events as whole days and floating times in the tutor's zone, and stop at a cap so a calendar with an
event every minute cannot swamp the database."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import recurring_ical_events
from icalendar import Calendar

from ..domain.busy_time import BusyBlock, local_to_utc, occurrence_key, whole_days, within

# Occurrences read per calendar at most: more in the window means the calendar cannot be read (fail closed).
MAX_OCCURRENCES = 20_000


class CalendarFileError(ValueError):
    """A calendar file we cannot read; the message says why, in words a tutor can act on."""


def parse(data: bytes) -> Calendar:
    """The calendar in `data`, or CalendarFileError."""
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise CalendarFileError(f"This is not a calendar file (iCalendar) we can read: {str(exc)[:200]}") from None
    calendar = next((c for c in calendars if c.name == "VCALENDAR"), None)
    if calendar is None:
        raise CalendarFileError("This is not a calendar file: it has no VCALENDAR.")
    return calendar


def busy_blocks(data: bytes, start: datetime, end: datetime, zone: str,
                max_occurrences: int = MAX_OCCURRENCES) -> list[BusyBlock]:
    """The busy time in the calendar file `data` overlapping [start, end), in UTC; all-day and floating times are
    read in the tutor's `zone`."""
    calendar = parse(data)
    try:
        # The library takes the window's ends as local wall times for floating and all-day events: widen by a day
        # either side so none is missed in any zone, then keep exactly what overlaps.
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        blocks = []
        for count, event in enumerate(query.after(start - timedelta(days=1)), start=1):
            if count > max_occurrences:
                raise CalendarFileError(f"This calendar has more than {max_occurrences:,} events in the next "
                                        "weeks; we cannot read that many.")
            block = _block(event, zone)
            if block is None:
                continue
            if block.start >= end + timedelta(days=1):
                break  # occurrences come in order of start: the rest are later still
            blocks.append(block)
    except CalendarFileError:
        raise
    except Exception as exc:  # the libraries raise many kinds on malformed rules and dates
        raise CalendarFileError(f"This calendar has an event we cannot read: {str(exc)[:200]}") from None
    return within(blocks, start, end)


def _block(event, zone: str) -> BusyBlock | None:
    """One occurrence as busy time, or None when it does not make the tutor busy."""
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    dtstart = event.get("DTSTART")
    if dtstart is None:
        return None
    first = dtstart.dt
    last = event["DTEND"].dt if "DTEND" in event else None
    if isinstance(first, datetime):
        begin = local_to_utc(first, zone)
        if isinstance(last, datetime):
            finish = local_to_utc(last, zone)
        elif "DURATION" in event:
            finish = begin + event["DURATION"].dt
        else:
            finish = begin  # RFC 5545: no end and no duration means an instant, which blocks nothing
    elif isinstance(first, date):
        after_last = last if isinstance(last, date) and not isinstance(last, datetime) else None
        if after_last is None and "DURATION" in event:
            after_last = first + timedelta(days=max(1, event["DURATION"].dt.days))
        begin, finish = whole_days(first, after_last or first + timedelta(days=1), zone)
    else:
        return None
    if finish <= begin:
        return None
    uid = str(event.get("UID", ""))
    return BusyBlock(begin, finish, occurrence_key(uid, f"{begin.astimezone(UTC).isoformat()}/{finish.isoformat()}"))
