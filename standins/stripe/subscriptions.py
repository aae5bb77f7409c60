"""Subscriptions and their invoices, in the wire shape of API versions since 2025-03-31.basil (billing periods on
subscription items, an invoice's subscription under `parent.subscription_details`).

A subscription is made by paying a Checkout Session with mode=subscription (see checkout.py). Time does not pass
here by itself: `advance_subscription` (the stand-in-only `POST /_local/subscriptions/{id}/advance`, like a test
clock advanced to the period's end) renews it, or ends it when it was set to cancel at period end.
"""
from __future__ import annotations

import calendar
import html
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Customer, PaymentIntent, PaymentMethod, store

from .base import (DECLINED_CARDS, ApiError, LocalObject, as_bool, as_int, as_str, list_object, merge_metadata,
                   missing_param, no_such, now, parse_currency, random_id, reject_unknown)
from .events import emit
from .pages import html_page

PRORATION_BEHAVIORS = ("create_prorations", "none", "always_invoice")


def add_months(anchor: int, months: int) -> int:
    """`anchor` plus whole calendar months, the day clamped to the month's end (Jan 31 -> Feb 28 -> Mar 31)."""
    start = datetime.fromtimestamp(anchor, UTC)
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


def recurring_price(raw: Any, prefix: str, *, product: str | None = None) -> dict:
    """A Price object made from `price_data` with `recurring` (Checkout's product_data or an item's product id)."""
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param=prefix, code="parameter_invalid_object")
    allowed = {"currency", "unit_amount", "recurring", "tax_behavior", "product" if product is None else "product_data"}
    reject_unknown(raw, allowed, prefix)
    for name in ("currency", "unit_amount", "recurring"):
        if name not in raw:
            raise missing_param(f"{prefix}[{name}]")
    recurring = raw["recurring"]
    if not isinstance(recurring, dict):
        raise ApiError(400, "Invalid object", param=f"{prefix}[recurring]", code="parameter_invalid_object")
    reject_unknown(recurring, {"interval", "interval_count"}, f"{prefix}[recurring]")
    if recurring.get("interval") != "month":
        raise ApiError(400, "This local Stripe server implements only recurring[interval]=month.",
                       param=f"{prefix}[recurring][interval]")
    if as_int(recurring.get("interval_count", 1), f"{prefix}[recurring][interval_count]") != 1:
        raise ApiError(400, "This local Stripe server implements only recurring[interval_count]=1.",
                       param=f"{prefix}[recurring][interval_count]")
    currency = parse_currency(raw["currency"], f"{prefix}[currency]")
    unit_amount = as_int(raw["unit_amount"], f"{prefix}[unit_amount]", minimum=0)
    if product is None:
        product = as_str(raw.get("product", ""), f"{prefix}[product]")
        if not product:
            raise missing_param(f"{prefix}[product]")
        if product not in _known_products():
            raise no_such("product", product, f"{prefix}[product]")
    return {"id": "price_" + random_id(24), "object": "price", "active": False, "billing_scheme": "per_unit",
            "created": now(), "currency": currency, "custom_unit_amount": None, "livemode": False,
            "lookup_key": None, "metadata": {}, "nickname": None, "product": product,
            "recurring": {"interval": "month", "interval_count": 1, "meter": None, "trial_period_days": None,
                          "usage_type": "licensed"},
            "tax_behavior": raw.get("tax_behavior", "unspecified"), "tiers_mode": None,
            "transform_quantity": None, "type": "recurring", "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount)}


def _known_products() -> set[str]:
    return {sub.item["price"]["product"] for sub in Subscription._all()}


class Subscription(LocalObject):
    object = "subscription"
    _id_prefix = "sub_"

    def __init__(self, *, customer: str, price: dict, metadata: dict, card: str, payment_method: str):
        super().__init__()
        self.customer = customer
        self.currency = price["currency"]
        self.metadata = metadata
        self.status = "active"
        self.billing_cycle_anchor = self.created
        self.start_date = self.created
        self.cancel_at_period_end = False
        self.canceled_at: int | None = None
        self.ended_at: int | None = None
        self.latest_invoice: str | None = None
        self.default_payment_method = payment_method
        self.card_declines = False  # a stand-in knob: the saved card now declines (renewals fail)
        self.periods = 1  # periods begun since the anchor
        self.pending_lines: list[dict] = []  # prorations to bill on the next renewal
        self.credit = 0  # the customer's credit balance (a downgrade's proration), spent by the next invoice
        self.card = card
        self.item = {"id": "si_" + random_id(14), "object": "subscription_item", "created": self.created,
                     "current_period_start": self.created, "current_period_end": add_months(self.created, 1),
                     "discounts": [], "metadata": {}, "price": price, "quantity": 1, "subscription": self.id,
                     "tax_rates": []}

    def _period(self) -> dict:
        return {"current_period_start": self.item["current_period_start"],
                "current_period_end": self.item["current_period_end"]}

    def _item_data(self) -> dict:
        return dict(self.item, price=dict(self.item["price"]), plan=None)

    def _data(self) -> dict:
        return {
            "id": self.id, "object": self.object, "application": None, "application_fee_percent": None,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
            "billing_cycle_anchor": self.billing_cycle_anchor, "billing_cycle_anchor_config": None,
            "billing_mode": {"type": "classic"}, "billing_thresholds": None,
            "cancel_at": self.item["current_period_end"] if self.cancel_at_period_end else None,
            "cancel_at_period_end": self.cancel_at_period_end, "canceled_at": self.canceled_at,
            "cancellation_details": {"comment": None, "feedback": None,
                                     "reason": "cancellation_requested" if self.canceled_at else None},
            "collection_method": "charge_automatically", "created": self.created, "currency": self.currency,
            "customer": self.customer, "days_until_due": None,
            "default_payment_method": self.default_payment_method, "default_source": None,
            "default_tax_rates": [], "description": None, "discounts": [], "ended_at": self.ended_at,
            "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
            "items": {"object": "list", "data": [self._item_data()], "has_more": False, "total_count": 1,
                      "url": f"/v1/subscription_items?subscription={self.id}"},
            "latest_invoice": self.latest_invoice, "livemode": False, "metadata": dict(self.metadata),
            "next_pending_invoice_item_invoice": None, "on_behalf_of": None, "pause_collection": None,
            "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                                 "save_default_payment_method": "off"},
            "pending_invoice_item_interval": None, "pending_setup_intent": None, "pending_update": None,
            "schedule": None, "start_date": self.start_date, "status": self.status, "test_clock": None,
            "transfer_data": None, "trial_end": None,
            "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}}, "trial_start": None,
        }


class Invoice(LocalObject):
    object = "invoice"
    _id_prefix = "in_"

    def __init__(self, *, subscription: Subscription, billing_reason: str, lines: list[dict]):
        super().__init__()
        self.subscription = subscription.id
        self.customer = subscription.customer
        self.currency = subscription.currency
        self.billing_reason = billing_reason
        self.subscription_metadata = dict(subscription.metadata)
        self.lines = lines
        self.subtotal = sum(line["amount"] for line in lines)
        self.starting_balance = -min(subscription.credit, max(self.subtotal, 0))
        subscription.credit += self.starting_balance
        self.amount_due = max(self.subtotal + self.starting_balance, 0)
        if self.subtotal < 0:  # a net credit (a downgrade billed at once) goes to the customer's balance
            subscription.credit += -self.subtotal
        self.amount_paid = 0
        self.status = "open"
        self.attempt_count = 0
        self.payment_intent: str | None = None  # the PaymentIntent that paid it (listed by /v1/invoice_payments)
        self.last_error: dict | None = None
        self.paid_at: int | None = None
        self.period_start = min(line["period"]["start"] for line in lines)
        self.period_end = max(line["period"]["end"] for line in lines)
        self.number = f"LOCAL-{self._seq:04d}"
        subscription.latest_invoice = self.id

    def _data(self) -> dict:
        lines = [dict(line, invoice=self.id) for line in self.lines]
        paid = self.status == "paid"
        return {
            "id": self.id, "object": self.object, "account_country": "GB", "account_name": "Lessonbook",
            "amount_due": self.amount_due, "amount_overpaid": 0, "amount_paid": self.amount_paid,
            "amount_remaining": self.amount_due - self.amount_paid, "amount_shipping": 0, "application": None,
            "attempt_count": self.attempt_count, "attempted": self.attempt_count > 0, "auto_advance": not paid,
            "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None, "provider": None,
                              "status": None},
            "billing_reason": self.billing_reason, "collection_method": "charge_automatically",
            "created": self.created, "currency": self.currency, "customer": self.customer,
            "customer_email": None, "default_payment_method": None, "description": None, "discounts": [],
            "due_date": None, "ending_balance": self.starting_balance, "footer": None,
            "hosted_invoice_url": None, "invoice_pdf": None, "last_finalization_error": None,
            "last_payment_error": dict(self.last_error) if self.last_error else None,
            "lines": {"object": "list", "data": lines, "has_more": False, "total_count": len(lines),
                      "url": f"/v1/invoices/{self.id}/lines"},
            "livemode": False, "metadata": {},
            "next_payment_attempt": None if paid or self.attempt_count == 0 else self.created + 3 * 86400,
            "number": self.number, "on_behalf_of": None,
            "parent": {"quote_details": None, "type": "subscription_details",
                       "subscription_details": {"metadata": dict(self.subscription_metadata),
                                                "subscription": self.subscription}},
            "period_end": self.period_end, "period_start": self.period_start,
            "starting_balance": self.starting_balance, "status": self.status,
            "status_transitions": {"finalized_at": self.created, "marked_uncollectible_at": None,
                                   "paid_at": self.paid_at, "voided_at": None},
            "subtotal": self.subtotal, "total": self.subtotal, "total_discount_amounts": [],
            "total_excluding_tax": self.subtotal, "webhooks_delivered_at": self.created,
        }


def _line(sub: Subscription, price: dict, amount: int, start: int, end: int, description: str, *,
          proration: bool) -> dict:
    return {"id": "il_" + random_id(24), "object": "line_item", "amount": amount, "currency": sub.currency,
            "description": description, "discount_amounts": [], "discountable": True, "discounts": [],
            "livemode": False, "metadata": dict(sub.metadata),
            "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                       "subscription_item_details": {"invoice_item": None, "proration": proration,
                                                     "proration_details": {"credited_items": None},
                                                     "subscription": sub.id, "subscription_item": sub.item["id"]}},
            "period": {"start": start, "end": end},
            "pricing": {"price_details": {"price": price["id"], "product": price["product"]},
                        "type": "price_details", "unit_amount_decimal": str(price["unit_amount"])},
            "quantity": 1, "taxes": []}


def _period_line(sub: Subscription) -> dict:
    price = sub.item["price"]
    return _line(sub, price, price["unit_amount"], sub.item["current_period_start"],
                 sub.item["current_period_end"], "1 × subscription", proration=False)


def _decline(sub: Subscription) -> tuple[str, str] | None:
    """Why charging the subscription's default payment method fails now (code, message), or None."""
    if sub.card_declines:
        return "card_declined", "Your card was declined."
    pm = store.get(f"payment_method:{sub.default_payment_method}")
    number = getattr(pm, "_card_number", None)
    if number in DECLINED_CARDS:
        return DECLINED_CARDS[number][0], DECLINED_CARDS[number][2]
    return None


def _charge(invoice: Invoice, sub: Subscription) -> bool:
    """Collect the invoice from the default payment method with a PaymentIntent (a real, refundable charge that
    funds the platform balance); emits invoice.paid or invoice.payment_failed."""
    if invoice.amount_due > 0:
        invoice.attempt_count += 1
        declined = _decline(sub)
        if declined is None:
            pi = PaymentIntent(amount=invoice.amount_due, currency=invoice.currency, customer=sub.customer,
                               payment_method=sub.default_payment_method, metadata={},
                               capture_method="automatic")
            try:
                pi._confirm(on_failure_now=pi._report_failure)
            except UserError as error:
                declined = ("card_declined", error.body["error"].get("message", "Your card was declined."))
            if declined is None and pi.status != "succeeded":
                declined = ("card_declined", "Your card was declined.")
            invoice.payment_intent = pi.id if declined is None else None
        if declined is not None:
            invoice.last_error = {"code": declined[0], "message": declined[1], "type": "card_error"}
            emit("invoice.payment_failed", invoice)
            return False
    invoice.status = "paid"
    invoice.amount_paid = invoice.amount_due
    invoice.paid_at = now()
    invoice.last_error = None
    emit("invoice.paid", invoice)
    return True


def start_subscription(*, email: str, price: dict, metadata: dict, card: str, customer: str | None,
                       payment_method: str) -> tuple[Subscription, Invoice]:
    """Checkout paid: the customer (made now unless given), the subscription and its first invoice, paid."""
    if customer is None:
        customer = Customer._api_create(email=email).id
    pm = PaymentMethod._api_retrieve(payment_method)
    pm.customer = customer  # Checkout attaches the card it collected to the customer
    sub = Subscription(customer=customer, price=price, metadata=metadata, card=card, payment_method=payment_method)
    invoice = Invoice(subscription=sub, billing_reason="subscription_create", lines=[_period_line(sub)])
    emit("customer.subscription.created", sub)
    _charge(invoice, sub)
    return sub, invoice


def advance_subscription(sub: Subscription, *, renewal: str | None = None) -> Subscription:
    """The current period ends: an ending subscription is deleted, any other renews (its invoice paid or failed)."""
    if sub.status in ("canceled", "incomplete_expired"):
        raise ApiError(400, "This subscription is canceled; it has no next period.", param="subscription")
    if renewal is not None:
        sub.card_declines = renewal == "declined"
    ends = sub.item["current_period_end"]
    if sub.cancel_at_period_end:
        sub.status = "canceled"
        sub.ended_at = ends
        sub.canceled_at = sub.canceled_at or ends
        emit("customer.subscription.deleted", sub)
        return sub
    previous = {"items": {"data": [sub._item_data()], "object": "list"}, "latest_invoice": sub.latest_invoice}
    sub.periods += 1
    sub.item["current_period_start"] = ends
    sub.item["current_period_end"] = add_months(sub.billing_cycle_anchor, sub.periods)
    lines, sub.pending_lines = [*sub.pending_lines, _period_line(sub)], []
    invoice = Invoice(subscription=sub, billing_reason="subscription_cycle", lines=lines)
    if not _charge(invoice, sub) and sub.status == "active":
        previous["status"] = sub.status
        sub.status = "past_due"
    emit("customer.subscription.updated", sub, previous)
    return sub


def pay_invoice(invoice: Invoice, *, paid_out_of_band: bool) -> Invoice:
    """Retry an open invoice now (or mark it paid outside Stripe); a paid invoice brings its subscription back."""
    if invoice.status != "open":
        raise ApiError(400, "Invoice is already paid", code="invoice_already_paid" if invoice.status == "paid"
                       else "invoice_not_open")
    sub = Subscription._get(invoice.subscription)
    if paid_out_of_band:
        invoice.status = "paid"
        invoice.paid_at = now()
        emit("invoice.paid", invoice)
    elif not _charge(invoice, sub):
        error = invoice.last_error or {"code": "card_declined", "message": "Your card was declined."}
        raise ApiError(402, error["message"], code=error["code"], type="card_error")
    if sub.status == "past_due" and sub.latest_invoice == invoice.id:
        sub.status = "active"
        emit("customer.subscription.updated", sub, {"status": "past_due"})
    return invoice


def _change_price(sub: Subscription, raw_items: Any, behavior: str) -> dict:
    if not isinstance(raw_items, list) or len(raw_items) != 1 or not isinstance(raw_items[0], dict):
        raise ApiError(400, "This local Stripe server updates exactly one item: items[0][id] and "
                            "items[0][price_data].", param="items")
    raw = raw_items[0]
    reject_unknown(raw, {"id", "price_data"}, "items[0]")
    if raw.get("id") != sub.item["id"]:
        raise no_such("subscription_item", str(raw.get("id", "")), "items[0][id]")
    if "price_data" not in raw:
        raise missing_param("items[0][price_data]")
    price = recurring_price(raw["price_data"], "items[0][price_data]")
    if price["currency"] != sub.currency:
        raise ApiError(400, "The price's currency must match the subscription's.", param="items[0][price_data]")
    previous = {"items": {"data": [sub._item_data()], "object": "list"}}
    old = sub.item["price"]
    sub.item["price"] = price
    start, end, at = sub.item["current_period_start"], sub.item["current_period_end"], now()
    left = max(min(end - at, end - start), 0) / (end - start)
    lines = [_line(sub, old, -round(old["unit_amount"] * left), at, end, "Unused time on the previous price",
                   proration=True),
             _line(sub, price, round(price["unit_amount"] * left), at, end, "Remaining time on the new price",
                   proration=True)]
    if behavior == "create_prorations":
        sub.pending_lines.extend(lines)
    elif behavior == "always_invoice":
        invoice = Invoice(subscription=sub, billing_reason="subscription_update", lines=lines)
        previous["latest_invoice"] = None
        if not _charge(invoice, sub) and sub.status == "active":
            previous["status"] = sub.status
            sub.status = "past_due"
    return previous


def update_subscription(request: web.Request, params: dict, id: str) -> Subscription:
    reject_unknown(params, {"cancel_at_period_end", "items", "proration_behavior", "metadata",
                            "default_payment_method"})
    sub = Subscription._get(id)
    if sub.status == "canceled" and set(params) - {"metadata"}:
        raise ApiError(400, "A canceled subscription can only update its cancellation_details and metadata.")
    behavior = params.get("proration_behavior", "create_prorations")
    if behavior not in PRORATION_BEHAVIORS:
        raise ApiError(400, "Invalid proration_behavior: must be one of " + ", ".join(PRORATION_BEHAVIORS),
                       param="proration_behavior")
    previous: dict = {}
    if "metadata" in params:  # first: an invoice this update makes snapshots the new metadata, as Stripe's does
        previous["metadata"] = dict(sub.metadata)
        sub.metadata = merge_metadata(sub.metadata, params["metadata"])
    if "default_payment_method" in params:
        pm_id = as_str(params["default_payment_method"], "default_payment_method")
        pm = store.get(f"payment_method:{pm_id}")
        if not isinstance(pm, PaymentMethod):
            raise no_such("payment_method", pm_id, "default_payment_method")
        if getattr(pm, "customer", None) != sub.customer:
            raise ApiError(400, f"The customer does not have a payment method with the ID {pm_id}. The payment "
                                "method must be attached to the customer.", param="default_payment_method",
                           code="resource_missing")
        if pm_id != sub.default_payment_method:
            previous["default_payment_method"] = sub.default_payment_method
            sub.default_payment_method = pm_id
            sub.card_declines = False  # the stand-in's knob was about the old card
    if "items" in params:
        previous.update(_change_price(sub, params["items"], behavior))
    if "cancel_at_period_end" in params:
        wanted = as_bool(params["cancel_at_period_end"], "cancel_at_period_end")
        if wanted != sub.cancel_at_period_end:
            previous.update(cancel_at_period_end=sub.cancel_at_period_end, cancel_at=None if wanted else
                            sub.item["current_period_end"], canceled_at=sub.canceled_at)
            sub.cancel_at_period_end = wanted
            sub.canceled_at = now() if wanted else None
    if previous:
        emit("customer.subscription.updated", sub, previous)
    return sub


def cancel_subscription(request: web.Request, params: dict, id: str) -> Subscription:
    reject_unknown(params, {"invoice_now", "prorate"})
    sub = Subscription._get(id)
    if sub.status == "canceled":
        raise ApiError(400, "This subscription is already canceled.", param="subscription")
    sub.status = "canceled"
    sub.canceled_at = sub.ended_at = now()
    emit("customer.subscription.deleted", sub)
    return sub


def retrieve_subscription(request: web.Request, params: dict, id: str) -> Subscription:
    reject_unknown(params, set())
    return Subscription._get(id)


def list_subscriptions(request: web.Request, params: dict) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "customer", "status"})
    subs = Subscription._all()
    if params.get("customer"):
        subs = [s for s in subs if s.customer == params["customer"]]
    status = params.get("status")
    if status and status != "all":
        subs = [s for s in subs if s.status == status]
    elif not status:
        subs = [s for s in subs if s.status != "canceled"]
    return list_object("/v1/subscriptions", subs, params, [])


def retrieve_invoice(request: web.Request, params: dict, id: str) -> Invoice:
    reject_unknown(params, set())
    return Invoice._get(id)


def list_invoices(request: web.Request, params: dict) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "customer", "subscription", "status"})
    invoices = Invoice._all()
    for name in ("customer", "subscription", "status"):
        if params.get(name):
            invoices = [i for i in invoices if getattr(i, name) == params[name]]
    return list_object("/v1/invoices", invoices, params, [])


def list_invoice_payments(request: web.Request, params: dict) -> dict:
    """GET /v1/invoice_payments?invoice=in_...: how an invoice was paid (API 2025-03-31 moved the PaymentIntent off
    the invoice onto these)."""
    reject_unknown(params, {"invoice", "limit", "starting_after", "ending_before", "status", "payment"})
    if not params.get("invoice"):
        raise missing_param("invoice")
    invoice = Invoice._get(as_str(params["invoice"], "invoice"), "invoice")
    rows = []
    if invoice.payment_intent:
        rows.append({"id": "inpay_" + invoice.id.removeprefix("in_"), "object": "invoice_payment",
                     "amount_paid": invoice.amount_paid, "amount_requested": invoice.amount_due,
                     "created": invoice.paid_at, "currency": invoice.currency, "invoice": invoice.id,
                     "is_default": True, "livemode": False,
                     "payment": {"type": "payment_intent", "payment_intent": invoice.payment_intent},
                     "status": "paid", "status_transitions": {"canceled_at": None, "paid_at": invoice.paid_at}})
    return {"object": "list", "data": rows, "has_more": False, "url": "/v1/invoice_payments"}


def pay_invoice_endpoint(request: web.Request, params: dict, id: str) -> Invoice:
    reject_unknown(params, {"paid_out_of_band"})
    return pay_invoice(Invoice._get(id), paid_out_of_band=as_bool(params.get("paid_out_of_band", False),
                                                                  "paid_out_of_band"))


def advance_endpoint(request: web.Request, params: dict, id: str) -> Subscription:
    """Stand-in only: end the current period now (renewal=paid|declined sets whether the saved card pays)."""
    reject_unknown(params, {"renewal"})
    renewal = params.get("renewal")
    if renewal not in (None, "paid", "declined"):
        raise ApiError(400, "renewal must be paid or declined.", param="renewal")
    return advance_subscription(Subscription._get(id), renewal=renewal)


async def advance_form(request: web.Request) -> web.StreamResponse:
    """Stand-in only: the dev page's Advance buttons (no API key: the server binds 127.0.0.1 only)."""
    sub = store.get(f"subscription:{request.match_info['id']}")
    renewal = (await request.post()).get("renewal")
    if not isinstance(sub, Subscription) or renewal not in ("paid", "declined"):
        return await advance_page(request, "No such subscription, or renewal is not paid/declined.")
    try:
        advance_subscription(sub, renewal=str(renewal))
    except ApiError as error:
        return await advance_page(request, str(error))
    raise web.HTTPSeeOther("/_local/subscriptions")


async def advance_page(request: web.Request, error: str = "") -> web.StreamResponse:
    """Stand-in only: a page to advance a subscription by hand in a dev walk."""
    sub = Subscription._all()
    rows = "".join(f"<li>{s.id} — {s.status}{' (cancels at period end)' if s.cancel_at_period_end else ''}"
                   f" <form method=\"post\" action=\"/_local/subscriptions/{s.id}/advance\">"
                   f"<button name=\"renewal\" value=\"paid\">Advance (card pays)</button>"
                   f"<button name=\"renewal\" value=\"declined\">Advance (card declines)</button></form></li>"
                   for s in sub)
    alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return html_page("Subscriptions", f"<h1>Subscriptions</h1>{alert}<ul>{rows}</ul>")
