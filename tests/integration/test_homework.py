"""Homework from a lesson: the note records topics and mistakes, a draft set is made, the tutor reviews and
publishes, the learner's side answers (marked at once) and mastery and the tutor's agenda move."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from, login
from webapp.extensions import db
from webapp.models import HomeworkEntry, HomeworkSet, NoteError, OutboxMessage, QuestionItem, Topic, TopicMastery
from webapp.services import curriculum


@pytest.fixture
def bank(app):
    """The curriculum and question bank for the factories' subjects and levels."""
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    return {t.slug: t for t in db.session.scalars(select(Topic))}


def words(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post_note(client, lesson_id, body, topics=(), errors=(), action=None):
    page = client.get(f"/lessons/{lesson_id}/notes").get_data(as_text=True)
    data = {"body": body, "csrf_token": csrf_from(page), "topics": [str(t) for t in topics],
            "error_topic": [str(e[0]) for e in errors] + [""], "error_what": [e[1] for e in errors] + [""],
            "error_wrong": [e[2] for e in errors] + [""]}
    if action:
        data["action"] = action
    return client.post(f"/lessons/{lesson_id}/notes", data=data, content_type="multipart/form-data")


def test_the_note_form_suggests_topics_from_the_text_without_saving(app, client, bank):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    page = words(post_note(client, lesson.id, "We practised Pythagoras on right-angled triangles and the "
                                               "hypotenuse, then simultaneous equations by elimination.",
                           action="suggest"))
    suggested = re.search(r'id="suggested-topics">(.*?)</div>', page, re.S).group(1)
    assert "Pythagoras' theorem" in suggested and "Simultaneous equations" in suggested
    assert db.session.scalar(select(HomeworkSet)) is None


def test_two_mistakes_make_a_draft_the_tutor_publishes_and_the_student_answers(app, client, bank):
    lesson = factories.finished_lesson()
    student, tutor = lesson.students[0], lesson.tutor
    login(client, tutor.email, factories.PASSWORD)
    fractions, pythagoras, ratio = bank["fractions"], bank["pythagoras"], bank["ratio"]
    response = post_note(client, lesson.id, "Fractions and Pythagoras today.", topics=[ratio.id],
                         errors=[(fractions.id, "Added the denominators", "2/7"),
                                 (pythagoras.id, "Subtracted instead of adding the squares", "")])
    assert response.status_code == 303
    assert [e.what_went_wrong for e in db.session.scalars(select(NoteError).order_by(NoteError.id))] == \
        ["Added the denominators", "Subtracted instead of adding the squares"]
    [draft] = db.session.scalars(select(HomeworkSet))
    assert draft.state == "draft" and draft.answerer_id == student.id
    topics = [e.item.topic_id for e in draft.entries]
    assert set(topics) <= {fractions.id, pythagoras.id, ratio.id}
    assert topics.count(fractions.id) + topics.count(pythagoras.id) > topics.count(ratio.id)

    # The student sees nothing while it is a draft.
    login(client, student.email, factories.PASSWORD)
    assert "No homework has been set" in words(client.get(f"/lessons/{lesson.id}/homework"))

    # The tutor removes one question and publishes; a double click publishes once and tells once.
    login(client, tutor.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    first = draft.entries[0]
    client.post(f"/homework/{draft.id}/entries/{first.id}/remove", data={"csrf_token": csrf_from(page)})
    for _ in range(2):
        assert client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)}).status_code == 303
    db.session.rollback()
    assert db.session.get(HomeworkSet, draft.id).state == "published"
    emails = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "homework_published")).all()
    pushes = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "HomeworkPublished")).all()
    assert [e.to_address for e in emails] == [student.email] and [p.user_id for p in pushes] == [student.id]

    # The student answers a Pythagoras question wrong and one right: marked at once, solution shown.
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    entries = db.session.scalars(select(HomeworkEntry).where(HomeworkEntry.set_id == draft.id)
                                 .order_by(HomeworkEntry.position)).all()
    pyth = [e for e in entries if e.item.topic_id == pythagoras.id]
    assert pyth, "a Pythagoras question is in the set"
    wrong = client.post(f"/homework/entries/{pyth[0].id}/answer",
                        data={"csrf_token": csrf_from(page), "response": "1"}, headers={"HX-Request": "true"})
    assert wrong.status_code == 200 and "Not quite" in words(wrong) and "Worked solution" in words(wrong)
    again = client.post(f"/homework/entries/{pyth[0].id}/answer", data={"csrf_token": csrf_from(page),
                                                                        "response": pyth[0].item.answer})
    assert again.status_code == 422 and "already answered" in words(again)
    other = next(e for e in entries if e.item.topic_id != pythagoras.id)
    right = client.post(f"/homework/entries/{other.id}/answer",
                        data={"csrf_token": csrf_from(page), "response": other.item.answer})
    # Without htmx the answer is recorded, then the page opens at the marked question (a reload sends nothing).
    assert right.status_code == 303 and right.headers["Location"].endswith(f"/lessons/{lesson.id}/homework#entry-"
                                                                           f"{other.id}")
    assert "Right" in words(client.get(right.headers["Location"]))
    db.session.rollback()
    levels = {m.topic_id: m.level for m in db.session.scalars(select(TopicMastery))}
    assert levels[pythagoras.id] == 1 and levels[other.item.topic_id] == 1

    # The tutor's agenda lists the weak topics.
    login(client, tutor.email, factories.PASSWORD)
    agenda = re.search(r'id="agenda"(.*?)</section>', words(client.get(f"/lessons/{lesson.id}/homework")), re.S)
    assert "Pythagoras' theorem" in agenda.group(1)
    # ...and so does the agenda the lesson room loads for the tutor (a learner may not read it).
    assert "Pythagoras' theorem" in words(client.get(f"/lessons/{lesson.id}/agenda"))
    room = client.get(f"/lessons/{lesson.id}/room")
    assert room.status_code == 200 and f'hx-get="/lessons/{lesson.id}/agenda"' in room.get_data(as_text=True)
    login(client, student.email, factories.PASSWORD)
    assert client.get(f"/lessons/{lesson.id}/agenda").status_code == 403


def _entry_ids(set_id: int) -> list[tuple[int, int]]:
    db.session.rollback()
    return [(e.id, e.item_id) for e in db.session.scalars(select(HomeworkEntry).where(HomeworkEntry.set_id == set_id)
                                                          .order_by(HomeworkEntry.position))]


def test_saving_the_note_again_keeps_a_draft_the_tutor_changed_and_offers_to_draft_it_anew(app, client, bank):
    """A tutor fixes a typo in the note after reviewing the draft: their review is not thrown away; the page says
    the note changed and drafts the set anew only when asked. An untouched draft follows the note as before."""
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    fractions, pythagoras = bank["fractions"], bank["pythagoras"]
    post_note(client, lesson.id, "Fractions today.", errors=[(fractions.id, "Added the denominators", "")])
    [draft] = db.session.scalars(select(HomeworkSet))
    draft_id, drafted = draft.id, _entry_ids(draft.id)
    # Untouched: saving the note with another mistake drafts the set anew from it.
    post_note(client, lesson.id, "Fractions and Pythagoras today.",
              errors=[(fractions.id, "Added the denominators", ""), (pythagoras.id, "Forgot the square root", "")])
    redrafted = _entry_ids(draft_id)
    assert redrafted != drafted
    # The tutor reviews it: one question out.
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    assert f'id="note-changed-{draft_id}"' not in page
    client.post(f"/homework/{draft_id}/entries/{redrafted[0][0]}/remove", data={"csrf_token": csrf_from(page)})
    reviewed = _entry_ids(draft_id)
    assert reviewed == redrafted[1:]
    # A typo fixed in the note keeps the reviewed set, and the page says so.
    post_note(client, lesson.id, "Fractions and Pythagoras (right-angled triangles) today.",
              errors=[(fractions.id, "Added the denominators", ""), (pythagoras.id, "Forgot the square root", "")])
    assert _entry_ids(draft_id) == reviewed
    page = words(client.get(f"/lessons/{lesson.id}/homework"))
    assert "You changed the note after reviewing this set" in page
    # Asked for, the set is drafted anew from the note (the removed question may come back).
    response = client.post(f"/homework/{draft_id}/rebuild", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303
    assert _entry_ids(draft_id) != reviewed and len(_entry_ids(draft_id)) == len(redrafted)
    assert "You changed the note after reviewing this set" not in words(client.get(f"/lessons/{lesson.id}/homework"))


def _published_algebra_entry_for_the_student(client, bank):
    """A lesson's tutor notes a rearranging error and publishes the drafted set; its student, logged in, opens it.
    Returns (the student's homework page, the set's algebra entry)."""
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Rearranging.", errors=[(bank["rearranging-formulae"].id, "Sign slip", "")])
    draft = db.session.scalar(select(HomeworkSet))
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)})
    login(client, lesson.students[0].email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    entry = next(e for e in db.session.get(HomeworkSet, draft.id).entries if e.item.kind == "algebra")
    return page, entry


def test_nonsense_and_malicious_answers_get_a_message_not_an_error(app, client, bank):
    page, entry = _published_algebra_entry_for_the_student(client, bank)
    # Unreadable shapes and letters the question does not use (its answer is in y) are refused in words, so the
    # pupil retypes them: none of them uses up the question.
    for bad in ["__import__('os').system('true')", "9^9^9", "x" * 5000, "", "y +", "(y - 1)/", "()", "Y/2",
                "sin(y)"]:
        response = client.post(f"/homework/entries/{entry.id}/answer",
                               data={"csrf_token": csrf_from(page), "response": bad})
        assert response.status_code == 422
    db.session.rollback()
    assert db.session.get(HomeworkEntry, entry.id).answered_at is None


def test_strangers_cannot_see_review_or_answer_homework(app, client, bank):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Ratio.", topics=[bank["ratio"].id])
    draft = db.session.scalar(select(HomeworkSet))
    entry = draft.entries[0]
    stranger = factories.user("student")
    login(client, stranger.email, factories.PASSWORD)
    page = client.get("/").get_data(as_text=True)
    token = csrf_from(page) if "csrf_token" in page else ""
    assert client.get(f"/lessons/{lesson.id}/homework").status_code == 404
    assert client.post(f"/homework/{draft.id}/publish", data={"csrf_token": token}).status_code in (403, 404)
    assert client.post(f"/homework/entries/{entry.id}/answer",
                       data={"csrf_token": token, "response": "1"}).status_code == 404


def test_gift_export_then_import_round_trips_the_item_types(app, bank):
    from datetime import UTC, datetime

    from webapp.models import AuditEntry
    admin = factories.user("admin")
    tutor, _ = factories.tutor()
    maths, gcse = factories.subject(), factories.level()
    text = curriculum.export_gift(admin, maths.id, gcse.id)
    assert "{#" in text and "{=" in text and "~" in text
    before = db.session.query(QuestionItem).count()
    # Into a tutor's own bank every question is new; each comes back as it went out.
    done = curriculum.import_gift(tutor, maths.id, gcse.id, text, datetime.now(UTC))
    assert (done.added, done.skipped) == (before, 0) and db.session.query(QuestionItem).count() == 2 * before
    mine = {(i.topic_id, i.kind, i.prompt, i.answer, i.unit, tuple(i.choices)) for i in db.session.scalars(
        select(QuestionItem).where(QuestionItem.owner_id == tutor.id))}
    shared = {(i.topic_id, i.kind, i.prompt, i.answer, i.unit, tuple(i.choices)) for i in db.session.scalars(
        select(QuestionItem).where(QuestionItem.owner_id.is_(None)))}
    assert mine == shared and {kind for _, kind, *_ in mine} == {"numeric", "choice", "algebra"}
    # Into the shared bank it already holds them all: nothing is added twice (a double submit adds nothing either).
    again = curriculum.import_gift(admin, maths.id, gcse.id, text, datetime.now(UTC))
    assert (again.added, again.skipped) == (0, before) and db.session.query(QuestionItem).count() == 2 * before
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "question.import")) is None


GOOD = "// lessonbook: kind=numeric topic=fractions difficulty=1 unit=\n::Q1::Half of 10? {#5:0 ####10 ÷ 2 = 5.}"


@pytest.mark.parametrize("bad, says", [
    ("// lessonbook: kind=algebra topic=expanding-brackets\n::Q::Expand 2(x+3). {=2x + ####2x + 6.}",
     "The marker cannot read this answer"),
    ("// lessonbook: kind=algebra topic=expanding-brackets\n::Q::Expand. {=2 3x ####6x.}", "Two numbers side by side"),
    ("// lessonbook: kind=numeric topic=fractions\n::Q::Half of 10? {#nan:0 ####5.}", "plain number"),
    ("// lessonbook: kind=numeric topic=fractions\n::Q::Half of 10? {#5:-1 ####5.}", "cannot be negative"),
    ("// lessonbook: kind=numeric topic=fractions unit=cm;DROP\n::Q::Half of 10? {#5:0 ####5.}", "The unit is"),
    ("// lessonbook: kind=choice topic=fractions\n::Q::Which? {=3/4 ~3/4 ####Same.}", "Two choices say the same"),
    ("::Capital::What is the capital of France? {=Paris ####It is Paris.}", "only algebraic ones are marked here"),
    ("// lessonbook: kind=numeric\n::Q::Half of 10? {#5:0 ####5.}", "has no topic"),
])
def test_a_gift_import_refuses_what_the_question_form_would_and_adds_nothing(app, bank, bad, says):
    from datetime import UTC, datetime

    from webapp.services.errors import ValidationError
    tutor, _ = factories.tutor()
    maths, gcse = factories.subject(), factories.level()
    before = db.session.query(QuestionItem).count()
    with pytest.raises(ValidationError, match=re.escape(says)) as refused:
        curriculum.import_gift(tutor, maths.id, gcse.id, GOOD + "\n\n" + bad,
                               datetime.now(UTC))
    assert "Question 2" in refused.value.message
    db.session.rollback()
    assert db.session.query(QuestionItem).count() == before


def test_an_admins_gift_import_into_the_shared_bank_is_audited(app, bank):
    from datetime import UTC, datetime

    from webapp.models import AuditEntry
    admin = factories.user("admin")
    maths, gcse = factories.subject(), factories.level()
    done = curriculum.import_gift(admin, maths.id, gcse.id, GOOD, datetime.now(UTC))
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "question.import"))
    assert done.added == 1 and entry.actor_id == admin.id and len(entry.after["ids"]) == 1


def test_template_items_regenerate_exactly_from_their_seed(app, bank):
    for item in db.session.scalars(select(QuestionItem).limit(60)):
        again = curriculum.regenerate(item)
        assert (again["prompt"], again["answer"], again["solution"]) == (item.prompt, item.answer, item.solution)


def test_a_tutor_exports_and_imports_gift_on_the_bank_page_and_bad_gift_gets_words(app, client, bank):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    page = client.get("/question-bank")
    assert page.status_code == 200 and "Mathematics · GCSE" in words(page)
    maths, gcse = factories.subject(), factories.level()
    exported = client.get(f"/question-bank/{maths.id}/{gcse.id}.gift")
    assert exported.status_code == 200 and "attachment" in exported.headers["Content-Disposition"]
    one = exported.get_data(as_text=True).split("\n\n")[0]
    token = csrf_from(page.get_data(as_text=True))
    before = db.session.query(QuestionItem).count()
    done = client.post("/question-bank/import", data={"csrf_token": token, "shelf": f"{maths.id}-{gcse.id}",
                                                      "gift": one})
    assert done.status_code == 303
    assert db.session.query(QuestionItem).count() == before + 1
    twice = client.post("/question-bank/import", data={"csrf_token": token, "shelf": f"{maths.id}-{gcse.id}",
                                                       "gift": one}, follow_redirects=True)
    assert "Nothing new to import: these questions are already in the bank." in words(twice)
    assert db.session.query(QuestionItem).count() == before + 1
    # A file saved with a byte-order mark (Windows editors) reads as the same text; a binary file is refused in words.
    import io
    bom = client.post("/question-bank/import", data={"csrf_token": token, "shelf": f"{maths.id}-{gcse.id}",
                                                     "file": (io.BytesIO(b"\xef\xbb\xbf" + one.replace(
                                                         "{", " (again) {", 1).encode()), "q.gift")},
                      content_type="multipart/form-data", follow_redirects=True)
    assert "1 question imported." in words(bom)
    for data in (b"\x89PNG\r\n\x1a\n\x00\x00binary", "caf\xe9".encode("latin-1")):
        binary = client.post("/question-bank/import", data={"csrf_token": token, "shelf": f"{maths.id}-{gcse.id}",
                                                            "file": (io.BytesIO(data), "pic.gift")},
                             content_type="multipart/form-data")
        assert binary.status_code == 422 and "That file is not GIFT text" in words(binary)
    for bad in ["not gift at all", "// lessonbook: topic=nowhere\nQ {=1 ####s}", "Q {#abc ####s}"]:
        refused = client.post("/question-bank/import", data={"csrf_token": token, "shelf": f"{maths.id}-{gcse.id}",
                                                             "gift": bad})
        assert refused.status_code == 422 and 'role="alert"' in refused.get_data(as_text=True)
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get("/question-bank").status_code == 403


def test_the_weekly_digest_tells_a_parent_about_each_childs_homework_once_a_week(app, client, bank):
    from datetime import UTC, datetime, timedelta

    from webapp.services import homework, outbox

    parent = factories.user("parent", timezone="America/Chicago")
    kid = factories.child(parent, "Robin")
    lesson = factories.finished_lesson(for_child=kid)
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Ratio.", errors=[(bank["ratio"].id, "Shared by the wrong total", "")])
    draft = db.session.scalar(select(HomeworkSet))
    assert draft.answerer_id == parent.id and draft.learner_name == "Robin"
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": csrf_from(page)})
    login(client, parent.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True)
    entry = db.session.get(HomeworkSet, draft.id).entries[0]
    client.post(f"/homework/entries/{entry.id}/answer", data={"csrf_token": csrf_from(page), "response": "0"})

    # The next Sunday 17:00 in Chicago (the parent's zone), whatever the machine's zone.
    from zoneinfo import ZoneInfo

    from webapp.domain.homework import last_digest_time
    sunday = last_digest_time(datetime.now(UTC), ZoneInfo("America/Chicago")) + timedelta(days=7)
    assert (sunday.weekday(), sunday.hour, sunday.minute) == (6, 17, 0)
    assert homework.send_parent_digests(sunday - timedelta(minutes=1)) == 0  # Sunday 16:59 in Chicago
    now = sunday + timedelta(minutes=5)
    assert homework.send_parent_digests(now) == 1
    assert homework.send_parent_digests(now) == 0  # the same week: nothing twice
    assert homework.send_parent_digests(now + timedelta(hours=3)) == 0  # a later run that Sunday: still once
    [digest] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "homework_digest")).all()
    assert digest.to_address == parent.email
    # The week after, nothing new was published: no digest.
    assert homework.send_parent_digests(now + timedelta(days=7)) == 0
    _, text, _ = outbox.render_email("homework_digest", digest.context)
    assert "Robin: 1 of 8 questions answered, 0 right." in text and "Ratio" in text
    # The digest links to Robin's homework page (where the sets are, with worked solutions), not to /bookings.
    _, text, html = outbox.render_email("homework_digest", digest.context)
    homework_url = f"/lessons/{lesson.id}/homework"
    lesson_day = lesson.start_at.astimezone(ZoneInfo("America/Chicago")).strftime("%a %-d %b")
    assert f"Robin's homework and worked solutions from the lesson on {lesson_day}: " in text
    assert homework_url in text and homework_url in html and "/bookings" not in text + html
    link = next(a for a in html.split('href="')[1:] if homework_url in a).split('"')[0]
    from urllib.parse import urlsplit
    opened = client.get(urlsplit(link).path)  # the parent, still logged in, follows it
    assert opened.status_code == 200 and "Ratio" in opened.get_data(as_text=True)


def test_a_parent_in_sydney_gets_the_digest_at_17_00_sydney_time_and_one_in_london_at_17_00_london(app, client, bank):
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from webapp.domain.homework import last_digest_time
    from webapp.services import homework

    parents = {}
    for zone in ("Australia/Sydney", "Europe/London"):
        parent = factories.user("parent", timezone=zone)
        lesson = factories.finished_lesson(for_child=factories.child(parent, f"Kid in {zone}"))
        login(client, lesson.tutor.email, factories.PASSWORD)
        post_note(client, lesson.id, "Ratio.", errors=[(bank["ratio"].id, "Wrong total", "")])
        found = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
        homework.publish(lesson.tutor, found.id, datetime.now(UTC))
        db.session.commit()
        parents[zone] = parent
    sydney = last_digest_time(datetime.now(UTC), ZoneInfo("Australia/Sydney")) + timedelta(days=7)
    # At Sunday 17:00 in Sydney it is Sunday morning (or Saturday night) in London: only the Sydney parent.
    assert homework.send_parent_digests(sydney + timedelta(minutes=1)) == 1
    sent = [m.to_address for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "homework_digest"))]
    assert sent == [parents["Australia/Sydney"].email]
    london = last_digest_time(sydney + timedelta(days=1), ZoneInfo("Europe/London"))
    assert london > sydney
    assert homework.send_parent_digests(london + timedelta(minutes=1)) == 1
    sent = [m.to_address for m in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "homework_digest").order_by(OutboxMessage.id))]
    assert sent == [parents["Australia/Sydney"].email, parents["Europe/London"].email]


def test_the_tutor_reviews_a_draft_with_each_answer_and_worked_solution_and_the_student_sees_them_after(app, client,
                                                                                                        bank):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, "Ratio and Pythagoras.", topics=[bank["ratio"].id],
              errors=[(bank["pythagoras"].id, "Subtracted the squares", "")])
    draft = db.session.scalar(select(HomeworkSet))
    shown = [(e.id, e.item.kind, e.item.answer, e.item.solution, list(e.item.choices or [])) for e in draft.entries]
    page = words(client.get(f"/lessons/{lesson.id}/homework"))
    for entry_id, kind, answer, solution, choices in shown:
        block = page.split(f'id="entry-{entry_id}"')[1].split('class="homework-item"')[0]
        assert "Answer and worked solution" in block and solution in block
        expected = choices[int(answer)] if kind == "choice" else answer.replace("**", "^")
        assert f"Answer: {expected}" in block
    token = csrf_from(client.get(f"/lessons/{lesson.id}/homework").get_data(as_text=True))
    client.post(f"/homework/{draft.id}/publish", data={"csrf_token": token})
    login(client, lesson.students[0].email, factories.PASSWORD)
    page = words(client.get(f"/lessons/{lesson.id}/homework"))
    assert not any(solution in page for _, _, _, solution, _ in shown)  # only once each is answered


def test_a_refused_answer_keeps_what_was_typed_and_says_why_at_the_top_without_htmx(app, client, bank):
    page, entry = _published_algebra_entry_for_the_student(client, bank)
    for headers in ({"HX-Request": "true"}, {}):
        refused = client.post(f"/homework/entries/{entry.id}/answer", headers=headers,
                              data={"csrf_token": csrf_from(page), "response": "(y - 3)/"})
        assert refused.status_code == 422 and 'value="(y - 3)/"' in refused.get_data(as_text=True)
    top = words(refused).split('id="homework"')[0]  # the full page says it above the questions, too
    assert f"Question {entry.position}: The answer stops after “/”" in top
    db.session.rollback()
    assert db.session.get(HomeworkEntry, entry.id).answered_at is None
