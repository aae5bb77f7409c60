"""Events: the ones localstripe never sends, delivered to webhooks signed as Stripe signs them, GET /v1/events newest
first, and the few fields localstripe's own objects lack.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp
from localstripe import webhooks as ls_webhooks
from localstripe.resources import Charge, Event, PaymentIntent, StripeObject, store

from .base import (API_VERSION, WEBHOOK_DELAY_SECONDS, WEBHOOK_RETRY_DELAYS, ApiError, as_int, current_request,
                   expand_list, list_object, log, own_state, reject_unknown)


def _pi_amount_capturable(pi: PaymentIntent) -> int:
    return pi.amount if pi.status == "requires_capture" else 0


def _pi_amount_received(pi: PaymentIntent) -> int:
    if pi.status != "succeeded" or pi.latest_charge is None:
        return 0
    return getattr(pi, "_amount_captured", None) or pi.latest_charge.amount


def patch_localstripe() -> None:
    """Memory-only state, and a few fields real Stripe objects have (this is our fake server, not the SDK)."""
    store.dump_to_disk = lambda: None  # never write /tmp/localstripe.pickle
    store.try_load_from_disk = lambda: None  # never read it either
    PaymentIntent.transfer_group = None
    PaymentIntent.description = None
    PaymentIntent.amount_received = property(_pi_amount_received)
    PaymentIntent.amount_capturable = property(_pi_amount_capturable)
    Charge.transfer_group = None
    ls_webhooks._send_webhook = _deliver  # localstripe's schedule_webhook() calls this for every event


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
        own_state.deliveries.add(task)
    try:
        event.api_version = API_VERSION
        if "request" not in vars(event):
            current = current_request.get()  # the API request that caused it, if any
            event.request = dict(current) if current else {"id": None, "idempotency_key": None}
        targets = [hook for hook in ls_webhooks._webhooks.values()
                   if hook.events is None or event.type in hook.events]
        event.pending_webhooks = len(targets)
        payload = json.dumps(event._export(), indent=2, sort_keys=True).encode()
        await asyncio.sleep(WEBHOOK_DELAY_SECONDS)
        await asyncio.gather(*(_post_webhook(hook, payload, event) for hook in targets))
    finally:
        if task is not None:
            own_state.deliveries.discard(task)


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


def list_events(params: dict) -> dict:
    """Events newest first, as Stripe lists them (localstripe lists oldest first)."""
    params = dict(params)
    reject_unknown(params, {"limit", "starting_after", "ending_before", "type", "types", "created", "expand",
                             "delivery_success"})
    events = [v for k, v in list(store.items()) if k.startswith("event:")][::-1]
    types = [params["type"]] if params.get("type") else expand_list(params.get("types"))
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
            limit = as_int(value, f"created[{op}]")
            events = [e for e in events if bounds[op](e.created, limit)]
    elif created not in (None, ""):
        events = [e for e in events if e.created == as_int(created, "created")]
    return list_object("/v1/events", events, params, expand_list(params.get("expand")))
