"""The JSON API for mobile clients: bearer tokens or the session, errors as JSON with a message."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask import Blueprint, current_app, g, jsonify, request, url_for
from flask_login import current_user

from ..auth_loading import bearer_authenticated, user_for_bearer
from ..extensions import csrf, limiter
from ..models import Booking, Lesson, Teach, User
from ..openapi import openapi_document
from ..services import (accounts, availability, bookings, cancellations, card_holds, catalogue, checkout, notes,
                        reschedules, sessions)
from ..services.bookings import BookingRequest
from ..services.errors import Forbidden, NotFound, ServiceError, SlotTaken, ValidationError
from . import params
from .auth import REGISTRATION_SENT, register_email_key, register_limit
from .common import now_utc
from .tutors import directory_filters

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)

# Path ids above the 32-bit column range name no row: the converter answers 404 before the database sees them.
# Dates this close to the ends of the calendar overflow the zone arithmetic in the services; none is bookable.


class BadRequest(ServiceError):
    status = 400


class Unauthorized(ServiceError):
    status = 401


@bp.before_request
def _authenticate_and_check_csrf():
    """A bearer token, when sent, is the only credential (a bad one: 401); cookie-authenticated writes need CSRF."""
    if bearer_authenticated():
        raw = request.headers["Authorization"].partition(" ")[2].strip()
        user = user_for_bearer(raw) if raw else None
        if user is None:
            raise Unauthorized("That bearer token is invalid or has expired; get a new one from POST /api/auth/token.")
        # Flask-Login keeps the request's user in g._login_user; setting it makes the token win over any session
        # cookie sent alongside (otherwise the cookie's user would act without the CSRF check below).
        g._login_user = user
        return
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and current_user.is_authenticated:
        csrf.protect()


@bp.after_request
def _challenge(response):
    """Tell clients which scheme a 401 wants (RFC 6750)."""
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lessonbook"'
    return response


def _json_body() -> dict:
    """The request body as a JSON object: 400 if it is not JSON at all, 422 if it is JSON but not an object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ValidationError("The request body must be a JSON object.", {"body": "Send a JSON object."})
    try:
        data = current_app.json.loads(raw, parse_float=_finite_float, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.", {"body": "Send valid JSON (an object)."}) from None
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.", {"body": "Send a JSON object, not "
                                                                                  f"{type(data).__name__}."})
    return data


def _finite_float(text: str) -> float:
    # Python reads 1e400 as infinity, which the services' int() checks do not expect; JSON has no infinities.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range")
    return value


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN and Infinity; RFC 8259 does not


def _text(data: dict, name: str) -> str | None:
    """A string field of a JSON body (None when absent); any other type is a 422 naming the field."""
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(f"{name} must be a string.", {name: "Must be a string."})






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
    """A user as the API shows them (parents with their children)."""
    data = {"id": user.id, "name": user.name, "email": user.email, "role": user.role, "timezone": user.timezone}
    if user.is_parent:
        data["children"] = [{"id": c.id, "name": c.name, "year_level": c.year_level, "timezone": c.timezone}
                            for c in user.children]
    return data


def teach_json(t: Teach) -> dict:
    """A teach record with its subject, level, board, rate and modes."""
    return {"id": t.id, "subject": {"id": t.subject_id, "name": t.subject.name},
            "level": {"id": t.level_id, "name": t.level.name},
            "exam_board": {"id": t.exam_board_id, "name": t.exam_board.name} if t.exam_board else None,
            "hourly_rate_minor": t.hourly_rate_minor, "currency": t.currency, "online": t.online,
            "in_person": t.in_person, "max_travel_km": t.max_travel_km}


def tutor_json(user: User, teaches: list[Teach], full: bool = False) -> dict:
    """A tutor card (with the bio when `full`)."""
    profile = user.tutor_profile
    data = {"id": user.id, "name": user.name, "headline": profile.headline, "timezone": user.timezone,
            "teaches": [teach_json(t) for t in teaches]}
    if full:
        data["bio"] = profile.bio
    return data


def booking_json(b: Booking, now: datetime) -> dict:
    """A booking with its lesson, in UTC ISO 8601."""
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
@limiter.limit(register_limit)
@limiter.limit(register_limit, key_func=register_email_key)
def register():
    """Start a sign-up: the link that creates the account is emailed (same answer whether or not the email is taken)."""
    data = _json_body()
    email = accounts.request_registration(email=_text(data, "email"), password=_text(data, "password") or "",
                                          name=_text(data, "name"), role=_text(data, "role"),
                                          timezone=_text(data, "timezone"), now=now_utc())
    return jsonify({"email": email, "message": REGISTRATION_SENT}), 202


@bp.post("/auth/token")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def token():
    """Exchange email and password for a bearer token."""
    data = _json_body()
    device_name = sessions.clean_device_name(data.get("device_name"))
    user = accounts.authenticate(_text(data, "email"), _text(data, "password") or "")
    if user is None:
        raise Unauthorized("That email and password do not match an account.")
    return jsonify(_token_json(user, device_name))


@bp.delete("/auth/token")
def revoke_token():
    """Revoke the bearer token this request is made with (log this app out)."""
    token = g.get("api_token") if bearer_authenticated() else None
    if token is None:
        raise Unauthorized("Send the token to revoke as Authorization: Bearer <token>.")
    sessions.revoke_token_in_use(request.headers["Authorization"].partition(" ")[2].strip())
    return "", 204


def _token_json(user: User, device_name: str = "") -> dict:
    raw, expires = accounts.issue_api_token(user, device_name=device_name)
    return {"token": raw, "token_type": "Bearer", "expires_at": expires.isoformat(), "user": user_json(user)}


@bp.get("/me")
def me():
    """The signed-in user (with children for parents)."""
    return jsonify(user_json(_user()))


@bp.get("/openapi.json")
def openapi():
    """This API described as an OpenAPI 3.1 document."""
    return jsonify(openapi_document())


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
    filters = directory_filters(request.args)
    cards = catalogue.search_tutors(filters)
    return jsonify({"tutors": [tutor_json(c.tutor, c.teaches) for c in cards]})


@bp.get("/tutors/<id:tutor_id>")
def tutor(tutor_id: int):
    """One tutor's profile and teach records."""
    user = catalogue.get_tutor(tutor_id)
    return jsonify(tutor_json(user, catalogue.tutor_teaches(user.id), full=True))


@bp.put("/tutors/me/teaches")
def put_teaches():
    """Replace your teach records (tutors only)."""
    user = _tutor()
    data = _json_body()
    items = data.get("teaches")
    if not isinstance(items, list):
        raise ValidationError("Send {\"teaches\": [...]}.", {"teaches": "A list is required."})
    catalogue.replace_teaches(user, items)
    return jsonify({"teaches": [teach_json(t) for t in catalogue.tutor_teaches(user.id)]})


@bp.get("/tutors/me/availability")
def get_availability():
    """Your weekly windows, overrides, notice, horizon, buffer and time zone (tutors only)."""
    return jsonify(availability.settings_as_dict(availability.get_settings(_tutor())))


@bp.put("/tutors/me/availability")
def put_availability():
    """Replace your availability (fields you leave out stay as they are)."""
    user = _tutor()
    data = _json_body()
    if "timezone" in data:
        _text(data, "timezone")  # the service assumes a string of sane length
    return jsonify(availability.settings_as_dict(availability.update_settings(user, data)))


# --- availability and bookings ------------------------------------------------------------------

def _slots_json(result: availability.SlotResult, zone) -> list[dict]:
    duration = result.price.duration_minutes
    price = result.price.as_dict()
    return [{"start": s.astimezone(zone).isoformat(),
             "finish": (s + timedelta(minutes=duration)).astimezone(zone).isoformat(),
             "start_utc": s.isoformat(), "price": price} for s in result.slots]


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
    today = now.astimezone(zone).date()
    first = params.parse_date(args["start_date"], "start_date") if args.get("start_date") else today
    last = params.parse_date(args["end_date"], "end_date") if args.get("end_date") else first
    result = availability.find_slots(params.slot_request_from(args, tutor_id, teach_id, zone, first, last), now)
    return jsonify({"tutor_id": tutor_id, "teach_id": result.teach.id, "timezone": label,
                    "duration_minutes": result.price.duration_minutes, "price": result.price.as_dict(),
                    "slots": _slots_json(result, zone)})


@bp.post("/bookings")
def create_booking():
    """Book a free slot; answers 409 with that day's fresh slots if someone else just took it."""
    user = _user()
    data = _json_body()
    req = params.booking_request_from(data, params.required_int(data, "tutor_id", "tutor_id"))
    try:
        booking = bookings.request_booking(user, req, now_utc())
    except SlotTaken as exc:
        body = {"error": {"status": exc.status, "message": exc.message, "fields": exc.fields},
                "fresh_slots": _fresh_slots(user, data, req)}
        return jsonify(body), exc.status
    body = booking_json(bookings.get_booking(user, booking.id), now_utc())
    return jsonify(body), 201, {"Location": url_for("api.get_booking", booking_id=booking.id)}


def _fresh_slots(user: User, data: dict, req: BookingRequest) -> list[dict]:
    """Free slots on the local day of the lost slot (in tz/utc_offset, else the booker's zone), for a quick re-pick."""
    try:
        viewer = {"tz": _text(data, "tz"), "utc_offset": _text(data, "utc_offset")}
        zone, _ = params.zone_from(viewer, user.timezone)
        day = req.start.astimezone(zone).date()
        start, end = availability.date_range_in_zone(day, day, zone)
        location = req.address.coordinates if req.in_person and req.address else None
        result = availability.find_slots(availability.SlotRequest(req.tutor_id, req.teach_id, start, end,
                                                                  req.duration_minutes, req.in_person, location),
                                         now_utc())
    except ServiceError:
        return []  # the 409 still stands; the client can ask /api/availabilities itself
    return _slots_json(result, zone)


@bp.get("/bookings")
def list_bookings():
    """Your bookings (when=upcoming|past)."""
    user = _user()
    when = request.args.get("when", "upcoming")
    if when not in ("upcoming", "past"):
        raise ValidationError("when is upcoming or past.", {"when": "Use upcoming or past."})
    now = now_utc()
    return jsonify({"bookings": [booking_json(b, now) for b in bookings.list_bookings(user, now, when)]})


@bp.get("/bookings/<id:booking_id>")
def get_booking(booking_id: int):
    """One of your bookings (404 if it is not yours)."""
    return jsonify(booking_json(bookings.get_booking(_user(), booking_id), now_utc()))


# --- payments and cancellation --------------------------------------------------------------------

@bp.post("/payments/pay")
def pay():
    """Pay for a booking with a Stripe payment method (manual capture); answers what the client must do next."""
    user = _user()
    data = _json_body()
    booking_id = params.required_int(data, "booking_id", "booking_id")
    answer = card_holds.pay_with_payment_method(
        user, booking_id, data.get("payment_method"), _text(data, "coupon"), now_utc(),
        return_url=url_for("bookings.detail", booking_id=booking_id, paid=1, _external=True))
    return jsonify(answer), 201


@bp.get("/payments/<id:booking_id>/status")
def payment_status(booking_id: int):
    """The PaymentIntent status of a booking's payment (processing, requires_action, requires_capture, ...)."""
    return jsonify(checkout.payment_status(_user(), booking_id))


@bp.get("/bookings/<id:booking_id>/cancellation")
def cancellation_preview(booking_id: int):
    """What cancelling now would refund, before you confirm."""
    plan = cancellations.preview(_user(), booking_id, now_utc())
    return jsonify({"kind": plan.kind, "refund_minor": plan.refund.amount_minor, "currency": plan.refund.currency,
                    "explanation": plan.explanation})


@bp.put("/bookings/<id:booking_id>/cancel")
def cancel_booking(booking_id: int):
    """Cancel a booking (booker, student, parent, tutor or admin); the refund follows the frozen policy."""
    user = _user()
    data = _json_body() if request.get_data(cache=True).strip() else {}
    booking = cancellations.cancel_booking(user, booking_id, _text(data, "note") or "", now_utc())
    return jsonify(booking_json(bookings.get_booking(user, booking.id), now_utc()))


@bp.post("/bookings/<id:booking_id>/refunds")
def refund_booking(booking_id: int):
    """Admins: refund part of a captured payment (409 with what is left when another refund took it)."""
    user = _user()
    data = _json_body()
    amount = params.required_int(data, "amount_minor", "amount_minor")
    booking = cancellations.admin_refund(user, booking_id, amount, _text(data, "reason") or "", now_utc(),
                                         request_key=_text(data, "idempotency_key"))
    return jsonify(booking_json(bookings.get_booking(user, booking.id), now_utc())), 201


# --- summary notes --------------------------------------------------------------------------------

def note_json(note) -> dict:
    """A summary note with its attachments' names and download links."""
    return {"id": note.id, "lesson_id": note.lesson_id, "tutor_id": note.tutor_id, "body": note.body,
            "created_at": note.created_at.isoformat(), "updated_at": note.updated_at.isoformat(),
            "attachments": [{"id": a.id, "name": a.original_name, "content_type": a.content_type,
                             "size_bytes": a.size_bytes,
                             "url": url_for("notes.attachment", attachment_id=a.id, _external=True)}
                            for a in note.attachments]}


@bp.post("/v1/notes")
def save_note():
    """Write (201) or edit (200) a finished lesson's summary note, as JSON or multipart with `attachments` files."""
    user = _user()
    if request.mimetype == "multipart/form-data":
        data, files = request.form, request.files.getlist("attachments")
        remove = request.form.getlist("remove_attachment_ids")
    else:
        data, files = _json_body(), []
        remove = data.get("remove_attachment_ids") or []
        if not isinstance(remove, list):
            raise ValidationError("remove_attachment_ids must be a list of ids.",
                                  {"remove_attachment_ids": "A list of ids."})
    lesson_id = params.required_int(data, "lesson_id", "lesson_id")
    remove_ids = [params.required_int({"id": i}, "id", "remove_attachment_ids") for i in remove]
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise ValidationError("body must be a string.", {"body": "Must be a string."})
    note, created = notes.save_note(user, lesson_id, body, files, now_utc(), remove_ids)
    return jsonify(note_json(note)), 201 if created else 200


@bp.get("/v1/notes/<id:lesson_id>")
def get_note(lesson_id: int):
    """A lesson's summary note, for anyone who may see the lesson (404 until one is written)."""
    note = notes.view_note(_user(), lesson_id, now_utc()).note
    if note is None:
        raise NotFound("No summary note has been written for this lesson yet.")
    return jsonify(note_json(note))


# --- rescheduling ---------------------------------------------------------------------------------

def lesson_json(lesson: Lesson) -> dict:
    """A lesson's times and any standing reschedule proposal."""
    return {"id": lesson.id, "state": lesson.state, "start": lesson.start_at.isoformat(),
            "finish": lesson.finish_at.isoformat(), "duration_minutes": lesson.duration_minutes,
            "suggested_start": lesson.suggested_start_at.isoformat() if lesson.suggested_start_at else None,
            "suggested_finish": lesson.suggested_finish_at.isoformat() if lesson.suggested_finish_at else None,
            "reschedule_deadline": lesson.reschedule_deadline.isoformat() if lesson.reschedule_deadline else None,
            "reschedule_version": lesson.reschedule_version or 0, "proposed_by": lesson.reschedule_by_id}


@bp.put("/lessons/<id:lesson_id>/edit")
def propose_reschedule(lesson_id: int):
    """Propose a new time (seed 004): 72 h+ before the original start, a free slot for tutor and student."""
    user = _user()
    data = _json_body()
    start = params.parse_instant(data.get("suggested_start"), "suggested_start")
    finish = params.parse_instant(data["suggested_finish"], "suggested_finish") if data.get("suggested_finish") \
        else None
    return jsonify(lesson_json(reschedules.propose(user, lesson_id, start, finish, now_utc())))


@bp.post("/lessons/<id:lesson_id>/reschedule/respond")
def respond_reschedule(lesson_id: int):
    """Accept (the lesson moves) or decline (it is cancelled with the policy refund) the standing proposal."""
    user = _user()
    data = _json_body()
    accept = data.get("accept")
    if not isinstance(accept, bool):
        raise ValidationError("accept must be true or false.", {"accept": "true or false."})
    version = params.required_int(data, "version", "version")
    return jsonify(lesson_json(reschedules.respond(user, lesson_id, version, accept, now_utc())))
