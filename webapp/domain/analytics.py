"""Analytics events: the names of the key actions recorded, and the dedupe id that makes each one happen once.

Stdlib only. An event is written in the same transaction as its action, so a failed action writes none; its dedupe
id names the action's own row (``booking_paid:42``), so the same action applied twice (a replayed webhook, a double
click) records one event. "Viewed" events have no row of their own: each view is a fresh id.
"""
from __future__ import annotations

from enum import StrEnum


class EventName(StrEnum):
    """A key action."""

    TUTOR_VIEWED = "tutor_viewed"
    SLOTS_VIEWED = "slots_viewed"
    BOOKING_CREATED = "booking_created"
    BOOKING_PAID = "booking_paid"
    BOOKING_APPROVED = "booking_approved"
    BOOKING_DECLINED = "booking_declined"
    BOOKING_CANCELLED = "booking_cancelled"
    LESSON_RESCHEDULED = "lesson_rescheduled"
    LESSON_HELD = "lesson_held"
    MESSAGE_SENT = "message_sent"
    REVIEW_LEFT = "review_left"
    PACKAGE_BOUGHT = "package_bought"
    SUBSCRIPTION_BOUGHT = "subscription_bought"


MAX_DEDUPE_ID = 120


def dedupe_id(name: EventName | str, *parts: object) -> str:
    """``name:part:part``: the id of one occurrence of an action, built from the ids of the rows it changed."""
    text = ":".join([EventName(name).value, *(str(p) for p in parts)])
    if not parts or len(text) > MAX_DEDUPE_ID:
        raise ValueError(f"A dedupe id names the action's rows and is at most {MAX_DEDUPE_ID} characters: {text!r}")
    return text
