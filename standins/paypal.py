"""A local stand-in for PayPal's REST API (OAuth2, Orders v2, Payments v2, webhooks), in PayPal's wire format.

PayPal has no installable server, so the PayPal adapter (`webapp/adapters/paypal.py`) is tested against this one, and
`make run` starts it when no `PAYPAL_CLIENT_ID` is configured. It implements exactly what the adapter uses:

- `POST /v1/oauth2/token` (HTTP Basic client id:secret, form `grant_type=client_credentials`) →
  {scope, access_token, token_type: "Bearer", app_id, expires_in, nonce}; bad credentials → 401
  {error: "invalid_client", error_description}. Every other call needs `Authorization: Bearer <token>`.
- `POST /v2/checkout/orders` {intent: AUTHORIZE|CAPTURE, purchase_units: [{amount: {currency_code, value}, custom_id?,
  invoice_id?, description?, reference_id?}], payment_source.paypal.experience_context or application_context
  {return_url, cancel_url, ...}} → 201 order {id, status: CREATED, links: self, approve, update, authorize|capture}
  (the whole order with `Prefer: return=representation`). `GET /v2/checkout/orders/{id}` → the order.
- The approval page `GET /checkoutnow?token=<order id>`: a server-rendered page with Approve and Cancel buttons (plain
  forms, no script). Approve marks the order APPROVED with a payer, sends CHECKOUT.ORDER.APPROVED and redirects to
  return_url with `token=<order id>&PayerID=<payer id>`; Cancel redirects to cancel_url with `token=<order id>`.
  An order no longer approvable (authorized, captured, voided) gets "This payment is no longer available" with a
  "Return to the merchant" link to its cancel_url with `token=<order id>` (410 after pressing a button).
- `POST /v2/checkout/orders/{id}/authorize` → 201 order COMPLETED with purchase_units[0].payments.authorizations[0]
  {id, status: CREATED, amount, custom_id, invoice_id, expiration_time (29 days), create_time, links};
  `POST /v2/checkout/orders/{id}/capture` → 201 with payments.captures[0] {id, status: COMPLETED, ...}.
- `GET /v2/payments/authorizations/{id}`; `POST .../capture` {amount?, final_capture?, invoice_id?} → 201 capture;
  `POST .../void` → 204; `POST .../reauthorize` {amount?} → 201 a NEW authorization (new id, new 3-day honor period),
  allowed once, only after the honor period and within 29 days of the original.
- `GET /v2/payments/captures/{id}`; `POST /v2/payments/captures/{id}/refund` {amount?, invoice_id?, note_to_payer?}
  → 201 refund {id, status: COMPLETED, amount, links}; `GET /v2/payments/refunds/{id}`.
- `POST /v1/notifications/verify-webhook-signature` {auth_algo, cert_url, transmission_id, transmission_sig,
  transmission_time, webhook_id, webhook_event} → {verification_status: SUCCESS|FAILURE}.
- Errors are PayPal's {name, message, debug_id, details: [{field?, location?, issue, description}], links}: 400
  INVALID_REQUEST, 401 AUTHENTICATION_FAILURE, 404 RESOURCE_NOT_FOUND, 422 UNPROCESSABLE_ENTITY with PayPal's
  issue names (ORDER_NOT_APPROVED, ORDER_ALREADY_AUTHORIZED, AUTHORIZATION_VOIDED, AUTHORIZATION_EXPIRED,
  AUTHORIZATION_ALREADY_CAPTURED, PREVIOUSLY_CAPTURED, PREVIOUSLY_VOIDED, CANNOT_BE_VOIDED, REFUND_AMOUNT_EXCEEDED…).
- `PayPal-Request-Id` on a POST makes it idempotent: the same id on the same path answers the first answer again.

Webhooks: with a webhook URL and id configured, every event (CHECKOUT.ORDER.APPROVED, PAYMENT.AUTHORIZATION.CREATED,
PAYMENT.AUTHORIZATION.VOIDED, PAYMENT.CAPTURE.COMPLETED, PAYMENT.CAPTURE.REFUNDED) is POSTed there from a background
thread with PayPal's headers PAYPAL-TRANSMISSION-ID/-TIME/-SIG, PAYPAL-CERT-URL and PAYPAL-AUTH-ALGO
(SHA256withRSA over `<transmission id>|<transmission time>|<webhook id>|<CRC32 of the body>`, as PayPal signs, with a
key whose certificate is served at the cert URL), retried until the receiver answers 2xx.

Run it:      python -m standins.paypal --port 8424 [--webhook-url URL --webhook-id ID]
Or import:   paypal = PayPalStandIn(); paypal.url; paypal.orders / authorizations / captures / refunds / events;
             paypal.requests; paypal.clock_offset (seconds); paypal.fail_with = 503; paypal.deliver(event_id);
             paypal.wait_for_deliveries(); paypal.close()
"""
from __future__ import annotations

import argparse
import base64
import copy
import html
import json
import queue
import re
import secrets
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

AUTHORIZATION_DAYS = 29  # an authorization can be captured for 29 days
HONOR_PERIOD_DAYS = 3  # funds are guaranteed for the first 3; reauthorize after that to be sure of them
TOKEN_SECONDS = 32400
ID_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
CURRENCY = re.compile(r"^[A-Z]{3}$")
VALUE = re.compile(r"^\d{1,10}(\.\d{2})?$")
ZERO_DECIMAL = {"JPY", "HUF", "TWD"}
RESOURCE_TYPES = {"CHECKOUT.ORDER.APPROVED": "checkout-order", "PAYMENT.AUTHORIZATION.CREATED": "authorization",
                  "PAYMENT.AUTHORIZATION.VOIDED": "authorization", "PAYMENT.CAPTURE.COMPLETED": "capture",
                  "PAYMENT.CAPTURE.REFUNDED": "refund", "PAYMENT.CAPTURE.DENIED": "capture"}


class PayPalError(Exception):
    """An error answer: HTTP status, PayPal's error `name`, `message` and `details`."""

    def __init__(self, status: int, name: str, message: str, details: list[dict] | None = None):
        super().__init__(message)
        self.status, self.name, self.message, self.details = status, name, message, details or []

    def body(self) -> dict:
        body = {"name": self.name, "message": self.message, "debug_id": secrets.token_hex(6)}
        if self.details:
            body["details"] = self.details
        body["links"] = [{"href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{self.name}",
                          "rel": "information_link"}]
        return body


def _unprocessable(issue: str, description: str) -> PayPalError:
    return PayPalError(422, "UNPROCESSABLE_ENTITY",
                       "The requested action could not be performed, semantically incorrect, or failed business "
                       "validation.", [{"issue": issue, "description": description}])


def _invalid(field: str, issue: str, description: str, location: str = "body") -> PayPalError:
    return PayPalError(400, "INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates "
                       "schema.", [{"field": field, "location": location, "issue": issue, "description": description}])


def _not_found(what: str) -> PayPalError:
    return PayPalError(404, "RESOURCE_NOT_FOUND", "The specified resource does not exist.",
                       [{"issue": "INVALID_RESOURCE_ID", "description": f"Specified resource ID does not exist. "
                         f"Please check the resource ID and try again. ({what})"}])


def _new_id(length: int = 17) -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cents(amount: dict) -> int:
    return int((Decimal(amount["value"]) * (1 if amount["currency_code"] in ZERO_DECIMAL else 100)).to_integral())


def _value(minor: int, currency: str) -> str:
    return str(minor) if currency in ZERO_DECIMAL else f"{minor // 100}.{minor % 100:02d}"


def _with_query(url: str, params: dict) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def canonical(event: dict) -> bytes:
    """The bytes of an event as delivered (and as re-serialized to check a signature over it)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


class PayPalStandIn:
    """The server in a background thread, with its state in plain dicts the tests can read."""

    def __init__(self, client_id: str = "paypal_test_client", client_secret: str = "paypal_test_secret",
                 port: int = 0, webhook_url: str | None = None, webhook_id: str = "WH0LOCALSTANDIN0001"):
        self.client_id, self.client_secret = client_id, client_secret
        self.webhook_url, self.webhook_id = webhook_url, webhook_id
        self.orders: dict[str, dict] = {}
        self.authorizations: dict[str, dict] = {}
        self.captures: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.events: dict[str, dict] = {}  # event id → event
        self.delivered: list[str] = []  # event ids, in delivery order
        self.requests: list[dict] = []
        self.tokens: dict[str, float] = {}  # access token → expiry (epoch seconds)
        self.fail_with: int | None = None  # answer every API request with this status (500, 503…) instead
        self.clock_offset = 0.0  # seconds added to the clock (authorizations expire, honor periods end)
        self._idempotent: dict[tuple[str, str], tuple[int, dict | None]] = {}
        self._lock = threading.RLock()
        self._key = _signing_key()
        self._cert_pem = self._certificate()
        self._outbox: queue.Queue[str | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                stand_in.requests.append({"method": self.command, "path": split.path, "body": raw.decode(errors="replace"),
                                          "headers": dict(self.headers)})
                if self.command == "GET" and split.path == "/checkoutnow":
                    return self._html(200, stand_in.approval_page(parse_qs(split.query).get("token", [""])[0]))
                if self.command == "GET" and split.path == "/certs/paypal-standin.pem":
                    return self._send(200, stand_in._cert_pem, "application/x-pem-file")
                if self.command == "GET" and not split.path.startswith(("/v1/", "/v2/")):
                    return self._html(404, _page("PayPal", "<h1>Not found</h1>"))  # a browser's /favicon.ico
                if self.command == "POST" and split.path.startswith("/checkoutnow/"):
                    status, location, page = stand_in.decide(split.path, raw)
                    if location:
                        self.send_response(303)
                        self.send_header("Location", location)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    return self._html(status, page)
                try:
                    status, body = stand_in.answer(self.command, split.path, self.headers, raw)
                except PayPalError as exc:
                    status, body = exc.status, exc.body()
                if status == 204:
                    self.send_response(204)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                return self._send(status, json.dumps(body).encode(), "application/json")

            def _html(self, status: int, page: str):
                self._send(status, page.encode(), "text/html; charset=utf-8")

            def _send(self, status: int, data: bytes, content_type: str):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Paypal-Debug-Id", secrets.token_hex(6))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = _handle  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.cert_url = f"{self.url}/certs/paypal-standin.pem"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self._sender = threading.Thread(target=self._deliver_loop, daemon=True)
        self._sender.start()

    # --- test controls ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and delivering."""
        self._outbox.put(None)
        self.server.shutdown()
        self.server.server_close()

    def forget(self, order_id: str) -> None:
        """Lose an order and everything under it, as after a restart of this stand-in (or PayPal purging an
        expired authorization): every later call naming them is answered 404 RESOURCE_NOT_FOUND."""
        with self._lock:
            self.orders.pop(order_id, None)
            for store in (self.authorizations, self.captures):
                for key in [k for k, v in store.items()
                            if (v.get("supplementary_data") or {}).get("related_ids", {}).get("order_id") == order_id]:
                    store.pop(key)

    def now(self) -> float:
        """The stand-in's clock (the real one plus `clock_offset`)."""
        return time.time() + self.clock_offset

    def deliver(self, event_id: str) -> None:
        """Queue an event's delivery again (PayPal resends; tests replay)."""
        with self._idle:
            self._pending += 1
        self._outbox.put(event_id)

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        """Block until every queued delivery was answered 2xx or given up (True if all done)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def event_types(self) -> list[str]:
        """The event types created so far, in order."""
        with self._lock:
            return [event["event_type"] for event in self.events.values()]

    # --- the API ------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers, raw: bytes) -> tuple[int, dict | None]:
        """One API request → (status, body); raises PayPalError for PayPal's error answers."""
        if self.fail_with:
            raise PayPalError(self.fail_with, "INTERNAL_SERVER_ERROR",
                              "An internal server error has occurred.")
        if method == "POST" and path == "/v1/oauth2/token":
            return self._token(headers.get("Authorization"), raw)
        self._authenticate(headers.get("Authorization"))
        request_id = headers.get("PayPal-Request-Id") if method == "POST" else None
        with self._lock:
            if request_id and (path, request_id) in self._idempotent:
                return copy.deepcopy(self._idempotent[(path, request_id)])
            status, body = self._route(method, path, headers, raw)
            if request_id:
                self._idempotent[(path, request_id)] = copy.deepcopy((status, body))
            return status, body

    def _route(self, method: str, path: str, headers, raw: bytes) -> tuple[int, dict | None]:
        parts = [p for p in path.split("/") if p]
        if method == "POST" and path == "/v1/notifications/verify-webhook-signature":
            return 200, {"verification_status": self._verify(self._json(raw))}
        if parts[:3] == ["v2", "checkout", "orders"]:
            if method == "POST" and len(parts) == 3:
                order = self._create_order(self._json(raw))
                minimal = "return=representation" not in (headers.get("Prefer") or "")
                return 201, ({"id": order["id"], "status": order["status"], "links": order["links"]} if minimal
                             else order)
            if len(parts) >= 4:
                order = self.orders.get(parts[3]) or self._raise(_not_found(parts[3]))
                if method == "GET" and len(parts) == 4:
                    return 200, self._order_view(order)
                if method == "POST" and len(parts) == 5 and parts[4] in ("authorize", "capture"):
                    self._json(raw, allow_empty=True)
                    return 201, self._complete_order(order, parts[4])
        if parts[:2] == ["v2", "payments"] and len(parts) >= 4:
            kind, object_id = parts[2], parts[3]
            if kind == "authorizations":
                auth = self.authorizations.get(object_id) or self._raise(_not_found(object_id))
                self._expire(auth)
                if method == "GET" and len(parts) == 4:
                    return 200, auth
                if method == "POST" and len(parts) == 5:
                    body = self._json(raw, allow_empty=True)
                    if parts[4] == "capture":
                        return 201, self._capture_authorization(auth, body)
                    if parts[4] == "void":
                        self._void(auth)
                        return 204, None
                    if parts[4] == "reauthorize":
                        return 201, self._reauthorize(auth, body)
            if kind == "captures":
                capture = self.captures.get(object_id) or self._raise(_not_found(object_id))
                if method == "GET" and len(parts) == 4:
                    return 200, capture
                if method == "POST" and len(parts) == 5 and parts[4] == "refund":
                    return 201, self._refund(capture, self._json(raw, allow_empty=True))
            if kind == "refunds" and method == "GET" and len(parts) == 4:
                return 200, self.refunds.get(object_id) or self._raise(_not_found(object_id))
        raise PayPalError(404, "NOT_FOUND", f"No route for {method} {path}.")

    @staticmethod
    def _raise(exc: PayPalError):
        raise exc

    def _token(self, authorization: str | None, raw: bytes) -> tuple[int, dict]:
        form = parse_qs(raw.decode(errors="replace"))
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if authorization != expected:
            raise _OAuthError()
        if form.get("grant_type") != ["client_credentials"]:
            return 400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"}
        token = "A21AA" + secrets.token_urlsafe(40)
        with self._lock:
            self.tokens[token] = self.now() + TOKEN_SECONDS
        return 200, {"scope": "https://uri.paypal.com/services/payments/payment https://uri.paypal.com/services/"
                     "applications/webhooks", "access_token": token, "token_type": "Bearer",
                     "app_id": "APP-LOCALSTANDIN", "expires_in": TOKEN_SECONDS, "nonce": _stamp(self.now()) + _new_id(8)}

    def _authenticate(self, authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not authorization.startswith("Bearer ") or self.tokens.get(token, 0) < self.now():
            raise PayPalError(401, "AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication "
                              "credentials or a missing Authorization header.")

    @staticmethod
    def _json(raw: bytes, allow_empty: bool = False) -> dict:
        if not raw.strip():
            if allow_empty:
                return {}
            raise _invalid("/", "MISSING_REQUEST_BODY", "Request body is missing.")
        try:
            body = json.loads(raw)
        except ValueError:
            raise _invalid("/", "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.") from None
        if not isinstance(body, dict):
            raise _invalid("/", "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
        return body

    @staticmethod
    def _amount(amount, field: str) -> dict:
        if not isinstance(amount, dict):
            raise _invalid(field, "MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing.")
        currency, value = amount.get("currency_code"), amount.get("value")
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            raise _invalid(f"{field}/currency_code", "INVALID_PARAMETER_VALUE",
                           "The value of a field is invalid.")
        if not isinstance(value, str) or not VALUE.match(value):
            raise _invalid(f"{field}/value", "INVALID_PARAMETER_SYNTAX",
                           "The value of a field does not conform to the expected format.")
        if currency in ZERO_DECIMAL and "." in value:
            raise _invalid(f"{field}/value", "DECIMAL_PRECISION",
                           "If the currency supports decimals, only two decimal place precision is supported.")
        try:
            if Decimal(value) <= 0:
                raise _invalid(f"{field}/value", "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        except InvalidOperation:
            raise _invalid(f"{field}/value", "INVALID_PARAMETER_SYNTAX", "Not a number.") from None
        return {"currency_code": currency, "value": value}

    def _create_order(self, body: dict) -> dict:
        intent = body.get("intent")
        if intent not in ("AUTHORIZE", "CAPTURE"):
            raise _invalid("/intent", "INVALID_PARAMETER_VALUE", "The value of a field is invalid.")
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1 or not isinstance(units[0], dict):
            raise _invalid("/purchase_units", "INVALID_ARRAY_MAX_ITEMS",
                           "The number of items in an array parameter is too large (this stand-in takes one).")
        unit = units[0]
        stored = {"reference_id": unit.get("reference_id", "default"),
                  "amount": self._amount(unit.get("amount"), "/purchase_units/@reference_id=='default'/amount")}
        for name in ("custom_id", "invoice_id", "description"):
            if name in unit:
                if not isinstance(unit[name], str) or len(unit[name]) > 127:
                    raise _invalid(f"/purchase_units/@reference_id=='default'/{name}", "INVALID_STRING_LENGTH",
                                   "The value of a field is either too short or too long.")
                stored[name] = unit[name]
        context = ((body.get("payment_source") or {}).get("paypal") or {}).get("experience_context") \
            or body.get("application_context") or {}
        for name in ("return_url", "cancel_url"):
            if not isinstance(context.get(name), str) or not context[name].startswith(("http://", "https://")):
                raise _invalid(f"/payment_source/paypal/experience_context/{name}", "MISSING_REQUIRED_PARAMETER",
                               "return_url and cancel_url are required for the redirect approval flow.")
        order_id = _new_id()
        now = self.now()
        api = f"{self.url}/v2/checkout/orders/{order_id}"
        order = {"id": order_id, "intent": intent, "status": "CREATED", "purchase_units": [stored],
                 "create_time": _stamp(now),
                 "links": [{"href": api, "rel": "self", "method": "GET"},
                           {"href": f"{self.url}/checkoutnow?token={order_id}", "rel": "approve", "method": "GET"},
                           {"href": api, "rel": "update", "method": "PATCH"},
                           {"href": f"{api}/{intent.lower()}", "rel": intent.lower(), "method": "POST"}],
                 "_return_url": context["return_url"], "_cancel_url": context["cancel_url"]}
        self.orders[order_id] = order
        return self._order_view(order)

    @staticmethod
    def _order_view(order: dict) -> dict:
        return copy.deepcopy({k: v for k, v in order.items() if not k.startswith("_")})

    def _complete_order(self, order: dict, action: str) -> dict:
        if order["intent"].lower() != action:
            raise _unprocessable("ACTION_DOES_NOT_MATCH_INTENT", f"Order was created with an intent to "
                                 f"'{order['intent']}'. Please use /{order['intent'].lower()} instead.")
        if order["status"] == "COMPLETED":
            issue = "ORDER_ALREADY_AUTHORIZED" if action == "authorize" else "ORDER_ALREADY_CAPTURED"
            raise _unprocessable(issue, "Order already " + ("authorized." if action == "authorize" else "captured."))
        if order["status"] != "APPROVED":
            raise _unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
        unit = order["purchase_units"][0]
        now = self.now()
        if action == "authorize":
            auth = self._new_authorization(order["id"], unit["amount"], unit, now)
            unit["payments"] = {"authorizations": [auth]}
            self._emit("PAYMENT.AUTHORIZATION.CREATED", auth, f"Payment authorization for "
                       f"{unit['amount']['value']} {unit['amount']['currency_code']}")
        else:
            capture = self._new_capture(order["id"], None, unit["amount"], unit, now)
            unit["payments"] = {"captures": [capture]}
            self._emit("PAYMENT.CAPTURE.COMPLETED", capture, "Payment completed")
        order["status"] = "COMPLETED"
        order["update_time"] = _stamp(now)
        return self._order_view(order)

    def _new_authorization(self, order_id: str, amount: dict, unit: dict, now: float,
                           expires: float | None = None) -> dict:
        auth_id = _new_id()
        api = f"{self.url}/v2/payments/authorizations/{auth_id}"
        auth = {"id": auth_id, "status": "CREATED", "amount": dict(amount),
                "expiration_time": _stamp(expires or now + AUTHORIZATION_DAYS * 86400),
                "create_time": _stamp(now), "update_time": _stamp(now),
                "supplementary_data": {"related_ids": {"order_id": order_id}},
                "links": [{"href": api, "rel": "self", "method": "GET"},
                          {"href": f"{api}/capture", "rel": "capture", "method": "POST"},
                          {"href": f"{api}/void", "rel": "void", "method": "POST"},
                          {"href": f"{api}/reauthorize", "rel": "reauthorize", "method": "POST"},
                          {"href": f"{self.url}/v2/checkout/orders/{order_id}", "rel": "up", "method": "GET"}]}
        for name in ("custom_id", "invoice_id"):
            if name in unit:
                auth[name] = unit[name]
        self.authorizations[auth_id] = auth
        return copy.deepcopy(auth)

    def _new_capture(self, order_id: str, auth_id: str | None, amount: dict, unit: dict, now: float,
                     final: bool = True) -> dict:
        capture_id = _new_id()
        api = f"{self.url}/v2/payments/captures/{capture_id}"
        fee = max(1, round(_cents(amount) * 0.0349) + 49)
        related = {"order_id": order_id} | ({"authorization_id": auth_id} if auth_id else {})
        capture = {"id": capture_id, "status": "COMPLETED", "amount": dict(amount), "final_capture": final,
                   "seller_protection": {"status": "ELIGIBLE"},
                   "seller_receivable_breakdown": {
                       "gross_amount": dict(amount),
                       "paypal_fee": {"currency_code": amount["currency_code"],
                                      "value": _value(fee, amount["currency_code"])},
                       "net_amount": {"currency_code": amount["currency_code"],
                                      "value": _value(_cents(amount) - fee, amount["currency_code"])}},
                   "create_time": _stamp(now), "update_time": _stamp(now),
                   "supplementary_data": {"related_ids": related},
                   "links": [{"href": api, "rel": "self", "method": "GET"},
                             {"href": f"{api}/refund", "rel": "refund", "method": "POST"}]}
        for name in ("custom_id", "invoice_id"):
            if name in unit:
                capture[name] = unit[name]
        self.captures[capture_id] = capture
        return copy.deepcopy(capture)

    def _expire(self, auth: dict) -> None:
        if auth["status"] in ("CREATED", "PENDING") and \
                datetime.strptime(auth["expiration_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() \
                <= self.now():
            auth["status"] = "EXPIRED"

    def _usable(self, auth: dict, verb: str) -> None:
        if auth["status"] == "VOIDED":
            raise _unprocessable("AUTHORIZATION_VOIDED", f"A voided authorization cannot be {verb}.")
        if auth["status"] == "EXPIRED":
            raise _unprocessable("AUTHORIZATION_EXPIRED", f"An expired authorization cannot be {verb}.")
        if auth["status"] in ("CAPTURED", "PARTIALLY_CAPTURED"):
            raise _unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has been previously captured.")

    def _capture_authorization(self, auth: dict, body: dict) -> dict:
        self._usable(auth, "captured")
        amount = self._amount(body["amount"], "/amount") if "amount" in body else auth["amount"]
        if amount["currency_code"] != auth["amount"]["currency_code"] or _cents(amount) > _cents(auth["amount"]):
            raise _unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.")
        order_id = auth["supplementary_data"]["related_ids"]["order_id"]
        unit = dict(auth) | ({"invoice_id": body["invoice_id"]} if isinstance(body.get("invoice_id"), str) else {})
        now = self.now()
        capture = self._new_capture(order_id, auth["id"], amount, unit, now, final=body.get("final_capture", True))
        auth["status"] = "CAPTURED" if _cents(amount) == _cents(auth["amount"]) else "PARTIALLY_CAPTURED"
        auth["update_time"] = _stamp(now)
        self._emit("PAYMENT.CAPTURE.COMPLETED", capture, "Payment completed")
        return capture

    def _void(self, auth: dict) -> None:
        if auth.get("_parent"):
            raise _unprocessable("CANNOT_BE_VOIDED", "A reauthorization cannot be voided. Please void the original "
                                 "parent authorization.")
        if auth["status"] == "VOIDED":
            raise _unprocessable("PREVIOUSLY_VOIDED", "Authorization has been previously voided and hence cannot "
                                 "be voided again.")
        if auth["status"] in ("CAPTURED", "PARTIALLY_CAPTURED"):
            raise _unprocessable("PREVIOUSLY_CAPTURED", "Authorization has been previously captured and hence "
                                 "cannot be voided.")
        self._usable(auth, "voided")
        now = self.now()
        for candidate in [auth] + [a for a in self.authorizations.values() if a.get("_parent") == auth["id"]]:
            if candidate["status"] in ("CREATED", "PENDING"):
                candidate["status"] = "VOIDED"
                candidate["update_time"] = _stamp(now)
                self._emit("PAYMENT.AUTHORIZATION.VOIDED", candidate, "A payment authorization was voided")

    def _reauthorize(self, auth: dict, body: dict) -> dict:
        self._usable(auth, "reauthorized")
        if auth.get("_parent") or auth.get("_reauthorized"):
            raise _unprocessable("REAUTHORIZATION_NOT_ALLOWED", "An authorization can be reauthorized only once.")
        created = datetime.strptime(auth["create_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        if self.now() < created + HONOR_PERIOD_DAYS * 86400:
            raise _unprocessable("CANNOT_REAUTH_INSIDE_HONOR_PERIOD",
                                 "Reauthorization is not allowed within the honor period.")
        amount = self._amount(body["amount"], "/amount") if "amount" in body else auth["amount"]
        if amount["currency_code"] != auth["amount"]["currency_code"] or \
                _cents(amount) > _cents(auth["amount"]) * 115 // 100:
            raise _unprocessable("MAX_AUTHORIZATION_COUNT_EXCEEDED", "Reauthorization amount exceeds the allowable "
                                 "limit (115% of the original).")
        order_id = auth["supplementary_data"]["related_ids"]["order_id"]
        expires = datetime.strptime(auth["expiration_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        fresh = self._new_authorization(order_id, amount, auth, self.now(), expires=expires)
        self.authorizations[fresh["id"]]["_parent"] = auth["id"]
        auth["_reauthorized"] = fresh["id"]
        self._emit("PAYMENT.AUTHORIZATION.CREATED", fresh, "Payment reauthorized")
        return fresh

    def _refund(self, capture: dict, body: dict) -> dict:
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.")
        refunded = sum(_cents(r["amount"]) for r in self.refunds.values() if r["_capture"] == capture["id"])
        left = _cents(capture["amount"]) - refunded
        currency = capture["amount"]["currency_code"]
        amount = self._amount(body["amount"], "/amount") if "amount" in body else \
            {"currency_code": currency, "value": _value(left, currency)}
        if amount["currency_code"] != currency:
            raise _unprocessable("REFUND_CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
        if _cents(amount) > left:
            raise _unprocessable("REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the "
                                 "capture amount that has not yet been refunded.")
        refund_id = _new_id()
        now = self.now()
        refund = {"id": refund_id, "status": "COMPLETED", "amount": amount, "create_time": _stamp(now),
                  "update_time": _stamp(now), "_capture": capture["id"],
                  "links": [{"href": f"{self.url}/v2/payments/refunds/{refund_id}", "rel": "self", "method": "GET"},
                            {"href": f"{self.url}/v2/payments/captures/{capture['id']}", "rel": "up",
                             "method": "GET"}]}
        for name in ("invoice_id", "note_to_payer"):
            if isinstance(body.get(name), str):
                refund[name] = body[name]
        if "custom_id" in capture:
            refund["custom_id"] = capture["custom_id"]
        self.refunds[refund_id] = refund
        capture["status"] = "REFUNDED" if refunded + _cents(amount) == _cents(capture["amount"]) \
            else "PARTIALLY_REFUNDED"
        capture["update_time"] = _stamp(now)
        view = {k: v for k, v in refund.items() if not k.startswith("_")}
        self._emit("PAYMENT.CAPTURE.REFUNDED", view, "A capture payment was refunded")
        return copy.deepcopy(view)

    # --- the approval page --------------------------------------------------------------------------

    def approval_page(self, order_id: str) -> str:
        """The buyer's page: what is being paid for and two buttons (plain forms, so no script is needed)."""
        with self._lock:
            order = self.orders.get(order_id)
        if order is None or order["status"] not in ("CREATED", "APPROVED"):
            return _gone(order)
        unit = order["purchase_units"][0]
        what = html.escape(unit.get("description") or "Your purchase")
        amount = f"{html.escape(unit['amount']['value'])} {html.escape(unit['amount']['currency_code'])}"
        action = f"/checkoutnow/{html.escape(order_id)}"
        return _page("Pay with PayPal", f"""<h1>Pay with PayPal</h1>
<p class="what">{what}</p><p class="amount">Total <strong>{amount}</strong></p>
<p>Signed in as buyer@example.com (local PayPal stand-in)</p>
<form method="post" action="{action}/approve"><button type="submit" id="approve">Approve payment</button></form>
<form method="post" action="{action}/cancel"><button type="submit" id="cancel">Cancel and return to merchant</button>
</form>""")

    def decide(self, path: str, raw: bytes) -> tuple[int, str | None, str]:
        """Approve or Cancel pressed on the approval page → (status, redirect location or None, page)."""
        parts = [p for p in path.split("/") if p]
        if len(parts) != 3 or parts[2] not in ("approve", "cancel"):
            return 404, None, _page("PayPal", "<h1>Not found</h1>")
        with self._lock:
            order = self.orders.get(parts[1])
            if order is None or order["status"] not in ("CREATED", "APPROVED"):
                return 410, None, _gone(order)
            if parts[2] == "cancel":
                return 303, _with_query(order["_cancel_url"], {"token": order["id"]}), ""
            if order["status"] == "CREATED":
                order["status"] = "APPROVED"
                order["payer"] = {"name": {"given_name": "Local", "surname": "Buyer"},
                                  "email_address": "buyer@example.com", "payer_id": "LOCALBUYER" + _new_id(3)}
                order["update_time"] = _stamp(self.now())
                self._emit("CHECKOUT.ORDER.APPROVED", self._order_view(order), "An order has been approved by buyer")
            return 303, _with_query(order["_return_url"], {"token": order["id"],
                                                           "PayerID": order["payer"]["payer_id"]}), ""

    # --- webhooks -----------------------------------------------------------------------------------

    def _certificate(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.standin")])
        now = datetime.now(UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                .not_valid_after(now + timedelta(days=365)).sign(self._key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    def _emit(self, event_type: str, resource: dict, summary: str) -> None:
        event_id = "WH-" + _new_id(8) + "-" + _new_id(17)
        event = {"id": event_id, "event_version": "1.0", "create_time": _stamp(self.now()),
                 "resource_type": RESOURCE_TYPES[event_type], "resource_version": "2.0", "event_type": event_type,
                 "summary": summary, "resource": copy.deepcopy(resource),
                 "links": [{"href": f"{self.url}/v1/notifications/webhooks-events/{event_id}", "rel": "self",
                            "method": "GET"}]}
        with self._lock:
            self.events[event_id] = event
        if self.webhook_url:
            self.deliver(event_id)

    def signed_headers(self, body: bytes, transmission_id: str | None = None) -> dict[str, str]:
        """PayPal's delivery headers for these bytes, signed with the stand-in's key."""
        transmission_id = transmission_id or secrets.token_hex(16)
        transmission_time = _stamp(self.now())
        message = f"{transmission_id}|{transmission_time}|{self.webhook_id}|{zlib.crc32(body)}".encode()
        signature = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return {"Content-Type": "application/json", "PAYPAL-TRANSMISSION-ID": transmission_id,
                "PAYPAL-TRANSMISSION-TIME": transmission_time,
                "PAYPAL-TRANSMISSION-SIG": base64.b64encode(signature).decode(),
                "PAYPAL-CERT-URL": self.cert_url, "PAYPAL-AUTH-ALGO": "SHA256withRSA",
                "User-Agent": "PayPal/AUHD-214.0-58843029"}

    def _verify(self, body: dict) -> str:
        required = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
                    "webhook_id", "webhook_event")
        for name in required:
            if name not in body:
                raise _invalid(f"/{name}", "MISSING_REQUIRED_PARAMETER", "A required field is missing.")
        if not isinstance(body["webhook_event"], dict) or body["auth_algo"] != "SHA256withRSA" or \
                body["cert_url"] != self.cert_url or body["webhook_id"] != self.webhook_id:
            return "FAILURE"
        message = (f"{body['transmission_id']}|{body['transmission_time']}|{body['webhook_id']}|"
                   f"{zlib.crc32(canonical(body['webhook_event']))}").encode()
        try:
            self._key.public_key().verify(base64.b64decode(str(body["transmission_sig"])), message,
                                          padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return "FAILURE"
        return "SUCCESS"

    def _deliver_loop(self) -> None:
        while (event_id := self._outbox.get()) is not None:
            try:
                with self._lock:
                    event = copy.deepcopy(self.events.get(event_id))
                body = canonical(event)
                for attempt in range(8):  # PayPal retries for days; a local loop a few times, briefly
                    try:
                        answer = requests.post(self.webhook_url, data=body, headers=self.signed_headers(body),
                                               timeout=10)
                        if 200 <= answer.status_code < 300:
                            self.delivered.append(event_id)
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(min(0.2 * 2 ** attempt, 5))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()


_KEYS: list = []


def _signing_key():
    """One RSA key per process (making one takes a moment; every stand-in in a test run can share it)."""
    if not _KEYS:
        _KEYS.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEYS[0]


class _OAuthError(PayPalError):
    """The token endpoint's own error shape ({error, error_description}), not the REST one."""

    def __init__(self):
        super().__init__(401, "invalid_client", "Client Authentication failed")

    def body(self) -> dict:
        return {"error": "invalid_client", "error_description": "Client Authentication failed"}


def _gone(order: dict | None) -> str:
    """PayPal's page for an order that can no longer be approved (paid, voided or unknown); like PayPal's "Return to
    merchant", its link goes to the order's cancel_url with `token`, which a merchant answers without charging."""
    back = ""
    if order is not None:
        href = html.escape(_with_query(order["_cancel_url"], {"token": order["id"]}))
        back = f'<p><a href="{href}" id="return-to-merchant">Return to the merchant</a></p>'
    return _page("PayPal", "<h1>This payment is no longer available</h1><p>Return to the merchant's site and "
                 f"try again.</p>{back}")


def _page(title: str, content: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{html.escape(title)}</title></head>
<body><main>{content}</main></body></html>"""


def main(argv: list[str] | None = None) -> None:
    """Run the stand-in until interrupted."""
    parser = argparse.ArgumentParser(description="Local PayPal-compatible REST API (Orders v2, Payments v2, "
                                     "webhooks) with an approval page, on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8424)
    parser.add_argument("--client-id", default="paypal_local_client")
    parser.add_argument("--client-secret", default="paypal_local_secret")
    parser.add_argument("--webhook-url", help="deliver every event here, signed")
    parser.add_argument("--webhook-id", default="WH0LOCALSTANDIN0001")
    args = parser.parse_args(argv)
    stand_in = PayPalStandIn(client_id=args.client_id, client_secret=args.client_secret, port=args.port,
                             webhook_url=args.webhook_url, webhook_id=args.webhook_id)
    print(f"local PayPal API on {stand_in.url}", flush=True)
    try:
        stand_in.thread.join()
    except KeyboardInterrupt:
        stand_in.close()


if __name__ == "__main__":
    main()
