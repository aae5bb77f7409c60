"""PayPal, behind one small module: OAuth2 client credentials, Orders v2, Payments v2 and webhook verification.

A plain `requests` client, not `paypal-server-sdk`: that SDK (2.x) hard-codes its two base URLs (sandbox and live)
in a class attribute, so pointing it at the local stand-in would mean patching it, and it has no webhook
verification. This module is configured only from app config (`PAYPAL_API_BASE`, `PAYPAL_CLIENT_ID`,
`PAYPAL_CLIENT_SECRET`, `PAYPAL_WEBHOOK_ID`); dev and tests point `PAYPAL_API_BASE` at `standins/paypal.py`.

Money stays in integer minor units on our side; `_amount` (over `domain.money.decimal_string`) is the one place it
becomes PayPal's {currency_code, value}. Every POST carries `PayPal-Request-Id`, derived by callers from our own ids
(e.g. ``booking:42:authorize``), so a retried call is answered, not repeated. Callers hold no write transaction
while these run: each is a network call bounded by `timeout`.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from flask import current_app

from ..domain.money import decimal_string, minor_from_decimal_string


AUTHORIZATION_LIFETIME = timedelta(days=29)  # an authorization can be captured for 29 days
HONOR_PERIOD = timedelta(days=3)  # the funds are sure for 3; after that, reauthorize before capturing


class PayPalError(Exception):
    """PayPal answered with an error, or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None, name: str | None = None,
                 issue: str | None = None, debug_id: str | None = None):
        super().__init__(message)
        self.status, self.name, self.issue, self.debug_id = status, name, issue, debug_id


class PayPalUnavailable(PayPalError):
    """No answer we can trust (network failure, timeout, 5xx, 409): PayPal may or may not have acted, so retry the
    same call with the same PayPal-Request-Id to find out."""


class PayPalRefused(PayPalError):
    """A 4xx answer: nothing was done. `issue` is PayPal's reason (ORDER_NOT_APPROVED, PREVIOUSLY_VOIDED, ...)."""


@dataclass(frozen=True)
class Order:
    """An order as created: its id, status and the buyer's approval link."""

    id: str
    status: str
    approve_url: str | None


@dataclass(frozen=True)
class Authorization:
    """An authorized payment: id, status, amount, and the instants that bound it (aware UTC)."""

    id: str
    status: str
    amount_minor: int
    currency: str
    created_at: datetime | None
    expires_at: datetime | None
    custom_id: str | None


@dataclass(frozen=True)
class Capture:
    """A captured payment and what PayPal kept as its fee (None when it did not say)."""

    id: str
    status: str
    amount_minor: int
    currency: str
    fee_minor: int | None
    custom_id: str | None


@dataclass(frozen=True)
class Refund:
    """A refund of a capture."""

    id: str
    status: str
    amount_minor: int
    currency: str


def _amount(amount_minor: int, currency: str) -> dict:
    return {"currency_code": currency.upper(), "value": decimal_string(amount_minor, currency.upper())}


def minor_amount(amount: dict) -> tuple[int, str]:
    """PayPal's {currency_code, value} → (minor units, currency), exactly."""
    currency = amount["currency_code"]
    return minor_from_decimal_string(amount["value"], currency), currency


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC) if text else None


def authorization_from(body: dict) -> Authorization:
    """An authorization resource (an API answer or a webhook event's resource) as a plain value."""
    amount_minor, currency = minor_amount(body["amount"])
    return Authorization(body["id"], body["status"], amount_minor, currency, _instant(body.get("create_time")),
                         _instant(body.get("expiration_time")), body.get("custom_id"))


def capture_from(body: dict) -> Capture:
    """A capture resource as a plain value."""
    amount_minor, currency = minor_amount(body["amount"])
    fee = ((body.get("seller_receivable_breakdown") or {}).get("paypal_fee"))
    return Capture(body["id"], body["status"], amount_minor, currency, minor_amount(fee)[0] if fee else None,
                   body.get("custom_id"))


class PayPalClient:
    """One PayPal REST application (client id and secret) on one base URL, with its access token cached."""

    def __init__(self, base_url: str, client_id: str, client_secret: str, webhook_id: str | None = None,
                 timeout: float = 15):
        self.base_url = base_url.rstrip("/")
        self.client_id, self.client_secret, self.webhook_id = client_id, client_secret, webhook_id
        self.timeout = timeout
        self.session = requests.Session()
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    # --- transport ----------------------------------------------------------------------------------

    def _access_token(self, refresh: bool = False) -> str:
        with self._token_lock:
            if refresh or self._token is None or time.monotonic() >= self._token_expires:
                try:
                    answer = self.session.post(f"{self.base_url}/v1/oauth2/token",
                                               data={"grant_type": "client_credentials"},
                                               auth=(self.client_id, self.client_secret),
                                               headers={"Accept": "application/json"}, timeout=self.timeout)
                except requests.RequestException as exc:
                    raise PayPalUnavailable(f"PayPal could not be reached: {exc}") from exc
                if answer.status_code >= 500:
                    raise PayPalUnavailable(f"PayPal answered {answer.status_code} to the token request",
                                            status=answer.status_code)
                if answer.status_code != 200:
                    raise PayPalRefused("PayPal refused the client credentials (check PAYPAL_CLIENT_ID and "
                                        "PAYPAL_CLIENT_SECRET)", status=answer.status_code, name="invalid_client")
                body = answer.json()
                self._token = body["access_token"]
                # renew a minute early so a token never runs out between our check and PayPal's
                self._token_expires = time.monotonic() + max(0, int(body.get("expires_in", 0)) - 60)
            return self._token

    def _call(self, method: str, path: str, *, body: dict | None = None, request_id: str | None = None,
              raw_body: bytes | None = None) -> dict | None:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self._access_token(refresh=attempt == 2)}"
            try:
                answer = self.session.request(method, self.base_url + path, data=data, headers=headers,
                                              timeout=self.timeout)
            except requests.RequestException as exc:
                raise PayPalUnavailable(f"PayPal could not be reached: {exc}") from exc
            if answer.status_code != 401 or attempt == 2:
                break  # a 401 means our cached token was revoked or expired early: fetch a new one, once
        if answer.status_code == 204:
            return None
        try:
            payload = answer.json()
        except ValueError:
            payload = {}
        if 200 <= answer.status_code < 300:
            return payload
        details = payload.get("details") or [{}]
        issue = details[0].get("issue") if isinstance(details[0], dict) else None
        message = (details[0].get("description") if isinstance(details[0], dict) else None) \
            or payload.get("message") or f"PayPal answered {answer.status_code}"
        kind = PayPalUnavailable if answer.status_code >= 500 or answer.status_code == 409 else PayPalRefused
        raise kind(message, status=answer.status_code, name=payload.get("name"), issue=issue,
                   debug_id=payload.get("debug_id"))

    # --- Orders v2 ----------------------------------------------------------------------------------

    def create_order(self, *, intent: str, amount_minor: int, currency: str, custom_id: str, invoice_id: str,
                     description: str, return_url: str, cancel_url: str, request_id: str) -> Order:
        """An order for one purchase (intent AUTHORIZE or CAPTURE) the buyer approves at its approve link."""
        body = {"intent": intent,
                "purchase_units": [{"reference_id": "default", "amount": _amount(amount_minor, currency),
                                    "custom_id": custom_id, "invoice_id": invoice_id,
                                    "description": description[:127]}],
                "payment_source": {"paypal": {"experience_context": {
                    "return_url": return_url, "cancel_url": cancel_url, "user_action": "CONTINUE",
                    "shipping_preference": "NO_SHIPPING", "brand_name": "Lessonbook"}}}}
        answer = self._call("POST", "/v2/checkout/orders", body=body, request_id=request_id)
        approve = next((link["href"] for link in answer.get("links", []) if link.get("rel") in ("approve",
                                                                                                 "payer-action")), None)
        return Order(answer["id"], answer["status"], approve)

    def get_order(self, order_id: str) -> dict:
        """An order as PayPal holds it now (plain JSON)."""
        return self._call("GET", f"/v2/checkout/orders/{order_id}")

    def authorize_order(self, order_id: str, *, request_id: str) -> Authorization:
        """Authorize an approved AUTHORIZE order: the money is held, to capture later."""
        answer = self._call("POST", f"/v2/checkout/orders/{order_id}/authorize", body={}, request_id=request_id)
        return authorization_from(answer["purchase_units"][0]["payments"]["authorizations"][0])

    def capture_order(self, order_id: str, *, request_id: str) -> Capture:
        """Capture an approved CAPTURE order at once."""
        answer = self._call("POST", f"/v2/checkout/orders/{order_id}/capture", body={}, request_id=request_id)
        return capture_from(answer["purchase_units"][0]["payments"]["captures"][0])

    # --- Payments v2 --------------------------------------------------------------------------------

    def get_authorization(self, authorization_id: str) -> Authorization:
        """An authorization as PayPal holds it now."""
        return authorization_from(self._call("GET", f"/v2/payments/authorizations/{authorization_id}"))

    def capture_authorization(self, authorization_id: str, *, request_id: str,
                              invoice_id: str | None = None) -> Capture:
        """Capture an authorization in full (final capture)."""
        body: dict = {"final_capture": True}
        if invoice_id:
            body["invoice_id"] = invoice_id
        return capture_from(self._call("POST", f"/v2/payments/authorizations/{authorization_id}/capture", body=body,
                                   request_id=request_id))

    def void_authorization(self, authorization_id: str, *, request_id: str) -> None:
        """Release an authorization (PayPal answers 204)."""
        self._call("POST", f"/v2/payments/authorizations/{authorization_id}/void", request_id=request_id)

    def reauthorize(self, authorization_id: str, *, request_id: str) -> Authorization:
        """A fresh authorization (a NEW id, a new 3-day honor period) for the same amount, once, after day 3."""
        return authorization_from(self._call("POST", f"/v2/payments/authorizations/{authorization_id}/reauthorize",
                                         body={}, request_id=request_id))

    def get_capture(self, capture_id: str) -> Capture:
        """A capture as PayPal holds it now."""
        return capture_from(self._call("GET", f"/v2/payments/captures/{capture_id}"))

    def refund_capture(self, capture_id: str, *, amount_minor: int, currency: str, request_id: str,
                       invoice_id: str | None = None) -> Refund:
        """Refund part or all of a capture."""
        body: dict = {"amount": _amount(amount_minor, currency)}
        if invoice_id:
            body["invoice_id"] = invoice_id
        answer = self._call("POST", f"/v2/payments/captures/{capture_id}/refund", body=body, request_id=request_id)
        minor, cur = minor_amount(answer["amount"])
        return Refund(answer["id"], answer["status"], minor, cur)

    # --- webhooks -----------------------------------------------------------------------------------

    def verify_webhook(self, raw_body: bytes, headers) -> bool:
        """Ask PayPal whether a delivery is genuine (verify-webhook-signature). The event goes back byte for byte
        as it came, spliced into the request, because PayPal checks a CRC of those bytes."""
        names = {"auth_algo": "PAYPAL-AUTH-ALGO", "cert_url": "PAYPAL-CERT-URL",
                 "transmission_id": "PAYPAL-TRANSMISSION-ID", "transmission_sig": "PAYPAL-TRANSMISSION-SIG",
                 "transmission_time": "PAYPAL-TRANSMISSION-TIME"}
        fields = {key: headers.get(header) for key, header in names.items()}
        if not all(fields.values()) or not self.webhook_id:
            return False
        fields["webhook_id"] = self.webhook_id
        try:
            json.loads(raw_body)
        except ValueError:
            return False
        prefix = json.dumps(fields)[:-1]  # the object without its closing brace
        answer = self._call("POST", "/v1/notifications/verify-webhook-signature",
                            raw_body=prefix.encode() + b', "webhook_event": ' + raw_body + b"}")
        return (answer or {}).get("verification_status") == "SUCCESS"


def configured() -> bool:
    """Whether PayPal is set up for this app (credentials and a base URL)."""
    config = current_app.config
    return bool(config.get("PAYPAL_CLIENT_ID") and config.get("PAYPAL_CLIENT_SECRET") and
                config.get("PAYPAL_API_BASE"))


def client() -> PayPalClient:
    """The PayPalClient for the current app (cached on the app, so its access token is shared)."""
    app = current_app._get_current_object()
    cached = app.extensions.get("paypal_client")
    if cached is None:
        cached = PayPalClient(app.config["PAYPAL_API_BASE"], app.config["PAYPAL_CLIENT_ID"],
                              app.config["PAYPAL_CLIENT_SECRET"], app.config.get("PAYPAL_WEBHOOK_ID"),
                              timeout=app.config.get("PAYPAL_TIMEOUT_SECONDS", 15))
        app.extensions["paypal_client"] = cached
    return cached
