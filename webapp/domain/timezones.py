"""Time zone names and UTC offsets as users send them; pure functions over zoneinfo."""
from __future__ import annotations

import re
from datetime import timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$")


MAX_ZONE_NAME = 64  # longer than any IANA name; zoneinfo raises OSError on very long ones


class TimeZoneError(ValueError):
    """A zone name or offset we cannot use."""


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Every IANA zone name this machine knows."""
    return frozenset(available_timezones())


def validate_zone(name: str | None) -> str:
    """Return `name` if it is an IANA zone (e.g. Europe/London), else raise TimeZoneError in words."""
    if name is not None and not isinstance(name, str):
        raise TimeZoneError("A time zone is a name such as Europe/London.")
    name = (name or "").strip()
    if not name:
        raise TimeZoneError("Choose a time zone.")
    if name not in known_zones():
        try:
            if len(name) > MAX_ZONE_NAME:
                raise ValueError
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise TimeZoneError(f"Unknown time zone: {name}. Use an IANA name such as Europe/London.") from None
    return name


def parse_utc_offset(text: str) -> timezone:
    """Parse '+05:30', '-0400', 'UTC+1' into a fixed offset (only for clients that send an offset)."""
    match = _OFFSET.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise TimeZoneError(f"Unknown UTC offset: {text}. Use a form like +05:30.")
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60 or minutes % 15:
        raise TimeZoneError(f"Unknown UTC offset: {text}. Offsets run from -12:00 to +14:00 in quarter hours.")
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if sign == "-" else delta)


def viewer_zone(tz_name: str | None, utc_offset: str | None, fallback: str) -> tuple[tzinfo, str]:
    """The zone to show times in: an IANA name wins, then an offset, then the fallback; returns (tzinfo, label)."""
    if tz_name:
        name = validate_zone(tz_name)
        return ZoneInfo(name), name
    if utc_offset:
        zone = parse_utc_offset(utc_offset)
        return zone, zone.tzname(None) or "UTC"
    return ZoneInfo(fallback), fallback


def match_zone(text: str | None) -> str | None:
    """The IANA zone a person meant by what they typed: the name in any case, or its city ('new york', 'Tokyo');
    None when nothing (or more than one zone) fits."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_ZONE_NAME:
        return None
    if text in known_zones():
        return text  # spelled exactly (every link the booker makes): no search through six hundred names
    wanted = text.strip().replace(" ", "_").lower()
    by_name = [z for z in known_zones() if z.lower() == wanted]
    if by_name:
        return by_name[0]
    by_city = [z for z in known_zones() if z.rsplit("/", 1)[-1].lower() == wanted and "/" in z
               and not z.startswith(("posix/", "right/", "Etc/", "SystemV/", "US/"))]
    return by_city[0] if len(by_city) == 1 else None
