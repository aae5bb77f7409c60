"""Admins edit the topic trees: add, rename, move, reorder, retire (or delete when unused), restore; a move that would
make a cycle is refused in words; every change writes an audit row in its own transaction; nobody else may."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from webapp.extensions import db
from webapp.models import AuditEntry, HomeworkSet, NoteTopic, QuestionItem, Topic
from webapp.services import curriculum, question_bank


@pytest.fixture
def tree(app):
    """The seeded GCSE Mathematics tree and an admin signed in."""
    maths, gcse = factories.subject(), factories.level()
    curriculum.seed_curriculum()
    return maths, gcse, {t.slug: t for t in db.session.scalars(select(Topic).where(Topic.subject_id == maths.id,
                                                                                   Topic.level_id == gcse.id))}


def words(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def admin_client(client):
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    return admin


def act(client, url, page_url, htmx=False, **data):
    token = csrf_from(client.get(page_url).get_data(as_text=True))
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data={**data, "csrf_token": token}, headers=headers)


def audits(action):
    db.session.rollback()
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_an_admin_adds_renames_and_reorders_topics_each_audited(app, client, tree):
    maths, gcse, topics = tree
    admin = admin_client(client)
    page = f"/admin/topics/{maths.id}/{gcse.id}"
    assert "Pythagoras' theorem" in words(client.get(page))
    strand = topics["strand-number"]

    added = act(client, f"{page}/add", page, htmx=True, name="  Number  puzzles and games ", parent_id=str(strand.id),
                keywords="surd root")
    assert added.status_code == 200 and 'id="topic-tree"' in words(added) and "Added “Number puzzles and games”." in \
        words(added)
    surds = db.session.scalar(select(Topic).where(Topic.name == "Number puzzles and games"))
    assert (surds.parent_id, surds.slug, surds.keywords) == (strand.id, "number-puzzles-and-games", "surd root")
    assert surds.id in [t.id for t in curriculum.topics_for(maths.id, gcse.id)]
    [entry] = audits("topic.add")
    assert entry.actor_id == admin.id and entry.target_id == surds.id and "Number puzzles and games" in entry.summary

    clash = act(client, f"{page}/add", page, htmx=True, name="fractions", parent_id=str(strand.id))
    assert clash.status_code == 422 and "There is already a topic called “Fractions”" in words(clash)

    renamed = act(client, f"/admin/topics/{surds.id}/rename", page, name="Number puzzles")
    assert renamed.status_code == 303
    assert "Renamed to “Number puzzles”." in words(client.get(page))
    db.session.rollback()
    assert (db.session.get(Topic, surds.id).name, db.session.get(Topic, surds.id).slug) == (
        "Number puzzles", "number-puzzles-and-games")
    [entry] = audits("topic.rename")
    assert entry.before["name"] == "Number puzzles and games" and entry.after["name"] == "Number puzzles"

    # Surds was added last among Number's topics; "up" swaps it with the one before.
    siblings = [t.id for t in db.session.scalars(select(Topic).where(Topic.parent_id == strand.id)
                                                 .order_by(Topic.position, Topic.id))]
    assert siblings[-1] == surds.id
    act(client, f"/admin/topics/{surds.id}/reorder", page, direction="up")
    db.session.rollback()
    after = [t.id for t in db.session.scalars(select(Topic).where(Topic.parent_id == strand.id)
                                              .order_by(Topic.position, Topic.id))]
    assert after == siblings[:-2] + [surds.id, siblings[-2]]
    assert len(audits("topic.reorder")) == 1
    # The curriculum order the note form and generator use follows.
    order = [t.id for t in curriculum.topics_for(maths.id, gcse.id)]
    assert order.index(surds.id) < order.index(siblings[-2])


def test_a_move_that_would_make_a_cycle_is_refused_in_words(app, client, tree):
    maths, gcse, topics = tree
    admin_client(client)
    page = f"/admin/topics/{maths.id}/{gcse.id}"
    strand, fractions = topics["strand-number"], topics["fractions"]
    refused = act(client, f"{page}/move", page, htmx=True, topic_id=str(strand.id), parent_id=str(fractions.id))
    assert refused.status_code == 422
    assert "“Number” cannot move under “Fractions”, which is inside it" in words(refused)
    itself = act(client, f"{page}/move", page, htmx=True, topic_id=str(fractions.id), parent_id=str(fractions.id))
    assert itself.status_code == 422 and "cannot move under itself" in words(itself)
    db.session.rollback()
    assert db.session.get(Topic, strand.id).parent_id is None and audits("topic.move") == []


def test_an_admin_moves_a_topic_to_another_strand_audited(app, client, tree):
    maths, gcse, topics = tree
    admin_client(client)
    page = f"/admin/topics/{maths.id}/{gcse.id}"
    fractions, algebra = topics["fractions"], topics["strand-algebra"]
    moved = act(client, f"{page}/move", page, topic_id=str(fractions.id), parent_id=str(algebra.id))
    assert moved.status_code == 303
    db.session.rollback()
    assert db.session.get(Topic, fractions.id).parent_id == algebra.id
    [entry] = audits("topic.move")
    assert entry.before["parent_id"] == topics["strand-number"].id and entry.after["parent_id"] == algebra.id
    # A topic with questions cannot become a strand (its questions would leave every form).
    top = act(client, f"{page}/move", page, htmx=True, topic_id=str(fractions.id), parent_id="")
    assert top.status_code == 422 and "has questions" in words(top)


def test_a_topic_in_use_is_retired_not_deleted_and_an_unused_one_is_deleted(app, client, tree):
    maths, gcse, topics = tree
    admin_client(client)
    page = f"/admin/topics/{maths.id}/{gcse.id}"
    fractions = topics["fractions"]
    lesson = factories.finished_lesson()
    from tests.integration.test_homework import post_note
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Fractions.", topics=[fractions.id])
    admin_client(client)

    retired = act(client, f"/admin/topics/{fractions.id}/retire", page, htmx=True)
    assert retired.status_code == 200 and "Topic retired" in words(retired)
    db.session.rollback()
    topic = db.session.get(Topic, fractions.id)
    assert topic is not None and not topic.active and topic.name == "Fractions"
    assert db.session.scalar(select(NoteTopic).where(NoteTopic.topic_id == fractions.id)).topic.name == "Fractions"
    assert fractions.id not in [t.id for t in curriculum.topics_for(maths.id, gcse.id)]
    # ...and from the question form's topics.
    assert question_bank.topic_choices() and fractions.id not in [c.id for c in question_bank.topic_choices()]
    [entry] = audits("topic.retire")
    assert entry.target_id == fractions.id and entry.after["active"] is False

    restored = act(client, f"/admin/topics/{fractions.id}/restore", page)
    assert restored.status_code == 303
    db.session.rollback()
    assert db.session.get(Topic, fractions.id).active and len(audits("topic.restore")) == 1

    act(client, f"{page}/add", page, name="Scratch", parent_id=str(topics["strand-number"].id))
    scratch_id = db.session.scalar(select(Topic.id).where(Topic.name == "Scratch"))
    deleted = act(client, f"/admin/topics/{scratch_id}/retire", page, htmx=True)
    assert "Unused topic deleted." in words(deleted)
    db.session.rollback()
    assert db.session.get(Topic, scratch_id) is None
    [entry] = audits("topic.delete")
    assert entry.target_id == scratch_id and entry.before["name"] == "Scratch"

    # A strand whose topics are active is refused with a reason.
    strand = act(client, f"/admin/topics/{topics['strand-number'].id}/retire", page, htmx=True)
    assert strand.status_code == 422 and "move or retire them first" in words(strand)


def test_a_topic_with_questions_only_is_retired_too(app, client, tree):
    maths, gcse, topics = tree
    admin_client(client)
    ratio = topics["ratio"]
    assert db.session.scalar(select(QuestionItem).where(QuestionItem.topic_id == ratio.id)) is not None
    act(client, f"/admin/topics/{ratio.id}/retire", f"/admin/topics/{maths.id}/{gcse.id}")
    db.session.rollback()
    assert db.session.get(Topic, ratio.id).active is False
    # Its questions leave the homework generator: a note naming it drafts only the other topic's questions.
    from tests.integration.test_homework import post_note
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Ratio and fractions.", topics=[ratio.id, topics["fractions"].id])
    draft = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
    assert draft.entries and {e.item.topic_id for e in draft.entries} == {topics["fractions"].id}


@pytest.mark.parametrize("role", ["tutor", "student", "support"])
def test_only_admins_edit_topic_trees(app, client, tree, role):
    maths, gcse, topics = tree
    person = factories.user(role)
    login(client, person.email, factories.PASSWORD)
    assert client.get(f"/admin/topics/{maths.id}/{gcse.id}").status_code == 403
    token = csrf_from(client.get("/account").get_data(as_text=True)) if role != "support" else \
        csrf_from(client.get("/admin/").get_data(as_text=True))
    assert client.post(f"/admin/topics/{topics['fractions'].id}/rename",
                       data={"csrf_token": token, "name": "Hacked"}).status_code == 403
    db.session.rollback()
    assert db.session.get(Topic, topics["fractions"].id).name == "Fractions"
