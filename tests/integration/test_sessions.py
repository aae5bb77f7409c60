"""Sessions and tokens end when the user says so: log out, log out everywhere, password change and reset, revoke."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from flask_login.utils import encode_cookie
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_for, csrf_from, login
from webapp.extensions import db
from webapp.models import ApiToken, LoginSession, OutboxMessage, User
from webapp.services import accounts, outbox, sessions

NEW_PASSWORD = "a-brand-new-password"


def _copy_of(client, app):
    """A second browser holding a copy of `client`'s session cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _logged_in(client) -> bool:
    return client.get("/settings").status_code == 200


def _bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


def _post(client, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_for(client), **(data or {})})


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# --- log out -----------------------------------------------------------------------------------------------

def test_a_copied_session_cookie_stops_working_after_logout(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    thief = _copy_of(client, app)
    assert _logged_in(thief)
    response = _post(client, "/logout")
    assert response.status_code == 302
    assert not _logged_in(client)
    assert not _logged_in(thief)
    assert db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id)) is None


def test_a_remember_me_cookie_for_an_ended_session_does_not_log_in(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    session_id = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    assert session_id is not None
    with client.session_transaction() as stored:
        cookie_id = stored["_user_id"]
    assert cookie_id.startswith(f"{user.id}.")
    remembered = app.test_client()
    remembered.set_cookie("remember_token", encode_cookie(cookie_id))
    assert _logged_in(remembered)  # the remember-me cookie carries the same server-side session
    _post(client, "/logout")
    again = app.test_client()
    again.set_cookie("remember_token", encode_cookie(cookie_id))
    assert not _logged_in(again)


def test_a_cookie_naming_only_a_user_id_no_longer_logs_in(app):
    user = factories.user()
    forged = app.test_client()
    forged.set_cookie("remember_token", encode_cookie(str(user.id)))
    assert not _logged_in(forged)


def test_logging_out_one_browser_leaves_the_others_logged_in(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    laptop = app.test_client()
    login(laptop, user.email, factories.PASSWORD)
    _post(client, "/logout")
    assert _logged_in(laptop)


# --- log out everywhere --------------------------------------------------------------------------------------

def test_log_out_everywhere_ends_every_browser_and_app_token(app, client):
    user = factories.user()
    other = factories.user()
    login(client, user.email, factories.PASSWORD)
    laptop = app.test_client()
    login(laptop, user.email, factories.PASSWORD)
    thief = _copy_of(laptop, app)
    raw, _ = accounts.issue_api_token(user)
    others_raw, _ = accounts.issue_api_token(other)
    assert "1 other browser and 1\n    app" in client.get("/settings").get_data(as_text=True)

    response = _post(client, "/settings/log-out-everywhere")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert not _logged_in(client) and not _logged_in(laptop) and not _logged_in(thief)
    assert client.get("/api/me", headers=_bearer(raw)).status_code == 401
    assert client.get("/api/me", headers=_bearer(others_raw)).status_code == 200  # someone else's stays


def test_log_out_everywhere_needs_the_csrf_token(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    assert client.post("/settings/log-out-everywhere").status_code == 400
    assert _logged_in(client)


# --- password change -----------------------------------------------------------------------------------------

def test_changing_the_password_logs_out_the_other_browsers_and_apps_but_not_this_one(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    laptop = app.test_client()
    login(laptop, user.email, factories.PASSWORD)
    thief = _copy_of(client, app)
    raw, _ = accounts.issue_api_token(user)

    response = _post(client, "/settings/password", {"current_password": factories.PASSWORD,
                                                     "new_password": NEW_PASSWORD})
    assert response.status_code == 303
    assert "Password changed" in client.get("/settings").get_data(as_text=True)
    assert _logged_in(client)
    assert not _logged_in(laptop)
    assert _logged_in(thief)  # a copy of *this* browser's cookie is this browser: log out everywhere ends it
    assert client.get("/api/me", headers=_bearer(raw)).status_code == 401
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None
    assert accounts.authenticate(user.email, factories.PASSWORD) is None
    (told,) = _mails(user.email, "password_changed")
    assert told.context["how"] == "changed in the settings" and told.context["forgot_url"].endswith("/forgot-password")
    subject, text, _ = outbox.render_email(told.template, told.context)
    assert subject == "Your Lessonbook password was changed" and "changed in the settings" in text


@pytest.mark.parametrize("current, new, field, says", [
    ("not-my-password", NEW_PASSWORD, "current_password", "That is not your current password."),
    (factories.PASSWORD, "short", "new_password", "Use at least 10 characters."),
    (factories.PASSWORD, "", "new_password", "New password is missing: please fill it in."),
])
def test_a_wrong_current_password_or_a_weak_new_one_is_refused_in_words_and_changes_nothing(
        app, client, current, new, field, says):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    laptop = app.test_client()
    login(laptop, user.email, factories.PASSWORD)
    raw, _ = accounts.issue_api_token(user)
    response = _post(client, "/settings/password", {"current_password": current, "new_password": new})
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    assert accounts.authenticate(user.email, factories.PASSWORD) is not None
    assert _logged_in(laptop) and client.get("/api/me", headers=_bearer(raw)).status_code == 200
    assert _mails(user.email, "password_changed") == []


# --- password reset ------------------------------------------------------------------------------------------

def _mails(to: str, template: str) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template,
                                                               OutboxMessage.to_address == to)))


def _reset_mails(to: str) -> list[OutboxMessage]:
    return _mails(to, "password_reset")


def _ask_for_reset(client, email: str):
    page = client.get("/forgot-password").get_data(as_text=True)
    return client.post("/forgot-password", data={"email": email, "csrf_token": csrf_from(page)})


def _reset_path(message: OutboxMessage) -> str:
    return re.search(r"https?://[^/]+(/reset/[^\s\"]+)", message.context["url"]).group(1)


def test_forgot_password_gives_the_same_answer_for_an_unknown_email_and_sends_nothing(app, client):
    user = factories.user(email="known@example.com")
    known = _ask_for_reset(client, "known@example.com")
    unknown = _ask_for_reset(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    def answer(response, email):  # the page's words (the CSRF token in the header differs by the second)
        page = response.get_data(as_text=True)
        return page[page.index("<main"):page.index("</main>")].replace(email, "X")
    assert answer(known, "known@example.com") == answer(unknown, "nobody@example.com")
    assert "If X has a Lessonbook account" in answer(known, "known@example.com")
    assert len(_reset_mails(user.email)) == 1
    assert _reset_mails("nobody@example.com") == []


def test_the_reset_link_sets_a_new_password_once_and_ends_every_session_and_token(app, client):
    user = factories.user()
    browser = app.test_client()
    login(browser, user.email, factories.PASSWORD)
    raw, _ = accounts.issue_api_token(user)
    _ask_for_reset(client, user.email)
    (message,) = _reset_mails(user.email)
    path = _reset_path(message)
    assert message.context["url"].startswith("http")

    form = client.get(path)
    assert form.status_code == 200 and "Choose a new password" in form.get_data(as_text=True)
    assert accounts.authenticate(user.email, factories.PASSWORD) is not None  # opening the link changed nothing
    done = client.post(path, data={"new_password": NEW_PASSWORD, "csrf_token": csrf_from(form.get_data(as_text=True))})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None
    assert not _logged_in(browser)
    assert client.get("/api/me", headers=_bearer(raw)).status_code == 401
    assert db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id)) is None
    (told,) = _mails(user.email, "password_changed")
    assert told.context["how"] == "reset from an emailed link"

    again = client.get(path)
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    replay = client.post(path, data={"new_password": "yet-another-password",
                                     "csrf_token": csrf_from(form.get_data(as_text=True))})
    assert replay.status_code == 400
    assert accounts.authenticate(user.email, NEW_PASSWORD) is not None


def test_a_reset_link_expires_after_an_hour(app, client):
    user = factories.user()
    sessions.request_password_reset(user.email, datetime.now(UTC) - timedelta(minutes=61))
    (message,) = _reset_mails(user.email)
    response = client.get(_reset_path(message))
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_a_reset_link_stops_working_once_the_password_is_changed_another_way(app, client):
    user = factories.user()
    _ask_for_reset(client, user.email)
    (message,) = _reset_mails(user.email)
    login(client, user.email, factories.PASSWORD)
    _post(client, "/settings/password", {"current_password": factories.PASSWORD, "new_password": NEW_PASSWORD})
    response = app.test_client().get(_reset_path(message))
    assert response.status_code == 400


def test_a_tampered_reset_link_is_refused(app, client):
    user = factories.user()
    _ask_for_reset(client, user.email)
    (message,) = _reset_mails(user.email)
    response = client.get(_reset_path(message)[:-3] + "xyz")
    assert response.status_code == 400 and "not valid" in response.get_data(as_text=True)


def test_a_weak_new_password_on_the_reset_form_is_refused_and_the_link_still_works(app, client):
    user = factories.user()
    _ask_for_reset(client, user.email)
    path = _reset_path(_reset_mails(user.email)[0])
    form = client.get(path).get_data(as_text=True)
    response = client.post(path, data={"new_password": "short", "csrf_token": csrf_from(form)})
    assert response.status_code == 422 and "Use at least 10 characters." in response.get_data(as_text=True)
    assert client.get(path).status_code == 200


def test_forgot_password_is_rate_limited(app, client):
    factories.user(email="flooded@example.com")
    answers = [_ask_for_reset(client, "flooded@example.com").status_code for _ in range(6)]
    assert answers[:5] == [200] * 5 and answers[5] == 429
    assert len(_reset_mails("flooded@example.com")) == 5


# --- API tokens ----------------------------------------------------------------------------------------------

def test_delete_api_auth_token_revokes_the_token_in_use_only(client):
    user = factories.user()
    phone = client.post("/api/auth/token", json={"email": user.email, "password": factories.PASSWORD,
                                                 "device_name": "Sam's phone"}).get_json()["token"]
    tablet, _ = accounts.issue_api_token(user)
    assert client.delete("/api/auth/token", headers=_bearer(phone)).status_code == 204
    assert client.get("/api/me", headers=_bearer(phone)).status_code == 401
    assert client.delete("/api/auth/token", headers=_bearer(phone)).status_code == 401
    assert client.get("/api/me", headers=_bearer(tablet)).status_code == 200


def test_delete_api_auth_token_without_a_bearer_token_is_refused(client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    response = client.delete("/api/auth/token", headers={"X-CSRFToken": csrf_for(client)})
    assert response.status_code == 401
    assert "Bearer" in response.get_json()["error"]["message"]


def test_a_device_name_that_is_not_text_is_refused(client):
    user = factories.user()
    response = client.post("/api/auth/token", json={"email": user.email, "password": factories.PASSWORD,
                                                    "device_name": 42})
    assert response.status_code == 422 and "device_name" in response.get_json()["error"]["fields"]
    assert db.session.scalar(select(ApiToken)) is None


def test_settings_list_the_tokens_with_device_created_and_last_used(client):
    user = factories.user()
    client.post("/api/auth/token", json={"email": user.email, "password": factories.PASSWORD,
                                         "device_name": "Sam's phone"})
    accounts.issue_api_token(user)
    raw = client.post("/api/auth/token", json={"email": user.email, "password": factories.PASSWORD,
                                               "device_name": "Kitchen tablet"}).get_json()["token"]
    client.get("/api/me", headers=_bearer(raw))
    login(client, user.email, factories.PASSWORD)
    page = client.get("/settings").get_data(as_text=True)
    section = page[page.index('id="app-tokens"'):]
    assert "Sam&#39;s phone" in section and "Kitchen tablet" in section and "Unnamed device" in section
    assert section.count("Never") == 2  # the tablet was used once; the others never
    assert section.count(">Revoke</button>") == 3


def test_a_token_is_revoked_from_settings_and_another_users_token_cannot_be(app, client):
    user, other = factories.user(), factories.user()
    mine, _ = accounts.issue_api_token(user, device_name="Phone")
    theirs, _ = accounts.issue_api_token(other)
    my_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id))
    their_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.id))
    login(client, user.email, factories.PASSWORD)

    assert client.post(f"/settings/tokens/{my_id}/revoke").status_code == 400  # no CSRF token
    assert client.get("/api/me", headers=_bearer(mine)).status_code == 200
    refused = _post(client, f"/settings/tokens/{their_id}/revoke")
    assert refused.status_code == 303
    assert "not on your account" in client.get("/settings").get_data(as_text=True)
    assert client.get("/api/me", headers=_bearer(theirs)).status_code == 200

    assert _post(client, f"/settings/tokens/{my_id}/revoke").status_code == 303
    assert "App token revoked" in client.get("/settings").get_data(as_text=True)
    assert client.get("/api/me", headers=_bearer(mine)).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(client):
    user = factories.user()
    raw, _ = accounts.issue_api_token(user)
    token_id = db.session.scalar(select(ApiToken.id))

    def last_used():
        db.session.expire_all()
        return db.session.get(ApiToken, token_id).last_used_at

    assert last_used() is None
    client.get("/api/me", headers=_bearer(raw))
    first = last_used()
    assert first is not None
    recent = datetime.now(UTC) - timedelta(seconds=30)
    db.session.get(ApiToken, token_id).last_used_at = recent
    db.session.commit()
    client.get("/api/me", headers=_bearer(raw))
    assert last_used() == recent  # used again within the minute: not written
    stale = datetime.now(UTC) - timedelta(minutes=2)
    db.session.get(ApiToken, token_id).last_used_at = stale
    db.session.commit()
    client.get("/api/me", headers=_bearer(raw))
    assert last_used() > stale


# --- lifetime ------------------------------------------------------------------------------------------------

def test_a_log_in_ends_after_its_lifetime_whatever_the_cookie_says(app, client):
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    row = db.session.scalar(select(LoginSession).where(LoginSession.user_id == user.id))
    row.created_at = datetime.now(UTC) - timedelta(days=app.config["LOGIN_SESSION_DAYS"], minutes=1)
    db.session.commit()
    assert not _logged_in(client)


def test_the_purge_job_forgets_ended_log_ins_and_expired_tokens_only(app, client):
    from webapp import jobs
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    laptop = app.test_client()
    login(laptop, user.email, factories.PASSWORD)
    live_raw, _ = accounts.issue_api_token(user)
    accounts.issue_api_token(user, now=datetime.now(UTC) - timedelta(days=91))
    old = db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).first()
    old.created_at = datetime.now(UTC) - timedelta(days=40)
    db.session.commit()

    assert jobs.purge_ended_sessions() == 2
    assert jobs.purge_ended_sessions() == 0  # safe to run twice
    db.session.expire_all()
    assert len(db.session.scalars(select(LoginSession)).all()) == 1
    assert len(db.session.scalars(select(ApiToken)).all()) == 1
    assert client.get("/api/me", headers=_bearer(live_raw)).status_code == 200
    assert _logged_in(client) != _logged_in(laptop)  # exactly one browser's log-in was past its lifetime


def test_logging_in_again_in_the_same_browser_ends_the_log_in_it_replaces(app, client):
    first, second = factories.user(), factories.user()
    login(client, first.email, factories.PASSWORD)
    thief = _copy_of(client, app)
    login(client, second.email, factories.PASSWORD)
    assert not _logged_in(thief)
    assert db.session.scalar(select(LoginSession).where(LoginSession.user_id == first.id)) is None
