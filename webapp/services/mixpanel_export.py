"""Sending the analytics events to Mixpanel, when MIXPANEL_TOKEN is set: claim a batch of unsent rows with a lease
(a short write), send it outside any transaction with `$insert_id` = the dedupe id, then mark the rows sent. If
Mixpanel is down the rows are given back with a backoff and wait: nothing is lost; a crash mid-send leaves the lease
to expire and the rows are sent again, which Mixpanel's `$insert_id` dedupe turns into nothing sent twice. Events of
users who opted out of analytics are marked skipped, never sent. A batch Mixpanel refuses as invalid (not an outage)
is sent again one event at a time, so one bad event cannot hold up the rest; an event refused on its own
MAX_REFUSALS times is marked refused with Mixpanel's reason (shown on the admin analytics page) and never sent again.
Outages keep retrying with the backoff, however long they last."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from ..adapters.database import serialized_write
from ..adapters.mixpanel_sink import MAX_BATCH, MixpanelDown, MixpanelRefused, OutgoingEvent, send_batch
from ..extensions import db
from ..models import AnalyticsEvent, User

LEASE = timedelta(minutes=5)
MAX_REFUSALS = 3  # tries for an event Mixpanel refuses as invalid; a refusal may be a passing fault on its side


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** attempts, 60))


def _claim(now: datetime, batch: int) -> list[int]:
    """Take up to `batch` unsent rows whose lease is free, in id order, for LEASE."""
    with serialized_write() as session:
        ids = list(session.scalars(select(AnalyticsEvent.id).where(
            AnalyticsEvent.sent_at.is_(None),
            or_(AnalyticsEvent.sending_until.is_(None), AnalyticsEvent.sending_until <= now))
            .order_by(AnalyticsEvent.id).limit(batch).with_for_update(skip_locked=True)))  # two senders: disjoint
        if ids:
            session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids))
                            .values(sending_until=now + LEASE))
    return ids


def _send(token: str, outgoing: dict[int, OutgoingEvent]) -> tuple[list[int], dict[int, str]]:
    """Send the batch; if Mixpanel refuses it, send its events alone. Returns (ids taken, {id: Mixpanel's reason}
    for those refused); MixpanelDown if Mixpanel is down."""
    cfg = current_app.config
    if not outgoing:
        return [], {}
    try:
        send_batch(token, cfg["MIXPANEL_TRACK_URL"], list(outgoing.values()), cfg["MIXPANEL_TIMEOUT_SECONDS"])
        return list(outgoing), {}
    except MixpanelRefused as refusal:
        if len(outgoing) == 1:
            return [], {next(iter(outgoing)): refusal.reason}
    done, refused = [], {}
    for event_id, event in outgoing.items():
        try:
            send_batch(token, cfg["MIXPANEL_TRACK_URL"], [event], cfg["MIXPANEL_TIMEOUT_SECONDS"])
            done.append(event_id)
        except MixpanelRefused as exc:
            refused[event_id] = exc.reason
    return done, refused


def _wait(session, ids: list[int], error: str, now: datetime) -> None:
    """Mixpanel is down: count the try and hold the rows back for the backoff (an outage never gives up)."""
    for event in session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids))):
        event.attempts += 1
        event.last_error = error[:500]
        event.sending_until = now + _backoff(event.attempts)


def _mark_skipped(session, ids: list[int], now: datetime) -> None:
    """Opted-out users' events are done without being sent."""
    if ids:
        session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(ids)).values(
            sent_at=now, skipped=True, sending_until=None))


def refused_events(limit: int = 20) -> tuple[int, list[AnalyticsEvent]]:
    """How many events Mixpanel refused for good, and the newest `limit` of them with its reason."""
    count = db.session.scalar(select(func.count()).select_from(AnalyticsEvent).where(AnalyticsEvent.refused))
    rows = db.session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.refused)
                              .order_by(AnalyticsEvent.id.desc()).limit(limit)).all()
    return count or 0, list(rows)


def send_due(now: datetime, batch: int = MAX_BATCH, max_batches: int = 20) -> int:
    """Send unsent events in batches until none are left, Mixpanel fails, or `max_batches`; returns how many sent."""
    cfg = current_app.config
    token = cfg.get("MIXPANEL_TOKEN")
    if not token:
        return 0
    sent = 0
    for _ in range(max_batches):
        ids = _claim(now, min(batch, MAX_BATCH))
        if not ids:
            break
        rows = db.session.execute(select(AnalyticsEvent, User.analytics_opt_out)
                                  .outerjoin(User, User.id == AnalyticsEvent.user_id)
                                  .where(AnalyticsEvent.id.in_(ids)).order_by(AnalyticsEvent.id)).all()
        skipped = [e.id for e, opted_out in rows if opted_out]
        outgoing = {e.id: OutgoingEvent(str(e.user_id) if e.user_id else f"anonymous:{e.dedupe_id}", e.name,
                                        {**(e.properties or {}), "$insert_id": e.dedupe_id,
                                         "time": int(e.occurred_at.timestamp())})
                    for e, opted_out in rows if not opted_out}
        db.session.rollback()  # no transaction stays open across the call
        try:
            done, refused = _send(token, outgoing)
        except MixpanelDown as exc:  # an outage (a refusal is not one): all of them wait; resending is deduped
            current_app.logger.warning("Mixpanel did not take %s events; they wait: %s", len(outgoing), exc)
            with serialized_write() as session:
                _wait(session, list(outgoing), str(exc), now)
                _mark_skipped(session, skipped, now)
            break
        with serialized_write() as session:
            if done:
                session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(done)).values(
                    sent_at=now, sending_until=None, last_error=None))
            for event in session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.id.in_(list(refused)))):
                event.attempts += 1
                event.last_error = refused[event.id][:500]
                if event.attempts >= MAX_REFUSALS:
                    event.refused, event.sent_at, event.sending_until = True, now, None
                else:
                    event.sending_until = now + _backoff(event.attempts)
            _mark_skipped(session, skipped, now)
        if refused:
            current_app.logger.warning("Mixpanel refused %s events: %s", len(refused), next(iter(refused.values())))
        sent += len(done)
    return sent
