"""Analytics events: `record_event` adds one to the caller's transaction, so the event commits or rolls back with its
action; a second event with the same dedupe id is dropped by the database (INSERT … ON CONFLICT DO NOTHING)."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..domain.analytics import EventName, dedupe_id
from ..extensions import db
from ..models import AnalyticsEvent

_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def record_event(session: Session, name: EventName | str, *, dedupe: str, at: datetime, user_id: int | None = None,
                 **properties: object) -> None:
    """Add the event `name` to `session`'s open transaction (no commit); a repeated `dedupe` id records nothing.

    `properties` are plain JSON values (ids, amounts in minor units, currency codes, reasons)."""
    insert = _INSERTS[session.get_bind().dialect.name]
    session.execute(insert(AnalyticsEvent).values(
        name=EventName(name).value, dedupe_id=dedupe, user_id=user_id, properties=properties, occurred_at=at,
    ).on_conflict_do_nothing(index_elements=["dedupe_id"]))


def record_view(name: EventName, user_id: int | None, at: datetime, **properties: object) -> None:
    """A page view ("tutor viewed", "slots viewed"): one cheap insert committed on its own; each view is new.

    A view is worth less than the page: if the write fails (the database busy), it is logged and dropped."""
    try:
        record_event(db.session, name, dedupe=dedupe_id(name, secrets.token_hex(8)), at=at, user_id=user_id,
                     **properties)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        current_app.logger.warning("could not record a %s event", name, exc_info=True)
