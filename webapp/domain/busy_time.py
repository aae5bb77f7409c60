"""External busy time as plain values: blocks from a tutor's calendar, the window a sync covers, and freshness.

A sync replaces a source's stored blocks with what its calendar says now (never merges), so a deleted or moved
event stops blocking time at the next sync. Stdlib only; reading iCalendar is the adapters' job."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Days past the tutor's booking horizon that a sync also covers: a lesson starting on the last bookable day may
# end after it, and the horizon is counted from a slightly later "now" by the time someone books.
WINDOW_MARGIN = timedelta(days=1)


@dataclass(frozen=True, order=True)
class BusyBlock:
    """One busy stretch of a tutor's external calendar, in UTC; `key` names the occurrence (event and instance)."""

    start: datetime
    end: datetime
    key: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("busy time must be aware")
        if self.end <= self.start:
            raise ValueError("busy time must end after it starts")


def occurrence_key(uid: str, instance: str) -> str:
    """A short stable name for one occurrence of an event (calendar UIDs can be long and contain anything)."""
    return hashlib.sha256(f"{uid}\x00{instance}".encode()).hexdigest()[:40]


def whole_days(first: date, after_last: date, zone: str) -> tuple[datetime, datetime]:
    """An all-day event from `first` up to (not including) `after_last`, as the whole local days in `zone`:
    midnight to midnight there, so a day off covers the tutor's own day, whatever its length (23 or 25 hours)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(first, time(0), tz).astimezone(UTC)
    end = datetime.combine(max(after_last, first + timedelta(days=1)), time(0), tz).astimezone(UTC)
    return start, end


def local_to_utc(moment: datetime, zone: str) -> datetime:
    """A calendar time in UTC: aware times keep their instant, floating (zone-less) ones are read in `zone`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def sync_window(now: datetime, horizon_days: int) -> tuple[datetime, datetime]:
    """The stretch a sync reads: from now to the end of the tutor's booking horizon (plus a margin)."""
    return now, now + timedelta(days=horizon_days) + WINDOW_MARGIN


def within(blocks: list[BusyBlock], start: datetime, end: datetime) -> list[BusyBlock]:
    """The blocks overlapping [start, end), each once by key (a calendar may list an occurrence twice), sorted."""
    seen: dict[str, BusyBlock] = {}
    for block in blocks:
        if block.end > start and block.start < end:
            seen.setdefault(block.key, block)
    return sorted(seen.values())


def is_stale(last_synced_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Whether busy time last read at `last_synced_at` is too old to trust (never read: stale)."""
    return last_synced_at is None or now - last_synced_at > max_age
