"""Lesson chat rules as plain values: when a room's chat is open, what a message may be, and how a socket merges
messages arriving from several places (backfill, the doorbell, its own process) into one ordered stream."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

MAX_MESSAGE_BYTES = 2048  # UTF-8 bytes of one message's text


class ChatWindow(StrEnum):
    """Where a lesson's chat stands at a given instant."""

    NOT_YET_OPEN = "not_yet_open"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Window:
    """The instants a lesson's chat opens and closes (UTC)."""

    opens_at: datetime
    closes_at: datetime

    def state(self, now: datetime) -> ChatWindow:
        """Not yet open before `opens_at`, open until `closes_at` (exclusive), closed from then on."""
        if now < self.opens_at:
            return ChatWindow.NOT_YET_OPEN
        if now < self.closes_at:
            return ChatWindow.OPEN
        return ChatWindow.CLOSED


def chat_window(start: datetime, finish: datetime, opens_before_minutes: float, closes_after_minutes: float) -> Window:
    """The chat opens `opens_before_minutes` before the lesson starts and closes `closes_after_minutes` after it ends.

    Either may be negative (a window inside the lesson); a window that would close before it opens is empty: it
    closes the moment it opens."""
    opens = start - timedelta(minutes=opens_before_minutes)
    closes = finish + timedelta(minutes=closes_after_minutes)
    return Window(opens, max(opens, closes))


def message_problem(text: str | None) -> str | None:
    """Why `text` cannot be sent, in words; None when it can (after trimming)."""
    cleaned = (text or "").strip()
    if not cleaned:
        return "Write a message first."
    size = len(cleaned.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        return f"That message is too long ({size} bytes); the limit is {MAX_MESSAGE_BYTES} bytes (about 2,000 letters)."
    return None


@dataclass
class Stream:
    """One reader's view of a lesson's messages: everything up to `last` has been handed on, in order.

    Messages arrive keyed by their per-lesson sequence number, from a backfill, a doorbell's reload, or the
    process that stored them, in any order and possibly twice. `take` hands on only the next contiguous run after
    `last`, drops anything at or below it (a duplicate), and keeps anything beyond a gap until the gap fills."""

    last: int = 0
    waiting: dict[int, object] = field(default_factory=dict)

    def take(self, incoming: list[tuple[int, object]]) -> list[object]:
        """The messages to hand on now, in sequence order (each at most once over the stream's life)."""
        for seq, message in incoming:
            if seq > self.last:
                self.waiting.setdefault(seq, message)
        ready = []
        while self.last + 1 in self.waiting:
            self.last += 1
            ready.append(self.waiting.pop(self.last))
        return ready

    @property
    def has_gap(self) -> bool:
        """Whether messages are waiting behind a missing one (the reader should reload after `last`)."""
        return bool(self.waiting)
