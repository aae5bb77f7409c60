"""The JSON API described as an OpenAPI 3.1 document (served at GET /api/openapi.json).

Schemas here are JSON Schema 2020-12 (OpenAPI 3.1's dialect), so a client, or the test suite, can
validate real responses against them with any JSON Schema validator. Keep this in step with
webapp/views/api.py: tests/integration/test_openapi.py checks that every /api route is documented
and that real responses match the schemas.
"""
from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

JSON = "application/json"
_SECURED = [{"bearerAuth": []}, {"sessionCookie": []}]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _obj(properties: dict[str, Schema], required: list[str] | None = None, **extra) -> Schema:
    """An object schema; every property is required unless `required` says otherwise."""
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required, **extra}


_ID = {"type": "integer", "minimum": 1}
_STR = {"type": "string"}
_DATETIME = {"type": "string", "format": "date-time"}
_HHMM = {"type": "string", "pattern": r"^\d{2}:\d{2}$", "description": "Local time HH:MM on the quarter hour; "
                                                                         "24:00 allowed as an end."}
_NAMED = _obj({"id": _ID, "name": _STR})
_CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."}


def _schemas() -> dict[str, Schema]:
    return {
        "ErrorBody": _obj({
            "status": {"type": "integer", "description": "The HTTP status, repeated."},
            "message": {"type": "string", "description": "What went wrong, in words for the user."},
            "fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Per-field messages keyed by the field's name (e.g. `teaches[0].subject_id`, "
                                      "`address.line1`); absent when no single field is to blame."},
            "refundable_minor": {"type": "integer", "minimum": 0,
                                 "description": "On a refund that lost a race (409): what is left to refund now."},
            "currency": _CURRENCY,
        }, required=["status", "message"]),
        "Error": _obj({"error": _ref("ErrorBody")}),
        "SlotTaken": _obj({
            "error": _ref("ErrorBody"),
            "fresh_slots": {"type": "array", "items": _ref("Slot"),
                            "description": "Free slots on the same local day (in tz/utc_offset if sent, else your "
                                           "zone), to pick again."},
        }),
        "Child": _obj({"id": _ID, "name": _STR, "year_level": _STR, "timezone": _STR}),
        "User": _obj({
            "id": _ID, "name": _STR, "email": {"type": "string", "format": "email"},
            "role": {"type": "string", "enum": ["student", "parent", "tutor", "admin"]},
            "timezone": {"type": "string", "description": "IANA zone, e.g. Europe/London."},
            "children": {"type": "array", "items": _ref("Child"), "description": "Parents only."},
        }, required=["id", "name", "email", "role", "timezone"]),
        "Token": _obj({
            "token": {"type": "string", "description": "Send as `Authorization: Bearer <token>`."},
            "token_type": {"const": "Bearer"}, "expires_at": _DATETIME, "user": _ref("User")}),
        "Catalogue": _obj({
            "subjects": {"type": "array", "items": _obj({"id": _ID, "name": _STR, "slug": _STR})},
            "levels": {"type": "array", "items": _NAMED},
            "exam_boards": {"type": "array", "items": _NAMED},
        }),
        "Teach": _obj({
            "id": _ID, "subject": _NAMED, "level": _NAMED, "exam_board": _nullable(_NAMED),
            "hourly_rate_minor": {"type": "integer", "minimum": 0, "description": "Minor units (pence, cents)."},
            "currency": _CURRENCY, "online": {"type": "boolean"}, "in_person": {"type": "boolean"},
            "max_travel_km": _nullable({"type": "integer"}),
        }),
        "TeachInput": _obj({
            "subject_id": _ID, "level_id": _ID, "exam_board_id": _nullable(_ID),
            "hourly_rate_minor": {"type": "integer", "minimum": 100, "maximum": 10_000_000},
            "currency": {**_CURRENCY, "default": "GBP"}, "online": {"type": "boolean", "default": True},
            "in_person": {"type": "boolean", "default": False},
            "max_travel_km": _nullable({"type": "integer", "minimum": 1, "maximum": 500}),
        }, required=["subject_id", "level_id", "hourly_rate_minor"]),
        "Tutor": _obj({
            "id": _ID, "name": _STR, "headline": _STR, "timezone": _STR,
            "teaches": {"type": "array", "items": _ref("Teach")},
            "bio": {"type": "string", "description": "Only on GET /api/tutors/{tutor_id}."},
        }, required=["id", "name", "headline", "timezone", "teaches"]),
        "WeeklyWindow": _obj({"weekday": {"type": "integer", "minimum": 0, "maximum": 6, "description": "0 = Monday."},
                              "start": _HHMM, "end": _HHMM}),
        "DateOverride": _obj({"date": {"type": "string", "format": "date"}, "start": _nullable(_HHMM),
                              "end": _nullable(_HHMM)}, required=["date"],
                             description="Other hours on one date; no start and end means a day off."),
        "AvailabilitySettings": _obj({
            "timezone": {"type": "string", "description": "The tutor's IANA zone; weekly hours are in it."},
            "weekly": {"type": "array", "items": _ref("WeeklyWindow")},
            "overrides": {"type": "array", "items": _ref("DateOverride")},
            "min_notice_hours": {"type": "integer", "minimum": 0, "maximum": 336},
            "horizon_days": {"type": "integer", "minimum": 1, "maximum": 365},
            "travel_buffer_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
            "base_latitude": _nullable({"type": "number", "minimum": -90, "maximum": 90}),
            "base_longitude": _nullable({"type": "number", "minimum": -180, "maximum": 180}),
        }),
        "AvailabilityInput": {
            "type": "object", "properties": {
                "timezone": _STR, "weekly": {"type": "array", "maxItems": 100, "items": _ref("WeeklyWindow")},
                "overrides": {"type": "array", "maxItems": 400, "items": _ref("DateOverride")},
                "min_notice_hours": {"type": "integer", "minimum": 0, "maximum": 336},
                "horizon_days": {"type": "integer", "minimum": 1, "maximum": 365},
                "travel_buffer_minutes": {"type": "integer", "minimum": 0, "maximum": 240},
                "base_latitude": _nullable({"type": "number", "minimum": -90, "maximum": 90}),
                "base_longitude": _nullable({"type": "number", "minimum": -180, "maximum": 180}),
            },
            "description": "Any subset of the settings; what is left out stays as it is.",
        },
        "Price": _obj({
            "currency": _CURRENCY, "hourly_rate_minor": {"type": "integer"},
            "duration_minutes": {"type": "integer"}, "lesson_price_minor": {"type": "integer"},
            "lesson_price_display": {"type": "string", "description": "E.g. £42.50."},
        }),
        "Slot": _obj({"start": {**_DATETIME, "description": "In the viewer's zone, with its offset."},
                      "finish": _DATETIME, "start_utc": _DATETIME, "price": _ref("Price")}),
        "SlotList": _obj({
            "tutor_id": _ID, "teach_id": _ID,
            "timezone": {"type": "string", "description": "The zone times are shown in (IANA name or UTC±HH:MM)."},
            "duration_minutes": {"type": "integer"}, "price": _ref("Price"),
            "slots": {"type": "array", "items": _ref("Slot")},
        }),
        "Address": _obj({"line1": {"type": "string", "minLength": 1, "maxLength": 200},
                         "city": _STR, "postcode": _STR,
                         "latitude": _nullable({"type": "number", "minimum": -90, "maximum": 90}),
                         "longitude": _nullable({"type": "number", "minimum": -180, "maximum": 180})},
                        required=["line1"]),
        "BookingInput": _obj({
            "tutor_id": _ID, "teach_id": _ID,
            "start": {**_DATETIME, "description": "A slot's start, with an offset or Z."},
            "duration": {"type": "integer", "minimum": 15, "maximum": 120, "multipleOf": 15, "default": 60},
            "lesson_type": {"type": "string", "enum": ["online", "in_person"], "default": "online"},
            "address": {**_ref("Address"), "description": "Required for in-person lessons."},
            "child_id": {**_ID, "description": "Parents: which of your children the lesson is for (required)."},
            "note": {"type": "string", "maxLength": 2000},
            "tz": {"type": "string", "description": "IANA zone for the fresh slots in a 409 answer."},
            "utc_offset": {"type": "string", "description": "Or a UTC offset such as +05:30."},
        }, required=["tutor_id", "teach_id", "start"]),
        "Booking": _obj({
            "id": _ID,
            "state": {"type": "string", "enum": ["AWAITING_PAYMENT", "REQUIRES_CAPTURE", "PAID", "REFUNDED",
                                                 "PARTIAL_REFUNDED", "EXPIRED", "DECLINED", "CANCELLED"]},
            "status_text": _STR, "hold_expires_at": _nullable(_DATETIME),
            "price_minor": {"type": "integer", "minimum": 0}, "currency": _CURRENCY, "note": _STR,
            "lesson": _obj({
                "id": _ID, "state": {"type": "string", "enum": ["ACTIVE", "RESCHEDULE", "CANCELLED"]},
                "start": _DATETIME, "finish": _DATETIME, "duration_minutes": {"type": "integer"},
                "lesson_type": {"type": "string", "enum": ["online", "in_person"]},
                "tutor": _NAMED, "subject": _NAMED, "level": _NAMED,
                "students": {"type": "array", "items": _NAMED}, "children": {"type": "array", "items": _NAMED},
                "address": _nullable(_obj({"line1": _STR, "city": _STR, "postcode": _STR,
                                           "latitude": _nullable({"type": "number"}),
                                           "longitude": _nullable({"type": "number"})})),
            }),
        }),
        "PaymentInput": _obj({"booking_id": _ID,
                              "payment_method": {"type": "string", "description": "A Stripe payment method id."},
                              "coupon": _nullable({"type": "string", "maxLength": 40})},
                             required=["booking_id", "payment_method"]),
        "PaymentAnswer": _obj({
            "booking_id": _ID, "payment_intent_id": _STR,
            "status": {"type": "string", "enum": ["requires_capture", "requires_action", "processing",
                                                  "requires_payment_method", "succeeded", "canceled"]},
            "client_secret": _nullable(_STR), "amount_minor": {"type": "integer"}, "currency": _CURRENCY,
            "next_action": _nullable({"type": "object", "description": "Stripe's next_action (3-D Secure)."}),
        }, required=["booking_id", "payment_intent_id", "status"]),
        "PaymentStatus": _obj({
            "booking_id": _ID, "booking_state": {"type": "string"},
            "payment_intent_status": _nullable({"type": "string", "enum": [
                "processing", "succeeded", "canceled", "requires_action", "requires_capture",
                "requires_payment_method", "requires_confirmation"]}),
        }),
        "Lesson": _obj({
            "id": _ID, "state": {"type": "string", "enum": ["ACTIVE", "RESCHEDULE", "CANCELLED"]},
            "start": _DATETIME, "finish": _DATETIME, "duration_minutes": {"type": "integer"},
            "suggested_start": _nullable(_DATETIME), "suggested_finish": _nullable(_DATETIME),
            "reschedule_deadline": _nullable(_DATETIME), "reschedule_version": {"type": "integer", "minimum": 0},
            "proposed_by": _nullable(_ID),
        }),
        "RescheduleInput": _obj({"suggested_start": {**_DATETIME, "description": "With an offset or Z."},
                                 "suggested_finish": {**_DATETIME, "description": "Optional: start + the lesson's "
                                                                                  "length."}},
                                required=["suggested_start"]),
        "RescheduleAnswer": _obj({"accept": {"type": "boolean"},
                                  "version": {"type": "integer", "description": "The proposal's reschedule_version."}}),
        "CancellationPreview": _obj({
            "kind": {"type": "string", "enum": ["release", "refund", "closed", "started"]},
            "refund_minor": {"type": "integer", "minimum": 0}, "currency": _CURRENCY, "explanation": _STR,
        }),
        "NoteAttachment": _obj({
            "id": _ID, "name": {"type": "string", "description": "The file name as uploaded (a label only)."},
            "content_type": {"type": "string", "enum": [
                "application/pdf", "image/png", "image/jpeg", "text/plain",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]},
            "size_bytes": {"type": "integer", "minimum": 1},
            "url": {"type": "string", "format": "uri",
                    "description": "Download (the lesson's participants only; served as an attachment)."},
        }),
        "SummaryNote": _obj({
            "id": _ID, "lesson_id": _ID, "tutor_id": _ID, "body": _STR, "created_at": _DATETIME,
            "updated_at": _DATETIME, "attachments": {"type": "array", "items": _ref("NoteAttachment")},
        }),
        "NoteInput": _obj({
            "lesson_id": _ID, "body": {"type": "string", "minLength": 1, "maxLength": 10000},
            "remove_attachment_ids": {"type": "array", "items": _ID,
                                      "description": "Attachments to drop when editing."},
        }, required=["lesson_id", "body"]),
        "NoteUpload": _obj({
            "lesson_id": _ID, "body": {"type": "string", "minLength": 1, "maxLength": 10000},
            "attachments": {"type": "array", "maxItems": 5, "items": {"type": "string", "format": "binary"},
                            "description": "PDF, PNG, JPEG, plain text or DOCX files, each at most "
                                           "MAX_ATTACHMENT_BYTES (10 MB by default); the content must match the "
                                           "name's extension."},
            "remove_attachment_ids": {"type": "array", "items": _ID},
        }, required=["lesson_id", "body"]),
    }


def _error(description: str) -> dict:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _ok(description: str, schema: Schema, **extra) -> dict:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def _body(schema: Schema) -> dict:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def _query(name: str, schema: Schema, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {**_ID, "maximum": 2**31 - 1}}


_MALFORMED = _error("The body is not JSON (400, or 400 without the CSRF header on a cookie-authenticated write).")
_INVALID = _error("Validation failed; `error.fields` names each bad field.")
_ANON = _error("Not authenticated, or the bearer token is invalid or expired.")
_NOT_TUTOR = _error("Signed in, but not a tutor.")
_BAD_TOKEN = _error("A bearer token was sent but is invalid or expired (send none to use this anonymously).")


def _operation(operation_id: str, summary: str, responses: dict, *, secured: bool = False, **extra) -> dict:
    op = {"operationId": operation_id, "summary": summary, "responses": responses, **extra}
    if secured:
        op["security"] = _SECURED
    else:
        op["security"] = [{}, *_SECURED]  # anonymous works; a token or session is used when sent
        responses.setdefault("401", _BAD_TOKEN)
    return op


def _paths() -> dict[str, dict]:
    teach_query = [
        _query("tutor_id", _ID, "The tutor.", required=True),
        _query("teach_id", _ID, "The tutor's teach record (or give subject_id and level_id)."),
        _query("subject_id", _ID, "Subject, when teach_id is not given."),
        _query("level_id", _ID, "Level, with subject_id."),
        _query("start_date", {"type": "string", "format": "date"}, "First local date (default today)."),
        _query("end_date", {"type": "string", "format": "date"}, "Last local date, inclusive (default start_date; "
                                                                 "at most 62 days after it)."),
        _query("duration", {"type": "integer", "minimum": 15, "maximum": 120, "multipleOf": 15},
               "Lesson length in minutes (default 60)."),
        _query("lesson_type", {"type": "string", "enum": ["online", "in_person"]}, "Default online."),
        _query("line1", _STR, "In person: the lesson address (enables travel-time checks with coordinates)."),
        _query("latitude", {"type": "number"}, "In person: the address's latitude."),
        _query("longitude", {"type": "number"}, "In person: the address's longitude."),
        _query("tz", _STR, "IANA zone to show times in (wins over utc_offset)."),
        _query("utc_offset", _STR, "A fixed offset such as +05:30, for clients without zone names."),
    ]
    return {
        "/api/auth/register": {"post": _operation(
            "register", "Start a student, parent or tutor sign-up: a link that creates the account is emailed. The "
                        "answer is the same whether or not the email already has an account (that address is emailed "
                        "instead); once the link is followed, get a token from POST /api/auth/token.",
            {"202": _ok("The email is on its way.", _obj({"email": _STR, "message": _STR})), "400": _MALFORMED,
             "422": _INVALID, "429": _error("Too many sign-ups from this address or for this email; wait and try "
                                            "again.")},
            requestBody=_body(_obj({"email": {"type": "string", "format": "email"},
                                    "password": {"type": "string", "minLength": 10}, "name": _STR,
                                    "role": {"type": "string", "enum": ["student", "parent", "tutor"]},
                                    "timezone": _STR})))},
        "/api/auth/token": {
            "post": _operation(
                "createToken", "Exchange email and password for a bearer token (90 days, revocable).",
                {"200": _ok("A new token.", _ref("Token")), "400": _MALFORMED,
                 "401": _error("The email and password do not match an account."),
                 "422": _INVALID, "429": _error("Too many attempts from this address; wait and try again.")},
                requestBody=_body(_obj({"email": _STR, "password": _STR,
                                        "device_name": {"type": "string", "maxLength": 80,
                                                        "description": "Shown in the user's settings beside the "
                                                                       "token, e.g. \"Sam's iPhone\"."}},
                                       required=["email", "password"]))),
            "delete": {**_operation(
                "revokeToken", "Revoke the bearer token this request is made with (log this app out). It also "
                "ends when the user revokes it in settings, logs out everywhere, or changes or resets the password.",
                {"204": {"description": "Revoked; the token no longer works."},
                 "401": _error("No bearer token was sent, or it is invalid, expired or already revoked.")},
                secured=True), "security": [{"bearerAuth": []}]}},
        "/api/me": {"get": _operation("me", "The signed-in user.", {"200": _ok("You.", _ref("User")), "401": _ANON},
                                      secured=True)},
        "/api/openapi.json": {"get": _operation(
            "openapi", "This document.", {"200": _ok("OpenAPI 3.1.", {"type": "object"})})},
        "/api/subjects": {"get": _operation(
            "listSubjects", "Subjects, levels and exam boards.", {"200": _ok("The catalogue.", _ref("Catalogue"))})},
        "/api/tutors": {"get": _operation(
            "listTutors", "Tutors with a teach record matching every filter, cheapest first.",
            {"200": _ok("Matching tutors (only the matching teach records).",
                        _obj({"tutors": {"type": "array", "items": _ref("Tutor")}})), "422": _INVALID},
            parameters=[_query("subject_id", _ID, "Subject."), _query("level_id", _ID, "Level."),
                        _query("mode", {"type": "string", "enum": ["online", "in_person"]}, "How lessons happen."),
                        _query("max_rate", {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
                               "Highest hourly rate in major units, e.g. 40 or 40.50.")])},
        "/api/tutors/{tutor_id}": {"get": _operation(
            "getTutor", "One tutor's profile and teach records.",
            {"200": _ok("The tutor.", _ref("Tutor")), "404": _error("No tutor with that id.")},
            parameters=[_path_id("tutor_id")])},
        "/api/tutors/me/teaches": {"put": _operation(
            "replaceTeaches", "Replace your teach records, all or nothing (tutors only).",
            {"200": _ok("Your teach records now.", _obj({"teaches": {"type": "array", "items": _ref("Teach")}})),
             "400": _MALFORMED, "401": _ANON, "403": _NOT_TUTOR, "422": _INVALID},
            secured=True,
            requestBody=_body(_obj({"teaches": {"type": "array", "maxItems": 40, "items": _ref("TeachInput")}})))},
        "/api/tutors/me/availability": {
            "get": _operation("getAvailability", "Your availability settings (tutors only).",
                              {"200": _ok("Your settings.", _ref("AvailabilitySettings")), "401": _ANON,
                               "403": _NOT_TUTOR}, secured=True),
            "put": _operation(
                "replaceAvailability",
                "Replace your availability; fields left out stay as they are. Validated whole: nothing is saved "
                "when any field is wrong.",
                {"200": _ok("Your settings now.", _ref("AvailabilitySettings")), "400": _MALFORMED, "401": _ANON,
                 "403": _NOT_TUTOR, "422": _INVALID},
                secured=True,
                requestBody=_body(_ref("AvailabilityInput"))),
        },
        "/api/availabilities": {"get": _operation(
            "listSlots", "Free slots for one of a tutor's teach records over local dates, each priced.",
            {"200": _ok("Free slots.", _ref("SlotList")),
             "404": _error("No such tutor, or they do not teach that subject and level."),
             "422": _INVALID},
            parameters=teach_query)},
        "/api/bookings": {
            "post": _operation(
                "createBooking", "Book a free slot: it is held for you until hold_expires_at, awaiting payment.",
                {"201": _ok("Booked and held.", _ref("Booking"),
                            headers={"Location": {"schema": _STR, "description": "The booking's URL."}}),
                 "400": _MALFORMED, "401": _ANON,
                 "404": _error("No such tutor, teach record or child of yours."),
                 "409": _ok("That slot was just taken; `fresh_slots` lists that day's free slots.", _ref("SlotTaken")),
                 "422": _INVALID},
                secured=True, requestBody=_body(_ref("BookingInput"))),
            "get": _operation(
                "listBookings", "Your bookings (as booker, student, parent or tutor).",
                {"200": _ok("Upcoming soonest first, past latest first.",
                            _obj({"bookings": {"type": "array", "items": _ref("Booking")}})),
                 "401": _ANON, "422": _INVALID},
                secured=True,
                parameters=[_query("when", {"type": "string", "enum": ["upcoming", "past"], "default": "upcoming"},
                                   "Which bookings.")]),
        },
        "/api/payments/pay": {"post": _operation(
            "payBooking",
            "Pay for your booking with a Stripe payment method: a PaymentIntent with manual capture. "
            "requires_capture means authorized (the webhook moves the booking); requires_action carries next_action "
            "for 3-D Secure.",
            {"201": _ok("The PaymentIntent as created.", _ref("PaymentAnswer")), "400": _MALFORMED, "401": _ANON,
             "404": _error("No such booking of yours."),
             "409": _error("The booking is not waiting for payment any more, or its hold expired."),
             "422": _INVALID, "502": _error("Stripe could not be reached; nothing was charged.")},
            secured=True, requestBody=_body(_ref("PaymentInput")))},
        "/api/payments/{booking_id}/status": {"get": _operation(
            "paymentStatus", "Our booking state and Stripe's PaymentIntent status for a booking.",
            {"200": _ok("The status.", _ref("PaymentStatus")), "401": _ANON,
             "404": _error("No such booking, or not one of yours.")},
            secured=True, parameters=[_path_id("booking_id")])},
        "/api/bookings/{booking_id}/cancellation": {"get": _operation(
            "previewCancellation", "What cancelling now would give back, before you confirm.",
            {"200": _ok("The refund cancelling now would give.", _ref("CancellationPreview")), "401": _ANON,
             "403": _error("You may see this booking but not cancel it."),
             "404": _error("No such booking, or not one of yours.")},
            secured=True, parameters=[_path_id("booking_id")])},
        "/api/bookings/{booking_id}/cancel": {"put": _operation(
            "cancelBooking", "Cancel the lesson; the refund follows the policy frozen when it was paid.",
            {"200": _ok("The booking after cancelling.", _ref("Booking")), "400": _MALFORMED, "401": _ANON,
             "403": _error("You may see this booking but not cancel it."),
             "404": _error("No such booking, or not one of yours."),
             "409": _error("Already closed, or the lesson has started (no cancelling then; report a problem "
                           "instead), or the booking was paid or approved meanwhile."),
             "422": _INVALID, "502": _error("Stripe refused the refund or the release; nothing was cancelled."),
             "503": _error("Stripe's answer was lost, or it acted but the cancellation is not recorded yet; "
                           "cancelling again finishes it and never refunds twice.")},
            secured=True, parameters=[_path_id("booking_id")],
            requestBody={"required": False, "content": {"application/json": {"schema": _obj(
                {"note": {"type": "string", "maxLength": 1000}})}}})},
        "/api/bookings/{booking_id}/refunds": {"post": _operation(
            "refundBooking", "Admins: refund part or all of what is left of a captured payment, without cancelling. "
            "The same idempotency_key twice is one refund.",
            {"201": _ok("The booking after the refund.", _ref("Booking")), "400": _MALFORMED, "401": _ANON,
             "403": _error("Only admins can make refunds."), "404": _error("No such booking."),
             "409": _error("Not a captured payment, or another refund took what was left: `error.refundable_minor` "
                           "is what is left now."),
             "422": _INVALID, "502": _error("Stripe refused the refund; nothing was refunded."),
             "503": _error("Stripe's answer was lost or not recorded yet; retrying with the same idempotency_key "
                           "records it and never refunds twice.")},
            secured=True, parameters=[_path_id("booking_id")],
            requestBody=_body(_obj({"amount_minor": {"type": "integer", "minimum": 1},
                                    "reason": {"type": "string", "maxLength": 200},
                                    "idempotency_key": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"}},
                                   required=["amount_minor"])))},
        "/api/bookings/{booking_id}": {"get": _operation(
            "getBooking", "One of your bookings.",
            {"200": _ok("The booking.", _ref("Booking")), "401": _ANON,
             "404": _error("No such booking, or not one of yours (the two look the same).")},
            secured=True, parameters=[_path_id("booking_id")])},
        "/api/lessons/{lesson_id}/edit": {"put": _operation(
            "proposeReschedule",
            "Propose a new time for a paid lesson: at least 72 hours before its start, a free slot for the tutor and "
            "the student, the same length. The lesson becomes RESCHEDULE and the other side has 24 hours to answer.",
            {"200": _ok("The lesson with the proposal.", _ref("Lesson")), "400": _MALFORMED, "401": _ANON,
             "403": _error("Only the tutor or the student's side may reschedule."),
             "404": _error("No such lesson, or not one of yours."),
             "409": _error("A proposal is already waiting, or the lesson is not paid and active."),
             "422": _INVALID},
            secured=True, parameters=[_path_id("lesson_id")], requestBody=_body(_ref("RescheduleInput")))},
        "/api/lessons/{lesson_id}/reschedule/respond": {"post": _operation(
            "respondReschedule", "Accept (the lesson moves) or decline (it is cancelled with the policy refund).",
            {"200": _ok("The lesson after the answer.", _ref("Lesson")), "400": _MALFORMED, "401": _ANON,
             "403": _error("You proposed it, or you are not in the lesson."),
             "404": _error("No such lesson, or not one of yours."),
             "409": _error("The proposal was answered, withdrawn, replaced or has expired."), "422": _INVALID},
            secured=True, parameters=[_path_id("lesson_id")], requestBody=_body(_ref("RescheduleAnswer")))},
        "/api/v1/notes": {"post": _operation(
            "saveSummaryNote",
            "Write or edit the summary note of a lesson you taught, once it has taken place (finished, not "
            "cancelled, paid). Writing it tells the student, or the parent for a child, by email and push, once; "
            "edits do not tell again. Send JSON, or multipart/form-data to attach files.",
            {"201": _ok("The note was written.", _ref("SummaryNote")),
             "200": _ok("The note was edited.", _ref("SummaryNote")),
             "400": _MALFORMED, "401": _ANON,
             "403": _error("You may see the lesson but did not teach it."),
             "404": _error("No such lesson, or not one of yours."),
             "409": _error("The note was saved from elsewhere at the same moment."),
             "413": _error("The request is larger than the server accepts."),
             "422": _error("The lesson has not taken place, the note is empty or too long, or a file was refused "
                           "(type, size, or content not matching its extension); `error.fields` says which.")},
            secured=True,
            requestBody={"required": True, "content": {JSON: {"schema": _ref("NoteInput")},
                                                       "multipart/form-data": {"schema": _ref("NoteUpload")}}})},
        "/api/v1/notes/{lesson_id}": {"get": _operation(
            "getSummaryNote", "The summary note of a lesson you may see.",
            {"200": _ok("The note.", _ref("SummaryNote")), "401": _ANON,
             "404": _error("No such lesson of yours, or no note written yet.")},
            secured=True, parameters=[_path_id("lesson_id")])},
    }


def openapi_document() -> dict:
    """The whole OpenAPI document as a plain dict (built fresh; cheap)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Lessonbook API",
            "version": "1.0.0",
            "description": "The JSON API for mobile clients. Authenticate with `Authorization: Bearer <token>` "
                           "(from POST /api/auth/token), or with the web session cookie "
                           "plus an `X-CSRFToken` header on writes. Errors are always "
                           "`{\"error\": {\"status\", \"message\", \"fields\"?}}`. Money is in integer minor units "
                           "with a currency code beside it; times are ISO 8601 with offsets.",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A token from /api/auth/token."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "The web session; writes also need the X-CSRFToken header."},
            },
        },
    }
