"""iCalendar (RFC 5545) text for one lesson: stdlib only, times in UTC, lines folded and escaped."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class CalendarEntry:
    """What a calendar needs to show (or remove) a lesson; bump `sequence` whenever it moves."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    sequence: int = 0
    cancelled: bool = False


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _stamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("calendar times must be aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not parts else 74):
            parts.append(current.decode())
            current = b""
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)


def to_ics(entry: CalendarEntry, stamp: datetime) -> str:
    """A VCALENDAR with one VEVENT (METHOD:REQUEST, or CANCEL for a cancelled lesson)."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Lessonbook//Lessons//EN", "CALSCALE:GREGORIAN",
        f"METHOD:{'CANCEL' if entry.cancelled else 'REQUEST'}",
        "BEGIN:VEVENT", f"UID:{entry.uid}", f"SEQUENCE:{entry.sequence}", f"DTSTAMP:{_stamp(stamp)}",
        f"DTSTART:{_stamp(entry.start)}", f"DTEND:{_stamp(entry.end)}", f"SUMMARY:{_escape(entry.summary)}",
    ]
    if entry.description:
        lines.append(f"DESCRIPTION:{_escape(entry.description)}")
    if entry.location:
        lines.append(f"LOCATION:{_escape(entry.location)}")
    lines.append(f"STATUS:{'CANCELLED' if entry.cancelled else 'CONFIRMED'}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
