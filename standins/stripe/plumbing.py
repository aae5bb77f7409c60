"""What every /v1 request goes through: parameters, Idempotency-Key, request ids, Stripe-shaped errors, and the
events localstripe's own endpoints should have sent (refunds and PaymentIntents).
"""
from __future__ import annotations

import hashlib
import re
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Charge, PaymentIntent, Refund, StripeObject, store

from .base import (IDEMPOTENCY_TTL_SECONDS, PUBLIC_PREFIXES, ApiError, as_int, clear_own_state, current_request,
                   expand_list, json_response, ls_server, money, own_state, random_id)
from .events import emit, list_events
from .refunds import prepare
from .checkout import expire_due_sessions
from .transfers import balance_object


# Routes that replace localstripe's own (its /v1/subscriptions and /v1/invoices speak an older shape):
# (method, path pattern, handler made by api_handler), tried before localstripe's router.
OWN_ROUTES: list[tuple[str, re.Pattern, Callable[..., Any]]] = []


def own_route(method: str, pattern: str, fn: Callable[..., Any]) -> None:
    """Serve `method pattern` (named groups become arguments) with `fn`, ahead of localstripe's routes."""
    OWN_ROUTES.append((method, re.compile(pattern + "$"), api_handler(fn)))


async def _own_route(request: web.Request) -> web.Response | None:
    for method, pattern, handler in OWN_ROUTES:
        match = pattern.match(request.path)
        if match and request.method == method:
            return await handler(request, match.groupdict())
    return None


def api_handler(fn: Callable[..., Any]) -> Callable[..., Any]:
    async def handler(request: web.Request, match_info: dict | None = None) -> web.Response:
        if request.method == "POST":
            params = (await ls_server.get_post_data(request)) or {}
            params.update(ls_server.unflatten_data(request.query) or {})
        else:
            params = ls_server.unflatten_data(request.query) or {}
        params = dict(params)
        expand = expand_list(params.pop("expand", None))
        expire_due_sessions()
        result = fn(request, params, **(request.match_info if match_info is None else match_info))
        if isinstance(result, StripeObject):
            result = result._export(expand=expand)
        return json_response(result)
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
    return json_response(body, status=error.code)


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
    refund = Refund._api_create(**data)
    prepare(refund)
    return json_response(refund._export(expand=expand))


def _refundable(data: dict) -> int | None:
    """What is left to refund on the charge `data` names (None when localstripe should judge the request)."""
    charge, pi = None, None
    if isinstance(data.get("charge"), str):
        charge = store.get(f"charge:{data['charge']}")
    elif isinstance(data.get("payment_intent"), str):
        pi = store.get(f"payment_intent:{data['payment_intent']}")
        charge = pi.latest_charge if pi is not None else None
    if pi is not None and pi.status == "canceled":
        # localstripe would refund the charge of a canceled PaymentIntent; Stripe has nothing to refund there.
        raise ApiError(400, f"This PaymentIntent ({pi.id}) does not have a successful charge to refund.",
                       param="payment_intent")
    if charge is None or charge.status != "succeeded":
        return None  # localstripe answers these itself
    left = charge.amount - charge.amount_refunded
    if left <= 0:
        raise ApiError(400, f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    if data.get("amount") not in (None, ""):
        amount = as_int(data["amount"], "amount", minimum=1)
        if amount > left:
            raise ApiError(400, f"Refund amount ({money(amount, charge.currency)}) is greater than unrefunded "
                                f"amount on charge ({money(left, charge.currency)})", param="amount",
                           code="amount_too_large")
    return left


_PI_PATH = "/v1/payment_intents"
_CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action",
               "processing")


async def _with_event_hooks(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Send the events localstripe never sends, from what its endpoints just did."""
    path, method = request.path, request.method
    before = None
    parts = path.split("/")
    if method == "POST" and path.startswith(_PI_PATH) and len(parts) >= 4:
        pi = store.get(f"payment_intent:{parts[3]}")
        if pi is not None and path.endswith("/capture"):
            data = (await ls_server.get_post_data(request)) or {}
            # Checked after the last await before localstripe's synchronous capture, so a cancel cannot slip in
            # between: localstripe would capture the charge of a canceled PaymentIntent, which Stripe refuses.
            if pi.status != "requires_capture":
                return ApiError(400, f"This PaymentIntent could not be captured because it has a status of "
                                     f"{pi.status}. Only a PaymentIntent with one of the following statuses may be "
                                     "captured: requires_capture.", code="payment_intent_unexpected_state").response()
            amount = str(data.get("amount_to_capture", ""))
            pi._amount_captured = int(amount) if amount.isdigit() else pi.amount
        elif pi is not None and path.endswith("/cancel") and pi.status not in _CANCELABLE:
            # localstripe answers a bare "Bad request"; Stripe names the state, with the code callers act on
            # (releasing an authorization that was captured a moment ago is a conflict, not a failure to retry).
            return ApiError(400, f"You cannot cancel this PaymentIntent because it has a status of {pi.status}. "
                                 "Only a PaymentIntent with one of the following statuses may be canceled: "
                                 f"{', '.join(_CANCELABLE)}.", code="payment_intent_unexpected_state").response()
        before = pi.status if pi is not None else None
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
        clear_own_state()
        return response
    if not request.path.startswith("/v1/"):
        return await handler(request)
    request_id = "req_" + random_id(14)
    key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
    token = current_request.set({"id": request_id, "idempotency_key": key})
    scope = (_api_key(request), key or "")
    fingerprint = None
    try:
        if key:
            fingerprint = await _fingerprint(request)
            cutoff = time.time() - IDEMPOTENCY_TTL_SECONDS
            for stale in [k for k, v in own_state.idempotency.items() if v["at"] < cutoff]:
                del own_state.idempotency[stale]
            saved = own_state.idempotency.get(scope)
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
            own_state.idempotency[scope] = {"in_progress": True, "at": time.time()}
        try:
            if request.method == "GET" and request.path == "/v1/balance":
                response = json_response(balance_object())  # localstripe's is a fixed 20 EUR
            elif request.method == "GET" and request.path == "/v1/events":
                response = json_response(list_events(ls_server.unflatten_data(request.query) or {}))  # newest first
            else:
                response = await _own_route(request)  # (a Response is a mapping: test for None, not falsiness)
                if response is None:
                    response = await _with_event_hooks(request, handler)
        except UserError as error:
            response = _from_user_error(error, request)
        except ApiError as error:
            response = error.response()
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
            response = _unrecognized(request)
        if key:
            if isinstance(response, web.Response) and _saved_by_idempotency(response.status):
                own_state.idempotency[scope] = {"fingerprint": fingerprint, "status": response.status,
                                             "body": response.body, "request_id": request_id, "at": time.time()}
            else:
                own_state.idempotency.pop(scope, None)
            response.headers["Idempotency-Key"] = key
        response.headers["Request-Id"] = request_id
        return response
    except BaseException:
        if key and own_state.idempotency.get(scope, {}).get("in_progress"):
            own_state.idempotency.pop(scope, None)
        raise
    finally:
        current_request.reset(token)
