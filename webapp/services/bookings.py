"""Booking use cases: request a booking (lesson + booking + address + links in one transaction), list, expire holds."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..adapters.database import serialized_write
from ..domain import labels, limits
from ..domain.analytics import EventName, dedupe_id
from ..domain.funding import Funding, authorization_name
from ..domain.money import Money
from ..domain.states import BLOCKING_LESSON_STATES, BookingState, LessonState, next_booking_state, next_lesson_state
from ..domain.travel import Coordinates
from ..extensions import db
from ..filters import zoned
from ..models import Booking, Child, Lesson, LessonAddress, Role, User, lesson_child, lesson_user
from . import availability, places, wallet
from .accounts import child_of
from .analytics import record_event
from .errors import AccountSuspended, AlreadyYours, Forbidden, NotFound, SlotTaken, ValidationError
from .locks import LOCK_CHILD, LOCK_TUTOR, LOCK_USER

MAX_NOTE = limits.BOOKING_NOTE_MAX


@dataclass(frozen=True)
class Address:
    """Where an in-person lesson happens."""

    line1: str
    city: str = ""
    postcode: str = ""
    latitude: float | None = None
    longitude: float | None = None

    @property
    def coordinates(self) -> Coordinates | None:
        if self.latitude is None or self.longitude is None:
            return None
        return Coordinates(self.latitude, self.longitude)


@dataclass(frozen=True)
class BookingRequest:
    """Everything a booker sends to book one slot."""

    tutor_id: int
    teach_id: int
    start: datetime
    duration_minutes: int
    in_person: bool = False
    address: Address | None = None
    child_id: int | None = None
    note: str = ""
    form_key: str | None = None  # the booking form's one-time key: the same key twice means the same booking


def parse_address(line1, city=None, postcode=None, latitude=None, longitude=None) -> Address:
    """Validate an in-person address (street line, postcode, city); coordinates come from the geocoder, or from an
    API client that sends both."""
    errors = {}
    line1 = (line1 or "").strip() if isinstance(line1, str) else ""
    city = str(city).strip() if isinstance(city, (str, int)) and not isinstance(city, bool) else ""
    postcode = str(postcode).strip() if isinstance(postcode, (str, int)) and not isinstance(postcode, bool) else ""
    if not line1:
        errors["address.line1"] = "Street address: give the street and number where the lesson takes place."
    elif len(line1) > 200:
        errors["address.line1"] = "Street address: up to 200 characters."
    if len(postcode) > 20:
        errors["address.postcode"] = "Postcode: up to 20 characters."
    if len(city) > 100:
        errors["address.city"] = "City: up to 100 characters."
    lat = lon = None
    if (latitude in (None, "")) != (longitude in (None, "")):
        errors["address.latitude"] = "Give both latitude and longitude, or neither."
    elif latitude not in (None, ""):
        try:
            coords = Coordinates(float(latitude), float(longitude))
            lat, lon = coords.lat, coords.lon
        except (TypeError, ValueError):
            errors["address.latitude"] = "Latitude is -90..90 and longitude -180..180."
    if errors:
        raise ValidationError("Please correct the lesson address. " + " ".join(errors.values()), errors)
    return Address(line1, city, postcode, lat, lon)


def request_booking(booker: User, req: BookingRequest, now: datetime | None = None) -> Booking:
    """Book a free slot: lesson ACTIVE + booking AWAITING_PAYMENT with a hold, all or nothing."""
    now = now or datetime.now(UTC)
    if booker.role not in (Role.STUDENT, Role.PARENT):
        raise Forbidden("Only student and parent accounts can book lessons.")
    if booker.is_suspended:
        raise AccountSuspended(booker.suspension_reason)
    child: Child | None = None
    if booker.is_parent:
        if req.child_id is None:
            raise ValidationError("Choose which child the lesson is for.", {"child_id": "Choose a child."})
        child = child_of(booker, req.child_id)
    elif req.child_id is not None:
        # Who you are decides it, not what you sent: a refusal (403), as for any action your role may not take.
        raise Forbidden("Only parents book for children.", {"child_id": "Only parents book for children."})
    note = (req.note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError("The note is too long.", {"note": f"Up to {MAX_NOTE} characters."})
    if req.start.tzinfo is None:
        raise ValidationError("Send the start time with its zone or offset.", {"start": "Include a zone offset."})
    if req.in_person and req.address is None:
        message = "Street address: give the street and number where the lesson takes place."
        raise ValidationError("In-person lessons need an address. " + message, {"address.line1": message})
    start = _bookable_start(req.start, now)
    duration = availability.validate_duration(req.duration_minutes)
    finish = start + timedelta(minutes=duration)
    if req.in_person and req.address.coordinates is None:
        # A network call, made before this booking writes anything; without an answer the address is kept as typed
        # and the travel buffers around it are the conservative default (TRAVEL_UNKNOWN_PLACE_MINUTES).
        found = places.locate(req.address.line1, req.address.postcode, req.address.city)
        if found is not None:
            req = replace(req, address=replace(req.address, latitude=found.lat, longitude=found.lon))
    location = req.address.coordinates if req.in_person and req.address else None
    slot_request = availability.SlotRequest(req.tutor_id, req.teach_id, start, start + timedelta(minutes=1),
                                            duration, req.in_person, location)
    form_key = _valid_form_key(req.form_key)
    if form_key and (earlier := _booking_for_form_key(booker.id, form_key)) is not None:
        return earlier  # the same form sent again (a double click, Back and resubmit): the booking it made
    teach = availability.resolve_teach(req.tutor_id, req.teach_id)  # 404 before we take any lock
    hold_minutes = current_app.config["BOOKING_HOLD_MINUTES"]

    student_lock = (LOCK_CHILD, child.id) if child else (LOCK_USER, booker.id)
    try:
        return _book_locked(booker, req, child, teach, start, finish, duration, slot_request, note, form_key,
                            hold_minutes, now, student_lock)
    except SlotTaken:
        # A submit of the same form that ran alongside ours may have made the booking (PostgreSQL's unique key
        # refused our copy): that one is ours too.
        if form_key and (earlier := _booking_for_form_key(booker.id, form_key)) is not None:
            return earlier
        if (own := _own_open_booking_at(booker.id, req.tutor_id, start)) is not None:
            raise AlreadyYours(own.id) from None  # a fresh form for a slot they hold already: show them that booking
        raise


def _bookable_start(start: datetime, now: datetime) -> datetime:
    """The start in UTC, if it could be bookable at all (from now up to the longest horizon); else, as for a taken
    slot, SlotTaken (the time is not free), before any date arithmetic can overflow at the ends of the calendar."""
    try:
        moment = start.astimezone(UTC)
    except OverflowError:
        moment = None
    if moment is None or moment <= now:
        raise SlotTaken("That time cannot be booked: it is in the past. Please pick another time.")
    if moment > now + timedelta(days=limits.HORIZON_DAYS[1]):
        raise SlotTaken("That time cannot be booked: it is further ahead than any tutor takes bookings. "
                        "Please pick another time.")
    return moment


def _own_open_booking_at(booker_id: int, tutor_id: int, start: datetime) -> Booking | None:
    """This booker's live booking with this tutor starting exactly then, if any."""
    return db.session.scalars(select(Booking).join(Lesson).where(
        Booking.booker_id == booker_id, Lesson.tutor_id == tutor_id, Lesson.start_at == start,
        Lesson.state.in_(BLOCKING_LESSON_STATES),
        Booking.state.in_([BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE, BookingState.PAID,
                           BookingState.PARTIAL_REFUNDED]))).first()


def _valid_form_key(key: str | None) -> str | None:
    """A form key is optional (the API may omit it) but, when sent, a short token and nothing else."""
    if key in (None, ""):
        return None
    if not isinstance(key, str) or len(key) > 64 or not key.replace("-", "").replace("_", "").isalnum():
        raise ValidationError("This form is out of date; reload the page and book again.",
                              {"form_key": "Reload the page and try again."})
    return key


def _booking_for_form_key(booker_id: int, form_key: str) -> Booking | None:
    """The booking this booker made with this form key, if any."""
    return db.session.scalars(select(Booking).where(Booking.booker_id == booker_id,
                                                    Booking.form_key == form_key)).first()


def _book_locked(booker, req, child, teach, start, finish, duration, slot_request, note, form_key, hold_minutes,
                 now, student_lock) -> Booking:
    """The write itself: re-check the form key and the slot under the tutor's and student's locks, then insert."""
    with serialized_write((LOCK_TUTOR, req.tutor_id), student_lock) as session:
        if form_key and (earlier := _booking_for_form_key(booker.id, form_key)) is not None:
            return earlier  # the other submit of this form committed while we waited for the lock
        _expire_holds_for_tutor(req.tutor_id, now)
        try:
            result = availability.find_slots(slot_request, now)
        except ValidationError as exc:
            if "start_date" not in exc.fields:
                raise
            # The time is past, or beyond the tutor's horizon: like a taken slot, it is not free (now), so 409.
            raise SlotTaken(f"That time cannot be booked: {exc.message} Please pick another time.") from None
        if start not in result.slots:
            # "Just taken" only when a lesson holds that time now; otherwise it was never among the free times (a
            # link typed or kept from another day: off the 15-minute grid, outside the tutor's hours).
            if session.scalar(availability.blocking_lessons_query(req.tutor_id, start, finish, now).limit(1)):
                raise SlotTaken()
            raise SlotTaken("That time is not one of the tutor's free times. Please pick another time.")
        if availability.student_overlaps(None if child else booker.id, child.id if child else None, start, finish, now):
            who = f"{child.name} already has" if child else "You already have"
            raise ValidationError(f"{who} a lesson at that time.", {"start": f"{who} a lesson at that time."})
        lesson = Lesson(tutor_id=req.tutor_id, subject_id=teach.subject_id, level_id=teach.level_id,
                        exam_board_id=teach.exam_board_id, teach_id=teach.id, start_at=start, finish_at=finish,
                        duration_minutes=duration, state=LessonState.ACTIVE, in_person=req.in_person, created_at=now)
        session.add(lesson)
        if child:
            lesson.children.append(child)
        else:
            lesson.students.append(booker)
        if req.in_person:
            a = req.address
            session.add(LessonAddress(lesson=lesson, line1=a.line1, city=a.city, postcode=a.postcode,
                                      latitude=a.latitude, longitude=a.longitude))
        booking = Booking(lesson=lesson, booker_id=booker.id, state=BookingState.AWAITING_PAYMENT,
                          hold_expires_at=now + timedelta(minutes=hold_minutes),
                          price_minor=result.price.lesson_price.amount_minor, currency=result.price.lesson_price.currency,
                          note=note, form_key=form_key, created_at=now, updated_at=now)
        session.add(booking)
        try:
            session.flush()
        except IntegrityError as exc:
            # PostgreSQL's exclusion constraint (another transaction got there first), or this form's key already
            # used by a submit that committed meanwhile; the caller tells them apart.
            raise SlotTaken() from exc
        record_event(session, EventName.BOOKING_CREATED, dedupe=dedupe_id(EventName.BOOKING_CREATED, booking.id),
                     at=now, user_id=booker.id, booking_id=booking.id, tutor_id=lesson.tutor_id,
                     price_minor=booking.price_minor, currency=booking.currency)
    return booking


def _expire_holds_for_tutor(tutor_id: int, now: datetime) -> None:
    """Inside the write transaction: release this tutor's lapsed unpaid holds so the constraint sees them gone."""
    stale = db.session.scalars(select(Booking).join(Lesson).where(
        Lesson.tutor_id == tutor_id, Booking.state == BookingState.AWAITING_PAYMENT, Booking.hold_expires_at <= now,
        Lesson.state.in_([LessonState.ACTIVE, LessonState.RESCHEDULE])))
    for booking in stale:
        _expire(booking, now)
    db.session.flush()


def _expire(booking: Booking, now: datetime) -> None:
    booking.state = next_booking_state(booking.state, BookingState.EXPIRED)
    booking.updated_at = now
    if booking.lesson.state != LessonState.CANCELLED:
        booking.lesson.state = next_lesson_state(booking.lesson.state, LessonState.CANCELLED)


def expire_stale_holds(now: datetime) -> list[int]:
    """Expire every unpaid hold past its time; returns the ids this run expired. Safe to run twice or concurrently."""
    ids = list(db.session.scalars(select(Booking.id).where(
        Booking.state == BookingState.AWAITING_PAYMENT, Booking.hold_expires_at <= now)))
    db.session.commit()  # each update below then starts its own write transaction (no stale SQLite snapshot)
    expired: list[int] = []
    for booking_id in ids:
        with serialized_write() as session:
            booking = session.get(Booking, booking_id)
            # Re-checked inside the write: a concurrent run or a late payment may have moved it already.
            if booking.state == BookingState.AWAITING_PAYMENT and booking.hold_expires_at <= now:
                _expire(booking, now)
                expired.append(booking_id)
    return expired


def _visible_bookings(user: User):
    """Bookings the user may see: their own as booker, as the lesson's student, or as the tutor; admins all."""
    query = select(Booking).join(Lesson, Lesson.id == Booking.lesson_id)
    if user.is_staff:
        return query
    as_student = select(lesson_user.c.lesson_id).where(lesson_user.c.user_id == user.id)
    as_parent = select(lesson_child.c.lesson_id).join(Child, Child.id == lesson_child.c.child_id).where(
        Child.parent_id == user.id)
    return query.where(or_(Booking.booker_id == user.id, Lesson.tutor_id == user.id,
                           Lesson.id.in_(as_student), Lesson.id.in_(as_parent)))


def _with_details(query):
    return query.options(
        selectinload(Booking.lesson).selectinload(Lesson.subject), selectinload(Booking.lesson).selectinload(Lesson.level),
        selectinload(Booking.lesson).selectinload(Lesson.tutor), selectinload(Booking.lesson).selectinload(Lesson.address),
        selectinload(Booking.lesson).selectinload(Lesson.children), selectinload(Booking.lesson).selectinload(Lesson.students),
        selectinload(Booking.booker))


def get_booking(user: User, booking_id: int) -> Booking:
    """One booking the user may see, else NotFound (never a hint that it exists)."""
    booking = db.session.scalar(_with_details(_visible_bookings(user).where(Booking.id == booking_id)))
    if booking is None:
        raise NotFound("We could not find that booking.")
    return booking


def list_bookings(user: User, now: datetime, when: str = "upcoming") -> list[Booking]:
    """The user's bookings, upcoming (soonest first) or past (latest first)."""
    query = _with_details(_visible_bookings(user))
    if when == "past":
        query = query.where(Lesson.finish_at <= now).order_by(Lesson.start_at.desc())
    else:
        query = query.where(Lesson.finish_at > now).order_by(Lesson.start_at)
    return list(db.session.scalars(query.limit(200)))


def recent_bookings(admin: User, limit: int = 100) -> list[Booking]:
    """The newest bookings on the platform (admins and support agents only)."""
    if not admin.is_staff:
        raise NotFound("We could not find that page.")
    return list(db.session.scalars(_with_details(_visible_bookings(admin)).order_by(Booking.id.desc()).limit(limit)))


def tutor_upcoming_lessons(tutor: User, now: datetime) -> list[Lesson]:
    """A tutor's lessons that have not finished and still matter (not cancelled, not a lapsed hold)."""
    query = availability.blocking_lessons_query(tutor.id, now, now + timedelta(days=366), now).options(
        selectinload(Lesson.subject), selectinload(Lesson.level), selectinload(Lesson.booking),
        selectinload(Lesson.students), selectinload(Lesson.children), selectinload(Lesson.address))
    return list(db.session.scalars(query.order_by(Lesson.start_at).limit(200)))


def booking_status_words(booking: Booking, now: datetime) -> str:
    """What the booking means for the user right now: the lesson and the money, each for what it is."""
    lesson = booking.lesson
    state = booking.state
    receipt = booking.receipt
    money = (lambda v: Money(v, booking.currency).format())
    if state == BookingState.AWAITING_PAYMENT:
        if booking.hold_expires_at and booking.hold_expires_at <= now:
            return "The hold on this slot has expired; the time is free again."
        if booking.hold_expires_at is None:
            return "Awaiting payment."
        # The time itself, in the viewer's zone: this sentence also stands alone (the bookings list, the API).
        until = zoned(booking.hold_expires_at, None, "%a %d %b, %H:%M")
        return f"Awaiting payment. The slot is held for you until {until}."
    if booking.funding == Funding.MINUTES:
        return _minutes_status_words(booking)
    if state == BookingState.REQUIRES_CAPTURE:
        return "Payment authorized; waiting for the tutor to approve. You are charged only when they do."
    if state == BookingState.DECLINED:
        return f"Declined by the tutor; the {authorization_name(booking.funding)} was released and nothing was charged."
    if state == BookingState.EXPIRED:
        return "Expired; the slot was released." if receipt is None else \
            f"The tutor did not approve in time; the {authorization_name(booking.funding)} was released and nothing was charged."
    if state == BookingState.CANCELLED:
        return "Cancelled before payment." if receipt is None else \
            f"Cancelled; the {authorization_name(booking.funding)} was released and nothing was charged."
    cancelled = lesson.state == LessonState.CANCELLED
    refunded = receipt.refunded_minor if receipt else 0
    if state == BookingState.REFUNDED:
        return "Cancelled and refunded in full." if cancelled else "Booked; the payment was refunded in full."
    if state == BookingState.PARTIAL_REFUNDED:
        if cancelled:
            return "Cancelled with a partial refund."
        if receipt is None:  # legacy data without a receipt row
            return "Booked and paid; part of the payment was refunded."
        return f"Booked and paid; {money(refunded)} of {money(receipt.amount_minor)} was refunded."
    if cancelled:
        return "Cancelled; no refund under the cancellation policy."
    return "Confirmed and paid."


def _minutes_status_words(booking: Booking) -> str:
    """booking_status_words for a booking paid with prepaid minutes."""
    paid, returned = wallet.booking_minutes(db.session, booking.id)
    cancelled = booking.lesson.state == LessonState.CANCELLED
    if booking.state == BookingState.REQUIRES_CAPTURE:
        return (f"Paid with {paid} minutes, held until the tutor approves; they go back to your balance if the "
                "tutor declines or does not answer in time.")
    if booking.state in (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED):
        why = {BookingState.DECLINED: "Declined by the tutor", BookingState.EXPIRED: "The tutor did not approve in time",
               BookingState.CANCELLED: "Cancelled"}[booking.state]
        return f"{why}; the {paid} minutes held went back to your balance."
    if returned:
        whole = "all of them" if returned >= paid else f"{returned} of them"
        return f"{'Cancelled' if cancelled else 'Booked'}; paid with {paid} minutes, {whole} returned to your balance."
    if cancelled:
        return f"Cancelled; paid with {paid} minutes, none returned under the cancellation policy."
    return f"Confirmed and paid with {paid} minutes."


def lesson_and_payment(booking: Booking, now: datetime) -> tuple[str, str]:
    """The lesson's state and the money's state, worded separately ("Booked", "£10.00 refunded of £38.00")."""
    lesson, receipt = booking.lesson, booking.receipt
    if booking.funding == Funding.MINUTES:
        paid, returned = wallet.booking_minutes(db.session, booking.id)
        return (labels.lesson_words(lesson.state, booking.state, lesson.start_at, lesson.finish_at, now),
                labels.minutes_payment_words(booking.state, paid, returned))
    return (labels.lesson_words(lesson.state, booking.state, lesson.start_at, lesson.finish_at, now),
            labels.payment_words(booking.state, receipt.amount_minor if receipt else None,
                                 receipt.refunded_minor if receipt else 0, booking.currency))


def is_hold_lapsed(booking: Booking, now: datetime) -> bool:
    """An unpaid hold whose time ran out (whether or not the job has marked it yet)."""
    return booking.state == BookingState.AWAITING_PAYMENT and booking.hold_expires_at is not None \
        and booking.hold_expires_at <= now
