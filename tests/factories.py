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
