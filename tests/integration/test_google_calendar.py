"""Google Calendar through the CalendarSource interface, against the local Google stand-in (standins/): a tutor
connects with OAuth (code + PKCE, refresh token stored sealed), each sync reads free/busy and replaces the busy
time, and a revoked access fails closed with a message telling the tutor to connect again."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from standins.google_calendar import GoogleCalendarStandIn
from tests import factories
from tests.conftest import login
from webapp.adapters import sealed
from webapp.extensions import db
from webapp.models import CalendarEvent, CalendarSource
from webapp.services import availability, calendar_sync

pytestmark = pytest.mark.integration


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def google(app, monkeypatch):
    """The stand-in, with the app configured for it as for Google itself."""
    stand_in = GoogleCalendarStandIn(client_id="lessonbook-test", client_secret="test-secret")
    for key, value in {"GOOGLE_CLIENT_ID": "lessonbook-test", "GOOGLE_CLIENT_SECRET": "test-secret",
                       "GOOGLE_OAUTH_AUTH_URL": stand_in.auth_url, "GOOGLE_OAUTH_TOKEN_URL": stand_in.token_url,
                       "GOOGLE_CALENDAR_API_BASE": stand_in.api_base}.items():
        monkeypatch.setitem(app.config, key, value)
    yield stand_in
    stand_in.close()


def connect(client, google, decision: str = "allow"):
    """Press "Connect Google Calendar", answer Google's consent page, and follow the redirect back."""
    leave = client.get("/tutor/calendars/google")
    assert leave.status_code == 303 and leave.headers["Location"].startswith(google.auth_url)
    params = {k: v[0] for k, v in parse_qs(urlsplit(leave.headers["Location"]).query).items()}
    assert params["scope"] == "https://www.googleapis.com/auth/calendar.freebusy"
    assert params["access_type"] == "offline" and params["code_challenge_method"] == "S256"
    back = requests.post(google.url + "/o/oauth2/v2/auth/decision", data={**params, "decision": decision},
                         allow_redirects=False, timeout=5)
    target = urlsplit(back.headers["Location"])
    return client.get(f"{target.path}?{target.query}", follow_redirects=True)


def test_a_tutor_connects_google_and_each_sync_replaces_the_busy_time(app, client, google):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=120)
    login(client, tutor.email, factories.PASSWORD)
    assert "Connect Google Calendar" in client.get("/tutor/calendars").get_data(as_text=True)
    page = connect(client, google).get_data(as_text=True)
    assert "Google Calendar connected" in page and "Waiting for the first sync" in page
    [source] = db.session.scalars(select(CalendarSource)).all()
    assert source.kind == "google" and source.url is None
    # The refresh token is stored sealed, never as it is, and never shown.
    [refresh] = google.refresh_tokens
    assert refresh not in source.credentials and sealed.unseal(source.credentials, app.config["SECRET_KEY"]) == refresh
    assert refresh not in page

    now = utc(2027, 3, 1, 8)
    google.set_busy([(utc(2027, 3, 2, 10), utc(2027, 3, 2, 11)), (utc(2027, 5, 4, 9), utc(2027, 5, 4, 10))])
    assert calendar_sync.sync_source(source.id, now) == "synced"
    assert busy_rows() == [(utc(2027, 3, 2, 10), utc(2027, 3, 2, 11)), (utc(2027, 5, 4, 9), utc(2027, 5, 4, 10))]
    queries = [r for r in google.requests if r["path"] == "/calendar/v3/freeBusy"]
    assert len(queries) == 3  # 121 days, asked in pieces of at most 60
    slots = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, utc(2027, 3, 2), utc(2027, 3, 3),
                                                             60), now).slots
    assert [s.hour for s in slots if s.minute == 0] == [9, 11, 12]

    google.set_busy([(utc(2027, 3, 9, 12), utc(2027, 3, 9, 13))])
    calendar_sync.sync_source(source.id, now + timedelta(minutes=15))
    assert busy_rows() == [(utc(2027, 3, 9, 12), utc(2027, 3, 9, 13))]


def busy_rows():
    db.session.commit()
    return [(e.start_at, e.finish_at) for e in db.session.scalars(select(CalendarEvent).order_by(CalendarEvent.start_at))]


def test_revoked_access_fails_the_sync_and_after_an_hour_hides_the_tutor(app, client, google):
    tutor, teach = factories.tutor(weekly=[(1, "09:00", "13:00")], horizon_days=60)
    login(client, tutor.email, factories.PASSWORD)
    connect(client, google)
    [source] = db.session.scalars(select(CalendarSource)).all()
    now = utc(2027, 3, 1, 8)
    calendar_sync.sync_source(source.id, now)
    google.revoke_all()
    assert calendar_sync.sync_source(source.id, now + timedelta(minutes=15)) == "failed"
    db.session.commit()
    assert "connect it again" in db.session.get(CalendarSource, source.id).last_error
    request = availability.SlotRequest(tutor.id, teach.id, utc(2027, 3, 2), utc(2027, 3, 3), 60)
    assert availability.find_slots(request, now + timedelta(minutes=59)).slots
    assert availability.find_slots(request, now + timedelta(minutes=61)).slots == []

    # Connecting again replaces the sealed token of the same source and syncs afresh.
    connect(client, google)
    db.session.commit()
    assert [s.id for s in db.session.scalars(select(CalendarSource))] == [source.id]
    assert calendar_sync.sync_source(source.id, now + timedelta(minutes=70)) == "synced"
    assert availability.find_slots(request, now + timedelta(minutes=71)).slots


def test_a_callback_that_did_not_start_here_or_was_refused_connects_nothing(app, client, google):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    forged = client.get("/tutor/calendars/google/callback?code=4/abc&state=forged", follow_redirects=True)
    assert "did not start here" in forged.get_data(as_text=True)
    denied = connect(client, google, decision="deny")
    assert "access was not allowed" in denied.get_data(as_text=True)
    assert db.session.scalars(select(CalendarSource)).all() == []


def test_google_is_offered_only_when_configured(app, client):
    tutor, _ = factories.tutor()
    login(client, tutor.email, factories.PASSWORD)
    assert "Connect Google Calendar" not in client.get("/tutor/calendars").get_data(as_text=True)
    assert client.get("/tutor/calendars/google").status_code == 404
