"""Subscriptions on the local Stripe server through the official SDK: Checkout mode=subscription, invoices, renewals
(paid and declined), cancel at period end / resume, price changes with proration, and their webhooks."""
from __future__ import annotations

import pytest
import requests
import stripe

from standins.stripe.subscriptions import add_months
from tests.stripe_fixtures import TEST_API_KEY

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _fresh_stripe(local_stripe_server):
    local_stripe_server.reset()
    yield


def _params(**overrides) -> dict:
    params = {
        "mode": "subscription",
        "line_items": [{"price_data": {"currency": "gbp", "unit_amount": 8000, "recurring": {"interval": "month"},
                                       "product_data": {"name": "Ada: 4 hours a month"}}, "quantity": 1}],
        "subscription_data": {"metadata": {"plan_id": "7", "student_id": "3"}},
        "metadata": {"plan_id": "7"},
        "customer_email": "sam@example.com",
        "success_url": "http://app.test/subscriptions?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://app.test/tutors/ada",
    }
    params.update(overrides)
    return params


def _subscribe(client, card: str = "4242424242424242"):
    session = client.v1.checkout.sessions.create(params=_params())
    response = requests.post(session.url, data={"email": "sam@example.com", "cardNumber": card},
                             allow_redirects=False, timeout=10)
    return session, response


def _subscription(client):
    session, response = _subscribe(client)
    assert response.status_code == 303
    session = client.v1.checkout.sessions.retrieve(session.id)
    return client.v1.subscriptions.retrieve(session.subscription)


def _advance(server_url: str, sub_id: str, **data) -> requests.Response:
    return requests.post(f"{server_url}/v1/test_helpers/local/subscriptions/{sub_id}/advance", data=data,
                         auth=(TEST_API_KEY, ""), timeout=10)


def test_checkout_in_subscription_mode_makes_customer_subscription_and_a_paid_invoice(stripe_client,
                                                                                       webhook_receiver):
    session, response = _subscribe(stripe_client)

    assert response.headers["Location"] == f"http://app.test/subscriptions?session_id={session.id}"
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    assert (done.mode, done.status, done.payment_status, done.payment_intent) == (
        "subscription", "complete", "paid", None)
    assert done.customer.startswith("cus_") and done.invoice.startswith("in_")
    sub = stripe_client.v1.subscriptions.retrieve(done.subscription)
    assert (sub.object, sub.status, sub.customer, sub.cancel_at_period_end) == (
        "subscription", "active", done.customer, False)
    assert sub.metadata.to_dict() == {"plan_id": "7", "student_id": "3"}
    item = sub["items"].data[0]
    assert item.price.unit_amount == 8000 and item.price.recurring.interval == "month"
    assert item.current_period_end == add_months(item.current_period_start, 1)
    invoice = stripe_client.v1.invoices.retrieve(done.invoice)
    assert (invoice.status, invoice.billing_reason, invoice.amount_paid) == ("paid", "subscription_create", 8000)
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.parent.subscription_details.metadata.to_dict()["plan_id"] == "7"
    assert (invoice.period_start, invoice.period_end) == (item.current_period_start, item.current_period_end)
    webhook_receiver.wait_for("checkout.session.completed", id=session.id)
    webhook_receiver.wait_for("invoice.paid", id=invoice.id)
    webhook_receiver.wait_for("customer.subscription.created", id=sub.id)


def test_checkout_subscription_mode_refuses_one_time_prices_and_payment_intent_data(stripe_client):
    one_time = _params(line_items=[{"price_data": {"currency": "gbp", "unit_amount": 8000,
                                                   "product_data": {"name": "x"}}, "quantity": 1}])
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.checkout.sessions.create(params=one_time)
    with pytest.raises(stripe.InvalidRequestError, match="payment_intent_data"):
        stripe_client.v1.checkout.sessions.create(params=_params(payment_intent_data={"capture_method": "manual"}))


def test_a_declined_card_leaves_the_subscription_checkout_open(stripe_client):
    session, response = _subscribe(stripe_client, card="4000000000000002")

    assert response.status_code == 200 and "Your card was declined." in response.text
    assert stripe_client.v1.checkout.sessions.retrieve(session.id).status == "open"
    assert stripe_client.v1.subscriptions.list().data == []


def test_advancing_renews_with_a_paid_cycle_invoice(stripe_client, local_stripe_server, webhook_receiver):
    sub = _subscription(stripe_client)
    first = sub["items"].data[0]

    assert _advance(local_stripe_server.url, sub.id).status_code == 200

    renewed = stripe_client.v1.subscriptions.retrieve(sub.id)
    item = renewed["items"].data[0]
    assert item.current_period_start == first.current_period_end
    assert item.current_period_end == add_months(first.current_period_start, 2)
    invoice = stripe_client.v1.invoices.retrieve(renewed.latest_invoice)
    assert (invoice.status, invoice.billing_reason, invoice.amount_paid) == ("paid", "subscription_cycle", 8000)
    assert invoice.period_start == first.current_period_end
    webhook_receiver.wait_for("invoice.paid", id=invoice.id)
    updated = webhook_receiver.wait_for("customer.subscription.updated", id=sub.id)
    assert "items" in updated.data.previous_attributes
    assert [i.id for i in stripe_client.v1.invoices.list(params={"subscription": sub.id}).data][0] == invoice.id


def test_a_declined_renewal_makes_the_subscription_past_due_until_the_invoice_is_paid(
        stripe_client, local_stripe_server, webhook_receiver):
    sub = _subscription(stripe_client)

    local_stripe_server.advance_subscription(sub.id, renewal="declined")

    past_due = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert past_due.status == "past_due"
    invoice = stripe_client.v1.invoices.retrieve(past_due.latest_invoice)
    assert (invoice.status, invoice.attempt_count, invoice.amount_paid) == ("open", 1, 0)
    webhook_receiver.wait_for("invoice.payment_failed", id=invoice.id)
    webhook_receiver.wait_for("customer.subscription.updated", id=sub.id, status="past_due")
    with pytest.raises(stripe.CardError):
        stripe_client.v1.invoices.pay(invoice.id)

    paid = stripe_client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    assert paid.status == "paid"
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    webhook_receiver.wait_for("invoice.paid", id=invoice.id)


def test_cancel_at_period_end_then_resume_then_cancel_ends_it_at_the_period_end(
        stripe_client, local_stripe_server, webhook_receiver):
    sub = _subscription(stripe_client)
    period_end = sub["items"].data[0].current_period_end

    ending = stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert (ending.status, ending.cancel_at_period_end, ending.cancel_at) == ("active", True, period_end)
    event = webhook_receiver.wait_for("customer.subscription.updated", id=sub.id, cancel_at_period_end=True)
    assert event.data.previous_attributes.cancel_at_period_end is False

    resumed = stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert (resumed.cancel_at_period_end, resumed.cancel_at, resumed.canceled_at) == (False, None, None)

    stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    local_stripe_server.advance_subscription(sub.id)
    ended = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", period_end)
    webhook_receiver.wait_for("customer.subscription.deleted", id=sub.id)
    assert len(stripe_client.v1.invoices.list(params={"subscription": sub.id}).data) == 1  # no renewal billed
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": False})
    assert _advance(local_stripe_server.url, sub.id).status_code == 400


def test_an_upgrade_billed_at_once_invoices_the_prorated_difference(stripe_client, webhook_receiver):
    sub = _subscription(stripe_client)
    item = sub["items"].data[0]

    changed = stripe_client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": item.id, "price_data": {"currency": "gbp", "unit_amount": 16000, "product": item.price.product,
                                                 "recurring": {"interval": "month"}}}],
        "proration_behavior": "always_invoice"})

    assert changed["items"].data[0].price.unit_amount == 16000
    invoice = stripe_client.v1.invoices.retrieve(changed.latest_invoice)
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    amounts = [line.amount for line in invoice.lines.data]
    assert all(line.parent.subscription_item_details.proration for line in invoice.lines.data)
    assert amounts[0] < 0 < amounts[1] and invoice.amount_paid == sum(amounts)
    assert 7900 <= invoice.amount_paid <= 8000  # just subscribed: almost the whole period is left
    webhook_receiver.wait_for("invoice.paid", id=invoice.id)
    event = webhook_receiver.wait_for("customer.subscription.updated", id=sub.id)
    assert event.data.previous_attributes["items"].data[0].price.unit_amount == 8000


def test_create_prorations_bills_the_change_with_the_next_renewal(stripe_client, local_stripe_server):
    sub = _subscription(stripe_client)
    item = sub["items"].data[0]
    stripe_client.v1.subscriptions.update(sub.id, params={
        "items": [{"id": item.id, "price_data": {"currency": "gbp", "unit_amount": 4000, "product": item.price.product,
                                                 "recurring": {"interval": "month"}}}]})

    local_stripe_server.advance_subscription(sub.id)

    renewal = stripe_client.v1.invoices.retrieve(stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice)
    assert len(renewal.lines.data) == 3 and renewal.lines.data[-1].amount == 4000
    amounts = [line.amount for line in renewal.lines.data]
    assert amounts[0] < -7900 and 3900 < amounts[1] <= 4000  # nearly the whole period was left at the change
    assert renewal.amount_due == max(sum(amounts), 0) < 4000  # the downgrade's credit lowers the renewal


def test_a_price_change_needs_a_known_item_and_product(stripe_client):
    sub = _subscription(stripe_client)
    item = sub["items"].data[0]
    price = {"currency": "gbp", "unit_amount": 4000, "product": item.price.product, "recurring": {"interval": "month"}}
    with pytest.raises(stripe.InvalidRequestError, match="subscription_item"):
        stripe_client.v1.subscriptions.update(sub.id, params={"items": [{"id": "si_nope", "price_data": price}]})
    with pytest.raises(stripe.InvalidRequestError, match="product"):
        stripe_client.v1.subscriptions.update(sub.id, params={
            "items": [{"id": item.id, "price_data": dict(price, product="prod_nope")}]})
    with pytest.raises(stripe.InvalidRequestError, match="proration_behavior"):
        stripe_client.v1.subscriptions.update(sub.id, params={"proration_behavior": "sometimes"})


def test_the_dev_page_advances_a_subscription(stripe_client, local_stripe_server):
    sub = _subscription(stripe_client)
    page = requests.get(f"{local_stripe_server.url}/_local/subscriptions", timeout=10)
    assert sub.id in page.text

    done = requests.post(f"{local_stripe_server.url}/_local/subscriptions/{sub.id}/advance",
                         data={"renewal": "declined"}, timeout=10)

    assert done.status_code == 200 and "past_due" in done.text
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"


def test_an_invoice_is_paid_by_a_refundable_payment_listed_in_invoice_payments(stripe_client):
    sub = _subscription(stripe_client)
    payments = stripe_client.v1.invoice_payments.list(params={"invoice": sub.latest_invoice}).data
    assert [(p.object, p.amount_paid, p.status, p.payment.type) for p in payments] == [
        ("invoice_payment", 8000, "paid", "payment_intent")]
    pi = stripe_client.v1.payment_intents.retrieve(payments[0].payment.payment_intent)
    assert (pi.status, pi.amount_received, pi.customer) == ("succeeded", 8000, sub.customer)
    refund = stripe_client.v1.refunds.create(params={"payment_intent": pi.id, "amount": 8000})
    assert (refund.status, refund.amount) == ("succeeded", 8000)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.invoice_payments.list(params={"invoice": "in_nope"})


def test_checkout_in_setup_mode_saves_a_card_that_can_pay_a_past_due_invoice(stripe_client, local_stripe_server,
                                                                            webhook_receiver):
    sub = _subscription(stripe_client)
    _advance(local_stripe_server.url, sub.id, renewal="declined")
    past_due = stripe_client.v1.subscriptions.retrieve(sub.id)
    assert past_due.status == "past_due"
    invoice = stripe_client.v1.invoices.retrieve(past_due.latest_invoice)
    assert invoice.status == "open" and invoice.last_payment_error.code == "card_declined"

    session = stripe_client.v1.checkout.sessions.create(params={
        "mode": "setup", "customer": sub.customer, "payment_method_types": ["card"],
        "setup_intent_data": {"metadata": {"subscription_id": "5"}}, "metadata": {"subscription_id": "5"},
        "success_url": "http://app.test/card?session_id={CHECKOUT_SESSION_ID}", "cancel_url": "http://app.test/x"})
    assert (session.mode, session.status, session.setup_intent, session.amount_total) == ("setup", "open", None, 0)
    page = requests.get(session.url, timeout=10).text
    assert "Save card" in page and "You will not be charged now." in page
    refused = requests.post(session.url, data={"email": "sam@example.com", "cardNumber": "4000000000000002"},
                            allow_redirects=False, timeout=10)
    assert refused.status_code == 200 and "Your card was declined." in refused.text
    saved = requests.post(session.url, data={"email": "sam@example.com", "cardNumber": "4000000000000341"},
                          allow_redirects=False, timeout=10)
    assert saved.headers["Location"] == f"http://app.test/card?session_id={session.id}"
    done = stripe_client.v1.checkout.sessions.retrieve(session.id)
    seti = stripe_client.v1.setup_intents.retrieve(done.setup_intent)
    assert (done.status, seti.status, seti.customer, seti.metadata.to_dict()) == (
        "complete", "succeeded", sub.customer, {"subscription_id": "5"})
    webhook_receiver.wait_for("checkout.session.completed", id=session.id)

    updated = stripe_client.v1.subscriptions.update(sub.id, params={"default_payment_method": seti.payment_method})
    assert updated.default_payment_method == seti.payment_method
    with pytest.raises(stripe.CardError) as declined:  # 0341 saves, then declines when charged
        stripe_client.v1.invoices.pay(invoice.id)
    assert declined.value.code == "card_declined" and "declined" in declined.value.user_message
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "past_due"

    good = stripe_client.v1.checkout.sessions.create(params={
        "mode": "setup", "customer": sub.customer, "payment_method_types": ["card"],
        "success_url": "http://app.test/card", "cancel_url": "http://app.test/x"})
    requests.post(good.url, data={"email": "sam@example.com", "cardNumber": "4242424242424242"}, timeout=10,
                  allow_redirects=False)
    pm = stripe_client.v1.setup_intents.retrieve(
        stripe_client.v1.checkout.sessions.retrieve(good.id).setup_intent).payment_method
    stripe_client.v1.subscriptions.update(sub.id, params={"default_payment_method": pm})
    paid = stripe_client.v1.invoices.pay(invoice.id)
    assert (paid.status, paid.amount_paid) == ("paid", 8000)
    assert stripe_client.v1.subscriptions.retrieve(sub.id).status == "active"
    webhook_receiver.wait_for("invoice.paid", id=invoice.id)
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.subscriptions.update(sub.id, params={"default_payment_method": "pm_card_visa"})
