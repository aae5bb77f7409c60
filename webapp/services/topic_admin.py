"""Admins edit the topic trees: add, rename, move (new parent), reorder and retire topics of one subject and level.

A topic that questions, notes, mistakes or mastery refer to is retired (hidden from forms and the generator; history
keeps its name), never deleted; an unused one is deleted. A move that would put a topic under itself or one of its own
topics is refused in words. Every change is audited in its own transaction. Slugs never change (GIFT files name
topics by slug), so a rename keeps exports importable."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select

from ..adapters.database import serialized_write
from ..extensions import db
from ..models import Level, NoteError, NoteTopic, QuestionItem, Subject, Topic, TopicMastery, User
from . import audit
from .errors import Forbidden, NotFound, ValidationError
from .locks import LOCK_CURRICULUM

MAX_NAME = 120
MAX_KEYWORDS = 2000


def _admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only admins edit the topic trees.")


@dataclass(frozen=True)
class Shelf:
    """A subject at a level, as the topic pages list them."""

    subject_id: int
    level_id: int
    label: str


def shelves(user: User) -> list[Shelf]:
    """Every subject and level pair (admins), those with topics first."""
    _admin(user)
    with_topics = set(db.session.execute(select(Topic.subject_id, Topic.level_id).distinct()).all())
    subjects = db.session.execute(select(Subject.id, Subject.name).order_by(Subject.name)).all()
    levels = db.session.execute(select(Level.id, Level.name).order_by(Level.rank)).all()
    rows = [Shelf(s, lv, f"{sn} · {ln}") for s, sn in subjects for lv, ln in levels]
    return sorted(rows, key=lambda r: (r.subject_id, r.level_id) not in with_topics)


@dataclass(frozen=True)
class Node:
    """One topic in the tree with its depth and what refers to it."""

    topic: Topic
    depth: int
    questions: int
    first: bool
    last: bool


@dataclass(frozen=True)
class Tree:
    """A subject and level's topic tree as rows, parents before children, siblings in order."""

    subject: Subject
    level: Level
    nodes: list[Node]


def topic_tree(user: User, subject_id: int, level_id: int) -> Tree:
    """The whole tree of a subject at a level, retired topics included (marked)."""
    _admin(user)
    subject, level = db.session.get(Subject, subject_id), db.session.get(Level, level_id)
    if subject is None or level is None:
        raise NotFound("We could not find that subject and level.")
    topics = list(db.session.scalars(_siblings_order(select(Topic).where(Topic.subject_id == subject_id,
                                                                         Topic.level_id == level_id))))
    counts = dict(db.session.execute(select(QuestionItem.topic_id, func.count(QuestionItem.id)).join(Topic).where(
        Topic.subject_id == subject_id, Topic.level_id == level_id, QuestionItem.active.is_(True))
        .group_by(QuestionItem.topic_id)).all())
    children: dict[int | None, list[Topic]] = {}
    for t in topics:
        children.setdefault(t.parent_id, []).append(t)
    nodes: list[Node] = []

    def walk(parent_id: int | None, depth: int) -> None:
        kids = children.get(parent_id, [])
        for n, t in enumerate(kids):
            nodes.append(Node(t, depth, counts.get(t.id, 0), n == 0, n == len(kids) - 1))
            walk(t.id, depth + 1)
    walk(None, 0)
    return Tree(subject, level, nodes)


def locate(user: User, topic_id: int) -> tuple[int, int]:
    """The (subject id, level id) of a topic's tree (admins)."""
    _admin(user)
    topic = _topic(topic_id)
    return topic.subject_id, topic.level_id


def _siblings_order(query):
    return query.order_by(Topic.position, Topic.id)


def _topic(topic_id: int) -> Topic:
    topic = db.session.get(Topic, topic_id)
    if topic is None:
        raise NotFound("We could not find that topic.")
    return topic


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Give the topic a name.", {"name": "Give the topic a name."})
    if len(name) > MAX_NAME:
        raise ValidationError(f"Keep the name under {MAX_NAME} characters.", {"name": "Too long."})
    return name


def _name_free(subject_id: int, level_id: int, name: str, except_id: int | None = None) -> None:
    clash = db.session.scalar(select(Topic).where(Topic.subject_id == subject_id, Topic.level_id == level_id,
                                                  func.lower(Topic.name) == name.lower(), Topic.id != (except_id or 0)))
    if clash is not None:
        state = "" if clash.active else " (retired; restore it instead)"
        raise ValidationError(f"There is already a topic called “{clash.name}”{state} here.",
                              {"name": "That name is taken here."})


def _slug(subject_id: int, level_id: int, name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:70] or "topic"
    taken = set(db.session.scalars(select(Topic.slug).where(Topic.subject_id == subject_id,
                                                            Topic.level_id == level_id)))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _parent(subject_id: int, level_id: int, parent_id: int | None) -> Topic | None:
    if not parent_id:
        return None
    parent = db.session.get(Topic, parent_id)
    if parent is None or (parent.subject_id, parent.level_id) != (subject_id, level_id):
        raise ValidationError("Pick a parent from this subject and level.", {"parent": "Pick a parent from this tree."})
    if not parent.active:
        raise ValidationError(f"“{parent.name}” is retired; restore it first or pick another parent.",
                              {"parent": "That parent is retired."})
    return parent


def _end_position(subject_id: int, level_id: int, parent_id: int | None) -> int:
    """A position after the new parent's last child (or after every strand, for a new strand)."""
    query = select(func.max(Topic.position)).where(Topic.subject_id == subject_id, Topic.level_id == level_id)
    query = query.where(Topic.parent_id == parent_id) if parent_id else query.where(Topic.parent_id.is_(None))
    last = db.session.scalar(query)
    if last is None and parent_id:
        last = db.session.get(Topic, parent_id).position
    return (last or 0) + 1


def add_topic(admin: User, subject_id: int, level_id: int, name: str, parent_id: int | None, keywords: str,
              now: datetime) -> Topic:
    """A new topic under `parent_id` (a new strand when none), last among its siblings."""
    _admin(admin)
    name = _clean_name(name)
    keywords = " ".join((keywords or "").split())[:MAX_KEYWORDS]
    with serialized_write((LOCK_CURRICULUM, subject_id)):
        if db.session.get(Subject, subject_id) is None or db.session.get(Level, level_id) is None:
            raise NotFound("We could not find that subject and level.")
        parent = _parent(subject_id, level_id, parent_id)
        _name_free(subject_id, level_id, name)
        topic = Topic(subject_id=subject_id, level_id=level_id, parent_id=parent.id if parent else None,
                      slug=_slug(subject_id, level_id, name), name=name, keywords=keywords, active=True,
                      position=_end_position(subject_id, level_id, parent.id if parent else None))
        db.session.add(topic)
        db.session.flush()
        where = f"under “{parent.name}”" if parent else "as a strand"
        audit.record(admin, "topic.add", "topic", topic.id, f"Added topic “{name}” {where}", now,
                     after=_snapshot(topic))
    return topic


def rename_topic(admin: User, topic_id: int, name: str, keywords: str | None, now: datetime) -> Topic:
    """A new name (and keywords, when given) for a topic; its slug stays, so GIFT files keep finding it."""
    _admin(admin)
    name = _clean_name(name)
    with serialized_write((LOCK_CURRICULUM, _topic(topic_id).subject_id)):
        topic = _topic(topic_id)
        _name_free(topic.subject_id, topic.level_id, name, except_id=topic.id)
        before = _snapshot(topic)
        topic.name = name
        if keywords is not None:
            topic.keywords = " ".join(keywords.split())[:MAX_KEYWORDS]
        audit.record(admin, "topic.rename", "topic", topic.id, f"Renamed topic “{before['name']}” to “{name}”", now,
                     before=before, after=_snapshot(topic))
    return topic


def move_topic(admin: User, topic_id: int, parent_id: int | None, now: datetime) -> Topic:
    """Put a topic (with its own topics) under another parent of the same tree, or make it a strand.

    Refused in words when the new parent is the topic itself or one of its descendants (that would make a cycle)."""
    _admin(admin)
    with serialized_write((LOCK_CURRICULUM, _topic(topic_id).subject_id)):
        topic = _topic(topic_id)
        parent = _parent(topic.subject_id, topic.level_id, parent_id)
        if parent is not None:
            ancestor: Topic | None = parent
            while ancestor is not None:
                if ancestor.id == topic.id:
                    where = "itself" if parent.id == topic.id else f"“{parent.name}”, which is inside it"
                    raise ValidationError(f"“{topic.name}” cannot move under {where}: a topic cannot sit inside "
                                          f"its own topics.", {"parent": "That would put the topic inside itself."})
                ancestor = ancestor.parent
        new_parent_id = parent.id if parent else None
        if new_parent_id == topic.parent_id:
            return topic
        if parent is None and _has_questions(topic.id):
            raise ValidationError(f"“{topic.name}” has questions, so it stays under a strand; move it to another "
                                  f"strand instead.", {"parent": "A topic with questions needs a strand."})
        before = _snapshot(topic)
        old = topic.parent.name if topic.parent else "the top level"
        topic.parent_id = new_parent_id
        topic.position = _end_position(topic.subject_id, topic.level_id, new_parent_id)
        db.session.flush()
        audit.record(admin, "topic.move", "topic", topic.id,
                     f"Moved topic “{topic.name}” from {old} to {parent.name if parent else 'the top level'}", now,
                     before=before, after=_snapshot(topic))
    return topic


def reorder_topic(admin: User, topic_id: int, direction: str, now: datetime) -> Topic:
    """Move a topic one place up or down among its siblings."""
    _admin(admin)
    if direction not in ("up", "down"):
        raise ValidationError("Move a topic up or down.")
    with serialized_write((LOCK_CURRICULUM, _topic(topic_id).subject_id)):
        topic = _topic(topic_id)
        query = select(Topic).where(Topic.subject_id == topic.subject_id, Topic.level_id == topic.level_id)
        query = query.where(Topic.parent_id == topic.parent_id) if topic.parent_id else \
            query.where(Topic.parent_id.is_(None))
        siblings = list(db.session.scalars(_siblings_order(query)))
        at = siblings.index(topic)
        to = at - 1 if direction == "up" else at + 1
        if not 0 <= to < len(siblings):
            return topic  # already first or last: nothing to do (a double click)
        # Swap the two positions; equal positions are spread first so the swap changes the order.
        a, b = siblings[at], siblings[to]
        if a.position == b.position:
            for n, s in enumerate(siblings):
                s.position = siblings[0].position + n
        a.position, b.position = b.position, a.position
        db.session.flush()
        audit.record(admin, "topic.reorder", "topic", topic.id, f"Moved topic “{topic.name}” {direction}, past "
                     f"“{b.name}”", now, before={"position": b.position}, after={"position": a.position})
    return topic


def _has_questions(topic_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(QuestionItem.topic_id == topic_id))))


def _in_use(topic_id: int) -> bool:
    """Whether anything refers to the topic: questions (any version), notes, mistakes, mastery or child topics."""
    return any(db.session.scalar(select(exists().where(condition))) for condition in (
        QuestionItem.topic_id == topic_id, NoteTopic.topic_id == topic_id, NoteError.topic_id == topic_id,
        TopicMastery.topic_id == topic_id, Topic.parent_id == topic_id))


def retire_topic(admin: User, topic_id: int, now: datetime) -> str:
    """Retire a topic (history keeps it) or, when nothing refers to it, delete it; returns "retired" or "deleted".

    A topic whose own topics are still active is refused: move or retire them first."""
    _admin(admin)
    with serialized_write((LOCK_CURRICULUM, _topic(topic_id).subject_id)):
        topic = _topic(topic_id)
        active_children = db.session.scalar(select(func.count(Topic.id)).where(Topic.parent_id == topic.id,
                                                                               Topic.active.is_(True)))
        if active_children:
            raise ValidationError(f"“{topic.name}” still holds {active_children} active topic"
                                  f"{'s' if active_children != 1 else ''}; move or retire them first.")
        before = _snapshot(topic)
        if _in_use(topic.id):
            if not topic.active:
                return "retired"
            topic.active = False
            outcome = "retired"
            audit.record(admin, "topic.retire", "topic", topic.id, f"Retired topic “{topic.name}”", now,
                         before=before, after=_snapshot(topic))
        else:
            db.session.delete(topic)
            outcome = "deleted"
            audit.record(admin, "topic.delete", "topic", topic_id, f"Deleted unused topic “{topic.name}”", now,
                         before=before)
    return outcome


def restore_topic(admin: User, topic_id: int, now: datetime) -> Topic:
    """Bring a retired topic back (its parent must be active)."""
    _admin(admin)
    with serialized_write((LOCK_CURRICULUM, _topic(topic_id).subject_id)):
        topic = _topic(topic_id)
        if topic.active:
            return topic
        if topic.parent is not None and not topic.parent.active:
            raise ValidationError(f"Restore “{topic.parent.name}” first: “{topic.name}” sits inside it.")
        _name_free(topic.subject_id, topic.level_id, topic.name, except_id=topic.id)
        topic.active = True
        audit.record(admin, "topic.restore", "topic", topic.id, f"Restored topic “{topic.name}”", now,
                     before={"active": False}, after={"active": True})
    return topic


def _snapshot(topic: Topic) -> dict:
    return {"name": topic.name, "slug": topic.slug, "parent_id": topic.parent_id, "position": topic.position,
            "active": topic.active, "keywords": topic.keywords[:300]}
