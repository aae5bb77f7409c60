"""Signing up: rate-limited, and the answer never tells whether an email already has an account; the account is
made when the emailed link is followed (GET shows it, POST makes it, once)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from
from webapp.extensions import db
from webapp.models import OutboxMessage, PendingRegistration, User
from webapp.services import accounts

FORM = {"name": "Zed", "password": "long-enough-pw", "role": "student", "timezone": "Asia/Kolkata"}


def emails_to(address: str, template: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == address,
                                                               OutboxMessage.template == template)))


def confirm_by_email(client, address: str):
    """Follow the newest sign-up link emailed to `address` as a user does: open it, press the button."""
    link = urlsplit(emails_to(address, "confirm_registration")[-1].context["url"])
    path = link.path + (f"?{link.query}" if link.query else "")
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def _sign_up(client, email: str, **extra):
    token = csrf_from(client.get("/register").get_data(as_text=True))
    return client.post("/register", data={**FORM, "email": email, "csrf_token": token, **extra})


def _answer(response) -> str:
    """The page's answer (its main section; tokens elsewhere on the page differ per session)."""
    html = response.get_data(as_text=True)
    return html[html.index('<section class="card narrow" id="register-sent">'):html.index("</section>")]


def _users(email: str) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(User).where(User.email == email))


def test_signing_up_emails_a_link_that_makes_the_account_and_logs_in(app, client):
    answer = _sign_up(client, "zed@example.com")
    assert answer.status_code == 200 and "Check your email" in answer.get_data(as_text=True)
    assert _users("zed@example.com") == 0
    done = confirm_by_email(client, "zed@example.com")
    assert done.status_code == 302 and done.headers["Location"].endswith("/tutors")
    user = db.session.scalar(select(User).where(User.email == "zed@example.com"))
    assert (user.name, user.role, user.timezone) == ("Zed", "student", "Asia/Kolkata")
    assert accounts.authenticate("zed@example.com", "long-enough-pw") is not None
    assert "Welcome to Lessonbook, Zed" in client.get("/tutors").get_data(as_text=True)


def test_the_answer_for_a_taken_email_is_the_same_page_and_its_owner_is_told(app, client):
    owner = factories.user("student", email="owner@example.com")
    taken = _sign_up(client, "OWNER@example.com")
    new = _sign_up(app.test_client(), "someone-new@example.com")
    assert taken.status_code == new.status_code == 200
    for_taken, for_new = _answer(taken), _answer(new)
    assert "Check your email" in for_taken
    assert for_taken.replace("owner@example.com", "X") == for_new.replace("someone-new@example.com", "X")
    assert "already exists" not in for_taken
    [told] = emails_to("owner@example.com", "registration_attempt")
    assert told.context["name"] == owner.name and told.context["reset_url"].endswith("/forgot-password")
    assert emails_to("owner@example.com", "confirm_registration") == []
    assert _users("owner@example.com") == 1
    assert accounts.authenticate("owner@example.com", factories.PASSWORD) is not None  # password untouched


def test_the_link_makes_one_account_once_and_a_second_use_is_refused_in_words(app, client):
    _sign_up(client, "zed@example.com")
    path = urlsplit(emails_to("zed@example.com", "confirm_registration")[0].context["url"]).path
    assert confirm_by_email(client, "zed@example.com").status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 404 and "already been used" in again.get_data(as_text=True)
    assert _users("zed@example.com") == 1


def test_two_pending_links_for_one_email_make_one_account(app, client):
    _sign_up(client, "zed@example.com")
    _sign_up(app.test_client(), "zed@example.com", name="Other Zed")
    first, second = [urlsplit(m.context["url"]).path for m in emails_to("zed@example.com", "confirm_registration")]
    browser = app.test_client()
    page = browser.get(first).get_data(as_text=True)
    assert browser.post(first, data={"csrf_token": csrf_from(page)}).status_code == 302
    other = app.test_client()
    assert other.get(second).status_code == 404  # the account exists: every other pending link ended
    assert _users("zed@example.com") == 1


def test_an_expired_link_is_refused(app, client):
    now = datetime.now(UTC)
    accounts.request_registration(email="late@example.com", now=now - timedelta(hours=25), **FORM)
    path = urlsplit(emails_to("late@example.com", "confirm_registration")[0].context["url"]).path
    response = client.get(path)
    assert response.status_code == 404 and "expired" in response.get_data(as_text=True)


def test_opening_the_link_creates_nothing_only_the_button_does(app, client):
    _sign_up(client, "zed@example.com")
    path = urlsplit(emails_to("zed@example.com", "confirm_registration")[0].context["url"]).path
    assert client.get(path).status_code == 200
    assert client.get(path).status_code == 200  # a mail scanner fetching it twice changes nothing
    assert _users("zed@example.com") == 0
    assert client.post(path, data={}).status_code == 400  # no CSRF token: refused
    assert _users("zed@example.com") == 0


def test_sign_ups_are_rate_limited_per_client_and_per_email(app, client):
    app.config["REGISTER_RATE_LIMIT"] = "3 per hour"
    try:
        statuses = [_sign_up(client, f"a{i}@example.com").status_code for i in range(4)]
        assert statuses == [200, 200, 200, 429]
        # Per email address too: from other clients (other addresses in production), the fourth for one inbox waits.
        api = [app.test_client().post("/api/auth/register", json={**FORM, "email": "inbox@example.com"},
                                      environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code for i in range(4)]
        assert api == [202, 202, 202, 429]
    finally:
        app.config["REGISTER_RATE_LIMIT"] = "1000 per hour"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PendingRegistration)) == 6
