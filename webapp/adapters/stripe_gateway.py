"""Stripe, behind one small module: the official SDK's StripeClient, configured only from app config.

In production it talks to Stripe; in dev and tests STRIPE_API_BASE points it at a local Stripe-compatible
server. Every POST carries an idempotency key derived from our own ids (e.g. ``booking:42:capture``).
"""
from __future__ import annotations

from typing import Any

import stripe
from flask import current_app

PaymentError = stripe.StripeError
CardError = stripe.CardError
InvalidRequest = stripe.InvalidRequestError  # Stripe refused what we sent (say, an unknown payment method id)
SignatureError = stripe.SignatureVerificationError


def client() -> stripe.StripeClient:
    """A StripeClient for the current app (cached on the app)."""
    app = current_app._get_current_object()
    cached = app.extensions.get("stripe_client")
    if cached is None:
        base = app.config.get("STRIPE_API_BASE")
        kwargs: dict[str, Any] = {"max_network_retries": 2, "http_client": stripe.RequestsClient(
            timeout=app.config.get("STRIPE_TIMEOUT_SECONDS", 20))}
        if base:
            kwargs["base_addresses"] = {"api": base, "files": base, "connect": base}
        cached = stripe.StripeClient(app.config["STRIPE_SECRET_KEY"], **kwargs)
        app.extensions["stripe_client"] = cached
    return cached


def _opts(key: str) -> dict:
    return {"idempotency_key": key}


def create_checkout_session(*, amount_minor: int, currency: str, product_name: str, booking_id: int,
                            customer_email: str, success_url: str, cancel_url: str, expires_at: int,
                            idempotency_key: str):
    """A Checkout Session that authorizes (manual capture) the amount for one booking."""
    metadata = {"booking_id": str(booking_id)}
    return client().v1.checkout.sessions.create(params={
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {"currency": currency.lower(), "unit_amount": amount_minor,
                                                      "product_data": {"name": product_name}}}],
        "payment_intent_data": {"capture_method": "manual", "metadata": metadata,
                                "transfer_group": f"booking_{booking_id}"},
        "metadata": metadata, "client_reference_id": str(booking_id), "customer_email": customer_email,
        "success_url": success_url, "cancel_url": cancel_url, "expires_at": expires_at,
    }, options=_opts(idempotency_key))


def create_package_checkout_session(*, amount_minor: int, currency: str, product_name: str, purchase_id: int,
                                    customer_email: str, success_url: str, cancel_url: str, expires_at: int,
                                    idempotency_key: str):
    """A Checkout Session that takes the payment for one package purchase at once (automatic capture)."""
    metadata = {"package_purchase_id": str(purchase_id)}
    return client().v1.checkout.sessions.create(params={
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {"currency": currency.lower(), "unit_amount": amount_minor,
                                                      "product_data": {"name": product_name}}}],
        "payment_intent_data": {"capture_method": "automatic", "metadata": metadata},
        # Not a bare number: the webhook dispatcher reads a numeric client_reference_id as a booking's id.
        "metadata": metadata, "client_reference_id": f"package_purchase_{purchase_id}",
        "customer_email": customer_email, "success_url": success_url, "cancel_url": cancel_url,
        "expires_at": expires_at,
    }, options=_opts(idempotency_key))


def create_subscription_checkout_session(*, amount_minor: int, currency: str, product_name: str, metadata: dict,
                                         customer_email: str, success_url: str, cancel_url: str,
                                         idempotency_key: str):
    """A Checkout Session (mode=subscription) for a monthly price; ``metadata`` goes on the session and on the
    subscription (so every invoice carries it)."""
    return client().v1.checkout.sessions.create(params={
        "mode": "subscription",
        "line_items": [{"quantity": 1, "price_data": {
            "currency": currency.lower(), "unit_amount": amount_minor, "recurring": {"interval": "month"},
            "product_data": {"name": product_name}}}],
        "subscription_data": {"metadata": metadata}, "metadata": metadata,
        "customer_email": customer_email, "success_url": success_url, "cancel_url": cancel_url,
    }, options=_opts(idempotency_key))


def retrieve_subscription(subscription_id: str):
    """A Subscription by id (Stripe's state now, whatever order its events came in)."""
    return client().v1.subscriptions.retrieve(subscription_id)


def set_cancel_at_period_end(subscription_id: str, cancel: bool, idempotency_key: str):
    """Cancel a subscription at its period's end (True), or take that back (False)."""
    return client().v1.subscriptions.update(subscription_id, params={"cancel_at_period_end": cancel},
                                            options=_opts(idempotency_key))


def change_subscription_price(subscription_id: str, *, item_id: str, product_id: str, amount_minor: int,
                              currency: str, prorate_now: bool, metadata: dict, idempotency_key: str):
    """Move a subscription's item to a new monthly price: prorated and invoiced at once, or from the next renewal
    with no proration (``prorate_now`` False)."""
    return client().v1.subscriptions.update(subscription_id, params={
        "items": [{"id": item_id, "price_data": {"currency": currency.lower(), "unit_amount": amount_minor,
                                                 "product": product_id, "recurring": {"interval": "month"}}}],
        "proration_behavior": "always_invoice" if prorate_now else "none", "metadata": metadata,
    }, options=_opts(idempotency_key))


def cancel_subscription(subscription_id: str, idempotency_key: str):
    """End a subscription at once (no proration, no refund: refunds are separate calls)."""
    return client().v1.subscriptions.cancel(subscription_id, options=_opts(idempotency_key))


def paid_invoice_payments(subscription_id: str) -> list[dict]:
    """Every payment that paid one of a subscription's invoices, as plain dicts with the invoice id, the amount and
    the PaymentIntent (API 2025-03-31 keeps them in invoice_payments, not on the invoice)."""
    payments = []
    for invoice in client().v1.invoices.list(params={"subscription": subscription_id, "status": "paid",
                                                     "limit": 100}).auto_paging_iter():
        for payment in client().v1.invoice_payments.list(params={"invoice": invoice.id}).auto_paging_iter():
            if payment.status == "paid" and payment.payment.type == "payment_intent":
                payments.append({"invoice": invoice.id, "amount": payment.amount_paid,
                                 "currency": payment.currency, "payment_intent": payment.payment.payment_intent})
    return payments


def create_card_setup_session(*, customer: str, metadata: dict, success_url: str, cancel_url: str,
                              idempotency_key: str):
    """A Checkout Session (mode=setup) that saves a new card for the customer, charging nothing."""
    return client().v1.checkout.sessions.create(params={
        "mode": "setup", "customer": customer, "payment_method_types": ["card"],
        "setup_intent_data": {"metadata": metadata}, "metadata": metadata,
        "success_url": success_url, "cancel_url": cancel_url,
    }, options=_opts(idempotency_key))


def retrieve_setup_intent(setup_intent_id: str):
    """A SetupIntent by id (its payment_method is the card saved)."""
    return client().v1.setup_intents.retrieve(setup_intent_id)


def set_subscription_payment_method(subscription_id: str, payment_method: str, idempotency_key: str):
    """Make a saved card the one a subscription's invoices are charged to."""
    return client().v1.subscriptions.update(subscription_id, params={"default_payment_method": payment_method},
                                            options=_opts(idempotency_key))


def retrieve_invoice(invoice_id: str):
    """An Invoice by id."""
    return client().v1.invoices.retrieve(invoice_id)


def pay_invoice(invoice_id: str, idempotency_key: str):
    """Try to collect an open invoice now from the subscription's card (raises CardError when it is declined)."""
    return client().v1.invoices.pay(invoice_id, options=_opts(idempotency_key))


def retrieve_checkout_session(session_id: str):
    """A Checkout Session by id."""
    return client().v1.checkout.sessions.retrieve(session_id)


def expire_checkout_session(session_id: str):
    """Close an open Checkout Session so it can no longer be paid."""
    return client().v1.checkout.sessions.expire(session_id)


def retrieve_payment_intent(payment_intent_id: str):
    """A PaymentIntent by id."""
    return client().v1.payment_intents.retrieve(payment_intent_id)


def create_payment_intent(*, amount_minor: int, currency: str, payment_method: str, booking_id: int,
                          idempotency_key: str):
    """A confirmed PaymentIntent with manual capture (the mobile API path of seed 002)."""
    return client().v1.payment_intents.create(params={
        "amount": amount_minor, "currency": currency.lower(), "payment_method": payment_method, "confirm": True,
        "capture_method": "manual", "metadata": {"booking_id": str(booking_id)},
    }, options=_opts(idempotency_key))


def capture_payment_intent(payment_intent_id: str, idempotency_key: str):
    """Capture an authorized PaymentIntent in full."""
    return client().v1.payment_intents.capture(payment_intent_id, options=_opts(idempotency_key))


def cancel_payment_intent(payment_intent_id: str, idempotency_key: str):
    """Release an authorization."""
    return client().v1.payment_intents.cancel(payment_intent_id, options=_opts(idempotency_key))


def create_refund(payment_intent_id: str, amount_minor: int, idempotency_key: str, refund_row_id: int | None = None):
    """Refund part or all of a captured PaymentIntent; `refund_row_id` (our intent row) travels as metadata so
    the charge.refunded webhook can match Stripe's refund to the row that asked for it."""
    params: dict[str, Any] = {"payment_intent": payment_intent_id, "amount": amount_minor}
    if refund_row_id is not None:
        params["metadata"] = {"refund_row_id": str(refund_row_id)}
    return client().v1.refunds.create(params=params, options=_opts(idempotency_key))


def list_refunds(payment_intent_id: str) -> list[dict]:
    """Every refund of a PaymentIntent, as plain dicts (all pages)."""
    page = client().v1.refunds.list(params={"payment_intent": payment_intent_id, "limit": 100})
    return [refund.to_dict() for refund in page.auto_paging_iter()]


def retrieve_refund(refund_id: str) -> dict:
    """One refund as Stripe has it now (its status may have changed since an event was sent), as a plain dict."""
    return client().v1.refunds.retrieve(refund_id).to_dict()


def outcome_unknown(exc: stripe.StripeError) -> bool:
    """Whether Stripe may have done what was asked although we got an error (network failure, 5xx): only a
    replay with the same idempotency key can tell. A 4xx answer means nothing was done."""
    if isinstance(exc, (stripe.APIConnectionError, stripe.APIError)):
        return True
    status = getattr(exc, "http_status", None)
    return status is None or status >= 500 or status == 409


def error_code(exc: stripe.StripeError) -> str | None:
    """Stripe's machine-readable error code (`amount_too_large`, `charge_already_refunded`, ...)."""
    return getattr(exc, "code", None)


def create_express_account(*, email: str, country: str, tutor_id: int, idempotency_key: str):
    """A Connect Express account for a tutor's payouts."""
    return client().v1.accounts.create(params={
        "type": "express", "country": country, "email": email,
        "capabilities": {"transfers": {"requested": True}}, "metadata": {"tutor_id": str(tutor_id)},
    }, options=_opts(idempotency_key))


def create_account_link(account_id: str, *, refresh_url: str, return_url: str):
    """A one-time onboarding link for a Connect account."""
    return client().v1.account_links.create(params={
        "account": account_id, "refresh_url": refresh_url, "return_url": return_url, "type": "account_onboarding"})


def retrieve_account(account_id: str):
    """A Connect account by id."""
    return client().v1.accounts.retrieve(account_id)


def create_transfer(*, amount_minor: int, currency: str, destination: str, booking_id: int, idempotency_key: str,
                    source_charge: str | None = None):
    """Pay a tutor's share of one booking to their Connect account.

    With the booking's charge as ``source_transaction`` the transfer waits for that charge's funds instead of
    needing an available platform balance (card funds stay pending for days)."""
    params = {"amount": amount_minor, "currency": currency.lower(), "destination": destination,
              "transfer_group": f"booking_{booking_id}", "metadata": {"booking_id": str(booking_id)}}
    if source_charge:
        params["source_transaction"] = source_charge
    return client().v1.transfers.create(params=params, options=_opts(idempotency_key))


def reverse_transfer(transfer_id: str, *, amount_minor: int, booking_id: int, idempotency_key: str):
    """Take part of a tutor's transfer back (a refund made after the tutor was paid)."""
    return client().v1.transfers.reversals.create(transfer_id, params={
        "amount": amount_minor, "metadata": {"booking_id": str(booking_id)}}, options=_opts(idempotency_key))


def construct_event(payload: bytes, signature: str | None):
    """Verify a webhook's signature over the raw body and parse it (raises SignatureError or ValueError)."""
    return stripe.Webhook.construct_event(payload, signature or "", current_app.config["STRIPE_WEBHOOK_SECRET"])
