"""Refunds that fail after Stripe accepted them, as Stripe's do.

A card refund is `succeeded` (or `pending`) when it is created, and may still fail days later (the card was closed,
the bank sent the money back). Stripe then sets the refund's `status` to `failed` with a `failure_reason` and a
`failure_balance_transaction` (the money back in the balance), the charge's `amount_refunded` drops by it, and it
sends `charge.refund.updated` and, in newer API versions, `refund.updated` and `refund.failed` (all three carry the
refund as `data.object`; the updated ones `previous_attributes` too). A `canceled` refund sends the updated ones.

Two ways to make that happen here, both stand-in only:
- Stripe's test card 4000 0000 0000 5126 (`pm_card_refundFail`): every refund of a charge made with it starts
  `succeeded` and fails `REFUND_FAILS_AFTER_SECONDS` later (by this server's clock: `advance_clock` hurries it).
- Any refund, at once: `POST /v1/test_helpers/local/refunds/{id}/fail` (with the API key; `status=failed|canceled`,
  `failure_reason=...`) or `server.fail_refund(id)`.
"""
from __future__ import annotations

from localstripe.resources import BalanceTransaction, Charge, Refund, store
from aiohttp import web

from .base import ApiError, now, own_state, reject_unknown
from .events import emit

# Stripe's test card whose refunds fail later, and the reason Stripe gives for it.
REFUND_FAILS_CARDS = {"4000000000005126": "expired_or_canceled_card"}
REFUND_FAILS_AFTER_SECONDS = 10
FAILURE_REASONS = {"lost_or_stolen_card", "expired_or_canceled_card", "charge_for_pending_refund_disputed",
                   "insufficient_funds", "declined", "merchant_request", "unknown"}
_GONE = ("failed", "canceled")


def _amount_refunded(charge: Charge) -> int:
    # A failed or canceled refund gives the money back to the charge, as Stripe's `amount_refunded` shows.
    return sum(refund.amount for refund in charge.refunds._list if refund.status not in _GONE)


def patch_refunds() -> None:
    """The fields Stripe's refunds have that localstripe's lack, and a charge's total that leaves failed ones out."""
    Refund.failure_reason = None
    Refund.failure_balance_transaction = None
    Refund.reason = None
    Charge.amount_refunded = property(_amount_refunded)


def prepare(refund: Refund) -> None:
    """Just created: name its PaymentIntent (Stripe always does) and, for the refund-fail card, doom it."""
    charge = Charge._api_retrieve(refund.charge)
    if refund.payment_intent is None:
        refund.payment_intent = charge.payment_intent
    method = store.get(f"payment_method:{charge.payment_method}") if charge.payment_method else None
    if getattr(method, "_card_number", None) in REFUND_FAILS_CARDS:
        own_state.doomed_refunds[refund.id] = now() + REFUND_FAILS_AFTER_SECONDS


def fail_refund(refund_id: str, status: str = "failed", failure_reason: str | None = None) -> Refund:
    """Fail (or cancel) a refund that Stripe had accepted, and send the events Stripe sends for it."""
    refund = store.get(f"refund:{refund_id}")
    if not isinstance(refund, Refund):
        raise ApiError(404, f"No such refund: '{refund_id}'", param="id", code="resource_missing")
    if status not in _GONE:
        raise ApiError(400, "status must be failed or canceled.", param="status")
    if refund.status not in ("succeeded", "pending"):
        raise ApiError(400, f"This refund is {refund.status}: only a succeeded or pending refund can fail.",
                       code="refund_unexpected_state")
    if failure_reason is not None and failure_reason not in FAILURE_REASONS:
        raise ApiError(400, f"failure_reason must be one of {', '.join(sorted(FAILURE_REASONS))}.",
                       param="failure_reason")
    own_state.doomed_refunds.pop(refund.id, None)
    previous = {"status": refund.status, "failure_reason": None, "failure_balance_transaction": None}
    refund.status = status
    if status == "failed":
        charge = Charge._api_retrieve(refund.charge)
        method = store.get(f"payment_method:{charge.payment_method}") if charge.payment_method else None
        refund.failure_reason = failure_reason or REFUND_FAILS_CARDS.get(getattr(method, "_card_number", ""),
                                                                          "unknown")
        txn = BalanceTransaction(amount=refund.amount, currency=refund.currency, description="REFUND FAILURE",
                                 exchange_rate=1.0, reporting_category="refund", source=refund.id, type="refund")
        txn.type = txn.reporting_category = "refund_failure"  # localstripe knows only charge and refund
        refund.failure_balance_transaction = txn.id
    else:
        previous.pop("failure_reason")
        previous.pop("failure_balance_transaction")
    emit("charge.refund.updated", refund, previous)
    emit("refund.updated", refund, previous)
    if status == "failed":
        emit("refund.failed", refund)
    return refund


def fail_due_refunds() -> None:
    """Fail the refund-fail card's refunds whose time has come (the server's background sweep)."""
    for refund_id, due in list(own_state.doomed_refunds.items()):
        if due <= now():
            refund = store.get(f"refund:{refund_id}")
            if isinstance(refund, Refund) and refund.status in ("succeeded", "pending"):
                fail_refund(refund_id)
            own_state.doomed_refunds.pop(refund_id, None)


def fail_endpoint(request: web.Request, params: dict, id: str) -> Refund:
    """Stand-in only: fail (or cancel) a refund now, as Stripe does when the bank sends the money back."""
    reject_unknown(params, {"status", "failure_reason"})
    return fail_refund(id, params.get("status") or "failed", params.get("failure_reason") or None)
