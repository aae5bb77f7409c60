"""Sign-ups, confirmations and log-ins at the same moment, against a running server: never a 5xx, and users and
tokens consistent (one account per email, one token per request)."""
from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, select

from tests import factories
from webapp.extensions import db
from webapp.models import ApiToken, Child, Notification, OutboxMessage, PendingRegistration, User
from webapp.services.notify import notify

RACERS = 12


def _race(count: int, action) -> list:
    """Run `action(i)` in `count` threads released at the same instant; their results in any order."""
    barrier = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        outcome = action(i)
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(results) == count, "a request never answered"
    return results


def _register_form(base: str, email: str) -> requests.Response:
    session = requests.Session()
    page = session.get(f"{base}/register", timeout=60).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return session.post(f"{base}/register", timeout=60, data={
        "csrf_token": token, "name": "Racer", "email": email, "password": "long-enough-password",
        "role": "student", "timezone": "Europe/London"})


def test_simultaneous_sign_ups_all_get_their_answer_and_their_link(app, live_server):
    results = _race(RACERS, lambda i: _register_form(live_server.url, f"racer{i}@example.com"))
    assert [r.status_code for r in results] == [200] * RACERS, [r.status_code for r in results]
    assert all("Check your email" in r.text for r in results)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PendingRegistration)) == RACERS
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.template == "confirm_registration")) == RACERS


def test_simultaneous_confirmations_of_one_email_make_one_account_and_never_a_5xx(app, live_server):
    _race(RACERS, lambda i: _register_form(live_server.url, "same@example.com"))
    db.session.rollback()
    links = [urlsplit(m.context["url"]).path for m in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.template == "confirm_registration"))]
    assert len(links) == RACERS
    pages = []
    for path in links:  # each link opened in its own browser first (GET shows, POST acts)
        session = requests.Session()
        page = session.get(live_server.url + path, timeout=60)
        assert page.status_code == 200
        pages.append((session, path, re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)))
    # Half the presses are of the first link (a double click, or the link open in several tabs), the others of
    # their own links, all at the same instant.

    def press(i: int) -> requests.Response:
        opened, path, token = pages[0] if i % 2 else pages[i]
        session = requests.Session()
        session.cookies.update(opened.cookies)
        return session.post(live_server.url + path, data={"csrf_token": token}, timeout=60, allow_redirects=False)

    responses = _race(RACERS, press)
    statuses = sorted(r.status_code for r in responses)
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(302) == 1, statuses
    assert not any("Nothing was changed" in r.text for r in responses)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User).where(User.email == "same@example.com")) == 1


def test_simultaneous_api_sign_ups_never_answer_5xx(app, live_server):
    def register(i: int) -> int:
        return requests.post(f"{live_server.url}/api/auth/register", timeout=60, json={
            "name": "Racer", "email": f"api{i % 3}@example.com", "password": "long-enough-password",
            "role": "student", "timezone": "Europe/London"}).status_code

    statuses = _race(RACERS, register)
    assert statuses == [202] * RACERS, statuses


def test_simultaneous_token_requests_all_get_a_token_that_works(app, live_server):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    user = factories.user("student")
    email = user.email

    def token(_i: int) -> tuple[int, dict]:
        response = requests.post(f"{live_server.url}/api/auth/token", timeout=60,
                                 json={"email": email, "password": factories.PASSWORD})
        return response.status_code, response.json()

    results = _race(RACERS, token)
    assert [status for status, _ in results] == [200] * RACERS, results
    raw_tokens = {body["token"] for _, body in results}
    assert len(raw_tokens) == RACERS
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id)) == RACERS
    for raw in list(raw_tokens)[:3]:
        me = requests.get(f"{live_server.url}/api/me", headers={"Authorization": f"Bearer {raw}"}, timeout=60)
        assert me.status_code == 200 and me.json()["email"] == email


def test_many_different_writes_at_once_from_logged_in_browsers_never_answer_5xx(app, live_server):
    """The class, not two endpoints: settings, children, notifications and tokens written at the same instant."""
    parents = [factories.user("parent") for _ in range(4)]
    for parent in parents:
        for n in range(3):
            notify(parent, kind="lesson_reminder", title=f"Reminder {n}")
    db.session.commit()
    emails = [p.email for p in parents]
    browsers = []
    for email in emails:
        session = requests.Session()
        page = session.get(f"{live_server.url}/login", timeout=60).text
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert session.post(f"{live_server.url}/login", timeout=60, allow_redirects=False, data={
            "csrf_token": token, "email": email, "password": factories.PASSWORD}).status_code == 302
        page = session.get(f"{live_server.url}/settings", timeout=60).text
        browsers.append((session, re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)))

    def write(i: int) -> int:
        session, token = browsers[i % len(browsers)]
        kind = i // len(browsers) % 4
        if kind == 0:
            response = session.post(f"{live_server.url}/settings", timeout=60, allow_redirects=False,
                                    data={"csrf_token": token, "name": f"Parent {i}", "timezone": "Europe/Paris"})
        elif kind == 1:
            response = session.post(f"{live_server.url}/children", timeout=60, allow_redirects=False,
                                    data={"csrf_token": token, "name": f"Kid {i}", "year_level": "Year 5",
                                          "timezone": "Europe/London"})
        elif kind == 2:
            response = session.post(f"{live_server.url}/notifications/read-all", timeout=60, allow_redirects=False,
                                    data={"csrf_token": token})
        else:
            response = requests.post(f"{live_server.url}/api/auth/token", timeout=60, json={
                "email": emails[i % len(emails)], "password": factories.PASSWORD})
        return response.status_code

    statuses = _race(4 * len(browsers) * 2, write)
    assert all(status < 500 for status in statuses), statuses
    assert all(status in (200, 302, 303) for status in statuses), statuses
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Child)) == 2 * len(browsers)
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.read_at.is_(None))) == 0
