"""Authoring the question bank one question at a time: the add/edit form's validation in words, who may edit what,
versions once a published set holds an item, and a tutor's edit of a draft set's question (marked as edited)."""
from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from webapp.extensions import db
from webapp.models import AuditEntry, HomeworkEntry, HomeworkSet, QuestionItem, Topic
from webapp.services import curriculum


@pytest.fixture
def bank(app):
    """The curriculum and question bank for the factories' subjects and levels."""
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    return {t.slug: t for t in db.session.scalars(select(Topic))}


def words(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def form(topic, **values) -> dict:
    data = {"kind": "numeric", "topic_id": str(topic), "difficulty": "1", "prompt": "What is 6 × 7?",
            "answer": "42", "tolerance": "0", "unit": "", "solution": "6 × 7 = 42.",
            **{f"choice_{i}": "" for i in range(6)}}
    data.update(values)
    return data


def post(client, url, data):
    page = client.get(url).get_data(as_text=True)
    return client.post(url, data={**data, "csrf_token": csrf_from(page)})


CHOICES = {"choice_0": "3", "choice_1": "4", "choice_2": "5"}

# (what the author typed, the field the message sits beside, words the message says)
INVALID = [
    ({"prompt": "  "}, "prompt", "Write the question."),
    ({"solution": ""}, "solution", "Write the worked solution"),
    ({"kind": "essay"}, "kind", "Pick the kind of question"),
    ({"difficulty": "7"}, "difficulty", "Difficulty is 1 (easier), 2 or 3"),
    ({"topic_id": ""}, "topic", "Pick the topic"),
    ({"answer": "forty-two"}, "answer", "plain number"),
    ({"answer": "12 cm"}, "answer", "plain number"),
    ({"answer": "nan"}, "answer", "plain number"),
    ({"tolerance": "-0.5"}, "tolerance", "cannot be negative"),
    ({"tolerance": "about 1"}, "tolerance", "The tolerance is a number"),
    ({"unit": "cm; DROP TABLE"}, "unit", "letters, /, ^ and digits only"),
    ({"kind": "choice", "answer": "", **CHOICES}, "correct", "Mark exactly one choice as the correct one."),
    ({"kind": "choice", "choice_0": "only one", "correct": "0"}, "choices", "at least two choices"),
    ({"kind": "choice", "choice_0": "4", "choice_1": "4", "correct": "0"}, "choices", "Two choices say the same"),
    ({"kind": "choice", **CHOICES, "correct": "4"}, "correct", "The choice marked correct is empty"),
    ({"kind": "algebra", "answer": ""}, "answer", "Write the answer as an expression"),
    ({"kind": "algebra", "answer": "__import__('os')"}, "answer", "The marker cannot read this answer"),
    ({"kind": "algebra", "answer": "2^2^2"}, "answer", "A power of a power"),
    ({"kind": "algebra", "answer": "sin(x) + 1"}, "answer", "is not needed in these answers"),
    ({"kind": "algebra", "answer": "(x + 1"}, "answer", "The brackets do not match"),
    ({"kind": "algebra", "answer": "x +"}, "answer", "something is missing"),
    ({"kind": "algebra", "answer": "1 1/15"}, "answer", "Two numbers side by side"),  # was stored as 1 × 1/15
    ({"kind": "algebra", "answer": "1/0"}, "answer", "cannot compare answers with this expression"),
]


@pytest.mark.parametrize("typed, field, message", INVALID, ids=[f"{r[1]}-{n}" for n, r in enumerate(INVALID)])
def test_the_question_form_refuses_bad_input_in_words_beside_the_field(app, client, bank, typed, field, message):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    before = db.session.query(QuestionItem).count()
    response = post(client, "/question-bank/items/new", form(bank["fractions"].id, **typed))
    assert response.status_code == 422
    page = words(response)
    assert f'id="{field}-error"' in page and message in page.split(f'id="{field}-error"')[1][:400]
    db.session.rollback()
    assert db.session.query(QuestionItem).count() == before


@pytest.mark.parametrize("typed, stored", [
    ({"answer": "12.5", "tolerance": "0.05", "unit": "cm"}, ("numeric", "12.5", 0.05, "cm", [])),
    ({"answer": "−3", "tolerance": ""}, ("numeric", "-3", 0.0, "", [])),
    ({"kind": "choice", "answer": "", "choice_0": "3", "choice_2": "4", "correct": "2"}, ("choice", "1", 0.0, "",
                                                                                        ["3", "4"])),
    ({"kind": "algebra", "answer": "3x^2 + 2x - 1"}, ("algebra", "3x^2 + 2x - 1", 0.0, "", [])),
])
def test_a_tutor_adds_a_question_of_each_kind_as_their_own(app, client, bank, typed, stored):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    response = post(client, "/question-bank/items/new", form(bank["fractions"].id, **typed))
    assert response.status_code == 303
    item = db.session.scalar(select(QuestionItem).where(QuestionItem.created_by_id == tutor.id))
    assert (item.kind, item.answer, item.tolerance, item.unit, item.choices) == stored
    assert item.owner_id == tutor.id and item.version == 1 and item.topic_id == bank["fractions"].id


def test_a_tutor_edits_only_their_own_questions_and_copies_the_banks(app, client, bank):
    tutor, _ = factories.tutor()
    other, _ = factories.tutor()
    shared = db.session.scalar(select(QuestionItem).where(QuestionItem.kind == "numeric").limit(1))
    theirs = QuestionItem(topic_id=shared.topic_id, kind="numeric", prompt="Other's", answer="1", solution="1",
                          owner_id=other.id, created_by_id=other.id)
    db.session.add(theirs)
    db.session.commit()
    shared_id, theirs_id, shared_prompt = shared.id, theirs.id, shared.prompt
    login(client, tutor.email, factories.PASSWORD)

    refused = client.get(f"/question-bank/items/{shared_id}/edit")
    assert refused.status_code == 403 and "copy it to make your own" in words(refused)
    token = csrf_from(client.get("/question-bank/items").get_data(as_text=True))
    assert client.post(f"/question-bank/items/{shared_id}/edit",
                       data=form(shared.topic_id, csrf_token=token)).status_code == 403
    # Another tutor's question is not even visible: editing or copying it is a 404.
    assert client.get(f"/question-bank/items/{theirs_id}/edit").status_code == 404
    assert client.post(f"/question-bank/items/{theirs_id}/copy", data={"csrf_token": token}).status_code == 404
    assert "Other's" not in words(client.get("/question-bank/items"))

    copied = client.post(f"/question-bank/items/{shared_id}/copy", data={"csrf_token": token})
    assert copied.status_code == 303
    copy = db.session.scalar(select(QuestionItem).where(QuestionItem.source_id == shared_id))
    assert copy.owner_id == tutor.id and copy.prompt == shared_prompt
    saved = post(client, f"/question-bank/items/{copy.id}/edit", form(copy.topic_id, prompt="My wording"))
    assert saved.status_code == 303
    db.session.rollback()
    assert db.session.get(QuestionItem, copy.id).prompt == "My wording"
    assert db.session.get(QuestionItem, shared_id).prompt == shared_prompt

    # A student may not author at all.
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert client.get("/question-bank/items/new").status_code == 403


def test_an_admin_edits_a_shared_question_audited_and_a_template_item_becomes_a_new_version(app, client, bank):
    admin = factories.user("admin")
    item = db.session.scalar(select(QuestionItem).where(QuestionItem.template.is_not(None),
                                                        QuestionItem.kind == "numeric").limit(1))
    item_id, topic_id = item.id, item.topic_id
    login(client, admin.email, factories.PASSWORD)
    response = post(client, f"/question-bank/items/{item_id}/edit", form(topic_id, prompt="Clearer wording",
                                                                         answer="7", tolerance="0.5"))
    assert response.status_code == 303
    db.session.rollback()
    old = db.session.get(QuestionItem, item_id)
    new = db.session.scalar(select(QuestionItem).where(QuestionItem.previous_id == item_id))
    # The template's variant stays as it was (so it still regenerates exactly) and is retired; the edit is version 2.
    assert not old.active and old.template is not None and curriculum.regenerate(old)["prompt"] == old.prompt
    assert (new.version, new.prompt, new.answer, new.tolerance, new.owner_id) == (2, "Clearer wording", "7", 0.5,
                                                                                  None)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "question.edit"))
    assert entry.actor_id == admin.id and entry.target_id == item_id and entry.after["version"] == 2
    # Seeding again does not bring the edited variant back.
    assert curriculum.seed_curriculum()[1] == 0


def _published_lesson(client, bank):
    """A lesson whose note records a Fractions mistake; the tutor publishes the drafted set."""
    from tests.integration.test_homework import post_note
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Fractions.", errors=[(bank["fractions"].id, "Added the denominators", "")])
    draft = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
    return lesson, draft


def test_editing_an_answered_question_makes_a_new_version_and_the_answer_keeps_the_old(app, client, bank):
    lesson, draft = _published_lesson(client, bank)
    tutor, student = lesson.tutor, lesson.students[0]
    entry = draft.entries[0]
    # The tutor's own copy of the entry's question stands in the set, then the set is published and answered.
    mine = QuestionItem(topic_id=entry.item.topic_id, kind="numeric", prompt="What is 2 + 2?", answer="4",
                        solution="4.", owner_id=tutor.id, created_by_id=tutor.id)
    db.session.add(mine)
    db.session.flush()
    entry.item_id = mine.id
    db.session.commit()
    entry_id, mine_id = entry.id, mine.id
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)})
    # A second lesson's draft also holds it (not yet published).
    other_set = HomeworkSet(lesson_id=lesson.id, learner_key="u999999", learner_name="Other", answerer_id=tutor.id,
                            seed=1, state="draft")
    other_set.entries.append(HomeworkEntry(item_id=mine_id, position=1, reason="covered"))
    db.session.add(other_set)
    db.session.commit()
    other_entry_id = other_set.entries[0].id

    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    answered = client.post(f"/homework/entries/{entry_id}/answer", data={"csrf_token": csrf_from(page),
                                                                          "response": "4"}, follow_redirects=True)
    assert "Right" in words(answered)

    login(client, tutor.email, factories.PASSWORD)
    saved = post(client, f"/question-bank/items/{mine_id}/edit",
                 form(mine.topic_id, prompt="What is 2 + 3?", answer="5", solution="5."))
    assert saved.status_code == 303
    assert "Saved as version 2" in words(client.get("/question-bank/items?mine=1"))
    db.session.rollback()
    old, new = db.session.get(QuestionItem, mine_id), db.session.scalar(
        select(QuestionItem).where(QuestionItem.previous_id == mine_id))
    assert (old.prompt, old.answer, old.active) == ("What is 2 + 2?", "4", False)
    assert (new.prompt, new.answer, new.version, new.owner_id) == ("What is 2 + 3?", "5", 2, tutor.id)
    answered_entry = db.session.get(HomeworkEntry, entry_id)
    assert answered_entry.item_id == mine_id and answered_entry.correct is True  # still the question it was marked on
    assert db.session.get(HomeworkEntry, other_entry_id).item_id == new.id  # the draft takes the new version
    # The old version can no longer be edited; the newest can.
    assert client.get(f"/question-bank/items/{mine_id}/edit").status_code == 409
    assert client.get(f"/question-bank/items/{new.id}/edit").status_code == 200


def test_an_unpublished_own_question_is_edited_in_place(app, client, bank):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    post(client, "/question-bank/items/new", form(bank["ratio"].id))
    item = db.session.scalar(select(QuestionItem).where(QuestionItem.owner_id == tutor.id))
    item_id = item.id
    assert post(client, f"/question-bank/items/{item_id}/edit", form(bank["ratio"].id, answer="43")).status_code == 303
    db.session.rollback()
    assert db.session.get(QuestionItem, item_id).answer == "43"
    assert db.session.query(QuestionItem).filter(QuestionItem.owner_id == tutor.id).count() == 1


def test_the_tutor_edits_a_draft_sets_question_and_the_student_is_marked_on_the_edit(app, client, bank):
    lesson, draft = _published_lesson(client, bank)
    entry = draft.entries[0]
    bank_item_id, entry_id, topic_id = entry.item_id, entry.id, entry.item.topic_id
    bank_before = (entry.item.prompt, entry.item.answer)
    url = f"/homework/{draft.id}/entries/{entry_id}/edit"
    assert "Save for this set" in words(client.get(url))
    bad = post(client, url, form(topic_id, answer="ten"))
    assert bad.status_code == 422 and "plain number" in words(bad)
    saved = post(client, url, form(topic_id, prompt="What is 1000 - 1?", answer="999", solution="1000 - 1 = 999."))
    assert saved.status_code == 303
    # Editing again changes the same copy, not a second one.
    post(client, url, form(topic_id, prompt="What is 1000 - 2?", answer="998", solution="1000 - 2 = 998."))
    db.session.rollback()
    edited = db.session.get(HomeworkEntry, entry_id).item
    assert (edited.prompt, edited.answer, edited.owner_id, edited.source_id) == (
        "What is 1000 - 2?", "998", lesson.tutor.id, bank_item_id)
    assert db.session.query(QuestionItem).filter(QuestionItem.source_id == bank_item_id).count() == 1
    bank_item = db.session.get(QuestionItem, bank_item_id)
    assert (bank_item.prompt, bank_item.answer) == bank_before and bank_item.owner_id is None

    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)})
    assert post(client, url, form(topic_id)).status_code == 409  # published: no more edits
    login(client, lesson.students[0].email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework")
    assert "What is 1000 - 2?" in words(page)
    response = client.post(f"/homework/entries/{entry_id}/answer",
                           data={"csrf_token": csrf_from(page.get_data(as_text=True)), "response": "998"},
                           follow_redirects=True)
    assert "Right" in words(response)


def test_another_tutor_cannot_edit_a_draft_sets_question(app, client, bank):
    lesson, draft = _published_lesson(client, bank)
    entry = draft.entries[0]
    stranger, _ = factories.tutor()
    login(client, stranger.email, factories.PASSWORD)
    assert client.get(f"/homework/{draft.id}/entries/{entry.id}/edit").status_code == 404


def test_a_tutors_own_questions_are_drawn_only_for_their_own_lessons(app, client, bank):
    other, _ = factories.tutor()
    topic = bank["fractions"]
    for n in range(40):
        db.session.add(QuestionItem(topic_id=topic.id, kind="numeric", prompt=f"Private {n}", answer="1",
                                    solution="1", owner_id=other.id, created_by_id=other.id))
    db.session.commit()
    lesson, draft = _published_lesson(client, bank)
    assert draft.entries and all(e.item.owner_id in (None, lesson.tutor.id) for e in draft.entries)
    # Nor are they counted on another tutor's bank page, or exported to them.
    shared = db.session.query(QuestionItem).filter(QuestionItem.owner_id.is_(None), QuestionItem.active.is_(True),
                                                   QuestionItem.topic.has(level_id=topic.level_id)).count()
    [shelf] = [s for s in curriculum.bank_shelves(lesson.tutor) if s.level_id == topic.level_id
               and s.subject_id == topic.subject_id]
    assert shelf.items == shared
    assert [s.items for s in curriculum.bank_shelves(other) if s.level_id == topic.level_id
            and s.subject_id == topic.subject_id] == [shared + 40]
    assert "Private 1" not in curriculum.export_gift(lesson.tutor, topic.subject_id, topic.level_id)


def test_the_tutor_adds_only_their_own_question_to_a_draft_set(app, client, bank):
    lesson, draft = _published_lesson(client, bank)
    tutor = lesson.tutor
    other, _ = factories.tutor()
    mine = QuestionItem(topic_id=bank["ratio"].id, kind="numeric", prompt="Share 10 in the ratio 2:3: larger part?",
                        answer="6", solution="10 ÷ 5 × 3 = 6.", owner_id=tutor.id, created_by_id=tutor.id)
    theirs = QuestionItem(topic_id=bank["ratio"].id, kind="numeric", prompt="Theirs", answer="1", solution="1",
                          owner_id=other.id, created_by_id=other.id)
    db.session.add_all([mine, theirs])
    db.session.commit()
    mine_id, theirs_id, count = mine.id, theirs.id, len(draft.entries)
    page = client.get(f"/lessons/{lesson.id}/homework")
    assert "Add one of my questions" in words(page) and "Share 10 in the ratio" in words(page)
    token = csrf_from(page.get_data(as_text=True))
    client.post(f"/homework/{draft.id}/entries", data={"csrf_token": token, "item_id": str(theirs_id)})
    again = client.post(f"/homework/{draft.id}/entries", data={"csrf_token": token, "item_id": str(mine_id)})
    assert again.status_code == 303
    twice = client.post(f"/homework/{draft.id}/entries", data={"csrf_token": token, "item_id": str(mine_id)},
                        follow_redirects=True)
    assert "already in the set" in words(twice)
    db.session.rollback()
    entries = db.session.get(HomeworkSet, draft.id).entries
    assert len(entries) == count + 1 and entries[-1].item_id == mine_id and entries[-1].reason == "added"


def test_a_draft_sets_edit_stays_private_to_that_set_unless_the_tutor_saves_it_to_their_questions(app, client, bank):
    from webapp.services import question_bank
    lesson, draft = _published_lesson(client, bank)
    tutor = lesson.tutor
    first, second = draft.entries[0], draft.entries[1]
    first_url, second_url = (f"/homework/{draft.id}/entries/{e.id}/edit" for e in (first, second))
    topic_id, first_id, second_id = first.item.topic_id, first.id, second.id
    assert "Also save to my questions" in words(client.get(first_url))
    assert post(client, first_url, form(topic_id, prompt="Set-only wording: 1/2 + 1/4?", answer="0.75",
                                        solution="2/4 + 1/4 = 3/4.")).status_code == 303
    db.session.rollback()
    local = db.session.get(HomeworkEntry, first_id).item
    local_id = local.id
    assert local.local_to_set_id == draft.id and local.owner_id == tutor.id
    # Not in the tutor's bank: their list, the page's "add one of my questions", counts, exports, the generator.
    assert "Set-only wording" not in words(client.get("/question-bank/items?mine=1"))
    assert client.get(f"/question-bank/items/{local_id}/edit").status_code == 404
    assert question_bank.count_own(tutor) == 0
    # Nor does it count as a question the tutor already has when they add the same one to their bank.
    assert question_bank.identical_item(tutor.id, topic_id, dict(
        kind=local.kind, prompt=local.prompt, answer=local.answer, tolerance=local.tolerance, unit=local.unit,
        choices=list(local.choices or []), solution=local.solution, difficulty=local.difficulty)) is None
    assert "Set-only wording" not in curriculum.export_gift(tutor, lesson.subject_id, lesson.level_id)
    assert local_id not in set(db.session.scalars(select(QuestionItem.id).where(
        question_bank.usable_in_lessons_of(tutor.id))))
    page = words(client.get(f"/lessons/{lesson.id}/homework"))
    assert "Add one of my questions" not in page and page.count("Set-only wording") == 1  # shown in its set only

    # Ticked, an edit is kept among the tutor's own questions too (and a set-local edit is promoted in place).
    assert post(client, second_url, form(topic_id, prompt="Keep this one: 1/3 + 1/3?", answer="0.667",
                                         tolerance="0.001", solution="2/3.", save_to_bank="1")).status_code == 303
    assert post(client, first_url, form(topic_id, prompt="Now kept: 1/2 + 1/4?", answer="0.75",
                                        solution="3/4.", save_to_bank="1")).status_code == 303
    db.session.rollback()
    kept = db.session.get(HomeworkEntry, second_id).item
    assert kept.local_to_set_id is None and kept.owner_id == tutor.id
    promoted = db.session.get(HomeworkEntry, first_id).item
    assert promoted.id == local_id and promoted.local_to_set_id is None and promoted.prompt == "Now kept: 1/2 + 1/4?"
    mine = words(client.get("/question-bank/items?mine=1"))
    assert "Keep this one" in mine and "Now kept" in mine and question_bank.count_own(tutor) == 2
    # The same form sent again (a double click, or Back and resubmit) keeps one copy, not two.
    assert post(client, second_url, form(topic_id, prompt="Keep this one: 1/3 + 1/3?", answer="0.667",
                                         tolerance="0.001", solution="2/3.", save_to_bank="1")).status_code == 303
    db.session.rollback()
    assert question_bank.count_own(tutor) == 2 and db.session.get(HomeworkEntry, second_id).item_id == kept.id
    # Editing a kept question again from the set makes a set-local copy: the tutor's bank item is not changed.
    assert post(client, second_url, form(topic_id, prompt="Only here now", answer="0.667", tolerance="0.001",
                                         solution="2/3.")).status_code == 303
    db.session.rollback()
    assert db.session.get(QuestionItem, kept.id).prompt == "Keep this one: 1/3 + 1/3?"
    assert db.session.get(HomeworkEntry, second_id).item.local_to_set_id == draft.id


def test_an_edited_question_keeps_its_wording_in_published_sets_and_drafts_take_the_new_version(app, client, bank):
    lesson, draft = _published_lesson(client, bank)
    tutor, student = lesson.tutor, lesson.students[0]
    mine = QuestionItem(topic_id=bank["fractions"].id, kind="numeric", prompt="Old wording: 1/2 of 10?", answer="5",
                        solution="10 ÷ 2 = 5.", owner_id=tutor.id, created_by_id=tutor.id)
    db.session.add(mine)
    db.session.flush()
    draft.entries[0].item_id = mine.id
    # A second learner's draft holds the same question, and a set-local edit of it stands in a third.
    later = HomeworkSet(lesson_id=lesson.id, learner_key="u999998", learner_name="Later", answerer_id=tutor.id,
                        seed=1, state="draft")
    later.entries.append(HomeworkEntry(item_id=mine.id, position=1, reason="covered"))
    edited = HomeworkSet(lesson_id=lesson.id, learner_key="u999997", learner_name="Edited", answerer_id=tutor.id,
                         seed=2, state="draft")
    db.session.add_all([later, edited])
    db.session.flush()
    local = QuestionItem(topic_id=mine.topic_id, kind="numeric", prompt="The tutor's own wording for this set",
                         answer="5", solution="5.", owner_id=tutor.id, created_by_id=tutor.id, source_id=mine.id,
                         local_to_set_id=edited.id)
    db.session.add(local)
    db.session.flush()
    edited.entries.append(HomeworkEntry(item_id=local.id, position=1, reason="covered"))
    db.session.commit()
    mine_id, later_id, edited_id, local_id = mine.id, later.id, edited.id, local.id
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)})

    assert post(client, f"/question-bank/items/{mine_id}/edit",
                form(bank["fractions"].id, prompt="New wording: half of 10?", answer="5",
                     solution="10 ÷ 2 = 5.")).status_code == 303
    db.session.rollback()
    new = db.session.scalar(select(QuestionItem).where(QuestionItem.previous_id == mine_id))
    # The published set still shows (and marks against) the wording the student saw.
    login(client, student.email, factories.PASSWORD)
    shown = words(client.get(f"/lessons/{lesson.id}/homework"))
    assert "Old wording: 1/2 of 10?" in shown and "New wording" not in shown
    # A draft takes the new version; a draft holding the tutor's set-local edit keeps that edit.
    assert [e.item_id for e in db.session.get(HomeworkSet, later_id).entries] == [new.id]
    assert [e.item_id for e in db.session.get(HomeworkSet, edited_id).entries] == [local_id]
