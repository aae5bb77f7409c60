"""The tutor directory, a tutor's profile, and the HTMX slot picker."""
from __future__ import annotations

import re
from datetime import date, datetime

from flask import Blueprint, request, url_for
from flask_login import current_user

from ..domain import limits
from ..domain.analytics import EventName
from ..domain.timezones import match_zone
from ..services import analytics, availability, booker, catalogue, reviews
from ..services.catalogue import TutorFilters
from ..services.errors import ValidationError
from . import params
from .common import is_htmx, now_utc, render

bp = Blueprint("tutors", __name__)
CLOCK_COOKIE = "clock"  # the viewer's 12/24-hour choice, remembered between visits


WEEKDAYS = [("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"), ("sat", "Sat"),
            ("sun", "Sun")]
TIMES_OF_DAY = [("morning", "Morning", "06–12"), ("afternoon", "Afternoon", "12–18"),
                ("evening", "Evening", "18–24"), ("night", "Night", "00–06")]


def directory_filters(args) -> TutorFilters:
    """Directory filters from query parameters (bad ones raise ValidationError)."""
    mode = args.get("mode") or None
    if mode not in (None, "online", "in_person"):
        raise ValidationError("Choose online or in person.", {"mode": "Choose online or in person."})
    day_keys = [key for key, _ in WEEKDAYS]
    days, times = args.getlist("days"), args.getlist("times")
    if any(d not in day_keys for d in days):
        raise ValidationError("Choose days of the week from Mon to Sun.", {"days": "Choose days from Mon to Sun."})
    if any(t not in availability.TIMES_OF_DAY for t in times):
        message = "Choose times of day from morning, afternoon, evening and night."
        raise ValidationError(message, {"times": message})
    zone, _ = params.zone_from(args, _viewer_zone_fallback())
    currency = params.rate_currency_from(args)
    return TutorFilters(subject_id=params.optional_int(args, "subject_id"),
                        level_id=params.optional_int(args, "level_id"), mode=mode,
                        max_rate_minor=params.max_rate_from(args, currency), currency=currency,
                        free_days=frozenset(day_keys.index(d) for d in days), free_times=frozenset(times), zone=zone)


def _viewer_zone_fallback() -> str:
    return current_user.timezone if current_user.is_authenticated else "UTC"


@bp.get("/tutors")
def directory():
    """Find a tutor: filters (free days and times of day too) update the list with HTMX and stay in the URL."""
    error = None
    try:
        cards = availability.search_tutors_by_free_time(directory_filters(request.args), now_utc())
    except ValidationError as exc:
        # The answer shows under the filters, away from the box: say which one ("Enter an amount like 42.50" alone
        # did not).
        named = next((f"{label}: {exc.message}" for field, label in (("max_rate", "Max hourly rate"),
                      ("currency", "Currency")) if field in exc.fields), exc.message)
        cards, error = [], named
    zone = request.args.get("tz") or (current_user.timezone if current_user.is_authenticated else "")
    return render("tutors/directory.html", partial="tutors/_results.html", cards=cards, error=error,
                  catalogue=catalogue.catalogue(), args=request.args, weekdays=WEEKDAYS, times_of_day=TIMES_OF_DAY,
                  currencies=limits.CURRENCIES,
                  zone=zone, status=422 if error else 200)


@bp.get("/tutors/<id:tutor_id>")
def profile(tutor_id: int):
    """A tutor's profile with bio, subjects, prices and the booker (only the booker for its own HTMX requests)."""
    now = now_utc()
    view = booker.tutor_booker(tutor_id, booker_ask(request.args, now), now,
                               url_for("tutors.profile", tutor_id=tutor_id), url_for("bookings.new", tutor_id=tutor_id))
    summary = None if is_htmx() else reviews.review_summary(tutor_id, now)
    page = render("tutors/profile.html", partial="tutors/_slots.html", review_summary=summary,
                  status=422 if view.error and is_htmx() else 200, **view.context)
    # Counted once the page is rendered: the view's commit would otherwise expire what the page still reads.
    _viewed(EventName.SLOTS_VIEWED if is_htmx() else EventName.TUTOR_VIEWED, tutor_id, now)
    return _booker_response(page, view)


@bp.get("/tutors/<id:tutor_id>/slots")
def slots(tutor_id: int):
    """The booker alone (HTMX partial; the full profile without HTMX). Kept for links made before the booker."""
    now = now_utc()
    view = booker.tutor_booker(tutor_id, booker_ask(request.args, now), now,
                               url_for("tutors.profile", tutor_id=tutor_id), url_for("bookings.new", tutor_id=tutor_id))
    page = render("tutors/profile.html", partial="tutors/_slots.html", status=422 if view.error else 200,
                  **view.context)
    _viewed(EventName.SLOTS_VIEWED, tutor_id, now)  # after rendering (see profile)
    return _booker_response(page, view)


def _viewed(name: EventName, tutor_id: int, now: datetime) -> None:
    """Count the view (the funnel's first step) for whoever is looking, signed in or not."""
    analytics.record_view(name, current_user.id if current_user.is_authenticated else None, now, tutor_id=tutor_id)


def _booker_response(response, view: booker.Booker):
    """Remember the 12/24-hour choice for the next visit (the URL still carries it for links)."""
    if request.args.get("clock") in ("12", "24"):
        response.set_cookie(CLOCK_COOKIE, view.clock, max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def booker_ask(args, now: datetime) -> booker.BookerAsk:
    """The booker's query parameters read into values; the first one that cannot be read becomes the ask's error."""
    if args.get("tz") and (meant := match_zone(args["tz"])) and meant != args["tz"]:
        args = {**args.to_dict(), "tz": meant}  # typed as 'new york' or 'tokyo': the zone they meant
    signed_in = current_user.is_authenticated
    fallback = current_user.timezone if signed_in else "UTC"
    remembered = request.cookies.get(CLOCK_COOKIE)
    common = {"args": args, "clock": params.clock_from(args, remembered),
              "zone_in_links": bool(args.get("tz")) or signed_in, "detect_zone": not signed_in and not args.get("tz"),
              "detect_clock": not signed_in and not {args.get("clock"), remembered} & {"12", "24"}}
    label = args.get("tz") or fallback
    try:
        zone, label = params.zone_from(args, fallback)
        teach_id = params.optional_int(args, "teach_id")
        today = now.astimezone(zone).date()
        day = params.parse_date(args["day"], "day") if args.get("day") else None
        month = params.month_from(args, today) or (day.replace(day=1) if day else None)
        return booker.BookerAsk(zone=zone, zone_label=label, teach_id=teach_id, day=day, month=month,
                                duration=params.duration_from(args), in_person=params.lesson_type(args),
                                lesson_type_asked=bool(args.get("lesson_type")), **common)
    except ValidationError as exc:
        kept_month, kept_day = _kept_month_and_day(args)
        return booker.BookerAsk(zone=None, zone_label=label, error=exc.message, kept_month=kept_month,
                                kept_day=kept_day, in_person=args.get("lesson_type") == "in_person", **common)


def _kept_month_and_day(args) -> tuple[str | None, str | None]:
    """The month and day the booker showed before a bad option (a mistyped zone), when they are themselves valid, so
    fixing the option returns to the same day instead of this month."""
    month = str(args.get("month") or "")
    try:
        month = month if re.fullmatch(r"\d{4}-\d{2}", month) and date.fromisoformat(month + "-01") else None
    except ValueError:
        month = None
    try:
        day = params.parse_date(args["day"], "day").isoformat() if args.get("day") else None
    except ValidationError:
        day = None
    return month, day
