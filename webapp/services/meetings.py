"""Meeting links for online lessons (seed 004's Meeting::createOrUpdateMeeting), kept in step with the lesson.

A paid (tutor-approved) online lesson gets one `Meeting`; a move updates the provider's room (a provider that
lost it gets a new one: the new links are emailed); a cancellation deletes it. `create_or_update` does whatever
the lesson needs now, so running it twice, late or concurrently changes nothing more. The work is never only in
Redis: the services that approve, move or cancel a lesson ask for a job after their commit (`request_sync`), and
the every-minute sweep (`sync_due`) finds every lesson whose meeting is not as it should be, so a Redis outage
or a provider outage only delays it.

Each run reads, ends its read, calls the provider with no transaction open, then records the answer in a short
locked transaction that re-checks the row first. Emails with a link are written in that same transaction, from
the stored record, so nobody is ever sent a link the provider has not confirmed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from ..adapters import meetings as providers
from ..adapters.database import end_read, serialized_write
from ..adapters.queue import get_queue
from ..domain.states import BookingState, LessonState
from ..extensions import db
from ..models import Booking, Lesson, Meeting, User
from . import outbox
from .lesson_messages import lesson_context
from .lessons import student_side, tutor_side
from .locks import LOCK_MEETING

PAID_STATES = (BookingState.PAID, BookingState.PARTIAL_REFUNDED)  # approved and captured: the lesson happens
LIVE_STATUSES = ("pending", "active")  # the provider has (or may have) a room
MAX_ROUNDS = 4  # a lesson moved while we called the provider: go again, a few times at most


@dataclass(frozen=True)
class _Seen:
    """What one run read, as plain values, so the provider call needs no session and no open transaction."""

    lesson_id: int
    wanted: bool  # an approved, paid, online lesson that has not ended: it needs a room
    gone: bool  # cancelled, or its money went back: its room must go
    start_at: datetime
    finish_at: datetime
    meeting_id: int | None
    status: str | None
    provider: str | None
    external_id: str | None
    synced_start_at: datetime | None
    synced_finish_at: datetime | None


def _window(start_at: datetime, finish_at: datetime) -> tuple[datetime, datetime]:
    """When a room may be joined: from MEETING_OPENS_MINUTES before the start to MEETING_CLOSES_MINUTES after."""
    config = current_app.config
    return (start_at - timedelta(minutes=config["MEETING_OPENS_MINUTES"]),
            finish_at + timedelta(minutes=config["MEETING_CLOSES_MINUTES"]))


def _spec(name: str, seen: _Seen) -> providers.MeetingSpec:
    """What the provider is asked for: this room name, open for the lesson's window."""
    opens_at, closes_at = _window(seen.start_at, seen.finish_at)
    return providers.MeetingSpec(name=name, opens_at=opens_at, closes_at=closes_at)


def _read(lesson_id: int, now: datetime) -> _Seen | None:
    """The lesson and its meeting as they are now, as plain values (None: no such lesson)."""
    lesson = db.session.get(Lesson, lesson_id, populate_existing=True)
    if lesson is None:
        return None
    booking = lesson.booking
    meeting = db.session.scalar(select(Meeting).where(Meeting.lesson_id == lesson_id)
                                .execution_options(populate_existing=True))
    cancelled = lesson.state == LessonState.CANCELLED or booking is None or booking.state not in PAID_STATES
    _, closes_at = _window(lesson.start_at, lesson.finish_at)
    return _Seen(lesson_id=lesson.id, wanted=not lesson.in_person and not cancelled and closes_at > now,
                 gone=cancelled, start_at=lesson.start_at, finish_at=lesson.finish_at,
                 meeting_id=meeting.id if meeting else None, status=meeting.status if meeting else None,
                 provider=meeting.provider if meeting else None, external_id=meeting.external_id if meeting else None,
                 synced_start_at=meeting.start_at if meeting else None,
                 synced_finish_at=meeting.finish_at if meeting else None)


def create_or_update(lesson_id: int, now: datetime) -> str:
    """Bring the lesson's meeting in line with the lesson: create, update (a lost room → a new one) or delete.

    Returns what it did ("created", "updated", "recreated", "deleted", "unchanged", "not-needed"); raises
    MeetingProviderUnavailable (recorded on the meeting first) when the provider cannot answer, so the job fails
    and the sweep tries again later."""
    outcome = "unchanged"
    for _ in range(MAX_ROUNDS):
        seen = _read(lesson_id, now)
        end_read()  # what follows may call the provider
        if seen is None:
            return "not-needed"
        step = _step(seen, now)
        if step is None:
            return outcome if outcome != "unchanged" or seen.meeting_id else "not-needed"
        outcome = step
    return outcome


def _step(seen: _Seen, now: datetime) -> str | None:
    """One change towards what the lesson needs; None when nothing is left to do."""
    if seen.gone:
        if seen.status in LIVE_STATUSES:
            return _delete(seen, now)
        return None
    if not seen.wanted:
        return None
    if seen.meeting_id is None or seen.status == "deleted":
        _reserve(seen, now)
        return "reserved"
    if seen.status == "pending":
        return _create(seen, seen.external_id, now, "created")  # the same name again: a lost answer is harmless
    if (seen.synced_start_at, seen.synced_finish_at) != (seen.start_at, seen.finish_at):
        return _update(seen, now)
    return None


def _reserve(seen: _Seen, now: datetime) -> None:
    """Choose the room's name and store it (`pending`) before the provider hears of it, so a retry after a lost
    answer asks for the same room instead of making a second one."""
    name = providers.new_room_name(seen.lesson_id)
    provider = current_app.config["MEETING_PROVIDER"]
    try:
        with serialized_write((LOCK_MEETING, seen.lesson_id)) as session:
            meeting = session.scalar(select(Meeting).where(Meeting.lesson_id == seen.lesson_id))
            if meeting is None:
                session.add(Meeting(lesson_id=seen.lesson_id, provider=provider, external_id=name, status="pending",
                                    created_at=now, updated_at=now))
            elif meeting.status == "deleted":  # cancelled, then booked again? a fresh room, never the old one
                meeting.provider, meeting.external_id, meeting.status = provider, name, "pending"
                meeting.join_url = meeting.participant_join_url = meeting.password = None
                meeting.start_at = meeting.finish_at = None
                meeting.updated_at = now
    except IntegrityError:
        db.session.rollback()  # another run reserved it at the same moment: the next round reads theirs


def _provider(name: str | None) -> providers.MeetingProvider:
    """The provider a stored meeting was made with (its moves and deletion go there), else the configured one."""
    return providers.provider_for(current_app.config, name)


def _create(seen: _Seen, name: str, now: datetime, outcome: str) -> str:
    """Make the room `name` at the provider, then store its answer and email the links, if the row is as we read it."""
    try:
        room = _provider(seen.provider).create(_spec(name, seen))
    except providers.MeetingProviderUnavailable as exc:
        _record_failure(seen, exc, now)
        raise
    with serialized_write((LOCK_MEETING, seen.lesson_id)) as session:
        meeting = session.get(Meeting, seen.meeting_id, populate_existing=True)
        if meeting is None or meeting.external_id != seen.external_id or meeting.status != seen.status:
            return "raced"  # another run recorded something meanwhile: the next round reads it
        first_link = meeting.join_url is None
        meeting.external_id, meeting.join_url = room.external_id, room.join_url
        meeting.participant_join_url, meeting.password = room.participant_join_url, room.password
        meeting.status, meeting.start_at, meeting.finish_at = "active", seen.start_at, seen.finish_at
        meeting.attempts, meeting.last_error, meeting.retry_at, meeting.updated_at = 0, None, None, now
        _send_links(meeting, replaced=not first_link)
    return outcome


def _update(seen: _Seen, now: datetime) -> str:
    """Move the room to the lesson's times; a room the provider lost is replaced by a new one."""
    try:
        _provider(seen.provider).update(seen.external_id, _spec(seen.external_id, seen))
    except providers.MeetingNotFound:
        # The provider lost the room (expired, deleted in its dashboard): a new room under a new name, whose links
        # replace the old ones everywhere and are emailed again. Should this answer be lost, the room made for it
        # is never linked and lapses at its own `exp`.
        return _create(seen, providers.new_room_name(seen.lesson_id), now, "recreated")
    except providers.MeetingProviderUnavailable as exc:
        _record_failure(seen, exc, now)
        raise
    with serialized_write((LOCK_MEETING, seen.lesson_id)) as session:
        meeting = session.get(Meeting, seen.meeting_id, populate_existing=True)
        if meeting is not None and meeting.external_id == seen.external_id and meeting.status == "active":
            meeting.start_at, meeting.finish_at = seen.start_at, seen.finish_at
            meeting.attempts, meeting.last_error, meeting.retry_at, meeting.updated_at = 0, None, None, now
    return "updated"


def _delete(seen: _Seen, now: datetime) -> str:
    """Remove the room of a cancelled lesson at the provider, then mark the meeting deleted."""
    try:
        _provider(seen.provider).delete(seen.external_id)
    except providers.MeetingProviderUnavailable as exc:
        _record_failure(seen, exc, now)
        raise
    with serialized_write((LOCK_MEETING, seen.lesson_id)) as session:
        meeting = session.get(Meeting, seen.meeting_id, populate_existing=True)
        if meeting is not None and meeting.external_id == seen.external_id:
            meeting.status, meeting.updated_at = "deleted", now
            meeting.attempts, meeting.last_error, meeting.retry_at = 0, None, None
    return "deleted"


def _record_failure(seen: _Seen, exc: Exception, now: datetime) -> None:
    """Keep why the provider failed, and when to try again (backoff: 1, 2, 4 … up to 30 minutes)."""
    if seen.meeting_id is None:
        return
    with serialized_write((LOCK_MEETING, seen.lesson_id)) as session:
        meeting = session.get(Meeting, seen.meeting_id, populate_existing=True)
        if meeting is not None:
            meeting.attempts = (meeting.attempts or 0) + 1
            meeting.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            meeting.retry_at = now + timedelta(minutes=min(2 ** (meeting.attempts - 1), 30))


def _send_links(meeting: Meeting, replaced: bool) -> None:
    """The meeting's links by email, each side its own (the tutor hosts), from the record just stored."""
    lesson = meeting.lesson
    people = [(p, meeting.participant_join_url) for p in student_side(lesson)]
    people.append((tutor_side(lesson), meeting.join_url))
    for person, url in people:
        context = lesson_context(lesson, person.zone, person.user)
        context.update(recipient_name=person.user.name, meeting_url=url, replaced=replaced,
                       provider=meeting.provider)
        outbox.enqueue_email("meeting_link", person.user.email, context,
                             dedupe_key=f"meeting-link:{lesson.id}:{meeting.external_id}:{person.user.id}")


# --- asking for it, and the sweep ----------------------------------------------------------------

def request_sync(lesson_id: int) -> None:
    """After a commit that approved, moved or cancelled a lesson: ask a worker to bring its meeting in line now.
    Redis down only delays it: the sweep finds the lesson from the database."""
    try:
        get_queue().enqueue("webapp.jobs.sync_meeting", lesson_id)
    except Exception:  # noqa: BLE001 — Redis down or unreachable: `sync_due` picks the lesson up
        current_app.logger.warning("could not enqueue the meeting of lesson %s; the sweep will do it", lesson_id)


def due_lesson_ids(now: datetime, limit: int = 200) -> list[int]:
    """Lessons whose meeting is not what it should be: approved online lessons not yet over with no room, a
    pending one, or one set for other times; and rooms of cancelled lessons still live. Failed ones wait for
    their retry time."""
    earliest_finish = now - timedelta(minutes=current_app.config["MEETING_CLOSES_MINUTES"])
    waiting = or_(Meeting.retry_at.is_(None), Meeting.retry_at <= now)
    needs_room = (select(Lesson.id).join(Booking, Booking.lesson_id == Lesson.id)
                  .outerjoin(Meeting, Meeting.lesson_id == Lesson.id)
                  .where(Lesson.in_person.is_(False), Lesson.state != LessonState.CANCELLED,
                         Booking.state.in_(PAID_STATES), Lesson.finish_at > earliest_finish,
                         or_(Meeting.id.is_(None), Meeting.status.in_(("pending", "deleted")),
                             and_(Meeting.status == "active",
                                  or_(Meeting.start_at != Lesson.start_at, Meeting.finish_at != Lesson.finish_at))),
                         or_(Meeting.id.is_(None), waiting))
                  .order_by(Lesson.start_at).limit(limit))
    room_to_go = (select(Meeting.lesson_id).join(Lesson, Lesson.id == Meeting.lesson_id)
                  .outerjoin(Booking, Booking.lesson_id == Lesson.id)
                  .where(Meeting.status.in_(LIVE_STATUSES), waiting,
                         or_(Lesson.state == LessonState.CANCELLED, Booking.id.is_(None),
                             Booking.state.not_in(PAID_STATES)))
                  .limit(limit))
    ids = list(dict.fromkeys([*db.session.scalars(needs_room), *db.session.scalars(room_to_go)]))
    end_read()
    return ids


def sync_due(now: datetime) -> int:
    """The sweep: bring every due lesson's meeting in line; a provider outage leaves them for the next run."""
    done = 0
    for lesson_id in due_lesson_ids(now):
        try:
            create_or_update(lesson_id, now)
            done += 1
        except providers.MeetingProviderUnavailable as exc:
            db.session.rollback()
            current_app.logger.warning("meeting of lesson %s not synced yet: %s", lesson_id, exc)
    return done


# --- what pages and emails show ------------------------------------------------------------------

@dataclass(frozen=True)
class JoinLink:
    """What a viewer of a lesson sees about its meeting: their link (once stored) and whether it is open now."""

    url: str | None  # None: the room is not made yet
    pending: bool  # an online, approved lesson whose link is on its way
    open_now: bool  # within [start − opens, finish + closes)
    ended: bool  # past the room's closing time
    opens_at: datetime
    closes_at: datetime


def join_link(lesson: Lesson, viewer: User, now: datetime) -> JoinLink | None:
    """The viewer's join link for the lesson (the tutor's hosts), from the stored meeting; None when the lesson has
    no meeting to show (in person, not approved, cancelled) or the viewer takes no part in it."""
    booking = lesson.booking
    if lesson.in_person or lesson.state == LessonState.CANCELLED or booking is None or \
            booking.state not in PAID_STATES:
        return None
    if viewer.id == lesson.tutor_id:
        host = True
    elif any(p.user.id == viewer.id for p in student_side(lesson)):
        host = False
    else:
        return None
    meeting = db.session.scalar(select(Meeting).where(Meeting.lesson_id == lesson.id))
    opens_at, closes_at = _window(lesson.start_at, lesson.finish_at)
    url = None
    if meeting is not None and meeting.status == "active":
        url = meeting.join_url if host else meeting.participant_join_url
    return JoinLink(url=url, pending=url is None, open_now=opens_at <= now < closes_at, ended=now >= closes_at,
                    opens_at=opens_at, closes_at=closes_at)

