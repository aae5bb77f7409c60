"""The tutor directory, a tutor's profile, and the HTMX slot picker."""
from __future__ import annotations

import calendar
import re
from datetime import UTC, date, timedelta
from urllib.parse import urlencode

from flask import Blueprint, request, url_for
from flask_login import current_user

from ..domain.timezones import match_zone
from ..filters import time_of_day
from ..services import availability, catalogue, reviews
from ..services.catalogue import TutorFilters
from ..services.errors import NotOffered, ValidationError
from . import params
from .common import is_htmx, now_utc, render

bp = Blueprint("tutors", __name__)
DURATIONS = list(range(15, 121, 15))
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
    return TutorFilters(subject_id=params.optional_int(args, "subject_id"),
                        level_id=params.optional_int(args, "level_id"), mode=mode,
                        max_rate_minor=params.max_rate_from(args),
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
        cards, error = [], exc.message
    zone = request.args.get("tz") or (current_user.timezone if current_user.is_authenticated else "")
    return render("tutors/directory.html", partial="tutors/_results.html", cards=cards, error=error,
                  catalogue=catalogue.catalogue(), args=request.args, weekdays=WEEKDAYS, times_of_day=TIMES_OF_DAY,
                  zone=zone, status=422 if error else 200)


@bp.get("/tutors/<id:tutor_id>")
def profile(tutor_id: int):
    """A tutor's profile with bio, subjects, prices and the booker (only the booker for its own HTMX requests)."""
    tutor = catalogue.get_tutor(tutor_id)
    teaches = catalogue.tutor_teaches(tutor.id)
    booker = _booker_context(tutor, teaches, request.args)
    summary = None if is_htmx() else reviews.review_summary(tutor.id, now_utc())
    return _booker_response(render("tutors/profile.html", partial="tutors/_slots.html", tutor=tutor, teaches=teaches,
                                   review_summary=summary, status=422 if booker["error"] and is_htmx() else 200,
                                   **booker), booker)


@bp.get("/tutors/<id:tutor_id>/slots")
def slots(tutor_id: int):
    """The booker alone (HTMX partial; the full profile without HTMX). Kept for links made before the booker."""
    tutor = catalogue.get_tutor(tutor_id)
    teaches = catalogue.tutor_teaches(tutor.id)
    booker = _booker_context(tutor, teaches, request.args)
    return _booker_response(render("tutors/profile.html", partial="tutors/_slots.html", tutor=tutor, teaches=teaches,
                                   status=422 if booker["error"] else 200, **booker), booker)


def _booker_response(response, booker: dict):
    """Remember the 12/24-hour choice for the next visit (the URL still carries it for links)."""
    if request.args.get("clock") in ("12", "24"):
        response.set_cookie(CLOCK_COOKIE, booker["clock"], max_age=365 * 24 * 3600, samesite="Lax", httponly=True)
    return response


def _booker_context(tutor, teaches, args) -> dict:
    """Everything the booker shows: options, the month's calendar, the chosen day's times; bad input → a message."""
    if args.get("tz") and (meant := match_zone(args["tz"])) and meant != args["tz"]:
        args = {**args.to_dict(), "tz": meant}  # typed as 'new york' or 'tokyo': the zone they meant
    signed_in = current_user.is_authenticated
    fallback = current_user.timezone if signed_in else "UTC"
    profile_url = url_for("tutors.profile", tutor_id=tutor.id)
    context = {"error": None, "picker_error": None, "clock": params.clock_from(args, request.cookies.get(CLOCK_COOKIE)),
               "zone_label": args.get("tz") or fallback, "detect_zone": not signed_in and not args.get("tz"),
               "args": args, "durations": DURATIONS, "profile_url": profile_url, "teach": None, "month": None,
               "duration": None, "in_person": args.get("lesson_type") == "in_person"}
    if not teaches:
        context["error"] = context["picker_error"] = "This tutor has not listed any subjects yet."
        return context
    try:
        zone, label = params.zone_from(args, fallback)
        context["zone_label"] = label
        teach_id = params.optional_int(args, "teach_id")
        if teach_id not in {t.id for t in teaches}:
            teach_id = teaches[0].id  # none asked, or an old link to a subject no longer offered: the first one
        now = now_utc()
        today = now.astimezone(zone).date()
        day = params.parse_date(args["day"], "day") if args.get("day") else None
        month = params.month_from(args, today) or (day.replace(day=1) if day else None)
        duration = params.duration_from(args)
        in_person = params.lesson_type(args)
        chosen = next((t for t in teaches if t.id == teach_id), None)
        if not args.get("lesson_type") and chosen is not None and not chosen.online:
            in_person = True  # nothing asked: show how this subject is taught rather than an error
        location = params.located(params.address_from(args)) if in_person and args.get("line1") else None
        found = availability.find_month(tutor.id, teach_id, month or today, zone, duration, now, in_person, location,
                                        advance_if_empty=month is None)
    except (ValidationError, NotOffered) as exc:
        context["error"] = context["picker_error"] = exc.message
        context["kept_month"], context["kept_day"] = _kept_month_and_day(args)
        return context
    # One base URL per request; links append their own parameters (no url_for per day or per slot).
    state = {"teach_id": found.teach.id, "duration": duration, "lesson_type": "in_person" if in_person else "online"}
    if args.get("tz") or signed_in:
        state["tz"] = label
    state["clock"] = context["clock"]
    if in_person:
        state.update({k: args[k] for k in ("line1", "postcode", "city") if args.get(k)})
    month_first = found.month
    month_query = {**state, "month": month_first.strftime("%Y-%m")}
    free_days = sorted(found.days)
    selected = day if day and day.replace(day=1) == month_first else (free_days[0] if free_days else None)
    previous = (month_first - timedelta(days=1)).replace(day=1)
    following = (month_first + timedelta(days=31)).replace(day=1)
    context.update(
        teach=found.teach, price=found.price, duration=duration, in_person=in_person, month=month_first,
        weeks=_calendar(month_first, found.days, selected, found.today, profile_url + "?" + urlencode(month_query)),
        free_day_count=len(free_days), selected=selected,
        day_label=_day_label(selected) if selected else None,
        times=[(s, s.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), time_of_day(s, context["clock"]))
               for s in found.days.get(selected, [])],
        book_base=url_for("bookings.new", tutor_id=tutor.id) + "?" + urlencode(state),
        prev_month_name=previous.strftime("%B %Y"), next_month_name=following.strftime("%B %Y"),
        prev_month_url=(profile_url + "?" + urlencode({**state, "month": previous.strftime("%Y-%m")})
                        if previous >= found.today.replace(day=1) else None),
        next_month_url=(profile_url + "?" + urlencode({**state, "month": following.strftime("%Y-%m")})
                        if following <= found.last_day else None))
    return context


def _day_label(day: date) -> str:
    """'Tuesday 8 December': how a day is named to screen readers and in the times heading."""
    return f"{day:%A} {day.day} {day:%B}"


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


def _calendar(month: date, days: dict, selected: date | None, today: date, month_url: str) -> list[list[dict]]:
    """The month's weeks (Monday first) as cells: the date, whether it has free times, its link and its name."""
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        cells = []
        for d in week:
            count = len(days.get(d, ()))
            cells.append({"date": d, "in_month": d.month == month.month, "free": count > 0, "count": count,
                          "selected": d == selected, "today": d == today,
                          "url": f"{month_url}&day={d.isoformat()}" if count else None,
                          "label": f"{_day_label(d)}, {count} free time{'' if count == 1 else 's'}" if count
                          else f"{_day_label(d)}, no free times"})
        weeks.append(cells)
    return weeks
