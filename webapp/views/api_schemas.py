"""Every request and response of the JSON API, declared once as pydantic models.

spectree (webapp/views/api_spec.py) validates requests with these, checks responses against them, and builds the
OpenAPI document from them; the views build the response models from rows. Limits and choices come from
webapp/domain (the HTML forms use the same constants). JSON bodies are validated strictly (`"false"` is no boolean,
`"1"` no integer); query strings are parsed as their declared types.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..domain import limits
from ..domain.funding import Funding
from ..domain.ledger import Move
from ..domain.packages import PurchaseMethod, PurchaseState, RefundStatus
from ..domain.roles import SELF_SERVICE_ROLES, Role
from ..domain.states import BookingState, LessonState
from ..domain.subscriptions import SubscriptionStatus
from ..domain.timezones import TimeZoneError, known_zones, parse_utc_offset


def _known_zone(name: str) -> str:
    if name not in known_zones():
        raise ValueError(f"Unknown time zone: {name}. Use an IANA name such as Europe/London.")
    return name


OFFSET_PATTERN = r"^[+-](0[0-9]|1[0-3]):(00|15|30|45)$|^[+-]14:00$"
CLOCK_PATTERN = r"^([01][0-9]|2[0-3]):(00|15|30|45)$|^24:00$"


def _offset(text: str) -> str:
    try:
        parse_utc_offset(text)
    except TimeZoneError as exc:
        raise ValueError(str(exc)) from None
    if not re.fullmatch(OFFSET_PATTERN, text):
        raise ValueError(f"Unknown UTC offset: {text}. Use a form like +05:30.")
    return text


def _clock(text: str) -> str:
    if not re.fullmatch(r"[0-9]{2}:[0-9]{2}", text):
        raise ValueError(f"Times look like 09:30, not {text!r}.")
    hours, minutes = int(text[:2]), int(text[3:])
    if minutes >= 60 or hours * 60 + minutes > 24 * 60:
        raise ValueError(f"{text} is not a time of day.")
    if not re.fullmatch(CLOCK_PATTERN, text):
        raise ValueError(f"{text}: times must be on the quarter hour (:00, :15, :30, :45).")
    return text


def _whole(value: Any) -> Any:
    # JSON Schema counts 60.0 as an integer (a number with no fraction), so the API does too; 60.5 and "60" stay
    # refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# --- reusable field types ---------------------------------------------------------------------------------------

Int = Annotated[int, BeforeValidator(_whole)]  # unbounded; bounded ones put the validator after the bounds


def whole(**bounds) -> Any:
    """A whole number with JSON Schema bounds (the bounds first, so they reach the document)."""
    return Annotated[int, Field(**bounds), BeforeValidator(_whole)]


Id = whole(ge=1, le=limits.MAX_ID)
Text = Annotated[str, Field(pattern=r"\S", description="Not blank.")]
ZoneName = Annotated[str, Field(json_schema_extra={"enum": sorted(known_zones())},
                                description="An IANA time zone, e.g. Europe/London."), AfterValidator(_known_zone)]
# The pattern documents what the validator accepts; the validator says what is wrong in words.
UtcOffset = Annotated[str, Field(json_schema_extra={"pattern": OFFSET_PATTERN},
                                 description="A fixed offset such as +05:30 (quarter hours, -12:00 to +14:00)."),
                      AfterValidator(_offset)]
Clock = Annotated[str, Field(json_schema_extra={"pattern": CLOCK_PATTERN},
                             description="Local time HH:MM on the quarter hour; 24:00 allowed as an end."),
                  AfterValidator(_clock)]
Currency = Literal[limits.CURRENCIES]  # type: ignore[valid-type]
CurrencyCode = Annotated[str, Field(pattern="^[A-Z]{3}$", description="ISO 4217 code.")]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
LessonType = Literal[limits.LESSON_TYPES]  # type: ignore[valid-type]
Duration = Annotated[whole(ge=limits.MIN_DURATION, le=limits.MAX_DURATION, multiple_of=limits.SLOT_GRID_MINUTES),
                     Field(description="Lesson length in minutes (default 60).")]
MinorUnits = Annotated[int, Field(ge=0, description="Minor units (pence, cents).")]


def _no_null_defaults(schema: dict, _model: Any) -> None:
    # A field that is absent unless given has default None in Python; in the document it simply has no default
    # (a null default would contradict a type that allows no null).
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class Strict(BaseModel):
    """A JSON body: strict types, and properties it does not declare are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_no_null_defaults)


class Query(BaseModel):
    """Query parameters: strings parsed as their declared types; unknown parameters are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_no_null_defaults)


class Out(BaseModel):
    """A response body."""

    model_config = ConfigDict(json_schema_extra=_no_null_defaults)


# --- errors ---------------------------------------------------------------------------------------------------

class ErrorBody(Out):
    status: int = Field(description="The HTTP status, repeated.")
    message: str = Field(description="What went wrong, in words for the user.")
    fields: dict[str, str] = Field(
        None, description="Per-field messages keyed by the field's name (e.g. `teaches[0].subject_id`, "
                          "`address.line1`); absent when no single field is to blame.")
    refundable_minor: MinorUnits = Field(
        None, description="On a refund that lost a race (409): what is left to refund now.")
    refundable_minutes: int = Field(
        None, ge=0, description="On a refund in minutes that lost a race (409): the minutes left to refund now.")
    currency: CurrencyCode = None
    booking_id: Id = Field(None, description="On a booking's 409 \"You already hold this time\": your booking.")


class Error(Out):
    error: ErrorBody


class OpenAPIDocument(Out):
    """An OpenAPI 3.1 document (this API's own)."""

    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


# --- accounts ---------------------------------------------------------------------------------------------------

class RegisterInput(Strict):
    email: Annotated[str, Field(max_length=limits.EMAIL_MAX, json_schema_extra={"format": "email"})]
    password: Annotated[str, Field(min_length=limits.PASSWORD_LENGTH[0], max_length=limits.PASSWORD_LENGTH[1])]
    name: Annotated[Text, Field(max_length=limits.NAME_MAX)]
    role: Literal[tuple(r.value for r in SELF_SERVICE_ROLES)]  # type: ignore[valid-type]
    timezone: ZoneName


class RegistrationSent(Out):
    email: str
    message: str


class TokenInput(Strict):
    email: Annotated[str, Field(max_length=limits.EMAIL_MAX)]
    password: Annotated[str, Field(max_length=limits.PASSWORD_LENGTH[1])]
    device_name: Annotated[str, Field(
        max_length=limits.DEVICE_NAME_MAX, description="Shown in the user's settings beside the token, e.g. "
                                                       "\"Sam's iPhone\".")] = None


class Child(Out):
    id: Id
    name: str
    year_level: str
    timezone: str


class User(Out):
    id: Id
    name: str
    email: str
    role: Literal[tuple(r.value for r in Role)]  # type: ignore[valid-type]
    timezone: str = Field(description="IANA zone, e.g. Europe/London.")
    children: list[Child] = Field(None, description="Parents only.")


class Token(Out):
    token: str = Field(description="Send as `Authorization: Bearer <token>`.")
    token_type: Literal["Bearer"]
    expires_at: AwareDatetime
    user: User


# --- catalogue and tutors ------------------------------------------------------------------------------------------

class Named(Out):
    id: Id
    name: str


class Subject(Out):
    id: Id
    name: str
    slug: str


class Catalogue(Out):
    subjects: list[Subject]
    levels: list[Named]
    exam_boards: list[Named]


class Teach(Out):
    id: Id
    subject: Named
    level: Named
    exam_board: Named | None
    hourly_rate_minor: MinorUnits
    currency: CurrencyCode
    online: bool
    in_person: bool
    max_travel_km: int | None


class Tutor(Out):
    id: Id
    name: str
    headline: str
    timezone: str
    teaches: list[Teach]
    bio: str = Field(None, description="Only on GET /api/tutors/{tutor_id}.")


class TutorList(Out):
    tutors: list[Tutor]


class TutorQuery(Query):
    subject_id: Id = Field(None, description="Subject.")
    level_id: Id = Field(None, description="Level.")
    mode: LessonType = Field(None, description="How lessons happen.")
    max_rate: Annotated[str, Field(pattern=r"^\d{1,9}(\.\d{1,2})?$")] = Field(
        None, description="Highest hourly rate in major units, e.g. 40 or 40.50, in `currency`.")
    currency: Currency = Field("GBP", description="The currency of `max_rate`: with a cap, teach records priced in "
                                                  "another currency do not match.")


class TeachInput(Strict):
    subject_id: Id
    level_id: Id
    exam_board_id: Id | None = None
    hourly_rate_minor: whole(ge=limits.HOURLY_RATE_MINOR[0], le=limits.HOURLY_RATE_MINOR[1])
    currency: Currency = "GBP"
    online: bool = True
    in_person: bool = False
    max_travel_km: whole(ge=limits.MAX_TRAVEL_KM[0], le=limits.MAX_TRAVEL_KM[1]) | None = None


class TeachesInput(Strict):
    teaches: Annotated[list[TeachInput], Field(max_length=limits.MAX_TEACHES)]


class TeachList(Out):
    teaches: list[Teach]


# --- a tutor's availability ---------------------------------------------------------------------------------------

class WeeklyWindow(Strict):
    weekday: whole(ge=0, le=6) = Field(description="0 = Monday.")
    start: Clock
    end: Clock


class DateOverride(Strict):
    """Other hours on one date; no start and end means a day off."""

    date: date
    start: Clock | None = None
    end: Clock | None = None


def _rule(bounds: tuple[int, int], description: str):
    return Annotated[whole(ge=bounds[0], le=bounds[1]), Field(description=description)]


NoticeHours = _rule(limits.MIN_NOTICE_HOURS, "Hours between booking and the lesson, at least.")
HorizonDays = _rule(limits.HORIZON_DAYS, "How many days ahead students may book.")
BufferMinutes = _rule(limits.TRAVEL_BUFFER_MINUTES, "Minutes kept free around in-person lessons.")


class AvailabilitySettings(Out):
    timezone: str = Field(description="The tutor's IANA zone; weekly hours are in it.")
    weekly: list[WeeklyWindow]
    overrides: list[DateOverride]
    min_notice_hours: NoticeHours
    horizon_days: HorizonDays
    travel_buffer_minutes: BufferMinutes
    base_latitude: Latitude | None
    base_longitude: Longitude | None


class AvailabilityInput(Strict):
    """Any subset of the settings; what is left out stays as it is."""

    timezone: ZoneName = None
    weekly: Annotated[list[WeeklyWindow], Field(max_length=limits.MAX_WEEKLY_WINDOWS)] = None
    overrides: Annotated[list[DateOverride], Field(max_length=limits.MAX_DATE_OVERRIDES)] = None
    min_notice_hours: NoticeHours = None
    horizon_days: HorizonDays = None
    travel_buffer_minutes: BufferMinutes = None
    base_latitude: Latitude | None = None
    base_longitude: Longitude | None = None


# --- free slots ----------------------------------------------------------------------------------------------------

class Price(Out):
    currency: CurrencyCode
    hourly_rate_minor: int
    duration_minutes: int
    lesson_price_minor: int
    lesson_price_display: str = Field(description="E.g. £42.50.")


class Slot(Out):
    start: AwareDatetime = Field(description="In the viewer's zone, with its offset.")
    finish: AwareDatetime
    start_utc: AwareDatetime
    price: Price


class SlotList(Out):
    tutor_id: Id
    teach_id: Id
    timezone: str = Field(description="The zone times are shown in (IANA name or UTC±HH:MM).")
    first_date: date | None = Field(description="The first local date searched: start_date, or today if that is "
                                                "earlier; null when no date asked for can be booked.")
    last_date: date | None = Field(description="The last local date searched: end_date, cut to at most "
                                               f"{limits.MAX_RANGE_DAYS} days after first_date and to the longest "
                                               "booking horizon.")
    duration_minutes: int
    price: Price
    slots: list[Slot]
    calendar_stale: bool = Field(description="True when no slots are offered because one of the tutor's connected "
                                             "calendars has not been read lately (their busy time is unknown, so "
                                             "nothing is offered until it is read again).")


class SlotQuery(Query):
    tutor_id: Id = Field(description="The tutor.")
    teach_id: Id = Field(None, description="The tutor's teach record (or give subject_id and level_id; with "
                                           "none of the three, the tutor's first subject).")
    subject_id: Id = Field(None, description="Subject, when teach_id is not given.")
    level_id: Id = Field(None, description="Level, when teach_id is not given.")
    start_date: date = Field(
        None, description="First local date (default today; dates before today count from today).")
    end_date: date = Field(
        None, description=f"Last local date, inclusive (default start_date; the answer covers at most "
                          f"{limits.MAX_RANGE_DAYS} days after the first date searched, see last_date).")
    duration: Duration = None
    lesson_type: LessonType = Field("online", description="Default online.")
    line1: Annotated[str, Field(max_length=limits.ADDRESS_LINE1_MAX)] = Field(
        None, description="In person: the lesson address (enables travel-time checks with coordinates).")
    latitude: Latitude = Field(None, description="In person: the address's latitude.")
    longitude: Longitude = Field(None, description="In person: the address's longitude.")
    tz: ZoneName = Field(None, description="IANA zone to show times in (wins over utc_offset).")
    utc_offset: UtcOffset = None


# --- bookings ------------------------------------------------------------------------------------------------------

# These two rules span fields: the document states them (dependentRequired, if/then) and request_booking enforces
# them, naming the field (address.latitude, address.line1).
def _both_coordinates(schema: dict, model: Any) -> None:
    _no_null_defaults(schema, model)
    schema["dependentRequired"] = {"latitude": ["longitude"], "longitude": ["latitude"]}


class AddressInput(Strict):
    """Where an in-person lesson takes place; coordinates are optional, but both or neither."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_both_coordinates)
    line1: Annotated[Text, Field(max_length=limits.ADDRESS_LINE1_MAX)]
    city: Annotated[str, Field(max_length=limits.CITY_MAX)] = ""
    postcode: Annotated[str, Field(max_length=limits.POSTCODE_MAX)] = ""
    latitude: Latitude = None
    longitude: Longitude = None


def _address_in_person(schema: dict, model: Any) -> None:
    _no_null_defaults(schema, model)
    schema["if"] = {"properties": {"lesson_type": {"const": "in_person"}}, "required": ["lesson_type"]}
    schema["then"] = {"required": ["address"]}


class BookingInput(Strict):
    """A booking request; an in-person lesson needs its address."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_address_in_person)
    tutor_id: Id
    teach_id: Id
    start: AwareDatetime = Field(description="A slot's start, with an offset or Z.")
    duration: Duration = None
    lesson_type: LessonType = "online"
    address: AddressInput = Field(None, description="Required for in-person lessons.")
    child_id: Id = Field(
        None, description="Parents: which of your children the lesson is for (required).")
    note: Annotated[str, Field(max_length=limits.BOOKING_NOTE_MAX)] = ""
    tz: ZoneName = Field(None, description="IANA zone for the fresh slots in a 409 answer.")
    utc_offset: UtcOffset = None
    form_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(
        None, description="A key the client makes per booking attempt: sending it twice books once.")


class BookingAddress(Out):
    line1: str
    city: str
    postcode: str
    latitude: float | None
    longitude: float | None


class BookedLesson(Out):
    id: Id
    state: Literal[tuple(s.value for s in LessonState)]  # type: ignore[valid-type]
    start: AwareDatetime
    finish: AwareDatetime
    duration_minutes: int
    lesson_type: LessonType
    tutor: Named
    subject: Named
    level: Named
    students: list[Named]
    children: list[Named]
    address: BookingAddress | None


class Booking(Out):
    id: Id
    state: Literal[tuple(s.value for s in BookingState)]  # type: ignore[valid-type]
    status_text: str
    hold_expires_at: AwareDatetime | None
    price_minor: MinorUnits
    currency: CurrencyCode
    funding: Literal[tuple(f.value for f in Funding)] = Field(  # type: ignore[valid-type]
        "card", description="How it is paid: a card, prepaid minutes (the lesson's duration) with its tutor, or "
                            "PayPal.")
    note: str
    lesson: BookedLesson


class BookingList(Out):
    bookings: list[Booking]


class BookingsQuery(Query):
    when: Literal["upcoming", "past"] = Field("upcoming", description="Which bookings.")


class SlotTaken(Out):
    error: ErrorBody
    fresh_slots: list[Slot] = Field(None, description="Free slots on the same local day (in tz/utc_offset if sent, "
                                                      "else your zone), to pick again; absent when the time is "
                                                      "already yours (then `error.booking_id` names your booking).")


# --- payments, cancelling, refunds ----------------------------------------------------------------------------------

def _card_minutes_or_paypal(schema: dict, model: Any) -> None:
    _no_null_defaults(schema, model)
    # The rules of the validator below, stated for clients: minutes take no card fields, PayPal no payment method,
    # and a card needs its id.
    schema["allOf"] = [
        {"if": {"properties": {"method": {"const": "minutes"}}, "required": ["method"]},
         "then": {"properties": {"payment_method": False, "coupon": False}}},
        {"if": {"properties": {"method": {"const": "paypal"}}, "required": ["method"]},
         "then": {"properties": {"payment_method": False}}},
        {"if": {"properties": {"method": {"enum": ["minutes", "paypal"]}}, "required": ["method"]},
         "else": {"required": ["payment_method"]}},
    ]


class PaymentInput(Strict):
    """Pay by card (payment_method required), with minutes (no payment_method, no coupon) or with PayPal (no
    payment_method)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_card_minutes_or_paypal)
    booking_id: Id
    method: Literal["card", "minutes", "paypal"] = Field(
        "card", description="card: a Stripe payment method, authorized now and captured at approval. minutes: the "
                            "lesson's duration from your prepaid minutes with its tutor, held until approval (no "
                            "card). paypal: a PayPal order to approve on `approve_url`; once approved, POST "
                            "/api/payments/paypal/complete authorizes it (captured at approval).")
    payment_method: str = Field(None, pattern=limits.PAYMENT_METHOD_PATTERN,
                                description="A Stripe payment method id, e.g. pm_card_visa (method card only).")
    coupon: Annotated[str, Field(max_length=limits.COUPON_CODE_MAX, pattern=limits.COUPON_CODE_PATTERN)] | None = Field(
        None, description="A discount code (letters, digits, hyphens, underscores); empty or null for none "
                          "(methods card and paypal).")

    @model_validator(mode="after")
    def _each_method_its_fields(self) -> PaymentInput:
        if self.method == "card" and self.payment_method is None:
            raise ValueError("A card payment needs payment_method (a Stripe payment method id such as pm_card_visa).")
        if self.method == "minutes" and {"payment_method", "coupon"} & self.model_fields_set:
            raise ValueError("A payment with minutes takes no payment_method and no coupon.")
        if self.method == "paypal" and "payment_method" in self.model_fields_set:
            raise ValueError("A PayPal payment takes no payment_method.")
        return self


class PaymentAnswer(Out):
    booking_id: Id
    method: Literal["card", "minutes", "paypal"] = "card"
    payment_intent_id: str | None = Field(None, description="Card payments only.")
    minutes: int | None = Field(None, description="Payments with minutes: the minutes held until approval.")
    status: Literal["requires_capture", "requires_action", "processing", "requires_payment_method", "succeeded",
                    "canceled", "requires_approval"] = Field(
        description="requires_approval: PayPal, waiting for you to approve the order on approve_url.")
    client_secret: str | None = None
    amount_minor: int = None
    currency: CurrencyCode = None
    next_action: dict[str, Any] | None = Field(None, description="Stripe's next_action (3-D Secure).")
    order_id: str = Field(None, description="PayPal only: the order to approve (and to complete afterwards).")
    approve_url: str = Field(None, description="PayPal only: open it for the payer to approve the order. PayPal then "
                                               "returns to our booking page, which completes the payment for a "
                                               "signed-in browser; an app completes it with POST "
                                               "/api/payments/paypal/complete.")


class PayPalCompleteInput(Strict):
    booking_id: Id
    order_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description=(
        "The approved order: order_id from POST /api/payments/pay, or the `token` PayPal adds to the return URL."))]


class PaymentStatus(Out):
    booking_id: Id
    booking_state: str
    payment_intent_status: Literal["processing", "succeeded", "canceled", "requires_action", "requires_capture",
                                   "requires_payment_method", "requires_confirmation"] | None


class CancellationPreview(Out):
    kind: Literal["release", "refund", "closed", "started"]
    refund_minor: MinorUnits
    currency: CurrencyCode
    explanation: str
    minutes: int | None = Field(None, description="A booking paid with prepaid minutes: the minutes that go back to "
                                                   "the balance (refund_minor is then 0).")


class CancelInput(Strict):
    note: Annotated[str, Field(max_length=limits.CANCEL_NOTE_MAX)] = ""


class RefundInput(Strict):
    amount_minor: whole(ge=1, le=limits.MAX_ID)
    reason: Annotated[str, Field(max_length=limits.REFUND_REASON_MAX)] = ""
    idempotency_key: Annotated[str, Field(pattern=limits.IDEMPOTENCY_KEY_PATTERN)] = None


class MinuteRefundInput(Strict):
    minutes: whole(ge=1, le=limits.MAX_DURATION)
    reason: Annotated[str, Field(max_length=limits.REFUND_REASON_MAX)] = ""
    idempotency_key: Annotated[str, Field(pattern=limits.IDEMPOTENCY_KEY_PATTERN)] = None


# --- summary notes -------------------------------------------------------------------------------------------------

NoteBody = Annotated[Text, Field(max_length=limits.SUMMARY_NOTE_MAX)]


class NoteErrorInput(Strict):
    topic_id: Annotated[Id, Field(description="A topic of the lesson's subject and level (GET "
                                              "/api/v1/lessons/{lesson_id}/topics).")]
    what_went_wrong: Annotated[Text, Field(max_length=limits.NOTE_ERROR_WHAT_MAX)]
    wrong_answer: Annotated[str, Field(max_length=limits.NOTE_ERROR_WRONG_MAX,
                                       description="The student's wrong answer, if there was one.")] = ""


class NoteInput(Strict):
    lesson_id: Id
    body: NoteBody
    remove_attachment_ids: list[Id] = Field([], description="Attachments to drop when editing.")
    topics: Annotated[list[Id], Field(max_length=limits.NOTE_TOPICS_MAX)] = Field(
        None, description="Topics covered, by id (GET /api/v1/lessons/{lesson_id}/topics). With `errors`, replaces "
                          "what the note recorded and redrafts the learners' homework; leave both out to keep them.")
    errors: Annotated[list[NoteErrorInput], Field(max_length=limits.NOTE_ERRORS_MAX)] = Field(
        None, description="Mistakes made, each under its topic (its topic counts as covered too).")


def _with_attachments(schema: dict, model: Any) -> None:
    _no_null_defaults(schema, model)
    # The files are read from request.files by the view (validating them here would read their streams).
    schema["properties"]["attachments"] = {
        "type": "array", "items": {"type": "string", "format": "binary"},
        "description": "PDF, PNG, JPEG, plain text or DOCX files (at most MAX_NOTE_ATTACHMENTS), each at most "
                       "MAX_ATTACHMENT_BYTES (10 MB by default); the content must match the name's extension."}


class NoteUpload(Query):
    """multipart/form-data: the fields as text, the files as `attachments`."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_with_attachments)
    lesson_id: Id
    body: NoteBody
    remove_attachment_ids: list[Id] = []


class NoteAttachment(Out):
    id: Id
    name: str = Field(description="The file name as uploaded (a label only).")
    content_type: str
    size_bytes: int = Field(ge=1)
    url: str = Field(description="Download (the lesson's participants only; served as an attachment).")


class NoteError(Out):
    topic: Named
    what_went_wrong: str
    wrong_answer: str


class SummaryNote(Out):
    id: Id
    lesson_id: Id
    tutor_id: Id
    body: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    attachments: list[NoteAttachment]
    topics: list[Named] = Field(description="Topics covered (including those of the mistakes).")
    errors: list[NoteError]


class Topic(Out):
    id: Id
    name: str
    strand: str = Field(description="The part of the curriculum it belongs to.")


class TopicList(Out):
    lesson_id: Id
    topics: list[Topic] = Field(description="The lesson's subject and level, in curriculum order.")


# --- homework ------------------------------------------------------------------------------------------------------

SetState = Literal["draft", "published"]


class HomeworkLearner(Out):
    """Whom a set is for. A parent's list holds each of their children's sets: `kind` child with the child's id (as
    in GET /api/me's children)."""

    kind: Literal["student", "child"] = Field(description="student: a student account answering for themself; "
                                                          "child: a parent's child, answered by the parent.")
    id: Id = Field(description="The student's user id, or the child's id.")
    name: str = Field(description="Their name when the set was made.")


class HomeworkSetSummary(Out):
    id: Id
    lesson_id: Id
    state: SetState = Field(description="Drafts are seen by the lesson's tutor only.")
    learner_name: str = Field(description="Who it is for (a student, or a parent's child); the same as learner.name.")
    learner: HomeworkLearner
    tutor: Named
    subject: Named
    level: Named
    created_at: AwareDatetime
    published_at: AwareDatetime | None
    questions: int = Field(ge=0)
    answered: int = Field(ge=0)
    right: int = Field(ge=0)


class HomeworkSetList(Out):
    sets: list[HomeworkSetSummary] = Field(description="Newest first: the sets you answer, and for a tutor the sets "
                                                       "of your lessons.")


class HomeworkQuestion(Out):
    id: Id = Field(description="Answer it with POST /api/v1/homework/questions/{id}/answer.")
    position: int = Field(ge=1)
    topic: Named
    kind: Literal["numeric", "choice", "algebra"] = Field(
        description="numeric: a number (units optional; standard form such as 3.2e-5 accepted); choice: the index "
                    "of the option, from 0; algebra: an expression in the letters the question uses (an answer using "
                    "another letter is a 422).")
    prompt: str
    unit: str = Field(description="The unit a numeric answer is in (empty when none).")
    choices: list[str]
    reason: str = Field(description="Why it is in the set: error, review or covered.")
    answered: bool
    response: str | None = Field(description="What was answered (null until then).")
    correct: bool | None
    answered_at: AwareDatetime | None
    answer: str | None = Field(description="The right answer: shown once answered (the tutor always sees it).")
    solution: str | None = Field(description="The worked solution: shown once answered (the tutor always sees it).")


class HomeworkSet(HomeworkSetSummary):
    items: list[HomeworkQuestion]


class AnswerInput(Strict):
    response: Annotated[Text, Field(max_length=limits.HOMEWORK_ANSWER_MAX)]


class AnswerResult(Out):
    correct: bool
    feedback: str = Field(description="A sentence when the answer was not understood or its units were wrong.")
    question: HomeworkQuestion


class AgendaTopic(Out):
    topic: str
    mastery: str = Field(description="attempted or familiar (topics below proficient are on the agenda).")


class AgendaLearner(Out):
    student_id: Id | None = Field(description="The student, when the learner is a student (else null).")
    child_id: Id | None = Field(description="The child, when the learner is a parent's child (else null).")
    name: str = Field(description="For display only: two learners may share a name.")
    weak_topics: list[AgendaTopic] = Field(description="Weakest first.")


class Agenda(Out):
    lesson_id: Id
    learners: list[AgendaLearner]


# --- rescheduling --------------------------------------------------------------------------------------------------

class Lesson(Out):
    id: Id
    state: Literal[tuple(s.value for s in LessonState)]  # type: ignore[valid-type]
    start: AwareDatetime
    finish: AwareDatetime
    duration_minutes: int
    suggested_start: AwareDatetime | None
    suggested_finish: AwareDatetime | None
    reschedule_deadline: AwareDatetime | None
    reschedule_version: int = Field(ge=0)
    proposed_by: Id | None


class RescheduleInput(Strict):
    suggested_start: AwareDatetime = Field(description="With an offset or Z.")
    suggested_finish: AwareDatetime = Field(
        None, description="Optional: start + the lesson's length.")


class RescheduleAnswer(Strict):
    accept: bool
    version: Annotated[whole(ge=0, le=limits.MAX_ID), Field(description="The proposal's reschedule_version.")]


# --- prepaid minutes, packages, plans and subscriptions ----------------------------------------------------------

class IdempotencyHeaders(Query):
    """Request headers an operation reads (any others are ignored)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_no_null_defaults)
    idempotency_key: str = Field(
        None, alias="Idempotency-Key", pattern=limits.IDEMPOTENCY_KEY_PATTERN,
        description="A key the client makes per attempt (8 to 64 letters, digits, - or _): the same key sent again "
                    "is the same request, never a second purchase, payment page or Stripe change.")


class MinutesBalance(Out):
    available_minutes: int = Field(ge=0, description="Minutes you can book with.")
    held_minutes: int = Field(ge=0, description="Minutes held for bookings awaiting the tutor's approval.")


class Package(Out):
    id: Id
    hours: int = Field(ge=1)
    minutes: int = Field(ge=1)
    discount_percent: int = Field(ge=0, le=100)
    price_minor: MinorUnits | None = Field(description="What it costs now (null while the tutor offers no subject).")
    full_price_minor: MinorUnits | None = Field(description="The same hours at the tutor's rate, undiscounted.")
    currency: CurrencyCode | None


class PackageList(Out):
    tutor_id: Id
    packages: list[Package] = Field(description="Smallest first.")
    balance: MinutesBalance | None = Field(description="Your minutes with this tutor (students and parents); null "
                                                       "for anyone else.")


class Plan(Out):
    id: Id
    tutor_id: Id
    minutes: int = Field(ge=1, description="Minutes granted each month.")
    price_minor: MinorUnits = Field(description="Per month.")
    currency: CurrencyCode


class PlanList(Out):
    tutor_id: Id
    plans: list[Plan] = Field(description="Fewest minutes first.")
    subscription_id: Id | None = Field(description="Your subscription with this tutor that has not ended (students "
                                                    "and parents); change it rather than subscribing again.")


class Purchase(Out):
    id: Id
    package_id: Id
    tutor_id: Id
    minutes: int = Field(ge=1)
    price_minor: MinorUnits
    currency: CurrencyCode
    method: Literal[tuple(m.value for m in PurchaseMethod)] = Field(  # type: ignore[valid-type]
        description="card (Stripe Checkout) or paypal (an order approved on PayPal's page).")
    state: Literal[tuple(s.value for s in PurchaseState)] = Field(  # type: ignore[valid-type]
        description="open until the payment is confirmed; paid once the minutes are granted; expired or cancelled "
                    "when the payment page closed unpaid (nothing was charged).")
    created_at: AwareDatetime
    paid_at: AwareDatetime | None
    refunded_minor: MinorUnits = Field(description="What refunds have given back so far (made by the provider; a "
                                                   "refund that failed later no longer counts).")
    refund_pending_minor: MinorUnits = Field(description="Refunds asked for and not yet confirmed by the provider.")
    refund_status: Literal[tuple(s.value for s in RefundStatus)] = Field(  # type: ignore[valid-type]
        description="none, partial or full: how much of the price refunded_minor is.")


class PurchaseInput(Strict):
    """How to pay for a package (the body may be left out: by card)."""

    method: Literal[tuple(m.value for m in PurchaseMethod)] = Field(  # type: ignore[valid-type]
        "card", description="card: Stripe Checkout (checkout_url). paypal: a PayPal order to approve on approve_url; "
                            "PayPal then returns to our purchase page, which captures it for a signed-in browser; an "
                            "app captures it with POST /api/purchases/{id}/paypal/complete (PayPal's webhook does it "
                            "too if neither happens).")


class PurchaseStarted(Purchase):
    checkout_url: str | None = Field(description="Stripe Checkout's page to pay on (method card); null when it is "
                                                 "already paid, or for PayPal.")
    approve_url: str | None = Field(description="PayPal's page to approve the order on (method paypal); null when it "
                                                "is paid or captured already, or for a card.")


class PurchasePayPalInput(Strict):
    order_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,64}$", description=(
        "The approved order: the `token` PayPal adds to the return URL (the approve_url's token)."))]


def _amount_or_minutes(schema: dict, model: Any) -> None:
    _no_null_defaults(schema, model)
    schema["not"] = {"required": ["amount_minor", "minutes"]}  # one or the other (or neither), never both


class PackageRefundInput(Strict):
    """What to refund: nothing (the unused minutes' whole worth), an amount, or some of the unused minutes."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra=_amount_or_minutes)
    amount_minor: whole(ge=1, le=limits.MAX_ID) = Field(
        None, description="Money back, at most what the unused minutes are worth; it takes back the minutes it paid "
                          "for (rounded up). Leave out (with minutes) to refund the unused minutes' whole worth.")
    minutes: whole(ge=1, le=limits.MAX_ID) = Field(
        None, description="Unused minutes to take back, refunded at their pro-rata worth (rounded down). Not with "
                          "amount_minor.")
    reason: Annotated[str, Field(max_length=limits.REFUND_REASON_MAX)] = ""
    idempotency_key: Annotated[str, Field(pattern=limits.IDEMPOTENCY_KEY_PATTERN)] = Field(
        None, description="The same key again is the same refund (answered again, never made twice); with another "
                          "amount it is a 409. Without one every call is a new refund.")

    @model_validator(mode="after")
    def _amount_or_minutes(self) -> PackageRefundInput:
        if self.amount_minor is not None and self.minutes is not None:
            raise ValueError("Give amount_minor or minutes, not both.")
        return self


class PackageRefund(Out):
    id: Id
    amount_minor: MinorUnits
    currency: CurrencyCode
    minutes: int = Field(ge=0, description="Minutes taken back from the student's balance.")
    shortfall_minutes: int = Field(ge=0, description="Minutes a refund made at the provider was due to take back but "
                                                     "the student had used.")
    status: Literal["pending", "succeeded", "failed"] = Field(
        description="pending until the provider answers (its minutes already taken back); failed gives them back.")
    reason: str
    made_by_staff: bool = Field(description="False for a refund made at Stripe's or PayPal's dashboard.")
    created_at: AwareDatetime


class PurchaseRefunds(Out):
    purchase: Purchase
    student: Named
    unused_minutes: int = Field(ge=0, description="The purchase's minutes neither used nor held for a booking.")
    refundable_minor: MinorUnits = Field(description="What the unused minutes are worth now, pro rata (rounded "
                                                     "down), at most what was paid less earlier refunds.")
    refunded_minor: MinorUnits = Field(description="Refunded so far (pending and succeeded refunds).")
    currency: CurrencyCode
    refunds: list[PackageRefund] = Field(description="Oldest first.")


class PackageRefundMade(PurchaseRefunds):
    refund: PackageRefund = Field(description="The refund this request made (or made before, for a replay).")


class SubscriptionCheckout(Out):
    checkout_url: str = Field(description="Stripe Checkout's page to subscribe on; the subscription appears in GET "
                                          "/api/subscriptions once Stripe confirms it.")


class WalletBalance(Out):
    tutor: Named
    available_minutes: int = Field(ge=0)
    held_minutes: int = Field(ge=0)
    next_expiry: AwareDatetime | None = Field(description="When the soonest of these minutes expire (null: never).")


class MinuteLot(Out):
    id: Id
    tutor_id: Id
    source: str = Field(description="package, subscription, ...")
    minutes: int = Field(ge=1, description="As granted.")
    remaining_minutes: int = Field(ge=1, description="Still yours (minutes are spent soonest expiry first).")
    expires_at: AwareDatetime | None
    granted_at: AwareDatetime


class WalletTransaction(Out):
    id: Id
    move: Literal[tuple(m.value for m in Move)] = Field(  # type: ignore[valid-type]
        description="grant (bought or renewed), hold (a booking awaiting approval), post (approved), void (held "
                    "minutes returned), refund (a cancellation after approval), expire, withdraw (a package's "
                    "purchase refunded), restore (that refund refused: the minutes back).")
    tutor: Named
    minutes: int = Field(ge=1)
    booking_id: Id | None
    available_change: int = Field(description="Signed change to your available minutes.")
    held_change: int = Field(description="Signed change to your held minutes.")
    created_at: AwareDatetime


class Wallet(Out):
    balances: list[WalletBalance] = Field(description="Per tutor, summed from the ledger's entries.")
    lots: list[MinuteLot] = Field(description="The lots still holding your minutes, soonest expiry first.")
    transactions: list[WalletTransaction] = Field(description="The latest, newest first.")


class WalletQuery(Query):
    limit: whole(ge=1, le=100) = Field(20, description="How many recent transactions (default 20).")


class PlanChoice(Out):
    plan: Plan
    takes_effect: Literal["now", "next_renewal"] = Field(
        description="now: a dearer plan, billed at once for what is left of the period (prorated) and its extra "
                    "minutes granted when paid; next_renewal: a cheaper plan, from the next renewal.")


class Subscription(Out):
    id: Id
    tutor: Named
    plan: Plan
    status: Literal[tuple(s.value for s in SubscriptionStatus)]  # type: ignore[valid-type]
    current_period_start: AwareDatetime
    current_period_end: AwareDatetime = Field(description="The next renewal, or the end when cancelled.")
    cancel_at_period_end: bool
    ended_at: AwareDatetime | None
    payment_owed: bool = Field(description="A payment failed: booking with this tutor's minutes is paused.")
    minutes_left: int = Field(ge=0, description="Your available minutes with the tutor (from any package or plan).")
    plan_choices: list[PlanChoice] = Field(description="The plans it can change to (empty once it has ended).")


class SubscriptionList(Out):
    subscriptions: list[Subscription] = Field(description="Live ones first, newest first.")


class ChangePlanInput(Strict):
    plan_id: Id = Field(description="Another of the tutor's plans (see plan_choices).")
