"""Homework after a lesson: what it covered and got wrong, draft sets, the tutor's review, answers marked at once,
per-topic mastery with FSRS reviews, and the agenda for the next lesson."""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import fsrs
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from ..adapters import algebra
from ..adapters.database import serialized_write
from ..domain import homework as plan
from ..domain import limits, marking
from ..domain.question_form import QuestionDraft
from ..extensions import db
from ..models import (HomeworkEntry, HomeworkSet, Lesson, NoteError, NoteTopic, QuestionItem, SummaryNote, Topic,
                      TopicMastery, User)
from . import curriculum, outbox, question_bank
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .lessons import get_lesson, is_tutor_of
from .locks import LOCK_HOMEWORK, LOCK_MASTERY_OF_CHILD, LOCK_MASTERY_OF_USER
from .notify import notify
from .urls import public_url

MAX_ERRORS = limits.NOTE_ERRORS_MAX
MAX_WHAT = limits.NOTE_ERROR_WHAT_MAX
MAX_WRONG = limits.NOTE_ERROR_WRONG_MAX
PUBLISHED_KIND = "HomeworkPublished"
_SCHEDULER = fsrs.Scheduler(enable_fuzzing=False)  # no fuzz: the same answers give the same review dates


@dataclass(frozen=True)
class ErrorInput:
    """A mistake as the tutor typed it on the note form."""

    topic_id: int
    what_went_wrong: str
    wrong_answer: str = ""


@dataclass(frozen=True)
class Learner:
    """Who does the homework (a student, or a parent's child) and which account answers for them.

    `key` ("u<student id>" or "c<child id>") is who they are; names are not unique, so nothing is keyed by name."""

    key: str
    name: str
    answerer: User
    student_id: int | None = None
    child_id: int | None = None


def learner_of(found: HomeworkSet) -> tuple[str, int]:
    """Whom a set is for: ("student", their user id) or ("child", the child's id), read from its learner key."""
    kind, number = found.learner_key[:1], found.learner_key[1:]
    return ("child" if kind == "c" else "student"), int(number)


def learners(lesson: Lesson) -> list[Learner]:
    """The lesson's learners: each student answers for themself; a child's parent answers for the child."""
    people = [Learner(f"u{s.id}", s.name, s, student_id=s.id) for s in lesson.students]
    people += [Learner(f"c{c.id}", c.name, c.parent, child_id=c.id) for c in lesson.children]
    return people


def clean_errors(lesson: Lesson, covered: list[int], errors: list[ErrorInput]) -> tuple[list[int], list[ErrorInput]]:
    """Check the topics belong to the lesson's subject and level and the texts fit; ValidationError in words."""
    allowed = set(db.session.scalars(select(Topic.id).where(Topic.subject_id == lesson.subject_id,
                                                            Topic.level_id == lesson.level_id)))
    if any(t not in allowed for t in covered):
        # The form offers only the lesson's topics; an API client can send any id, and is told rather than ignored.
        raise ValidationError("Each topic covered must be a topic of the lesson's subject and level.",
                              {"topics": "Unknown topic for this lesson's subject and level."})
    covered = list(dict.fromkeys(covered))
    kept = []
    for error in errors:
        what, wrong = (error.what_went_wrong or "").strip(), (error.wrong_answer or "").strip()
        if not error.topic_id and not what and not wrong:
            continue  # an empty row of the form
        if error.topic_id not in allowed:
            raise ValidationError("Pick the topic of each mistake.", {"errors": "Pick a topic for each mistake."})
        if not what:
            raise ValidationError("Say what went wrong for each mistake.", {"errors": "Say what went wrong."})
        if len(what) > MAX_WHAT or len(wrong) > MAX_WRONG:
            raise ValidationError(f"Keep each mistake under {MAX_WHAT} characters and each wrong answer under "
                                  f"{MAX_WRONG}.", {"errors": "Too long."})
        kept.append(ErrorInput(error.topic_id, what, wrong))
    if len(kept) > MAX_ERRORS:
        raise ValidationError(f"Record at most {MAX_ERRORS} mistakes per lesson.", {"errors": "Too many."})
    return covered, kept


def record_learning(note: SummaryNote, covered: list[int], errors: list[ErrorInput]) -> None:
    """Inside the note's write transaction: replace the note's topics covered and mistakes (already cleaned)."""
    for row in db.session.scalars(select(NoteTopic).where(NoteTopic.note_id == note.id)):
        db.session.delete(row)
    for row in db.session.scalars(select(NoteError).where(NoteError.note_id == note.id)):
        db.session.delete(row)
    db.session.flush()
    error_topics = {e.topic_id for e in errors}
    for topic_id in dict.fromkeys(covered + list(error_topics)):
        db.session.add(NoteTopic(note_id=note.id, topic_id=topic_id))
    for e in errors:
        db.session.add(NoteError(note_id=note.id, topic_id=e.topic_id, what_went_wrong=e.what_went_wrong,
                                 wrong_answer=e.wrong_answer))
    db.session.flush()


def draft_sets(lesson: Lesson, note: SummaryNote, now: datetime) -> int:
    """Inside the note's write transaction: (re)build each learner's draft set from the note; published sets and
    drafts the tutor has changed stay.

    Returns how many drafts were written. Nothing is drafted when the note names no topics."""
    covered = list(db.session.scalars(select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id)))
    errors = list(db.session.scalars(select(NoteError.topic_id).where(NoteError.note_id == note.id)
                                     .order_by(NoteError.id)))
    if not covered and not errors:
        return 0
    candidates = [plan.Candidate(i, t, d, tpl) for i, t, d, tpl in db.session.execute(
        select(QuestionItem.id, QuestionItem.topic_id, QuestionItem.difficulty, QuestionItem.template)
        .join(Topic).where(Topic.subject_id == lesson.subject_id, Topic.level_id == lesson.level_id,
                           QuestionItem.active.is_(True), Topic.active.is_(True),
                           question_bank.usable_in_lessons_of(lesson.tutor_id)))]
    written = 0
    for learner in learners(lesson):
        existing = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id,
                                                               HomeworkSet.learner_key == learner.key))
        if existing is not None and (existing.state == "published" or existing.reviewed_at is not None):
            continue  # published, or a draft the tutor has changed: kept as it is (rebuild_draft redoes it)
        seed = zlib.crc32(f"lesson:{lesson.id}:{learner.key}".encode()) & 0x7FFFFFFF  # fits a 32-bit column
        mastery = _mastery(learner.key)
        picks = plan.build_set(seed, candidates, errors, covered, _due_topics(learner.key, lesson, now),
                               _recently_seen(learner.key, now, existing), {t: m.level for t, m in mastery.items()})
        if existing is None:
            existing = HomeworkSet(lesson_id=lesson.id, learner_key=learner.key, learner_name=learner.name,
                                   answerer_id=learner.answerer.id, seed=seed, state="draft", created_at=now)
            db.session.add(existing)
        else:
            existing.entries.clear()
            db.session.flush()
        existing.entries.extend(HomeworkEntry(item_id=p.item_id, position=n, reason=p.reason)
                                for n, p in enumerate(picks, 1))
        written += 1
    db.session.flush()
    return written


def _mastery(learner_key: str) -> dict[int, TopicMastery]:
    return {m.topic_id: m for m in db.session.scalars(select(TopicMastery).where(
        TopicMastery.learner_key == learner_key))}


def _due_topics(learner_key: str, lesson: Lesson, now: datetime) -> list[int]:
    """Topics of this subject and level whose FSRS review is due, most overdue first."""
    return list(db.session.scalars(select(TopicMastery.topic_id).join(Topic).where(
        TopicMastery.learner_key == learner_key, TopicMastery.due_at <= now,
        Topic.subject_id == lesson.subject_id, Topic.level_id == lesson.level_id)
        .order_by(TopicMastery.due_at, TopicMastery.topic_id)))


def _recently_seen(learner_key: str, now: datetime, excluding: HomeworkSet | None) -> set[int]:
    since = now - timedelta(days=plan.SEEN_WINDOW_DAYS)
    query = select(HomeworkEntry.item_id).join(HomeworkSet).where(
        HomeworkSet.learner_key == learner_key, HomeworkSet.created_at >= since)
    if excluding is not None and excluding.id is not None:
        query = query.where(HomeworkSet.id != excluding.id)
    return set(db.session.scalars(query))


# --- the homework page --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgendaLine:
    """A topic still weak for a learner: its name and mastery in words."""

    topic: str
    mastery: str


@dataclass(frozen=True)
class LearnerLines:
    """One learner (who they are, not only their name) with their topics and mastery in words."""

    learner: Learner
    lines: list[AgendaLine]


@dataclass(frozen=True)
class HomeworkPage:
    """What someone who may see the lesson sees of its homework."""

    lesson: Lesson
    is_tutor: bool
    sets: list[HomeworkSet]
    agenda: list[LearnerLines]
    mastery: list[LearnerLines]
    own_items: list[QuestionItem]  # the tutor's own questions on this subject and level, to add to a draft
    note_changed: frozenset[int] = frozenset()  # reviewed drafts whose note was saved again since


def homework_page(user: User, lesson_id: int) -> HomeworkPage:
    """The tutor sees every learner's set (drafts too) and the agenda; a learner's side sees their published sets."""
    lesson = get_lesson(user, lesson_id)
    tutor = is_tutor_of(user, lesson)
    query = select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id).order_by(HomeworkSet.id)
    if not tutor:
        query = query.where(HomeworkSet.answerer_id == user.id, HomeworkSet.state == "published")
    sets = list(db.session.scalars(query))
    people = learners(lesson)
    agenda = [LearnerLines(p, agenda_for(p.key, lesson)) for p in people] if tutor else []
    mastery = [LearnerLines(p, mastery_lines(p.key, lesson)) for p in people if tutor or p.answerer.id == user.id]
    own = list(db.session.scalars(select(QuestionItem).join(Topic).where(
        QuestionItem.owner_id == user.id, QuestionItem.active.is_(True), Topic.active.is_(True),
        question_bank.in_bank(),
        Topic.subject_id == lesson.subject_id, Topic.level_id == lesson.level_id)
        .order_by(QuestionItem.id.desc()).limit(200))) if tutor else []
    changed = frozenset(s.id for s in sets if tutor and note_changed_since_review(s))
    return HomeworkPage(lesson, tutor, sets, agenda, mastery, own, changed)


def mastery_lines(learner_key: str, lesson: Lesson) -> list[AgendaLine]:
    """Every topic of this subject and level the learner has worked on, with its mastery in words."""
    rows = db.session.execute(select(Topic.name, TopicMastery.level).join(Topic).where(
        TopicMastery.learner_key == learner_key, Topic.subject_id == lesson.subject_id,
        Topic.level_id == lesson.level_id).order_by(Topic.position)).all()
    return [AgendaLine(name, plan.MASTERY_WORDS[plan.Mastery(level)]) for name, level in rows]


def agenda_for(learner_key: str, lesson: Lesson) -> list[AgendaLine]:
    """Topics still weak (below proficient) for the learner in this subject and level, weakest first."""
    mastery = {t: m.level for t, m in _mastery(learner_key).items()}
    touched = set(db.session.scalars(select(Topic.id).where(
        Topic.subject_id == lesson.subject_id, Topic.level_id == lesson.level_id, Topic.id.in_(list(mastery)))))
    names = dict(db.session.execute(select(Topic.id, Topic.name).where(Topic.id.in_(touched))).all())
    return [AgendaLine(names[t], plan.MASTERY_WORDS[plan.Mastery(mastery[t])])
            for t in plan.weak_topics(mastery, touched)]


def _tutor_set(tutor: User, set_id: int) -> HomeworkSet:
    found = db.session.get(HomeworkSet, set_id)
    if found is None:
        raise NotFound("We could not find that homework.")
    lesson = get_lesson(tutor, found.lesson_id)
    if not is_tutor_of(tutor, lesson):
        raise Forbidden("Only the lesson's tutor reviews its homework.")
    return found


def remove_entry(tutor: User, set_id: int, entry_id: int, now: datetime) -> HomeworkSet:
    """Take a question out of a draft set (the tutor's review)."""
    found = _tutor_set(tutor, set_id)
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        db.session.refresh(found)
        _still_draft(found)
        entry = next((e for e in found.entries if e.id == entry_id), None)
        if entry is None:
            raise NotFound("That question is no longer in the set.")
        if len(found.entries) == 1:
            raise ValidationError("A set needs at least one question; swap it instead.")
        found.entries.remove(entry)
        found.reviewed_at = found.reviewed_at or now
    return found


def swap_entry(tutor: User, set_id: int, entry_id: int, now: datetime) -> HomeworkSet:
    """Replace a question of a draft set with another of the same topic the learner has not seen lately."""
    found = _tutor_set(tutor, set_id)
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        db.session.refresh(found)
        _still_draft(found)
        entry = next((e for e in found.entries if e.id == entry_id), None)
        if entry is None:
            raise NotFound("That question is no longer in the set.")
        taken = {e.item_id for e in found.entries} | _recently_seen(found.learner_key, now, found)
        rows = db.session.execute(select(QuestionItem.id, QuestionItem.template).where(
            QuestionItem.topic_id == entry.item.topic_id, QuestionItem.active.is_(True),
            question_bank.usable_in_lessons_of(found.lesson.tutor_id),
            QuestionItem.id.not_in(taken)).order_by(QuestionItem.id)).all()
        if not rows:
            raise ValidationError("There is no other question on that topic to swap in.")
        # As the generator does: another variant of a template in the set (this one included) only as a last resort.
        in_set = {e.item.template for e in found.entries if e.item.template is not None}
        options = [i for i, template in rows if template is None or template not in in_set] or [i for i, _ in rows]
        entry.item_id = options[(entry.position + len(taken)) % len(options)]
        found.reviewed_at = found.reviewed_at or now
    return found


def add_entry(tutor: User, set_id: int, item_id: int | None, now: datetime) -> HomeworkSet:
    """Add one of the tutor's own questions (on the lesson's subject and level) to the end of a draft set."""
    found = _tutor_set(tutor, set_id)
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        db.session.refresh(found)
        _still_draft(found)
        item = db.session.get(QuestionItem, item_id) if item_id else None
        lesson = found.lesson
        if item is None or not item.active or item.owner_id != tutor.id or item.local_to_set_id is not None or \
                (item.topic.subject_id, item.topic.level_id) != (lesson.subject_id, lesson.level_id):
            raise ValidationError("Pick one of your own questions on this lesson's subject and level.")
        if any(e.item_id == item.id for e in found.entries):
            raise ValidationError("That question is already in the set.")
        found.entries.append(HomeworkEntry(item_id=item.id, reason="added",
                                           position=max((e.position for e in found.entries), default=0) + 1))
        found.reviewed_at = found.reviewed_at or now
    return found


def draft_entry(tutor: User, set_id: int, entry_id: int) -> tuple[HomeworkSet, HomeworkEntry]:
    """A question of a draft set its lesson's tutor may edit for this set."""
    found = _tutor_set(tutor, set_id)
    _still_draft(found)
    entry = next((e for e in found.entries if e.id == entry_id), None)
    if entry is None:
        raise NotFound("That question is no longer in the set.")
    return found, entry


def edit_entry(tutor: User, set_id: int, entry_id: int, draft: QuestionDraft,
               now: datetime, save_to_bank: bool = False) -> HomeworkEntry:
    """Change a draft set's question for this set only: the edit is stored as an item private to the set
    (`local_to_set_id`; the bank's item is untouched, and the edit never shows in the tutor's bank, exports or other
    sets) and the entry points at it, so the learner sees and is marked against the edited question. With
    `save_to_bank` the edit is also kept as one of the tutor's own questions (the same item, in their bank).

    Editing the same entry again changes the set's copy in place."""
    found, entry = draft_entry(tutor, set_id, entry_id)
    clean = question_bank.check_question(draft)  # outside the transaction: algebra runs in a child process
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        found, entry = draft_entry(tutor, set_id, entry_id)
        item = entry.item
        uses = db.session.scalar(select(func.count(HomeworkEntry.id)).where(HomeworkEntry.item_id == item.id))
        values = dict(kind=clean.kind, prompt=clean.prompt, answer=clean.answer, tolerance=clean.tolerance,
                      unit=clean.unit, choices=clean.choices, solution=clean.solution, difficulty=clean.difficulty)
        unchanged = all(getattr(item, name) == value for name, value in values.items())
        kept_by_tutor = item.owner_id == tutor.id and item.local_to_set_id is None
        if unchanged and (kept_by_tutor or not save_to_bank):
            pass  # nothing to change: the form sent twice (a double click, Back and resubmit) or saved unedited
        elif item.local_to_set_id == found.id and item.owner_id == tutor.id and uses == 1:
            for name, value in values.items():
                setattr(item, name, value)  # this set's own copy, used nowhere else
            if save_to_bank:
                item.local_to_set_id = None
        else:
            copy = QuestionItem(topic_id=item.topic_id, created_by_id=tutor.id, owner_id=tutor.id,
                                source_id=item.id, local_to_set_id=None if save_to_bank else found.id, **values)
            db.session.add(copy)
            db.session.flush()
            entry.item_id = copy.id
        found.reviewed_at = found.reviewed_at or now
        db.session.flush()
    db.session.refresh(entry)
    return entry


def rebuild_draft(tutor: User, set_id: int, now: datetime) -> HomeworkSet:
    """Draft a reviewed set anew from the lesson's note as it is now, dropping the tutor's changes to it (asked for
    on purpose, after the note changed)."""
    found = _tutor_set(tutor, set_id)
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        db.session.refresh(found)
        _still_draft(found)
        note = db.session.scalar(select(SummaryNote).where(SummaryNote.lesson_id == found.lesson_id))
        if note is None:
            raise Conflict("This lesson has no note to draft homework from.")
        found.reviewed_at = None
        db.session.flush()
        draft_sets(found.lesson, note, now)
    db.session.refresh(found)
    return found


def note_changed_since_review(found: HomeworkSet) -> bool:
    """Whether the lesson's note was saved after the tutor changed this draft (the page offers to rebuild it)."""
    if found.state != "draft" or found.reviewed_at is None:
        return False
    saved = db.session.scalar(select(SummaryNote.updated_at).where(SummaryNote.lesson_id == found.lesson_id))
    return saved is not None and saved > found.reviewed_at


def _still_draft(found: HomeworkSet) -> None:
    if found.state != "draft":
        raise Conflict("This homework was already published; it can no longer be changed.")


def publish(tutor: User, set_id: int, now: datetime) -> HomeworkSet:
    """Publish a draft set: the learner's side is told by email and push (once, however often this is pressed)."""
    found = _tutor_set(tutor, set_id)
    with serialized_write((LOCK_HOMEWORK, found.lesson_id)):
        db.session.refresh(found)
        if found.state == "published":
            return found  # a double click: already done
        if not found.entries:
            raise ValidationError("Add at least one question before publishing.")
        found.state, found.published_at = "published", now
        lesson, answerer = found.lesson, db.session.get(User, found.answerer_id)
        path = f"/lessons/{lesson.id}/homework"
        title = f"Homework from {lesson.tutor.name}: {len(found.entries)} {lesson.subject.name} questions for " \
                f"{found.learner_name}"
        notify(answerer, kind=PUBLISHED_KIND, title=title, body="Answer online; each answer is marked at once.",
               url=path, dedupe_key=f"homework:{found.id}:published",
               email_template="homework_published",
               email_context={"recipient_name": answerer.name, "learner": found.learner_name,
                              "tutor_name": lesson.tutor.name, "subject": lesson.subject.name,
                              "count": len(found.entries), "link": public_url(path)})
    return found


# --- answering --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answered:
    """The outcome of one answer: the entry (with the worked solution) and a sentence when it was not understood."""

    entry: HomeworkEntry
    feedback: str


def answer(user: User, entry_id: int, response: str | None, now: datetime) -> Answered:
    """Mark one answer at once (outside any transaction: algebra runs in a time-limited child process), then record
    it and move the topic's mastery and review date. A second answer to the same question is refused."""
    entry = db.session.get(HomeworkEntry, entry_id)
    if entry is None or entry.set.answerer_id != user.id or entry.set.state != "published":
        raise NotFound("We could not find that question.")
    if entry.answered_at is not None:
        raise Conflict("You already answered this question.")
    text = (response or "").strip()
    if not text:
        raise ValidationError("Type an answer first.", {"response": "Type an answer."})
    item = entry.item
    try:
        verdict = _mark(item, text)
    except marking.Refused as exc:
        raise ValidationError(str(exc), {"response": str(exc)}) from None
    db.session.rollback()  # end the read transaction before the write one
    # The learner's lock too: their mastery of a topic is one row that answers in other lessons' homework (two tabs)
    # read and move at the same moment.
    with serialized_write((LOCK_HOMEWORK, entry.set.lesson_id), _mastery_lock(entry.set.learner_key)):
        done = db.session.execute(update(HomeworkEntry).where(
            HomeworkEntry.id == entry_id, HomeworkEntry.answered_at.is_(None)).values(
            response=text[:200], correct=verdict.correct, answered_at=now))
        if done.rowcount != 1:
            raise Conflict("You already answered this question.")
        _update_mastery(entry.set.learner_key, item.topic_id, verdict.correct, now)
    db.session.refresh(entry)
    return Answered(entry, verdict.feedback)


def _mark(item: QuestionItem, text: str) -> marking.Mark:
    if item.kind == "numeric":
        return marking.mark_numeric(text, item.answer, item.tolerance, item.unit)
    if item.kind == "choice":
        return marking.mark_choice(text, item.answer, list(item.choices or []))
    given, expected, names = marking.algebra_pair(text, item.answer)
    try:
        return marking.Mark(algebra.equivalent(given, expected, names))
    except algebra.AlgebraUnavailable as exc:
        return marking.Mark(False, f"{exc} It was marked wrong; compare with the worked solution.")


def _mastery_lock(learner_key: str) -> tuple[int, int]:
    """The lock of one learner's mastery rows: learner keys are "u<user id>" or "c<child id>"."""
    return (LOCK_MASTERY_OF_CHILD if learner_key.startswith("c") else LOCK_MASTERY_OF_USER, int(learner_key[1:]))


def _update_mastery(learner_key: str, topic_id: int, correct: bool, now: datetime) -> None:
    row = db.session.scalar(select(TopicMastery).where(TopicMastery.learner_key == learner_key,
                                                       TopicMastery.topic_id == topic_id))
    if row is None:
        row = TopicMastery(learner_key=learner_key, topic_id=topic_id, level=0, streak=0, card={}, updated_at=now)
        db.session.add(row)
    row.level, row.streak = plan.next_mastery(row.level, row.streak, correct)
    card = fsrs.Card.from_dict(row.card) if row.card else fsrs.Card(card_id=topic_id)
    card, _ = _SCHEDULER.review_card(card, fsrs.Rating.Good if correct else fsrs.Rating.Again, now)
    row.card, row.due_at, row.updated_at = card.to_dict(), card.due, now


# --- the note form's topics and mistakes -------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteLearning:
    """What the note form shows: the subject's topics, those suggested by the text, and what was recorded."""

    topics: list[Topic]
    suggested: list[Topic]
    covered: set[int]
    errors: list[NoteError]
    sets: list[HomeworkSet]


def note_learning(lesson: Lesson, note: SummaryNote | None, text: str) -> NoteLearning:
    """Topics for the note form, with offline suggestions from `text` and the lesson chat (the tutor confirms)."""
    topics = curriculum.topics_for(lesson.subject_id, lesson.level_id)
    by_id = {t.id: t for t in topics}
    suggested = [by_id[t] for t in curriculum.suggest_topics(lesson, text) if t in by_id]
    covered, errors = set(), []
    if note is not None:
        covered = set(db.session.scalars(select(NoteTopic.topic_id).where(NoteTopic.note_id == note.id)))
        errors = list(db.session.scalars(select(NoteError).where(NoteError.note_id == note.id).order_by(NoteError.id)))
    sets = list(db.session.scalars(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id)))
    return NoteLearning(topics, suggested, covered, errors, sets)


def homework_set(tutor: User, set_id: int) -> HomeworkSet:
    """One set the tutor of its lesson may review (NotFound or Forbidden otherwise)."""
    return _tutor_set(tutor, set_id)


def answerable_entry(user: User, entry_id: int) -> HomeworkEntry:
    """One question of a published set that `user` answers (NotFound for anyone else)."""
    db.session.rollback()
    entry = db.session.get(HomeworkEntry, entry_id)
    if entry is None or entry.set.answerer_id != user.id or entry.set.state != "published":
        raise NotFound("We could not find that question.")
    return entry


# --- the weekly digest to parents ------------------------------------------------------------------------------


DIGEST_TEMPLATE = "homework_digest"


def send_parent_digests(now: datetime) -> int:
    """Email each parent, from Sunday 17:00 in their own time zone, a summary per child of the homework published in
    the 7 days before then: questions answered and right, and the topics still weak. Once per parent per week (the
    dedupe key names the parent and that Sunday), so the job can run every 15 minutes and twice over."""
    # Any due digest's week starts within the last 7 days plus the catch-up; one query reads every candidate set.
    since = now - timedelta(days=7) - plan.DIGEST_CATCH_UP - timedelta(days=1)
    sets = list(db.session.scalars(select(HomeworkSet).where(
        HomeworkSet.state == "published", HomeworkSet.published_at >= since,
        HomeworkSet.learner_key.like("c%")).order_by(HomeworkSet.answerer_id, HomeworkSet.id)))
    by_parent: dict[int, list[HomeworkSet]] = {}
    for found in sets:
        by_parent.setdefault(found.answerer_id, []).append(found)
    sent = 0
    for parent_id, parent_sets in by_parent.items():
        parent = db.session.get(User, parent_id)
        due = plan.digest_due(now, _zone(parent.timezone))
        week = [s for s in parent_sets if due is not None and due - timedelta(days=7) <= s.published_at < due]
        if not week:
            continue
        children: dict[str, dict] = {}
        zone = _zone(parent.timezone)
        for found in week:
            child = children.setdefault(found.learner_key, {"name": found.learner_name, "questions": 0,
                                                            "answered": 0, "right": 0, "weak": [], "sets": []})
            # Each set's own homework page (where the child answers and sees worked solutions), named by the
            # lesson's day in the parent's zone.
            child["sets"].append({"link": public_url(f"/lessons/{found.lesson_id}/homework"),
                                  "day": found.lesson.start_at.astimezone(zone).strftime("%a %-d %b")})
            child["questions"] += len(found.entries)
            child["answered"] += sum(1 for e in found.entries if e.answered_at is not None)
            child["right"] += sum(1 for e in found.entries if e.correct)
            for line in agenda_for(found.learner_key, found.lesson):
                if line.topic not in child["weak"]:
                    child["weak"].append(line.topic)
        message = outbox.enqueue_email(DIGEST_TEMPLATE, parent.email,
                                       {"recipient_name": parent.name, "children": list(children.values())},
                                       dedupe_key=f"homework-digest:{parent.id}:{due.date().isoformat()}")
        sent += message is not None
    db.session.commit()
    return sent


def _zone(name: str | None) -> ZoneInfo:
    """A parent's zone; UTC when it is missing or unknown, so a bad value never stops everyone's digest."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def tutor_agenda(tutor: User, lesson_id: int) -> list[LearnerLines]:
    """For the tutor before a lesson: each learner's topics still weak in the lesson's subject and level."""
    lesson = get_lesson(tutor, lesson_id)
    if not is_tutor_of(tutor, lesson):
        raise Forbidden("Only the lesson's tutor sees its agenda.")
    return [LearnerLines(p, agenda_for(p.key, lesson)) for p in learners(lesson)]


# --- the JSON API's views of homework ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetSummary:
    """One homework set as a list shows it: whose, from which lesson, and how far along."""

    set: HomeworkSet
    lesson: Lesson
    questions: int
    answered: int
    right: int


def sets_for(user: User) -> list[SetSummary]:
    """The published sets `user` answers (for themself or a child) and, for a tutor, every set of their lessons
    (drafts too); newest first."""
    answering = (HomeworkSet.answerer_id == user.id) & (HomeworkSet.state == "published")
    who = answering | (Lesson.tutor_id == user.id) if user.is_tutor else answering
    found = list(db.session.scalars(select(HomeworkSet).join(Lesson, HomeworkSet.lesson_id == Lesson.id)
                                    .options(selectinload(HomeworkSet.entries),
                                             selectinload(HomeworkSet.lesson).selectinload(Lesson.tutor),
                                             selectinload(HomeworkSet.lesson).selectinload(Lesson.subject),
                                             selectinload(HomeworkSet.lesson).selectinload(Lesson.level))
                                    .where(who).order_by(HomeworkSet.created_at.desc(), HomeworkSet.id.desc())
                                    .limit(200)))
    return [SetSummary(s, s.lesson, len(s.entries), sum(1 for e in s.entries if e.answered_at is not None),
                       sum(1 for e in s.entries if e.correct)) for s in found]


def viewable_set(user: User, set_id: int) -> tuple[HomeworkSet, bool]:
    """(set, whether `user` is its lesson's tutor): the tutor sees it in any state, the answerer once published;
    anyone else gets NotFound (a set's existence is not told)."""
    found = db.session.get(HomeworkSet, set_id)
    if found is None:
        raise NotFound("We could not find that homework.")
    if found.lesson.tutor_id == user.id:
        return found, True
    if found.answerer_id == user.id and found.state == "published":
        return found, False
    raise NotFound("We could not find that homework.")


def recorded_learning(note: SummaryNote) -> tuple[list[Topic], list[NoteError]]:
    """The topics a note records as covered (curriculum order) and its mistakes (as entered)."""
    topics = list(db.session.scalars(select(Topic).join(NoteTopic, NoteTopic.topic_id == Topic.id)
                                     .where(NoteTopic.note_id == note.id).order_by(Topic.position, Topic.id)))
    errors = list(db.session.scalars(select(NoteError).where(NoteError.note_id == note.id).order_by(NoteError.id)))
    return topics, errors


def lesson_topics(user: User, lesson_id: int) -> tuple[Lesson, list[tuple[Topic, str]]]:
    """The topics a note on this lesson may name, each with its strand's name (anyone who may see the lesson)."""
    lesson = get_lesson(user, lesson_id)
    topics = curriculum.topics_for(lesson.subject_id, lesson.level_id)
    strands = dict(db.session.execute(select(Topic.id, Topic.name).where(
        Topic.id.in_({t.parent_id for t in topics}))).all())
    return lesson, [(t, strands.get(t.parent_id, "")) for t in topics]


@dataclass(frozen=True)
class WeakLine:
    """One learner's topics still weak, for a compact line on the tutor's lesson list."""

    learner: Learner
    topics: list[AgendaLine]


def weak_topics_by_lesson(lessons: list[Lesson]) -> dict[int, list[WeakLine]]:
    """For each lesson, its learners' topics still weak in its subject and level (weakest first; learners with none
    are left out), read with one query for the whole list."""
    people = {lesson.id: learners(lesson) for lesson in lessons}
    keys = {p.key for found in people.values() for p in found}
    if not keys:
        return {}
    rows = db.session.execute(select(TopicMastery.learner_key, TopicMastery.level, Topic.id, Topic.name,
                                     Topic.subject_id, Topic.level_id)
                              .join(Topic, TopicMastery.topic_id == Topic.id)
                              .where(TopicMastery.learner_key.in_(keys),
                                     TopicMastery.level < int(plan.Mastery.PROFICIENT))).all()
    by_learner: dict[tuple[str, int, int], list] = {}
    for key, level, topic_id, name, subject_id, level_id in rows:
        by_learner.setdefault((key, subject_id, level_id), []).append((level, topic_id, name))
    out: dict[int, list[WeakLine]] = {}
    for lesson in lessons:
        lines = []
        for person in people[lesson.id]:
            weak = sorted(by_learner.get((person.key, lesson.subject_id, lesson.level_id), []))
            if weak:
                lines.append(WeakLine(person, [AgendaLine(name, plan.MASTERY_WORDS[plan.Mastery(level)])
                                                    for level, _, name in weak]))
        if lines:
            out[lesson.id] = lines
    return out
