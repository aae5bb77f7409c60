"""The audit log of admin and support actions: written in the caller's transaction, read and searched by staff.

There is deliberately no function here (or anywhere) that changes or removes an entry; the database refuses it too."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from ..extensions import db
from ..models import AuditEntry, User
from .errors import Forbidden

PAGE_SIZE = 50


def record(actor: User, action: str, target_type: str, target_id: int | None, summary: str, now: datetime, *,
           before: dict | None = None, after: dict | None = None, dedupe_key: str | None = None) -> AuditEntry:
    """Add one entry to the caller's transaction (so the action and its record commit or fail together)."""
    entry = AuditEntry(at=now, actor_id=actor.id, actor_name=actor.name, actor_role=str(actor.role), action=action,
                       target_type=target_type, target_id=target_id, summary=summary[:2000], before=before,
                       after=after, dedupe_key=dedupe_key)
    db.session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    has_more: bool


def search(viewer: User, q: str = "", action: str = "", target_type: str = "", target_id: int | None = None,
           page: int = 1) -> AuditPage:
    """Entries newest first, filtered by words (summary or who), action and target; admins only."""
    if not viewer.is_admin:
        raise Forbidden("Only admins read the audit log.")
    query = select(AuditEntry)
    words = " ".join((q or "").split())[:100]
    if words:
        like = f"%{words.lower()}%"
        query = query.where(or_(func.lower(AuditEntry.summary).like(like), func.lower(AuditEntry.actor_name).like(like),
                                func.lower(AuditEntry.action).like(like)))
    if action:
        query = query.where(AuditEntry.action == action)
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    page = max(page, 1)
    rows = list(db.session.scalars(query.order_by(AuditEntry.id.desc()).offset((page - 1) * PAGE_SIZE)
                                   .limit(PAGE_SIZE + 1)))
    return AuditPage(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def actions() -> list[str]:
    """Every action name in the log (for the filter)."""
    return list(db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)))


def for_target(target_type: str, target_id: int) -> list[AuditEntry]:
    """What staff did to one thing (a user, a booking, a ticket), oldest first."""
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == target_type,
                                                            AuditEntry.target_id == target_id)
                                   .order_by(AuditEntry.id)))
