"""What a calendar file says about one lesson, as plain data: who, when (aware datetimes), and which version.

Turning it into iCalendar text is the job of `webapp/adapters/calendar_files.py` (the icalendar library);
this module stays stdlib-only so services can build entries and store them as JSON in the outbox."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Attendee:
    """Someone taking part in the lesson: the tutor, a student, or the parent of a child."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class CalendarEntry:
    """What a calendar needs to show (or remove) a lesson; bump `sequence` whenever it moves or is cancelled."""

    uid: str
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    sequence: int = 0
    cancelled: bool = False
    attendees: tuple[Attendee, ...] = ()

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("calendar times must be aware")
        if self.end < self.start:
            raise ValueError("a calendar entry cannot end before it starts")
        if self.sequence < 0:
            raise ValueError("the sequence of a calendar entry is never negative")

    @property
    def method(self) -> str:
        """The iTIP method (RFC 5546): a cancelled lesson is withdrawn, any other is (re)sent as a request."""
        return "CANCEL" if self.cancelled else "REQUEST"

    @property
    def status(self) -> str:
        """The event's STATUS."""
        return "CANCELLED" if self.cancelled else "CONFIRMED"

    def to_json(self) -> dict:
        """A JSON-ready dict (the outbox stores it with the email and builds the file when it sends)."""
        return {"uid": self.uid, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "summary": self.summary, "description": self.description, "location": self.location,
                "sequence": self.sequence, "cancelled": self.cancelled,
                "attendees": [{"email": a.email, "name": a.name} for a in self.attendees]}

    @classmethod
    def from_json(cls, data: dict) -> CalendarEntry:
        """The entry `to_json` wrote (messages queued before attendees were stored have none)."""
        return cls(uid=data["uid"], start=datetime.fromisoformat(data["start"]),
                   end=datetime.fromisoformat(data["end"]), summary=data["summary"],
                   description=data.get("description", ""), location=data.get("location", ""),
                   sequence=int(data.get("sequence", 0)), cancelled=bool(data.get("cancelled")),
                   attendees=tuple(Attendee(a["email"], a.get("name", "")) for a in data.get("attendees", [])))
