"""Catalogue use cases: subjects and levels, the tutor directory, a tutor's teach records and profile."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, tzinfo

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from ..domain import limits
from ..domain.money import CURRENCY_EXPONENTS
from ..extensions import db
from ..models import ExamBoard, Lesson, Level, Role, Subject, Teach, TutorProfile, User
from .errors import NotFound, ValidationError

MAX_TEACHES = limits.MAX_TEACHES
# Loader options are immutable and costly to build (a few hundred microseconds each): built once, reused.
WITH_PROFILE = [joinedload(User.tutor_profile)]
TEACH_NAMES = (joinedload(Teach.subject), joinedload(Teach.level), joinedload(Teach.exam_board))


@dataclass(frozen=True)
class TutorFilters:
    """Directory filters as the user chose them (all optional)."""

    subject_id: int | None = None
    level_id: int | None = None
    mode: str | None = None  # "online" or "in_person"
    max_rate_minor: int | None = None
    currency: str = "GBP"  # the currency `max_rate_minor` is in: a cap of 30 is £30, never €30 or $30
    # Free within the next 14 days on these local weekdays (0=Monday) at these times of day, in `zone`.
    free_days: frozenset[int] = frozenset()
    free_times: frozenset[str] = frozenset()
    zone: tzinfo = UTC

    @property
    def by_free_time(self) -> bool:
        return bool(self.free_days or self.free_times)


@dataclass(frozen=True)
class TutorCard:
    """One row of the directory: the tutor and the teach records that match the filters."""

    tutor: User
    profile: TutorProfile
    teaches: list[Teach]

    @property
    def from_rate(self) -> Teach:
        return min(self.teaches, key=lambda t: t.hourly_rate_minor)


def catalogue() -> dict[str, list]:
    """All subjects, levels and exam boards, ordered for menus."""
    return {
        "subjects": list(db.session.scalars(select(Subject).order_by(Subject.name))),
        "levels": list(db.session.scalars(select(Level).order_by(Level.rank, Level.name))),
        "exam_boards": list(db.session.scalars(select(ExamBoard).order_by(ExamBoard.name))),
    }


def search_tutors(filters: TutorFilters) -> list[TutorCard]:
    """Tutors with at least one teach record matching the catalogue filters, cheapest first (free time is
    availability.search_tutors_by_free_time's, which narrows this list)."""
    query = select(Teach).join(User, User.id == Teach.tutor_id).join(
        TutorProfile, TutorProfile.user_id == User.id).where(
        User.role == Role.TUTOR, Teach.active.is_(True), TutorProfile.approval == "approved",
        User.suspended_at.is_(None)).options(
        selectinload(Teach.subject), selectinload(Teach.level), selectinload(Teach.exam_board))
    if filters.subject_id:
        query = query.where(Teach.subject_id == filters.subject_id)
    if filters.level_id:
        query = query.where(Teach.level_id == filters.level_id)
    if filters.mode == "online":
        query = query.where(Teach.online.is_(True))
    elif filters.mode == "in_person":
        query = query.where(Teach.in_person.is_(True))
    if filters.max_rate_minor is not None:
        # Rates in other currencies cannot be compared with the cap (no exchange rates here), so they do not match.
        query = query.where(Teach.currency == filters.currency, Teach.hourly_rate_minor <= filters.max_rate_minor)
    teaches = list(db.session.scalars(query.order_by(Teach.tutor_id, Teach.id)))
    tutor_ids = sorted({t.tutor_id for t in teaches})
    tutors = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_(tutor_ids)).options(selectinload(User.tutor_profile)))} if tutor_ids else {}
    by_tutor: dict[int, list[Teach]] = {}
    for teach in teaches:
        by_tutor.setdefault(teach.tutor_id, []).append(teach)
    cards = [TutorCard(tutors[tid], tutors[tid].tutor_profile, items) for tid, items in by_tutor.items()]
    return sorted(cards, key=lambda c: (c.from_rate.hourly_rate_minor, c.tutor.name))


def get_tutor(tutor_id: int) -> User:
    """A tutor by id, or NotFound."""
    # The profile comes in the same statement: every page that shows a tutor reads it.
    tutor = db.session.get(User, tutor_id, options=WITH_PROFILE)
    if tutor is None or tutor.role != Role.TUTOR or not is_listed(tutor):
        raise NotFound("We could not find that tutor.")
    return tutor


def is_listed(tutor: User) -> bool:
    """Whether a tutor is in the directory and bookable: approved by an admin and not suspended."""
    return tutor.tutor_profile is not None and tutor.tutor_profile.approval == "approved" and not tutor.is_suspended


def tutor_and_teaches(tutor_id: int) -> tuple[User, list[Teach]]:
    """A tutor (with profile) and the teach records on offer (with names), in one statement; NotFound if no tutor."""
    rows = db.session.execute(_TUTOR_AND_TEACHES, {"tutor_id": tutor_id}).all()
    if not rows or rows[0][0].role != Role.TUTOR or not is_listed(rows[0][0]):
        raise NotFound("We could not find that tutor.")
    return rows[0][0], [teach for _, teach in rows if teach is not None]


# Built once: the booker runs it on every request (the tutor's row repeats beside each teach record).
_TUTOR_AND_TEACHES = (
    select(User, Teach).outerjoin(Teach, and_(Teach.tutor_id == User.id, Teach.active.is_(True)))
    .where(User.id == bindparam("tutor_id")).options(*WITH_PROFILE, *TEACH_NAMES).order_by(Teach.id))


def tutor_teaches(tutor_id: int, include_retired: bool = False) -> list[Teach]:
    """A tutor's teach records (those on offer, unless `include_retired`) with subject, level and board loaded."""
    query = select(Teach).where(Teach.tutor_id == tutor_id)
    if not include_retired:
        query = query.where(Teach.active.is_(True))
    return list(db.session.scalars(query.options(*TEACH_NAMES).order_by(Teach.id)))


def _int_field(item: dict, name: str, index: int, errors: dict, required: bool = True) -> int | None:
    value = item.get(name)
    if value in (None, "") and not required:
        return None
    try:
        number = int(value)
        if isinstance(value, bool) or isinstance(value, float) and value != number:
            raise ValueError
        return number
    except (TypeError, ValueError, OverflowError):
        errors[f"teaches[{index}].{name}"] = "Must be a whole number." if value not in (None, "") else "Required."
        return None


def replace_teaches(tutor: User, items: list[dict]) -> list[Teach]:
    """Replace all of a tutor's teach records with `items` (validated as a whole: all or nothing)."""
    if not tutor.is_tutor:
        raise ValidationError("Only tutors teach subjects.")
    if not isinstance(items, list) or len(items) > MAX_TEACHES:
        raise ValidationError(f"You can offer at most {MAX_TEACHES} subjects and levels.")
    known = catalogue()
    subject_ids = {s.id for s in known["subjects"]}
    level_ids = {lv.id for lv in known["levels"]}
    board_ids = {b.id for b in known["exam_boards"]}
    errors: dict[str, str] = {}
    rows: list[Teach] = []
    seen: set[tuple] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors[f"teaches[{i}]"] = "Each teach record is an object."
            continue
        subject_id = _int_field(item, "subject_id", i, errors)
        level_id = _int_field(item, "level_id", i, errors)
        board_id = _int_field(item, "exam_board_id", i, errors, required=False)
        rate = _int_field(item, "hourly_rate_minor", i, errors)
        max_km = _int_field(item, "max_travel_km", i, errors, required=False)
        currency = str(item.get("currency") or "GBP").upper()
        online, in_person = bool(item.get("online", True)), bool(item.get("in_person", False))
        if subject_id is not None and subject_id not in subject_ids:
            errors[f"teaches[{i}].subject_id"] = "Unknown subject."
        if level_id is not None and level_id not in level_ids:
            errors[f"teaches[{i}].level_id"] = "Unknown level."
        if board_id is not None and board_id not in board_ids:
            errors[f"teaches[{i}].exam_board_id"] = "Unknown exam board."
        if rate is not None and not limits.HOURLY_RATE_MINOR[0] <= rate <= limits.HOURLY_RATE_MINOR[1]:
            errors[f"teaches[{i}].hourly_rate_minor"] = "Hourly rate must be between 1.00 and 100,000.00."
        if currency not in CURRENCY_EXPONENTS:
            errors[f"teaches[{i}].currency"] = f"Unsupported currency {currency}."
        if not (online or in_person):
            errors[f"teaches[{i}].online"] = "Offer online, in person, or both."
        if max_km is not None and not limits.MAX_TRAVEL_KM[0] <= max_km <= limits.MAX_TRAVEL_KM[1]:
            errors[f"teaches[{i}].max_travel_km"] = "Travel distance must be {}–{} km.".format(*limits.MAX_TRAVEL_KM)
        key = (subject_id, level_id, board_id)
        if key in seen:
            errors[f"teaches[{i}]"] = "The same subject, level and exam board appear twice."
        seen.add(key)
        rows.append(Teach(tutor_id=tutor.id, subject_id=subject_id, level_id=level_id, exam_board_id=board_id,
                          hourly_rate_minor=rate, currency=currency, online=online, in_person=in_person,
                          max_travel_km=max_km if in_person else None))
    if errors:
        raise ValidationError("Please correct the subjects and prices.", errors)
    # Rows lessons point at are retired (kept for those lessons, hidden from new bookings); the rest are deleted.
    # Offering a retired subject again brings its row back.
    used = set(db.session.scalars(select(Lesson.teach_id).where(Lesson.tutor_id == tutor.id).distinct()))
    existing = {(t.subject_id, t.level_id, t.exam_board_id): t for t in tutor_teaches(tutor.id, include_retired=True)}
    result: list[Teach] = []
    for row in rows:
        current = existing.pop((row.subject_id, row.level_id, row.exam_board_id), None)
        if current is None:
            db.session.add(row)
            result.append(row)
            continue
        for attr in ("hourly_rate_minor", "currency", "online", "in_person", "max_travel_km"):
            setattr(current, attr, getattr(row, attr))
        current.active = True
        result.append(current)
    for teach in existing.values():
        if teach.id in used:
            teach.active = False
        else:
            db.session.delete(teach)
    db.session.commit()
    return result


def teach_as_dict(t: Teach) -> dict:
    """A teach record in the shape replace_teaches takes."""
    return {"subject_id": t.subject_id, "level_id": t.level_id, "exam_board_id": t.exam_board_id,
            "hourly_rate_minor": t.hourly_rate_minor, "currency": t.currency, "online": t.online,
            "in_person": t.in_person, "max_travel_km": t.max_travel_km}


def add_teach(tutor: User, item: dict) -> list[Teach]:
    """Offer one more subject and level (or change the rate of one already offered)."""
    key = (item.get("subject_id"), item.get("level_id"), item.get("exam_board_id") or None)
    others = [teach_as_dict(t) for t in tutor_teaches(tutor.id)
              if (t.subject_id, t.level_id, t.exam_board_id) != key]
    return replace_teaches(tutor, [*others, item])


def remove_teach(tutor: User, teach_id: int) -> None:
    """Stop offering one subject and level; lessons already booked keep it."""
    current = tutor_teaches(tutor.id)
    if not any(t.id == teach_id for t in current):
        raise NotFound("That subject is not on your list.")
    replace_teaches(tutor, [teach_as_dict(t) for t in current if t.id != teach_id])


def update_profile(tutor: User, *, headline: str, bio: str) -> TutorProfile:
    """A tutor edits the public part of their profile."""
    headline, bio = (headline or "").strip(), (bio or "").strip()
    errors = {}
    if len(headline) > 160:
        errors["headline"] = "Up to 160 characters."
    if len(bio) > 5000:
        errors["bio"] = "Up to 5,000 characters."
    if errors:
        raise ValidationError("Please correct the profile.", errors)
    profile = tutor.tutor_profile
    profile.headline, profile.bio = headline, bio
    db.session.commit()
    return profile
