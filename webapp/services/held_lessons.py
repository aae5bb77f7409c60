"""The "lesson held" analytics event: a lesson is held once its end has passed and it took place (not cancelled,
and paid for when booked: the rule `notes.lesson_took_place` states for notes and reviews). No request marks that
moment, so a periodic job records it, once per lesson by its dedupe id."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, cast, literal, select
from sqlalchemy.orm import selectinload

from ..domain.analytics import EventName, dedupe_id
from ..domain.states import LessonState
from ..extensions import db
from ..models import AnalyticsEvent, Lesson
from .analytics import record_event
from .notes import lesson_took_place

LOOKBACK = timedelta(days=30)  # lessons that ended longer ago were recorded by earlier runs (or predate the event)
BATCH = 500


def _not_recorded():
    """Lessons with no lesson_held event yet (the dedupe id is the lesson's, so the unique index answers)."""
    recorded = select(AnalyticsEvent.id).where(
        AnalyticsEvent.dedupe_id == literal(f"{EventName.LESSON_HELD.value}:") + cast(Lesson.id, String))
    return ~recorded.exists()


def record_held_lessons(now: datetime, lookback: timedelta = LOOKBACK) -> int:
    """Record `lesson_held` for each lesson that ended in the last `lookback` and took place; returns how many.

    Each batch is one transaction; a second run (or two workers at once) records nothing twice: the dedupe id
    `lesson_held:<lesson id>` is unique and the insert does nothing on a conflict."""
    recorded = 0
    after_id = 0
    while True:
        lessons = list(db.session.scalars(
            select(Lesson).options(selectinload(Lesson.booking), selectinload(Lesson.students))
            .where(Lesson.state == LessonState.ACTIVE, Lesson.finish_at <= now, Lesson.finish_at > now - lookback,
                   Lesson.id > after_id, _not_recorded())
            .order_by(Lesson.id).limit(BATCH)))
        if not lessons:
            db.session.commit()  # end the read
            return recorded
        for lesson in lessons:
            if not lesson_took_place(lesson, now):
                continue  # a lapsed hold or a declined request: it never happened
            booking = lesson.booking
            learner = booking.booker_id if booking else (lesson.students[0].id if lesson.students else None)
            record_event(db.session, EventName.LESSON_HELD, dedupe=dedupe_id(EventName.LESSON_HELD, lesson.id),
                         at=lesson.finish_at, user_id=learner, lesson_id=lesson.id, tutor_id=lesson.tutor_id,
                         booking_id=booking.id if booking else None,
                         minutes=int((lesson.finish_at - lesson.start_at).total_seconds() // 60))
            recorded += 1
        db.session.commit()
        after_id = lessons[-1].id
