"""The same request twice at the same moment (a double click, two tabs on one form, a replayed link) in the wallet,
subscription, support and homework features: one effect, and the other request gets a clear answer, never an
IntegrityError or a 500. Each request runs on its own thread with its own app context and database connection."""
from __future__ import annotations

import re
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select, text

from tests import factories
from tests.conftest import csrf_from
from tests.integration.test_subscriptions import URLS, _plan
from webapp.extensions import db
from webapp.models import SubscriptionCheckout, User
from webapp.services import subscription_checkouts


def now() -> datetime:
    return datetime.now(UTC)


def at_once(app, *calls, then=None):
    """Run each call(…) on its own thread in its own app context, released together; their results (or the
    exceptions they raised, as values) in order. `then` runs on this thread once they have started."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        with app.app_context():
            try:
                barrier.wait()
                results[i] = call()
            except Exception as exc:  # noqa: BLE001 — returned so the test shows it
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    if then is not None:
        then()
    for thread in threads:
        thread.join(120)
    return results


@contextmanager
def both_waiting_on_lessons(app, lesson_ids: list[int]):
    """Hold the homework locks of these lessons on a connection of our own (PostgreSQL) and yield `release`, which
    waits until one writer queues behind each lock and then lets them all go at the same moment: their
    transactions overlap for sure instead of by luck. On SQLite (one writer at a time) `release` does nothing."""
    if db.engine.dialect.name != "postgresql":
        yield lambda: None
        return
    from webapp.services.locks import LOCK_HOMEWORK
    with db.engine.connect() as holder:
        for lesson_id in lesson_ids:
            holder.execute(select(func.pg_advisory_lock(LOCK_HOMEWORK, lesson_id)))

        def release():
            with db.engine.connect() as look:
                for _ in range(1200):
                    waiting = look.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                               "AND NOT granted AND database = (SELECT oid FROM pg_database "
                                               "WHERE datname = current_database())"))
                    if waiting >= len(lesson_ids):
                        break
                    look.rollback()
                    time.sleep(0.05)
            holder.execute(text("SELECT pg_advisory_unlock_all()"))
            holder.commit()

        yield release


def test_the_subscribe_form_sent_twice_at_once_opens_one_checkout_page(app, stripe_world):
    plan = _plan()
    student_id, plan_id = factories.user("student").id, plan.id

    def subscribe():
        who = db.session.get(User, student_id)
        return subscription_checkouts.start_subscription(who, plan_id, "one-form", **URLS, now=now())

    results = at_once(app, subscribe, subscribe)

    assert all(isinstance(r, str) for r in results), results
    assert results[0] == results[1]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SubscriptionCheckout)) == 1


def test_two_answers_on_one_topic_from_two_lessons_at_once_both_count_towards_mastery(app):
    """Two tabs: the same learner answers a question on one topic in two lessons' homework at the same moment."""
    from datetime import timedelta

    from webapp.domain import homework as homework_plan
    from webapp.models import HomeworkSet, Topic, TopicMastery
    from webapp.services import curriculum, homework, notes
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    topic_id = db.session.scalar(select(Topic.id).where(Topic.slug == "fractions"))
    first = factories.finished_lesson()
    second = factories.finished_lesson(first.tutor, booker=first.students[0], ended_ago=timedelta(days=3))
    entries = []
    for lesson in (first, second):
        notes.save_note(lesson.tutor, lesson.id, "Fractions.", [], now(), covered=[],
                        errors=[homework.ErrorInput(topic_id, "Added the denominators", "")])
        found = db.session.scalar(select(HomeworkSet).where(HomeworkSet.lesson_id == lesson.id))
        homework.publish(lesson.tutor, found.id, now())
        db.session.commit()
        entry = next(e for e in found.entries if e.item.topic_id == topic_id)
        entries.append((entry.id, entry.item.answer))
    student_id, learner = first.students[0].id, found.learner_key
    db.session.commit()

    def answer(entry_id, text):
        return lambda: homework.answer(db.session.get(User, student_id), entry_id, text, now()).entry.correct

    with both_waiting_on_lessons(app, [first.id, second.id]) as release:
        results = at_once(app, *(answer(entry_id, text) for entry_id, text in entries), then=release)

    assert results == [True, True], results
    db.session.rollback()
    [row] = db.session.scalars(select(TopicMastery).where(TopicMastery.learner_key == learner,
                                                          TopicMastery.topic_id == topic_id))
    level, streak = homework_plan.next_mastery(*homework_plan.next_mastery(0, 0, True), True)
    assert (row.level, row.streak) == (level, streak)


def _browser(live_server, email: str) -> requests.Session:
    """A logged-in browser against the running server."""
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/login", timeout=30).text
    answer = browser.post(f"{live_server.url}/login", data={"email": email, "password": factories.PASSWORD,
                                                            "csrf_token": csrf_from(page)},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    return browser


def _form_fields(html: str, form_id: str) -> dict:
    """The hidden fields of one form on the page, as the browser would send them."""
    form = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S).group(0)
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def _post_twice_at_once(browser: requests.Session, url: str, data: dict) -> list[int]:
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def click():
        barrier.wait()
        statuses.append(browser.post(url, data=data, files={"attachments": ("", b"")}, allow_redirects=False,
                                     timeout=60).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return statuses


def test_a_ticket_reply_sent_twice_at_once_is_posted_once_and_both_clicks_land_on_the_ticket(app, live_server):
    from webapp.models import OutboxMessage, SupportTicket, TicketMessage
    from webapp.services import tickets
    student = factories.user("student")
    ticket = tickets.open_ticket(student, "Camera", "It does not start.", None, [], now())
    agent = factories.user("support")
    ticket_id, agent_email, student_email = ticket.id, agent.email, student.email
    db.session.commit()

    browser = _browser(live_server, student_email)
    page = browser.get(f"{live_server.url}/support/tickets/{ticket_id}", timeout=30).text
    statuses = _post_twice_at_once(browser, f"{live_server.url}/support/tickets/{ticket_id}",
                                   {**_form_fields(page, "reply-form"), "body": "Still broken."})
    assert statuses == [303, 303]

    staff = _browser(live_server, agent_email)
    page = staff.get(f"{live_server.url}/admin/tickets/{ticket_id}", timeout=30).text
    statuses = _post_twice_at_once(staff, f"{live_server.url}/admin/tickets/{ticket_id}/reply",
                                   {**_form_fields(page, "staff-reply-form"), "body": "Try another browser."})
    assert statuses == [303, 303]

    db.session.rollback()
    bodies = db.session.scalars(select(TicketMessage.body).where(TicketMessage.ticket_id == ticket_id)
                                .order_by(TicketMessage.id)).all()
    assert bodies == ["It does not start.", "Still broken.", "Try another browser."]
    assert db.session.get(SupportTicket, ticket_id).status == "pending"
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.template == "ticket_reply")) == 1


def test_a_new_question_or_an_import_sent_twice_at_once_adds_each_question_once(app):
    from webapp.domain.question_form import QuestionDraft
    from webapp.models import QuestionItem, Topic
    from webapp.services import curriculum, question_bank
    maths, gcse = factories.subject(), factories.level()
    curriculum.seed_curriculum()
    topic_id = db.session.scalar(select(Topic.id).where(Topic.slug == "fractions"))
    tutor_id = factories.tutor()[0].id
    draft = QuestionDraft(kind="numeric", prompt="What is 1/2 + 1/4? Give a decimal.", answer="0.75", tolerance="0",
                          solution="1/2 + 1/4 = 2/4 + 1/4 = 3/4 = 0.75.", difficulty="1")
    gift = ("// lessonbook: kind=numeric topic=fractions difficulty=1 unit=\n"
            "::Q1::What is 3/4 of 8? {#6:0 ####8 ÷ 4 × 3 \\= 6.}\n\n"
            "// lessonbook: kind=numeric topic=fractions difficulty=1 unit=\n"
            "::Q2::What is 2/5 of 10? {#4:0 ####10 ÷ 5 × 2 \\= 4.}\n")
    subject_id, level_id = maths.id, gcse.id
    db.session.commit()

    def add():
        return question_bank.add_item(db.session.get(User, tutor_id), topic_id, draft, now()).id

    def import_():
        return curriculum.import_gift(db.session.get(User, tutor_id), subject_id, level_id, gift, now()).added

    added = at_once(app, add, add)
    imported = at_once(app, import_, import_)

    assert isinstance(added[0], int) and added[0] == added[1], added
    assert sorted(imported, key=repr) == [0, 2], imported
    db.session.rollback()
    prompts = db.session.scalars(select(QuestionItem.prompt).where(QuestionItem.created_by_id == tutor_id)
                                 .order_by(QuestionItem.prompt)).all()
    assert prompts == ["What is 1/2 + 1/4? Give a decimal.", "What is 2/5 of 10?", "What is 3/4 of 8?"]


def test_an_offer_for_chosen_users_created_twice_at_once_is_made_once_and_the_second_is_told_in_words(app):
    from webapp.models import Coupon, OfferRecipient
    from webapp.services import offers
    from webapp.services.errors import ValidationError
    admin_id = factories.user("admin").id
    chosen = factories.user("student").email
    db.session.commit()

    def create():
        return offers.create_coupon(
            db.session.get(User, admin_id), code="FORYOU", usage="ONE_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT",
            amount_minor=None, percent_bp=1000, max_discount_amount_minor=None, currency=None, valid_from=None,
            valid_until=None, max_total_uses=None, now=now(), name="Just for you", audience="CHOSEN_USERS",
            recipient_emails=chosen, auto_apply=True).id

    results = at_once(app, create, create)

    made = [r for r in results if isinstance(r, int)]
    told = [r for r in results if isinstance(r, ValidationError)]
    assert len(made) == 1 and len(told) == 1, results
    assert "already exists" in told[0].message
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Coupon)) == 1
    assert db.session.scalar(select(func.count()).select_from(OfferRecipient)) == 1
