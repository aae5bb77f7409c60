"""What Stripe's and PayPal's webhook events share once stored: queueing one for a worker, finishing it after the
provider calls it decided on, and the sweep that applies whatever no job applied (a Redis outage or a failed job
only delays an event, never loses it).

Each provider module keeps its own `apply_event` (what an event means differs); the rows are StripeEvent or
PayPalEvent, which have the same columns for this: id, received_at, processed_at, attempts, last_error."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy import select

from ..adapters.database import end_read, serialized_write
from ..adapters.queue import get_queue
from ..extensions import db


def enqueue_apply(job: str, event_id: str, label: str) -> None:
    """Ask a worker to apply the event now; with Redis down the periodic sweep applies it later."""
    try:
        get_queue().enqueue(job, event_id)
    except Exception:  # noqa: BLE001 — Redis down or unreachable: the stored event waits for the sweep
        current_app.logger.warning("could not enqueue %s event %s; the sweep will apply it", label, event_id)


def finish_after(model, event_id: str, locks: list, after: list[Callable[[], object]], now: datetime) -> None:
    """Run the provider calls an event decided on (after its transaction committed), then mark it applied; a call
    that raises leaves the event unapplied for the sweep (each call carries an idempotency key from our ids)."""
    for call in after:
        call()
    with serialized_write(*locks) as session:
        record = session.get(model, event_id, populate_existing=True, with_for_update=True)
        if record.processed_at is None:
            record.processed_at = now


def sweep(model, apply_event: Callable[[str, datetime], str], now: datetime, limit: int, label: str) -> int:
    """Apply every stored event not applied yet, oldest first; returns how many were applied. One event that fails
    is counted and kept with its error, and never holds up the others."""
    ids = list(db.session.scalars(select(model.id).where(model.processed_at.is_(None))
                                  .order_by(model.received_at, model.id).limit(limit)))
    end_read()
    applied = 0
    for event_id in ids:
        try:
            apply_event(event_id, now)
            applied += 1
        except Exception as exc:  # noqa: BLE001 — one bad event must not hold up the others
            db.session.rollback()
            current_app.logger.warning("%s event %s not applied yet: %s", label, event_id, exc)
            with serialized_write() as session:
                record = session.get(model, event_id, populate_existing=True)
                if record is not None and record.processed_at is None:
                    record.attempts = (record.attempts or 0) + 1
                    record.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    return applied
