"""Seeding the bank puts every template's variants under its own subject, level and topic, once; a physics lesson's
mistakes draft a physics set."""
from __future__ import annotations

from sqlalchemy import func, select

from tests import factories
from webapp.domain import question_templates
from webapp.extensions import db
from webapp.models import HomeworkSet, QuestionItem, Subject, Topic
from webapp.services import curriculum, homework, notes
from webapp.services.homework import ErrorInput


def _seed_all():
    for name in ("Mathematics", "Physics"):
        factories.subject(name)
    factories.level("GCSE", 2), factories.level("A-Level", 3)
    return curriculum.seed_curriculum()


def test_physics_and_a_level_items_are_seeded_under_their_own_subject_and_level_once(app):
    topics, items = _seed_all()
    expected = sum(len(question_templates.bank_seeds(t)) for t in question_templates.TEMPLATES)
    assert items == expected
    rows = db.session.execute(select(QuestionItem.template, Subject.name, Topic.slug).select_from(QuestionItem)
                              .join(Topic, QuestionItem.topic_id == Topic.id)
                              .join(Subject, Topic.subject_id == Subject.id)).all()
    physics = [r for r in rows if r.name == "Physics"]
    assert len(physics) >= 80 and len({r.slug for r in physics}) >= 12
    assert all(r.template.startswith("phy_") for r in physics)
    assert all(not r.template.startswith("phy_") for r in rows if r.name == "Mathematics")
    assert {"apl-circular-motion", "apl-shm"} <= {r.slug for r in physics}
    assert _seed_all() == (0, 0)  # idempotent: nothing added twice
    assert db.session.scalar(select(func.count(QuestionItem.id))) == expected


def test_a_physics_lessons_mistakes_draft_a_physics_set(app):
    _seed_all()
    tutor, teach = factories.tutor(subject_name="Physics", level_name="A-Level")
    lesson = factories.finished_lesson(tutor, teach)
    shm = db.session.scalar(select(Topic).where(Topic.slug == "apl-shm"))
    orbits = db.session.scalar(select(Topic).where(Topic.slug == "apl-gravitational-fields"))
    notes.save_note(tutor, lesson.id, "Pendulums and springs; then orbits.", [], factories_now(),
                    covered=[orbits.id], errors=[ErrorInput(shm.id, "Used the amplitude in the period", "")])
    draft = db.session.scalar(select(HomeworkSet))
    topic_ids = [e.item.topic_id for e in draft.entries]
    assert len(topic_ids) == 8 and set(topic_ids) <= {shm.id, orbits.id}
    assert topic_ids.count(shm.id) > topic_ids.count(orbits.id)
    assert homework.learners(lesson)[0].answerer.id == draft.answerer_id


def test_a_single_mistake_topic_gets_each_of_its_templates_before_a_second_variant_and_swaps_do_too(app):
    _seed_all()
    tutor, teach = factories.tutor(subject_name="Physics", level_name="A-Level")
    lesson = factories.finished_lesson(tutor, teach)
    shm = db.session.scalar(select(Topic).where(Topic.slug == "apl-shm"))
    orbits = db.session.scalar(select(Topic).where(Topic.slug == "apl-gravitational-fields"))
    notes.save_note(tutor, lesson.id, "Pendulums.", [], factories_now(), covered=[orbits.id],
                    errors=[ErrorInput(shm.id, "Used the amplitude in the period", "")])
    draft = db.session.scalar(select(HomeworkSet))
    shm_templates = set(db.session.scalars(select(QuestionItem.template).where(QuestionItem.topic_id == shm.id)))
    in_set = [e.item.template for e in draft.entries if e.item.topic_id == shm.id]
    # No template twice until every template of the topic is in the set (three pendulum questions were possible).
    assert len(in_set) > 1 and len(set(in_set)) == min(len(in_set), len(shm_templates))
    # A swap brings a template not yet in the set while the topic has one.
    entry = next(e for e in draft.entries if e.item.topic_id == orbits.id)
    orbit_templates = set(db.session.scalars(select(QuestionItem.template)
                                             .where(QuestionItem.topic_id == orbits.id)))
    others = {e.item.template for e in draft.entries}
    homework.swap_entry(tutor, draft.id, entry.id, factories_now())
    db.session.commit()
    assert orbit_templates - others  # the bank has one free: the test below means something
    assert entry.item.template in orbit_templates - others


def factories_now():
    from datetime import UTC, datetime
    return datetime.now(UTC)
