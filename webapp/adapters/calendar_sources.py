"""Where a tutor's busy time comes from, behind one interface: `CalendarSource.busy(start, end, zone)` gives the
busy blocks over [start, end) or raises SourceUnavailable with a message for the tutor.

Two kinds: a secret iCal address (fetched safely, expanded with recurring-ical-events) and Google Calendar's
free/busy API (OAuth refresh token). Both do their network calls here, so the sync service calls `busy()` with no
transaction open and only then writes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain.busy_time import BusyBlock
from . import google_calendar, ics_import, safe_fetch


class SourceUnavailable(RuntimeError):
    """No busy time this time; `message` says why in words, `reconnect` that only the tutor can fix it."""

    def __init__(self, message: str, reconnect: bool = False):
        super().__init__(message)
        self.message, self.reconnect = message, reconnect


class CalendarSource(Protocol):
    """Anything that can say when a tutor is busy."""

    def busy(self, start: datetime, end: datetime, zone: str) -> list[BusyBlock]: ...


@dataclass(frozen=True)
class SecretAddress:
    """A calendar's secret iCal address (Google's "secret address in iCal format", iCloud, Outlook)."""

    url: str
    max_bytes: int
    timeout: float
    allowed_networks: tuple = ()

    def busy(self, start: datetime, end: datetime, zone: str) -> list[BusyBlock]:
        try:
            data = safe_fetch.fetch(self.url, max_bytes=self.max_bytes, timeout=self.timeout,
                                    allowed_networks=self.allowed_networks, user_agent="Lessonbook calendar sync")
            return ics_import.busy_blocks(data, start, end, zone)
        except (safe_fetch.FetchRefused, safe_fetch.FetchFailed, ics_import.CalendarFileError) as exc:
            raise SourceUnavailable(str(exc)) from None


@dataclass(frozen=True)
class GoogleFreeBusy:
    """A Google account's primary calendar, read through the free/busy API with the tutor's refresh token."""

    settings: google_calendar.GoogleSettings
    refresh_token: str
    calendar_ids: tuple[str, ...] = ("primary",)

    def busy(self, start: datetime, end: datetime, zone: str) -> list[BusyBlock]:
        try:
            token = google_calendar.access_token(self.settings, self.refresh_token)
            return google_calendar.free_busy(self.settings, token, start, end, self.calendar_ids)
        except google_calendar.GoogleAccessRevoked as exc:
            raise SourceUnavailable(str(exc), reconnect=True) from None
        except google_calendar.GoogleCalendarError as exc:
            raise SourceUnavailable(str(exc)) from None
