"""RQ jobs: thin shells over services. They take ids or plain values, reload state, and are safe to run twice.

The worker (`worker.py`) provides the app context; jobs never build an app.
"""
from __future__ import annotations

from datetime import UTC, datetime

from .services import bookings, outbox, payments, payouts


def expire_stale_holds() -> int:
    """Release unpaid holds past their time, close their Checkout Sessions and give reserved coupons back."""
    expired = bookings.expire_stale_holds(now=datetime.now(UTC))
    payments.expire_open_checkouts(expired)
    return len(expired)


def expire_unapproved_bookings() -> int:
    """Release card authorizations the tutor did not approve in time."""
    return payments.expire_unapproved(now=datetime.now(UTC))


def send_pending_payouts() -> int:
    """Transfer settled tutor payouts, once each, and tell the internal team."""
    return payouts.send_pending_payouts(now=datetime.now(UTC))


def deliver_outbox() -> int:
    """Send due emails from the outbox (retrying with backoff when SMTP is down)."""
    return outbox.deliver_due(now=datetime.now(UTC))
