"""Shared pieces of the local Stripe server: constants, its own state and clock, Stripe-shaped errors and
parameter parsing, and the base class of the objects it keeps in localstripe's store.
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import logging
import secrets
import string
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
with warnings.catch_warnings():  # localstripe registers plain-function handlers, which aiohttp deprecates
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="aiohttp")
    from localstripe import server as ls_server
from localstripe import webhooks as ls_webhooks
from localstripe.errors import UserError
from localstripe.resources import StripeObject, store


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
PUBLIC_PREFIXES = ("/c/pay/", "/connect/setup/", "/_local/")  # /_local/: stand-in-only dev pages

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


class _State:
    """What this module keeps beside localstripe's `store` (which also holds our objects)."""

    def __init__(self) -> None:
        self.idempotency: dict[tuple[str, str], dict[str, Any]] = {}
        self.clock_offset = 0.0
        self.deliveries: set[asyncio.Task] = set()
        self.doomed_refunds: dict[str, int] = {}  # refund id -> when it fails (the refund-fail test card)


own_state = _State()
_sequence = itertools.count()
current_request: contextvars.ContextVar[dict | None] = contextvars.ContextVar("local_stripe_request", default=None)


def now() -> int:
    """This server's clock: real time plus whatever `advance_clock` added (for expiry tests)."""
    return int(time.time() + own_state.clock_offset)


def random_id(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def clear_own_state() -> None:
    own_state.idempotency.clear()
    own_state.clock_offset = 0.0
    own_state.doomed_refunds.clear()


def reset_everything() -> None:
    """Forget every object, event, idempotency key and webhook; cancel deliveries under way (loop thread)."""
    for task in list(own_state.deliveries):
        with contextlib.suppress(RuntimeError):  # a task of a loop already closed
            task.cancel()
    own_state.deliveries.clear()
    store.clear()
    ls_webhooks._webhooks.clear()
    clear_own_state()


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
        return json_response({"error": self.error}, status=self.status)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda x: json.dumps(x, indent=2, sort_keys=True) + "\n")


def missing_param(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", param=param, code="parameter_missing")


def no_such(noun: str, id: str, param: str, status: int = 400) -> ApiError:
    return ApiError(status, f"No such {noun}: '{id}'", param=param, code="resource_missing")


def reject_unknown(params: dict, allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise ApiError(400, f"Received unknown parameter: {name} (this local Stripe server does not "
                                f"implement it)", param=name, code="parameter_unknown")


def as_int(value: Any, param: str, minimum: int | None = None) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {value}", param=param, code="parameter_invalid_integer") from None
    if minimum is not None and number < minimum:
        raise ApiError(400, f"This value must be greater than or equal to {minimum}.", param=param,
                       code="parameter_invalid_integer")
    return number


def as_str(value: Any, param: str) -> str:
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid string: {value!r}", param=param, code="parameter_invalid_string")
    return value


def as_bool(value: Any, param: str) -> bool:
    if value in (True, "true"):
        return True
    if value in (False, "false"):
        return False
    raise ApiError(400, f"Invalid boolean: {value}", param=param, code="parameter_invalid_boolean")


def parse_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ApiError(400, "Invalid object", param=param, code="parameter_invalid_object")
    if len(value) > 50:
        raise ApiError(400, "You can specify up to 50 keys in metadata.", param=param)
    return {k: v for k, v in value.items() if v != ""}


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise ApiError(400, "Invalid object", param="metadata", code="parameter_invalid_object")
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = as_str(value, f"metadata[{key}]")
    return merged


def as_url(value: Any, param: str) -> str:
    url = as_str(value, param)
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ApiError(400, "Not a valid URL", param=param, code="url_invalid")
    return url


def parse_currency(value: Any, param: str) -> str:
    currency = as_str(value, param).lower()
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


def expand_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise ApiError(400, "Invalid array", param="expand", code="parameter_invalid_array")


_REGISTRY: dict[str, type[LocalObject]] = {}


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


def apply_expand(data: dict, expand: list[str]) -> dict:
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
            apply_expand(value, [rest])
    return data


class LocalObject(StripeObject):
    """Our objects live in localstripe's `store`, so its reset clears them and its Event can carry them."""

    _id_prefix: str
    _id_length = 24
    _noun = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_id_prefix" in cls.__dict__:
            _REGISTRY[cls._id_prefix] = cls

    def __init__(self) -> None:
        super().__init__(id=self._id_prefix + random_id(self._id_length))
        self.created = now()
        self._seq = next(_sequence)

    @classmethod
    def _get(cls, id: str, param: str = "id", status: int = 404):
        obj = store.get(f"{cls.object}:{id}")
        if obj is None:
            raise no_such(cls._noun or cls.object, id, param, status)
        return obj

    @classmethod
    def _all(cls) -> list:
        """Newest first, as Stripe lists."""
        items = [v for k, v in list(store.items()) if k.startswith(cls.object + ":")]
        return sorted(items, key=lambda o: (o.created, o._seq), reverse=True)

    def _data(self) -> dict:
        raise NotImplementedError

    def _export(self, expand: list[str] | None = None) -> dict:
        return apply_expand(self._data(), list(expand or []))


def list_object(url: str, items: list, params: dict, expand: list[str]) -> dict:
    limit = as_int(params.get("limit", 10), "limit", minimum=1)
    if limit > 100:
        raise ApiError(400, "This value must be less than or equal to 100.", param="limit")
    starting_after, ending_before = params.get("starting_after"), params.get("ending_before")
    ids = [item.id for item in items]
    if starting_after:
        if starting_after not in ids:
            raise no_such("object", starting_after, "starting_after")
        items = items[ids.index(starting_after) + 1:]
        page = items[:limit]
    elif ending_before:
        if ending_before not in ids:
            raise no_such("object", ending_before, "ending_before")
        items = items[:ids.index(ending_before)]
        page = items[-limit:]
    else:
        page = items[:limit]
    item_expand = [e[len("data."):] for e in expand if e.startswith("data.")]
    return {"object": "list", "data": [item._export(expand=item_expand) for item in page],
            "has_more": len(items) > len(page), "url": url}


def request_base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"
