"""The tutor's lesson list shows, under each upcoming lesson, its learners' topics still weak from homework."""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from tests import factories
from tests.conftest import login
from webapp.extensions import db
from webapp.services import curriculum, homework


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
