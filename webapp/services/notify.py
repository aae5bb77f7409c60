"""Telling people things: an in-app notification, an email and a push message, all in the caller's transaction.

Nothing is sent here: email and push go into the outbox and the deliver job sends them, so nothing is lost
when SMTP or the push service is down, and nothing is sent for a change that rolled back.
"""
from __future__ import annotations

from ..adapters.database import insert_unless_present
from ..extensions import db
from ..models import Notification, OutboxMessage, User
from . import outbox


def notify(user: User, *, kind: str, title: str, body: str = "", url: str = "", dedupe_key: str | None = None,
           email_template: str | None = None, email_context: dict | None = None, bcc: list[str] | None = None,
           push: bool = True) -> Notification | None:
    """Add a notification for `user` (and optionally an email and a push message); with a dedupe key, at most once.

    Returns the notification, or None when this dedupe key was already used (nothing is added then)."""
    if dedupe_key is None:
        notice = Notification(user_id=user.id, kind=kind, title=title[:200], body=body, url=url)
        db.session.add(notice)
    else:  # two runs of a job at the same moment: one notification, and the other run carries on without it
        notice_id = insert_unless_present(db.session, Notification, "dedupe_key", user_id=user.id, kind=kind,
                                          title=title[:200], body=body, url=url, dedupe_key=dedupe_key)
        if notice_id is None:
            return None
        notice = db.session.get(Notification, notice_id)
    if email_template:
        outbox.enqueue_email(email_template, user.email, email_context or {}, bcc=bcc,
                             dedupe_key=f"{dedupe_key}:email" if dedupe_key else None)
    if push:
        db.session.add(OutboxMessage(channel="push", user_id=user.id, template=kind, to_address="",
                                     context={"title": title, "body": body, "url": url},
                                     dedupe_key=f"{dedupe_key}:push" if dedupe_key else None))
    return notice
