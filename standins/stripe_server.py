"""A local Stripe-compatible server for dev and tests: localstripe plus what it lacks.

There is no internet here, so the official `stripe` SDK is pointed at this server on 127.0.0.1
(`stripe.StripeClient(key, base_addresses={"api": server.url})`). It is localstripe's aiohttp `app`
with extra routes and middlewares registered on it, speaking Stripe's wire format (ids, object
shapes, list objects, error bodies and HTTP statuses), so code using the SDK cannot tell.

Run it:      python -m standins.stripe_server --port 8420 [--webhook-url URL --webhook-secret whsec_...]
Or import:   server = start_local_stripe(); server.url; server.register_webhook(url, secret);
             server.unregister_webhook(url); server.reset(); server.advance_clock(seconds); server.stop()
             (tests: the fixtures in tests/stripe_fixtures.py; its own tests: standins/tests/test_stripe_server.py)
It binds 127.0.0.1 only and keeps all state in memory (localstripe's /tmp/localstripe.pickle is
never read or written), so a dev server and a test server never share or clobber state. All of
localstripe's state is process-global: one server per process.

What this adds to localstripe
- Checkout Sessions (mode=payment only): create / retrieve / list / expire / line_items, and the
  hosted page at `session.url` (`/c/pay/{id}`): email + card number (expiry and CVC are accepted
  and ignored), "Pay", "Cancel and go back". Test cards:
    4242424242424242 and any other Luhn-valid 16-digit number -> authorised (or captured);
    4000002500003155, 4000002760003184 (and localstripe's other 3DS cards) -> a challenge page with
      "Complete authentication" / "Fail authentication";
    4000000000000002, 4000000000000341 -> "Your card was declined."; 4000000000009995 -> "Your card
      has insufficient funds."; 9987/9979 (lost/stolen), 0069 (expired), 0127 (CVC), 0119
      (processing error) likewise, the session staying open.
  The PaymentIntent is created when the customer first submits (`payment_intent` is null until
  then) with `payment_intent_data`'s capture_method, metadata, transfer_group and description.
  `expires_at` must be 30 minutes to 24 hours ahead (400 otherwise); expiry is also applied by a
  background sweep and on every access, and sends `checkout.session.expired`.
  `payment_status` is "unpaid" for a session whose payment was only authorised (manual capture) and
  stays as it was at completion: read the PaymentIntent's status (`requires_capture`,
  `succeeded`) rather than the session's payment_status to move money states.
- Connect: accounts (`type=express|custom|standard`, country, email, capabilities, metadata,
  business_type, business_profile, default_currency), retrieve / update / list; account links
  (`account_onboarding`, `account_update`) whose URL (`/connect/setup/{token}`) serves an onboarding
  page: "Complete onboarding" (a bare form POST is enough) turns details_submitted, charges_enabled,
  payouts_enabled on and every requested capability "active", sends `account.updated` and 303s to
  return_url; an expired (5 minutes) or used link redirects to refresh_url, like Stripe's.
- Transfers: create (amount, currency, destination, transfer_group, source_transaction, metadata,
  description), retrieve, update (metadata, description), list (destination, transfer_group),
  reversals create / list / retrieve. The destination must exist and have `transfers` active
  (400 insufficient_capabilities_for_transfer). With `source_transaction` the charge must be
  captured, in the same currency and have enough left; without it the platform's balance must cover
  the amount (400 balance_insufficient). The balance is captured charges minus refunds minus
  transfers plus reversals, all treated as available at once (in real Stripe, card funds are
  pending for days, so transfer_group-only transfers can fail there: prefer source_transaction).
  `GET /v1/balance` reports that balance.
- Idempotency-Key on every `POST /v1/...`: the same key with the same parameters replays the first
  response (`Idempotent-Replayed: true`); with other parameters or another endpoint it is a 400
  `idempotency_error`; a concurrent duplicate is a 409. As in Stripe, results are kept only once an
  endpoint ran: 2xx, 402 and 5xx are saved, other 4xx (validation, not found) are not.
- Events localstripe never sends: checkout.session.completed / expired, payment_intent.created and
  payment_intent.payment_failed (hosted page), payment_intent.amount_capturable_updated (any PI
  reaching requires_capture), payment_intent.canceled, charge.refunded (full and partial refunds),
  account.updated (with previous_attributes), transfer.created / reversed / updated. Every event,
  localstripe's own included, carries id evt_..., object, type, created, data.object, api_version
  (API_VERSION below), livemode false, pending_webhooks and request {id, idempotency_key}; it is
  listed newest first at GET /v1/events (filters type, types, created; GET /v1/events/{id} too)
  and delivered about 0.1 s after the response to every registered webhook, signed as Stripe signs
  (`Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "t.payload")`, so `stripe.Webhook.construct_event`
  verifies it), retried a few times if the endpoint fails.
- Fidelity fixes: error bodies get Stripe's `type`/`code`/`param`/`doc_url` (404s become
  resource_missing "No such payment_intent: 'pi_...'", 402s are card_error, unknown URLs are
  "Unrecognized request URL"); refunds beyond what is left are refused (400 amount_too_large,
  charge_already_refunded) where localstripe accepted them, and a refund without `amount` refunds
  what is left (localstripe refunded the whole charge again); PaymentIntents and charges gain
  `transfer_group`, PaymentIntents `amount_capturable` and `amount_received` (the captured amount,
  partial captures included), every response a `Request-Id` header.

What the app may send (anything else is rejected with 400 parameter_unknown, or 404 for an
unimplemented endpoint, so a gap shows up loudly in dev rather than in production)
- checkout.sessions.create: mode=payment, line_items[n][price_data][currency|unit_amount|
  product_data][name|description]] and [quantity] (no Price ids), success_url (may contain
  {CHECKOUT_SESSION_ID}), cancel_url, expires_at, metadata, client_reference_id, customer_email or
  customer, payment_method_types=[card], locale, payment_intent_data[capture_method|metadata|
  transfer_group|description]. retrieve/list take expand (payment_intent, line_items).
- payment_intents (localstripe): capture (amount_to_capture), cancel (no cancellation_reason),
  retrieve, update (metadata, description, transfer_group). Creating one directly rejects
  description, receipt_email, transfer_group, transfer_data, application_fee_amount,
  automatic_payment_methods; `confirm(payment_method=...)` is not implemented (update, then
  confirm); `latest_charge` comes back expanded.
- refunds.create (localstripe): payment_intent or charge, amount, metadata; not `reason`.
- accounts, account_links, transfers and reversals: the parameters listed above.
- Not implemented: Prices/Products for Checkout, destination charges (transfer_data,
  application_fee_amount, on_behalf_of), webhook_endpoints API, Stripe-Account header requests.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import hashlib
import hmac
import html
import itertools
import json
import logging
import secrets
import string
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
from aiohttp import web

with warnings.catch_warnings():  # localstripe registers plain-function handlers, which aiohttp deprecates
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiohttp")
    from localstripe import server as ls_server
from localstripe import webhooks as ls_webhooks
from localstripe.errors import UserError
from localstripe.resources import Charge, Customer, Event, PaymentIntent, PaymentMethod, Refund, StripeObject, store

log = logging.getLogger("local_stripe")

app: web.Application = ls_server.app

# The API version this server's objects follow (the one the pinned `stripe` SDK sends).
API_VERSION = "2026-10-28.endive"
WEBHOOK_DELAY_SECONDS = 0.1
WEBHOOK_RETRY_DELAYS = (0.5, 2.0, 5.0)  # after the first attempt
CHECKOUT_MIN_SECONDS = 30 * 60
CHECKOUT_MAX_SECONDS = 24 * 60 * 60
CHECKOUT_EXPIRES_SLACK = 60  # callers compute expires_at a moment before we compute `created`
ACCOUNT_LINK_SECONDS = 300
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
PUBLIC_PREFIXES = ("/c/pay/", "/connect/setup/")

ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
                "xaf", "xof", "xpf"}
SYMBOLS = {"gbp": "£", "usd": "$", "eur": "€"}
MINIMUM_CHARGE = {"gbp": 30, "usd": 50, "eur": 50}
COUNTRY_CURRENCY = {"GB": "gbp", "US": "usd", "IE": "eur", "FR": "eur", "DE": "eur", "ES": "eur", "IT": "eur",
                    "NL": "eur", "BE": "eur", "AT": "eur", "PT": "eur", "FI": "eur", "CA": "cad", "AU": "aud"}
SETUP_REQUIREMENTS = ["business_type", "external_account", "tos_acceptance.date", "tos_acceptance.ip"]

# Card numbers the hosted page declines: (code, decline_code, message shown to the customer).
DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000000341": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000009987": ("card_declined", "lost_card", "Your card was declined."),
    "4000000000009979": ("card_declined", "stolen_card", "Your card was declined."),
    "4000000000000069": ("expired_card", None, "Your card has expired."),
    "4000000000000127": ("incorrect_cvc", None, "Your card's security code is incorrect."),
    "4000000000000119": ("processing_error", None,
                         "An error occurred while processing your card. Try again in a little bit."),
}
AUTHENTICATION_FAILED = ("We are unable to authenticate your payment method. Please choose a different "
                         "payment method and try again.")


# --- state -------------------------------------------------------------------------------------

class _State:
    """What this module keeps beside localstripe's `store` (which also holds our objects)."""

    def __init__(self) -> None:
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self.clock_offset = 0.0
        self.deliveries: set[asyncio.Task] = set()


_state = _State()
_sequence = itertools.count()
_current_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar("local_stripe_request", default=None)


def now() -> int:
    """This server's clock: real time plus whatever `advance_clock` added (for expiry tests)."""
    return int(time.time() + _state.clock_offset)


def _random_id(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _clear_own_state() -> None:
    _state.idempotency.clear()
    _state.clock_offset = 0.0


def _reset_everything() -> None:
    """Forget every object, event, idempotency key and webhook; cancel deliveries under way (loop thread)."""
    for task in list(_state.deliveries):
        with contextlib.suppress(RuntimeError):  # a task of a loop already closed
            task.cancel()
    _state.deliveries.clear()
    store.clear()
    ls_webhooks._webhooks.clear()
    _clear_own_state()


# --- errors and responses ----------------------------------------------------------------------

class ApiError(Exception):
    """A Stripe-shaped error: `{"error": {"type", "message", "code", "param", "doc_url"}}`."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None,
                 type: str = "invalid_request_error", **extra: Any):
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param
        self.error.update(extra)

    def response(self) -> web.Response:
        return _json({"error": self.error}, status=self.status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda x: json.dumps(x, indent=2, sort_keys=True) + "\n")


def _missing(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", param=param, code="parameter_missing")


def _no_such(noun: str, id: str, param: str, status: int = 400) -> ApiError:
    return ApiError(status, f"No such {noun}: '{id}'", param=param, code="resource_missing")


def _reject_unknown(params: dict, allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise ApiError(400, f"Received unknown parameter: {name} (this local Stripe server does not "
                                f"implement it)", param=name, code="parameter_unknown")


def _int(value: Any, param: str, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer") from None
    if minimum is not None and number < minimum:
        raise ApiError(400, f"This value must be greater than or equal to {minimum}.", param=param,
                       code="parameter_invalid_integer")
    return number


def _str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {value!r}", param=param, code="parameter_invalid_string")
    return value


def _bool(value: Any, param: str) -> bool:
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise ApiError(400, f"Invalid boolean: {value}", param=param, code="parameter_invalid_boolean")


def _metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, "Invalid object", param=param, code="parameter_invalid_object")
    if len(value) > 50:
        raise ApiError(400, "You can specify up to 50 keys in metadata.", param=param)
    return {k: v for k, v in value.items() if v != ""}


def _merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise ApiError(400, "Invalid object", param="metadata", code="parameter_invalid_object")
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = _str(value, f"metadata[{key}]")
    return merged


def _url(value: Any, param: str) -> str:
    url = _str(value, param)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ApiError(400, "Not a valid URL", param=param, code="url_invalid")
    return url


def _currency(value: Any, param: str) -> str:
    currency = _str(value, param).lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ApiError(400, f"Invalid currency: {value}.",
                       param=param, code="parameter_invalid_string")
    return currency


def money(amount: int, currency: str) -> str:
    """`£50.00`, `$0.30`, `500 JPY`, `12.50 SEK`."""
    if currency in ZERO_DECIMAL:
        text = f"{amount:,}"
    else:
        text = f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text} {currency.upper()}"


def _expand_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ApiError(400, "Invalid array", param="expand", code="parameter_invalid_array")


# --- objects -----------------------------------------------------------------------------------

_REGISTRY: dict[str, type[_LocalObject]] = {}


def _lookup(id: str) -> StripeObject | None:
    """Any stored object by id: ours by prefix, else localstripe's own lookup."""
    for prefix, cls in _REGISTRY.items():
        if id.startswith(prefix):
            return store.get(f"{cls.object}:{id}")
    cls = StripeObject._get_class_for_id(id)
    if cls is None:
        return None
    try:
        return cls._api_retrieve(id)
    except UserError:
        return None


def _apply_expand(data: dict, expand: list[str]) -> dict:
    for path in expand:
        head, _, rest = path.partition(".")
        if head not in data:
            raise ApiError(400, f"This property cannot be expanded ({path}).", param="expand")
        value = data[head]
        if isinstance(value, str):
            target = _lookup(value)
            if target is not None:
                data[head] = target._export(expand=[rest] if rest else None)
        elif isinstance(value, dict) and rest:
            _apply_expand(value, [rest])
    return data


class _LocalObject(StripeObject):
    """Our objects live in localstripe's `store`, so its reset clears them and its Event can carry them."""

    _id_prefix: str
    _id_length = 24
    _noun = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_id_prefix" in cls.__dict__:
            _REGISTRY[cls._id_prefix] = cls

    def __init__(self) -> None:
        super().__init__(id=self._id_prefix + _random_id(self._id_length))
        self.created = now()
        self._seq = next(_sequence)

    @classmethod
    def _get(cls, id: str, param: str = "id", status: int = 404):
        obj = store.get(f"{cls.object}:{id}")
        if obj is None:
            raise _no_such(cls._noun or cls.object, id, param, status)
        return obj

    @classmethod
    def _all(cls) -> list:
        """Newest first, as Stripe lists."""
        items = [v for k, v in list(store.items()) if k.startswith(cls.object + ":")]
        return sorted(items, key=lambda o: (o.created, o._seq), reverse=True)

    def _data(self) -> dict:
        raise NotImplementedError

    def _export(self, expand: list[str] | None = None) -> dict:
        return _apply_expand(self._data(), list(expand or []))


def _list_object(url: str, items: list, params: dict, expand: list[str]) -> dict:
    limit = _int(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "This value must be less than or equal to 100.", param="limit")
    starting_after, ending_before = params.get("starting_after"), params.get("ending_before")
    ids = [item.id for item in items]
    if starting_after:
        if starting_after not in ids:
            raise _no_such("object", starting_after, "starting_after")
        items = items[ids.index(starting_after) + 1:]
        page = items[:limit]
    elif ending_before:
        if ending_before not in ids:
            raise _no_such("object", ending_before, "ending_before")
        items = items[:ids.index(ending_before)]
        page = items[-limit:]
    else:
        page = items[:limit]
    item_expand = [e[len("data."):] for e in expand if e.startswith("data.")]
    return {"object": "list", "data": [item._export(expand=item_expand) for item in page],
            "has_more": len(items) > len(page), "url": url}


class CheckoutSession(_LocalObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"
    _id_length = 58
    _noun = "checkout.session"

    def __init__(self, *, base_url: str, line_items: list[dict], currency: str, expires_at: int,
                 success_url: str | None, cancel_url: str | None, metadata: dict, client_reference_id: str | None,
                 customer: str | None, customer_email: str | None, payment_intent_data: dict, locale: str | None):
        super().__init__()
        self.line_items = line_items
        self.currency = currency
        self.amount_subtotal = sum(item["amount_subtotal"] for item in line_items)
        self.amount_total = self.amount_subtotal
        self.expires_at = expires_at
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.metadata = metadata
        self.client_reference_id = client_reference_id
        self.customer = customer
        self.customer_email = customer_email
        self.customer_details: dict | None = None
        self.payment_intent_data = payment_intent_data
        self.locale = locale
        self.status = "open"
        self.payment_status = "unpaid"
        self.payment_intent: str | None = None
        self.url: str | None = f"{base_url}/c/pay/{self.id}"

    @property
    def _product_names(self) -> list[str]:
        return [item["description"] for item in self.line_items]

    def _line_items_list(self, params: dict | None = None, expand: list[str] | None = None) -> dict:
        return {"object": "list", "data": [dict(item) for item in self.line_items], "has_more": False,
                "url": f"/v1/checkout/sessions/{self.id}/line_items"}

    def _export(self, expand: list[str] | None = None) -> dict:
        expand = list(expand or [])
        data = self._data()
        if "line_items" in expand:
            expand.remove("line_items")
            data["line_items"] = self._line_items_list()
        return _apply_expand(data, expand)

    def _data(self) -> dict:
        return {
            "id": self.id, "object": self.object, "adaptive_pricing": {"enabled": False},
            "after_expiration": None, "allow_promotion_codes": None,
            "amount_subtotal": self.amount_subtotal, "amount_total": self.amount_total,
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "billing_address_collection": None, "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id, "client_secret": None,
            "collected_information": None, "consent": None, "consent_collection": None, "created": self.created,
            "currency": self.currency, "currency_conversion": None, "custom_fields": [],
            "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                            "terms_of_service_acceptance": None},
            "customer": self.customer, "customer_creation": None if self.customer else "if_required",
            "customer_details": dict(self.customer_details) if self.customer_details else None,
            "customer_email": self.customer_email, "discounts": [], "expires_at": self.expires_at,
            "invoice": None, "invoice_creation": {"enabled": False, "invoice_data": {
                "account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                "issuer": None, "metadata": {}, "rendering_options": None}},
            "livemode": False, "locale": self.locale, "metadata": dict(self.metadata), "mode": "payment",
            "payment_intent": self.payment_intent, "payment_link": None,
            "payment_method_collection": "if_required", "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"], "payment_status": self.payment_status,
            "phone_number_collection": {"enabled": False}, "recovered_from": None,
            "saved_payment_method_options": None, "setup_intent": None, "shipping_address_collection": None,
            "shipping_cost": None, "shipping_options": [], "status": self.status, "submit_type": None,
            "subscription": None, "success_url": self.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": self.url,
        }


class Account(_LocalObject):
    object = "account"
    _id_prefix = "acct_"
    _id_length = 16

    def __init__(self, *, type: str, country: str, email: str | None, capabilities: list[str], metadata: dict,
                 business_type: str | None, business_profile: dict, default_currency: str):
        super().__init__()
        self.type = type
        self.country = country
        self.email = email
        self.capabilities = {name: "inactive" for name in capabilities}
        self.metadata = metadata
        self.business_type = business_type
        self.business_profile = business_profile
        self.default_currency = default_currency
        self.details_submitted = False
        self.charges_enabled = False
        self.payouts_enabled = False
        self.tos_accepted_at: int | None = None

    def _complete_onboarding(self) -> dict:
        """Stripe's hosted onboarding finished: everything enabled; returns the previous attributes."""
        previous = {"details_submitted": self.details_submitted, "charges_enabled": self.charges_enabled,
                    "payouts_enabled": self.payouts_enabled, "capabilities": dict(self.capabilities),
                    "requirements": self._requirements()}
        self.details_submitted = self.charges_enabled = self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities}
        self.tos_accepted_at = now()
        self.business_type = self.business_type or "individual"
        return previous

    def _requirements(self) -> dict:
        due = [] if self.details_submitted else list(SETUP_REQUIREMENTS)
        return {"alternatives": [], "current_deadline": None, "currently_due": due,
                "disabled_reason": None if self.details_submitted else "requirements.past_due", "errors": [],
                "eventually_due": list(due), "past_due": list(due), "pending_verification": []}

    def _data(self) -> dict:
        empty_list = {"object": "list", "data": [], "has_more": False, "total_count": 0}
        profile = {"annual_revenue": None, "estimated_worker_count": None, "mcc": None, "name": None,
                   "product_description": None, "support_address": None, "support_email": None,
                   "support_phone": None, "support_url": None, "url": None}
        profile.update(self.business_profile)
        requirements = self._requirements()
        return {
            "id": self.id, "object": self.object, "business_profile": profile,
            "business_type": self.business_type, "capabilities": dict(self.capabilities),
            "charges_enabled": self.charges_enabled,
            "controller": {"fees": {"payer": "application_express" if self.type == "express" else "application"},
                           "is_controller": True, "losses": {"payments": "application"},
                           "requirement_collection": "stripe",
                           "stripe_dashboard": {"type": "express" if self.type == "express" else "none"},
                           "type": "application"},
            "country": self.country, "created": self.created, "default_currency": self.default_currency,
            "details_submitted": self.details_submitted, "email": self.email,
            "external_accounts": dict(empty_list, url=f"/v1/accounts/{self.id}/external_accounts"),
            "future_requirements": dict(requirements, currently_due=[], eventually_due=[], past_due=[],
                                        disabled_reason=None),
            "livemode": False, "login_links": dict(empty_list, url=f"/v1/accounts/{self.id}/login_links"),
            "metadata": dict(self.metadata), "payouts_enabled": self.payouts_enabled,
            "requirements": requirements,
            "settings": {"payouts": {"debit_negative_balances": True, "schedule": {"delay_days": 7,
                                                                                    "interval": "daily"},
                                     "statement_descriptor": None}},
            "tos_acceptance": {"date": self.tos_accepted_at}, "type": self.type,
        }


class AccountLink(_LocalObject):
    object = "account_link"
    _id_prefix = "alink_"
    _id_length = 32

    def __init__(self, *, base_url: str, account: str, type: str, refresh_url: str | None, return_url: str | None):
        super().__init__()
        self.account = account
        self.type = type
        self.refresh_url = refresh_url
        self.return_url = return_url
        self.expires_at = self.created + ACCOUNT_LINK_SECONDS
        self.used = False
        self.url = f"{base_url}/connect/setup/{self.id}"

    def _data(self) -> dict:
        return {"object": self.object, "created": self.created, "expires_at": self.expires_at, "url": self.url}


class Transfer(_LocalObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, *, amount: int, currency: str, destination: str, transfer_group: str | None,
                 source_transaction: str | None, metadata: dict, description: str | None):
        super().__init__()
        self.amount = amount
        self.currency = currency
        self.destination = destination
        self.transfer_group = transfer_group
        self.source_transaction = source_transaction
        self.metadata = metadata
        self.description = description
        self.destination_payment = "py_" + _random_id(24)

    @property
    def _reversals(self) -> list[TransferReversal]:
        return [r for r in TransferReversal._all() if r.transfer == self.id]

    @property
    def _amount_reversed(self) -> int:
        return sum(r.amount for r in self._reversals)

    def _data(self) -> dict:
        reversals = self._reversals
        return {
            "id": self.id, "object": self.object, "amount": self.amount, "amount_reversed": self._amount_reversed,
            "balance_transaction": None, "created": self.created, "currency": self.currency,
            "description": self.description, "destination": self.destination,
            "destination_payment": self.destination_payment, "livemode": False, "metadata": dict(self.metadata),
            "reversals": {"object": "list", "data": [r._export() for r in reversals[:10]],
                          "has_more": len(reversals) > 10, "total_count": len(reversals),
                          "url": f"/v1/transfers/{self.id}/reversals"},
            "reversed": self._amount_reversed >= self.amount, "source_transaction": self.source_transaction,
            "source_type": "card", "transfer_group": self.transfer_group,
        }


class TransferReversal(_LocalObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, *, transfer: Transfer, amount: int, metadata: dict):
        super().__init__()
        self.transfer = transfer.id
        self.amount = amount
        self.currency = transfer.currency
        self.metadata = metadata

    def _data(self) -> dict:
        return {"id": self.id, "object": self.object, "amount": self.amount, "balance_transaction": None,
                "created": self.created, "currency": self.currency, "destination_payment_refund": None,
                "metadata": dict(self.metadata), "source_refund": None, "transfer": self.transfer}


# --- localstripe adjustments -------------------------------------------------------------------

def _pi_amount_capturable(pi: PaymentIntent) -> int:
    return pi.amount if pi.status == "requires_capture" else 0


def _pi_amount_received(pi: PaymentIntent) -> int:
    if pi.status != "succeeded" or pi.latest_charge is None:
        return 0
    return getattr(pi, "_amount_captured", None) or pi.latest_charge.amount


def _patch_localstripe() -> None:
    """Memory-only state, and a few fields real Stripe objects have (this is our fake server, not the SDK)."""
    store.dump_to_disk = lambda: None  # never write /tmp/localstripe.pickle
    store.try_load_from_disk = lambda: None  # never read it either
    PaymentIntent.transfer_group = None
    PaymentIntent.description = None
    PaymentIntent.amount_received = property(_pi_amount_received)
    PaymentIntent.amount_capturable = property(_pi_amount_capturable)
    Charge.transfer_group = None
    ls_webhooks._send_webhook = _deliver  # localstripe's schedule_webhook() calls this for every event


# --- events and webhook delivery ---------------------------------------------------------------

def emit(type: str, obj: StripeObject, previous_attributes: dict | None = None) -> Event:
    """Record an event (GET /v1/events) and deliver it to the registered webhooks after the response."""
    event = Event(type, obj)
    if previous_attributes:
        event.data["previous_attributes"] = previous_attributes
    ls_webhooks.schedule_webhook(event)
    return event


async def _deliver(event: Event) -> None:
    task = asyncio.current_task()
    if task is not None:
        _state.deliveries.add(task)
    try:
        event.api_version = API_VERSION
        if "request" not in vars(event):
            current = _current_request.get()  # the API request that caused it, if any
            event.request = dict(current) if current else {"id": None, "idempotency_key": None}
        targets = [hook for hook in ls_webhooks._webhooks.values()
                   if hook.events is None or event.type in hook.events]
        event.pending_webhooks = len(targets)
        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        await asyncio.sleep(WEBHOOK_DELAY_SECONDS)
        await asyncio.gather(*(_post_webhook(hook, payload, event) for hook in targets))
    finally:
        if task is not None:
            _state.deliveries.discard(task)


async def _post_webhook(hook: Any, payload: bytes, event: Event) -> None:
    for attempt, delay in enumerate((0.0, *WEBHOOK_RETRY_DELAYS)):
        await asyncio.sleep(delay)
        if hook not in ls_webhooks._webhooks.values():
            return  # unregistered (or reset) since the event happened
        timestamp = int(time.time())
        signature = hmac.new(hook.secret.encode(), b"%d." % timestamp + payload, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Stripe-Signature": f"t={timestamp},v1={signature}",
                   "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session, \
                    session.post(hook.url, data=payload, headers=headers) as response:
                if 200 <= response.status < 300:
                    event.pending_webhooks = max(0, event.pending_webhooks - 1)
                    log.info("webhook %s %s delivered to %s", event.type, event.id, hook.url)
                    return
                log.warning("webhook %s %s: %s answered %d (attempt %d)", event.type, event.id, hook.url,
                            response.status, attempt + 1)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("webhook %s %s: %s unreachable: %s (attempt %d)", event.type, event.id, hook.url, exc,
                        attempt + 1)


# --- checkout sessions: API --------------------------------------------------------------------

def _expire_session(session: CheckoutSession) -> None:
    session.status = "expired"
    session.url = None
    if session.payment_intent:
        pi = PaymentIntent._api_retrieve(session.payment_intent)
        if pi.status in ("requires_payment_method", "requires_confirmation", "requires_action"):
            pi._canceled = True
            pi.next_action = None
            emit("payment_intent.canceled", pi)
    emit("checkout.session.expired", session)


def expire_due_sessions() -> None:
    """Expire open sessions whose expires_at has passed (called on access and by the background sweep)."""
    current = now()
    due = [s for s in CheckoutSession._all() if s.status == "open" and s.expires_at <= current]
    if not due:
        return
    token = _current_request.set(None)
    try:
        for session in due:
            _expire_session(session)
    finally:
        _current_request.reset(token)


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _line_item(index: int, raw: Any) -> dict:
    prefix = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param=prefix, code="parameter_invalid_object")
    _reject_unknown(raw, {"price_data", "quantity", "price"}, prefix)
    if "price" in raw:
        raise _no_such("price", str(raw["price"]), f"{prefix}[price]")
    price_data = raw.get("price_data")
    if not isinstance(price_data, dict):
        raise _missing(f"{prefix}[price_data]")
    _reject_unknown(price_data, {"currency", "unit_amount", "product_data", "tax_behavior"}, f"{prefix}[price_data]")
    for name in ("currency", "unit_amount", "product_data"):
        if name not in price_data:
            raise _missing(f"{prefix}[price_data][{name}]")
    currency = _currency(price_data["currency"], f"{prefix}[price_data][currency]")
    unit_amount = _int(price_data["unit_amount"], f"{prefix}[price_data][unit_amount]", minimum=0)
    product_data = price_data["product_data"]
    if not isinstance(product_data, dict):
        raise ApiError(400, "Invalid object", param=f"{prefix}[price_data][product_data]",
                       code="parameter_invalid_object")
    _reject_unknown(product_data, {"name", "description", "metadata", "images"}, f"{prefix}[price_data][product_data]")
    if not product_data.get("name"):
        raise _missing(f"{prefix}[price_data][product_data][name]")
    if "quantity" not in raw:
        raise _missing(f"{prefix}[quantity]")
    quantity = _int(raw["quantity"], f"{prefix}[quantity]", minimum=1)
    product = "prod_" + _random_id(14)
    return {
        "id": "li_" + _random_id(24), "object": "item", "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity, "amount_tax": 0, "amount_total": unit_amount * quantity,
        "currency": currency, "description": product_data["name"],
        "price": {"id": "price_" + _random_id(24), "object": "price", "active": False,
                  "billing_scheme": "per_unit", "created": now(), "currency": currency, "livemode": False,
                  "lookup_key": None, "metadata": {}, "nickname": None, "product": product, "recurring": None,
                  "tax_behavior": price_data.get("tax_behavior", "unspecified"), "tiers_mode": None,
                  "transform_quantity": None, "type": "one_time", "unit_amount": unit_amount,
                  "unit_amount_decimal": str(unit_amount)},
        "quantity": quantity,
    }


def create_checkout_session(request: web.Request, params: dict) -> CheckoutSession:
    _reject_unknown(params, {"mode", "line_items", "success_url", "cancel_url", "expires_at", "metadata",
                             "client_reference_id", "customer_email", "customer", "payment_intent_data",
                             "payment_method_types", "locale"})
    if "mode" not in params:
        raise _missing("mode")
    if params["mode"] != "payment":
        raise ApiError(400, "This local Stripe server implements only mode=payment.", param="mode")
    raw_items = params.get("line_items")
    if not raw_items:
        raise _missing("line_items")
    if not isinstance(raw_items, list):
        raise ApiError(400, "Invalid array", param="line_items", code="parameter_invalid_array")
    line_items = [_line_item(i, raw) for i, raw in enumerate(raw_items)]
    currencies = {item["currency"] for item in line_items}
    if len(currencies) > 1:
        raise ApiError(400, "All line items must use the same currency.", param="line_items")
    currency = currencies.pop()
    total = sum(item["amount_total"] for item in line_items)
    minimum = MINIMUM_CHARGE.get(currency, 50)
    if total < minimum:
        raise ApiError(400, f"The Checkout Session's total amount due must add up to at least "
                            f"{money(minimum, currency)} {currency}", param="line_items", code="amount_too_small")

    created = now()
    expires_at = created + CHECKOUT_MAX_SECONDS
    if "expires_at" in params:
        expires_at = _int(params["expires_at"], "expires_at")
        if expires_at < created + CHECKOUT_MIN_SECONDS - CHECKOUT_EXPIRES_SLACK:
            raise ApiError(400, "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                                "creation.", param="expires_at")
        if expires_at > created + CHECKOUT_MAX_SECONDS:
            raise ApiError(400, "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                                "creation.", param="expires_at")

    success_url = _url(params["success_url"], "success_url") if params.get("success_url") else None
    cancel_url = _url(params["cancel_url"], "cancel_url") if params.get("cancel_url") else None
    customer = params.get("customer") or None
    customer_email = params.get("customer_email") or None
    if customer and customer_email:
        raise ApiError(400, "You may only specify one of these parameters: customer, customer_email.",
                       param="customer_email")
    if customer:
        try:
            Customer._api_retrieve(_str(customer, "customer"))
        except UserError:
            raise _no_such("customer", customer, "customer") from None
    if customer_email is not None:
        customer_email = _str(customer_email, "customer_email")
        if "@" not in customer_email:
            raise ApiError(400, "Invalid email address: " + customer_email, param="customer_email",
                           code="email_invalid")
    client_reference_id = params.get("client_reference_id") or None
    if client_reference_id is not None and len(_str(client_reference_id, "client_reference_id")) > 200:
        raise ApiError(400, "client_reference_id must be at most 200 characters.", param="client_reference_id")
    methods = params.get("payment_method_types")
    if methods is not None and methods != ["card"]:
        raise ApiError(400, "This local Stripe server supports only payment_method_types=[card].",
                       param="payment_method_types")

    pid = params.get("payment_intent_data") or {}
    if not isinstance(pid, dict):
        raise ApiError(400, "Invalid object", param="payment_intent_data", code="parameter_invalid_object")
    _reject_unknown(pid, {"capture_method", "metadata", "transfer_group", "description"}, "payment_intent_data")
    capture_method = pid.get("capture_method", "automatic_async")
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise ApiError(400, "Invalid payment_intent_data[capture_method]: must be one of automatic, "
                            "automatic_async, or manual", param="payment_intent_data[capture_method]")
    payment_intent_data = {
        "capture_method": capture_method,
        "metadata": _metadata(pid.get("metadata"), "payment_intent_data[metadata]"),
        "transfer_group": _str(pid["transfer_group"], "payment_intent_data[transfer_group]")
        if pid.get("transfer_group") else None,
        "description": _str(pid["description"], "payment_intent_data[description]")
        if pid.get("description") else None,
    }
    return CheckoutSession(
        base_url=_base_url(request), line_items=line_items, currency=currency, expires_at=expires_at,
        success_url=success_url, cancel_url=cancel_url, metadata=_metadata(params.get("metadata")),
        client_reference_id=client_reference_id, customer=customer, customer_email=customer_email,
        payment_intent_data=payment_intent_data, locale=params.get("locale"))


def retrieve_checkout_session(request: web.Request, params: dict, id: str) -> CheckoutSession:
    _reject_unknown(params, set())
    return CheckoutSession._get(id)


def expire_checkout_session(request: web.Request, params: dict, id: str) -> CheckoutSession:
    _reject_unknown(params, set())
    session = CheckoutSession._get(id)
    if session.status != "open":
        raise ApiError(400, f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout "
                            f"Session has a status of \"{session.status}\".", param="session")
    _expire_session(session)
    return session


def list_checkout_sessions(request: web.Request, params: dict) -> dict:
    _reject_unknown(params, {"limit", "starting_after", "ending_before", "payment_intent", "status", "customer",
                             "expand"})
    sessions = CheckoutSession._all()
    for name in ("payment_intent", "status", "customer"):
        if params.get(name):
            sessions = [s for s in sessions if getattr(s, name) == params[name]]
    return _list_object("/v1/checkout/sessions", sessions, params, _expand_list(params.get("expand")))


def list_checkout_line_items(request: web.Request, params: dict, id: str) -> dict:
    _reject_unknown(params, {"limit", "starting_after", "ending_before"})
    return CheckoutSession._get(id)._line_items_list()


# --- connect: API ------------------------------------------------------------------------------

def _capabilities(raw: Any) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="capabilities", code="parameter_invalid_object")
    requested = []
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise ApiError(400, "Invalid object", param=f"capabilities[{name}]", code="parameter_invalid_object")
        _reject_unknown(settings, {"requested"}, f"capabilities[{name}]")
        if _bool(settings.get("requested", "false"), f"capabilities[{name}][requested]"):
            requested.append(name)
    return requested


def _business_profile(raw: Any) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="business_profile", code="parameter_invalid_object")
    _reject_unknown(raw, {"name", "url", "mcc", "product_description", "support_email", "support_phone",
                          "support_url"}, "business_profile")
    return {k: v for k, v in raw.items() if v != ""}


def create_account(request: web.Request, params: dict) -> Account:
    _reject_unknown(params, {"type", "country", "email", "capabilities", "metadata", "business_type",
                             "business_profile", "default_currency"})
    account_type = params.get("type", "express")
    if account_type not in ("express", "custom", "standard"):
        raise ApiError(400, "Invalid type: must be one of custom, express, or standard", param="type")
    country = _str(params.get("country", "US"), "country").upper()
    if len(country) != 2 or not country.isalpha():
        raise ApiError(400, f"Country '{country}' is unknown. Try using a 2-character alphanumeric country code "
                            f"instead, such as 'US', 'EG', or 'GB'.", param="country")
    email = params.get("email") or None
    if email is not None and "@" not in _str(email, "email"):
        raise ApiError(400, "Invalid email address: " + email, param="email", code="email_invalid")
    business_type = params.get("business_type") or None
    if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
        raise ApiError(400, "Invalid business_type", param="business_type")
    currency = (_currency(params["default_currency"], "default_currency") if params.get("default_currency")
                else COUNTRY_CURRENCY.get(country, "usd"))
    return Account(type=account_type, country=country, email=email,
                   capabilities=_capabilities(params.get("capabilities")),
                   metadata=_metadata(params.get("metadata")), business_type=business_type,
                   business_profile=_business_profile(params.get("business_profile")), default_currency=currency)


def retrieve_account(request: web.Request, params: dict, id: str) -> Account:
    _reject_unknown(params, set())
    return Account._get(id, param="account")


def update_account(request: web.Request, params: dict, id: str) -> Account:
    _reject_unknown(params, {"email", "metadata", "business_profile", "capabilities"})
    account = Account._get(id, param="account")
    before = account._export()
    if "email" in params:
        account.email = params["email"] or None
    if "metadata" in params:
        account.metadata = _merge_metadata(account.metadata, params["metadata"])
    if "business_profile" in params:
        account.business_profile.update(_business_profile(params["business_profile"]))
    for name in _capabilities(params.get("capabilities")):
        account.capabilities.setdefault(name, "active" if account.details_submitted else "inactive")
    after = account._export()
    changed = {k: before[k] for k in after if before.get(k) != after[k]}
    if changed:
        emit("account.updated", account, previous_attributes=changed)
    return account


def list_accounts(request: web.Request, params: dict) -> dict:
    _reject_unknown(params, {"limit", "starting_after", "ending_before", "expand"})
    return _list_object("/v1/accounts", Account._all(), params, _expand_list(params.get("expand")))


def create_account_link(request: web.Request, params: dict) -> AccountLink:
    _reject_unknown(params, {"account", "type", "refresh_url", "return_url", "collect", "collection_options"})
    if not params.get("account"):
        raise _missing("account")
    if not params.get("type"):
        raise _missing("type")
    if params["type"] not in ("account_onboarding", "account_update"):
        raise ApiError(400, "Invalid type: must be one of account_onboarding or account_update", param="type")
    account = Account._get(_str(params["account"], "account"), param="account", status=400)
    refresh_url = _url(params["refresh_url"], "refresh_url") if params.get("refresh_url") else None
    return_url = _url(params["return_url"], "return_url") if params.get("return_url") else None
    return AccountLink(base_url=_base_url(request), account=account.id, type=params["type"],
                       refresh_url=refresh_url, return_url=return_url)


# --- transfers: API ----------------------------------------------------------------------------

def available_balance(currency: str) -> int:
    """Captured charges minus refunds, minus transfers, plus reversals (all treated as available)."""
    total = 0
    for obj in list(store.values()):
        if isinstance(obj, Charge) and obj.currency == currency and obj.status == "succeeded" and obj.captured:
            total += obj.amount - obj.amount_refunded
        elif isinstance(obj, Transfer) and obj.currency == currency:
            total -= obj.amount - obj._amount_reversed
    return total


def _list_events(params: dict) -> dict:
    """Events newest first, as Stripe lists them (localstripe lists oldest first)."""
    params = dict(params)
    _reject_unknown(params, {"limit", "starting_after", "ending_before", "type", "types", "created", "expand",
                             "delivery_success"})
    events = [v for k, v in list(store.items()) if k.startswith("event:")][::-1]
    types = [params["type"]] if params.get("type") else _expand_list(params.get("types"))
    if types:
        events = [e for e in events if any(e.type == t or (t.endswith("*") and e.type.startswith(t[:-1]))
                                           for t in types)]
    created = params.get("created")
    if isinstance(created, dict):
        bounds = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        for op, value in created.items():
            if op not in bounds:
                raise ApiError(400, f"Received unknown parameter: created[{op}]", param=f"created[{op}]",
                               code="parameter_unknown")
            limit = _int(value, f"created[{op}]")
            events = [e for e in events if bounds[op](e.created, limit)]
    elif created not in (None, ""):
        events = [e for e in events if e.created == _int(created, "created")]
    return _list_object("/v1/events", events, params, _expand_list(params.get("expand")))


def _balance_object() -> dict:
    currencies = {obj.currency for obj in list(store.values()) if isinstance(obj, (Charge, Transfer))} or {"usd"}
    available = [{"amount": available_balance(c), "currency": c, "source_types": {"card": available_balance(c)}}
                 for c in sorted(currencies)]
    pending = [{"amount": 0, "currency": c, "source_types": {"card": 0}} for c in sorted(currencies)]
    return {"object": "balance", "available": available, "livemode": False, "pending": pending}


def create_transfer(request: web.Request, params: dict) -> Transfer:
    _reject_unknown(params, {"amount", "currency", "destination", "transfer_group", "source_transaction",
                             "metadata", "description"})
    for name in ("amount", "currency", "destination"):
        if name not in params or params[name] == "":
            raise _missing(name)
    amount = _int(params["amount"], "amount", minimum=1)
    currency = _currency(params["currency"], "currency")
    destination_id = _str(params["destination"], "destination")
    destination = store.get(f"account:{destination_id}")
    if destination is None:
        raise _no_such("destination", destination_id, "destination")
    if destination.capabilities.get("transfers") != "active":
        raise ApiError(400, "Your destination account needs to have at least one of the following capabilities "
                            "enabled: transfers, crypto_transfers, legacy_payments", param="destination",
                       code="insufficient_capabilities_for_transfer")
    source_transaction = params.get("source_transaction") or None
    if source_transaction is not None:
        charge = store.get(f"charge:{_str(source_transaction, 'source_transaction')}")
        if charge is None:
            raise _no_such("charge", source_transaction, "source_transaction")
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
                        transfer_group=_str(transfer_group, "transfer_group") if transfer_group else None,
                        source_transaction=source_transaction, metadata=_metadata(params.get("metadata")),
                        description=params.get("description") or None)
    emit("transfer.created", transfer)
    return transfer


def retrieve_transfer(request: web.Request, params: dict, id: str) -> Transfer:
    _reject_unknown(params, set())
    return Transfer._get(id)


def update_transfer(request: web.Request, params: dict, id: str) -> Transfer:
    _reject_unknown(params, {"metadata", "description"})
    transfer = Transfer._get(id)
    previous = {"metadata": dict(transfer.metadata), "description": transfer.description}
    if "metadata" in params:
        transfer.metadata = _merge_metadata(transfer.metadata, params["metadata"])
    if "description" in params:
        transfer.description = params["description"] or None
    emit("transfer.updated", transfer, previous_attributes=previous)
    return transfer


def list_transfers(request: web.Request, params: dict) -> dict:
    _reject_unknown(params, {"limit", "starting_after", "ending_before", "destination", "transfer_group", "expand"})
    transfers = Transfer._all()
    for name in ("destination", "transfer_group"):
        if params.get(name):
            transfers = [t for t in transfers if getattr(t, name) == params[name]]
    return _list_object("/v1/transfers", transfers, params, _expand_list(params.get("expand")))


def create_reversal(request: web.Request, params: dict, id: str) -> TransferReversal:
    _reject_unknown(params, {"amount", "metadata", "description", "refund_application_fee"})
    transfer = Transfer._get(id)
    left = transfer.amount - transfer._amount_reversed
    amount = _int(params["amount"], "amount", minimum=1) if params.get("amount") not in (None, "") else left
    if left <= 0:
        raise ApiError(400, f"Transfer {transfer.id} has already been fully reversed.", param="amount",
                       code="amount_too_large")
    if amount > left:
        raise ApiError(400, f"Reversal amount ({money(amount, transfer.currency)}) is greater than the amount "
                            f"left to reverse on transfer {transfer.id} ({money(left, transfer.currency)}).",
                       param="amount", code="amount_too_large")
    reversal = TransferReversal(transfer=transfer, amount=amount, metadata=_metadata(params.get("metadata")))
    emit("transfer.reversed", transfer)
    return reversal


def list_reversals(request: web.Request, params: dict, id: str) -> dict:
    _reject_unknown(params, {"limit", "starting_after", "ending_before", "expand"})
    transfer = Transfer._get(id)
    return _list_object(f"/v1/transfers/{transfer.id}/reversals", transfer._reversals, params,
                        _expand_list(params.get("expand")))


def retrieve_reversal(request: web.Request, params: dict, id: str, reversal: str) -> TransferReversal:
    _reject_unknown(params, set())
    found = TransferReversal._get(reversal)
    if found.transfer != id:
        raise _no_such("transfer_reversal", reversal, "id", 404)
    return found


# --- HTTP plumbing -----------------------------------------------------------------------------

def _api(fn: Callable[..., Any]) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        if request.method == "POST":
            params = (await ls_server.get_post_data(request)) or {}
            params.update(ls_server.unflatten_data(request.query) or {})
        else:
            params = ls_server.unflatten_data(request.query) or {}
        params = dict(params)
        expand = _expand_list(params.pop("expand", None))
        expire_due_sessions()
        result = fn(request, params, **request.match_info)
        if isinstance(result, StripeObject):
            result = result._export(expand=expand)
        return _json(result)
    return handler


def _api_key(request: web.Request) -> str:
    return request.headers.get("Authorization", "")


async def _fingerprint(request: web.Request) -> str:
    body = await request.read()
    if request.content_type == "application/x-www-form-urlencoded":
        body = urlencode(sorted(parse_qsl(body.decode(), keep_blank_values=True))).encode()
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + body)
    return digest.hexdigest()


def _saved_by_idempotency(status: int) -> bool:
    """Stripe saves a result once the endpoint ran; validation failures and missing objects are not saved."""
    return status < 400 or status == 402 or status >= 500


def _from_user_error(error: UserError, request: web.Request) -> web.Response:
    """localstripe's errors, completed to Stripe's shape."""
    body = {"error": dict(error.body.get("error", {}))}
    inner = body["error"]
    if error.code == 402:
        inner["type"] = "card_error"
    if error.code == 404 and "code" not in inner:
        parts = request.path.strip("/").split("/")
        if len(parts) >= 3:
            noun = parts[1].removesuffix("s")
            inner.update(message=f"No such {noun}: '{parts[2]}'", code="resource_missing", param="id")
    if "code" in inner:
        inner.setdefault("doc_url", f"https://stripe.com/docs/error-codes/{inner['code'].replace('_', '-')}")
    return _json(body, status=error.code)


def _unrecognized(request: web.Request) -> web.Response:
    return ApiError(404, f"Unrecognized request URL ({request.method}: {request.path}). Please see "
                         f"https://stripe.com/docs or we can help at https://support.stripe.com/.").response()


async def _create_refund(request: web.Request) -> web.Response:
    """localstripe's refund, except that it refuses what Stripe refuses (more than is left on the charge)
    and that leaving out `amount` refunds what is left rather than the whole charge again."""
    data = dict((await ls_server.get_post_data(request)) or {})
    expand = data.pop("expand", None)
    left = _refundable(data)
    if left is not None and data.get("amount") in (None, ""):
        data["amount"] = left
    return _json(Refund._api_create(**data)._export(expand=expand))


def _refundable(data: dict) -> int | None:
    """What is left to refund on the charge `data` names (None when localstripe should judge the request)."""
    charge = None
    if isinstance(data.get("charge"), str):
        charge = store.get(f"charge:{data['charge']}")
    elif isinstance(data.get("payment_intent"), str):
        pi = store.get(f"payment_intent:{data['payment_intent']}")
        charge = pi.latest_charge if pi is not None else None
    if charge is None or charge.status != "succeeded":
        return None  # localstripe answers these itself
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise ApiError(400, f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    if data.get("amount") not in (None, ""):
        amount = _int(data["amount"], "amount", minimum=1)
        if amount > left:
            raise ApiError(400, f"Refund amount ({money(amount, charge.currency)}) is greater than unrefunded "
                                f"amount on charge ({money(left, charge.currency)})", param="amount",
                           code="amount_too_large")
    return left


_PI_PATH = "/v1/payment_intents"


async def _with_event_hooks(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Send the events localstripe never sends, from what its endpoints just did."""
    path, method = request.path, request.method
    before = None
    parts = path.split("/")
    if method == "POST" and path.startswith(_PI_PATH) and len(parts) >= 4:
        pi = store.get(f"payment_intent:{parts[3]}")
        before = pi.status if pi is not None else None
        if pi is not None and path.endswith("/capture") and before == "requires_capture":
            data = (await ls_server.get_post_data(request)) or {}
            amount = str(data.get("amount_to_capture", ""))
            pi._amount_captured = int(amount) if amount.isdigit() else pi.amount
    if method == "POST" and path == "/v1/refunds":
        response = await _create_refund(request)
    else:
        response = await handler(request)
    if method != "POST" or response.status != 200 or not isinstance(response, web.Response):
        return response
    if path == "/v1/refunds":
        refund = json.loads(response.body)
        emit("charge.refunded", Charge._api_retrieve(refund["charge"]))
    elif path.startswith(_PI_PATH):
        data = json.loads(response.body)
        if data.get("object") == "payment_intent":
            pi = PaymentIntent._api_retrieve(data["id"])
            if path == _PI_PATH:
                emit("payment_intent.created", pi)
            _after_pi_change(pi, before)
    return response


def _after_pi_change(pi: PaymentIntent, before: str | None) -> None:
    after = pi.status
    if after == before:
        return
    if after == "requires_capture":
        emit("payment_intent.amount_capturable_updated", pi)
    elif after == "canceled":
        emit("payment_intent.canceled", pi)


@web.middleware
async def public_pages_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """The hosted pages are public (like checkout.stripe.com): serve them without localstripe's API-key check."""
    if request.path.startswith(PUBLIC_PREFIXES):
        return await request.match_info.handler(request)
    return await handler(request)


@web.middleware
async def api_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Request ids, Idempotency-Key, Stripe-shaped errors and the missing events, for every /v1 request."""
    if request.path == "/_config/data" and request.method == "DELETE":
        response = await handler(request)
        _clear_own_state()
        return response
    if not request.path.startswith("/v1/"):
        return await handler(request)
    request_id = "req_" + _random_id(14)
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    token = _current_request.set({"id": request_id, "idempotency_key": key})
    scope = (_api_key(request), key or "")
    fingerprint = None
    try:
        if key:
            fingerprint = await _fingerprint(request)
            cutoff = time.time() - IDEMPOTENCY_TTL_SECONDS
            for stale in [k for k, v in _state.idempotency.items() if v["at"] < cutoff]:
                del _state.idempotency[stale]
            saved = _state.idempotency.get(scope)
            if saved is not None:
                if saved.get("in_progress"):
                    return ApiError(409, "There is currently another in-progress request using this Idempotent "
                                         "Key (that probably means you submitted twice, and the other request is "
                                         "still going through): " + key + ". Please try again later.",
                                    type="idempotency_error").response()
                if saved["fingerprint"] != fingerprint:
                    return ApiError(400, "Keys for idempotent requests can only be used with the same parameters "
                                         "they were first used with. Try using a key other than '" + key + "' if "
                                         "you meant to execute a different request.",
                                    type="idempotency_error").response()
                response = web.Response(body=saved["body"], status=saved["status"], content_type="application/json")
                response.headers.update({"Idempotent-Replayed": "true", "Original-Request": saved["request_id"],
                                         "Request-Id": request_id, "Idempotency-Key": key})
                return response
            _state.idempotency[scope] = {"in_progress": True, "at": time.time()}
        try:
            if request.method == "GET" and request.path == "/v1/balance":
                response = _json(_balance_object())  # localstripe's is a fixed 20 EUR
            elif request.method == "GET" and request.path == "/v1/events":
                response = _json(_list_events(ls_server.unflatten_data(request.query) or {}))  # newest first
            else:
                response = await _with_event_hooks(request, handler)
        except UserError as error:
            response = _from_user_error(error, request)
        except ApiError as error:
            response = error.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            response = _unrecognized(request)
        if key:
            if isinstance(response, web.Response) and _saved_by_idempotency(response.status):
                _state.idempotency[scope] = {"fingerprint": fingerprint, "status": response.status,
                                             "body": response.body, "request_id": request_id, "at": time.time()}
            else:
                _state.idempotency.pop(scope, None)
            response.headers["Idempotency-Key"] = key
        response.headers["Request-Id"] = request_id
        return response
    except BaseException:
        if key and _state.idempotency.get(scope, {}).get("in_progress"):
            _state.idempotency.pop(scope, None)
        raise
    finally:
        _current_request.reset(token)


# --- hosted pages ------------------------------------------------------------------------------

PAGE_STYLE = """
body{font-family:system-ui,sans-serif;background:#f6f8fa;color:#1a1f36;margin:0}
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
.test{background:#ffde92;color:#8a4b00;font-size:.75rem;font-weight:600;padding:.2rem .5rem;border-radius:4px}
label{display:block;margin-top:.8rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #c6cbd2;border-radius:4px}
button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:4px;
background:#0074d4;color:#fff;cursor:pointer}
button.secondary{background:#6b7280}
.error{color:#b3093c;font-weight:600}
.amount{font-size:2rem;font-weight:700;margin:.3rem 0}
.row{display:flex;gap:.8rem}.row>div{flex:1}
"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    document = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
                f"<body><main><p><span class=\"test\">TEST MODE</span> local Stripe</p>\n{body}\n"
                f"</main></body></html>\n")
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8")


def _checkout_page(session: CheckoutSession, error: str | None = None, email: str = "") -> web.Response:
    e = html.escape
    if session.status == "expired":
        return _page("Checkout session expired", "<h1>This Checkout Session has expired</h1>"
                     "<p>This checkout session has expired. Go back and start again to pay.</p>"
                     + (f'<p><a href="{e(session.cancel_url)}">Go back</a></p>' if session.cancel_url else ""))
    if session.status == "complete":
        link = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) if session.success_url else None
        return _page("Payment complete", "<h1>This payment is already complete</h1>"
                     + (f'<p><a href="{e(link)}">Continue</a></p>' if link else ""))
    items = "".join(
        f"<li><span class=\"name\">{e(item['description'])}</span>{_times(item['quantity'])} — "
        f"{e(money(item['amount_total'], item['currency']))}</li>" for item in session.line_items)
    email_value = session.customer_email or email
    readonly = " readonly" if session.customer_email else ""
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    cancel = f'<p><a href="{e(session.cancel_url)}">Cancel and go back</a></p>' if session.cancel_url else ""
    body = f"""<h1>Pay {e(", ".join(session._product_names))}</h1>
<p class="amount" data-testid="product-summary-total-amount">{e(money(session.amount_total, session.currency))}</p>
<ul class="items">{items}</ul>
{alert}
<form method="post" action="/c/pay/{e(session.id)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required value="{e(email_value)}"{readonly}>
<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number"
 placeholder="1234 1234 1234 1234" required>
<div class="row"><div><label for="cardExpiry">Expiry</label>
<input id="cardExpiry" name="cardExpiry" autocomplete="cc-exp" placeholder="MM / YY"></div>
<div><label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" autocomplete="cc-csc" placeholder="CVC"></div></div>
<button type="submit" data-testid="hosted-payment-submit-button">Pay</button>
</form>
{cancel}"""
    return _page(f"Pay {money(session.amount_total, session.currency)}", body)


def _times(quantity: int) -> str:
    return f" × {quantity}" if quantity > 1 else ""


def _not_found_page() -> web.Response:
    return _page("Not found", "<h1>Something went wrong</h1><p>The page you were looking for could not be found.</p>",
                 status=404)


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _session_pi(session: CheckoutSession) -> PaymentIntent:
    """The session's PaymentIntent, created on the customer's first attempt (as Stripe does since 2022-08-01)."""
    if session.payment_intent:
        return PaymentIntent._api_retrieve(session.payment_intent)
    data = session.payment_intent_data
    pi = PaymentIntent(amount=session.amount_total, currency=session.currency, customer=session.customer,
                       metadata=dict(data["metadata"]), capture_method=data["capture_method"])
    pi.transfer_group = data["transfer_group"]
    pi.description = data["description"]
    session.payment_intent = pi.id
    emit("payment_intent.created", pi)
    return pi


def _attempt(pi: PaymentIntent, pm: PaymentMethod) -> None:
    """Put a fresh payment method on the PaymentIntent, ready to confirm (after an earlier failure too)."""
    pi.payment_method = pm.id
    pi.latest_charge = None
    pi.next_action = None
    pi._authentication_failed = False


def _decline(pi: PaymentIntent, pm: PaymentMethod, code: str, decline_code: str | None, message: str) -> None:
    """A failed charge on the PaymentIntent, leaving it in requires_payment_method, as a real decline does."""
    charge = Charge(amount=pi.amount, currency=pi.currency, customer=pi.customer, source=pm.id, capture=False)
    charge._set_auth_failure()
    charge.failure_code = code
    charge.failure_message = message
    if decline_code:
        charge.outcome = {"network_status": "declined_by_network", "reason": decline_code, "type": "issuer_declined"}
    charge.payment_intent = pi.id
    pi.latest_charge = charge
    emit("payment_intent.payment_failed", pi)


def _complete(session: CheckoutSession, pi: PaymentIntent, email: str) -> None:
    session.status = "complete"
    session.url = None
    session.payment_status = "paid" if pi.status == "succeeded" else "unpaid"
    session.customer_details = {"address": None, "email": email, "name": None, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}
    if pi.latest_charge is not None:
        pi.latest_charge.transfer_group = pi.transfer_group
    if pi.status == "requires_capture":
        emit("payment_intent.amount_capturable_updated", pi)
    emit("checkout.session.completed", session)


def _after_payment(session: CheckoutSession) -> web.StreamResponse:
    if session.success_url:
        raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
    return _page("Payment complete", "<h1>Thanks for your payment</h1>")


def _hosted_session(request: web.Request) -> CheckoutSession | None:
    expire_due_sessions()
    return store.get(f"checkout.session:{request.match_info['id']}")


async def checkout_page(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return _not_found_page()
    return _checkout_page(session)


async def checkout_pay(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return _not_found_page()
    if session.status != "open":
        return _checkout_page(session)
    form = await request.post()
    email = (session.customer_email or form.get("email", "")).strip()
    number = "".join(str(form.get("cardNumber", "")).split())
    if "@" not in email:
        return _checkout_page(session, "Your email address is invalid.", email)
    if not number.isdigit() or len(number) < 12:
        return _checkout_page(session, "Your card number is incomplete.", email)
    if not _luhn_ok(number):
        return _checkout_page(session, "Your card number is invalid.", email)
    if len(number) != 16:
        return _checkout_page(session, "This local test page accepts 16-digit test card numbers only.", email)

    pi = _session_pi(session)
    pm = PaymentMethod(type="card", billing_details={"email": email},
                       card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
    _attempt(pi, pm)
    if number in DECLINED_CARDS:
        _decline(pi, pm, *DECLINED_CARDS[number])
        return _checkout_page(session, DECLINED_CARDS[number][2], email)
    try:
        pi._confirm(on_failure_now=pi._report_failure)
    except UserError as error:
        return _checkout_page(session, error.body["error"].get("message", "Your card was declined."), email)
    if pi.status == "requires_action":
        session._pending_email = email
        raise web.HTTPSeeOther(f"/c/pay/{session.id}/3ds")
    _complete(session, pi, email)
    return _after_payment(session)


def _challenge_pi(session: CheckoutSession | None) -> PaymentIntent | None:
    if session is None or session.status != "open" or not session.payment_intent:
        return None
    pi = PaymentIntent._api_retrieve(session.payment_intent)
    return pi if pi.status == "requires_action" else None


async def challenge_page(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return _not_found_page()
    if _challenge_pi(session) is None:
        raise web.HTTPSeeOther(f"/c/pay/{session.id}")
    e = html.escape
    return _page("3D Secure authentication", f"""<h1>3D Secure test authentication</h1>
<p>Authenticate the payment of {e(money(session.amount_total, session.currency))} to
{e(", ".join(session._product_names))}.</p>
<form method="post" action="/c/pay/{e(session.id)}/3ds">
<button type="submit" name="action" value="complete">Complete authentication</button>
<button type="submit" name="action" value="fail" class="secondary">Fail authentication</button>
</form>""")


async def challenge_answer(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return _not_found_page()
    pi = _challenge_pi(session)
    if pi is None:
        raise web.HTTPSeeOther(f"/c/pay/{session.id}")
    form = await request.post()
    email = getattr(session, "_pending_email", "")
    if form.get("action") != "complete":
        PaymentIntent._api_authenticate(pi.id, client_secret=pi.client_secret, success=False)
        emit("payment_intent.payment_failed", pi)
        return _checkout_page(session, AUTHENTICATION_FAILED, email)
    try:
        PaymentIntent._api_authenticate(pi.id, client_secret=pi.client_secret, success=True)
    except UserError as error:  # a 3DS card that is declined after authentication
        return _checkout_page(session, error.body["error"].get("message", "Your card was declined."), email)
    _complete(session, pi, email)
    return _after_payment(session)


def _hosted_link(request: web.Request) -> AccountLink | None:
    return store.get(f"account_link:{request.match_info['token']}")


def _link_gone(link: AccountLink) -> web.StreamResponse:
    if link.refresh_url:
        raise web.HTTPFound(link.refresh_url)
    return _page("Link expired", "<h1>This link has expired</h1><p>Ask the platform for a new link.</p>", 410)


async def onboarding_page(request: web.Request) -> web.StreamResponse:
    link = _hosted_link(request)
    if link is None:
        return _not_found_page()
    if link.used or now() > link.expires_at:
        return _link_gone(link)
    account = Account._get(link.account)
    e = html.escape
    leave = (f'<p><a href="{e(link.return_url)}">Return without completing</a></p>' if link.return_url else "")
    return _page("Connect onboarding", f"""<h1>Set up payouts</h1>
<p>Account <code>{e(account.id)}</code>{' for ' + e(account.email) if account.email else ''} ({e(account.country)}).</p>
<p>This local test page stands in for Stripe's hosted onboarding: completing it submits the account's details and
enables charges, payouts and the requested capabilities.</p>
<form method="post" action="/connect/setup/{e(link.id)}">
<button type="submit">Complete onboarding</button>
</form>
{leave}""")


async def onboarding_submit(request: web.Request) -> web.StreamResponse:
    link = _hosted_link(request)
    if link is None:
        return _not_found_page()
    if link.used or now() > link.expires_at:
        return _link_gone(link)
    account = Account._get(link.account)
    link.used = True
    previous = account._complete_onboarding()
    emit("account.updated", account, previous_attributes=previous)
    if link.return_url:
        raise web.HTTPSeeOther(link.return_url)
    return _page("Onboarding complete", "<h1>You're all set</h1><p>You can close this window.</p>")


# --- installation on localstripe's app ---------------------------------------------------------

async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(1)
        try:
            expire_due_sessions()
        except Exception:  # keep sweeping; a broken object must not stop expiry for the rest
            log.exception("expiring checkout sessions failed")


async def _background(app_: web.Application):
    sweeper = asyncio.create_task(_sweep_forever())
    yield
    tasks = [sweeper, *_state.deliveries]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    _state.deliveries.clear()


def _install() -> None:
    if getattr(ls_server, "_lessonbook_installed", False):
        return  # imported twice (as __main__ and as standins.stripe_server)
    ls_server._lessonbook_installed = True
    _patch_localstripe()
    app.middlewares.insert(0, public_pages_middleware)
    app.middlewares.append(api_middleware)
    app.cleanup_ctx.append(_background)
    routes = [
        ("POST", "/v1/checkout/sessions", _api(create_checkout_session)),
        ("GET", "/v1/checkout/sessions", _api(list_checkout_sessions)),
        ("GET", "/v1/checkout/sessions/{id}", _api(retrieve_checkout_session)),
        ("POST", "/v1/checkout/sessions/{id}/expire", _api(expire_checkout_session)),
        ("GET", "/v1/checkout/sessions/{id}/line_items", _api(list_checkout_line_items)),
        ("POST", "/v1/accounts", _api(create_account)),
        ("GET", "/v1/accounts", _api(list_accounts)),
        ("GET", "/v1/accounts/{id}", _api(retrieve_account)),
        ("POST", "/v1/accounts/{id}", _api(update_account)),
        ("POST", "/v1/account_links", _api(create_account_link)),
        ("POST", "/v1/transfers", _api(create_transfer)),
        ("GET", "/v1/transfers", _api(list_transfers)),
        ("GET", "/v1/transfers/{id}", _api(retrieve_transfer)),
        ("POST", "/v1/transfers/{id}", _api(update_transfer)),
        ("POST", "/v1/transfers/{id}/reversals", _api(create_reversal)),
        ("GET", "/v1/transfers/{id}/reversals", _api(list_reversals)),
        ("GET", "/v1/transfers/{id}/reversals/{reversal}", _api(retrieve_reversal)),
        ("GET", "/c/pay/{id}", checkout_page),
        ("POST", "/c/pay/{id}", checkout_pay),
        ("GET", "/c/pay/{id}/3ds", challenge_page),
        ("POST", "/c/pay/{id}/3ds", challenge_answer),
        ("GET", "/connect/setup/{token}", onboarding_page),
        ("POST", "/connect/setup/{token}", onboarding_submit),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)


_install()


# --- running it --------------------------------------------------------------------------------

_running_lock = threading.Lock()
_running: LocalStripe | None = None
_loop: asyncio.AbstractEventLoop | None = None


def _server_loop() -> asyncio.AbstractEventLoop:
    """One event loop thread per process: aiohttp binds the app to the first loop that serves it."""
    global _loop
    if _loop is None:
        _loop = asyncio.new_event_loop()
        threading.Thread(target=_loop.run_forever, name="local-stripe", daemon=True).start()
    return _loop


class LocalStripe:
    """The server, served from a background thread with its own event loop, on 127.0.0.1."""

    def __init__(self, port: int | None = None):
        self._requested_port = port or 0
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    async def _setup(self) -> None:
        _reset_everything()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{self.port}"

    def _start(self) -> None:
        asyncio.run_coroutine_threadsafe(self._setup(), _server_loop()).result(timeout=30)

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's loop (where all its state lives) and wait for it."""
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), _server_loop()).result(timeout=10)

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None) -> None:
        """Deliver every event (localstripe's and ours), or only `events`, to `url`, signed with `secret`."""
        self._call(lambda: ls_webhooks.register_webhook(url, url, secret, events))

    def unregister_webhook(self, url: str) -> None:
        """Stop delivering to `url` (retries under way stop too)."""
        self._call(lambda: ls_webhooks._webhooks.pop(url, None))

    def reset(self) -> None:
        """Forget all objects, events, idempotency keys, webhooks and clock offset; cancel pending deliveries."""
        self._call(_reset_everything)

    def advance_clock(self, seconds: float) -> None:
        """Move this server's notion of now forward (checkout session and account link expiry)."""
        def advance() -> None:
            _state.clock_offset += seconds
            expire_due_sessions()
        self._call(advance)

    def stop(self) -> None:
        """Close the listening socket and forget everything (the loop thread stays for a later start)."""
        global _running
        if self._runner is not None:
            runner, self._runner = self._runner, None
            asyncio.run_coroutine_threadsafe(runner.cleanup(), _server_loop()).result(timeout=15)
            self._call(_reset_everything)
        with _running_lock:
            if _running is self:
                _running = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<LocalStripe {self.url or 'not started'}>"


def start_local_stripe(port: int | None = None) -> LocalStripe:
    """Start the server on 127.0.0.1 (a free port unless `port` is given); stop it with `.stop()`."""
    global _running
    with _running_lock:
        if _running is not None:
            raise RuntimeError(f"a local Stripe server already runs in this process at {_running.url}; "
                               "localstripe's state is process-global, so share that one")
        server = LocalStripe(port)
        server._start()
        _running = server
        return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Stripe-compatible server (localstripe plus Checkout, "
                                                 "Connect and Transfers) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--webhook-url", help="deliver every event here")
    parser.add_argument("--webhook-secret", help="whsec_... used to sign deliveries to --webhook-url")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    _reset_everything()
    if args.webhook_url:
        ls_webhooks.register_webhook(args.webhook_url, args.webhook_url, args.webhook_secret, None)
    access_log = None if args.quiet else logging.getLogger("aiohttp.access")
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=access_log,
                print=lambda _: print(f"local Stripe on http://127.0.0.1:{args.port}"
                                      + (f", webhooks to {args.webhook_url}" if args.webhook_url else ""),
                                      flush=True))


if __name__ == "__main__":
    main()
