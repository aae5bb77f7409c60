"""The in-app notification centre: a user's own notifications, newest first, read and unread."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from ..extensions import db
from ..models import Notification, User
from .errors import NotFound

PAGE_SIZE = 30


def recent(user: User, *, before_id: int | None = None, limit: int = PAGE_SIZE) -> list[Notification]:
    """`user`'s notifications, newest first; `before_id` continues after the last one of a previous page."""
    query = select(Notification).where(Notification.user_id == user.id)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    return list(db.session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def unread_count(user: User) -> int:
    """How many of `user`'s notifications are unread."""
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user: User, notification_id: int, *, now: datetime) -> Notification:
    """Mark one of `user`'s notifications read (again is harmless); anyone else's is not found."""
    notice = db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                          Notification.user_id == user.id))
    if notice is None:
        raise NotFound("That notification does not exist.")
    if notice.read_at is None:
        notice.read_at = now
        db.session.commit()
    return notice


def mark_all_read(user: User, *, now: datetime) -> int:
    """Mark every unread notification of `user` read; returns how many changed."""
    result = db.session.execute(update(Notification).where(Notification.user_id == user.id,
                                                           Notification.read_at.is_(None)).values(read_at=now))
    db.session.commit()
    return result.rowcount
