"""The PayPal stand-in speaks PayPal's wire format: OAuth2 tokens, Orders v2, Payments v2, signed webhooks."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from standins.paypal import canonical
from webapp.adapters.paypal import PayPalClient, PayPalRefused, PayPalUnavailable

BASIC = ("paypal_test_client", "paypal_test_secret")
RETURN = {"return_url": "https://shop.example.com/return?b=1", "cancel_url": "https://shop.example.com/cancel"}


def _token(paypal) -> dict:
    return {"Authorization": "Bearer " + requests.post(paypal.url + "/v1/oauth2/token", auth=BASIC,
                                                       data={"grant_type": "client_credentials"},
                                                       timeout=5).json()["access_token"]}


def _order(paypal, headers, intent="AUTHORIZE", value="42.50", **extra):
    body = {"intent": intent, "purchase_units": [{"amount": {"currency_code": "GBP", "value": value},
                                                  "custom_id": "booking:7", "invoice_id": "booking-7"}],
            "payment_source": {"paypal": {"experience_context": RETURN}}} | extra
    return requests.post(paypal.url + "/v2/checkout/orders", json=body, headers=headers, timeout=5)


def _approve(paypal, order_id) -> requests.Response:
    return requests.post(f"{paypal.url}/checkoutnow/{order_id}/approve", allow_redirects=False, timeout=5)


def _client(paypal) -> PayPalClient:
    return PayPalClient(paypal.url, *BASIC, webhook_id=paypal.webhook_id)


def test_client_credentials_give_a_bearer_token_and_wrong_ones_paypals_invalid_client(paypal):
    good = requests.post(paypal.url + "/v1/oauth2/token", auth=BASIC, data={"grant_type": "client_credentials"},
                         timeout=5)
    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer" and good.json()["expires_in"] > 0
    bad = requests.post(paypal.url + "/v1/oauth2/token", auth=("x", "y"), data={"grant_type": "client_credentials"},
                        timeout=5)
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_client",
                                                     "error_description": "Client Authentication failed"}
    no_token = requests.get(paypal.url + "/v2/checkout/orders/X", timeout=5)
    assert no_token.status_code == 401 and no_token.json()["name"] == "AUTHENTICATION_FAILURE"


def test_an_order_is_created_minimal_with_an_approve_link_and_the_same_request_id_answers_the_same_order(paypal):
    headers = _token(paypal) | {"PayPal-Request-Id": "booking:7:order"}
    first = _order(paypal, headers)
    assert first.status_code == 201
    body = first.json()
    assert set(body) == {"id", "status", "links"} and body["status"] == "CREATED"
    rels = {link["rel"]: link for link in body["links"]}
    assert rels["approve"]["href"] == f"{paypal.url}/checkoutnow?token={body['id']}"
    assert rels["authorize"]["method"] == "POST"
    assert _order(paypal, headers).json() == body and len(paypal.orders) == 1
    other = _order(paypal, headers | {"PayPal-Request-Id": "booking:8:order"})
    assert other.json()["id"] != body["id"] and len(paypal.orders) == 2
    full = requests.get(rels["self"]["href"], headers=headers, timeout=5).json()
    assert full["purchase_units"][0]["amount"] == {"currency_code": "GBP", "value": "42.50"}
    assert full["purchase_units"][0]["custom_id"] == "booking:7"


@pytest.mark.parametrize(("value", "issue"), [("42.5", "INVALID_PARAMETER_SYNTAX"), ("-1.00", "INVALID_PARAMETER_SYNTAX"),
                                              ("0.00", "CANNOT_BE_ZERO_OR_NEGATIVE")])
def test_bad_amounts_are_paypals_400_invalid_request_with_details(paypal, value, issue):
    answer = _order(paypal, _token(paypal), value=value)
    assert answer.status_code == 400
    body = answer.json()
    assert body["name"] == "INVALID_REQUEST" and body["debug_id"]
    assert body["details"][0]["issue"] == issue and body["details"][0]["field"].endswith("/amount/value")


def test_the_approval_page_approves_to_return_url_with_token_and_payer_id_or_cancels_to_cancel_url(paypal):
    headers = _token(paypal)
    order_id = _order(paypal, headers).json()["id"]
    page = requests.get(f"{paypal.url}/checkoutnow?token={order_id}", timeout=5)
    assert page.status_code == 200 and "42.50 GBP" in page.text and "Approve payment" in page.text
    approved = _approve(paypal, order_id)
    assert approved.status_code == 303
    assert approved.headers["Location"].startswith(f"https://shop.example.com/return?b=1&token={order_id}&PayerID=")
    assert paypal.orders[order_id]["status"] == "APPROVED"
    other = _order(paypal, headers).json()["id"]
    cancelled = requests.post(f"{paypal.url}/checkoutnow/{other}/cancel", allow_redirects=False, timeout=5)
    assert cancelled.headers["Location"] == f"https://shop.example.com/cancel?token={other}"
    assert paypal.orders[other]["status"] == "CREATED"


def test_authorize_needs_approval_then_holds_29_days_once(paypal):
    client = _client(paypal)
    order = client.create_order(intent="AUTHORIZE", amount_minor=4250, currency="GBP", custom_id="booking:7",
                                invoice_id="booking-7", description="Lesson", request_id="o1", **RETURN)
    with pytest.raises(PayPalRefused) as not_yet:
        client.authorize_order(order.id, request_id="a0")
    assert not_yet.value.status == 422 and not_yet.value.issue == "ORDER_NOT_APPROVED"
    _approve(paypal, order.id)
    auth = client.authorize_order(order.id, request_id="a1")
    assert auth.status == "CREATED" and auth.amount_minor == 4250 and auth.currency == "GBP"
    assert auth.custom_id == "booking:7" and (auth.expires_at - auth.created_at).days == 29
    assert client.authorize_order(order.id, request_id="a1") == auth  # same request id: the same answer
    with pytest.raises(PayPalRefused) as twice:
        client.authorize_order(order.id, request_id="a2")
    assert twice.value.issue == "ORDER_ALREADY_AUTHORIZED"


def test_a_payment_no_longer_available_links_back_to_the_merchants_cancel_url(paypal):
    client = _client(paypal)
    order = client.create_order(intent="AUTHORIZE", amount_minor=4250, currency="GBP", custom_id="booking:7",
                                invoice_id="booking-7", description="Lesson", request_id=None, **RETURN)
    _approve(paypal, order.id)
    client.authorize_order(order.id, request_id=None)
    back_link = f'href="https://shop.example.com/cancel?token={order.id}"'
    again = _approve(paypal, order.id)  # Back to PayPal's page after paying, and Approve again
    assert again.status_code == 410 and "This payment is no longer available" in again.text
    assert back_link in again.text and "Return to the merchant" in again.text
    page = requests.get(f"{paypal.url}/checkoutnow?token={order.id}", timeout=5)
    assert "This payment is no longer available" in page.text and back_link in page.text
    unknown = requests.get(f"{paypal.url}/checkoutnow?token=NOSUCHORDER", timeout=5)
    assert "This payment is no longer available" in unknown.text  # no order, so no merchant to link to


def _authorized(paypal, client, minor=4250):
    order = client.create_order(intent="AUTHORIZE", amount_minor=minor, currency="GBP", custom_id="booking:7",
                                invoice_id="booking-7", description="Lesson", request_id=None, **RETURN)
    _approve(paypal, order.id)
    return client.authorize_order(order.id, request_id=None)


def test_capture_then_refunds_up_to_what_was_captured(paypal):
    client = _client(paypal)
    auth = _authorized(paypal, client)
    capture = client.capture_authorization(auth.id, request_id="c1")
    assert capture.status == "COMPLETED" and capture.amount_minor == 4250 and capture.fee_minor > 0
    assert client.capture_authorization(auth.id, request_id="c1") == capture
    with pytest.raises(PayPalRefused) as again:
        client.capture_authorization(auth.id, request_id="c2")
    assert again.value.issue == "AUTHORIZATION_ALREADY_CAPTURED"
    with pytest.raises(PayPalRefused) as void:
        client.void_authorization(auth.id, request_id="v1")
    assert void.value.issue == "PREVIOUSLY_CAPTURED"
    part = client.refund_capture(capture.id, amount_minor=2000, currency="GBP", request_id="r1")
    assert part.amount_minor == 2000 and client.get_capture(capture.id).status == "PARTIALLY_REFUNDED"
    with pytest.raises(PayPalRefused) as too_much:
        client.refund_capture(capture.id, amount_minor=2251, currency="GBP", request_id="r2")
    assert too_much.value.issue == "REFUND_AMOUNT_EXCEEDED"
    client.refund_capture(capture.id, amount_minor=2250, currency="GBP", request_id="r3")
    assert client.get_capture(capture.id).status == "REFUNDED"


def test_void_answers_204_once_and_a_voided_authorization_cannot_be_captured(paypal):
    client = _client(paypal)
    auth = _authorized(paypal, client)
    assert client.void_authorization(auth.id, request_id="v1") is None
    assert client.get_authorization(auth.id).status == "VOIDED"
    with pytest.raises(PayPalRefused) as twice:
        client.void_authorization(auth.id, request_id="v2")
    assert twice.value.issue == "PREVIOUSLY_VOIDED"
    with pytest.raises(PayPalRefused) as capture:
        client.capture_authorization(auth.id, request_id="c1")
    assert capture.value.issue == "AUTHORIZATION_VOIDED"


def test_reauthorize_only_after_the_honor_period_gives_a_new_id_and_expiry_ends_it_at_29_days(paypal):
    client = _client(paypal)
    auth = _authorized(paypal, client)
    with pytest.raises(PayPalRefused) as early:
        client.reauthorize(auth.id, request_id="re0")
    assert early.value.issue == "CANNOT_REAUTH_INSIDE_HONOR_PERIOD"
    paypal.clock_offset = 4 * 86400
    fresh = client.reauthorize(auth.id, request_id="re1")
    assert fresh.id != auth.id and fresh.amount_minor == 4250 and fresh.expires_at == auth.expires_at
    with pytest.raises(PayPalRefused) as child_void:
        client.void_authorization(fresh.id, request_id="v0")
    assert child_void.value.issue == "CANNOT_BE_VOIDED"
    assert client.capture_authorization(fresh.id, request_id="c1").amount_minor == 4250
    late = _authorized(paypal, client)
    paypal.clock_offset += 29 * 86400 + 1
    assert client.get_authorization(late.id).status == "EXPIRED"
    with pytest.raises(PayPalRefused) as expired:
        client.capture_authorization(late.id, request_id="c2")
    assert expired.value.issue == "AUTHORIZATION_EXPIRED"


def test_a_capture_order_captures_at_once_and_intent_must_match(paypal):
    client = _client(paypal)
    order = client.create_order(intent="CAPTURE", amount_minor=10000, currency="GBP", custom_id="package:3",
                                invoice_id="package-3", description="5 hours", request_id="o1", **RETURN)
    _approve(paypal, order.id)
    with pytest.raises(PayPalRefused) as wrong:
        client.authorize_order(order.id, request_id="a1")
    assert wrong.value.issue == "ACTION_DOES_NOT_MATCH_INTENT"
    capture = client.capture_order(order.id, request_id="c1")
    assert capture.amount_minor == 10000 and capture.custom_id == "package:3"


def test_outages_are_unavailable_and_a_revoked_token_is_renewed_once(paypal):
    client = _client(paypal)
    client.get_order(client.create_order(intent="CAPTURE", amount_minor=100, currency="GBP", custom_id="x",
                                         invoice_id="x", description="x", request_id=None, **RETURN).id)
    paypal.tokens.clear()  # PayPal forgot our token: the client fetches another and goes on
    assert client.create_order(intent="CAPTURE", amount_minor=100, currency="GBP", custom_id="x", invoice_id="x",
                               description="x", request_id=None, **RETURN).status == "CREATED"
    paypal.fail_with = 503
    with pytest.raises(PayPalUnavailable):
        client.get_capture("X")


class _Receiver:
    """A webhook receiver on 127.0.0.1 that keeps each delivery's headers and raw body."""

    def __init__(self):
        self.deliveries: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((CaseInsensitiveDict(dict(self.headers)), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/paypal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_webhooks_are_delivered_signed_and_verify_success_only_when_untampered(paypal):
    receiver = _Receiver()
    paypal.webhook_url = receiver.url
    client = _client(paypal)
    auth = _authorized(paypal, client)
    client.void_authorization(auth.id, request_id="v1")
    assert paypal.wait_for_deliveries()
    types = [json.loads(body)["event_type"] for _, body in receiver.deliveries]
    assert types == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.AUTHORIZATION.CREATED", "PAYMENT.AUTHORIZATION.VOIDED"]
    headers, body = receiver.deliveries[1]
    assert headers["Paypal-Auth-Algo"] == "SHA256withRSA" and headers["Paypal-Cert-Url"] == paypal.cert_url
    assert requests.get(paypal.cert_url, timeout=5).text.startswith("-----BEGIN CERTIFICATE-----")
    event = json.loads(body)
    assert event["resource"]["id"] == auth.id and event["resource_type"] == "authorization"
    assert event["resource"]["supplementary_data"]["related_ids"]["order_id"]
    assert client.verify_webhook(body, headers) is True
    tampered = canonical(event | {"resource": event["resource"] | {"amount": {"currency_code": "GBP",
                                                                              "value": "1.00"}}})
    assert client.verify_webhook(tampered, headers) is False
    assert client.verify_webhook(body, CaseInsensitiveDict({**headers, "PAYPAL-TRANSMISSION-ID": "someone-else"})) is False
    assert client.verify_webhook(body, {}) is False
    receiver.server.shutdown()


def test_the_approval_page_names_its_own_icon_so_a_browser_never_asks_for_favicon(paypal):
    # Without one Chromium fetched /favicon.ico (a 404): an error in every approval page's console.
    order_id = _order(paypal, _token(paypal)).json()["id"]
    page = requests.get(f"{paypal.url}/checkoutnow?token={order_id}", timeout=5)
    assert page.status_code == 200 and '<link rel="icon" href="data:,">' in page.text
