"""Our row for each PayPal order we opened, as a small state machine: its status only moves forward
(CREATED → APPROVED → AUTHORIZED → CAPTURED, or to VOIDED/CANCELLED), so our own calls' answers and webhook events,
replayed or in any order, agree: whatever arrives late and would move it back changes nothing. Callers hold the
booking's lock in a write transaction."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..adapters import paypal
from ..extensions import db
from ..models import PayPalOrder

RANK = {"CREATED": 0, "APPROVED": 1, "AUTHORIZED": 2, "CAPTURED": 3, "VOIDED": 3, "CANCELLED": 3}
REFUND_INVOICE_PREFIX = "lessonbook-refund-"  # our refund row's id travels as the refund's invoice_id


def advance(row: PayPalOrder, status: str, now: datetime) -> bool:
    """Move the row to `status` if that is forward (True), else leave it (False: it is there already or past it)."""
    if RANK[status] <= RANK[row.status]:
        return False
    row.status = status
    row.updated_at = now
    return True


def order_row(order_id: str | None) -> PayPalOrder | None:
    """Our row for a PayPal order id (fresh from the database), if we opened that order."""
    if not order_id:
        return None
    return db.session.scalar(select(PayPalOrder).where(PayPalOrder.order_id == order_id)
                             .execution_options(populate_existing=True))


def record_authorization(row: PayPalOrder, auth: paypal.Authorization, now: datetime) -> bool:
    """The order's money is held by `auth` (True if that is news). A reauthorization replaces the live id and keeps
    the first one, which is the one a void must name."""
    if row.authorization_id == auth.id or row.first_authorization_id == auth.id:
        return False
    if row.authorization_id is not None and RANK[row.status] >= RANK["AUTHORIZED"]:
        if row.status != "AUTHORIZED":
            return False  # captured or voided already: a late notice of an older authorization
        row.authorization_id = auth.id  # a reauthorization (a new id for the same held money)
    else:
        if not advance(row, "AUTHORIZED", now):
            return False  # voided or cancelled before this notice arrived
        row.authorization_id = row.first_authorization_id = auth.id
        row.authorized_at = auth.created_at or now
    row.authorization_expires_at = auth.expires_at
    row.honor_until = (auth.created_at or now) + paypal.HONOR_PERIOD
    row.updated_at = now
    return True
