"""Factories that build data through the real services (so test data obeys the same rules as users' data)."""
from __future__ import annotations

import itertools

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Level, Subject, Teach, User
from webapp.services import accounts, availability, catalogue

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)
ALL_WEEK = [(day, "00:00", "24:00") for day in range(7)]


def subject(name: str = "Mathematics") -> Subject:
    """A subject, created once."""
    row = db.session.scalar(select(Subject).where(Subject.name == name))
    if row is None:
        row = Subject(name=name, slug=name.lower().replace(" ", "-"))
        db.session.add(row)
        db.session.commit()
    return row


def level(name: str = "GCSE", rank: int = 2) -> Level:
    """A level, created once."""
    row = db.session.scalar(select(Level).where(Level.name == name))
    if row is None:
        row = Level(name=name, rank=rank)
        db.session.add(row)
        db.session.commit()
    return row


def user(role: str = "student", *, timezone: str = "Europe/London", name: str | None = None,
         email: str | None = None) -> User:
    """An account of `role` (password: PASSWORD)."""
    n = next(_seq)
    return accounts.create_user(email=email or f"{role}{n}@example.com", password=PASSWORD,
                                name=name or f"{role.title()} {n}", role=role, timezone=timezone)


def tutor(*, timezone: str = "Europe/London", weekly=None, rate_minor: int = 4000, currency: str = "GBP",
          online: bool = True, in_person: bool = False, notice_hours: int = 0, horizon_days: int = 60,
          buffer_minutes: int = 0, subject_name: str = "Mathematics", level_name: str = "GCSE",
          name: str | None = None) -> tuple[User, Teach]:
    """A tutor with one teach record and weekly hours (default: every day, all day)."""
    t = user("tutor", timezone=timezone, name=name)
    catalogue.replace_teaches(t, [{"subject_id": subject(subject_name).id, "level_id": level(level_name).id,
                                   "hourly_rate_minor": rate_minor, "currency": currency, "online": online,
                                   "in_person": in_person}])
    availability.update_settings(t, {
        "weekly": [{"weekday": d, "start": s, "end": e} for d, s, e in (weekly if weekly is not None else ALL_WEEK)],
        "min_notice_hours": notice_hours, "horizon_days": horizon_days, "travel_buffer_minutes": buffer_minutes})
    teach = db.session.scalar(select(Teach).where(Teach.tutor_id == t.id))
    return t, teach


def child(parent: User, name: str = "Robin"):
    """A child of `parent`."""
    return accounts.add_child(parent, name=name, year_level="Year 9", timezone=parent.timezone)

def finished_lesson(teacher: User | None = None, teach: Teach | None = None, *, booker: User | None = None,
                    for_child=None, ended_ago=None, duration_minutes: int = 60, paid: bool = True):
    """A lesson that ended `ended_ago` (a timedelta, default two days) before now, booked through request_booking
    with its clock set a day before the lesson (slots must lie in the booker's future). With `paid`, the booking
    then moves along the transition table to PAID, standing in for the Stripe flow the payment tests cover.
    `for_child` books as the child's parent; `teacher` defaults to a new tutor."""
    from datetime import UTC, datetime, timedelta
    finish = datetime.now(UTC).replace(second=0, microsecond=0) - (ended_ago or timedelta(days=2))
    start = finish - timedelta(minutes=duration_minutes)
    start -= timedelta(minutes=start.minute % 15)  # on the 15-minute grid
    return lesson_at(start, teacher=teacher, teach=teach, booker=booker, for_child=for_child,
                     duration_minutes=duration_minutes, booked_at=start - timedelta(days=1),
                     booking_state="PAID" if paid else "AWAITING_PAYMENT")

def lesson_at(start, *, teacher: User | None = None, teach: Teach | None = None, booker: User | None = None,
              for_child=None, duration_minutes: int = 60, booked_at=None, booking_state: str | None = "PAID"):
    """A lesson starting at `start` (aware, on the 15-minute grid), booked through request_booking with the clock at
    `booked_at` (default three days before). The booking then walks the transition table to `booking_state`,
    standing in for the Stripe flow the payment tests cover; `booking_state=None` leaves a lesson without a booking.
    `for_child` books as the child's parent; `teacher` defaults to a new tutor."""
    from datetime import timedelta

    from webapp.domain.states import BookingState, next_booking_state
    from webapp.models import Lesson
    from webapp.services import bookings
    if teacher is None:
        teacher, teach = tutor()
    teach = teach or db.session.scalar(select(Teach).where(Teach.tutor_id == teacher.id))
    if for_child is not None:
        booker = for_child.parent
    booker = booker or user("student")
    booking = bookings.request_booking(booker, bookings.BookingRequest(
        tutor_id=teacher.id, teach_id=teach.id, start=start, duration_minutes=duration_minutes,
        child_id=for_child.id if for_child is not None else None), now=booked_at or start - timedelta(days=3))
    lesson_id = booking.lesson_id
    paths = {"AWAITING_PAYMENT": [], "REQUIRES_CAPTURE": ["REQUIRES_CAPTURE"], "PAID": ["REQUIRES_CAPTURE", "PAID"],
             "PARTIAL_REFUNDED": ["REQUIRES_CAPTURE", "PAID", "PARTIAL_REFUNDED"],
             "REFUNDED": ["REQUIRES_CAPTURE", "PAID", "REFUNDED"], None: []}
    for state in paths[booking_state]:
        booking.state = next_booking_state(booking.state, BookingState(state))
    if booking_state is None:
        db.session.delete(booking)
    db.session.commit()
    return db.session.get(Lesson, lesson_id)


def weak_topic(lesson, slug: str, wrong: bool = True) -> None:
    """The learner of `lesson` gets homework on `slug` and answers one of its questions (wrong by default)."""
    from datetime import UTC, datetime

    from webapp.models import HomeworkSet, Topic, User
    from webapp.services import homework, notes
    now = datetime.now(UTC)
    topic_id = db.session.scalar(select(Topic.id).where(Topic.slug == slug))
    notes.save_note(lesson.tutor, lesson.id, "Worked on it.", [], now, covered=[],
                    errors=[homework.ErrorInput(topic_id, "Slipped", "")])
    found = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
    homework.publish(lesson.tutor, found.id, now)
    db.session.commit()
    entry = next(e for e in found.entries if e.item.topic_id == topic_id)
    item = entry.item
    answer = item.answer if not wrong else (str((int(item.answer) + 1) % len(item.choices)) if item.kind == "choice"
                                            else "12345")
    homework.answer(db.session.get(User, found.answerer_id), entry.id, answer, now)
