"""Lesson lookups every lifecycle feature shares: who may see a lesson, and who hears about it."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Booking, Child, Lesson, User, lesson_child, lesson_user
from .errors import NotFound


def visible_lessons(user: User):
    """A query of lessons `user` may see: the tutor, the lesson's student, a parent of a child in it, the booker;
    admins see all."""
    query = select(Lesson).options(selectinload(Lesson.students), selectinload(Lesson.children),
                                   selectinload(Lesson.tutor), selectinload(Lesson.subject),
                                   selectinload(Lesson.booking))
    if user.is_staff:
        return query
    as_student = select(lesson_user.c.lesson_id).where(lesson_user.c.user_id == user.id)
    as_parent = select(lesson_child.c.lesson_id).join(Child, Child.id == lesson_child.c.child_id).where(
        Child.parent_id == user.id)
    as_booker = select(Booking.lesson_id).where(Booking.booker_id == user.id)
    return query.where(or_(Lesson.tutor_id == user.id, Lesson.id.in_(as_student), Lesson.id.in_(as_parent),
                           Lesson.id.in_(as_booker)))


def get_lesson(user: User, lesson_id: int) -> Lesson:
    """One lesson the user may see, else NotFound (a stranger's lesson looks exactly like a missing one)."""
    lesson = db.session.scalar(visible_lessons(user).where(Lesson.id == lesson_id))
    if lesson is None:
        raise NotFound("We could not find that lesson.")
    return lesson


def room_path(lesson: Lesson) -> str:
    """The lesson room's path (details, chat, meeting link, summary note)."""
    return f"/lessons/{lesson.id}/room"


def is_tutor_of(user: User, lesson: Lesson) -> bool:
    """Whether `user` teaches this lesson."""
    return lesson.tutor_id == user.id


@dataclass(frozen=True)
class Recipient:
    """Someone to tell about a lesson, in their own time zone; `learner` names who takes the lesson."""

    user: User
    zone: str
    learner: str


def student_side(lesson: Lesson) -> list[Recipient]:
    """The people on the learner's side: the student themself, or the parent of each child in the lesson."""
    people = [Recipient(s, s.timezone, s.name) for s in lesson.students]
    parents = db.session.scalars(select(User).where(User.id.in_([c.parent_id for c in lesson.children]))) \
        if lesson.children else []
    by_id = {p.id: p for p in parents}
    people += [Recipient(by_id[c.parent_id], c.timezone, c.name) for c in lesson.children if c.parent_id in by_id]
    return people


def tutor_side(lesson: Lesson) -> Recipient:
    """The tutor, in the tutor's zone."""
    return Recipient(lesson.tutor, lesson.tutor.timezone, lesson.tutor.name)


def other_side(user: User, lesson: Lesson) -> list[Recipient]:
    """Whoever is on the other side of `user` in this lesson (the tutor, or the learner's side)."""
    return student_side(lesson) if is_tutor_of(user, lesson) else [tutor_side(lesson)]
