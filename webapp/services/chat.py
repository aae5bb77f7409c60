"""The lesson room and its chat: who may enter, when the chat is open, storing messages with a per-lesson sequence
number, and handing them to the room's sockets in this process and (by a Redis doorbell) in every other one.

Who: the tutor and the student chat; a parent of a child in the lesson attends for the child (children have no
log-in of their own) and chats too, shown as the child's parent; an admin reads, never writes. Anyone else gets the
same "not found" as for a lesson that does not exist.

Sequence numbers: allocated inside `serialized_write` (SQLite's write lock, a PostgreSQL advisory lock per lesson)
as MAX(seq) + 1, so two posts at once take 4 and 5 and commit in that order; UNIQUE (lesson_id, seq) stays the
database's own guard. Because commits follow sequence order, a reader that sees message n has seen 1..n-1, and
"everything after the last one I saw" is a complete, ordered answer (backfill after a reconnect).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..adapters.chat_hub import PEOPLE, PRESENCE_SECONDS, TYPING_SECONDS, Hub, Listener
from ..adapters.database import serialized_write
from ..adapters.rate_limits import RateLimits
from ..domain.analytics import EventName, dedupe_id
from ..domain.chat import ChatWindow, Window, chat_window, message_problem
from ..extensions import db
from ..models import ChatMessage, Lesson, SummaryNote, User
from .analytics import record_event
from .errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError
from .lessons import get_lesson
from .locks import LOCK_CHAT
from .meetings import JoinLink, join_link
from .reminders import goes_ahead

PAGE = 500  # messages per backfill or poll answer (a lesson's chat is far shorter)
_HUB = "lessonbook.chat_hub"
_LIMITS = "lessonbook.chat_limits"

ROLE_WORDS = {"tutor": "Tutor", "student": "Student", "parent": "Parent", "admin": "Admin"}


class TooFast(ServiceError):
    """Over the chat's rate limit."""

    status = 429


@dataclass(frozen=True)
class Seat:
    """Someone's place in a lesson room: their role, and whether they may write now."""

    lesson: Lesson
    role: str  # tutor, student, parent, admin
    window: Window
    state: ChatWindow
    confirmed: bool  # the lesson goes ahead (not cancelled; paid, or arranged without a booking)

    @property
    def may_write(self) -> bool:
        """Participants write while the chat is open; admins never (they read)."""
        return self.role != "admin" and self.confirmed and self.state == ChatWindow.OPEN

    @property
    def why_read_only(self) -> str | None:
        """In words, why this person cannot write right now (None when they can)."""
        if self.role == "admin":
            return "Admins read the chat; they do not write in it."
        if not self.confirmed:
            return "The chat opens once the lesson is confirmed; a cancelled or unpaid lesson has none."
        if self.state == ChatWindow.NOT_YET_OPEN:
            return "The chat is not open yet."
        if self.state == ChatWindow.CLOSED:
            return "The chat has closed; the transcript is kept read-only."
        return None


def role_in(user: User, lesson: Lesson) -> str | None:
    """tutor, student, parent (of a child in it), admin, or None for anyone else."""
    if lesson.tutor_id == user.id:
        return "tutor"
    if any(s.id == user.id for s in lesson.students):
        return "student"
    if any(c.parent_id == user.id for c in lesson.children):
        return "parent"
    if user.is_admin:
        return "admin"
    if lesson.booking is not None and lesson.booking.booker_id == user.id:
        return "student"  # the booker of a lesson for themself
    return None


def window_for(lesson: Lesson) -> Window:
    """The lesson's chat window under the current configuration."""
    config = current_app.config
    return chat_window(lesson.start_at, lesson.finish_at, config["CHAT_OPENS_BEFORE_MINUTES"],
                       config["CHAT_CLOSES_AFTER_MINUTES"])


def seat(user: User, lesson_id: int, now: datetime) -> Seat:
    """The user's place in the lesson's room; NotFound for anyone who is not part of it."""
    lesson = get_lesson(user, lesson_id)
    role = role_in(user, lesson)
    if role is None:
        raise NotFound("We could not find that lesson.")
    window = window_for(lesson)
    return Seat(lesson, role, window, window.state(now), goes_ahead(lesson))


@dataclass(frozen=True)
class Room:
    """What the room page shows."""

    seat: Seat
    messages: list[dict]
    note: SummaryNote | None
    meeting: JoinLink | None  # the viewer's way into the online meeting (None: in person, not booked, or an admin)

    @property
    def last_seq(self) -> int:
        return self.messages[-1]["seq"] if self.messages else 0


def room(user: User, lesson_id: int, now: datetime) -> Room:
    """The room for a participant: their seat, the transcript so far, the meeting link and the summary note once
    written."""
    place = seat(user, lesson_id, now)
    note = db.session.scalar(select(SummaryNote).where(SummaryNote.lesson_id == place.lesson.id))
    return Room(place, messages_after(place.lesson.id, 0), note, join_link(place.lesson, user, now))


def messages_after(lesson_id: int, after: int, limit: int = PAGE) -> list[dict]:
    """The lesson's messages with a sequence number above `after`, in order, as plain values."""
    rows = db.session.execute(
        select(ChatMessage.seq, ChatMessage.body, ChatMessage.created_at, ChatMessage.author_id, User.name)
        .join(User, User.id == ChatMessage.author_id)
        .where(ChatMessage.lesson_id == lesson_id, ChatMessage.seq > after)
        .order_by(ChatMessage.seq).limit(limit)).all()
    return [{"seq": r.seq, "body": r.body, "at": r.created_at, "author_id": r.author_id, "author": r.name}
            for r in rows]


def last_seq(lesson_id: int) -> int:
    """The lesson's newest sequence number (0 when nothing was said yet)."""
    return db.session.scalar(select(func.coalesce(func.max(ChatMessage.seq), 0))
                             .where(ChatMessage.lesson_id == lesson_id)) or 0


def post(user: User, lesson_id: int, text: str | None, now: datetime) -> dict:
    """Store a message from `user` (authorized, checked, rate-limited), then hand it to the room's sockets.

    The returned message carries its sequence number. Redis down: it is stored and reaches this process's
    sockets; other processes' sockets get it when their subscription comes back (never a 500)."""
    problem = message_problem(text)
    if problem:
        raise ValidationError(problem, {"body": problem})
    place = seat(user, lesson_id, now)
    if not place.may_write:
        raise Forbidden(place.why_read_only or "You cannot write in this chat.")
    if not limits().hit(current_app.config["CHAT_RATE_LIMIT"], "chat", str(user.id)):
        raise TooFast("You are sending messages too fast. Wait a few seconds, then send it again.")
    body = text.strip()
    message = _store(user, place.lesson.id, body, now)
    tell_room(place.lesson.id)
    return message


def _store(user: User, lesson_id: int, body: str, now: datetime) -> dict:
    for _attempt in range(3):
        try:
            with serialized_write((LOCK_CHAT, lesson_id)) as session:
                # Re-read under the lock: the lesson may have been cancelled since the seat was checked.
                lesson = session.get(Lesson, lesson_id, populate_existing=True)
                if lesson is None or not goes_ahead(lesson):
                    raise Conflict("This lesson was cancelled; its chat is read-only.")
                seq = last_seq(lesson_id) + 1
                session.add(ChatMessage(lesson_id=lesson_id, seq=seq, author_id=user.id, body=body, created_at=now))
                record_event(session, EventName.MESSAGE_SENT, dedupe=dedupe_id(EventName.MESSAGE_SENT, lesson_id, seq),
                             at=now, user_id=user.id, lesson_id=lesson_id, tutor_id=lesson.tutor_id)
            return {"seq": seq, "body": body, "at": now, "author_id": user.id, "author": user.name}
        except IntegrityError:
            continue  # another writer took this number outside the lock (should not happen): take the next one
    raise Conflict("The chat is busy; please send your message again.")


def tell_room(lesson_id: int) -> None:
    """After a commit: this process's sockets get the new rows now; every other process hears the doorbell."""
    current = hub()
    current.deliver(lesson_id)
    current.ring(lesson_id)


# --- sockets -------------------------------------------------------------------------------------------------

def hub(app: Flask | None = None) -> Hub:
    """This process's hub for the app (made on first use; its subscriber thread starts with the first socket)."""
    app = app or current_app._get_current_object()
    found = app.extensions.get(_HUB)
    if found is None:
        found = app.extensions[_HUB] = Hub(app.config.get("REDIS_URL"), _loader(app),
                                           app.config.get("REDIS_CONNECT_TIMEOUT_SECONDS", 2))
    return found


def limits() -> RateLimits:
    """The chat's rate limits for this app (Redis-backed like Flask-Limiter's, in memory while Redis is down)."""
    found = current_app.extensions.get(_LIMITS)
    if found is None:
        url = current_app.config.get("RATELIMIT_STORAGE_URI") or current_app.config.get("REDIS_URL")
        found = current_app.extensions[_LIMITS] = RateLimits(url, current_app.config["REDIS_CONNECT_TIMEOUT_SECONDS"])
    return found


def _loader(app: Flask):
    def load(lesson_id: int, after: int) -> list[tuple[int, dict]]:
        # Its own app context and session, returned to the pool at once: the subscriber thread holds nothing.
        with app.app_context():
            try:
                return [(m["seq"], m) for m in messages_after(lesson_id, after)]
            finally:
                db.session.remove()
    return load


def too_many_sockets(user: User) -> bool:
    """Whether `user` already holds as many chat sockets in this process as one person may (each holds a thread)."""
    return hub().socket_count(user.id) >= current_app.config["CHAT_MAX_SOCKETS_PER_USER"]


def open_socket(user: User, lesson_id: int, after: int) -> Listener:
    """Join a socket to the lesson's room: subscribe first, then load what came after `after`, so nothing said in
    between is missed (anything seen twice is dropped by the socket's stream)."""
    after = max(0, min(after, last_seq(lesson_id)))  # a number from the future would hold back everything
    listener = Listener(lesson_id, user.id, after)
    current = hub()
    current.join(listener)
    listener.offer_messages([(m["seq"], m) for m in messages_after(lesson_id, after)])
    return listener


def close_socket(listener: Listener, who: str) -> None:
    """Leave the room and say so (best effort)."""
    current = hub()
    current.leave(listener)
    current.unmark(listener.lesson_id, "here", who)
    current.unmark(listener.lesson_id, "typing", who)
    current.ring(listener.lesson_id, PEOPLE)


def here(lesson_id: int, who: str) -> None:
    """`who` is in the room (refreshed with every frame from their socket)."""
    current = hub()
    current.mark(lesson_id, "here", who, PRESENCE_SECONDS)
    current.ring(lesson_id, PEOPLE)


def typing(lesson_id: int, who: str) -> None:
    """`who` is typing, for a few seconds."""
    current = hub()
    current.mark(lesson_id, "typing", who, TYPING_SECONDS)
    current.ring(lesson_id, PEOPLE)


def stopped_typing(lesson_id: int, who: str) -> None:
    """`who` sent their message: no longer typing."""
    current = hub()
    current.unmark(lesson_id, "typing", who)
    current.ring(lesson_id, PEOPLE)


def display_name(user: User, role: str) -> str:
    """How someone appears in the room's presence line ("Alex (Tutor)")."""
    return f"{user.name} ({ROLE_WORDS.get(role, role)})"


def wire(message: dict, viewer_id: int, zone: str) -> dict:
    """A message as a socket sends it to one viewer: times in the viewer's zone, plain text only."""
    at: datetime = message["at"]
    return {"type": "message", "seq": message["seq"], "author": message["author"], "body": message["body"],
            "mine": message["author_id"] == viewer_id, "at": at.isoformat(),
            "time": at.astimezone(ZoneInfo(zone)).strftime("%H:%M")}
