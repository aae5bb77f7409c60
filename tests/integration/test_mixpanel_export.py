"""Sending analytics events to Mixpanel with the official library, against the local stand-in of its /track:
batches, retries after an outage, nothing sent twice, nothing lost, opted-out users never sent."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from standins.mixpanel import MixpanelStandIn
from tests import factories
from webapp.adapters.database import serialized_write
from webapp.extensions import db
from webapp.models import AnalyticsEvent
from webapp.services import analytics, mixpanel_export


@pytest.fixture
def mixpanel(app):
    stand_in = MixpanelStandIn(token="tok")
    app.config.update(MIXPANEL_TOKEN="tok", MIXPANEL_TRACK_URL=f"{stand_in.url}/track", MIXPANEL_TIMEOUT_SECONDS=5)
    yield stand_in
    app.config.update(MIXPANEL_TOKEN=None)
    stand_in.close()


def now() -> datetime:
    return datetime.now(UTC)


def add_events(count: int, user_id: int | None = None, prefix: str = "e") -> None:
    with serialized_write() as session:
        for i in range(count):
            analytics.record_event(session, "slots_viewed", dedupe=f"slots_viewed:{prefix}{i}", at=now(),
                                   user_id=user_id, tutor_id=1)


def unsent() -> int:
    db.session.expire_all()
    return len(db.session.scalars(select(AnalyticsEvent.id).where(AnalyticsEvent.sent_at.is_(None))).all())


def test_events_go_in_batches_with_their_dedupe_id_and_once(app, mixpanel):
    student = factories.user("student")
    add_events(7, student.id)
    assert mixpanel_export.send_due(now(), batch=3) == 7
    assert mixpanel.batches == [3, 3, 1] and unsent() == 0
    event = mixpanel.events["slots_viewed:e0"]
    assert event["event"] == "slots_viewed" and event["properties"]["distinct_id"] == str(student.id)
    assert mixpanel_export.send_due(now()) == 0 and mixpanel.batches == [3, 3, 1]  # nothing sent twice


def test_an_outage_delays_the_events_and_a_later_run_sends_them(app, mixpanel):
    add_events(4)
    mixpanel.fail_next = 10
    assert mixpanel_export.send_due(now()) == 0
    assert unsent() == 4 and mixpanel.events == {}
    row = db.session.scalar(select(AnalyticsEvent).order_by(AnalyticsEvent.id))
    assert row.attempts == 1 and row.last_error and row.sending_until > now()
    assert mixpanel_export.send_due(now()) == 0  # still backing off: not even tried
    mixpanel.fail_next = 0
    assert mixpanel_export.send_due(now() + timedelta(minutes=3)) == 4
    assert unsent() == 0 and len(mixpanel.events) == 4


def test_a_sender_that_died_mid_batch_is_replaced_after_its_lease_and_mixpanel_keeps_each_once(app, mixpanel):
    add_events(2)
    assert mixpanel_export._claim(now(), 50)  # a sender claimed them, sent, and died before marking them
    assert mixpanel_export.send_due(now()) == 0  # the lease still holds them
    assert mixpanel_export.send_due(now() + mixpanel_export.LEASE + timedelta(seconds=1)) == 2
    assert mixpanel_export.send_due(now() + mixpanel_export.LEASE + timedelta(seconds=1)) == 0
    assert len(mixpanel.events) == 2


def test_users_who_opted_out_are_never_sent(app, mixpanel):
    private, public = factories.user("student"), factories.user("student")
    private.analytics_opt_out = True
    db.session.commit()
    add_events(2, private.id, "p")
    add_events(1, public.id, "q")
    assert mixpanel_export.send_due(now()) == 1
    assert list(mixpanel.events) == ["slots_viewed:q0"] and unsent() == 0
    skipped = db.session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.skipped.is_(True))).all()
    assert sorted(e.dedupe_id for e in skipped) == ["slots_viewed:p0", "slots_viewed:p1"]


def test_without_a_token_nothing_is_sent_or_marked(app):
    add_events(1)
    assert mixpanel_export.send_due(now()) == 0 and unsent() == 1


def test_the_account_page_opts_out_of_analytics(app, client):
    from tests.conftest import csrf_from, login
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    page = client.get("/settings").get_data(as_text=True)
    assert "Do not send my activity to our analytics service" in page
    client.post("/settings/privacy", data={"csrf_token": csrf_from(page), "analytics_opt_out": "1"})
    db.session.expire_all()
    assert db.session.get(type(student), student.id).analytics_opt_out is True


def test_an_event_mixpanel_refuses_is_tried_a_few_times_then_marked_refused_and_shown_to_admins(app, client, mixpanel):
    add_events(2, prefix="good")
    with serialized_write() as session:  # /track refuses events more than 5 days old
        analytics.record_event(session, "slots_viewed", dedupe="slots_viewed:old", at=now() - timedelta(days=10),
                               tutor_id=1)
    assert mixpanel_export.send_due(now()) == 2  # the batch was refused; alone, the good ones went
    assert set(mixpanel.events) == {"slots_viewed:good0", "slots_viewed:good1"}
    old = lambda: db.session.scalar(select(AnalyticsEvent).where(AnalyticsEvent.dedupe_id == "slots_viewed:old"))  # noqa: E731
    at = now()
    for attempt in range(1, mixpanel_export.MAX_REFUSALS):
        db.session.expire_all()
        assert old().attempts == attempt and not old().refused and old().sent_at is None
        at += timedelta(hours=2)
        assert mixpanel_export.send_due(at) == 0
    db.session.expire_all()
    assert old().refused and old().sent_at is not None and "5 days old" in old().last_error
    mixpanel.fail_next = 0
    assert mixpanel_export.send_due(at + timedelta(days=1)) == 0 and unsent() == 0  # never sent again
    assert mixpanel_export.refused_events()[0] == 1

    from tests.conftest import login
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/analytics").get_data(as_text=True)
    assert "Events Mixpanel refused" in page and "more than 5 days old" in page and "When (UTC)" in page


def test_an_outage_never_marks_events_refused(app, mixpanel):
    add_events(1)
    at = now()
    for _ in range(mixpanel_export.MAX_REFUSALS + 2):
        mixpanel.fail_next = 10
        at += timedelta(hours=2)
        assert mixpanel_export.send_due(at) == 0
    db.session.expire_all()
    row = db.session.scalar(select(AnalyticsEvent))
    assert row.attempts == mixpanel_export.MAX_REFUSALS + 2 and not row.refused and row.sent_at is None
    mixpanel.fail_next = 0
    assert mixpanel_export.send_due(at + timedelta(hours=2)) == 1
