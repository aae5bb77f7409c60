"""The tutor's lesson list shows, under each upcoming lesson, its learners' topics still weak from homework."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.models import HomeworkSet, Topic
from webapp.services import curriculum, homework, notes


def test_upcoming_lessons_show_each_learners_weak_topics(app, client):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    tutor, teach = factories.tutor()
    student, other = factories.user("student", name="Sam Weak"), factories.user("student", name="Olu Strong")
    past = factories.finished_lesson(tutor, teach, booker=student)
    factories.weak_topic(past, "fractions")
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    upcoming = factories.lesson_at(soon, teacher=tutor, teach=teach, booker=student)
    factories.lesson_at(soon + timedelta(hours=2), teacher=tutor, teach=teach, booker=other)
    login(client, tutor.email, factories.PASSWORD)
    page = html.unescape(client.get("/tutor/").get_data(as_text=True))
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    sam = next(r for r in rows if "Sam Weak" in r)
    olu = next(r for r in rows if "Olu Strong" in r)
    line = re.search(r'<p class="weak-topics"[^>]*>(.*?)</p>', sam, re.S).group(1)
    assert "Weak topics:" in line and "Fractions" in line and "attempted" in line
    assert f"/lessons/{upcoming.id}/homework#agenda" in line
    assert "weak-topics" not in olu  # no homework yet: no line


def test_the_list_reads_weak_topics_in_one_query_whatever_the_number_of_lessons(app, client):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    tutor, teach = factories.tutor()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    lessons = [factories.lesson_at(start + timedelta(hours=2 * n), teacher=tutor, teach=teach) for n in range(6)]
    from sqlalchemy import event
    statements = []

    def count(*args):
        statements.append(args[2])
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        homework.weak_topics_by_lesson(lessons)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "topic_mastery" in s]) == 1


def _blocks(page: str, css_class: str) -> dict[str, str]:
    """Each learner's block of an agenda, by its data-learner key."""
    return dict(re.findall(rf'<(?:div|p) class="{css_class}" data-learner="([^"]+)">(.*?)</(?:div|p)>', page, re.S))


def test_two_learners_with_one_name_keep_their_own_weak_topics_on_every_agenda(app, client):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    tutor, teach = factories.tutor()
    # A group lesson with two students called the same.
    sam, other_sam = factories.user("student", name="Sam Same"), factories.user("student", name="Sam Same")
    group = factories.finished_lesson(tutor, teach, booker=sam)
    group.students.append(other_sam)
    db.session.commit()
    now = datetime.now(UTC)
    topic_id = {t.slug: t.id for t in db.session.scalars(select(Topic))}
    notes.save_note(tutor, group.id, "Fractions and Pythagoras.", [], now, covered=[], errors=[
        homework.ErrorInput(topic_id["fractions"], "Added denominators", ""),
        homework.ErrorInput(topic_id["pythagoras"], "Subtracted squares", "")])
    sets = {s.answerer_id: s for s in db.session.scalars(select(HomeworkSet).where(HomeworkSet.lesson_id == group.id))}
    for person, slug in ((sam, "fractions"), (other_sam, "pythagoras")):
        homework.publish(tutor, sets[person.id].id, now)
        db.session.commit()
        _answer_wrong(person, sets[person.id], slug)
    # Two children named alike (two families: one parent cannot add a second child of the same name), each in a
    # lesson with this tutor.
    robin = factories.child(factories.user("parent"), "Robin")
    other_robin = factories.child(factories.user("parent"), "Robin")
    factories.weak_topic(factories.finished_lesson(tutor, teach, for_child=robin, ended_ago=timedelta(days=3)),
                         "ratio")
    factories.weak_topic(factories.finished_lesson(tutor, teach, for_child=other_robin,
                                                   ended_ago=timedelta(days=4)), "indices")
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    upcoming_robin = factories.lesson_at(soon, teacher=tutor, teach=teach, for_child=robin)
    upcoming_other = factories.lesson_at(soon + timedelta(hours=2), teacher=tutor, teach=teach, for_child=other_robin)
    login(client, tutor.email, factories.PASSWORD)

    # The homework page and the lesson room's agenda: one block per person, each with their own topic.
    for url in (f"/lessons/{group.id}/homework", f"/lessons/{group.id}/agenda"):
        page = html.unescape(client.get(url).get_data(as_text=True))
        blocks = _blocks(page, "agenda-learner")
        assert set(blocks) == {f"u{sam.id}", f"u{other_sam.id}"}, url
        assert "Fractions" in blocks[f"u{sam.id}"] and "Pythagoras" not in blocks[f"u{sam.id}"]
        assert "Pythagoras' theorem" in blocks[f"u{other_sam.id}"] and "Fractions" not in blocks[f"u{other_sam.id}"]
    assert page.count("<h3>Sam Same</h3>") == 2  # the room's fragment: a heading per person, not one merged
    # The tutor's lesson list: each Robin's line is keyed by the child and shows that child's topic.
    page = html.unescape(client.get("/tutor/").get_data(as_text=True))
    lines = _blocks(page, "weak-topics")
    assert "Ratio" in lines[f"c{robin.id}"] and "Indices" not in lines[f"c{robin.id}"]
    assert "Indices" in lines[f"c{other_robin.id}"] and "Ratio" not in lines[f"c{other_robin.id}"]
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    assert f'data-learner="c{robin.id}"' in next(r for r in rows if f"/lessons/{upcoming_robin.id}/" in r)
    assert f'data-learner="c{other_robin.id}"' in next(r for r in rows if f"/lessons/{upcoming_other.id}/" in r)


def _answer_wrong(person, found, slug: str) -> None:
    entry = next(e for e in found.entries if e.item.topic.slug == slug)
    item = entry.item
    wrong = str((int(item.answer) + 1) % len(item.choices)) if item.kind == "choice" else "12345"
    homework.answer(person, entry.id, wrong, datetime.now(UTC))
