"""The local Stripe server (standins/stripe_server.py) through the official SDK, as the app will use it."""
from __future__ import annotations

import os
import time

import pytest
import requests
import stripe

from tests.stripe_fixtures import TEST_API_KEY, make_stripe_client

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_stripe(local_stripe_server):
    local_stripe_server.reset()
    yield


def _session_params(**overrides) -> dict:
    params = {
        "mode": "payment",
        "line_items": [{"price_data": {"currency": "gbp", "unit_amount": 5000,
                                       "product_data": {"name": "Maths lesson with Ada"}}, "quantity": 1}],
        "payment_intent_data": {"capture_method": "manual", "metadata": {"booking_id": "42"},
                                "transfer_group": "booking:42"},
        "metadata": {"booking_id": "42"},
        "client_reference_id": "42",
        "customer_email": "sam@example.com",
        "expires_at": int(time.time()) + 31 * 60,
        "success_url": "http://app.test/bookings/42/paid?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/bookings/42",
    }
    params.update(overrides)
    return params


def _pay(session, card: str = "4242424242424242", email: str = "sam@example.com") -> requests.Response:
    return requests.post(session.url, data={"email": email, "cardNumber": card, "cardExpiry": "12 / 34",
                                            "cardCvc": "123"}, allow_redirects=False, timeout=10)


def _paid_session(client, **overrides):
    session = client.v1.checkout.sessions.create(params=_session_params(**overrides))
    assert _pay(session).status_code == 303
    return client.v1.checkout.sessions.retrieve(session.id)


def _charge_id(client, pi_id: str) -> str:
    charge = client.v1.payment_intents.retrieve(pi_id).latest_charge
    return charge if isinstance(charge, str) else charge.id


def _onboarded_account(client, server) -> stripe.Account:
    account = client.v1.accounts.create(params={"type": "express", "country": "GB", "email": "ada@example.com",
                                                "capabilities": {"transfers": {"requested": True}}})
    link = client.v1.account_links.create(params={"account": account.id, "type": "account_onboarding",
                                                  "refresh_url": "http://app.test/payouts/refresh",
                                                  "return_url": "http://app.test/payouts/return"})
    assert requests.post(link.url, allow_redirects=False, timeout=10).status_code == 303
    return client.v1.accounts.retrieve(account.id)


# --- checkout sessions -----------------------------------------------------------------------------

def test_a_checkout_session_has_stripes_shape(stripe_client, local_stripe_server):
    params = _session_params()
    session = stripe_client.v1.checkout.sessions.create(params=params)

    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert (session.amount_total, session.amount_subtotal, session.currency) == (5000, 5000, "gbp")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert session.payment_intent is None
    assert session.url.startswith(local_stripe_server.url + "/c/pay/cs_test_")
    assert session.metadata.to_dict() == {"booking_id": "42"}
    assert session.client_reference_id == "42"
    assert session.customer_email == "sam@example.com"
    assert session.expires_at == params["expires_at"]
    assert session.success_url == params["success_url"] and session.cancel_url == params["cancel_url"]
    assert session.livemode is False and isinstance(session.created, int)
    assert isinstance(session, stripe.checkout.Session)

    again = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert again.to_dict() == session.to_dict()
    listed = stripe_client.v1.checkout.sessions.list(params={"limit": 5})
    assert listed.object == "list" and [s.id for s in listed.data] == [session.id]
    items = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["line_items"]}).line_items
    assert items.data[0].description == "Maths lesson with Ada" and items.data[0].amount_total == 5000


@pytest.mark.parametrize("minutes, message", [(10, "at least 30 minutes"), (25 * 60, "less than 24 hours")])
def test_expires_at_outside_30_minutes_to_24_hours_is_refused(stripe_client, minutes, message):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.checkout.sessions.create(params=_session_params(expires_at=int(time.time()) + minutes * 60))
    assert raised.value.http_status == 400
    assert raised.value.param == "expires_at"
    assert message in raised.value.user_message


def test_the_same_idempotency_key_replays_and_a_changed_request_is_an_idempotency_error(stripe_client):
    params = _session_params()
    key = {"idempotency_key": "booking:42:checkout"}
    first = stripe_client.v1.checkout.sessions.create(params=params, options=key)
    second = stripe_client.v1.checkout.sessions.create(params=params, options=key)
    assert second.id == first.id
    assert second.last_response.headers.get("Idempotent-Replayed") == "true"
    assert len(stripe_client.v1.checkout.sessions.list().data) == 1

    with pytest.raises(stripe.IdempotencyError) as raised:
        stripe_client.v1.checkout.sessions.create(params=_session_params(client_reference_id="43"),
                                                  options={"idempotency_key": "booking:42:checkout"})
    assert raised.value.http_status == 400
    assert raised.value.error.type == "idempotency_error"


def test_expiring_a_session_sends_checkout_session_expired(stripe_client, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    expired = stripe_client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    assert webhook_receiver.wait_for("checkout.session.expired", id=session.id).data.object.status == "expired"
    assert "expired" in requests.get(session.url, timeout=10).text
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.checkout.sessions.expire(session.id)


def test_a_session_expires_when_expires_at_passes(stripe_client, local_stripe_server, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    local_stripe_server.advance_clock(32 * 60)

    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    webhook_receiver.wait_for("checkout.session.expired", id=session.id)
    assert "expired" in requests.get(session.url, timeout=10).text


# --- the hosted checkout page ----------------------------------------------------------------------

def test_the_hosted_page_shows_amount_product_fields_and_cancel_link(stripe_client):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    page = requests.get(session.url, timeout=10)

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    for text in ("£50.00", "Maths lesson with Ada", 'name="email"', 'name="cardNumber"', 'name="cardExpiry"',
                 'name="cardCvc"', ">Pay</button>", 'href="http://app.test/bookings/42">Cancel and go back'):
        assert text in page.text


def test_paying_with_4242_authorises_and_sends_signed_webhooks(stripe_client, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    response = _pay(session)

    assert response.status_code == 303
    assert response.headers["Location"] == f"http://app.test/bookings/42/paid?session_id={session.id}"
    paid = stripe_client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["payment_intent"]})
    assert (paid.status, paid.payment_status) == ("complete", "unpaid")  # authorised, not captured
    pi = paid.payment_intent
    assert pi.id.startswith("pi_") and pi.status == "requires_capture"
    assert (pi.amount, pi.currency, pi.capture_method, pi.amount_capturable) == (5000, "gbp", "manual", 5000)
    assert pi.metadata.to_dict() == {"booking_id": "42"} and pi.transfer_group == "booking:42"

    completed = webhook_receiver.wait_for("checkout.session.completed", id=session.id)
    assert completed.id.startswith("evt_") and completed.object == "event" and completed.livemode is False
    assert completed.data.object.payment_intent == pi.id
    assert completed.data.object.metadata.to_dict() == {"booking_id": "42"}
    assert completed.api_version and completed.pending_webhooks >= 0
    assert set(completed.to_dict()["request"]) == {"id", "idempotency_key"}
    capturable = webhook_receiver.wait_for("payment_intent.amount_capturable_updated", id=pi.id)
    assert capturable.data.object.status == "requires_capture"
    headers, _ = webhook_receiver.deliveries[0]
    assert headers["Stripe-Signature"].startswith("t=") and ",v1=" in headers["Stripe-Signature"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(webhook_receiver.deliveries[0][1], headers["Stripe-Signature"], "whsec_wrong")
    assert stripe_client.v1.events.retrieve(completed.id).type == "checkout.session.completed"
    listed = stripe_client.v1.events.list(params={"type": "checkout.session.completed"}).data
    assert [e.id for e in listed] == [completed.id]
    newest_first = [e.created for e in stripe_client.v1.events.list().data]
    assert newest_first == sorted(newest_first, reverse=True)


def test_3d_secure_completed_authorises_the_payment(stripe_client, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    response = _pay(session, card="4000002500003155")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/c/pay/{session.id}/3ds")

    challenge = requests.get(session.url + "/3ds", timeout=10)
    assert "Complete authentication" in challenge.text and "Fail authentication" in challenge.text
    done = requests.post(session.url + "/3ds", data={"action": "complete"}, allow_redirects=False, timeout=10)

    assert done.status_code == 303 and session.id in done.headers["Location"]
    paid = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert paid.status == "complete"
    assert stripe_client.v1.payment_intents.retrieve(paid.payment_intent).status == "requires_capture"
    webhook_receiver.wait_for("checkout.session.completed", id=session.id)


def test_3d_secure_failed_keeps_the_session_open_and_a_new_card_can_pay(stripe_client, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    _pay(session, card="4000002760003184")
    failed = requests.post(session.url + "/3ds", data={"action": "fail"}, allow_redirects=False, timeout=10)

    assert "We are unable to authenticate your payment method." in failed.text
    open_session = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert open_session.status == "open"
    pi = stripe_client.v1.payment_intents.retrieve(open_session.payment_intent)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"

    assert _pay(session).status_code == 303
    paid = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert paid.status == "complete" and paid.payment_intent == pi.id
    webhook_receiver.wait_for("checkout.session.completed", id=session.id)


@pytest.mark.parametrize("card, message", [("4000000000000002", "Your card was declined."),
                                           ("4000000000000341", "Your card was declined."),
                                           ("4000000000009995", "insufficient funds")])
def test_a_declined_card_shows_why_and_leaves_the_session_open(stripe_client, webhook_receiver, card, message):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    page = _pay(session, card=card)

    assert page.status_code == 200 and message in page.text
    still_open = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (still_open.status, still_open.payment_status) == ("open", "unpaid")
    assert stripe_client.v1.payment_intents.retrieve(still_open.payment_intent).status == "requires_payment_method"
    webhook_receiver.wait_for("payment_intent.payment_failed", id=still_open.payment_intent)
    assert "checkout.session.completed" not in webhook_receiver.types()


def test_a_bad_card_number_is_refused_before_any_payment(stripe_client):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    assert "Your card number is invalid." in _pay(session, card="4242424242424241").text
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).payment_intent is None


# --- after the payment: capture, refund, cancel -----------------------------------------------------

def test_capturing_through_the_sdk_succeeds(stripe_client, webhook_receiver):
    session = _paid_session(stripe_client)
    pi = stripe_client.v1.payment_intents.capture(session.payment_intent,
                                                  options={"idempotency_key": "booking:42:capture"})
    assert (pi.status, pi.amount_received, pi.amount_capturable) == ("succeeded", 5000, 0)
    webhook_receiver.wait_for("payment_intent.succeeded", id=pi.id)  # one of localstripe's own events
    again = stripe_client.v1.payment_intents.capture(session.payment_intent,
                                                     options={"idempotency_key": "booking:42:capture"})
    assert again.status == "succeeded"  # replayed, not captured twice


def test_a_partial_capture_receives_and_refunds_only_what_was_captured(stripe_client):
    session = _paid_session(stripe_client)
    pi = stripe_client.v1.payment_intents.capture(session.payment_intent, params={"amount_to_capture": 3000})
    assert (pi.status, pi.amount_received) == ("succeeded", 3000)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": pi.id})  # no amount: what is left
    assert refund.amount == 3000


def test_refunds_full_and_partial_send_charge_refunded(stripe_client, webhook_receiver):
    session = _paid_session(stripe_client)
    stripe_client.v1.payment_intents.capture(session.payment_intent)

    partial = stripe_client.v1.refunds.create(params={"payment_intent": session.payment_intent, "amount": 2000})
    assert partial.id.startswith("re_") and partial.amount == 2000
    assert webhook_receiver.wait_for("charge.refunded", amount_refunded=2000).data.object.refunded is False
    stripe_client.v1.refunds.create(params={"payment_intent": session.payment_intent})
    full = webhook_receiver.wait_for("charge.refunded", amount_refunded=5000)
    assert full.data.object.refunded is True and full.data.object.payment_intent == session.payment_intent

    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"payment_intent": session.payment_intent, "amount": 100})
    assert raised.value.code == "charge_already_refunded"


def test_refunding_more_than_is_left_is_refused(stripe_client):
    session = _paid_session(stripe_client)
    stripe_client.v1.payment_intents.capture(session.payment_intent)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.refunds.create(params={"payment_intent": session.payment_intent, "amount": 5001})
    assert (raised.value.code, raised.value.param) == ("amount_too_large", "amount")
    assert "£50.01" in raised.value.user_message


def test_cancelling_an_authorisation_sends_payment_intent_canceled(stripe_client, webhook_receiver):
    session = _paid_session(stripe_client)
    pi = stripe_client.v1.payment_intents.cancel(session.payment_intent)
    assert pi.status == "canceled"
    assert webhook_receiver.wait_for("payment_intent.canceled", id=pi.id).data.object.status == "canceled"


# --- connect and transfers -------------------------------------------------------------------------

def test_onboarding_through_an_account_link_enables_payouts(stripe_client, webhook_receiver):
    account = stripe_client.v1.accounts.create(params={
        "type": "express", "country": "GB", "email": "ada@example.com",
        "capabilities": {"transfers": {"requested": True}}, "metadata": {"tutor_id": "7"}})
    assert account.id.startswith("acct_") and account.object == "account" and account.type == "express"
    assert (account.details_submitted, account.charges_enabled, account.payouts_enabled) == (False, False, False)
    assert account.capabilities.transfers == "inactive" and account.default_currency == "gbp"
    assert "external_account" in account.requirements.currently_due

    link = stripe_client.v1.account_links.create(params={
        "account": account.id, "type": "account_onboarding",
        "refresh_url": "http://app.test/payouts/refresh", "return_url": "http://app.test/payouts/return"})
    assert link.object == "account_link" and link.expires_at > link.created
    assert "Complete onboarding" in requests.get(link.url, timeout=10).text
    done = requests.post(link.url, allow_redirects=False, timeout=10)
    assert (done.status_code, done.headers["Location"]) == (303, "http://app.test/payouts/return")

    onboarded = stripe_client.v1.accounts.retrieve(account.id)
    assert (onboarded.details_submitted, onboarded.charges_enabled, onboarded.payouts_enabled) == (True, True, True)
    assert onboarded.capabilities.transfers == "active" and onboarded.requirements.currently_due == []
    updated = webhook_receiver.wait_for("account.updated", id=account.id)
    assert updated.data.object.payouts_enabled is True
    assert updated.data.previous_attributes.payouts_enabled is False
    used = requests.get(link.url, allow_redirects=False, timeout=10)
    assert (used.status_code, used.headers["Location"]) == (302, "http://app.test/payouts/refresh")


def test_transfers_with_source_transaction_and_with_transfer_group(stripe_client, local_stripe_server,
                                                                   webhook_receiver):
    tutor = _onboarded_account(stripe_client, local_stripe_server)
    session = _paid_session(stripe_client)
    stripe_client.v1.payment_intents.capture(session.payment_intent)
    charge_id = _charge_id(stripe_client, session.payment_intent)

    payout = stripe_client.v1.transfers.create(
        params={"amount": 4000, "currency": "gbp", "destination": tutor.id, "source_transaction": charge_id,
                "transfer_group": "booking:42", "metadata": {"booking_id": "42"}},
        options={"idempotency_key": "booking:42:transfer"})
    assert payout.id.startswith("tr_") and payout.object == "transfer"
    assert (payout.amount, payout.amount_reversed, payout.currency, payout.reversed) == (4000, 0, "gbp", False)
    assert (payout.destination, payout.source_transaction, payout.transfer_group) == (tutor.id, charge_id,
                                                                                      "booking:42")
    assert payout.reversals.object == "list" and payout.reversals.data == []
    assert payout.livemode is False and payout.metadata.to_dict() == {"booking_id": "42"}
    replay = stripe_client.v1.transfers.create(
        params={"amount": 4000, "currency": "gbp", "destination": tutor.id, "source_transaction": charge_id,
                "transfer_group": "booking:42", "metadata": {"booking_id": "42"}},
        options={"idempotency_key": "booking:42:transfer"})
    assert replay.id == payout.id
    webhook_receiver.wait_for("transfer.created", id=payout.id)

    bonus = stripe_client.v1.transfers.create(params={"amount": 500, "currency": "gbp", "destination": tutor.id,
                                                      "transfer_group": "booking:42"})
    assert bonus.source_transaction is None
    assert stripe_client.v1.transfers.retrieve(payout.id).amount == 4000
    grouped = stripe_client.v1.transfers.list(params={"transfer_group": "booking:42"})
    assert [t.id for t in grouped.data] == [bonus.id, payout.id]  # newest first
    assert len(stripe_client.v1.transfers.list(params={"destination": "acct_other"}).data) == 0

    with pytest.raises(stripe.InvalidRequestError) as raised:  # only £10 of the charge is left
        stripe_client.v1.transfers.create(params={"amount": 1001, "currency": "gbp", "destination": tutor.id,
                                                  "source_transaction": charge_id})
    assert raised.value.param == "amount"


def test_a_transfer_to_an_account_that_has_not_onboarded_is_refused(stripe_client):
    account = stripe_client.v1.accounts.create(params={"type": "express", "country": "GB",
                                                       "capabilities": {"transfers": {"requested": True}}})
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.transfers.create(params={"amount": 100, "currency": "gbp", "destination": account.id})
    assert raised.value.http_status == 400
    assert (raised.value.code, raised.value.param) == ("insufficient_capabilities_for_transfer", "destination")


def test_a_transfer_needs_funds(stripe_client, local_stripe_server):
    tutor = _onboarded_account(stripe_client, local_stripe_server)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.transfers.create(params={"amount": 100, "currency": "gbp", "destination": tutor.id})
    assert raised.value.code == "balance_insufficient"


def test_reversals_never_exceed_what_remains(stripe_client, local_stripe_server, webhook_receiver):
    tutor = _onboarded_account(stripe_client, local_stripe_server)
    session = _paid_session(stripe_client)
    stripe_client.v1.payment_intents.capture(session.payment_intent)
    transfer = stripe_client.v1.transfers.create(params={
        "amount": 4000, "currency": "gbp", "destination": tutor.id,
        "source_transaction": _charge_id(stripe_client, session.payment_intent)})

    reversal = stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 1500})
    assert reversal.id.startswith("trr_") and reversal.object == "transfer_reversal"
    assert (reversal.amount, reversal.transfer, reversal.currency) == (1500, transfer.id, "gbp")
    webhook_receiver.wait_for("transfer.reversed", id=transfer.id)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 2501})
    assert (raised.value.code, raised.value.param) == ("amount_too_large", "amount")

    rest = stripe_client.v1.transfers.reversals.create(transfer.id)  # defaults to what remains
    assert rest.amount == 2500
    after = stripe_client.v1.transfers.retrieve(transfer.id)
    assert (after.amount_reversed, after.reversed, after.reversals.total_count) == (4000, True, 2)
    listed = stripe_client.v1.transfers.reversals.list(transfer.id)
    assert [r.id for r in listed.data] == [rest.id, reversal.id]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})


# --- errors, reset, isolation ----------------------------------------------------------------------

def test_errors_have_stripes_shape_and_map_to_sdk_exceptions(stripe_client, local_stripe_server):
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        stripe_client.v1.checkout.sessions.create(params=_session_params(allow_promotion_codes=True))
    assert (unknown.value.http_status, unknown.value.code, unknown.value.param) == (
        400, "parameter_unknown", "allow_promotion_codes")
    assert unknown.value.error.type == "invalid_request_error"

    with pytest.raises(stripe.InvalidRequestError) as missing:
        stripe_client.v1.transfers.create(params={"amount": 100, "currency": "gbp"})
    assert (missing.value.code, missing.value.param) == ("parameter_missing", "destination")

    with pytest.raises(stripe.InvalidRequestError) as not_found:
        stripe_client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert (not_found.value.http_status, not_found.value.code) == (404, "resource_missing")
    assert "pi_doesnotexist" in not_found.value.user_message
    assert not_found.value.request_id.startswith("req_")

    with pytest.raises(stripe.InvalidRequestError) as unrouted:
        stripe_client.v1.prices.retrieve("price_123")
    assert unrouted.value.http_status == 404 and "Unrecognized request URL" in unrouted.value.user_message

    with pytest.raises(stripe.AuthenticationError):
        make_stripe_client(local_stripe_server, api_key="pk_test_not_a_secret_key").v1.accounts.list()


def test_reset_forgets_objects_events_keys_and_webhooks(stripe_client, local_stripe_server, webhook_receiver):
    session = stripe_client.v1.checkout.sessions.create(params=_session_params(),
                                                        options={"idempotency_key": "reused"})
    stripe_client.v1.checkout.sessions.expire(session.id)
    webhook_receiver.wait_for("checkout.session.expired")
    assert stripe_client.v1.events.list().data

    local_stripe_server.reset()

    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert stripe_client.v1.events.list().data == []
    other = stripe_client.v1.checkout.sessions.create(params=_session_params(client_reference_id="9"),
                                                      options={"idempotency_key": "reused"})
    assert other.id != session.id
    stripe_client.v1.checkout.sessions.expire(other.id)
    time.sleep(0.5)
    assert webhook_receiver.types() == ["checkout.session.expired"]  # nothing delivered after the reset


def test_state_stays_in_memory(stripe_client):
    pickle = "/tmp/localstripe.pickle"
    before = os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None
    _paid_session(stripe_client)
    after = os.stat(pickle).st_mtime_ns if os.path.exists(pickle) else None
    assert after == before


def test_the_hosted_page_names_its_own_icon_so_a_browser_never_asks_the_api_for_favicon(stripe_client):
    # Without one Chromium fetched /favicon.ico, which the API answered 401: an error in every checkout's console.
    session = stripe_client.v1.checkout.sessions.create(params=_session_params())
    page = requests.get(session.url, timeout=10)
    assert '<link rel="icon" href="data:,">' in page.text


def test_a_canceled_payment_intent_cannot_be_captured(stripe_client):
    """Stripe refuses to capture a canceled PaymentIntent (localstripe alone would capture its charge)."""
    import stripe as stripe_sdk
    pi = stripe_client.v1.payment_intents.create(params={
        "amount": 4000, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True,
        "capture_method": "manual", "payment_method_types": ["card"]})
    assert pi.status == "requires_capture"
    stripe_client.v1.payment_intents.cancel(pi.id)
    with pytest.raises(stripe_sdk.InvalidRequestError) as refused:
        stripe_client.v1.payment_intents.capture(pi.id)
    assert refused.value.code == "payment_intent_unexpected_state"
    assert stripe_client.v1.payment_intents.retrieve(pi.id).status == "canceled"


def test_cancelling_a_captured_or_canceled_payment_intent_names_its_state(stripe_client):
    """Stripe refuses with payment_intent_unexpected_state (releasing an authorization treats a capture that came
    first as a conflict by that code); localstripe alone answered a bare "Bad request"."""
    import stripe as stripe_sdk
    params = {"amount": 4000, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True,
              "capture_method": "manual", "payment_method_types": ["card"]}
    captured = stripe_client.v1.payment_intents.create(params=params)
    stripe_client.v1.payment_intents.capture(captured.id)
    canceled = stripe_client.v1.payment_intents.create(params=params)
    stripe_client.v1.payment_intents.cancel(canceled.id)
    for pi_id, status in ((captured.id, "succeeded"), (canceled.id, "canceled")):
        with pytest.raises(stripe_sdk.InvalidRequestError) as refused:
            stripe_client.v1.payment_intents.cancel(pi_id)
        assert refused.value.code == "payment_intent_unexpected_state"
        assert f"has a status of {status}" in refused.value.user_message


def test_a_canceled_payment_intent_has_nothing_to_refund(stripe_client):
    """Cancelling released the authorization: Stripe refuses a refund there (localstripe alone refunded it)."""
    import stripe as stripe_sdk
    pi = stripe_client.v1.payment_intents.create(params={
        "amount": 4000, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True,
        "capture_method": "manual", "payment_method_types": ["card"]})
    stripe_client.v1.payment_intents.cancel(pi.id)
    with pytest.raises(stripe_sdk.InvalidRequestError, match="does not have a successful charge to refund"):
        stripe_client.v1.refunds.create(params={"payment_intent": pi.id})
