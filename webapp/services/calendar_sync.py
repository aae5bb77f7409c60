"""Tutors' external calendars: connect a secret iCal address, sync it, and say when it is too old to trust.

A sync fetches and reads the calendar with no transaction open, then replaces the source's busy time in one short
transaction under the tutor's booking lock (so a booking's re-check sees the old set or the new one, never half).
A source whose last good sync is older than CALENDAR_STALE_MINUTES (or that never synced) hides the tutor's free
times: availability reads that from the same statement as the busy time (fail closed)."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select

from ..adapters import calendar_sources, google_calendar, safe_fetch, sealed
from ..adapters.database import serialized_write
from ..adapters.queue import get_queue
from ..domain import busy_time
from ..extensions import db
from ..models import CalendarEvent, CalendarSource, CalendarSourceKind, User
from .locks import LOCK_TUTOR
from .errors import Forbidden, NotFound, ValidationError

MAX_LABEL = 80
# Without Redis the periodic job reads what is due itself for this many seconds, below its RQ timeout.
SYNC_BUDGET_SECONDS = 180
# A source attempted less than this long ago is not due again (the job runs every 15 minutes).
SYNC_EVERY = timedelta(minutes=14)


@dataclass(frozen=True)
class SourceStatus:
    """A source as its tutor sees it: whether it hides their times, and why."""

    source: CalendarSource
    stale: bool
    pending: bool  # never attempted yet: the first sync is on its way

    @property
    def masked_url(self) -> str:
        if self.source.kind == CalendarSourceKind.GOOGLE:
            return "free/busy only"
        return mask(self.source.url or "")


def mask(url: str) -> str:
    """A secret address as we show it: scheme and host only (the rest is the secret)."""
    try:
        scheme, host, _, _ = safe_fetch.check_url(url)
    except safe_fetch.FetchRefused:
        return "(address hidden)"
    return f"{scheme}://{host}/…"


def stale_after() -> timedelta:
    """How old a source's last good sync may be before its tutor's times are hidden."""
    return timedelta(minutes=current_app.config["CALENDAR_STALE_MINUTES"])


def allowed_networks():
    """Networks calendar hosts may be in although not public (configuration; empty in production)."""
    return safe_fetch.parse_networks(current_app.config.get("CALENDAR_FETCH_ALLOWED_NETWORKS"))


def sources(tutor: User, now: datetime) -> list[SourceStatus]:
    """The tutor's calendars, oldest first, each with whether it currently hides their times."""
    rows = db.session.scalars(select(CalendarSource).where(CalendarSource.tutor_id == tutor.id)
                              .order_by(CalendarSource.id))
    limit = stale_after()
    return [SourceStatus(s, busy_time.is_stale(s.last_synced_at, now, limit), s.last_attempt_at is None) for s in rows]


def hiding_sources(tutor: User, now: datetime) -> list[SourceStatus]:
    """The tutor's calendars that hide their free times right now (for the dashboard's warning)."""
    return [s for s in sources(tutor, now) if s.stale]


def add_ics_source(tutor: User, url, label, now: datetime) -> CalendarSource:
    """Connect a calendar by its secret iCal address; its first sync is enqueued at once.

    The address is checked (http(s), a public host) before anything is written; until the first sync succeeds the
    tutor's times are hidden, since their busy time is not known yet."""
    if not tutor.is_tutor:
        raise ValidationError("Only tutors connect calendars.")
    label = (label or "").strip() if isinstance(label, str) else ""
    if len(label) > MAX_LABEL:
        raise ValidationError(f"Name: up to {MAX_LABEL} characters.", {"label": f"Up to {MAX_LABEL} characters."})
    url = url.strip() if isinstance(url, str) else ""
    if url[:9].lower() == "webcal://":
        url = "https://" + url[9:]  # Apple's links: the same address over https
    try:
        safe_fetch.resolve(url, allowed_networks())  # a DNS lookup: before any write
    except safe_fetch.FetchRefused as exc:
        raise ValidationError(str(exc), {"url": str(exc)}) from None
    label = label or f"Calendar at {safe_fetch.check_url(url)[1]}"
    # Under the tutor's lock, so two submits at once (two tabs) cannot both pass the checks.
    with serialized_write((LOCK_TUTOR, tutor.id)) as session:
        existing = list(session.scalars(select(CalendarSource).where(CalendarSource.tutor_id == tutor.id)))
        if any(s.url == url for s in existing):
            message = "This calendar is already connected."
            raise ValidationError(message, {"url": message})
        limit = current_app.config["CALENDAR_MAX_SOURCES"]
        if len(existing) >= limit:
            message = f"You can connect up to {limit} calendars; remove one first."
            raise ValidationError(message, {"url": message})
        source = CalendarSource(tutor_id=tutor.id, kind=CalendarSourceKind.ICS, url=url, label=label, created_at=now)
        session.add(source)
    enqueue_sync(source.id)
    return source


def enqueue_sync(source_id: int) -> bool:
    """Ask the worker to sync one source now; with Redis down the periodic job does it within 15 minutes."""
    try:
        get_queue().enqueue("webapp.jobs.sync_calendar_source", source_id, job_timeout=120)
        return True
    except Exception:  # Redis down: delay, never lose (the periodic sync picks never-attempted sources first)
        current_app.logger.warning("could not enqueue the sync of calendar source %s; the periodic job will", source_id)
        return False


def own_source(tutor: User, source_id: int) -> CalendarSource:
    """One of the tutor's own sources, or NotFound (someone else's looks the same as none)."""
    source = db.session.get(CalendarSource, source_id)
    if source is None or source.tutor_id != tutor.id:
        raise NotFound("That calendar is not connected (any more).")
    return source


def remove_source(tutor: User, source_id: int) -> None:
    """Disconnect a calendar: its busy time goes with it."""
    own_source(tutor, source_id)
    with serialized_write((LOCK_TUTOR, tutor.id)) as session:
        session.execute(delete(CalendarEvent).where(CalendarEvent.source_id == source_id))
        session.execute(delete(CalendarSource).where(CalendarSource.id == source_id,
                                                     CalendarSource.tutor_id == tutor.id))


def request_sync(tutor: User, source_id: int) -> bool:
    """The tutor's "Sync now": enqueue a sync of their own source."""
    own_source(tutor, source_id)
    return enqueue_sync(source_id)


def sync_source(source_id: int, now: datetime) -> str:
    """Read one source (no transaction open) over now … the tutor's horizon, then replace its rows."""
    source = db.session.get(CalendarSource, source_id)
    if source is None:
        return "gone"
    tutor = db.session.get(User, source.tutor_id)
    zone, horizon = tutor.timezone, tutor.tutor_profile.horizon_days if tutor.tutor_profile else 60
    tutor_id = source.tutor_id
    start, end = busy_time.sync_window(now, horizon)
    try:
        reader = source_reader(source)
        db.session.commit()  # end the read transaction: nothing is held while the calendar server answers
        blocks = reader.busy(start, end, zone)
    except calendar_sources.SourceUnavailable as exc:
        db.session.rollback()
        _record_failure(source_id, tutor_id, exc.message, now)
        return "failed"
    return "synced" if replace_busy_time(source_id, tutor_id, blocks, now) else "superseded"


def source_reader(source: CalendarSource) -> calendar_sources.CalendarSource:
    """The adapter that reads this source's busy time."""
    cfg = current_app.config
    if source.kind == CalendarSourceKind.GOOGLE:
        settings = google_settings()
        if settings is None:
            raise calendar_sources.SourceUnavailable("Google Calendar is not offered any more on this site.")
        try:
            refresh = sealed.unseal(source.credentials or "", cfg["SECRET_KEY"])
        except sealed.Unreadable:
            raise calendar_sources.SourceUnavailable("We can no longer read this connection: connect Google "
                                                     "Calendar again.", reconnect=True) from None
        return calendar_sources.GoogleFreeBusy(settings, refresh)
    return calendar_sources.SecretAddress(source.url or "", cfg["CALENDAR_FETCH_MAX_BYTES"],
                                          cfg["CALENDAR_FETCH_TIMEOUT_SECONDS"], allowed_networks())


def replace_busy_time(source_id: int, tutor_id: int, blocks: list[busy_time.BusyBlock], fetched_at: datetime) -> bool:
    """Replace (never merge) the source's busy time with `blocks`, read at `fetched_at`, in one transaction.

    A sync that fetched before the last good one landed loses (its calendar is older); a removed source stays
    removed. Returns whether the rows were replaced."""
    with serialized_write((LOCK_TUTOR, tutor_id)) as session:
        source = session.get(CalendarSource, source_id, populate_existing=True)
        if source is None or (source.last_synced_at is not None and source.last_synced_at > fetched_at):
            return False
        session.execute(delete(CalendarEvent).where(CalendarEvent.source_id == source_id))
        if blocks:
            session.execute(insert(CalendarEvent), [
                {"tutor_id": tutor_id, "source_id": source_id, "event_id": f"s{source_id}:{b.key}",
                 "start_at": b.start, "finish_at": b.end, "busy": True, "summary": ""} for b in blocks])
        source.last_synced_at = fetched_at
        source.last_attempt_at = max(fetched_at, source.last_attempt_at or fetched_at)
        source.last_error = source.last_error_at = None
        source.event_count = len(blocks)
    return True


def _record_failure(source_id: int, tutor_id: int, message: str, now: datetime) -> None:
    """Keep the error for the tutor to read; the busy time of the last good sync stays (and ages)."""
    with serialized_write((LOCK_TUTOR, tutor_id)) as session:
        source = session.get(CalendarSource, source_id, populate_existing=True)
        if source is not None:
            source.last_attempt_at, source.last_error, source.last_error_at = now, message[:1000], now


def sync_due(now: datetime) -> int:
    """The periodic sync: every source not attempted in the last 14 minutes (never-attempted and oldest first) gets
    a job of its own, so the workers read them side by side and one slow calendar server delays only its own. With
    Redis unreachable for the enqueue, they are read here, one after another, until the time budget is spent (the
    rest are first in line next time)."""
    due = list(db.session.scalars(
        select(CalendarSource.id).where(or_(CalendarSource.last_attempt_at.is_(None),
                                            CalendarSource.last_attempt_at <= now - SYNC_EVERY))
        .order_by(CalendarSource.last_attempt_at.is_not(None), CalendarSource.last_attempt_at, CalendarSource.id)))
    db.session.commit()
    started, inline = time.monotonic(), []
    for source_id in due:
        if not enqueue_sync(source_id):
            inline.append(source_id)
    for source_id in inline:
        if time.monotonic() - started > SYNC_BUDGET_SECONDS:
            break
        sync_source(source_id, now)
    return len(due)


# --- Google Calendar (free/busy with OAuth) ------------------------------------------------------

def google_settings() -> google_calendar.GoogleSettings | None:
    """Google's endpoints and our OAuth client, or None when Google Calendar is not configured."""
    cfg = current_app.config
    if not (cfg.get("GOOGLE_CLIENT_ID") and cfg.get("GOOGLE_CLIENT_SECRET")):
        return None
    return google_calendar.GoogleSettings(cfg["GOOGLE_CLIENT_ID"], cfg["GOOGLE_CLIENT_SECRET"],
                                          cfg["GOOGLE_OAUTH_AUTH_URL"], cfg["GOOGLE_OAUTH_TOKEN_URL"],
                                          cfg["GOOGLE_CALENDAR_API_BASE"])


@dataclass(frozen=True)
class GoogleStart:
    """Where to send the tutor, and what the callback must see again (kept in the tutor's session)."""

    url: str
    state: str
    verifier: str


def start_google(tutor: User, redirect_uri: str) -> GoogleStart:
    """Begin connecting Google Calendar: a state against forged callbacks and a PKCE verifier."""
    settings = google_settings()
    if settings is None:
        raise NotFound("Google Calendar is not offered on this site.")
    if not tutor.is_tutor:
        raise Forbidden("Only tutors connect calendars.")
    state = secrets.token_urlsafe(24)
    verifier, challenge = google_calendar.pkce_pair()
    return GoogleStart(google_calendar.authorization_url(settings, redirect_uri, state, challenge), state, verifier)


def finish_google(tutor: User, *, code, state, error, expected_state: str | None, verifier: str | None,
                  redirect_uri: str, now: datetime) -> CalendarSource:
    """Google sent the tutor back: check the state, trade the code for a refresh token (before any write), store it
    sealed as a new source (or in place of the old Google one), and enqueue its first sync."""
    settings = google_settings()
    if settings is None:
        raise NotFound("Google Calendar is not offered on this site.")
    if not expected_state or not isinstance(state, str) or not secrets.compare_digest(state, expected_state) \
            or not verifier:
        raise ValidationError("That Google sign-in did not start here, or it was already used: connect again.")
    if error or not isinstance(code, str) or not code:
        raise ValidationError("Google Calendar was not connected: access was not allowed.")
    try:
        refresh = google_calendar.exchange_code(settings, code, redirect_uri, verifier)
    except google_calendar.GoogleCalendarError as exc:
        raise ValidationError(str(exc)) from None
    credentials = sealed.seal(refresh, current_app.config["SECRET_KEY"])
    with serialized_write((LOCK_TUTOR, tutor.id)) as session:  # two callbacks at once still make one source
        existing = session.scalar(select(CalendarSource).where(CalendarSource.tutor_id == tutor.id,
                                                               CalendarSource.kind == CalendarSourceKind.GOOGLE))
        if existing is None:
            limit = current_app.config["CALENDAR_MAX_SOURCES"]
            if session.scalar(select(func.count()).select_from(CalendarSource).where(
                    CalendarSource.tutor_id == tutor.id)) >= limit:
                raise ValidationError(f"You can connect up to {limit} calendars; remove one first.")
            existing = CalendarSource(tutor_id=tutor.id, kind=CalendarSourceKind.GOOGLE, label="Google Calendar",
                                      created_at=now)
            session.add(existing)
        existing.credentials = credentials
        existing.last_attempt_at = None  # a first sync is on its way
    enqueue_sync(existing.id)
    return existing
