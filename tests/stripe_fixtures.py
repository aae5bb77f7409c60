"""Fixtures for the local Stripe server (standins/stripe_server.py), meant to be imported into conftest.

    from tests.stripe_fixtures import local_stripe_server, stripe_client, webhook_receiver  # noqa: F401

`local_stripe_server` is session-scoped and shared: localstripe's state is process-global, so however
many modules import the fixture, one server runs (started by the first user, stopped by the last).
Nothing here resets it between tests; call `local_stripe_server.reset()` in an autouse fixture.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import stripe

from standins.stripe_server import LocalStripe, start_local_stripe

TEST_API_KEY = "sk_test_lessonbook_local"
TEST_WEBHOOK_SECRET = "whsec_lessonbook_local_test"

_shared: dict = {"server": None, "users": 0}


@pytest.fixture(scope="session")
def local_stripe_server():
    """The local Stripe server on 127.0.0.1 (`.url`, `.register_webhook()`, `.reset()`, `.advance_clock()`)."""
    if _shared["server"] is None:
        _shared["server"] = start_local_stripe()
    _shared["users"] += 1
    try:
        yield _shared["server"]
    finally:
        _shared["users"] -= 1
        if _shared["users"] == 0:
            _shared["server"].stop()
            _shared["server"] = None


def make_stripe_client(server: LocalStripe, api_key: str = TEST_API_KEY) -> stripe.StripeClient:
    """The official SDK pointed at the local server; no retries, so a test sees each answer as it is."""
    return stripe.StripeClient(api_key, base_addresses={"api": server.url, "files": server.url},
                               max_network_retries=0)


@pytest.fixture
def stripe_client(local_stripe_server) -> stripe.StripeClient:
    return make_stripe_client(local_stripe_server)


class WebhookReceiver:
    """A tiny HTTP endpoint that records webhook deliveries and verifies them with the SDK."""

    def __init__(self, secret: str = TEST_WEBHOOK_SECRET):
        self.secret = secret
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    receiver.deliveries.append((dict(self.headers.items()), body))
                    receiver._changed.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stripe/webhook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def events(self) -> list[stripe.Event]:
        """Every delivery so far, each verified against its Stripe-Signature header."""
        with self._changed:
            deliveries = list(self.deliveries)
        return [stripe.Webhook.construct_event(body, headers.get("Stripe-Signature"), self.secret)
                for headers, body in deliveries]

    def types(self) -> list[str]:
        with self._changed:
            return [json.loads(body)["type"] for _, body in self.deliveries]

    def wait_for(self, event_type: str, timeout: float = 5, **data_object) -> stripe.Event:
        """The first verified event of this type whose data.object has these values, waiting for it."""
        def match() -> stripe.Event | None:
            for event in self.events():
                obj = event.data.object.to_dict()
                if event.type == event_type and all(obj.get(k) == v for k, v in data_object.items()):
                    return event
            return None

        with self._changed:
            found = self._changed.wait_for(match, timeout)
        if found is None:
            raise AssertionError(f"no {event_type} webhook {data_object or ''} within {timeout}s; got {self.types()}")
        return found

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def webhook_receiver(local_stripe_server):
    """A receiver registered for every event on the local server (register after any reset)."""
    receiver = WebhookReceiver()
    local_stripe_server.register_webhook(receiver.url, receiver.secret)
    yield receiver
    local_stripe_server.unregister_webhook(receiver.url)
    receiver.close()
