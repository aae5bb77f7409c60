"""The local Stripe-compatible server: localstripe's aiohttp app with the routes and middlewares of
`standins/stripe/` installed on it, served on 127.0.0.1 (see `standins/stripe/__init__.py` for what it speaks).

Run it:      python -m standins.stripe_server --port 8420 [--webhook-url URL --webhook-secret whsec_...]
Or import:   server = start_local_stripe(); server.url; server.register_webhook(url, secret);
             server.unregister_webhook(url); server.reset(); server.advance_clock(seconds);
             server.advance_subscription(sub_id, renewal="paid"|"declined"); server.fail_refund(re_id);
             server.stop()
             (tests: the fixtures in tests/stripe_fixtures.py; its own tests: standins/tests/test_stripe_server.py)
All of localstripe's state is process-global: one server per process.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any, Self

from aiohttp import web
from localstripe import webhooks as ls_webhooks

from standins.stripe.base import app, log, ls_server, own_state, reset_everything
from standins.stripe.events import patch_localstripe
from standins.stripe.checkout import (challenge_answer, challenge_page, checkout_page, checkout_pay,
                                      create_checkout_session, expire_checkout_session, expire_due_sessions,
                                      list_checkout_line_items, list_checkout_sessions, retrieve_checkout_session)
from standins.stripe.connect import (create_account, create_account_link, list_accounts, onboarding_page,
                                     onboarding_submit, retrieve_account, update_account)
from standins.stripe.transfers import (create_reversal, create_transfer, list_reversals, list_transfers,
                                       retrieve_reversal, retrieve_transfer, update_transfer)
from standins.stripe.refunds import fail_due_refunds, fail_endpoint, fail_refund, patch_refunds
from standins.stripe.plumbing import api_handler, api_middleware, own_route, public_pages_middleware
from standins.stripe.subscriptions import (Subscription, advance_endpoint, advance_form, advance_page, advance_subscription,
                                           cancel_subscription, list_invoice_payments, list_invoices,
                                           list_subscriptions,
                                           pay_invoice_endpoint, retrieve_invoice, retrieve_subscription,
                                           update_subscription)


async def _sweep_forever() -> None:
    while True:
        await asyncio.sleep(1)
        try:
            expire_due_sessions()
            fail_due_refunds()
        except Exception:  # keep sweeping; a broken object must not stop expiry for the rest
            log.exception("expiring checkout sessions or failing refunds failed")


async def _background(app_: web.Application):
    sweeper = asyncio.create_task(_sweep_forever())
    yield
    tasks = [sweeper, *own_state.deliveries]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    own_state.deliveries.clear()


def _install() -> None:
    if getattr(ls_server, "_lessonbook_installed", False):
        return  # imported twice (as __main__ and as standins.stripe_server)
    ls_server._lessonbook_installed = True
    patch_localstripe()
    patch_refunds()
    app.middlewares.insert(0, public_pages_middleware)
    app.middlewares.append(api_middleware)
    app.cleanup_ctx.append(_background)
    routes = [
        ("POST", "/v1/checkout/sessions", api_handler(create_checkout_session)),
        ("GET", "/v1/checkout/sessions", api_handler(list_checkout_sessions)),
        ("GET", "/v1/checkout/sessions/{id}", api_handler(retrieve_checkout_session)),
        ("POST", "/v1/checkout/sessions/{id}/expire", api_handler(expire_checkout_session)),
        ("GET", "/v1/checkout/sessions/{id}/line_items", api_handler(list_checkout_line_items)),
        ("POST", "/v1/accounts", api_handler(create_account)),
        ("GET", "/v1/accounts", api_handler(list_accounts)),
        ("GET", "/v1/accounts/{id}", api_handler(retrieve_account)),
        ("POST", "/v1/accounts/{id}", api_handler(update_account)),
        ("POST", "/v1/account_links", api_handler(create_account_link)),
        ("POST", "/v1/transfers", api_handler(create_transfer)),
        ("GET", "/v1/transfers", api_handler(list_transfers)),
        ("GET", "/v1/transfers/{id}", api_handler(retrieve_transfer)),
        ("POST", "/v1/transfers/{id}", api_handler(update_transfer)),
        ("POST", "/v1/transfers/{id}/reversals", api_handler(create_reversal)),
        ("GET", "/v1/transfers/{id}/reversals", api_handler(list_reversals)),
        ("GET", "/v1/transfers/{id}/reversals/{reversal}", api_handler(retrieve_reversal)),
        ("GET", "/c/pay/{id}", checkout_page),
        ("POST", "/c/pay/{id}", checkout_pay),
        ("GET", "/c/pay/{id}/3ds", challenge_page),
        ("POST", "/c/pay/{id}/3ds", challenge_answer),
        ("GET", "/connect/setup/{token}", onboarding_page),
        ("POST", "/connect/setup/{token}", onboarding_submit),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    own = [
        ("GET", r"/v1/subscriptions", list_subscriptions),
        ("GET", r"/v1/subscriptions/(?P<id>[^/]+)", retrieve_subscription),
        ("POST", r"/v1/subscriptions/(?P<id>[^/]+)", update_subscription),
        ("DELETE", r"/v1/subscriptions/(?P<id>[^/]+)", cancel_subscription),
        ("GET", r"/v1/invoices", list_invoices),
        ("GET", r"/v1/invoices/(?P<id>[^/]+)", retrieve_invoice),
        ("POST", r"/v1/invoices/(?P<id>[^/]+)/pay", pay_invoice_endpoint),
        ("GET", r"/v1/invoice_payments", list_invoice_payments),
        ("POST", r"/v1/test_helpers/local/subscriptions/(?P<id>[^/]+)/advance", advance_endpoint),
        ("POST", r"/v1/test_helpers/local/refunds/(?P<id>[^/]+)/fail", fail_endpoint),
    ]
    for method, pattern, fn in own:
        own_route(method, pattern, fn)
    app.router.add_route("GET", "/_local/subscriptions", advance_page)
    app.router.add_route("POST", "/_local/subscriptions/{id}/advance", advance_form)


_install()


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
        reset_everything()
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
        self._call(reset_everything)

    def advance_clock(self, seconds: float) -> None:
        """Move this server's notion of now forward (checkout session and account link expiry)."""
        def advance() -> None:
            own_state.clock_offset += seconds
            expire_due_sessions()
        self._call(advance)

    def advance_subscription(self, subscription_id: str, renewal: str | None = None) -> None:
        """End the subscription's current period now: it renews (renewal="declined": the card fails) or ends."""
        self._call(lambda: advance_subscription(Subscription._get(subscription_id), renewal=renewal))

    def fail_refund(self, refund_id: str, status: str = "failed", failure_reason: str | None = None) -> dict:
        """Fail (or cancel) a refund Stripe had accepted, now: charge.refund.updated, refund.updated, refund.failed."""
        return self._call(lambda: fail_refund(refund_id, status, failure_reason)._export())

    def stop(self) -> None:
        """Close the listening socket and forget everything (the loop thread stays for a later start)."""
        global _running
        if self._runner is not None:
            runner, self._runner = self._runner, None
            asyncio.run_coroutine_threadsafe(runner.cleanup(), _server_loop()).result(timeout=15)
            self._call(reset_everything)
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
    reset_everything()
    if args.webhook_url:
        ls_webhooks.register_webhook(args.webhook_url, args.webhook_url, args.webhook_secret, None)
    access_log = None if args.quiet else logging.getLogger("aiohttp.access")
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=access_log,
                print=lambda _: print(f"local Stripe on http://127.0.0.1:{args.port}"
                                      + (f", webhooks to {args.webhook_url}" if args.webhook_url else ""),
                                      flush=True))


if __name__ == "__main__":
    main()
