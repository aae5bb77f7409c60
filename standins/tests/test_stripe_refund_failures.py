"""Refunds that fail after Stripe accepted them (standins/stripe/refunds.py), through the official SDK."""
from __future__ import annotations

import time

import pytest
import requests
import stripe

from tests.stripe_fixtures import TEST_API_KEY

pytestmark = pytest.mark.integration

REFUND_FAILS_CARD = "4000000000005126"


@pytest.fixture(autouse=True)
def _fresh_stripe(local_stripe_server):
    local_stripe_server.reset()
    yield


def _captured(client, card: str = "4242424242424242") -> str:
    session = client.v1.checkout.sessions.create(params={
        "mode": "payment", "success_url": "http://app.test/ok", "cancel_url": "http://app.test/no",
        "line_items": [{"price_data": {"currency": "gbp", "unit_amount": 5000, "product_data": {"name": "Lesson"}},
                        "quantity": 1}],
        "payment_intent_data": {"capture_method": "manual"}, "expires_at": int(time.time()) + 31 * 60})
    paid = requests.post(session.url, data={"email": "sam@example.com", "cardNumber": card, "cardExpiry": "12 / 34",
                                            "cardCvc": "123"}, allow_redirects=False, timeout=10)
    assert paid.status_code == 303
    pi_id = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    client.v1.payment_intents.capture(pi_id)
    return pi_id


def test_a_refund_failed_later_sends_stripes_three_events_and_gives_the_charge_its_money_back(
        stripe_client, local_stripe_server, webhook_receiver):
    pi_id = _captured(stripe_client)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": pi_id, "amount": 2000,
                                                     "metadata": {"refund_row_id": "7"}})
    assert (refund.status, refund.payment_intent, refund.failure_reason) == ("succeeded", pi_id, None)

    local_stripe_server.fail_refund(refund.id)

    for kind in ("charge.refund.updated", "refund.updated"):
        event = webhook_receiver.wait_for(kind, id=refund.id)
        assert event.data.object.status == "failed"
        assert event.data.object.failure_reason == "unknown"
        assert event.data.object.metadata["refund_row_id"] == "7"
        assert event.data.previous_attributes["status"] == "succeeded"
    assert webhook_receiver.wait_for("refund.failed", id=refund.id).data.object.failure_balance_transaction
    again = stripe_client.v1.refunds.retrieve(refund.id)
    assert (again.status, again.failure_reason) == ("failed", "unknown")
    charge = stripe_client.v1.payment_intents.retrieve(pi_id).latest_charge  # comes back expanded here
    assert (charge.amount_refunded, charge.refunded) == (0, False)
    # The whole amount can be refunded again: the failed refund no longer counts.
    assert stripe_client.v1.refunds.create(params={"payment_intent": pi_id}).amount == 5000


def test_the_refund_fail_card_fails_its_refunds_by_itself_a_little_later(stripe_client, local_stripe_server,
                                                                        webhook_receiver):
    pi_id = _captured(stripe_client, card=REFUND_FAILS_CARD)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": pi_id})
    assert refund.status == "succeeded"  # as Stripe's: it starts out succeeded
    local_stripe_server.advance_clock(60)
    event = webhook_receiver.wait_for("refund.failed", id=refund.id, timeout=10)
    assert event.data.object.failure_reason == "expired_or_canceled_card"


def test_failing_a_refund_twice_or_an_unknown_one_is_refused_in_stripes_words(stripe_client, local_stripe_server):
    pi_id = _captured(stripe_client)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": pi_id})
    url = f"{local_stripe_server.url}/v1/test_helpers/local/refunds/{refund.id}/fail"
    auth = {"Authorization": f"Bearer {TEST_API_KEY}"}
    first = requests.post(url, data={"status": "canceled"}, headers=auth, timeout=10)
    assert first.status_code == 200 and first.json()["status"] == "canceled"
    second = requests.post(url, headers=auth, timeout=10)
    assert second.status_code == 400 and second.json()["error"]["code"] == "refund_unexpected_state"
    missing = requests.post(f"{local_stripe_server.url}/v1/test_helpers/local/refunds/re_nope/fail", headers=auth,
                            timeout=10)
    assert missing.status_code == 404
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.refunds.retrieve("re_nope")
