"""PayPal webhooks: verified with PayPal's verify-webhook-signature (on the local stand-in), stored by event id,
applied once by the job; replayed or reordered events change nothing."""
from __future__ import annotations

import json

from sqlalchemy import select

from tests.paypal_fixtures import apply_paypal_events, paypal_world  # noqa: F401 (fixture)
from webapp.adapters import paypal
from webapp.extensions import db
from webapp.models import PayPalEvent, PayPalOrder

RETURN = {"return_url": "https://lessonbook.example.com/r", "cancel_url": "https://lessonbook.example.com/c"}


def _order_row(world, request_id: str = "t:1") -> PayPalOrder:
    """An order opened on the stand-in and our row for it (as the pay flow records it)."""
    order = paypal.client().create_order(intent="AUTHORIZE", amount_minor=4400, currency="GBP", custom_id="t",
                                         invoice_id=request_id, description="Lesson", request_id=request_id,
                                         **RETURN)
    row = PayPalOrder(order_id=order.id, request_id=request_id, status="CREATED", amount_minor=4400,
                      currency="GBP", approve_url=order.approve_url)
    db.session.add(row)
    db.session.commit()
    return row


def _fresh(order_id: str) -> PayPalOrder:
    db.session.commit()
    return db.session.scalar(select(PayPalOrder).where(PayPalOrder.order_id == order_id))


def test_a_genuine_event_is_stored_once_applied_once_and_a_replay_is_answered_duplicate(client, paypal_world):
    row = _order_row(paypal_world)
    paypal_world.approve(row.approve_url)
    [approved] = paypal_world.event_ids("CHECKOUT.ORDER.APPROVED")
    first, again = paypal_world.deliver(client, [approved, approved], apply=False)
    assert first.status_code == 200 and first.get_json()["outcome"] == "stored"
    assert again.status_code == 200 and again.get_json()["outcome"] == "duplicate"
    assert apply_paypal_events() == 1
    assert _fresh(row.order_id).status == "APPROVED"
    stored = db.session.get(PayPalEvent, approved)
    assert stored.outcome == "approved" and stored.processed_at is not None and stored.attempts == 1
    paypal_world.deliver(client, [approved])
    assert db.session.get(PayPalEvent, approved).attempts == 1  # applied once, whatever arrives again


def test_a_tampered_or_unsigned_event_is_refused_with_400_and_nothing_is_stored(client, paypal_world):
    row = _order_row(paypal_world)
    paypal_world.approve(row.approve_url)
    [approved] = paypal_world.event_ids()
    body, headers = paypal_world.delivery(approved)
    event = json.loads(body)
    event["resource"]["purchase_units"][0]["amount"]["value"] = "0.01"
    tampered = client.post("/webhooks/paypal", data=json.dumps(event, separators=(",", ":")), headers=headers,
                           content_type="application/json")
    assert tampered.status_code == 400
    unsigned = client.post("/webhooks/paypal", data=body, content_type="application/json")
    assert unsigned.status_code == 400
    garbage = client.post("/webhooks/paypal", data=b"{not json", headers=headers, content_type="application/json")
    assert garbage.status_code == 400 and b"not JSON" in garbage.data
    assert db.session.scalar(select(PayPalEvent.id)) is None


def test_paypal_unreachable_while_verifying_is_a_503_so_paypal_delivers_again_and_nothing_is_lost(client,
                                                                                                 paypal_world):
    row = _order_row(paypal_world)
    paypal_world.approve(row.approve_url)
    paypal_world.server.fail_with = 503
    [down] = paypal_world.deliver(client, apply=False)
    assert down.status_code == 503
    paypal_world.server.fail_with = None
    [up] = paypal_world.deliver(client)
    assert up.status_code == 200 and _fresh(row.order_id).status == "APPROVED"


def test_events_delivered_in_reverse_order_and_replayed_leave_the_order_where_it_really_is(client, paypal_world):
    row = _order_row(paypal_world)
    api = paypal.client()
    paypal_world.approve(row.approve_url)
    auth = api.authorize_order(row.order_id, request_id="t:1:authorize")
    api.void_authorization(auth.id, request_id="t:1:void")
    happened = paypal_world.event_ids()
    assert [paypal_world.server.events[e]["event_type"] for e in happened] == [
        "CHECKOUT.ORDER.APPROVED", "PAYMENT.AUTHORIZATION.CREATED", "PAYMENT.AUTHORIZATION.VOIDED"]
    paypal_world.deliver(client, list(reversed(happened)))
    voided = _fresh(row.order_id)
    assert voided.status == "VOIDED" and voided.authorization_id == auth.id
    outcomes = {e: db.session.get(PayPalEvent, e).outcome for e in happened}
    assert outcomes[happened[0]] == "already-applied" and outcomes[happened[1]] == "already-applied"
    paypal_world.deliver(client, happened)  # and once more, in order: nothing moves back
    assert _fresh(row.order_id).status == "VOIDED"


def test_events_for_orders_we_never_opened_are_stored_and_ignored(client, paypal_world):
    order = paypal.client().create_order(intent="CAPTURE", amount_minor=100, currency="GBP", custom_id="x",
                                         invoice_id="x", description="x", request_id="elsewhere", **RETURN)
    paypal_world.approve(order.approve_url)
    [response] = paypal_world.deliver(client)
    assert response.status_code == 200
    assert db.session.scalar(select(PayPalEvent.outcome)) == "ignored"
