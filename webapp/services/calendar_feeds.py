"""Calendar export: each user's secret, rotatable feed address listing their lessons (iCalendar).

Only the SHA-256 of the secret is stored, so the full address is shown once, when it is made; making a new one
replaces the hash, and the old address answers 404 from then on. Each lesson keeps the UID and SEQUENCE of the
calendar files emailed about it, so a moved lesson updates in place and a cancelled one shows as cancelled."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import selectinload

from ..adapters import calendar_files
from ..domain.states import BookingState, LessonState
from ..extensions import db
from ..models import Booking, CalendarFeed, Child, Lesson, User, lesson_child, lesson_user
from .errors import NotFound
from .lesson_messages import lesson_entry
from .urls import public_url

# Bookings whose lesson was (or is) on the calendar: the tutor approved it, or the card was authorized.
SHOWN_BOOKING_STATES = (BookingState.REQUIRES_CAPTURE, BookingState.PAID, BookingState.PARTIAL_REFUNDED,
                        BookingState.REFUNDED)
# Booking outcomes that take a lesson off the calendar, although the lesson row may still say ACTIVE.
CANCELLING_BOOKING_STATES = (BookingState.DECLINED, BookingState.EXPIRED, BookingState.CANCELLED)
MAX_FEED_LESSONS = 2000


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feed_of(user: User) -> CalendarFeed | None:
    """The user's feed, if they made one (its address cannot be shown again: only its hash is kept)."""
    return db.session.get(CalendarFeed, user.id)


def feed_url(token: str) -> str:
    """The absolute address calendar apps subscribe to."""
    return public_url(f"/calendar/{token}.ics")


def new_feed_address(user: User, now: datetime) -> str:
    """Make the user's feed address, or a new one in place of the old (which stops working); returns the URL."""
    token = secrets.token_urlsafe(32)
    feed = db.session.get(CalendarFeed, user.id)
    if feed is None:
        db.session.add(CalendarFeed(user_id=user.id, token_hash=_hash(token), created_at=now))
    else:
        feed.token_hash, feed.created_at = _hash(token), now
    db.session.commit()
    return feed_url(token)


def turn_off(user: User) -> None:
    """Stop the user's feed: its address answers 404 from now on."""
    db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id))
    db.session.commit()


def owner_of(token: str) -> User:
    """The user whose feed address carries `token`, or NotFound (a rotated or made-up address)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise NotFound("No calendar at this address.")
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
    if feed is None:
        raise NotFound("No calendar at this address.")
    return db.session.get(User, feed.user_id)


def feed_ics(token: str, now: datetime) -> bytes:
    """The feed behind `token`: the owner's lessons from CALENDAR_FEED_PAST_DAYS ago on, as iCalendar."""
    user = owner_of(token)
    since = now - timedelta(days=current_app.config["CALENDAR_FEED_PAST_DAYS"])
    entries = [_entry(lesson, user) for lesson in lessons_of(user, since)]
    return calendar_files.feed_ics(entries, name=f"Lessonbook: {user.name}", stamp=now)


def lessons_of(user: User, since: datetime) -> list[Lesson]:
    """Lessons the user teaches, takes, or whose child takes them, ending after `since`, that were booked."""
    mine = or_(
        Lesson.tutor_id == user.id,
        exists().where(lesson_user.c.lesson_id == Lesson.id, lesson_user.c.user_id == user.id),
        exists().where(lesson_child.c.lesson_id == Lesson.id, lesson_child.c.child_id == Child.id,
                       Child.parent_id == user.id))
    booked = or_(and_(Booking.id.is_(None), Lesson.state != LessonState.CANCELLED),
                 Booking.state.in_(SHOWN_BOOKING_STATES), Booking.authorized_at.is_not(None))
    return list(db.session.scalars(
        select(Lesson).outerjoin(Booking, Booking.lesson_id == Lesson.id)
        .where(mine, booked, Lesson.finish_at > since)
        .options(selectinload(Lesson.subject), selectinload(Lesson.tutor), selectinload(Lesson.address),
                 selectinload(Lesson.booking), selectinload(Lesson.students), selectinload(Lesson.children))
        .order_by(Lesson.start_at).limit(MAX_FEED_LESSONS)))


def _entry(lesson: Lesson, viewer: User):
    cancelled = lesson.state == LessonState.CANCELLED or (
        lesson.booking is not None and lesson.booking.state in CANCELLING_BOOKING_STATES)
    entry = lesson_entry(lesson, cancelled, viewer=viewer)
    waiting = lesson.booking is not None and lesson.booking.state == BookingState.REQUIRES_CAPTURE
    path = f"/bookings/{lesson.booking.id}" if lesson.booking else "/"
    description = ("Waiting for the tutor's approval. " if waiting and not cancelled else "") + public_url(path)
    return replace(entry, summary=entry.summary + (" (awaiting approval)" if waiting and not cancelled else ""),
                   description=description)
