"""Sending the analytics events to Mixpanel, when MIXPANEL_TOKEN is set: claim a batch of unsent rows with a lease
(a short write), send it outside any transaction with `$insert_id` = the dedupe id, then mark the rows sent. If
Mixpanel is down the rows are given back with a backoff and wait: nothing is lost; a crash mid-send leaves the lease
to expire and the rows are sent again, which Mixpanel's `$insert_id` dedupe turns into nothing sent twice. Events of
users who opted out of analytics are marked skipped, never sent."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..adapters.database import serialized_write
from ..adapters.mixpanel_sink import MAX_BATCH, MixpanelDown, OutgoingEvent, send_batch
from ..extensions import db
from ..models import AnalyticsEvent, User

LEASE = timedelta(minutes=5)


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
            if outgoing:
                send_batch(token, cfg["MIXPANEL_TRACK_URL"], list(outgoing.values()), cfg["MIXPANEL_TIMEOUT_SECONDS"])
        except MixpanelDown as exc:
            current_app.logger.warning("Mixpanel did not take %s events; they wait: %s", len(outgoing), exc)
            with serialized_write() as session:
                for event in session.scalars(select(AnalyticsEvent).where(AnalyticsEvent.id.in_(list(outgoing)))):
                    event.attempts += 1
                    event.last_error = str(exc)[:500]
                    event.sending_until = now + _backoff(event.attempts)
                if skipped:
                    session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(skipped)).values(
                        sent_at=now, skipped=True, sending_until=None))
            break
        with serialized_write() as session:
            if outgoing:
                session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(list(outgoing))).values(
                    sent_at=now, sending_until=None, last_error=None))
            if skipped:
                session.execute(update(AnalyticsEvent).where(AnalyticsEvent.id.in_(skipped)).values(
                    sent_at=now, skipped=True, sending_until=None))
        sent += len(outgoing)
    return sent
