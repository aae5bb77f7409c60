"""Refunds that fail after the provider accepted them (Stripe's `charge.refund.updated` / `refund.failed`): what the
staff are told, and the payout hold such a refund puts on its booking.

The refund's own row is changed by the module that owns it (services/cancellations.py for lessons,
services/package_refunds.py for packages, services/subscription_checkouts.py for duplicate subscriptions); this
module only holds what they share, so none of them imports another."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from ..domain.labels import refund_failure_words as reason_words
from ..domain.money import Money
from ..domain.roles import STAFF_ROLES
from ..models import Refund, User
from . import outbox
from .notify import notify
from .urls import public_url


def tell_staff(session, *, key: str, what: str, amount: Money, refund_id: str, reason: str | None, path: str,
               consequence: str, tutor_short: Money | None = None, provider: str = "Stripe") -> None:
    """In the caller's write: email the team (outbox) and put a notice in every staff member's notification centre,
    once per failed refund (`key`)."""
    context = {"provider": provider, "what": what, "amount": amount.format(), "refund_id": refund_id,
               "reason": reason_words(reason), "consequence": consequence, "url": public_url(path),
               "tutor_short": tutor_short.format() if tutor_short and tutor_short.amount_minor else None}
    outbox.enqueue_email("refund_failed", current_app.config["INTERNAL_TEAM_EMAIL"], context,
                         dedupe_key=f"refund-failed:{key}")
    for user in session.scalars(select(User).where(User.role.in_([str(r) for r in STAFF_ROLES]),
                                                   User.suspended_at.is_(None))):
        notify(user, kind="refund_failed", title=f"Refund of {amount.format()} failed: {what}",
               body=f"{provider} could not complete refund {refund_id} ({reason_words(reason)}). {consequence}",
               url=path, dedupe_key=f"refund-failed:{key}:{user.id}", push=False)


def payout_hold(session, booking_id: int) -> Refund | None:
    """The refund that failed after Stripe accepted it and that no refund made since has followed, if any: while
    there is one the booking's payout waits for the staff (refund the customer again, which lifts the hold, or retry
    the payout by hand to pay the tutor anyway)."""
    last_made = session.scalar(select(func.max(Refund.created_at)).where(
        Refund.booking_id == booking_id, Refund.status.in_(("pending", "succeeded"))))
    query = select(Refund).where(Refund.booking_id == booking_id, Refund.status == "failed",
                                 Refund.failed_at.is_not(None)).order_by(Refund.failed_at.desc())
    failed = session.scalars(query).first()
    if failed is None or (last_made is not None and last_made > failed.failed_at):
        return None
    return failed


HELD = "Held: "  # how a payout hold's words start on the receipt (transfer_error), so it is told from a failure


def hold_words(refund: Refund) -> str:
    """What the payout page and timeline say about a hold."""
    return (f"{HELD}refund {refund.stripe_refund_id or refund.paypal_refund_id} of "
            f"{Money(refund.amount_minor, refund.currency).format()} failed ({reason_words(refund.failure_reason)}). "
            "Refund the customer again (the hold lifts) or retry to pay the tutor anyway.")
