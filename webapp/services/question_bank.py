"""Authoring the question bank one question at a time: add, edit (a new version once a published set holds the item),
copy into one's own, and list. Tutors edit their own items; admins edit every item, audited.

The rule for versions: an item that a published homework set holds, or that was made from a template, is never
changed; saving an edit makes a new item (version + 1, `previous_id` pointing back) and retires the old one, so every
answer stays tied to the question it was marked against. Draft sets that held the old item get the new one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select, update

from ..adapters import algebra
from ..adapters.database import serialized_write
from ..domain import marking
from ..domain.question_form import MAX_CHOICES, CleanQuestion, QuestionDraft, QuestionInvalid, clean_question
from ..extensions import db
from ..models import HomeworkEntry, HomeworkSet, Level, QuestionItem, Subject, Topic, User
from . import audit
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .locks import LOCK_QUESTION_AUTHOR, LOCK_QUESTION_ITEM

PAGE_SIZE = 50


def may_author(user: User) -> None:
    """Tutors and admins author questions; anyone else is refused."""
    if user.role not in ("admin", "tutor"):
        raise Forbidden("Only tutors and admins write questions.")


def in_bank() -> ColumnElement[bool]:
    """Items of the bank: not a tutor's edit kept private to one draft set (those belong to that set alone)."""
    return QuestionItem.local_to_set_id.is_(None)


def usable_in_lessons_of(tutor_id: int) -> ColumnElement[bool]:
    """The items a tutor's lessons may draw on: the shared bank and the tutor's own items (not set-local edits)."""
    return in_bank() & or_(QuestionItem.owner_id.is_(None), QuestionItem.owner_id == tutor_id)


def check_question(draft: QuestionDraft) -> CleanQuestion:
    """The stored values of a typed question, or ValidationError with a message per field.

    An algebraic answer is rebuilt by the marker's own parser and then compared with itself by sympy in the marker's
    child process: an answer that parses but cannot be compared (x/0) would mark every pupil wrong. Runs outside any
    transaction (the child process may take seconds)."""
    try:
        clean = clean_question(draft)
    except QuestionInvalid as exc:
        raise ValidationError("Please correct the question below.", exc.fields) from None
    if clean.kind == "algebra":
        try:
            readable = algebra.equivalent(clean.canonical, clean.canonical,
                                          marking.expression_names(clean.canonical))
        except algebra.AlgebraUnavailable:
            readable = False
        if not readable:
            raise ValidationError("Please correct the question below.", {
                "answer": "The marker cannot compare answers with this expression (is something divided by 0, or "
                          "an operator missing its number?)."})
    return clean


@dataclass(frozen=True)
class TopicChoice:
    """A topic an item can be filed under, with its subject and level for the form's groups."""

    id: int
    name: str
    shelf: str


def topic_choices() -> list[TopicChoice]:
    """Every active topic (not strand), grouped by subject and level in curriculum order."""
    rows = db.session.execute(
        select(Topic.id, Topic.name, Subject.name, Level.name).join(Subject, Topic.subject_id == Subject.id)
        .join(Level, Topic.level_id == Level.id)
        .where(Topic.active.is_(True), Topic.parent_id.is_not(None))
        .order_by(Subject.name, Level.rank, Topic.position, Topic.id)).all()
    return [TopicChoice(i, n, f"{s} · {lv}") for i, n, s, lv in rows]


def _topic(topic_id: int | None) -> Topic:
    topic = db.session.get(Topic, topic_id) if topic_id else None
    if topic is None or not topic.active or topic.parent_id is None:
        raise ValidationError("Please correct the question below.", {"topic": "Pick the topic the question is on."})
    return topic


def _checked(topic_id: int | None, draft: QuestionDraft) -> CleanQuestion:
    """check_question, with a missing topic reported beside the other fields (every problem at once)."""
    fields: dict[str, str] = {}
    try:
        _topic(topic_id)
    except ValidationError as exc:
        fields.update(exc.fields)
    try:
        clean = check_question(draft)
    except ValidationError as exc:
        raise ValidationError(exc.message, {**fields, **exc.fields}) from None
    if fields:
        raise ValidationError("Please correct the question below.", fields)
    return clean


def visible_item(user: User, item_id: int) -> QuestionItem:
    """An item `user` may read and copy: the shared bank and their own (admins: all); NotFound otherwise."""
    may_author(user)
    item = db.session.get(QuestionItem, item_id)
    if item is None or item.local_to_set_id is not None or not (user.is_admin or item.owner_id in (None, user.id)):
        raise NotFound("We could not find that question.")  # a set-local edit is changed from its set's page
    return item


def editable_item(user: User, item_id: int) -> QuestionItem:
    """An item `user` may edit: admins any, a tutor only their own (Forbidden for the shared bank's)."""
    item = visible_item(user, item_id)
    if not user.is_admin and item.owner_id != user.id:
        raise Forbidden("Questions in the shared bank are edited by admins; copy it to make your own version.")
    if not item.active:
        raise Conflict("This question was replaced by a newer version or retired; edit the newest one.")
    return item


def in_published_set(item_id: int) -> bool:
    """Whether a published homework set holds the item (its learners read or answered it)."""
    return bool(db.session.scalar(select(exists().where(
        HomeworkEntry.item_id == item_id, HomeworkEntry.set_id == HomeworkSet.id, HomeworkSet.state == "published"))))


def add_item(user: User, topic_id: int | None, draft: QuestionDraft, now: datetime) -> QuestionItem:
    """A new question: a tutor's own item, or (by an admin) an item of the shared bank, audited."""
    may_author(user)
    clean = _checked(topic_id, draft)
    with serialized_write((LOCK_QUESTION_AUTHOR, user.id)):
        topic = _topic(topic_id)
        if (same := identical_item(user.id, topic.id, _values(clean))) is not None:
            return same  # the form sent twice (a double click): the question is there already
        item = QuestionItem(topic_id=topic.id, created_by_id=user.id, owner_id=None if user.is_admin else user.id,
                            **_values(clean))
        db.session.add(item)
        db.session.flush()
        if user.is_admin:
            audit.record(user, "question.add", "question", item.id, f"Added question {item.id} on {topic.name}",
                         now, after=_snapshot(item))
    return item


@dataclass(frozen=True)
class Saved:
    """An edit's outcome: the item now current, and whether it is a new version (the old one kept for answers)."""

    item: QuestionItem
    new_version: bool


def update_item(user: User, item_id: int, topic_id: int | None, draft: QuestionDraft, now: datetime) -> Saved:
    """Save an edit: in place while nothing published holds the item, else as a new version (see the module doc)."""
    editable_item(user, item_id)
    clean = _checked(topic_id, draft)
    with serialized_write((LOCK_QUESTION_ITEM, item_id)):
        item = editable_item(user, item_id)  # again, inside the lock: it may have been versioned meanwhile
        topic = _topic(topic_id)
        before = _snapshot(item)
        versioned = item.template is not None or in_published_set(item.id)
        if versioned:
            item.active = False
            current = QuestionItem(topic_id=topic.id, created_by_id=user.id, owner_id=item.owner_id,
                                   version=item.version + 1, previous_id=item.id, source_id=item.source_id,
                                   **_values(clean))
            db.session.add(current)
            db.session.flush()
            # Drafts not yet seen by anyone take the corrected question; published sets keep what they showed.
            db.session.execute(update(HomeworkEntry).where(
                HomeworkEntry.item_id == item.id,
                HomeworkEntry.set_id.in_(select(HomeworkSet.id).where(HomeworkSet.state == "draft")))
                .values(item_id=current.id))
        else:
            current = item
            current.topic_id = topic.id
            for name, value in _values(clean).items():
                setattr(current, name, value)
            db.session.flush()
        if user.is_admin:
            how = f"as version {current.version} (question {current.id})" if versioned else "in place"
            audit.record(user, "question.edit", "question", item.id, f"Edited question {item.id} {how}", now,
                         before=before, after=_snapshot(current))
    return Saved(current, versioned)


def copy_item(user: User, item_id: int, now: datetime) -> QuestionItem:
    """A copy of a visible item as the user's own (a tutor's way to change a shared bank question)."""
    source = visible_item(user, item_id)
    with serialized_write((LOCK_QUESTION_AUTHOR, user.id)):
        source = visible_item(user, item_id)
        same = identical_item(user.id, source.topic_id, _values_of(source), source_id=source.id)
        if same is not None:
            return same  # copied already (a double click), and not changed since: that copy is the one to edit
        copy = QuestionItem(topic_id=source.topic_id, kind=source.kind, difficulty=source.difficulty,
                            prompt=source.prompt, answer=source.answer, tolerance=source.tolerance, unit=source.unit,
                            choices=list(source.choices or []), solution=source.solution, created_by_id=user.id,
                            owner_id=user.id, source_id=source.id)
        db.session.add(copy)
        db.session.flush()
        if user.is_admin:
            audit.record(user, "question.copy", "question", copy.id, f"Copied question {source.id} as {copy.id}",
                         now, after=_snapshot(copy))
    return copy


def identical_item(author_id: int, topic_id: int, values: dict, source_id: int | None = None) -> QuestionItem | None:
    """An active question this author already wrote on this topic with exactly these values (and copied from
    `source_id`, for copies), if any: what a form or an import sent twice would add again."""
    scalars = {k: v for k, v in values.items() if k != "choices"}
    query = select(QuestionItem).where(QuestionItem.created_by_id == author_id, QuestionItem.topic_id == topic_id,
                                       QuestionItem.active.is_(True), in_bank(),  # not a set's private edit
                                       *(getattr(QuestionItem, k) == v for k, v in scalars.items()))
    if source_id is not None:
        query = query.where(QuestionItem.source_id == source_id)
    choices = list(values.get("choices") or [])
    return next((item for item in db.session.scalars(query.order_by(QuestionItem.id))
                 if list(item.choices or []) == choices), None)


def _values_of(item: QuestionItem) -> dict:
    return dict(kind=item.kind, prompt=item.prompt, answer=item.answer, tolerance=item.tolerance, unit=item.unit,
                choices=list(item.choices or []), solution=item.solution, difficulty=item.difficulty)


def _values(clean: CleanQuestion) -> dict:
    return dict(kind=clean.kind, prompt=clean.prompt, answer=clean.answer, tolerance=clean.tolerance,
                unit=clean.unit, choices=clean.choices, solution=clean.solution, difficulty=clean.difficulty)


def _snapshot(item: QuestionItem) -> dict:
    return {"topic_id": item.topic_id, "kind": item.kind, "prompt": item.prompt[:500], "answer": item.answer,
            "tolerance": item.tolerance, "unit": item.unit, "choices": list(item.choices or []),
            "difficulty": item.difficulty, "version": item.version}


def draft_of(item: QuestionItem) -> QuestionDraft:
    """An item as the form shows it (every value a string; blank choice rows to fill)."""
    choices = list(item.choices or [])
    padded = tuple(choices + [""] * max(0, min(MAX_CHOICES, max(4, len(choices) + 1)) - len(choices)))
    return QuestionDraft(kind=item.kind, prompt=item.prompt, answer=item.answer if item.kind != "choice" else "",
                         tolerance=f"{item.tolerance:g}", unit=item.unit, choices=padded,
                         correct=(item.answer,) if item.kind == "choice" else (), solution=item.solution,
                         difficulty=str(item.difficulty))


@dataclass(frozen=True)
class ItemRow:
    """One line of the bank's list."""

    item: QuestionItem
    topic: str
    owner: str
    editable: bool


@dataclass(frozen=True)
class ItemPage:
    rows: list[ItemRow]
    page: int
    has_more: bool


def list_items(user: User, topic_id: int | None = None, mine: bool = False, page: int = 1) -> ItemPage:
    """Current items, by topic: a tutor sees the shared bank and their own, an admin everything."""
    may_author(user)
    query = (select(QuestionItem, Topic.name, User.name).join(Topic, QuestionItem.topic_id == Topic.id)
             .outerjoin(User, QuestionItem.owner_id == User.id).where(QuestionItem.active.is_(True), in_bank()))
    if mine:
        query = query.where(QuestionItem.owner_id == user.id)
    elif not user.is_admin:
        query = query.where(usable_in_lessons_of(user.id))
    if topic_id:
        query = query.where(QuestionItem.topic_id == topic_id)
    page = max(1, page)
    rows = db.session.execute(query.order_by(Topic.subject_id, Topic.level_id, Topic.position, QuestionItem.id)
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
    return ItemPage([ItemRow(item, topic, owner or "Shared bank", user.is_admin or item.owner_id == user.id)
                     for item, topic, owner in rows[:PAGE_SIZE]], page, len(rows) > PAGE_SIZE)


def count_own(user: User) -> int:
    """How many current items the user owns."""
    return db.session.scalar(select(func.count(QuestionItem.id)).where(QuestionItem.owner_id == user.id,
                                                                         QuestionItem.active.is_(True),
                                                                         in_bank())) or 0
