"""The notification centre: the bell's unread count as an HTMX partial, the page, and marking your own read."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_for, login
from webapp.extensions import db
from webapp.models import Notification, User
from webapp.services import notifications
from webapp.services.errors import NotFound
from webapp.services.notify import notify

HX = {"HX-Request": "true"}


def _signed_in(client) -> User:
    user = factories.user()
    login(client, user.email, factories.PASSWORD)
    return user


def _notice(user_id: int, title: str = "Mathematics tomorrow at 10:00", *, read: bool = False, **kwargs) -> int:
    notice = notify(db.session.get(User, user_id), kind="lesson_reminder", title=title, push=False, **kwargs)
    if read:
        notice.read_at = datetime.now(UTC)
    db.session.commit()
    return notice.id


def _unread(user_id: int) -> list[int]:
    db.session.rollback()
    return list(db.session.scalars(select(Notification.id).where(Notification.user_id == user_id,
                                                                 Notification.read_at.is_(None))
                                   .order_by(Notification.id)))


def test_the_bell_partial_shows_only_your_unread_count_to_htmx(app, client):
    user = _signed_in(client)
    for title in ("Reminder", "Summary note from Ada"):
        _notice(user.id, title)
    _notice(user.id, "Old news", read=True)
    _notice(factories.user().id, "Someone else's")

    response = client.get("/notifications/bell", headers=HX)
    assert response.status_code == 200
    assert "HX-Request" in response.vary
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<a id="notification-bell"') and "<html" not in body
    assert 'data-unread="2"' in body and 'aria-label="Notifications, 2 unread"' in body
    assert 'href="/notifications"' in body  # a real link for a click, and for browsers without htmx


def test_the_bell_without_htmx_is_the_notification_centre_page(app, client):
    user = _signed_in(client)
    _notice(user.id, "Ada asks to move Mathematics")
    response = client.get("/notifications/bell")
    assert response.status_code == 200
    assert "HX-Request" in response.vary
    page = response.get_data(as_text=True)
    assert "<html" in page and "<h1>Notifications</h1>" in page
    assert "Ada asks to move Mathematics" in page and 'data-unread="1"' in page


def test_every_page_shows_the_bell_with_the_count_to_signed_in_users_only(app, client):
    assert 'id="notification-bell"' not in client.get("/tutors").get_data(as_text=True)
    user = _signed_in(client)
    _notice(user.id)
    page = client.get("/tutors").get_data(as_text=True)
    assert 'id="notification-bell"' in page and 'data-unread="1"' in page
    assert 'hx-get="/notifications/bell"' in page and "every 60s" in page


def test_the_centre_lists_your_notifications_newest_first_and_marks_the_unread(app, client):
    user = _signed_in(client)
    first = _notice(user.id, "First", read=True)
    second = _notice(user.id, "Second", body="Your tutor added notes.", url="/lessons/3/notes")
    _notice(factories.user().id, "Someone else's")

    response = client.get("/notifications")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.vary
    assert page.index("Second") < page.index("First")
    assert "Someone else's" not in page
    assert f'id="notification-{second}" class="notification unread"' in page
    assert f'id="notification-{first}" class="notification read"' in page
    assert '<a href="/lessons/3/notes">Second</a>' in page and "Your tutor added notes." in page
    assert f'/notifications/{second}/read' in page and f'/notifications/{first}/read' not in page

    partial = client.get("/notifications", headers=HX).get_data(as_text=True)
    assert partial.lstrip().startswith('<div id="notification-list">') and "<html" not in partial


def test_marking_one_read_with_htmx_returns_the_list_and_tells_the_bell(app, client):
    user = _signed_in(client)
    keep, read = _notice(user.id, "Keep"), _notice(user.id, "Read me")
    response = client.post(f"/notifications/{read}/read", headers={**HX, "X-CSRFToken": csrf_for(client)})
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "notifications-changed"
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="notification-list">')
    assert f'id="notification-{read}" class="notification read"' in body
    assert _unread(user.id) == [keep]
    assert 'data-unread="1"' in client.get("/notifications/bell", headers=HX).get_data(as_text=True)


def test_marking_read_without_htmx_goes_back_to_the_centre(app, client):
    user = _signed_in(client)
    notice = _notice(user.id)
    response = client.post(f"/notifications/{notice}/read", data={"csrf_token": csrf_for(client)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/notifications")
    assert _unread(user.id) == []
    again = client.post(f"/notifications/{notice}/read", data={"csrf_token": csrf_for(client)})
    assert again.status_code == 303  # already read: nothing to do, no error


def test_someone_elses_notification_is_not_found_and_stays_unread(app, client):
    _signed_in(client)
    owner = factories.user()
    theirs = _notice(owner.id, "Private")
    response = client.post(f"/notifications/{theirs}/read", headers={**HX, "X-CSRFToken": csrf_for(client)})
    assert response.status_code == 404
    assert _unread(owner.id) == [theirs]
    for missing in (theirs + 1000, 2**40):
        assert client.post(f"/notifications/{missing}/read", headers={"X-CSRFToken": csrf_for(client)}).status_code == 404


def test_mark_all_read_marks_only_yours(app, client):
    user = _signed_in(client)
    other = factories.user()
    for title in ("One", "Two", "Three"):
        _notice(user.id, title)
    theirs = _notice(other.id, "Theirs")
    page = client.get("/notifications").get_data(as_text=True)
    assert "3 unread" in page and "Mark all as read" in page

    response = client.post("/notifications/read-all", headers={**HX, "X-CSRFToken": csrf_for(client)})
    assert response.status_code == 200 and response.headers["HX-Trigger"] == "notifications-changed"
    assert "Mark all as read" not in response.get_data(as_text=True)
    assert _unread(user.id) == []
    assert _unread(other.id) == [theirs]

    plain = client.post("/notifications/read-all", data={"csrf_token": csrf_for(client)})
    assert plain.status_code == 303


def test_marking_read_needs_the_csrf_token(app, client):
    user = _signed_in(client)
    notice = _notice(user.id)
    assert client.post(f"/notifications/{notice}/read", headers=HX).status_code == 400
    assert client.post("/notifications/read-all").status_code == 400
    assert _unread(user.id) == [notice]


def test_signed_out_visitors_are_sent_to_log_in(app, client):
    page = client.get("/notifications")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    bell = client.get("/notifications/bell", headers=HX)
    assert bell.status_code == 401 and "/login" in bell.headers["HX-Redirect"]


def test_older_notifications_are_a_page_further(app, client):
    user = _signed_in(client)
    ids = [_notice(user.id, f"Notice {n}") for n in range(notifications.PAGE_SIZE + 3)]
    first = client.get("/notifications").get_data(as_text=True)
    assert f"Notice {notifications.PAGE_SIZE + 2}" in first and "Notice 2<" not in first
    oldest_shown = ids[3]
    assert f'/notifications?before={oldest_shown}' in first
    older = client.get(f"/notifications?before={oldest_shown}").get_data(as_text=True)
    assert all(f"Notice {n}<" in older for n in range(3)) and "Notice 3<" not in older
    assert "Older notifications" not in older
    assert client.get("/notifications?before=-4").status_code == 200  # nonsense is the first page


def test_a_link_that_is_not_one_of_ours_is_shown_as_text_and_markup_is_escaped(app, client):
    user = _signed_in(client)
    _notice(user.id, "<script>alert(1)</script>", url="javascript:alert(1)")
    page = client.get("/notifications").get_data(as_text=True)
    assert "javascript:" not in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


# --- the service, for the other shells (API, jobs) ----------------------------------------------------------------

def test_the_service_scopes_everything_to_the_user(app):
    user, other = factories.user(), factories.user()
    mine = [_notice(user.id, f"Mine {n}") for n in range(3)]
    theirs = _notice(other.id)
    assert [n.id for n in notifications.recent(user)] == list(reversed(mine))
    assert notifications.unread_count(user) == 3
    with pytest.raises(NotFound):
        notifications.mark_read(user, theirs, now=datetime.now(UTC))
    when = datetime.now(UTC)
    assert notifications.mark_read(user, mine[0], now=when).read_at == when
    assert notifications.mark_all_read(user, now=when) == 2
    assert notifications.unread_count(user) == 0 and notifications.unread_count(other) == 1
