"""Jinja filters and globals: times in the viewer's zone, money in words."""
from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from .domain.fees import FeeBreakdown
from .domain.funding import Funding
from .domain.labels import (booking_label, clock_time, funding_name, purchase_words, refund_failure_words,
                            state_label, total_label, unit_label)
from .domain.marking import answer_hint
from .domain.money import Money
from .domain.timezones import known_zones


def viewer_zone_name() -> str:
    """The signed-in user's zone, else the site default."""
    from flask import current_app
    if getattr(current_user, "is_authenticated", False):
        return current_user.timezone
    return current_app.config["DEFAULT_TIMEZONE"]


def local(dt: datetime | None, zone: str | None = None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """Format an aware datetime in `zone` (default: the viewer's)."""
    if dt is None:
        return ""
    try:
        return dt.astimezone(ZoneInfo(zone or viewer_zone_name())).strftime(fmt)
    except OverflowError:  # a stored time at the calendar's edge (year 1 or 9999) shifted past it: show it in UTC
        return dt.strftime(fmt)


def time_of_day(dt: datetime, clock: str = "24") -> str:
    """A wall-clock time on the viewer's chosen clock: '13:30' or '1:30pm'."""
    return clock_time(dt.hour, dt.minute, clock)


_ZONE_AREAS = ("Africa/", "America/", "Antarctica/", "Asia/", "Atlantic/", "Australia/", "Europe/", "Indian/",
               "Pacific/")


@lru_cache(maxsize=1)
def zone_names() -> list[str]:
    """The IANA zones people pick from (canonical areas, sorted; legacy aliases like US/Eastern left out)."""
    return sorted(z for z in known_zones() if z.startswith(_ZONE_AREAS)) + ["UTC"]


def zone_abbreviation(dt: datetime, zone: str) -> str:
    """The zone's short name at that instant (GMT/BST, EST/EDT), else its IANA name where there is none (+04)."""
    try:
        abbreviation = dt.astimezone(ZoneInfo(zone)).strftime("%Z")
    except OverflowError:  # at the calendar's edge `local` shows UTC
        return "UTC"
    return abbreviation if abbreviation[:1].isalpha() else zone


def zoned(dt: datetime | None, zone: str | None = None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """`local`, followed by the zone it is in ("Wed 02 Dec 2026, 14:00 GMT"): every time a person reads says whose."""
    if dt is None:
        return ""
    zone = zone or viewer_zone_name()
    return f"{local(dt, zone, fmt)} {zone_abbreviation(dt, zone)}"


def money(amount_minor: int, currency: str) -> str:
    """Format minor units with the currency symbol."""
    return Money(int(amount_minor), currency).format()


def receipt_lines(receipt, booking_state: str) -> list:
    """A stored receipt's lines for the student (price, discount, fee, total named for where the money stands)."""
    return FeeBreakdown.from_dict(receipt.breakdown).student_lines(total_label(booking_state))


def booking_state_words(booking) -> str:
    """A booking's state for lists (the tutor's lessons, the admin's bookings), for what paid for it: "Paid with 60
    minutes" for prepaid minutes (a minute-paid booking holds its lesson's duration)."""
    return booking_label(booking.state, booking.funding, booking.lesson.duration_minutes)


def booking_price(booking) -> str:
    """What a booking costs its booker, in what they pay with: "60 prepaid minutes" for minutes, else the money."""
    if booking.funding == Funding.MINUTES:
        return f"{booking.lesson.duration_minutes} prepaid minutes"
    return money(booking.price_minor, booking.currency)


def lesson_with(lesson, viewer) -> str:
    """Who the lesson is with, seen by `viewer`: its learners (children a parent booked, students) for its tutor,
    else the tutor."""
    if viewer is not None and getattr(viewer, "id", None) == lesson.tutor_id:
        return ", ".join([c.name for c in lesson.children] + [s.name for s in lesson.students]) or "no student yet"
    return lesson.tutor.name


def purchase_status(purchase, totals=None) -> str:
    """A package purchase's status in words, with its refund totals (services/package_refunds.refund_totals)."""
    return purchase_words(purchase.state, purchase.price_minor, getattr(totals, "refunded_minor", 0),
                          getattr(totals, "pending_minor", 0), purchase.currency)


def readable_json(value) -> str:
    """A stored JSON value as a person reads it: its own characters (é, <, &) left for the template's escaping,
    where `tojson` would show \\u00e9 and \\u003c (it escapes for a <script>, not for reading)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def init_app(app: Flask) -> None:
    """Register filters and template globals."""
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["readable_json"] = readable_json
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["time_of_day"] = time_of_day
    app.jinja_env.globals["zone_names"] = zone_names
    app.jinja_env.filters["zoned"] = zoned
    app.jinja_env.filters["state_label"] = state_label
    app.jinja_env.filters["booking_state"] = booking_state_words
    app.jinja_env.filters["booking_price"] = booking_price
    app.jinja_env.filters["lesson_with"] = lesson_with
    app.jinja_env.filters["funding_name"] = funding_name
    app.jinja_env.filters["unit"] = unit_label
    app.jinja_env.filters["answer_hint"] = answer_hint
    app.jinja_env.filters["purchase_status"] = purchase_status
    app.jinja_env.filters["refund_failure"] = refund_failure_words
    app.jinja_env.globals["viewer_zone_name"] = viewer_zone_name
    app.jinja_env.globals["receipt_lines"] = receipt_lines
