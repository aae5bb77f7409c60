"""Calendar files (iCalendar, RFC 5545) for lesson emails, written by the icalendar library as iTIP messages.

A REQUEST or CANCEL (RFC 5546) needs an ORGANIZER, the ATTENDEEs, a DTSTAMP and a UID that stays the same for
the lesson, so a calendar updates (or removes) the event it already has when the SEQUENCE is higher."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from icalendar import Calendar, Event, vCalAddress

from ..domain.calendar_entry import CalendarEntry

PRODID = "-//Lessonbook//Lessons//EN"
FILENAME = "lesson.ics"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("calendar times must be aware")
    return moment.astimezone(UTC)


def organizer_address(mail_from: str) -> vCalAddress:
    """The ORGANIZER from an RFC 5322 address such as `Lessonbook <no-reply@example.com>` (CN = its name)."""
    name, address = parseaddr(mail_from)
    if "@" not in address:
        raise ValueError(f"the organizer needs an email address, not {mail_from!r}")
    return vCalAddress.new(address, cn=name or address)


def to_ics(entry: CalendarEntry, *, organizer: str, stamp: datetime) -> bytes:
    """A VCALENDAR with one VEVENT: METHOD REQUEST (or CANCEL), times in UTC, everyone having accepted.

    The lesson is already agreed by both sides when a file is sent, so each ATTENDEE is ACCEPTED and no
    reply is asked for (replies would go to the organizer, a no-reply address)."""
    attendees = [vCalAddress.new(a.email, cn=a.name or None, role="REQ-PARTICIPANT", partstat="ACCEPTED",
                                 rsvp=False) for a in entry.attendees]
    event = Event.new(uid=entry.uid, stamp=_utc(stamp), start=_utc(entry.start), end=_utc(entry.end),
                      summary=entry.summary, description=entry.description or None,
                      location=entry.location or None, sequence=entry.sequence, status=entry.status,
                      organizer=organizer_address(organizer), attendees=attendees)
    calendar = Calendar.new(prodid=PRODID, method=entry.method, calscale="GREGORIAN", subcomponents=[event])
    del calendar["UID"]  # Calendar.new adds a random calendar UID (RFC 7986); only the event's UID matters here
    return calendar.to_ical()


def attachment(entry: CalendarEntry, *, organizer: str, stamp: datetime) -> tuple[str, str, bytes]:
    """The email attachment: file name, MIME type (with the iTIP method mail clients look for) and bytes."""
    return (FILENAME, f"text/calendar; method={entry.method}; charset=UTF-8",
            to_ics(entry, organizer=organizer, stamp=stamp))


def feed_ics(entries: list[CalendarEntry], *, name: str, stamp: datetime) -> bytes:
    """A subscribed calendar (RFC 5545 with RFC 7986's NAME and REFRESH-INTERVAL; icalendar adds the X-WR-CALNAME that Google and Apple show): no METHOD, no ORGANIZER or
    ATTENDEEs (a feed is published, not an invitation), one VEVENT per lesson with its UID, SEQUENCE and STATUS,
    so a reader updates moved lessons in place and shows cancelled ones as cancelled."""
    events = [Event.new(uid=e.uid, stamp=_utc(stamp), start=_utc(e.start), end=_utc(e.end), summary=e.summary,
                        description=e.description or None, location=e.location or None, sequence=e.sequence,
                        status=e.status) for e in entries]
    calendar = Calendar.new(prodid=PRODID, calscale="GREGORIAN", name=name, subcomponents=events)
    del calendar["UID"]
    calendar.add("REFRESH-INTERVAL", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", "PT1H")  # Outlook's and Apple's older spelling of the same hint
    return calendar.to_ical()
