"""The lesson room and its chat: who gets in, when it is open, numbering under concurrency, the WebSocket handshake
(refused before the upgrade), size and rate limits, backfill after a reconnect, fan-out between two real server
processes through Redis, and chat with Redis down."""
from __future__ import annotations

import html
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
import simple_websocket

from tests import factories
from tests.chat_servers import WebProcess, session_cookie
from tests.conftest import csrf_for, login
from webapp.extensions import db
from webapp.models import ChatMessage
from webapp.services import chat

UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def running_lesson(later: timedelta = timedelta(0), **kwargs):
    """A paid lesson that started at the last quarter hour (its chat is open under the default window), or `later`."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=now.minute % 15)
    return factories.lesson_at(start + later, **kwargs)


def eventually(check, seconds: float = 10) -> bool:
    """Whether `check()` comes true within `seconds` (work another thread finishes just after answering)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def words(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, lesson_id: int, body: str, htmx: bool = True):
    headers = {"HX-Request": "true", "X-CSRFToken": csrf_for(client)} if htmx else {}
    data = {"body": body} if htmx else {"body": body, "csrf_token": csrf_for(client)}
    return client.post(f"/lessons/{lesson_id}/room/messages", data=data, headers=headers)


def test_the_room_is_for_the_lessons_people_only(app, client):
    parent = factories.user("parent")
    kid = factories.child(parent, "Robin")
    lesson = running_lesson(for_child=kid)
    student_lesson = running_lesson(timedelta(hours=2), teacher=lesson.tutor)
    admin, stranger = factories.user("admin"), factories.user("student")
    for person, role_words in ((lesson.tutor, "the tutor"), (parent, "the parent, attending for Robin"),
                               (admin, "an admin (reading only)")):
        login(client, person.email, factories.PASSWORD)
        page = client.get(f"/lessons/{lesson.id}/room")
        assert page.status_code == 200 and role_words in words(page)
        client.post("/logout", data={"csrf_token": csrf_for(client)})
    login(client, student_lesson.students[0].email, factories.PASSWORD)
    assert "the student" in words(client.get(f"/lessons/{student_lesson.id}/room"))
    assert client.get(f"/lessons/{lesson.id}/room").status_code == 404  # someone else's lesson looks missing
    client.post("/logout", data={"csrf_token": csrf_for(client)})
    login(client, stranger.email, factories.PASSWORD)
    assert client.get(f"/lessons/{lesson.id}/room").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_for(client)})
    assert client.get(f"/lessons/{lesson.id}/room").status_code == 302  # anonymous: to the login form


def test_messages_are_numbered_in_order_and_the_poll_returns_the_new_ones_escaped(app, client):
    lesson = running_lesson()
    login(client, lesson.students[0].email, factories.PASSWORD)
    assert post(client, lesson.id, "Hello!").status_code == 200
    assert post(client, lesson.id, "<script>alert(1)</script>").status_code == 200
    assert [m.seq for m in db.session.scalars(db.select(ChatMessage).order_by(ChatMessage.seq))] == [1, 2]
    polled = client.get(f"/lessons/{lesson.id}/room/messages?after=1", headers={"HX-Request": "true"})
    text = polled.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>alert" not in text
    assert 'id="chat-1"' not in text and 'id="chat-2"' in text
    assert "after=2" in text  # the next poll asks after the last one it showed
    page = words(client.get(f"/lessons/{lesson.id}/room"))
    assert "Hello!" in page


def test_refusals_come_back_in_words_beside_the_form(app, client):
    lesson = running_lesson()
    app.config["CHAT_RATE_LIMIT"] = "2 per minute"
    try:
        login(client, lesson.students[0].email, factories.PASSWORD)
        too_long = post(client, lesson.id, "x" * 2049)
        assert too_long.status_code == 422 and "too long" in words(too_long)
        assert post(client, lesson.id, "   ").status_code == 422
        assert post(client, lesson.id, "one").status_code == 200
        assert post(client, lesson.id, "two").status_code == 200
        fast = post(client, lesson.id, "three")
        assert fast.status_code == 422 and "too fast" in words(fast)
        assert "three" in words(fast)  # the draft is kept
        plain = post(client, lesson.id, "four", htmx=False)  # without JavaScript: back to the room, message flashed
        assert plain.status_code == 303
        assert "too fast" in words(client.get(plain.headers["Location"]))
    finally:
        app.config["CHAT_RATE_LIMIT"] = "10 per 10 seconds"
    assert db.session.scalar(db.select(db.func.count(ChatMessage.id))) == 2


def test_the_chat_opens_before_the_start_and_closes_after_the_end(app, client):
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)
    start -= timedelta(minutes=start.minute % 15)
    lesson = factories.lesson_at(start, duration_minutes=60)
    student = lesson.students[0]
    login(client, student.email, factories.PASSWORD)
    before = post(client, lesson.id, "Too early")
    assert before.status_code == 422 and "not open yet" in words(before)
    assert "The chat opens at" in words(client.get(f"/lessons/{lesson.id}/room"))
    # The window is configuration: opening 4 hours before puts "now" inside it.
    app.config["CHAT_OPENS_BEFORE_MINUTES"] = 240
    try:
        assert post(client, lesson.id, "Ready when you are").status_code == 200
        app.config["CHAT_CLOSES_AFTER_MINUTES"] = -240  # closes 3 hours before the end: already closed
        closed = post(client, lesson.id, "Too late")
        assert closed.status_code == 422 and "has closed" in words(closed)
        page = words(client.get(f"/lessons/{lesson.id}/room"))
        assert "transcript is read-only" in page and "Ready when you are" in page and 'id="chat-form"' not in page
    finally:
        app.config.update(CHAT_OPENS_BEFORE_MINUTES=15, CHAT_CLOSES_AFTER_MINUTES=30)


def test_admins_read_but_never_write(app, client):
    lesson = running_lesson()
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    refused = post(client, lesson.id, "I am an admin")
    assert refused.status_code == 422 and "Admins read the chat" in words(refused)


def test_concurrent_posts_take_distinct_consecutive_numbers(app):
    lesson = running_lesson()
    tutor_id, student_id, lesson_id = lesson.tutor_id, lesson.students[0].id, lesson.id
    app.config["CHAT_RATE_LIMIT"] = "1000 per minute"
    errors = []

    def send(user_id: int, n: int):
        with app.app_context():
            try:
                user = db.session.get(chat.User, user_id)
                for i in range(n):
                    chat.post(user, lesson_id, f"{user_id}-{i}", datetime.now(UTC))
            except Exception as exc:  # noqa: BLE001 (collected and asserted below)
                errors.append(exc)
            finally:
                db.session.remove()
    try:
        threads = [threading.Thread(target=send, args=(uid, 8)) for uid in (tutor_id, student_id) * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        app.config["CHAT_RATE_LIMIT"] = "10 per 10 seconds"
    assert errors == []
    db.session.commit()
    seqs = list(db.session.scalars(db.select(ChatMessage.seq).where(ChatMessage.lesson_id == lesson_id)
                                   .order_by(ChatMessage.seq)))
    assert seqs == list(range(1, 49))


# --- the WebSocket ------------------------------------------------------------------------------------------------

def ws_url(base: str, lesson_id: int, after: int = 0) -> str:
    return base.replace("http://", "ws://") + f"/lessons/{lesson_id}/room/socket?after={after}"


def connect(base: str, lesson_id: int, cookie: str, after: int = 0):
    """A WebSocket client as the room's page opens it. simple_websocket's client sends `Host` without the port, so
    the page's own origin, as the server sees it, is the scheme and host alone."""
    return simple_websocket.Client.connect(ws_url(base, lesson_id, after),
                                           headers={"Cookie": cookie, "Origin": base.rsplit(":", 1)[0]})


def frames(ws, want: int, kind: str = "message", timeout: float = 10) -> list[dict]:
    """The next `want` frames of `kind` (others, such as presence, are skipped)."""
    found = []
    while len(found) < want:
        raw = ws.receive(timeout=timeout)
        assert raw is not None, f"timed out waiting for {kind} frames; got {found}"
        data = json.loads(raw)
        if data["type"] == kind:
            found.append(data)
    return found


def handshake(base: str, lesson_id: int, **headers):
    return requests.get(f"{base}/lessons/{lesson_id}/room/socket", headers={**UPGRADE, **headers}, timeout=10)


def test_the_handshake_is_refused_before_the_upgrade(app, live_server):
    lesson = running_lesson()
    stranger = factories.user("student")
    base = live_server.url
    anonymous = handshake(base, lesson.id, Origin=base)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["message"] == "Please log in first."
    stranger_cookie = session_cookie(base, stranger.email, factories.PASSWORD)
    outsider = handshake(base, lesson.id, Origin=base, Cookie=stranger_cookie)
    assert outsider.status_code == 403 and "not part of this lesson" in outsider.json()["error"]["message"]
    student_cookie = session_cookie(base, lesson.students[0].email, factories.PASSWORD)
    foreign = handshake(base, lesson.id, Origin="https://evil.example.com", Cookie=student_cookie)
    assert foreign.status_code == 403 and "origin" in foreign.json()["error"]["message"]
    no_origin = handshake(base, lesson.id, Cookie=student_cookie)  # a cookie without an Origin: refused too
    assert no_origin.status_code == 403
    with pytest.raises(simple_websocket.ConnectionError) as refused:
        connect(base, lesson.id, stranger_cookie)
    assert refused.value.status_code == 403
    app.config["CHAT_MAX_SOCKETS_PER_USER"] = 2
    opened = [connect(base, lesson.id, student_cookie)]  # the lesson's student, from the page's own origin: accepted
    try:
        opened.append(connect(base, lesson.id, student_cookie))
        assert eventually(lambda: chat.hub(app).socket_count(lesson.students[0].id) == 2)
        too_many = handshake(base, lesson.id, Origin=base, Cookie=student_cookie)
        assert too_many.status_code == 429 and "too many lesson chats" in too_many.json()["error"]["message"]
    finally:
        app.config["CHAT_MAX_SOCKETS_PER_USER"] = 8
        for ws in opened:
            ws.close()


def test_a_socket_sends_receives_and_refuses_too_big_or_too_fast_with_a_message(app, live_server):
    lesson = running_lesson()
    base = live_server.url
    app.config["CHAT_RATE_LIMIT"] = "3 per minute"
    student = connect(base, lesson.id, session_cookie(base, lesson.students[0].email, factories.PASSWORD))
    tutor = connect(base, lesson.id, session_cookie(base, lesson.tutor.email, factories.PASSWORD))
    try:
        student.send(json.dumps({"type": "message", "body": "Hi <b>there</b>", "ref": 1}))
        ack = frames(student, 1, "ack")[0]
        assert ack == {"type": "ack", "seq": 1, "ref": 1}
        got = frames(tutor, 1)[0]
        assert got["body"] == "Hi <b>there</b>" and got["seq"] == 1 and got["mine"] is False  # text, never markup
        student.send(json.dumps({"type": "message", "body": "é" * 1500, "ref": 2}))  # 3000 bytes
        too_big = frames(student, 1, "error")[0]
        assert too_big["ref"] == 2 and "too long" in too_big["message"]
        for ref in (3, 4):
            student.send(json.dumps({"type": "message", "body": f"quick {ref}", "ref": ref}))
        assert [a["seq"] for a in frames(student, 2, "ack")] == [2, 3]
        student.send(json.dumps({"type": "message", "body": "one too many", "ref": 5}))
        too_fast = frames(student, 1, "error")[0]
        assert too_fast["ref"] == 5 and "too fast" in too_fast["message"]
        assert [m["seq"] for m in frames(tutor, 2)] == [2, 3]
        # Two open sockets waiting for their next frame hold no database connection (their threads hand it back
        # right after answering, which may be a moment after the answer arrived here).
        db.session.remove()
        assert eventually(lambda: db.engine.pool.checkedout() == 0)
    finally:
        app.config["CHAT_RATE_LIMIT"] = "10 per 10 seconds"
        student.close()
        tutor.close()


def test_a_reconnecting_socket_gets_what_it_missed_once_and_in_order(app, live_server):
    lesson = running_lesson()
    base = live_server.url
    student = lesson.students[0]
    for i in range(1, 6):
        chat.post(student if i % 2 else lesson.tutor, lesson.id, f"message {i}", datetime.now(UTC))
    db.session.commit()
    cookie = session_cookie(base, lesson.tutor.email, factories.PASSWORD)
    ws = connect(base, lesson.id, cookie, after=2)  # the page had seen 1 and 2
    try:
        assert [m["seq"] for m in frames(ws, 3)] == [3, 4, 5]
        chat.post(student, lesson.id, "message 6", datetime.now(UTC))
        db.session.commit()
        assert [m["body"] for m in frames(ws, 1)] == ["message 6"]
    finally:
        ws.close()


def _database_url(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"]


def test_one_subscriber_thread_serves_every_socket_of_a_process(app, live_server):
    first = running_lesson()
    second = running_lesson(timedelta(hours=2), teacher=first.tutor)
    base = live_server.url
    tutor_cookie = session_cookie(base, first.tutor.email, factories.PASSWORD)
    sockets = [connect(base, first.id, tutor_cookie), connect(base, second.id, tutor_cookie),
               connect(base, first.id, session_cookie(base, first.students[0].email, factories.PASSWORD))]
    try:
        hub = chat.hub(app)
        assert hub.subscribed.wait(10)
        assert eventually(lambda: hub.socket_count() == 3)  # each joins just after its handshake
        assert sum(t.name == "chat-subscriber" and t is hub._thread for t in threading.enumerate()) == 1
    finally:
        for ws in sockets:
            ws.close()


def test_two_server_processes_fan_out_through_redis(app, redis_url, tmp_path):
    lesson = running_lesson()
    tutor_email, student_email, lesson_id = lesson.tutor.email, lesson.students[0].email, lesson.id
    db.session.commit()
    with WebProcess(_database_url(app), redis_url, log_path=tmp_path / "one.log") as one, \
            WebProcess(_database_url(app), redis_url, log_path=tmp_path / "two.log") as two:
        tutor = connect(one.url, lesson_id, session_cookie(one.url, tutor_email, factories.PASSWORD))
        student = connect(two.url, lesson_id, session_cookie(two.url, student_email, factories.PASSWORD))
        try:
            tutor.send(json.dumps({"type": "message", "body": "From process one", "ref": 1}))
            assert frames(student, 1)[0]["body"] == "From process one"
            student.send(json.dumps({"type": "message", "body": "From process two", "ref": 1}))
            assert [m["body"] for m in frames(tutor, 2)] == ["From process one", "From process two"]
        finally:
            tutor.close()
            student.close()


def test_with_redis_down_messages_are_stored_and_reach_the_same_process(app, live_server, redis_outage):
    lesson = running_lesson()
    base = live_server.url
    tutor = connect(base, lesson.id, session_cookie(base, lesson.tutor.email, factories.PASSWORD))
    student_cookie = session_cookie(base, lesson.students[0].email, factories.PASSWORD)
    student = connect(base, lesson.id, student_cookie)
    try:
        redis_outage.kill()
        student.send(json.dumps({"type": "message", "body": "Redis is down", "ref": 1}))
        assert frames(student, 1, "ack")[0]["seq"] == 1
        assert frames(tutor, 1)[0]["body"] == "Redis is down"
        form = requests.Session()
        form.headers["Cookie"] = student_cookie
        page = form.get(f"{base}/lessons/{lesson.id}/room", timeout=10)
        assert page.status_code == 200
    finally:
        tutor.close()
        student.close()
    db.session.commit()  # a fresh snapshot: the socket's thread stored it
    assert db.session.scalar(db.select(db.func.count(ChatMessage.id))) == 1


def test_the_room_names_whom_the_lesson_is_with_as_the_viewer_sees_it(app, client):
    lesson = running_lesson()
    tutor, student = lesson.tutor, lesson.students[0]
    subject = lesson.subject.name
    login(client, tutor.email, factories.PASSWORD)
    page = words(client.get(f"/lessons/{lesson.id}/room"))
    assert f"{subject} with {student.name}</h1>" in page and f"{subject} with {tutor.name}" not in page
    client.post("/logout", data={"csrf_token": csrf_for(client)})
    login(client, student.email, factories.PASSWORD)
    assert f"{subject} with {tutor.name}</h1>" in words(client.get(f"/lessons/{lesson.id}/room"))
