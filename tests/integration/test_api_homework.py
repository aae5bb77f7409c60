"""Homework over the JSON API: a note's topics and mistakes (checked as the form checks them), the sets a learner
answers, questions without answers until answered, answering with immediate marking, and the tutor's agenda; every
object only for those it belongs to."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from webapp.extensions import db
from webapp.models import HomeworkEntry, HomeworkSet, NoteError, Topic
from webapp.services import accounts, curriculum, homework
from webapp.views.common import now_utc


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {accounts.issue_api_token(user)[0]}"}


@pytest.fixture
def lesson(app):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    return factories.finished_lesson()


def topic(slug: str) -> int:
    return db.session.scalar(select(Topic.id).where(Topic.slug == slug))


def write_note(client, lesson, **extra):
    return client.post("/api/v1/notes", headers=bearer(lesson.tutor),
                       json={"lesson_id": lesson.id, "body": "Fractions and Pythagoras.", **extra})


def test_a_note_with_topics_and_mistakes_drafts_homework_and_reads_back(client, lesson):
    topics = client.get(f"/api/v1/lessons/{lesson.id}/topics", headers=bearer(lesson.tutor)).get_json()["topics"]
    assert {"Fractions", "Pythagoras' theorem"} <= {t["name"] for t in topics} and all(t["strand"] for t in topics)
    response = write_note(client, lesson, topics=[topic("ratio")], errors=[
        {"topic_id": topic("fractions"), "what_went_wrong": "Added the denominators", "wrong_answer": "2/7"},
        {"topic_id": topic("pythagoras"), "what_went_wrong": "Subtracted the squares"}])
    assert response.status_code == 201, response.get_json()
    note = response.get_json()
    assert [e["topic"]["name"] for e in note["errors"]] == ["Fractions", "Pythagoras' theorem"]
    assert note["errors"][0]["wrong_answer"] == "2/7"
    assert {t["name"] for t in note["topics"]} == {"Ratio", "Fractions", "Pythagoras' theorem"}
    draft = db.session.scalar(select(HomeworkSet))
    assert draft.state == "draft" and len(draft.entries) == 8
    # The learner reads the same note, with its topics and mistakes.
    read = client.get(f"/api/v1/notes/{lesson.id}", headers=bearer(lesson.students[0])).get_json()
    assert read["errors"] == note["errors"]
    # An edit without topics or errors keeps what was recorded.
    assert write_note(client, lesson, body="Edited.").status_code == 200
    assert db.session.scalar(select(NoteError.what_went_wrong).order_by(NoteError.id)) == "Added the denominators"


@pytest.mark.parametrize("extra, field", [
    ({"errors": [{"topic_id": 999999, "what_went_wrong": "x"}]}, "errors"),
    ({"errors": [{"topic_id": "fractions", "what_went_wrong": " "}]}, "errors"),
    ({"topics": [999999]}, "topics"),
    ({"errors": [{"topic_id": "fractions", "what_went_wrong": "x" * 501}]}, "errors"),
    ({"errors": [{"topic_id": "fractions", "what_went_wrong": "x"}] * 11}, "errors"),
])
def test_bad_topics_or_mistakes_are_a_422_that_says_which_field(client, lesson, extra, field):
    for error in extra.get("errors", []):
        if error["topic_id"] == "fractions":
            error["topic_id"] = topic("fractions")
    response = write_note(client, lesson, **extra)
    assert response.status_code == 422
    body = response.get_json()["error"]
    assert body["message"].strip() and any(key.startswith(field) for key in body.get("fields", {})), body
    assert db.session.scalar(select(HomeworkSet)) is None


def test_a_topic_of_another_subject_is_refused_like_the_form_refuses_it(client, lesson):
    factories.subject("Physics")
    curriculum.seed_curriculum()
    response = write_note(client, lesson, errors=[{"topic_id": topic("apl-shm"), "what_went_wrong": "Period"}])
    assert response.status_code == 422 and "topic" in response.get_json()["error"]["message"].lower()


def test_the_learner_answers_through_the_api_with_answers_hidden_until_answered(client, lesson):
    student, tutor = lesson.students[0], lesson.tutor
    write_note(client, lesson, errors=[{"topic_id": topic("ratio"), "what_went_wrong": "Shared by the wrong total"},
                                       {"topic_id": topic("fractions"), "what_went_wrong": "Added denominators"}])
    draft = db.session.scalar(select(HomeworkSet))
    # A draft is the tutor's alone.
    assert client.get("/api/v1/homework", headers=bearer(student)).get_json() == {"sets": []}
    assert client.get(f"/api/v1/homework/{draft.id}", headers=bearer(student)).status_code == 404
    tutor_view = client.get(f"/api/v1/homework/{draft.id}", headers=bearer(tutor)).get_json()
    assert tutor_view["state"] == "draft" and all(q["answer"] is not None for q in tutor_view["items"])
    homework.publish(tutor, draft.id, now_utc())
    db.session.commit()

    [listed] = client.get("/api/v1/homework", headers=bearer(student)).get_json()["sets"]
    assert (listed["id"], listed["questions"], listed["answered"]) == (draft.id, 8, 0)
    shown = client.get(f"/api/v1/homework/{draft.id}", headers=bearer(student)).get_json()
    assert all(q["answer"] is None and q["solution"] is None and not q["answered"] for q in shown["items"])
    # A numeric or choice question to answer right: algebra is checked by sympy in a child process with a time
    # limit, which a machine loaded by other work can overrun (the answer is then marked wrong, with a message).
    first = next(q for q in shown["items"] if q["kind"] != "algebra")
    second = next(q for q in shown["items"] if q["id"] != first["id"])
    entry = db.session.get(HomeworkEntry, first["id"])
    right = client.post(f"/api/v1/homework/questions/{first['id']}/answer", headers=bearer(student),
                        json={"response": entry.item.answer})
    assert right.status_code == 200
    marked = right.get_json()
    assert marked["correct"] is True and marked["question"]["solution"] == entry.item.solution
    again = client.post(f"/api/v1/homework/questions/{first['id']}/answer", headers=bearer(student),
                        json={"response": entry.item.answer})
    assert again.status_code == 409 and "already answered" in again.get_json()["error"]["message"]
    unreadable = client.post(f"/api/v1/homework/questions/{second['id']}/answer", headers=bearer(student),
                             json={"response": "__import__('os')"})
    assert unreadable.status_code == 422 and unreadable.get_json()["error"]["message"]
    shown = {q["id"]: q for q in client.get(f"/api/v1/homework/{draft.id}", headers=bearer(student)).get_json()[
        "items"]}
    assert shown[first["id"]]["answer"] == entry.item.answer and shown[second["id"]]["answer"] is None
    shown = client.get(f"/api/v1/homework/{draft.id}", headers=bearer(student)).get_json()
    assert (shown["answered"], shown["right"]) == (1, 1)


def test_strangers_get_404_and_a_learner_gets_403_on_the_agenda(client, lesson):
    student, tutor = lesson.students[0], lesson.tutor
    stranger, other_tutor = factories.user("student"), factories.tutor()[0]
    write_note(client, lesson, errors=[{"topic_id": topic("fractions"), "what_went_wrong": "Added denominators"}])
    draft = db.session.scalar(select(HomeworkSet))
    homework.publish(tutor, draft.id, now_utc())
    db.session.commit()
    entry_id = draft.entries[0].id
    for outsider in (stranger, other_tutor):
        assert client.get(f"/api/v1/homework/{draft.id}", headers=bearer(outsider)).status_code == 404
        assert client.post(f"/api/v1/homework/questions/{entry_id}/answer", headers=bearer(outsider),
                           json={"response": "1"}).status_code == 404
        assert client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=bearer(outsider)).status_code == 404
        assert client.get(f"/api/v1/lessons/{lesson.id}/topics", headers=bearer(outsider)).status_code == 404
        assert client.get("/api/v1/homework", headers=bearer(outsider)).get_json() == {"sets": []}
    # The tutor does not answer the learner's homework.
    assert client.post(f"/api/v1/homework/questions/{entry_id}/answer", headers=bearer(tutor),
                       json={"response": "1"}).status_code == 404
    forbidden = client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=bearer(student))
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["message"]


def test_the_agenda_lists_the_topics_a_wrong_answer_left_weak(client, lesson):
    student, tutor = lesson.students[0], lesson.tutor
    write_note(client, lesson, errors=[{"topic_id": topic("fractions"), "what_went_wrong": "Added denominators"}])
    draft = db.session.scalar(select(HomeworkSet))
    homework.publish(tutor, draft.id, now_utc())
    db.session.commit()
    assert client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=bearer(tutor)).get_json()["learners"] == [
        {"student_id": student.id, "child_id": None, "name": student.name, "weak_topics": []}]
    fractions = next(e for e in draft.entries if e.item.topic_id == topic("fractions"))
    wrong = "0" if fractions.item.kind == "choice" and fractions.item.answer != "0" else "12345"
    client.post(f"/api/v1/homework/questions/{fractions.id}/answer", headers=bearer(student), json={"response": wrong})
    agenda = client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=bearer(tutor)).get_json()
    assert agenda["learners"][0]["weak_topics"][0] == {"topic": "Fractions", "mastery": "attempted"}


def wrong_answer(entry) -> str:
    return "0" if entry.item.kind == "choice" and entry.item.answer != "0" else "12345"


def test_two_learners_with_one_name_in_a_lesson_keep_their_own_agendas(client, lesson):
    first, tutor = lesson.students[0], lesson.tutor
    twin = factories.user("student", name=first.name)  # same name, another person, in the same (group) lesson
    lesson.students.append(twin)
    db.session.commit()
    write_note(client, lesson, errors=[{"topic_id": topic("fractions"), "what_went_wrong": "Added denominators"},
                                       {"topic_id": topic("pythagoras"), "what_went_wrong": "Subtracted squares"}])
    sets = {s.answerer_id: s for s in db.session.scalars(select(HomeworkSet))}
    assert set(sets) == {first.id, twin.id}
    for person, slug in ((first, "fractions"), (twin, "pythagoras")):
        homework.publish(tutor, sets[person.id].id, now_utc())
        db.session.commit()
        entry = next(e for e in sets[person.id].entries if e.item.topic_id == topic(slug))
        assert client.post(f"/api/v1/homework/questions/{entry.id}/answer", headers=bearer(person),
                           json={"response": wrong_answer(entry)}).status_code == 200
    agenda = client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=bearer(tutor)).get_json()["learners"]
    assert agenda == [
        {"student_id": first.id, "child_id": None, "name": first.name,
         "weak_topics": [{"topic": "Fractions", "mastery": "attempted"}]},
        {"student_id": twin.id, "child_id": None, "name": first.name,
         "weak_topics": [{"topic": "Pythagoras' theorem", "mastery": "attempted"}]}]


def _published_set(client, lesson) -> HomeworkSet:
    """The lesson's learner's set, written from a note and published by its tutor (one learner per lesson here)."""
    write_note(client, lesson, errors=[{"topic_id": topic("fractions"), "what_went_wrong": "Added denominators"}])
    found = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
    homework.publish(lesson.tutor, found.id, now_utc())
    db.session.commit()
    return found


def test_a_parent_sees_which_child_each_set_is_for_and_never_another_parents_child(client, lesson):
    parent = factories.user("parent")
    robin, sam = factories.child(parent, "Robin"), factories.child(parent, "Sam")
    teacher = lesson.tutor
    robins = _published_set(client, factories.finished_lesson(teacher, for_child=robin, ended_ago=timedelta(days=3)))
    sams = _published_set(client, factories.finished_lesson(teacher, for_child=sam, ended_ago=timedelta(days=4)))
    other_parent = factories.user("parent")
    stranger_child = factories.child(other_parent, "Robin")  # the same name, someone else's child
    theirs = _published_set(client, factories.finished_lesson(teacher, for_child=stranger_child,
                                                              ended_ago=timedelta(days=5)))

    listed = client.get("/api/v1/homework", headers=bearer(parent)).get_json()["sets"]
    assert {s["id"]: s["learner"] for s in listed} == {
        robins.id: {"kind": "child", "id": robin.id, "name": "Robin"},
        sams.id: {"kind": "child", "id": sam.id, "name": "Sam"}}
    assert all(s["learner_name"] == s["learner"]["name"] for s in listed)
    one = client.get(f"/api/v1/homework/{sams.id}", headers=bearer(parent)).get_json()
    assert one["learner"] == {"kind": "child", "id": sam.id, "name": "Sam"}
    # The child ids are those GET /api/me lists for the parent.
    assert {c["id"] for c in client.get("/api/me", headers=bearer(parent)).get_json()["children"]} == {robin.id, sam.id}
    # Another parent's child's set: not listed, and 404 in words (its existence is not told).
    refused = client.get(f"/api/v1/homework/{theirs.id}", headers=bearer(parent))
    assert refused.status_code == 404 and "could not find that homework" in refused.get_json()["error"]["message"]
    entry_id = theirs.entries[0].id
    assert client.post(f"/api/v1/homework/questions/{entry_id}/answer", headers=bearer(parent),
                       json={"response": "1"}).status_code == 404
    assert [s["id"] for s in client.get("/api/v1/homework", headers=bearer(other_parent)).get_json()["sets"]] == [
        theirs.id]


def test_a_student_set_names_the_student_and_a_tutor_sees_only_their_own_students_sets(client, lesson):
    student = lesson.students[0]
    own = _published_set(client, lesson)
    other_tutor = factories.tutor()[0]
    elsewhere = _published_set(client, factories.finished_lesson(other_tutor))

    [mine] = client.get("/api/v1/homework", headers=bearer(student)).get_json()["sets"]
    assert mine["learner"] == {"kind": "student", "id": student.id, "name": student.name}
    tutors = client.get("/api/v1/homework", headers=bearer(lesson.tutor)).get_json()["sets"]
    assert [s["id"] for s in tutors] == [own.id] and tutors[0]["learner"]["id"] == student.id
    refused = client.get(f"/api/v1/homework/{elsewhere.id}", headers=bearer(lesson.tutor))
    assert refused.status_code == 404 and refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/homework/{own.id}", headers=bearer(other_tutor)).status_code == 404
    # The learner of one set never sees another learner's, even from the same tutor.
    assert client.get(f"/api/v1/homework/{elsewhere.id}", headers=bearer(student)).status_code == 404
    anonymous = client.get(f"/api/v1/homework/{own.id}")
    assert anonymous.status_code == 401 and "Authentication required" in anonymous.get_json()["error"]["message"]
    assert client.get("/api/v1/homework").status_code == 401
    assert client.get("/api/v1/homework/999999", headers=bearer(student)).status_code == 404
