"""The local PayPal stand-in (standins/paypal.py) as the app's tests drive it: the app pointed at it, approvals
made on its page, and its signed webhook events handed to the app's endpoint exactly as it would deliver them."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from standins.paypal import PayPalStandIn, canonical

CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID = "paypal_test_client", "paypal_test_secret", "WH0TESTSUITE0001"


class PayPalWorld:
    """The stand-in, and what a test does with it."""

    def __init__(self, server: PayPalStandIn):
        self.server = server

    def approve(self, approve_url: str) -> requests.Response:
        """Press Approve on the approval page (the redirect back to us is not followed)."""
        token = approve_url.split("token=", 1)[1]
        return requests.post(f"{self.server.url}/checkoutnow/{token}/approve", allow_redirects=False, timeout=10)

    def event_ids(self, *types: str) -> list[str]:
        """The stand-in's events so far (of these types, if given), in the order they happened."""
        return [e["id"] for e in self.server.events.values() if not types or e["event_type"] in types]

    def delivery(self, event_id: str) -> tuple[bytes, dict]:
        """One event as the stand-in delivers it: its bytes and freshly signed headers."""
        body = canonical(self.server.events[event_id])
        return body, self.server.signed_headers(body)

    def deliver(self, client, event_ids: list[str] | None = None, apply: bool = True) -> list:
        """Post events to /webhooks/paypal as PayPal sends them, then (unless `apply` is false) run the sweep as the
        worker would; returns the endpoint's responses."""
        responses = []
        for event_id in self.event_ids() if event_ids is None else event_ids:
            body, headers = self.delivery(event_id)
            responses.append(client.post("/webhooks/paypal", data=body, headers=headers,
                                         content_type="application/json"))
        if apply:
            apply_paypal_events()
        return responses


def apply_paypal_events() -> int:
    """Run the sweep over stored PayPal events (what the worker does after the endpoint enqueued them)."""
    from webapp.extensions import db
    from webapp.services import paypal_events
    db.session.commit()  # a fresh snapshot: the events were stored by another request
    applied = paypal_events.apply_stored_events(datetime.now(UTC))
    db.session.commit()
    return applied


@pytest.fixture
def paypal_world(app):
    """A fresh PayPal stand-in the app is pointed at for this test (its settings restored after)."""
    server = PayPalStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, webhook_id=WEBHOOK_ID)
    saved = {k: app.config.get(k) for k in ("PAYPAL_API_BASE", "PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET",
                                            "PAYPAL_WEBHOOK_ID")}
    app.config.update(PAYPAL_API_BASE=server.url, PAYPAL_CLIENT_ID=CLIENT_ID, PAYPAL_CLIENT_SECRET=CLIENT_SECRET,
                      PAYPAL_WEBHOOK_ID=WEBHOOK_ID)
    app.extensions.pop("paypal_client", None)
    yield PayPalWorld(server)
    app.config.update(saved)
    app.extensions.pop("paypal_client", None)
    server.close()
