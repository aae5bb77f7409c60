"""Support tickets as plain rules: statuses, priorities, due times, and what a reply does to the status."""
from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class TicketStatus(StrEnum):
    NEW = "new"          # nobody on the staff has answered yet
    OPEN = "open"        # the user wrote last: the staff owes an answer
    PENDING = "pending"  # the staff answered: waiting for the user
    SOLVED = "solved"    # the staff thinks it is done; a reply from the user opens it again
    CLOSED = "closed"    # finished for good; a new problem is a new ticket


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# How long the staff has to answer, by priority (from the moment the ticket is opened or the priority changes).
DUE_WITHIN: dict[TicketPriority, timedelta] = {
    TicketPriority.URGENT: timedelta(hours=4),
    TicketPriority.HIGH: timedelta(hours=12),
    TicketPriority.NORMAL: timedelta(hours=24),
    TicketPriority.LOW: timedelta(hours=72),
}

SUBJECT_MAX = 200
BODY_MAX = 10_000
MAX_ATTACHMENTS = 5


def due_at(priority: str, since: datetime) -> datetime:
    """When an answer is due for a ticket of `priority` opened (or re-prioritised) at `since`."""
    return since + DUE_WITHIN[TicketPriority(priority)]


def after_user_reply(status: str) -> str:
    """The user wrote: the staff owes an answer (a closed ticket takes no replies: see `accepts_replies`)."""
    return TicketStatus.NEW if status == TicketStatus.NEW else TicketStatus.OPEN


def after_staff_reply(status: str) -> str:
    """The staff answered the user: now waiting for them."""
    return TicketStatus.PENDING


def accepts_replies(status: str) -> bool:
    """Whether anyone may still write on the ticket."""
    return status != TicketStatus.CLOSED


def is_overdue(status: str, due: datetime | None, now: datetime) -> bool:
    """The staff owes an answer and its time has passed."""
    return status in (TicketStatus.NEW, TicketStatus.OPEN) and due is not None and due <= now
