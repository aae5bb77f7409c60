"""The scheduled lesson notices of seed 004: reminders before a lesson, summary-note nudges and review requests after.

Each function takes `now` (the job passes the clock), finds what is due, and tells people through `notify` with a
dedupe key, in one serialized write per lesson that re-reads the lesson first. So a run repeated at the same clock
time, a late run, or two runs at once never tell anyone twice, and a lesson cancelled meanwhile gets nothing. The
jobs run every 15 minutes; the daily ones act from 10:00 on and their keys hold them to once a day (a 15-minute
window would lose a whole day to one late or missed run).

Which lessons count. Reminders: lessons going ahead, i.e. not CANCELLED and either paid (PAID, or PARTIAL_REFUNDED
after an admin's partial refund) or arranged without a booking. Unpaid holds and authorizations still awaiting the
tutor's approval are not confirmed, so they get no reminders; once approved, a reminder that is still due goes out
at the next run. A lesson in RESCHEDULE counts: it still happens at its current time unless the move is accepted.
Summary-note nudges and review requests: lessons that took place by `notes.lesson_took_place`, the rule the notes
and review pages apply, so a nudge never links to a page that refuses the lesson.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..adapters.database import serialized_write
from ..domain.states import BookingState, LessonState
from ..extensions import db
from ..filters import local
from ..models import Booking, Lesson, Notification, SummaryNote, TutorReview, User
from .lesson_messages import lesson_context
from .lessons import Recipient, room_path, student_side, tutor_side
from .locks import LOCK_LESSON_NOTICE
from .notes import lesson_took_place
from .notify import notify
from .urls import public_url

CONFIRMED_BOOKINGS = (BookingState.PAID, BookingState.PARTIAL_REFUNDED)
# (label, how long before the start), latest first: when several points have passed only the latest is due.
REMINDERS: tuple[tuple[str, timedelta], ...] = (("2h", timedelta(hours=2)), ("24h", timedelta(hours=24)))
DAILY_AT = time(10, 0)  # summary-note nudges (tutor's zone) and review requests (UTC) go out from this time on
SHORT = "%a %d %b, %H:%M"


# --- pure rules ------------------------------------------------------------------------------------

def due_reminder(start: datetime, booked_at: datetime, now: datetime) -> str | None:
    """Which reminder ("24h", "2h" or None) is due at `now` for a lesson starting at `start`, booked at `booked_at`.

    The latest reminder point that has passed is due until the lesson starts, so a late or missed run still sends
    it (its dedupe key says whether it went), and a 24 h reminder is never sent once the 2 h one is due. A point
    that passed before the lesson was booked is skipped: a lesson booked 3 hours ahead gets only the 2 h reminder,
    one booked 1 hour ahead none (the booking confirmation has just told everyone)."""
    if start <= now:
        return None
    for label, lead in REMINDERS:
        point = start - lead
        if point <= now:
            return label if booked_at <= point else None
    return None


def local_yesterday(now: datetime, zone: str) -> date | None:
    """The date before today in `zone` once it is 10:00 or later there, else None (not yet time)."""
    here = now.astimezone(ZoneInfo(zone))
    return here.date() - timedelta(days=1) if here.time() >= DAILY_AT else None


# --- shared plumbing -------------------------------------------------------------------------------

def _going_ahead():
    """SQL: the lesson is not cancelled and is paid or has no booking (needs an outer join to Booking)."""
    return and_(Lesson.state != LessonState.CANCELLED,
                or_(Booking.id.is_(None), Booking.state.in_(CONFIRMED_BOOKINGS)))


def goes_ahead(lesson: Lesson) -> bool:
    """The same rule for a loaded lesson."""
    return lesson.state != LessonState.CANCELLED and (lesson.booking is None
                                                      or lesson.booking.state in CONFIRMED_BOOKINGS)


def _lessons(*where, order=(Lesson.start_at, Lesson.id)) -> list[Lesson]:
    query = (select(Lesson).outerjoin(Booking, Booking.lesson_id == Lesson.id).where(_going_ahead(), *where)
             .options(selectinload(Lesson.students), selectinload(Lesson.children), selectinload(Lesson.tutor),
                      selectinload(Lesson.booking), selectinload(Lesson.subject)).order_by(*order))
    return list(db.session.scalars(query))


def _unused(keys: list[str]) -> set[str]:
    """The keys no notification has used yet."""
    used = set(db.session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys)))) \
        if keys else set()
    return set(keys) - used


def _write(lesson_id: int, work: Callable[[Lesson], int]) -> int:
    """Run `work` on the freshly read lesson in one serialized write; a lost race on a dedupe key counts as done."""
    try:
        with serialized_write((LOCK_LESSON_NOTICE, lesson_id)) as session:
            lesson = session.get(Lesson, lesson_id)
            return work(lesson) if lesson is not None else 0
    except IntegrityError:  # another runner (outside the lock) wrote the same key first: it was told once
        current_app.logger.info("lesson %s notice already written by a concurrent run", lesson_id)
        return 0


@dataclass(frozen=True)
class Person:
    """One user to tell about a lesson, with the learners they are told about (a parent may have two)."""

    user: User
    zone: str
    learners: tuple[str, ...]
    is_learner: bool  # the user takes the lesson themself


def _people(recipients: list[Recipient], lesson: Lesson) -> list[Person]:
    """Recipients merged per user, in order (a parent of two children in one lesson hears once)."""
    merged: dict[int, Person] = {}
    for r in recipients:
        known = merged.get(r.user.id)
        learners = (*known.learners, r.learner) if known else (r.learner,)
        merged[r.user.id] = Person(r.user, known.zone if known else r.zone, learners,
                                   any(s.id == r.user.id for s in lesson.students))
    return list(merged.values())


def _lesson_path(lesson: Lesson) -> str:
    return room_path(lesson)  # a reminder leads to where the lesson happens


def _whose(person: Person) -> str:
    """"your" or "Robin's" (mid-sentence)."""
    return "your" if person.is_learner else f"{' and '.join(person.learners)}'s"


# --- SendLessonReminderPushNotification ------------------------------------------------------------

def _reminder_plan(lesson: Lesson, now: datetime) -> list[tuple[Person, str, str]]:
    """(person, dedupe key, label) for each reminder due now; the start instant in the key gives a moved lesson
    its own pair of reminders and leaves the old time's keys behind."""
    label = due_reminder(lesson.start_at, lesson.created_at, now)
    if label is None or not goes_ahead(lesson):
        return []
    stamp = lesson.start_at.strftime("%Y%m%dT%H%MZ")
    people = _people([*student_side(lesson), tutor_side(lesson)], lesson)
    return [(p, f"reminder:{lesson.id}:{label}:{stamp}:{p.user.id}", label) for p in people]


def _send_reminder(lesson: Lesson, person: Person, key: str, label: str) -> bool:
    when = local(lesson.start_at, person.zone, SHORT)
    subject = lesson.subject.name
    if person.user.id == lesson.tutor_id:
        whose, other = "your", ", ".join([c.name for c in lesson.children] + [s.name for s in lesson.students])
    else:
        whose, other = _whose(person), lesson.tutor.name
    heading = "Reminder" if label == "24h" else "Starting soon"
    body = f"{whose} {subject} lesson with {other} starts {when} ({person.zone})."
    return notify(person.user, kind="lesson_reminder", title=f"{heading}: {subject} with {other}, {when}",
                  body=body[0].upper() + body[1:], url=_lesson_path(lesson), dedupe_key=key, push=True) is not None


def send_lesson_reminders(now: datetime) -> int:
    """Push and in-app reminders 24 h and 2 h before each lesson that goes ahead, once each; returns how many."""
    # The widest window that can hold a due reminder: starts within the next 24 hours.
    lessons = _lessons(Lesson.start_at > now, Lesson.start_at <= now + REMINDERS[-1][1])
    wanted = {lesson.id: _reminder_plan(lesson, now) for lesson in lessons}
    unused = _unused([key for plan in wanted.values() for _, key, _ in plan])
    db.session.commit()
    sent = 0
    for lesson_id, plan in wanted.items():
        if not any(key in unused for _, key, _ in plan):
            continue  # everything due for this lesson went out already: no write transaction

        def work(lesson: Lesson) -> int:
            # Re-planned from the row as it is now: cancelled or moved meanwhile means nothing (or other keys).
            return sum(_send_reminder(lesson, person, key, label) for person, key, label in _reminder_plan(lesson, now))
        sent += _write(lesson_id, work)
    return sent


# --- SendSummaryNoteNotification -------------------------------------------------------------------

def _note_due(lesson: Lesson, now: datetime) -> bool:
    """A lesson that finished on the tutor's local yesterday (once it is 10:00 there), goes ahead, has no note."""
    yesterday = local_yesterday(now, lesson.tutor.timezone)
    return (yesterday is not None and lesson_took_place(lesson, now)
            and lesson.finish_at.astimezone(ZoneInfo(lesson.tutor.timezone)).date() == yesterday
            and db.session.scalar(select(SummaryNote.id).where(SummaryNote.lesson_id == lesson.id)) is None)


def _send_note_reminder(lesson: Lesson) -> bool:
    tutor = lesson.tutor
    context = lesson_context(lesson, tutor.timezone)
    path = f"/lessons/{lesson.id}/notes"
    context.update(recipient_name=tutor.name, note_url=public_url(path))
    return notify(tutor, kind="summary_note_reminder",
                  title=f"Add your notes: {context['subject']} with {context['learners']}",
                  body=f"The lesson on {context['when']} ({tutor.timezone}) has no summary note yet.",
                  url=path, dedupe_key=f"summary-note-reminder:{lesson.id}",
                  email_template="summary_note_reminder", email_context=context, push=True) is not None


def send_summary_note_reminders(now: datetime) -> int:
    """Remind tutors, from 10:00 in their zone, to write notes for yesterday's lessons that have none; once per
    lesson. Returns how many reminders were written."""
    # Yesterday in any zone lies within the last three UTC days; the exact test is per tutor zone.
    candidates = _lessons(Lesson.finish_at > now - timedelta(days=3), Lesson.finish_at <= now,
                          ~select(SummaryNote.id).where(SummaryNote.lesson_id == Lesson.id).exists(),
                          order=(Lesson.finish_at, Lesson.id))
    due = [lesson.id for lesson in candidates if _note_due(lesson, now)]
    unused = _unused([f"summary-note-reminder:{lesson_id}" for lesson_id in due])
    db.session.commit()
    sent = 0
    for lesson_id in due:
        if f"summary-note-reminder:{lesson_id}" in unused:
            sent += _write(lesson_id, lambda lesson: int(_note_due(lesson, now) and _send_note_reminder(lesson)))
    return sent


# --- SendReviewTutorNotification -------------------------------------------------------------------

def _reviewed(lesson_id: int, reviewer_id: int) -> bool:
    return db.session.scalar(select(TutorReview.id).where(TutorReview.lesson_id == lesson_id,
                                                          TutorReview.reviewer_id == reviewer_id)) is not None


def _review_key(tutor_id: int, reviewer_id: int, day: date) -> str:
    return f"review-request:{tutor_id}:{reviewer_id}:{day.isoformat()}"


def _finished_on(lesson: Lesson, day: date, now: datetime) -> bool:
    return lesson_took_place(lesson, now) and lesson.finish_at.date() == day  # finish_at is UTC


def _send_review_request(lesson: Lesson, person: Person, key: str) -> bool:
    context = lesson_context(lesson, person.zone)
    review_url = public_url(f"/lessons/{lesson.id}/review")
    context.update(recipient_name=person.user.name, learner=" and ".join(person.learners), whose=_whose(person),
                   review_url=review_url)
    return notify(person.user, kind="review_request", title=f"How was {context['subject']} with {lesson.tutor.name}?",
                  body=f"Rate {context['whose']} lesson on {context['when']} ({person.zone}).",
                  url=f"/lessons/{lesson.id}/review", dedupe_key=key, email_template="review_tutor",
                  email_context=context, push=True) is not None


def send_review_requests(now: datetime) -> int:
    """From 10:00 UTC, ask the reviewer (the student, or the parent) of each lesson that finished yesterday (UTC)
    to review the tutor: one request per tutor and reviewer per day, for their latest lesson not yet reviewed.
    Returns how many requests were written."""
    yesterday = local_yesterday(now, "UTC")
    if yesterday is None:
        return 0
    start = datetime.combine(yesterday, time(0), UTC)
    lessons = _lessons(Lesson.finish_at >= start, Lesson.finish_at < start + timedelta(days=1),
                       Lesson.finish_at <= now, order=(Lesson.finish_at.desc(), Lesson.id.desc()))
    # Latest lesson first, so each (tutor, reviewer) pair asks about the most recent one they have not reviewed.
    chosen: dict[str, tuple[int, int]] = {}
    for lesson in lessons:
        if not lesson_took_place(lesson, now):
            continue
        for person in _people(student_side(lesson), lesson):
            key = _review_key(lesson.tutor_id, person.user.id, yesterday)
            if key not in chosen and not _reviewed(lesson.id, person.user.id):
                chosen[key] = (lesson.id, person.user.id)
    unused = _unused(list(chosen))
    db.session.commit()
    sent = 0
    for key, (lesson_id, reviewer_id) in chosen.items():
        if key not in unused:
            continue

        def work(lesson: Lesson, key=key, reviewer_id=reviewer_id) -> int:
            if not _finished_on(lesson, yesterday, now) or _reviewed(lesson.id, reviewer_id):
                return 0  # changed meanwhile: the next run picks another lesson for this pair, if any
            person = next((p for p in _people(student_side(lesson), lesson) if p.user.id == reviewer_id), None)
            return int(person is not None and _send_review_request(lesson, person, key))
        sent += _write(lesson_id, work)
    return sent
