"""RQ jobs: thin shells over services. They take ids or plain values, reload state, and are safe to run twice.

The worker (`worker.py`) provides the app context; jobs never build an app.
"""
from __future__ import annotations

from datetime import UTC, datetime

from .services import bookings


def expire_stale_holds() -> int:
    """Release booking holds whose payment window has passed; returns how many expired."""
    return bookings.expire_stale_holds(now=datetime.now(UTC))
