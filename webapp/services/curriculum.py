"""Topic trees per subject and level, the question bank (seeded from templates, GIFT in and out) and suggestions."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from ..adapters.database import serialized_write
from ..domain import gift, question_templates
from ..domain.question_form import CleanQuestion, QuestionDraft, QuestionInvalid, clean_question
from ..domain.topic_suggest import TopicText, suggest
from ..extensions import db
from ..models import ChatMessage, Lesson, Level, QuestionItem, Subject, Topic, User
from . import audit, question_bank
from .errors import Forbidden, ValidationError
from .locks import LOCK_CURRICULUM

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


@dataclass(frozen=True)
class Imported:
    """What a GIFT import did: questions added, and those skipped as already in the importer's bank."""

    added: int
    skipped: int


def import_gift(user: User, subject_id: int, level_id: int, text: str, now: datetime) -> Imported:
    """Add the questions of a GIFT text to the bank under their topics (by slug).

    All or nothing: one unreadable question, unknown topic or value the question form would refuse (a numeric answer
    that is not a number, a negative tolerance, an algebra answer the marker cannot read, two identical choices) and
    none are added, with the question's number and the reason in words. A question already in the importer's bank
    (same topic, kind, wording, answer and choices) is skipped, so importing a file twice adds it once. An admin's
    import (into the shared bank) is audited."""
    _may_edit_bank(user)
    if not text or len(text) > 1_000_000:
        raise ValidationError("Paste or upload GIFT text (at most 1 MB).")
    try:
        parsed = gift.parse(text)
    except gift.GiftError as exc:
        raise ValidationError(str(exc)) from None
    topics = {t.slug: t.id for t in topics_for(subject_id, level_id)}
    cleaned: list[tuple[int, CleanQuestion]] = []
    for number, item in enumerate(parsed, 1):
        if not item.topic:
            raise ValidationError(f"Question {number} has no topic: put “// lessonbook: kind=… topic=<slug>” on the "
                                  f"line above it (an exported file shows the form).")
        if item.topic not in topics:
            raise ValidationError(f"Question {number}: unknown topic “{item.topic}” for this subject and level.")
        if not item.solution:
            raise ValidationError(f"Question {number} has no worked solution (GIFT general feedback, after ####).")
        draft = QuestionDraft(kind=item.kind, prompt=item.prompt, answer=item.answer if item.kind != "choice" else "",
                              tolerance=f"{item.tolerance!r}", unit=item.unit, choices=tuple(item.choices),
                              correct=(item.answer,) if item.kind == "choice" else (), solution=item.solution,
                              difficulty=str(item.difficulty))
        try:
            cleaned.append((topics[item.topic], clean_question(draft)))
        except QuestionInvalid as exc:
            raise ValidationError(f"Question {number} (“{item.title[:60]}”): {exc}") from None
    owner = None if user.is_admin else user.id
    with serialized_write((LOCK_CURRICULUM, subject_id)):  # a second submit waits, then finds these and skips them
        have = {_same(i.topic_id, i.kind, i.prompt, i.answer, i.choices) for i in db.session.scalars(
            select(QuestionItem).join(Topic).where(
                Topic.subject_id == subject_id, Topic.level_id == level_id, QuestionItem.active.is_(True),
                question_bank.in_bank(),
                QuestionItem.owner_id.is_(None) if owner is None else QuestionItem.owner_id == owner))}
        added = []
        for topic_id, clean in cleaned:
            key = _same(topic_id, clean.kind, clean.prompt, clean.answer, clean.choices)
            if key in have:
                continue
            have.add(key)
            item = QuestionItem(topic_id=topic_id, kind=clean.kind, difficulty=clean.difficulty, prompt=clean.prompt,
                                answer=clean.answer, tolerance=clean.tolerance, unit=clean.unit,
                                choices=clean.choices, solution=clean.solution, created_by_id=user.id, owner_id=owner)
            db.session.add(item)
            added.append(item)
        db.session.flush()
        if user.is_admin and added:
            audit.record(user, "question.import", "question", added[0].id,
                         f"Imported {len(added)} questions (GIFT) into subject {subject_id}, level {level_id}", now,
                         after={"ids": [i.id for i in added][:500]})
    return Imported(len(added), len(cleaned) - len(added))


def _same(topic_id: int, kind: str, prompt: str, answer: str, choices) -> tuple:
    """What makes two questions the same for an import: topic, kind, wording, answer and choices."""
    return topic_id, kind, prompt.strip(), answer.strip(), tuple(choices or [])


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
