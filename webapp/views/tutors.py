"""The tutor directory, a tutor's profile, and the HTMX slot picker."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, request
from flask_login import current_user

from ..domain.availability import slots_by_local_date
from ..services import availability, catalogue, reviews
from ..services.catalogue import TutorFilters
from ..services.errors import ValidationError
from . import params
from .common import now_utc, render

bp = Blueprint("tutors", __name__)
DURATIONS = list(range(15, 121, 15))


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
        cards = catalogue.search_tutors(directory_filters(request.args), now_utc())
    except ValidationError as exc:
        cards, error = [], exc.message
    zone = request.args.get("tz") or (current_user.timezone if current_user.is_authenticated else "")
    return render("tutors/directory.html", partial="tutors/_results.html", cards=cards, error=error,
                  catalogue=catalogue.catalogue(), args=request.args, weekdays=WEEKDAYS, times_of_day=TIMES_OF_DAY,
                  zone=zone, status=422 if error else 200)


@bp.get("/tutors/<id:tutor_id>")
def profile(tutor_id: int):
    """A tutor's profile with bio, subjects, prices and the slot picker."""
    tutor = catalogue.get_tutor(tutor_id)
    teaches = catalogue.tutor_teaches(tutor.id)
    picker = _picker_context(tutor, teaches, request.args)
    summary = reviews.review_summary(tutor.id, now_utc())
    return render("tutors/profile.html", tutor=tutor, teaches=teaches, review_summary=summary, **picker)


@bp.get("/tutors/<id:tutor_id>/slots")
def slots(tutor_id: int):
    """The slot picker for one week (HTMX partial; a full page without HTMX)."""
    tutor = catalogue.get_tutor(tutor_id)
    teaches = catalogue.tutor_teaches(tutor.id)
    picker = _picker_context(tutor, teaches, request.args)
    return render("tutors/profile.html", partial="tutors/_slots.html", tutor=tutor, teaches=teaches,
                  status=422 if picker["picker_error"] else 200, **picker)


def _picker_context(tutor, teaches, args) -> dict:
    """Everything the slot picker shows; input errors become a message instead of slots."""
    fallback = current_user.timezone if current_user.is_authenticated else "UTC"
    context = {"picker_error": None, "days": [], "price": None, "args": args, "durations": DURATIONS,
               "zone_label": fallback, "week_start": None, "prev_week": None, "next_week": None, "teach": None}
    if not teaches:
        context["picker_error"] = "This tutor has not listed any subjects yet."
        return context
    try:
        zone, label = params.zone_from(args, fallback)
        context["zone_label"] = label
        teach_id = params.optional_int(args, "teach_id") or teaches[0].id
        today = datetime.now(zone).date()
        first, last = params.week_dates(args, zone, today)
        req = params.slot_request_from(args, tutor.id, teach_id, zone, first, last)
        result = availability.find_slots(req, now_utc())
    except ValidationError as exc:
        context["picker_error"] = exc.message
        return context
    grouped = slots_by_local_date(result.slots, zone)
    context.update(
        teach=result.teach, price=result.price, week_start=first,
        prev_week=(first - timedelta(days=7)) if first > today else None, next_week=first + timedelta(days=7),
        days=[(first + timedelta(days=i), grouped.get(first + timedelta(days=i), [])) for i in range(7)],
        duration=req.duration_minutes, in_person=req.in_person)
    return context
