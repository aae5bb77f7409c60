"""Topic trees per subject and level, the question bank (seeded from templates, GIFT in and out) and suggestions."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from ..adapters.database import serialized_write
from ..domain import gift, question_templates
from ..domain.topic_suggest import TopicText, suggest
from ..extensions import db
from ..models import ChatMessage, Lesson, Level, QuestionItem, Subject, Topic, User
from . import question_bank
from .errors import Forbidden, ValidationError
from .locks import LOCK_QUESTION_AUTHOR

CURRICULUM_FILE = Path(__file__).resolve().parent.parent / "data" / "curriculum.json"


def seed_curriculum() -> tuple[int, int]:
    """Add the topic trees of `data/curriculum.json` and the template questions that are missing; returns (topics,
    items) added. Idempotent: existing topics (perhaps edited by an admin) and items are left as they are."""
    data = json.loads(CURRICULUM_FILE.read_text(encoding="utf-8"))
    subjects = {s.name: s for s in db.session.scalars(select(Subject))}
    levels = {lv.name: lv for lv in db.session.scalars(select(Level))}
    added_topics = 0
    for subject_name, by_level in data.items():
        if subject_name.startswith("_") or subject_name not in subjects:
            continue
        for level_name, strands in by_level.items():
            if level_name not in levels:
                continue
            subject, level = subjects[subject_name], levels[level_name]
            known = {t.slug: t for t in db.session.scalars(select(Topic).where(
                Topic.subject_id == subject.id, Topic.level_id == level.id))}
            for s_pos, (strand_name, topics) in enumerate(strands.items()):
                strand_slug = "strand-" + strand_name.lower().replace(" ", "-").replace(",", "").replace(":", "")
                strand = known.get(strand_slug)
                if strand is None:
                    strand = Topic(subject_id=subject.id, level_id=level.id, slug=strand_slug, name=strand_name,
                                   keywords="", position=s_pos * 100)
                    db.session.add(strand)
                    db.session.flush()
                    added_topics += 1
                for t_pos, (slug, name, keywords) in enumerate(topics):
                    if slug not in known:
                        db.session.add(Topic(subject_id=subject.id, level_id=level.id, parent_id=strand.id, slug=slug,
                                             name=name, keywords=keywords, position=s_pos * 100 + t_pos + 1))
                        added_topics += 1
    db.session.flush()
    added_items = _seed_items(subjects, levels)
    db.session.commit()
    return added_topics, added_items


def _seed_items(subjects: dict[str, Subject], levels: dict[str, Level]) -> int:
    """Add each template's bank variants under its subject, level and topic (skipped where those are not seeded)."""
    topics = {(t.subject_id, t.level_id, t.slug): t.id for t in db.session.scalars(select(Topic))}
    have = set(db.session.execute(select(QuestionItem.template, QuestionItem.seed)
                                  .where(QuestionItem.template.is_not(None))).all())
    added = 0
    for template in question_templates.TEMPLATES:
        for seed in question_templates.bank_seeds(template):
            if (template, seed) in have:
                continue
            v = question_templates.generate(template, seed)
            subject, level = subjects.get(v["subject"]), levels.get(v["level"])
            topic_id = topics.get((subject.id, level.id, v["topic"])) if subject and level else None
            if topic_id is None:
                continue
            db.session.add(QuestionItem(topic_id=topic_id, kind=v["kind"], difficulty=v["difficulty"],
                                        prompt=v["prompt"], answer=v["answer"], tolerance=v["tolerance"],
                                        unit=v["unit"], choices=v["choices"], solution=v["solution"],
                                        template=template, seed=seed))
            added += 1
    return added


def regenerate(item: QuestionItem) -> dict | None:
    """The template variant an item was made from, regenerated from its stored seed (None for hand-written items)."""
    if item.template is None or item.template not in question_templates.TEMPLATES:
        return None
    return question_templates.generate(item.template, item.seed)


def topics_for(subject_id: int, level_id: int) -> list[Topic]:
    """The active topics (not strands) of a subject at a level, in curriculum order."""
    return list(db.session.scalars(select(Topic).where(
        Topic.subject_id == subject_id, Topic.level_id == level_id, Topic.active.is_(True),
        Topic.parent_id.is_not(None)).order_by(Topic.position, Topic.id)))


def suggest_topics(lesson: Lesson, text: str) -> list[int]:
    """Topic ids the note's text and the lesson's chat are most about (the tutor confirms)."""
    chat = " ".join(db.session.scalars(select(ChatMessage.body).where(ChatMessage.lesson_id == lesson.id)
                                       .order_by(ChatMessage.seq).limit(500)))
    texts = [TopicText(t.id, t.name, t.keywords) for t in topics_for(lesson.subject_id, lesson.level_id)]
    return [topic_id for topic_id, _ in suggest(texts, f"{text}\n{chat}")]


def _may_edit_bank(user: User) -> None:
    if user.role not in ("admin", "tutor"):
        raise Forbidden("Only tutors and admins edit the question bank.")


def export_gift(user: User, subject_id: int, level_id: int) -> str:
    """The bank's active items of a subject and level as GIFT text (tutors and admins)."""
    _may_edit_bank(user)
    rows = db.session.execute(select(QuestionItem, Topic.slug).join(Topic, QuestionItem.topic_id == Topic.id).where(
        Topic.subject_id == subject_id, Topic.level_id == level_id, QuestionItem.active.is_(True),
        question_bank.in_bank() if user.is_admin else question_bank.usable_in_lessons_of(user.id))
        .order_by(QuestionItem.id)).all()
    return gift.export([gift.GiftItem(title=f"Q{item.id}", prompt=item.prompt, kind=item.kind, answer=item.answer,
                                      solution=item.solution, tolerance=item.tolerance, unit=item.unit,
                                      choices=list(item.choices or []), topic=slug, difficulty=item.difficulty)
                        for item, slug in rows])


def import_gift(user: User, subject_id: int, level_id: int, text: str) -> int:
    """Add the questions of a GIFT text to the bank under their topics (by slug); returns how many were added
    (questions identical to ones this user already has are skipped).

    All or nothing: one unreadable question or unknown topic and none are added, with the reason in words."""
    _may_edit_bank(user)
    if not text or len(text) > 1_000_000:
        raise ValidationError("Paste or upload GIFT text (at most 1 MB).")
    try:
        parsed = gift.parse(text)
    except gift.GiftError as exc:
        raise ValidationError(str(exc)) from None
    topics = {t.slug: t.id for t in topics_for(subject_id, level_id)}
    for number, item in enumerate(parsed, 1):
        if item.topic not in topics:
            raise ValidationError(f"Question {number}: unknown topic “{item.topic}” for this subject and level.")
        if not item.solution:
            raise ValidationError(f"Question {number} has no worked solution (GIFT general feedback, after ####).")
    added = 0
    # The author's lock, and questions they already have skipped: the same text imported twice (a double click, a
    # second try after a slow answer) adds each question once.
    with serialized_write((LOCK_QUESTION_AUTHOR, user.id)) as session:
        for item in parsed:
            values = dict(kind=item.kind, difficulty=item.difficulty, prompt=item.prompt[:5000],
                          answer=item.answer[:200], tolerance=item.tolerance, unit=item.unit[:20],
                          choices=list(item.choices or []), solution=item.solution)
            if question_bank.identical_item(user.id, topics[item.topic], values) is not None:
                continue
            session.add(QuestionItem(topic_id=topics[item.topic], created_by_id=user.id,
                                     owner_id=None if user.is_admin else user.id, **values))
            session.flush()  # the next question's check sees this one (a text may repeat a question)
            added += 1
    return added


@dataclass(frozen=True)
class BankShelf:
    """One subject and level of the bank, with how many active questions it holds."""

    subject_id: int
    level_id: int
    label: str
    items: int


def bank_shelves(user: User) -> list[BankShelf]:
    """The subjects and levels that have topics, with their question counts (tutors and admins)."""
    _may_edit_bank(user)
    rows = db.session.execute(
        select(Subject.id, Level.id, Subject.name, Level.name, func.count(QuestionItem.id))
        .select_from(Topic).join(Subject, Topic.subject_id == Subject.id).join(Level, Topic.level_id == Level.id)
        .outerjoin(QuestionItem, (QuestionItem.topic_id == Topic.id) & QuestionItem.active.is_(True) & (
            question_bank.in_bank() if user.is_admin else question_bank.usable_in_lessons_of(user.id)))
        .group_by(Subject.id, Level.id, Subject.name, Level.name).order_by(Subject.name, Level.rank)).all()
    return [BankShelf(s, lv, f"{sn} · {ln}", n) for s, lv, sn, ln, n in rows]
