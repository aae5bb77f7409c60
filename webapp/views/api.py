"""The JSON API for mobile clients: bearer tokens or the session, errors as JSON with a message.

Each operation declares its request and responses with the models in api_schemas (validated by spectree, see
api_spec); the OpenAPI document at /api/openapi.json is generated from those declarations.
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, make_response, render_template, request, url_for
from flask_login import current_user
from spectree import Response

from ..auth_loading import bearer_authenticated, user_for_bearer
from ..domain.roles import STAFF_ROLES
from ..extensions import csrf, limiter
from ..models import Booking, Lesson, Teach, User
from ..security_headers import content_security_policy
from ..services import (accounts, availability, bookings, cancellations, card_holds, catalogue, checkout, homework,
                        minute_payments, minute_refunds, notes, paypal_checkout, reschedules, sessions)
from ..services.bookings import BookingRequest
from ..services.catalogue import TutorFilters
from ..services.errors import Forbidden, NotFound, ServiceError, SlotTaken
from . import api_schemas as schema
from . import params
from .api_spec import ANYONE, SIGNED_IN, body_is_optional, spec
from .auth import REGISTRATION_SENT, register_email_key, register_limit
from .common import now_utc
from .paypal import return_urls as paypal_return_urls

bp = Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(bp)


class Unauthorized(ServiceError):
    status = 401


# Error answers each operation documents (the 422 of a validation error is added by spectree).
MALFORMED = (schema.Error, "The body is not JSON (or, on a cookie-authenticated write, the X-CSRFToken header is "
                           "missing).")
ANON = (schema.Error, "Not authenticated, or the bearer token is invalid or expired.")
BAD_TOKEN = (schema.Error, "A bearer token was sent but is invalid or expired (send none to use this anonymously).")
NOT_TUTOR = (schema.Error, "Signed in, but not a tutor.")
INVALID = (schema.Error, "Validation failed; `error.fields` names each bad field.")


def error(description: str) -> tuple:
    """An error answer in the API's shape, described."""
    return schema.Error, description


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


def _user() -> User:
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token> or log in.")
    return current_user._get_current_object()


def api_user() -> User:
    """The user this request acts as (bearer token or session), or 401 (for the API's other modules)."""
    return _user()


def signed_in(view):
    """Credentials are checked before the request is validated: anonymous callers get 401, not a 422."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        _user()
        return view(*args, **kwargs)
    return wrapped


def tutors_only(view):
    """Signed in as a tutor (401 or 403 before the request is validated)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not _user().is_tutor:
            raise Forbidden("Only tutors can do this.")
        return view(*args, **kwargs)
    return wrapped


def staff_only(view):
    """Signed in as an admin or support agent (401 or 403 before the request is validated). Marked with its
    roles like `role_required`'s views, so the audit walk finds every staff action the API offers."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not _user().is_staff:
            raise Forbidden("Only admins and support agents can do this.")
        return view(*args, **kwargs)
    wrapped.required_roles = frozenset(STAFF_ROLES)
    return wrapped


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
        "price_minor": b.price_minor, "currency": b.currency, "funding": b.funding, "note": b.note,
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

def body():
    """The request's validated JSON body (or multipart form), as its model."""
    return request.context.json if request.context.json is not None else request.context.form


def query():
    """The request's validated query parameters, as their model."""
    return request.context.query


@bp.post("/auth/register")
@limiter.limit(register_limit)
@limiter.limit(register_limit, key_func=register_email_key)
@spec.validate(json=schema.RegisterInput, security=[], operation_id="register", resp=Response(
    HTTP_202=(schema.RegistrationSent, "The email is on its way."), HTTP_400=MALFORMED,
    HTTP_429=error("Too many sign-ups from this address or for this email; wait and try again.")))
def register():
    """Start a student, parent or tutor sign-up: a link that creates the account is emailed.

    The answer is the same whether or not the email already has an account (that address is emailed instead); once
    the link is followed, get a token from POST /api/auth/token."""
    data = body()
    email = accounts.request_registration(email=data.email, password=data.password, name=data.name, role=data.role,
                                          timezone=data.timezone, now=now_utc())
    return {"email": email, "message": REGISTRATION_SENT}, 202


@bp.post("/auth/token")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
@spec.validate(json=schema.TokenInput, security=[], operation_id="createToken", resp=Response(
    HTTP_200=(schema.Token, "A new token."), HTTP_400=MALFORMED,
    HTTP_401=error("The email and password do not match an account."),
    HTTP_403=error("The account is suspended (the message gives the reason)."),
    HTTP_429=error("Too many attempts from this address; wait and try again.")))
def token():
    """Exchange email and password for a bearer token (90 days, revocable)."""
    data = body()
    device_name = sessions.clean_device_name(data.device_name)
    user = accounts.authenticate(data.email, data.password)
    if user is None:
        raise Unauthorized("That email and password do not match an account.")
    return _token_json(user, device_name)


@bp.delete("/auth/token")
@spec.validate(security=[{"bearerAuth": []}], operation_id="revokeToken", resp=Response(
    HTTP_204=(None, "Revoked; the token no longer works."),
    HTTP_401=error("No bearer token was sent, or it is invalid, expired or already revoked.")))
def revoke_token():
    """Revoke the bearer token this request is made with (log this app out).

    It also ends when the user revokes it in settings, logs out everywhere, or changes or resets the password."""
    token = g.get("api_token") if bearer_authenticated() else None
    if token is None:
        raise Unauthorized("Send the token to revoke as Authorization: Bearer <token>.")
    sessions.revoke_token_in_use(request.headers["Authorization"].partition(" ")[2].strip())
    return "", 204


def _token_json(user: User, device_name: str = "") -> dict:
    raw, expires = accounts.issue_api_token(user, device_name=device_name)
    return {"token": raw, "token_type": "Bearer", "expires_at": expires.isoformat(), "user": user_json(user)}


@bp.get("/me")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="me", resp=Response(HTTP_200=(schema.User, "You."), HTTP_401=ANON))
def me():
    """The signed-in user (with children for parents)."""
    return user_json(_user())


@bp.get("/openapi.json")
@spec.validate(security=[], operation_id="openapi", resp=Response(
    HTTP_200=(schema.OpenAPIDocument, "This document (OpenAPI 3.1).")))
def openapi():
    """This API described as an OpenAPI 3.1 document, generated from the declarations of its operations."""
    return jsonify(openapi_document())


@bp.get("/docs")
def docs():
    """The API reference: Swagger UI (vendored) over /api/openapi.json."""
    response = make_response(render_template("api/docs.html"))
    response.headers["Content-Security-Policy"] = content_security_policy(current_app.config.get("STRIPE_API_BASE"),
                                                                          data_images=True)
    return response


def openapi_document() -> dict:
    """spectree's document, with what its decorators cannot say: which request bodies may be left out."""
    document = copy.deepcopy(spec.spec)
    models = document["components"]["schemas"]
    for item in document["paths"].values():
        for operation in item.values():
            content = operation.get("requestBody", {}).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            model = getattr(schema, ref.rsplit("/", 1)[-1], None) if ref else None
            if model is not None and body_is_optional(model) and ref.rsplit("/", 1)[-1] in models:
                operation["requestBody"]["required"] = False
    return document


# --- catalogue -------------------------------------------------------------------------------

@bp.get("/subjects")
@spec.validate(security=ANYONE, operation_id="listSubjects", resp=Response(
    HTTP_200=(schema.Catalogue, "The catalogue."), HTTP_401=BAD_TOKEN))
def subjects():
    """Subjects, levels and exam boards."""
    options = catalogue.catalogue()
    return {"subjects": [{"id": s.id, "name": s.name, "slug": s.slug} for s in options["subjects"]],
            "levels": [{"id": lv.id, "name": lv.name} for lv in options["levels"]],
            "exam_boards": [{"id": b.id, "name": b.name} for b in options["exam_boards"]]}


@bp.get("/tutors")
@spec.validate(query=schema.TutorQuery, security=ANYONE, operation_id="listTutors", resp=Response(
    HTTP_200=(schema.TutorList, "Matching tutors (only the matching teach records)."), HTTP_401=BAD_TOKEN))
def tutors():
    """Tutors with a teach record matching every filter, cheapest first."""
    q = query()
    filters = TutorFilters(subject_id=q.subject_id, level_id=q.level_id, mode=q.mode,
                           max_rate_minor=params.max_rate_from({"max_rate": q.max_rate}, q.currency),
                           currency=q.currency)
    cards = catalogue.search_tutors(filters)
    return {"tutors": [tutor_json(c.tutor, c.teaches) for c in cards]}


@bp.get("/tutors/<id:tutor_id>")
@spec.validate(security=ANYONE, operation_id="getTutor", resp=Response(
    HTTP_200=(schema.Tutor, "The tutor."), HTTP_401=BAD_TOKEN, HTTP_404=error("No tutor with that id.")))
def tutor(tutor_id: int):
    """One tutor's profile and teach records."""
    user = catalogue.get_tutor(tutor_id)
    return tutor_json(user, catalogue.tutor_teaches(user.id), full=True)


@bp.put("/tutors/me/teaches")
@tutors_only
@spec.validate(json=schema.TeachesInput, security=SIGNED_IN, operation_id="replaceTeaches", resp=Response(
    HTTP_200=(schema.TeachList, "Your teach records now."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=NOT_TUTOR))
def put_teaches():
    """Replace your teach records, all or nothing (tutors only)."""
    user = _user()
    catalogue.replace_teaches(user, [item.model_dump() for item in body().teaches])
    return {"teaches": [teach_json(t) for t in catalogue.tutor_teaches(user.id)]}


@bp.get("/tutors/me/availability")
@tutors_only
@spec.validate(security=SIGNED_IN, operation_id="getAvailability", resp=Response(
    HTTP_200=(schema.AvailabilitySettings, "Your settings."), HTTP_401=ANON, HTTP_403=NOT_TUTOR))
def get_availability():
    """Your weekly windows, overrides, notice, horizon, buffer and time zone (tutors only)."""
    return availability.settings_as_dict(availability.get_settings(_user()))


@bp.put("/tutors/me/availability")
@tutors_only
@spec.validate(json=schema.AvailabilityInput, security=SIGNED_IN, operation_id="replaceAvailability",
               resp=Response(HTTP_200=(schema.AvailabilitySettings, "Your settings now."), HTTP_400=MALFORMED,
                             HTTP_401=ANON, HTTP_403=NOT_TUTOR))
def put_availability():
    """Replace your availability; fields left out stay as they are. Validated whole: nothing is saved when any field
    is wrong."""
    changes = body().model_dump(mode="json", exclude_unset=True)
    return availability.settings_as_dict(availability.update_settings(_user(), changes))


# --- availability and bookings ------------------------------------------------------------------

def _slots_json(result: availability.SlotResult, zone) -> list[dict]:
    duration = result.price.duration_minutes
    price = result.price.as_dict()
    return [{"start": s.astimezone(zone).isoformat(),
             "finish": (s + timedelta(minutes=duration)).astimezone(zone).isoformat(),
             "start_utc": s.isoformat(), "price": price} for s in result.slots]


@bp.get("/availabilities")
@spec.validate(query=schema.SlotQuery, security=ANYONE, operation_id="listSlots", resp=Response(
    HTTP_200=(schema.SlotList, "Free slots."), HTTP_401=BAD_TOKEN,
    HTTP_404=error("No such tutor, or they do not teach that subject and level.")))
def availabilities():
    """Free slots for one of a tutor's teach records over local dates, each priced, in the viewer's zone."""
    q = query()
    fallback = current_user.timezone if current_user.is_authenticated else "UTC"
    zone, label = params.zone_from({"tz": q.tz, "utc_offset": q.utc_offset}, fallback)
    teach_id = q.teach_id or availability.resolve_teach(q.tutor_id, None, q.subject_id, q.level_id).id
    now = now_utc()
    today = now.astimezone(zone).date()
    dates = params.bookable_dates(q.start_date or today, q.end_date or q.start_date or today, today)
    args = q.model_dump()
    # Dates nobody can book (past, or beyond any horizon) have no free slots; the price still comes with the answer.
    first, last = dates or (today, today)
    result = availability.find_slots(params.slot_request_from(args, q.tutor_id, teach_id, zone, first, last), now)
    if dates is None:
        result = availability.SlotResult([], result.price, result.teach)
    return {"tutor_id": q.tutor_id, "teach_id": result.teach.id, "timezone": label,
            "first_date": dates[0].isoformat() if dates else None, "last_date": dates[1].isoformat() if dates else None,
            "duration_minutes": result.price.duration_minutes, "price": result.price.as_dict(),
            "slots": _slots_json(result, zone), "calendar_stale": result.calendar_stale}


@bp.post("/bookings")
@signed_in
@spec.validate(json=schema.BookingInput, security=SIGNED_IN, operation_id="createBooking", resp=Response(
    HTTP_201=(schema.Booking, "Booked and held until hold_expires_at (the Location header is its URL)."),
    HTTP_400=MALFORMED, HTTP_401=ANON, HTTP_403=error("Only student and parent accounts book, and only parents for a child."),
    HTTP_404=error("No such tutor, teach record or child of yours."),
    HTTP_409=(schema.SlotTaken, "That slot was just taken; `fresh_slots` lists that day's free slots.")))
def create_booking():
    """Book a free slot: it is held for you until hold_expires_at, awaiting payment; answers 409 with that day's
    fresh slots if someone else just took it."""
    user = _user()
    data = body()
    req = params.booking_request_from(data.model_dump(), data.tutor_id)
    try:
        booking = bookings.request_booking(user, req, now_utc())
    except SlotTaken as exc:
        answer = {"error": {"status": exc.status, "message": exc.message, "fields": exc.fields},
                  "fresh_slots": _fresh_slots(user, data, req)}
        return answer, exc.status
    answer = booking_json(bookings.get_booking(user, booking.id), now_utc())
    return answer, 201, {"Location": url_for("api.get_booking", booking_id=booking.id)}


def _fresh_slots(user: User, data: schema.BookingInput, req: BookingRequest) -> list[dict]:
    """Free slots on the local day of the lost slot (in tz/utc_offset, else the booker's zone), for a quick re-pick."""
    try:
        zone, _ = params.zone_from({"tz": data.tz, "utc_offset": data.utc_offset}, user.timezone)
        day = req.start.astimezone(zone).date()
        start, end = availability.date_range_in_zone(day, day, zone)
        location = req.address.coordinates if req.in_person and req.address else None
        result = availability.find_slots(availability.SlotRequest(req.tutor_id, req.teach_id, start, end,
                                                                  req.duration_minutes, req.in_person, location),
                                         now_utc())
    except (ServiceError, OverflowError):  # OverflowError: a day at the end of the calendar has no day after it
        return []  # the 409 still stands; the client can ask /api/availabilities itself
    return _slots_json(result, zone)


@bp.get("/bookings")
@signed_in
@spec.validate(query=schema.BookingsQuery, security=SIGNED_IN, operation_id="listBookings", resp=Response(
    HTTP_200=(schema.BookingList, "Upcoming soonest first, past latest first."), HTTP_401=ANON))
def list_bookings():
    """Your bookings (as booker, student, parent or tutor)."""
    now = now_utc()
    return {"bookings": [booking_json(b, now) for b in bookings.list_bookings(_user(), now, query().when)]}


@bp.get("/bookings/<id:booking_id>")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="getBooking", resp=Response(
    HTTP_200=(schema.Booking, "The booking."), HTTP_401=ANON,
    HTTP_404=error("No such booking, or not one of yours (the two look the same).")))
def get_booking(booking_id: int):
    """One of your bookings."""
    return booking_json(bookings.get_booking(_user(), booking_id), now_utc())


# --- payments and cancellation --------------------------------------------------------------------

@bp.post("/payments/pay")
@signed_in
@spec.validate(json=schema.PaymentInput, security=SIGNED_IN, operation_id="payBooking", resp=Response(
    HTTP_201=(schema.PaymentAnswer, "The PaymentIntent as created, the minutes held, or the PayPal order to "
                                    "approve."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_404=error("No such booking of yours, or Stripe has no such payment method."),
    HTTP_409=error("The booking is not waiting for payment any more, its hold expired, your minutes with the "
                   "tutor do not cover the lesson, or PayPal is not offered here."),
    HTTP_502=error("Stripe or PayPal could not be reached; nothing was charged.")))
def pay():
    """Pay for your booking with a Stripe payment method (a PaymentIntent with manual capture), with your prepaid
    minutes with its tutor (method minutes: no card; held until the tutor approves), or with PayPal (method paypal:
    an order to approve on approve_url; the same order again while it is open).

    requires_capture means authorized (for a card the webhook moves the booking; minutes move it at once);
    requires_action carries next_action for 3-D Secure; requires_approval (PayPal) waits for the payer, after which
    POST /api/payments/paypal/complete authorizes the order (PayPal's webhook does it too if the payer never comes
    back). Minutes that do not cover the lesson are a 409."""
    data = body()
    if data.method == "minutes":
        booking = minute_payments.pay_with_minutes(_user(), data.booking_id, now_utc())
        return {"booking_id": booking.id, "method": "minutes", "status": "requires_capture",
                "minutes": booking.lesson.duration_minutes}, 201
    if data.method == "paypal":
        order = paypal_checkout.open_order(_user(), data.booking_id, data.coupon, now_utc(),
                                           **paypal_return_urls(data.booking_id))
        return {"booking_id": data.booking_id, "method": "paypal", "status": "requires_approval",
                "order_id": order.order_id, "approve_url": order.approve_url}, 201
    answer = card_holds.pay_with_payment_method(
        _user(), data.booking_id, data.payment_method, data.coupon, now_utc(),
        return_url=url_for("bookings.detail", booking_id=data.booking_id, paid=1, _external=True))
    return answer, 201


@bp.get("/payments/<id:booking_id>/status")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="paymentStatus", resp=Response(
    HTTP_200=(schema.PaymentStatus, "The status."), HTTP_401=ANON,
    HTTP_404=error("No such booking, or not one of yours.")))
def payment_status(booking_id: int):
    """Our booking state and Stripe's PaymentIntent status for a booking (processing, requires_action, ...)."""
    return checkout.payment_status(_user(), booking_id)


@bp.get("/bookings/<id:booking_id>/cancellation")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="previewCancellation", resp=Response(
    HTTP_200=(schema.CancellationPreview, "The refund cancelling now would give."), HTTP_401=ANON,
    HTTP_403=error("You may see this booking but not cancel it."),
    HTTP_404=error("No such booking, or not one of yours.")))
def cancellation_preview(booking_id: int):
    """What cancelling now would give back, before you confirm."""
    plan = cancellations.preview(_user(), booking_id, now_utc())
    return {"kind": plan.kind, "refund_minor": plan.refund.amount_minor, "currency": plan.refund.currency,
            "explanation": plan.explanation, "minutes": plan.minutes}


@bp.put("/bookings/<id:booking_id>/cancel")
@signed_in
@spec.validate(json=schema.CancelInput, security=SIGNED_IN, operation_id="cancelBooking", resp=Response(
    HTTP_200=(schema.Booking, "The booking after cancelling."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=error("You may see this booking but not cancel it."),
    HTTP_404=error("No such booking, or not one of yours."),
    HTTP_409=error("Already closed, or the lesson has started (no cancelling then; report a problem instead), or "
                   "the booking was paid or approved meanwhile."),
    HTTP_502=error("Stripe refused the refund or the release; nothing was cancelled."),
    HTTP_503=error("Stripe's answer was lost, or it acted but the cancellation is not recorded yet; cancelling again "
                   "finishes it and never refunds twice.")))
def cancel_booking(booking_id: int):
    """Cancel the lesson (booker, student, parent, tutor or admin); the refund follows the policy frozen when it was
    paid. The body may be left out."""
    user = _user()
    booking = cancellations.cancel_booking(user, booking_id, body().note, now_utc())
    return booking_json(bookings.get_booking(user, booking.id), now_utc())


@bp.post("/bookings/<id:booking_id>/refunds")
@staff_only
@spec.validate(json=schema.RefundInput, security=SIGNED_IN, operation_id="refundBooking", resp=Response(
    HTTP_201=(schema.Booking, "The booking after the refund."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=error("Only admins and support agents (within their cap) can make refunds."),
    HTTP_404=error("No such booking."),
    HTTP_409=error("Not a captured payment, or another refund took what was left: `error.refundable_minor` is what "
                   "is left now."),
    HTTP_502=error("Stripe refused the refund; nothing was refunded."),
    HTTP_503=error("Stripe's answer was lost or not recorded yet; retrying with the same idempotency_key records it "
                   "and never refunds twice.")))
def refund_booking(booking_id: int):
    """Admins: refund part or all of what is left of a captured payment, without cancelling. The same
    idempotency_key twice is one refund."""
    user = _user()
    data = body()
    booking = cancellations.admin_refund(user, booking_id, data.amount_minor, data.reason, now_utc(),
                                         request_key=data.idempotency_key)
    return booking_json(bookings.get_booking(user, booking.id), now_utc()), 201


@bp.post("/bookings/<id:booking_id>/minute-refunds")
@staff_only
@spec.validate(json=schema.MinuteRefundInput, security=SIGNED_IN, operation_id="refundBookingMinutes",
               resp=Response(
    HTTP_201=(schema.Booking, "The booking after the refund."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=error("Only admins and support agents (within their cap) can make refunds."),
    HTTP_404=error("No such booking."),
    HTTP_409=error("Not paid with minutes, not approved yet, or another refund took what was left: "
                   "`error.refundable_minutes` is what is left now.")))
def refund_booking_minutes(booking_id: int):
    """Staff: return part or all of a minute-paid lesson's minutes to the student's balance, without cancelling.
    The same idempotency_key twice is one refund."""
    user = _user()
    data = body()
    minute_refunds.staff_refund_minutes(user, booking_id, data.minutes, data.reason, now_utc(),
                                        request_key=data.idempotency_key)
    return booking_json(bookings.get_booking(user, booking_id), now_utc()), 201


# --- summary notes --------------------------------------------------------------------------------

def note_json(note) -> dict:
    """A summary note with its attachments' names and download links, the topics covered and the mistakes made."""
    topics, errors = homework.recorded_learning(note)
    return {"id": note.id, "lesson_id": note.lesson_id, "tutor_id": note.tutor_id, "body": note.body,
            "created_at": note.created_at.isoformat(), "updated_at": note.updated_at.isoformat(),
            "attachments": [{"id": a.id, "name": a.original_name, "content_type": a.content_type,
                             "size_bytes": a.size_bytes,
                             "url": url_for("notes.attachment", attachment_id=a.id, _external=True)}
                            for a in note.attachments],
            "topics": [{"id": t.id, "name": t.name} for t in topics],
            "errors": [{"topic": {"id": e.topic.id, "name": e.topic.name}, "what_went_wrong": e.what_went_wrong,
                        "wrong_answer": e.wrong_answer} for e in errors]}


@bp.post("/v1/notes")
@signed_in
@spec.validate(json=schema.NoteInput, form=schema.NoteUpload, security=SIGNED_IN, operation_id="saveSummaryNote",
               resp=Response(
                   HTTP_201=(schema.SummaryNote, "The note was written."),
                   HTTP_200=(schema.SummaryNote, "The note was edited."), HTTP_400=MALFORMED, HTTP_401=ANON,
                   HTTP_403=error("You may see the lesson but did not teach it."),
                   HTTP_404=error("No such lesson, or not one of yours."),
                   HTTP_409=error("The note was saved from elsewhere at the same moment."),
                   HTTP_413=error("The request is larger than the server accepts.")))
def save_note():
    """Write or edit the summary note of a lesson you taught, once it has taken place (finished, not cancelled,
    paid). Writing it tells the student, or the parent for a child, by email and push, once; edits do not tell
    again. Send JSON, or multipart/form-data to attach files.

    With `topics` and/or `errors` (JSON only), the note records what was covered and the mistakes made, checked as
    the note form checks them, and each learner's draft homework is rebuilt from them for you to review."""
    data = body()
    files = request.files.getlist("attachments") if request.context.form is not None else []
    learning = {}
    if getattr(data, "topics", None) is not None or getattr(data, "errors", None) is not None:
        learning = {"covered": list(data.topics or []),
                    "errors": [homework.ErrorInput(e.topic_id, e.what_went_wrong, e.wrong_answer)
                               for e in data.errors or []]}
    note, created = notes.save_note(_user(), data.lesson_id, data.body, files, now_utc(), data.remove_attachment_ids,
                                    **learning)
    return note_json(note), 201 if created else 200


@bp.get("/v1/lessons/<id:lesson_id>/topics")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="listLessonTopics", resp=Response(
    HTTP_200=(schema.TopicList, "The topics."), HTTP_401=ANON,
    HTTP_404=error("No such lesson, or not one of yours.")))
def lesson_topics(lesson_id: int):
    """The curriculum topics of a lesson's subject and level: the ids a note's `topics` and `errors` name."""
    lesson, topics = homework.lesson_topics(_user(), lesson_id)
    return {"lesson_id": lesson.id,
            "topics": [{"id": t.id, "name": t.name, "strand": strand} for t, strand in topics]}


@bp.get("/v1/notes/<id:lesson_id>")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="getSummaryNote", resp=Response(
    HTTP_200=(schema.SummaryNote, "The note."), HTTP_401=ANON,
    HTTP_404=error("No such lesson of yours, or no note written yet.")))
def get_note(lesson_id: int):
    """The summary note of a lesson you may see (404 until one is written)."""
    note = notes.view_note(_user(), lesson_id, now_utc()).note
    if note is None:
        raise NotFound("No summary note has been written for this lesson yet.")
    return note_json(note)


# --- homework -------------------------------------------------------------------------------------------------

def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def homework_summary_json(summary: homework.SetSummary) -> dict:
    """A homework set as the list shows it."""
    found, lesson = summary.set, summary.lesson
    kind, learner_id = homework.learner_of(found)
    return {"id": found.id, "lesson_id": lesson.id, "state": found.state, "learner_name": found.learner_name,
            "learner": {"kind": kind, "id": learner_id, "name": found.learner_name},
            "tutor": {"id": lesson.tutor_id, "name": lesson.tutor.name},
            "subject": {"id": lesson.subject_id, "name": lesson.subject.name},
            "level": {"id": lesson.level_id, "name": lesson.level.name},
            "created_at": found.created_at.isoformat(), "published_at": _iso(found.published_at),
            "questions": summary.questions, "answered": summary.answered, "right": summary.right}


def question_json(entry, reveal: bool) -> dict:
    """One question of a set: the answer and worked solution only once answered (or for the tutor)."""
    item = entry.item
    shown = reveal or entry.answered_at is not None
    return {"id": entry.id, "position": entry.position, "topic": {"id": item.topic.id, "name": item.topic.name},
            "kind": item.kind, "prompt": item.prompt, "unit": item.unit or "", "choices": list(item.choices or []),
            "reason": entry.reason, "answered": entry.answered_at is not None, "response": entry.response,
            "correct": entry.correct, "answered_at": _iso(entry.answered_at),
            "answer": item.answer if shown else None, "solution": item.solution if shown else None}


@bp.get("/v1/homework")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="listHomework", resp=Response(
    HTTP_200=(schema.HomeworkSetList, "Your homework sets."), HTTP_401=ANON))
def list_homework():
    """The homework sets you answer (yours, or each of your children's: `learner` says which child), published ones
    only; a tutor also gets every set of their own lessons, drafts included, and no one else's."""
    return {"sets": [homework_summary_json(s) for s in homework.sets_for(_user())]}


@bp.get("/v1/homework/<id:set_id>")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="getHomework", resp=Response(
    HTTP_200=(schema.HomeworkSet, "The set and its questions."), HTTP_401=ANON,
    HTTP_404=error("No such set, not yours, or not published yet (the three look the same).")))
def get_homework(set_id: int):
    """One homework set with its questions: each question's answer and worked solution appear once it has been
    answered (the lesson's tutor sees them always)."""
    found, is_tutor = homework.viewable_set(_user(), set_id)
    entries = found.entries
    summary = homework.SetSummary(found, found.lesson, len(entries),
                                  sum(1 for e in entries if e.answered_at is not None),
                                  sum(1 for e in entries if e.correct))
    return {**homework_summary_json(summary), "items": [question_json(e, is_tutor) for e in entries]}


@bp.post("/v1/homework/questions/<id:entry_id>/answer")
@signed_in
@spec.validate(json=schema.AnswerInput, security=SIGNED_IN, operation_id="answerHomeworkQuestion", resp=Response(
    HTTP_200=(schema.AnswerResult, "Marked: right or wrong, with the answer and the worked solution."),
    HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_404=error("No such question in a published set you answer."),
    HTTP_409=error("This question was already answered (each is answered once).")))
def answer_homework(entry_id: int):
    """Answer one question: it is marked at once and the worked solution comes back. A response that cannot be read
    (not a number, an unknown symbol) is a 422 that says why, and the question stays unanswered."""
    outcome = homework.answer(_user(), entry_id, body().response, now_utc())
    return {"correct": bool(outcome.entry.correct), "feedback": outcome.feedback,
            "question": question_json(outcome.entry, reveal=True)}


@bp.get("/v1/lessons/<id:lesson_id>/agenda")
@signed_in
@spec.validate(security=SIGNED_IN, operation_id="getLessonAgenda", resp=Response(
    HTTP_200=(schema.Agenda, "Each learner's topics still weak."), HTTP_401=ANON,
    HTTP_403=error("You are in the lesson but do not teach it."),
    HTTP_404=error("No such lesson, or not one of yours.")))
def lesson_agenda(lesson_id: int):
    """For the lesson's tutor: each learner's topics still weak (below proficient) in its subject and level, from
    their homework, weakest first."""
    agenda = homework.tutor_agenda(_user(), lesson_id)
    return {"lesson_id": lesson_id,
            "learners": [{"student_id": p.learner.student_id, "child_id": p.learner.child_id, "name": p.learner.name,
                          "weak_topics": [{"topic": line.topic, "mastery": line.mastery} for line in p.lines]}
                         for p in agenda]}


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
@signed_in
@spec.validate(json=schema.RescheduleInput, security=SIGNED_IN, operation_id="proposeReschedule", resp=Response(
    HTTP_200=(schema.Lesson, "The lesson with the proposal."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=error("Only the tutor or the student's side may reschedule."),
    HTTP_404=error("No such lesson, or not one of yours."),
    HTTP_409=error("A proposal is already waiting, or the lesson is not paid and active.")))
def propose_reschedule(lesson_id: int):
    """Propose a new time for a paid lesson: at least 72 hours before its start, a free slot for the tutor and the
    student, the same length. The lesson becomes RESCHEDULE and the other side has 24 hours to answer (seed 004)."""
    data = body()
    return lesson_json(reschedules.propose(_user(), lesson_id, data.suggested_start, data.suggested_finish,
                                           now_utc()))


@bp.post("/lessons/<id:lesson_id>/reschedule/respond")
@signed_in
@spec.validate(json=schema.RescheduleAnswer, security=SIGNED_IN, operation_id="respondReschedule", resp=Response(
    HTTP_200=(schema.Lesson, "The lesson after the answer."), HTTP_400=MALFORMED, HTTP_401=ANON,
    HTTP_403=error("You proposed it, or you are not in the lesson."),
    HTTP_404=error("No such lesson, or not one of yours."),
    HTTP_409=error("The proposal was answered, withdrawn, replaced or has expired.")))
def respond_reschedule(lesson_id: int):
    """Accept (the lesson moves) or decline (it is cancelled with the policy refund) the standing proposal."""
    data = body()
    return lesson_json(reschedules.respond(_user(), lesson_id, data.version, data.accept, now_utc()))
