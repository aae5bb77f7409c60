"""The lesson room in the browser: a tutor and a student chat through two real server processes (gunicorn, one
database, the test's Redis); one process is killed and restarted mid-conversation and neither side loses, doubles or
reorders a message. The room opens and closes its chat at the configured times. A stranger's socket and a socket
from a foreign page never open."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.chat_servers import WebProcess
from tests.e2e.conftest import log_in
from webapp.extensions import db

pytestmark = pytest.mark.e2e

LONG = 30_000  # a restarted server and a reconnect with backoff take a while on a busy machine


def running_lesson():
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return factories.lesson_at(now - timedelta(minutes=now.minute % 15))


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_label("Message")).to_have_value("")


def transcript(page: Page) -> list[str]:
    return page.locator("#chat-log li .chat-body").all_inner_texts()


def shows(page: Page, texts: list[str]) -> None:
    expect(page.locator("#chat-log li .chat-body")).to_have_text(texts, timeout=LONG)


@pytest.fixture
def two_servers(app, redis_url, tmp_path):
    """Two gunicorn processes on free ports, serving the test's database and Redis."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    one = WebProcess(url, redis_url, log_path=tmp_path / "one.log").start()
    two = WebProcess(url, redis_url, log_path=tmp_path / "two.log").start()
    yield one, two
    one.stop()
    two.stop()


def test_tutor_and_student_chat_across_two_processes_and_a_restart_loses_nothing(app, two_servers, new_context):
    one, two = two_servers
    lesson = running_lesson()
    tutor_email, student_email, room = lesson.tutor.email, lesson.students[0].email, f"/lessons/{lesson.id}/room"
    db.session.commit()
    tutor_page = new_context(base_url=one.url, locale="en-GB").new_page()
    student_page = new_context(base_url=two.url, locale="en-GB").new_page()
    log_in(tutor_page, tutor_email)
    log_in(student_page, student_email)
    tutor_page.goto("/tutor/")
    tutor_page.get_by_role("link", name="Lesson room").first.click()
    student_page.goto("/bookings")
    student_page.get_by_role("link", name="Lesson room").first.click()
    for page in (tutor_page, student_page):
        expect(page).to_have_url(f"{page.url.split('/lessons')[0]}{room}")
        expect(page.locator("#chat.chat-live")).to_be_visible()

    say(tutor_page, "Hello! Shall we start with <b>quadratics</b>?")
    shows(student_page, ["Hello! Shall we start with <b>quadratics</b>?"])  # shown as text, never as markup
    say(student_page, "Yes please.")
    shows(tutor_page, ["Hello! Shall we start with <b>quadratics</b>?", "Yes please."])

    one.kill()  # the tutor's server dies mid-conversation
    expect(tutor_page.locator("#chat.chat-live")).to_have_count(0, timeout=LONG)
    say(student_page, "Are you still there?")
    say(student_page, "I will wait.")
    one.start()  # back on the same port: the tutor's page reconnects and catches up from the last number it saw
    expect(tutor_page.locator("#chat.chat-live")).to_be_visible(timeout=LONG)
    say(tutor_page, "Sorry, I am back.")
    everything = ["Hello! Shall we start with <b>quadratics</b>?", "Yes please.", "Are you still there?",
                  "I will wait.", "Sorry, I am back."]
    shows(tutor_page, everything)
    shows(student_page, everything)
    for page in (tutor_page, student_page):
        numbers = [int(n) for n in page.locator("#chat-log li").evaluate_all("els => els.map(e => e.dataset.seq)")]
        assert numbers == [1, 2, 3, 4, 5]
    # A reload renders the same transcript from the rows.
    tutor_page.reload()
    shows(tutor_page, everything)


def test_the_room_opens_and_closes_its_chat_at_the_configured_times(app, browser_page):
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    start -= timedelta(minutes=start.minute % 15)
    lesson = factories.lesson_at(start, duration_minutes=60)
    student_email = lesson.students[0].email
    now = datetime.now(UTC)
    opens, closes = now + timedelta(seconds=8), now + timedelta(seconds=22)
    # The window is configuration, relative to the lesson's start and end: set so that it opens and closes soon.
    app.config["CHAT_OPENS_BEFORE_MINUTES"] = (lesson.start_at - opens).total_seconds() / 60
    app.config["CHAT_CLOSES_AFTER_MINUTES"] = (closes - lesson.finish_at).total_seconds() / 60
    try:
        page = browser_page()
        log_in(page, student_email)
        page.goto(f"/lessons/{lesson.id}/room")
        expect(page.locator("#chat-window")).to_contain_text("The chat opens at")
        expect(page.get_by_label("Message")).to_have_count(0)
        expect(page.get_by_label("Message")).to_be_visible(timeout=LONG)  # the page opens the chat by itself
        expect(page.locator("#chat-window")).to_contain_text("open until")
        say(page, "Ready early.")
        shows(page, ["Ready early."])
        expect(page.locator("#chat-window")).to_contain_text("the transcript is read-only", timeout=LONG)
        expect(page.get_by_label("Message")).to_have_count(0)
        shows(page, ["Ready early."])
    finally:
        app.config.update(CHAT_OPENS_BEFORE_MINUTES=15, CHAT_CLOSES_AFTER_MINUTES=30)


def test_a_strangers_socket_and_a_foreign_pages_socket_never_open(app, live_server, browser_page):
    lesson = running_lesson()
    stranger = factories.user("student")
    socket_url = live_server.url.replace("http://", "ws://") + f"/lessons/{lesson.id}/room/socket"
    probe = """url => new Promise(done => {
        const ws = new WebSocket(url);
        ws.onopen = () => { done('opened'); ws.close(); };
        ws.onclose = () => done('refused');
    })"""
    page = browser_page()
    log_in(page, stranger.email)
    page.goto(f"/lessons/{lesson.id}/room")
    expect(page.get_by_text("We could not find that")).to_be_visible()
    page.goto("/tutors")
    assert page.evaluate(probe, socket_url) == "refused"

    student_page = browser_page()
    log_in(student_page, lesson.students[0].email)
    student_page.goto("/tutors")
    assert student_page.evaluate(probe, socket_url) == "opened"  # the lesson's own student, from our origin
    # A page on another origin, in the same browser with the student signed in, tries to open the student's chat.
    student_page.route("http://foreign.example.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<html><body>Another site</body></html>"))
    student_page.goto("http://foreign.example.com/page")
    assert student_page.evaluate(probe, socket_url) == "refused"


def test_enter_sends_a_chat_message_and_shift_enter_starts_a_new_line(app, browser_page):
    # Found walking the room: Enter in the message box only added a line; a keyboard user had to Tab to Send.
    lesson = running_lesson()
    tutor_email, student_email, room = lesson.tutor.email, lesson.students[0].email, f"/lessons/{lesson.id}/room"
    db.session.commit()
    tutor_page, student_page = browser_page(), browser_page("America/New_York")
    log_in(tutor_page, tutor_email)
    log_in(student_page, student_email)
    for page in (tutor_page, student_page):
        page.goto(room)
        expect(page.locator("#chat.chat-live")).to_be_visible()
    box = student_page.get_by_label("Message")
    expect(box).to_have_accessible_description(re.compile("Enter sends"))
    box.type("Two lines:")
    box.press("Shift+Enter")
    box.type("here")
    expect(box).to_have_value("Two lines:\nhere")
    box.press("Enter")
    expect(box).to_have_value("")
    shows(tutor_page, ["Two lines:\nhere"])
    box.press("Enter")  # nothing typed: the room says so and sends nothing
    expect(student_page.locator("#chat-error")).to_have_text("Write a message first.")
    shows(tutor_page, ["Two lines:\nhere"])
