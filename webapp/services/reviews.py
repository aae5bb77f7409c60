"""Reviews of tutors (multi-criteria, one per reviewer per lesson), the cached review summary, experience ratings,
and the rating criteria admins manage."""
from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..adapters.database import serialized_write
from ..adapters.queue import get_redis
from ..domain.analytics import EventName, dedupe_id
from ..extensions import db
from ..models import Lesson, SummaryNote, TutorRatingCriteria, TutorReview, TutorReviewRating, User
from . import audit
from .analytics import record_event
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .locks import LOCK_REVIEW
from .lessons import get_lesson, is_tutor_of, student_side
from .notes import lesson_took_place, why_not_finished

log = logging.getLogger(__name__)

MAX_COMMENT = 300
RATINGS = range(1, 6)
_CRITERIA_GEN = "reviews:criteria-gen"


def is_reviewer(user: User, lesson: Lesson) -> bool:
    """Whether `user` is on the learner's side of the lesson: its student, or the parent of a child in it."""
    return any(who.user.id == user.id for who in student_side(lesson))


def active_criteria() -> list[TutorRatingCriteria]:
    """The criteria reviewers rate, in the admins' order."""
    return list(db.session.scalars(select(TutorRatingCriteria).where(TutorRatingCriteria.active.is_(True))
                                   .order_by(TutorRatingCriteria.position, TutorRatingCriteria.name)))


def review_by(user: User, lesson_id: int) -> TutorReview | None:
    """The review `user` left for this lesson, if any."""
    return db.session.scalar(select(TutorReview).where(TutorReview.lesson_id == lesson_id,
                                                       TutorReview.reviewer_id == user.id))


@dataclass(frozen=True)
class ReviewPage:
    """What the review page shows: the lesson, the criteria, the reviewer's review if left, and why not if not."""

    lesson: Lesson
    criteria: list[TutorRatingCriteria]
    review: TutorReview | None
    blocked: str | None


def review_page(user: User, lesson_id: int, now: datetime) -> ReviewPage:
    """The review page for the lesson's reviewer; the tutor and others who may see the lesson get Forbidden."""
    lesson = _reviewable_lesson(user, lesson_id)
    criteria = active_criteria()
    blocked = why_not_finished(lesson, now)
    if blocked is None and not criteria:
        blocked = "Reviews are not open yet: no rating criteria have been set up."
    return ReviewPage(lesson, criteria, review_by(user, lesson.id), blocked)


def _reviewable_lesson(user: User, lesson_id: int) -> Lesson:
    lesson = get_lesson(user, lesson_id)
    if not is_reviewer(user, lesson):
        raise Forbidden("Only the student, or the parent of the child who took the lesson, can review it.")
    return lesson


def submit_review(user: User, lesson_id: int, ratings: dict, comment: str | None, now: datetime) -> TutorReview:
    """Leave a review: a rating 1–5 for every active criterion and an optional comment of at most 300 characters.

    One per reviewer per lesson: a second submit is a Conflict (never a duplicate, never a server error)."""
    lesson = _reviewable_lesson(user, lesson_id)
    blocked = why_not_finished(lesson, now)
    if blocked:
        raise ValidationError(f"{blocked} You can review a lesson once it has taken place.")
    criteria = active_criteria()
    if not criteria:
        raise ValidationError("Reviews are not open yet: no rating criteria have been set up.")
    scores = _parse_ratings(ratings, criteria)
    text = (comment or "").replace("\r\n", "\n").strip() if isinstance(comment, str) or comment is None else None
    if text is None:
        raise ValidationError("The comment must be text.", {"comment": "Must be text."})
    if len(text) > MAX_COMMENT:
        raise ValidationError(f"The comment is {len(text)} characters long; keep it to {MAX_COMMENT} or fewer.",
                              {"comment": f"At most {MAX_COMMENT} characters (this one has {len(text)})."})
    already = Conflict("You have already reviewed this lesson; thank you.")
    try:
        with serialized_write((LOCK_REVIEW, lesson.id)):
            if review_by(user, lesson.id) is not None:
                raise already
            review = TutorReview(lesson_id=lesson.id, tutor_id=lesson.tutor_id, reviewer_id=user.id, comment=text,
                                 created_at=now)
            review.ratings = [TutorReviewRating(criteria_id=cid, rating=score) for cid, score in scores.items()]
            db.session.add(review)
            db.session.flush()
            record_event(db.session, EventName.REVIEW_LEFT, dedupe=dedupe_id(EventName.REVIEW_LEFT, review.id), at=now,
                         user_id=user.id, lesson_id=lesson.id, tutor_id=lesson.tutor_id)
    except IntegrityError:
        raise already from None  # the database's unique (lesson, reviewer) caught a race the lock did not
    invalidate_summary(lesson.tutor_id)
    return review


def _parse_ratings(ratings: dict, criteria: list[TutorRatingCriteria]) -> dict[int, int]:
    """Criterion id → a whole number 1–5, for every active criterion; errors per field (`rating-<id>`)."""
    scores, errors = {}, {}
    for criterion in criteria:
        raw = ratings.get(criterion.id, ratings.get(str(criterion.id)))
        field = f"rating-{criterion.id}"
        if raw in (None, ""):
            errors[field] = f"Rate {criterion.name} from 1 to 5."
            continue
        try:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            score = int(raw)
        except (TypeError, ValueError, OverflowError):
            score = None
        if score not in RATINGS:
            errors[field] = f"{criterion.name}: choose a whole number from 1 to 5."
        else:
            scores[criterion.id] = score
    if errors:
        raise ValidationError("Please rate every criterion from 1 to 5.", errors)
    return scores


def set_experience_rating(user: User, lesson_id: int, rating, now: datetime) -> Lesson:
    """The learner's side rates the overall experience of a lesson that took place, 1–5 (changing it is fine)."""
    lesson = get_lesson(user, lesson_id)
    if not is_reviewer(user, lesson):
        raise Forbidden("Only the student, or the parent of the child who took the lesson, rates its experience.")
    blocked = why_not_finished(lesson, now)
    if blocked:
        raise ValidationError(f"{blocked} You can rate a lesson once it has taken place.")
    try:
        if isinstance(rating, bool) or (isinstance(rating, float) and not rating.is_integer()):
            raise ValueError
        score = int(rating)
    except (TypeError, ValueError, OverflowError):
        score = None
    if score not in RATINGS:
        raise ValidationError("Rate the lesson from 1 to 5.", {"experience_rating": "Choose 1 to 5."})
    with serialized_write((LOCK_REVIEW, lesson.id)):
        db.session.get(Lesson, lesson.id).experience_rating = score
    return lesson


# --- what the booking page shows after a lesson ------------------------------------------------------------------

@dataclass(frozen=True)
class FollowUp:
    """What `user` can do about a lesson once it is over: notes, a review, an experience rating."""

    took_place: bool
    is_tutor: bool
    is_reviewer: bool
    has_note: bool
    reviewed: bool
    experience_rating: int | None
    reviews_of_tutor: tuple = ()  # for the tutor: (reviewer's first name, average rating, comment) per review

    @property
    def can_write_note(self) -> bool:
        return self.is_tutor and self.took_place

    @property
    def can_review(self) -> bool:
        return self.is_reviewer and self.took_place and not self.reviewed

    @property
    def can_rate_experience(self) -> bool:
        return self.is_reviewer and self.took_place


def follow_up(user: User, lesson: Lesson, now: datetime) -> FollowUp:
    """The after-lesson actions for a lesson the caller already may see."""
    reviewer = is_reviewer(user, lesson)
    has_note = db.session.scalar(select(SummaryNote.id).where(SummaryNote.lesson_id == lesson.id)) is not None
    tutor = is_tutor_of(user, lesson)
    return FollowUp(took_place=lesson_took_place(lesson, now), is_tutor=tutor,
                    is_reviewer=reviewer, has_note=has_note,
                    reviewed=reviewer and review_by(user, lesson.id) is not None,
                    experience_rating=lesson.experience_rating,
                    reviews_of_tutor=tuple((r["reviewer"], r["rating"], r["comment"])
                                           for r in _reviews(TutorReview.lesson_id == lesson.id)) if tutor else ())


MAX_SHOWN_COMMENTS = 10


def _reviews(condition, comments_only: bool = False, limit: int | None = None) -> list[dict]:
    """Reviews (newest first) as plain values: the reviewer's first name, the date, the average rating, the comment."""
    query = (select(TutorReview.id, TutorReview.comment, TutorReview.created_at, User.name,
                    func.avg(TutorReviewRating.rating))
             .join(User, User.id == TutorReview.reviewer_id)
             .outerjoin(TutorReviewRating, TutorReviewRating.review_id == TutorReview.id)
             .where(condition).group_by(TutorReview.id, TutorReview.comment, TutorReview.created_at, User.name)
             .order_by(TutorReview.created_at.desc(), TutorReview.id.desc()))
    if comments_only:
        query = query.where(TutorReview.comment != "")
    if limit:
        query = query.limit(limit)
    return [{"reviewer": (name or "").split(" ")[0], "date": created.astimezone(UTC).date().isoformat(),
             "rating": round(float(avg), 1) if avg is not None else None, "comment": comment or ""}
            for _id, comment, created, name, avg in db.session.execute(query).all()]


# --- the review summary, cached in Redis until the end of the UTC day ---------------------------------------------

def review_summary(tutor_id: int, now: datetime) -> dict:
    """Average rating per active criterion and the number of reviews, from the cache when it is there.

    Cached until the end of the current UTC day. A new review bumps the tutor's generation, and a change to the
    criteria bumps a global one; both are part of the key, so a summary computed while a review was being written
    is stored under a key nobody reads any more, never over the fresh one."""
    try:
        redis = get_redis()
        key = summary_cache_key(tutor_id)
        cached = redis.get(key)
        if cached is not None:
            return json.loads(cached)
    except (RedisError, RuntimeError) as exc:  # no Redis: compute every time rather than fail the profile
        log.warning("review summary cache unavailable: %s", exc)
        return compute_summary(tutor_id, now)
    summary = compute_summary(tutor_id, now)
    try:
        redis.set(key, json.dumps(summary), ex=seconds_until_end_of_day(now))
    except RedisError as exc:
        log.warning("review summary not cached: %s", exc)
    return summary


def compute_summary(tutor_id: int, now: datetime) -> dict:
    """The summary straight from the database (plain JSON values)."""
    count = db.session.scalar(select(func.count(TutorReview.id)).where(TutorReview.tutor_id == tutor_id)) or 0
    rows = db.session.execute(
        select(TutorRatingCriteria.id, TutorRatingCriteria.name, func.avg(TutorReviewRating.rating),
               func.count(TutorReviewRating.id))
        .join(TutorReviewRating, TutorReviewRating.criteria_id == TutorRatingCriteria.id)
        .join(TutorReview, TutorReview.id == TutorReviewRating.review_id)
        .where(TutorReview.tutor_id == tutor_id, TutorRatingCriteria.active.is_(True))
        .group_by(TutorRatingCriteria.id, TutorRatingCriteria.name, TutorRatingCriteria.position)
        .order_by(TutorRatingCriteria.position, TutorRatingCriteria.name)).all()
    criteria = [{"id": cid, "name": name, "average": round(float(avg), 2), "count": n} for cid, name, avg, n in rows]
    overall = round(sum(c["average"] * c["count"] for c in criteria) / sum(c["count"] for c in criteria), 2) \
        if criteria else None
    return {"tutor_id": tutor_id, "count": count, "overall": overall, "criteria": criteria,
            "comments": _reviews(TutorReview.tutor_id == tutor_id, comments_only=True, limit=MAX_SHOWN_COMMENTS),
            "computed_at": now.astimezone(UTC).isoformat()}


def summary_cache_key(tutor_id: int) -> str:
    """The Redis key the tutor's current summary lives under."""
    criteria_gen, tutor_gen = get_redis().mget(_CRITERIA_GEN, _tutor_gen(tutor_id))
    return f"reviews:summary:{tutor_id}:{int(criteria_gen or 0)}.{int(tutor_gen or 0)}"


def _tutor_gen(tutor_id: int) -> str:
    return f"reviews:summary-gen:{tutor_id}"


def seconds_until_end_of_day(now: datetime) -> int:
    """Whole seconds from `now` to the next midnight UTC (at least 1)."""
    now = now.astimezone(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, math.ceil((midnight - now).total_seconds()))


def invalidate_summary(tutor_id: int) -> None:
    """Make the tutor's cached summary stale at once (after the commit that changed it)."""
    _bump(_tutor_gen(tutor_id))


def _bump(key: str) -> None:
    try:
        get_redis().incr(key)
    except (RedisError, RuntimeError) as exc:
        log.warning("review summary cache not invalidated (%s): %s", key, exc)


# --- rating criteria (admins) -------------------------------------------------------------------------------------

def list_criteria() -> list[TutorRatingCriteria]:
    """Every criterion, active first, in order."""
    return list(db.session.scalars(select(TutorRatingCriteria).order_by(
        TutorRatingCriteria.active.desc(), TutorRatingCriteria.position, TutorRatingCriteria.name)))


def add_criterion(admin: User, name: str | None, position, now: datetime | None = None) -> TutorRatingCriteria:
    """Add a criterion reviewers will rate from now on (audited in the same commit)."""
    _admin_only(admin)
    criterion = TutorRatingCriteria(name=_criterion_name(name), position=_position(position), active=True)
    return _save_criterion(admin, criterion, None, now or datetime.now(UTC))


def update_criterion(admin: User, criterion_id: int, name: str | None, position, active: bool,
                     now: datetime | None = None) -> TutorRatingCriteria:
    """Rename, reorder, or (de)activate a criterion; past ratings are kept, inactive ones are not shown."""
    _admin_only(admin)
    criterion = db.session.get(TutorRatingCriteria, criterion_id)
    if criterion is None:
        raise NotFound("We could not find that criterion.")
    before = _criterion_state(criterion)
    criterion.name, criterion.position, criterion.active = _criterion_name(name), _position(position), bool(active)
    return _save_criterion(admin, criterion, before, now or datetime.now(UTC))


def _criterion_state(criterion: TutorRatingCriteria) -> dict:
    return {"name": criterion.name, "position": criterion.position, "active": bool(criterion.active)}


def _admin_only(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only admins manage rating criteria.")


def _criterion_name(name) -> str:
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not text:
        raise ValidationError("Give the criterion a name.", {"name": "Required."})
    if len(text) > 80:
        raise ValidationError("Criterion names are at most 80 characters.", {"name": "At most 80 characters."})
    return text


def _position(raw) -> int:
    if raw in (None, ""):
        return 0
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 <= value <= 1000:
        raise ValidationError("Position is a whole number from 0 to 1000.", {"position": "0 to 1000."})
    return value


def _save_criterion(admin: User, criterion: TutorRatingCriteria, before: dict | None,
                    now: datetime) -> TutorRatingCriteria:
    add = before is None
    taken = ValidationError(f"There is already a criterion called {criterion.name}.",
                            {"name": "That name is taken."})
    with db.session.no_autoflush:  # compare before the change is written (the unique index is case-sensitive)
        clash = db.session.scalar(select(TutorRatingCriteria.id).where(
            func.lower(TutorRatingCriteria.name) == criterion.name.lower(),
            TutorRatingCriteria.id != (criterion.id or 0)))
    if clash:
        db.session.rollback()
        raise taken
    after = _criterion_state(criterion)
    if before == after:
        return criterion  # the form sent back unchanged: nothing to change or record
    try:
        if add:
            db.session.add(criterion)
        db.session.flush()
        audit.record(admin, "criterion.add" if add else "criterion.update", "rating_criterion", criterion.id,
                     (f"Added rating criterion “{criterion.name}”" if add else
                      f"Changed rating criterion “{criterion.name}”: " + ", ".join(
                          f"{k} {before[k]} → {after[k]}" for k in after if before[k] != after[k])),
                     now, before=before, after=after)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise taken from None
    _bump(_CRITERIA_GEN)  # every tutor's summary lists criteria by name and activity
    return criterion
