"""The JSON API for mobile clients: bearer tokens or the session, errors as JSON with a message."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_login import current_user

from ..auth_loading import bearer_authenticated
from ..extensions import csrf, limiter
from ..models import Booking, Lesson, Teach, User
from ..services import accounts, availability, bookings, catalogue
from ..services.errors import Forbidden, ServiceError, ValidationError
from . import params
from .common import now_utc

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)


class Unauthorized(ServiceError):
    status = 401


@bp.before_request
def _csrf_for_session_writes():
    """Cookie-authenticated writes still need the CSRF header; bearer-token clients do not."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not bearer_authenticated() \
            and current_user.is_authenticated:
        csrf.protect()


def _json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.", {"body": "Send valid JSON (an object)."})
    return data


def _user() -> User:
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token> or log in.")
    return current_user._get_current_object()


def _tutor() -> User:
    user = _user()
    if not user.is_tutor:
        raise Forbidden("Only tutors can do this.")
    return user


# --- serializers -----------------------------------------------------------------------------

def user_json(user: User) -> dict:
    data = {"id": user.id, "name": user.name, "email": user.email, "role": user.role, "timezone": user.timezone}
    if user.is_parent:
        data["children"] = [{"id": c.id, "name": c.name, "year_level": c.year_level, "timezone": c.timezone}
                            for c in user.children]
    return data


def teach_json(t: Teach) -> dict:
    return {"id": t.id, "subject": {"id": t.subject_id, "name": t.subject.name},
            "level": {"id": t.level_id, "name": t.level.name},
            "exam_board": {"id": t.exam_board_id, "name": t.exam_board.name} if t.exam_board else None,
            "hourly_rate_minor": t.hourly_rate_minor, "currency": t.currency, "online": t.online,
            "in_person": t.in_person, "max_travel_km": t.max_travel_km}


def tutor_json(user: User, teaches: list[Teach], full: bool = False) -> dict:
    profile = user.tutor_profile
    data = {"id": user.id, "name": user.name, "headline": profile.headline, "timezone": user.timezone,
            "teaches": [teach_json(t) for t in teaches]}
    if full:
        data["bio"] = profile.bio
    return data


def booking_json(b: Booking, now: datetime) -> dict:
    lesson: Lesson = b.lesson
    address = lesson.address
    return {
        "id": b.id, "state": b.state, "status_text": bookings.booking_status_words(b, now),
        "hold_expires_at": b.hold_expires_at.isoformat() if b.hold_expires_at else None,
        "price_minor": b.price_minor, "currency": b.currency, "note": b.note,
        "lesson": {"id": lesson.id, "state": lesson.state, "start": lesson.start_at.isoformat(),
                   "finish": lesson.finish_at.isoformat(), "duration_minutes": lesson.duration_minutes,
                   "lesson_type": "in_person" if lesson.in_person else "online",
                   "tutor": {"id": lesson.tutor_id, "name": lesson.tutor.name},
                   "subject": {"id": lesson.subject_id, "name": lesson.subject.name},
                   "level": {"id": lesson.level_id, "name": lesson.level.name},
                   "students": [{"id": s.id, "name": s.name} for s in lesson.students],
                   "children": [{"id": c.id, "name": c.name} for c in lesson.children],
                   "address": {"line1": address.line1, "city": address.city, "postcode": address.postcode,
                               "latitude": address.latitude, "longitude": address.longitude} if address else None},
    }


# --- auth ------------------------------------------------------------------------------------

@bp.post("/auth/register")
def register():
    """Create an account and return a bearer token."""
    data = _json_body()
    user = accounts.register_user(email=data.get("email"), password=str(data.get("password") or ""),
                                  name=data.get("name"), role=data.get("role"), timezone=data.get("timezone"))
    token, expires = accounts.issue_api_token(user)
    return jsonify({"user": user_json(user), "token": token, "expires_at": expires.isoformat()}), 201


@bp.post("/auth/token")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def token():
    """Exchange email and password for a bearer token."""
    data = _json_body()
    user = accounts.authenticate(data.get("email"), str(data.get("password") or ""))
    if user is None:
        raise Unauthorized("That email and password do not match an account.")
    raw, expires = accounts.issue_api_token(user)
    return jsonify({"token": raw, "token_type": "Bearer", "expires_at": expires.isoformat(), "user": user_json(user)})


@bp.get("/me")
def me():
    """The signed-in user (with children for parents)."""
    return jsonify(user_json(_user()))


# --- catalogue -------------------------------------------------------------------------------

@bp.get("/subjects")
def subjects():
    """Subjects, levels and exam boards."""
    options = catalogue.catalogue()
    return jsonify({"subjects": [{"id": s.id, "name": s.name, "slug": s.slug} for s in options["subjects"]],
                    "levels": [{"id": lv.id, "name": lv.name} for lv in options["levels"]],
                    "exam_boards": [{"id": b.id, "name": b.name} for b in options["exam_boards"]]})


@bp.get("/tutors")
def tutors():
    """Tutors matching subject, level, mode and maximum hourly rate."""
    from .tutors import directory_filters
    cards = catalogue.search_tutors(directory_filters(request.args))
    return jsonify({"tutors": [tutor_json(c.tutor, c.teaches) for c in cards]})


@bp.get("/tutors/<int:tutor_id>")
def tutor(tutor_id: int):
    """One tutor's profile and teach records."""
    user = catalogue.get_tutor(tutor_id)
    return jsonify(tutor_json(user, catalogue.tutor_teaches(user.id), full=True))


@bp.put("/tutors/me/teaches")
def put_teaches():
    """Replace your teach records (tutors only)."""
    data = _json_body()
    items = data.get("teaches")
    if not isinstance(items, list):
        raise ValidationError("Send {\"teaches\": [...]}.", {"teaches": "A list is required."})
    user = _tutor()
    catalogue.replace_teaches(user, items)
    return jsonify({"teaches": [teach_json(t) for t in catalogue.tutor_teaches(user.id)]})


@bp.get("/tutors/me/availability")
def get_availability():
    """Your weekly windows, overrides, notice, horizon, buffer and time zone (tutors only)."""
    return jsonify(availability.settings_as_dict(availability.get_settings(_tutor())))


@bp.put("/tutors/me/availability")
def put_availability():
    """Replace your availability (fields you leave out stay as they are)."""
    data = _json_body()
    return jsonify(availability.settings_as_dict(availability.update_settings(_tutor(), data)))


# --- availability and bookings ------------------------------------------------------------------

@bp.get("/availabilities")
def availabilities():
    """Free slots for a tutor's subject and level over a date range, priced, in the viewer's zone."""
    args = request.args
    tutor_id = params.required_int(args, "tutor_id", "tutor_id")
    fallback = current_user.timezone if current_user.is_authenticated else "UTC"
    zone, label = params.zone_from(args, fallback)
    teach_id = params.optional_int(args, "teach_id")
    if teach_id is None:
        teach_id = availability.resolve_teach(tutor_id, None, params.optional_int(args, "subject_id"),
                                              params.optional_int(args, "level_id")).id
    now = now_utc()
    first = params.parse_date(args["start_date"], "start_date") if args.get("start_date") else now.astimezone(zone).date()
    last = params.parse_date(args["end_date"], "end_date") if args.get("end_date") else first
    result = availability.find_slots(params.slot_request_from(args, tutor_id, teach_id, zone, first, last), now)
    duration = result.price.duration_minutes
    slots = [{"start": s.astimezone(zone).isoformat(), "finish": (s + timedelta(minutes=duration)).astimezone(zone).isoformat(),
              "start_utc": s.isoformat(), "price": result.price.as_dict()} for s in result.slots]
    return jsonify({"tutor_id": tutor_id, "teach_id": result.teach.id, "timezone": label,
                    "duration_minutes": duration, "price": result.price.as_dict(), "slots": slots})


@bp.post("/bookings")
def create_booking():
    """Book a free slot; answers 409 if someone else just took it."""
    data = _json_body()
    user = _user()
    req = params.booking_request_from(data, params.required_int(data, "tutor_id", "tutor_id"))
    booking = bookings.request_booking(user, req, now_utc())
    body = booking_json(bookings.get_booking(user, booking.id), now_utc())
    return jsonify(body), 201, {"Location": url_for("api.get_booking", booking_id=booking.id)}


@bp.get("/bookings")
def list_bookings():
    """Your bookings (when=upcoming|past)."""
    when = request.args.get("when", "upcoming")
    if when not in ("upcoming", "past"):
        raise ValidationError("when is upcoming or past.", {"when": "Use upcoming or past."})
    now = now_utc()
    return jsonify({"bookings": [booking_json(b, now) for b in bookings.list_bookings(_user(), now, when)]})


@bp.get("/bookings/<int:booking_id>")
def get_booking(booking_id: int):
    """One of your bookings (404 if it is not yours)."""
    return jsonify(booking_json(bookings.get_booking(_user(), booking_id), now_utc()))
