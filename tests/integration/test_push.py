"""Web Push: browsers subscribe, the outbox encrypts and signs each message for a local push service, which the
test decrypts with the browser's own keys; gone subscriptions are forgotten and failures retried."""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from sqlalchemy import func, select

import config
from tests import factories
from tests.conftest import _free_port, csrf_for, login
from webapp.adapters import push
from webapp.extensions import db
from webapp.models import OutboxMessage, PushSubscription, User
from webapp.services import outbox, push_subscriptions
from webapp.services.notify import notify


def now() -> datetime:
    return datetime.now(UTC)


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- a local push service and a browser's keys ----------------------------------------------------------------

@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """A push service on 127.0.0.1 that records every POST and answers with a status chosen per path."""

    def __init__(self):
        self.deliveries: list[Delivery] = []
        self.status: dict[str, int] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                service.deliveries.append(Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(service.status.get(self.path, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def endpoint(self, name: str) -> str:
        return f"{self.origin}/push/{name}"

    def to(self, name: str) -> list[Delivery]:
        return [d for d in self.deliveries if d.path == f"/push/{name}"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def push_service():
    service = PushService()
    yield service
    service.close()


class Browser:
    """What a browser holds for one push subscription: an ECDH P-256 key pair and a 16-byte auth secret."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    def subscription(self) -> dict:
        """PushSubscription.toJSON(), as push.js posts it."""
        public = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)}}

    def read(self, delivery: Delivery) -> dict:
        """Decrypt a delivered message as the browser does (RFC 8291, aes128gcm)."""
        plain = http_ece.decrypt(delivery.body, private_key=self.private_key, auth_secret=self.auth_secret,
                                 version="aes128gcm")
        return json.loads(plain)


def _subscribe(client, browser: Browser, **extra):
    return client.post("/push/subscribe", json=browser.subscription(),
                       headers={"X-CSRFToken": csrf_for(client), **extra})


def _signed_in(client, role: str = "student") -> User:
    user = factories.user(role)
    login(client, user.email, factories.PASSWORD)
    return user


def _notify(user_id: int, title: str = "Mathematics tomorrow at 10:00", **kwargs):
    notice = notify(db.session.get(User, user_id), kind="lesson_reminder", title=title,
                    body=kwargs.pop("body", "Your lesson with Ada starts in 24 hours."),
                    url=kwargs.pop("url", "/notifications"), **kwargs)
    db.session.commit()
    return notice


def _push_messages() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "push")
                                   .order_by(OutboxMessage.id)))


def _subscriptions() -> list[PushSubscription]:
    db.session.rollback()
    return list(db.session.scalars(select(PushSubscription).order_by(PushSubscription.id)))


# --- delivery ----------------------------------------------------------------------------------------------------

def test_a_notification_reaches_the_subscribed_browser_encrypted_for_it_and_signed_with_vapid(app, client,
                                                                                            push_service):
    user = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    response = _subscribe(client, browser)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["subscribed"] is True

    _notify(user.id, title="Mathematics tomorrow at 10:00", body="Your lesson with Ada starts in 24 hours.",
            url="/lessons/7")
    assert outbox.deliver_due(now()) == 1

    [delivery] = push_service.deliveries
    assert delivery.path == "/push/device-1"
    assert browser.read(delivery) == {"title": "Mathematics tomorrow at 10:00",
                                      "body": "Your lesson with Ada starts in 24 hours.", "url": "/lessons/7"}
    assert delivery.headers["content-encoding"] == "aes128gcm"
    assert int(delivery.headers["ttl"]) == push.TTL_SECONDS

    # VAPID (RFC 8292): a JWT for the push service's origin, signed with our key, and that key alongside.
    scheme, _, params = delivery.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.split("=", 1) for part in params.split(","))
    assert fields["k"] == app.config["VAPID_PUBLIC_KEY"]
    header, claims, _signature = fields["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    claims = json.loads(unb64url(claims))
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == app.config["VAPID_SUBJECT"]
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert Vapid.verify(delivery.headers["authorization"])  # the signature checks out against k

    [message] = _push_messages()
    assert (message.status, message.attempts, message.last_error) == ("sent", 1, None)


def test_delivering_twice_sends_once(app, client, push_service):
    user = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201
    _notify(user.id)
    assert outbox.deliver_due(now()) == 1
    assert outbox.deliver_due(now()) == 0
    assert outbox.deliver_due(now() + timedelta(days=1)) == 0
    assert len(push_service.deliveries) == 1


def test_every_device_of_the_user_gets_the_message_and_nobody_else_does(app, client, push_service):
    user = _signed_in(client)
    phone, laptop = Browser(push_service.endpoint("phone")), Browser(push_service.endpoint("laptop"))
    for browser in (phone, laptop):
        assert _subscribe(client, browser).status_code == 201
    other_client = app.test_client()
    _signed_in(other_client)
    stranger = Browser(push_service.endpoint("stranger"))
    assert _subscribe(other_client, stranger).status_code == 201

    _notify(user.id, title="Ada asks to move Mathematics")
    assert outbox.deliver_due(now()) == 1
    assert sorted(d.path for d in push_service.deliveries) == ["/push/laptop", "/push/phone"]
    assert phone.read(push_service.to("phone")[0])["title"] == "Ada asks to move Mathematics"
    assert laptop.read(push_service.to("laptop")[0])["title"] == "Ada asks to move Mathematics"


def test_a_subscription_the_push_service_says_is_gone_is_deleted_and_the_message_is_done(app, client,
                                                                                        push_service):
    user = _signed_in(client)
    gone, kept = Browser(push_service.endpoint("gone")), Browser(push_service.endpoint("kept"))
    assert _subscribe(client, gone).status_code == 201
    assert _subscribe(client, kept).status_code == 201
    push_service.status["/push/gone"] = 410

    _notify(user.id)
    assert outbox.deliver_due(now()) == 1
    assert [s.endpoint for s in _subscriptions()] == [kept.endpoint]
    assert [m.status for m in _push_messages()] == ["sent"]

    _notify(user.id, title="A second reminder")
    outbox.deliver_due(now())
    assert len(push_service.to("gone")) == 1  # never tried again
    assert [kept.read(d)["title"] for d in push_service.to("kept")] == ["Mathematics tomorrow at 10:00",
                                                                      "A second reminder"]


def test_a_404_from_the_push_service_also_means_the_subscription_is_gone(app, client, push_service):
    user = _signed_in(client)
    assert _subscribe(client, Browser(push_service.endpoint("expired"))).status_code == 201
    push_service.status["/push/expired"] = 404
    _notify(user.id)
    outbox.deliver_due(now())
    assert _subscriptions() == []


def test_a_failing_push_service_keeps_the_message_and_it_is_delivered_once_after_it_recovers(app, client,
                                                                                            push_service):
    user = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201
    push_service.status["/push/device-1"] = 500
    _notify(user.id, title="Summary note from Ada")

    t0 = now()
    assert outbox.deliver_due(t0) == 0
    [message] = _push_messages()
    assert (message.status, message.attempts) == ("pending", 1)
    assert message.next_attempt_at > t0 and "500" in message.last_error
    assert outbox.deliver_due(t0) == 0  # backing off: not tried again yet
    assert len(push_service.deliveries) == 1
    assert len(_subscriptions()) == 1  # a failure is not a reason to forget the device

    del push_service.status["/push/device-1"]  # the push service recovers
    assert outbox.deliver_due(t0 + timedelta(hours=1)) == 1
    assert outbox.deliver_due(t0 + timedelta(hours=2)) == 0
    assert len(push_service.deliveries) == 2
    assert browser.read(push_service.deliveries[-1])["title"] == "Summary note from Ada"
    [message] = _push_messages()
    assert (message.status, message.attempts, message.last_error) == ("sent", 2, None)


def test_a_retry_after_one_device_failed_does_not_push_the_others_twice(app, client, push_service):
    user = _signed_in(client)
    phone, laptop = Browser(push_service.endpoint("phone")), Browser(push_service.endpoint("laptop"))
    assert _subscribe(client, phone).status_code == 201
    assert _subscribe(client, laptop).status_code == 201
    push_service.status["/push/laptop"] = 503
    _notify(user.id)

    t0 = now()
    assert outbox.deliver_due(t0) == 0
    del push_service.status["/push/laptop"]
    assert outbox.deliver_due(t0 + timedelta(hours=1)) == 1
    assert len(push_service.to("phone")) == 1
    assert len(push_service.to("laptop")) == 2
    assert laptop.read(push_service.to("laptop")[-1])["title"] == "Mathematics tomorrow at 10:00"


def test_an_unreachable_push_service_loses_nothing(app, client, push_service):
    user = _signed_in(client)
    nowhere = Browser(f"http://127.0.0.1:{_free_port()}/push/nowhere")  # nothing listens there
    assert _subscribe(client, nowhere).status_code == 201
    _notify(user.id)
    assert outbox.deliver_due(now()) == 0
    [message] = _push_messages()
    assert message.status == "pending" and message.attempts == 1 and "Connection" in message.last_error


def test_a_user_without_devices_has_nothing_to_deliver_and_the_message_is_done(app, push_service):
    user = factories.user()
    _notify(user.id)
    assert outbox.deliver_due(now()) == 1
    assert [m.status for m in _push_messages()] == ["sent"]
    assert push_service.deliveries == []


def test_a_change_that_rolls_back_pushes_nothing(app, client, push_service):
    user = _signed_in(client)
    assert _subscribe(client, Browser(push_service.endpoint("device-1"))).status_code == 201
    notify(db.session.get(User, user.id), kind="lesson_reminder", title="Never sent")
    db.session.rollback()
    assert outbox.deliver_due(now()) == 0
    assert push_service.deliveries == []


def test_a_long_body_is_shortened_to_fit_a_push_message(app, client, push_service):
    user = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201
    _notify(user.id, body="Fractions and ratios — " * 400, url="/lessons/1/notes")
    assert outbox.deliver_due(now()) == 1
    [delivery] = push_service.deliveries
    assert len(delivery.body) <= 4096
    payload = browser.read(delivery)
    assert payload["title"] == "Mathematics tomorrow at 10:00" and payload["url"] == "/lessons/1/notes"
    assert payload["body"].startswith("Fractions and ratios") and payload["body"].endswith("…")


# --- subscribe and unsubscribe ------------------------------------------------------------------------------------

def _valid(endpoint: str = "https://fcm.googleapis.com/fcm/send/abc123") -> dict:
    return Browser(endpoint).subscription()


def _with(subscription: dict, **keys) -> dict:
    return {**subscription, "keys": {**subscription["keys"], **keys}}


BAD_SUBSCRIPTIONS = {
    "a JSON list": ([], 422, "body"),
    "no endpoint": ({"keys": _valid()["keys"]}, 422, "endpoint"),
    "no keys": ({"endpoint": _valid()["endpoint"]}, 422, "keys"),
    "keys not an object": ({**_valid(), "keys": "p256dh"}, 422, "keys"),
    "no auth": ({**_valid(), "keys": {"p256dh": _valid()["keys"]["p256dh"]}}, 422, "keys.auth"),
    "p256dh of 64 bytes": (_with(_valid(), p256dh=b64url(b"\x04" + os.urandom(63))), 422, "keys.p256dh"),
    "p256dh not on the curve": (_with(_valid(), p256dh=b64url(b"\x04" + b"\x01" * 64)), 422, "keys.p256dh"),
    "p256dh not base64url": (_with(_valid(), p256dh="not base64!"), 422, "keys.p256dh"),
    "auth of 15 bytes": (_with(_valid(), auth=b64url(os.urandom(15))), 422, "keys.auth"),
    "auth of 32 bytes": (_with(_valid(), auth=b64url(os.urandom(32))), 422, "keys.auth"),
    "auth a number": (_with(_valid(), auth=12345), 422, "keys.auth"),
    "http push service": (_valid("http://fcm.googleapis.com/fcm/send/abc"), 422, "endpoint"),
    "unknown host": (_valid("https://push.attacker.example/x"), 422, "endpoint"),
    "lookalike host": (_valid("https://evilfcm.googleapis.com.attacker.example/x"), 422, "endpoint"),
    "private address": (_valid("https://10.0.0.7/x"), 422, "endpoint"),
    "other port": (_valid("https://fcm.googleapis.com:8443/fcm/send/abc"), 422, "endpoint"),
    "credentials in the URL": (_valid("https://user:pw@fcm.googleapis.com/fcm/send/abc"), 422, "endpoint"),
    "file URL": (_valid("file:///etc/passwd"), 422, "endpoint"),
    "endpoint a number": ({**_valid(), "endpoint": 7}, 422, "endpoint"),
    "endpoint too long": (_valid("https://fcm.googleapis.com/" + "a" * 1000), 422, "endpoint"),
}


@pytest.mark.parametrize("name", list(BAD_SUBSCRIPTIONS))
def test_a_subscription_that_is_not_valid_is_refused_with_a_message(app, client, name):
    body, status, field = BAD_SUBSCRIPTIONS[name]
    _signed_in(client)
    response = client.post("/push/subscribe", json=body, headers={"X-CSRFToken": csrf_for(client)})
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"]
    assert field in error["fields"]
    assert _subscriptions() == []


def test_a_body_that_is_not_json_is_a_400_with_a_message(app, client):
    _signed_in(client)
    response = client.post("/push/subscribe", data="{endpoint: nope", content_type="application/json",
                           headers={"X-CSRFToken": csrf_for(client)})
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == "The request body is not valid JSON."


def test_a_known_push_service_is_accepted(app, client):
    user = _signed_in(client)
    for endpoint in ("https://fcm.googleapis.com/fcm/send/abc", "https://updates.push.services.mozilla.com/wpush/v2/x",
                     "https://web.push.apple.com/QGx", "https://wns2-par02p.notify.windows.com/w/?token=x"):
        assert _subscribe(client, Browser(endpoint)).status_code == 201, endpoint
    assert {s.user_id for s in _subscriptions()} == {user.id} and len(_subscriptions()) == 4


def test_a_push_service_on_this_machine_is_refused_in_production_settings(app, client, push_service):
    _signed_in(client)
    app.config["PUSH_ALLOW_LOOPBACK"] = False
    try:
        response = _subscribe(client, Browser(push_service.endpoint("device-1")))
    finally:
        app.config["PUSH_ALLOW_LOOPBACK"] = True
    assert response.status_code == 422 and "endpoint" in response.get_json()["error"]["fields"]
    assert config.Config.PUSH_ALLOW_LOOPBACK is False


def test_subscribing_needs_a_signed_in_user_and_the_csrf_header(app, client, push_service):
    browser = Browser(push_service.endpoint("device-1"))
    anonymous = client.post("/push/subscribe", json=browser.subscription(), headers={"X-CSRFToken": csrf_for(client)})
    assert anonymous.status_code == 401 and anonymous.get_json()["error"]["message"]

    _signed_in(client)
    no_token = client.post("/push/subscribe", json=browser.subscription())
    assert no_token.status_code == 400 and "token" in no_token.get_json()["error"]["message"]
    wrong_token = client.post("/push/subscribe", json=browser.subscription(), headers={"X-CSRFToken": "forged"})
    assert wrong_token.status_code == 400
    unsubscribe = client.post("/push/unsubscribe", json={"endpoint": browser.endpoint})
    assert unsubscribe.status_code == 400
    assert _subscriptions() == []


def test_subscribing_the_same_browser_again_refreshes_it_instead_of_adding_a_second(app, client, push_service):
    user = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201
    browser.private_key, browser.auth_secret = ec.generate_private_key(ec.SECP256R1()), os.urandom(16)
    assert _subscribe(client, browser).status_code == 201
    [row] = _subscriptions()
    assert row.user_id == user.id and row.auth == b64url(browser.auth_secret)

    _notify(user.id)
    outbox.deliver_due(now())
    assert browser.read(push_service.deliveries[0])["title"] == "Mathematics tomorrow at 10:00"  # the new keys


def test_a_shared_browser_moves_to_the_account_signed_in_on_it(app, client, push_service):
    first = _signed_in(client)
    browser = Browser(push_service.endpoint("family-laptop"))
    assert _subscribe(client, browser).status_code == 201
    second_client = app.test_client()
    second = _signed_in(second_client)
    assert _subscribe(second_client, browser).status_code == 201  # same endpoint and keys: the same browser
    [row] = _subscriptions()
    assert row.user_id == second.id

    _notify(first.id, title="For the first account")
    _notify(second.id, title="For the second account")
    outbox.deliver_due(now())
    assert [browser.read(d)["title"] for d in push_service.deliveries] == ["For the second account"]


def test_another_accounts_endpoint_cannot_be_claimed_with_other_keys(app, client, push_service):
    owner = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201
    thief_client = app.test_client()
    _signed_in(thief_client)
    response = _subscribe(thief_client, Browser(browser.endpoint))  # the endpoint, but not the browser's keys
    assert response.status_code == 409 and response.get_json()["error"]["message"]
    [row] = _subscriptions()
    assert row.user_id == owner.id


def test_only_the_owner_can_unsubscribe_an_endpoint(app, client, push_service):
    owner = _signed_in(client)
    browser = Browser(push_service.endpoint("device-1"))
    assert _subscribe(client, browser).status_code == 201

    other = app.test_client()
    _signed_in(other)
    response = other.post("/push/unsubscribe", json={"endpoint": browser.endpoint},
                          headers={"X-CSRFToken": csrf_for(other)})
    assert response.status_code == 404 and response.get_json()["error"]["message"]
    assert [s.user_id for s in _subscriptions()] == [owner.id]

    mine = client.post("/push/unsubscribe", json={"endpoint": browser.endpoint},
                       headers={"X-CSRFToken": csrf_for(client)})
    assert mine.status_code == 200 and mine.get_json() == {"subscribed": False}
    assert _subscriptions() == []
    again = client.post("/push/unsubscribe", json={"endpoint": browser.endpoint},
                        headers={"X-CSRFToken": csrf_for(client)})
    assert again.status_code == 404

    _notify(owner.id)
    outbox.deliver_due(now())
    assert push_service.deliveries == []


@pytest.mark.parametrize("body", [{}, {"endpoint": ""}, {"endpoint": ["x"]}], ids=["missing", "empty", "a list"])
def test_unsubscribing_without_an_endpoint_is_refused_with_a_message(app, client, body):
    _signed_in(client)
    response = client.post("/push/unsubscribe", json=body, headers={"X-CSRFToken": csrf_for(client)})
    assert response.status_code == 422 and "endpoint" in response.get_json()["error"]["fields"]


def test_a_user_keeps_at_most_the_newest_devices(app, push_service):
    user = factories.user()
    browsers = [Browser(push_service.endpoint(f"d{i}")) for i in range(push_subscriptions.MAX_DEVICES_PER_USER + 2)]
    for browser in browsers:
        push_subscriptions.subscribe(user, browser.subscription())
    kept = [s.endpoint for s in _subscriptions()]
    assert kept == [b.endpoint for b in browsers[2:]]


# --- the browser side: service worker and key ----------------------------------------------------------------------

def test_the_service_worker_is_served_from_the_site_root_for_the_whole_site(app, client):
    response = client.get("/service-worker.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response.headers["Cache-Control"]
    script = response.get_data(as_text=True)
    assert 'addEventListener("push"' in script and 'addEventListener("notificationclick"' in script


def test_the_vapid_public_key_is_the_configured_p256_point(app, client):
    response = client.get("/push/vapid-public-key")
    assert response.status_code == 200
    key = response.get_json()["publicKey"]
    assert key == app.config["VAPID_PUBLIC_KEY"]
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))  # a real point


def test_the_settings_page_offers_push_for_this_device(app, client):
    _signed_in(client)
    page = client.get("/settings").get_data(as_text=True)
    assert "Notifications on this device" in page and 'id="push-settings"' in page
    assert 'data-subscribe-url="/push/subscribe"' in page and 'data-key-url="/push/vapid-public-key"' in page
    assert "push.js" in page


def test_a_vapid_key_pair_that_does_not_match_is_refused(app):
    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    saved = app.config["VAPID_PUBLIC_KEY"]
    app.config["VAPID_PUBLIC_KEY"] = b64url(other)
    try:
        with pytest.raises(push.PushConfigError):
            push.application_server_key()
    finally:
        app.config["VAPID_PUBLIC_KEY"] = saved


def test_production_refuses_to_start_without_vapid_settings(monkeypatch):
    for name in ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET",
                 "PUBLIC_BASE_URL", "MAIL_HOST"):
        monkeypatch.setattr(config.Config, name, "set")
    for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"):
        monkeypatch.setattr(config.Config, name, None)
    with pytest.raises(RuntimeError) as refused:
        config.Config.validate()
    assert all(name in str(refused.value) for name in ("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY", "VAPID_SUBJECT"))


def test_push_subscriptions_are_counted_per_user(app, push_service):
    user, other = factories.user(), factories.user()
    push_subscriptions.subscribe(user, Browser(push_service.endpoint("a")).subscription())
    push_subscriptions.subscribe(other, Browser(push_service.endpoint("b")).subscription())
    assert push_subscriptions.device_count(user) == 1
    assert db.session.scalar(select(func.count()).select_from(PushSubscription)) == 2
