"""Transfers and their reversals, and the platform balance that funds them.
"""
from __future__ import annotations

from aiohttp import web
from localstripe.resources import Charge, store

from .base import (ApiError, as_int, as_str, expand_list, list_object, merge_metadata, missing_param, money, no_such,
                   parse_currency, parse_metadata, reject_unknown)
from .objects import Transfer, TransferReversal
from .events import emit


def available_balance(currency: str) -> int:
    """Captured charges minus refunds, minus transfers, plus reversals (all treated as available)."""
    total = 0
    for obj in list(store.values()):
        if isinstance(obj, Charge) and obj.currency == currency and obj.status == "succeeded" and obj.captured:
            total += obj.amount - obj.amount_refunded
        elif isinstance(obj, Transfer) and obj.currency == currency:
            total -= obj.amount - obj._amount_reversed
    return total


def balance_object() -> dict:
    currencies = {obj.currency for obj in list(store.values()) if isinstance(obj, (Charge, Transfer))} or {"usd"}
    available = [{"amount": available_balance(c), "currency": c, "source_types": {"card": available_balance(c)}}
                 for c in sorted(currencies)]
    pending = [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in sorted(currencies)]
    return {"object": "balance", "available": available, "livemode": False, "pending": pending}


def create_transfer(request: web.Request, params: dict) -> Transfer:
    reject_unknown(params, {"amount", "currency", "destination", "transfer_group", "source_transaction",
                             "metadata", "description"})
    for name in ("amount", "currency", "destination"):
        if name not in params or params[name] == "":
            raise missing_param(name)
    amount = as_int(params["amount"], "amount", minimum=1)
    currency = parse_currency(params["currency"], "currency")
    destination_id = as_str(params["destination"], "destination")
    destination = store.get(f"account:{destination_id}")
    if destination is None:
        raise no_such("destination", destination_id, "destination")
    if destination.capabilities.get("transfers") != "active":
        raise ApiError(400, "Your destination account needs to have at least one of the following capabilities "
                            "enabled: transfers, crypto_transfers, legacy_payments", param="destination",
                       code="insufficient_capabilities_for_transfer")
    source_transaction = params.get("source_transaction") or None
    if source_transaction is not None:
        charge = store.get(f"charge:{as_str(source_transaction, 'source_transaction')}")
        if charge is None:
            raise no_such("charge", source_transaction, "source_transaction")
        if charge.status != "succeeded" or not charge.captured:
            raise ApiError(400, f"The source_transaction {charge.id} has not been captured; only captured charges "
                                f"can fund a transfer.", param="source_transaction")
        if charge.currency != currency:
            raise ApiError(400, f"The currency of source_transaction's balance transaction ({charge.currency}) "
                                f"must be the same as the transfer currency ({currency}).", param="currency")
        already = sum(t.amount - t._amount_reversed for t in Transfer._all() if t.source_transaction == charge.id)
        left = charge.amount - charge.amount_refunded - already
        if amount > left:
            raise ApiError(400, f"Transfer amount ({money(amount, currency)}) exceeds the amount left on "
                                f"source_transaction {charge.id} ({money(max(left, 0), currency)}).",
                           param="amount", code="amount_too_large")
    elif amount > available_balance(currency):
        raise ApiError(400, "You have insufficient available funds in your Stripe account. Try adding funds "
                            "directly to your available balance by creating Charges using the 4000000000000077 "
                            "test card.", code="balance_insufficient")
    transfer_group = params.get("transfer_group") or None
    transfer = Transfer(amount=amount, currency=currency, destination=destination.id,
                        transfer_group=as_str(transfer_group, "transfer_group") if transfer_group else None,
                        source_transaction=source_transaction, metadata=parse_metadata(params.get("metadata")),
                        description=params.get("description") or None)
    emit("transfer.created", transfer)
    return transfer


def retrieve_transfer(request: web.Request, params: dict, id: str) -> Transfer:
    reject_unknown(params, set())
    return Transfer._get(id)


def update_transfer(request: web.Request, params: dict, id: str) -> Transfer:
    reject_unknown(params, {"metadata", "description"})
    transfer = Transfer._get(id)
    previous = {"metadata": dict(transfer.metadata), "description": transfer.description}
    if "metadata" in params:
        transfer.metadata = merge_metadata(transfer.metadata, params["metadata"])
    if "description" in params:
        transfer.description = params["description"] or None
    emit("transfer.updated", transfer, previous_attributes=previous)
    return transfer


def list_transfers(request: web.Request, params: dict) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "destination", "transfer_group", "expand"})
    transfers = Transfer._all()
    for name in ("destination", "transfer_group"):
        if params.get(name):
            transfers = [t for t in transfers if getattr(t, name) == params[name]]
    return list_object("/v1/transfers", transfers, params, expand_list(params.get("expand")))


def create_reversal(request: web.Request, params: dict, id: str) -> TransferReversal:
    reject_unknown(params, {"amount", "metadata", "description", "refund_application_fee"})
    transfer = Transfer._get(id)
    left = transfer.amount - transfer._amount_reversed
    amount = as_int(params["amount"], "amount", minimum=1) if params.get("amount") not in (None, "") else left
    if left <= 0:
        raise ApiError(400, f"Transfer {transfer.id} has already been fully reversed.", param="amount",
                       code="amount_too_large")
    if amount > left:
        raise ApiError(400, f"Reversal amount ({money(amount, transfer.currency)}) is greater than the amount "
                            f"left to reverse on transfer {transfer.id} ({money(left, transfer.currency)}).",
                       param="amount", code="amount_too_large")
    reversal = TransferReversal(transfer=transfer, amount=amount, metadata=parse_metadata(params.get("metadata")))
    emit("transfer.reversed", transfer)
    return reversal


def list_reversals(request: web.Request, params: dict, id: str) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "expand"})
    transfer = Transfer._get(id)
    return list_object(f"/v1/transfers/{transfer.id}/reversals", transfer._reversals, params,
                        expand_list(params.get("expand")))


def retrieve_reversal(request: web.Request, params: dict, id: str, reversal: str) -> TransferReversal:
    reject_unknown(params, set())
    found = TransferReversal._get(reversal)
    if found.transfer != id:
        raise no_such("transfer_reversal", reversal, "id", 404)
    return found
