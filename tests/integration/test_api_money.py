"""The JSON API's prepaid minutes, subscriptions and PayPal, against the local Stripe and PayPal stand-ins: a tutor's
packages and plans (public), buying a package (idempotent by Idempotency-Key), the wallet (yours only), subscribing,
cancelling at period end, resuming and changing plan (409 for what is already so), and paying for a lesson with
PayPal then completing it; every operation's auth failures and bad input."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_for, login
from tests.integration.test_payments import book
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking, PackagePurchase, PayPalOrder, Subscription
from webapp.services import accounts, approvals, minute_payments, packages, subscriptions, wallet


def now() -> datetime:
    return datetime.now(UTC)


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {accounts.issue_api_token(user)[0]}"}


def _wait(world, event_type: str, count: int = 1, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while world.receiver.types().count(event_type) < count:
        assert time.monotonic() < deadline, f"no {count}× {event_type}; got {world.receiver.types()}"
        time.sleep(0.05)


def _error(response) -> dict:
    return response.get_json()["error"]


# --- a tutor's packages and plans ------------------------------------------------------------------

def test_a_tutors_packages_and_plans_are_public_and_a_student_sees_their_own_minutes(app, client):
    teacher, _ = factories.tutor(rate_minor=4000)
    package = packages.add_package(teacher, 10, 10)
    plan = subscriptions.add_plan(teacher, 240, 8000)
    student = factories.user("student")
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=90, source="package",
                         source_ref="cs_test_public", expires_at=None)

    anonymous = client.get(f"/api/tutors/{teacher.id}/packages")
    assert anonymous.status_code == 200
    assert anonymous.get_json() == {"tutor_id": teacher.id, "balance": None, "packages": [
        {"id": package.id, "hours": 10, "minutes": 600, "discount_percent": 10, "price_minor": 36000,
         "full_price_minor": 40000, "currency": "GBP"}]}
    mine = client.get(f"/api/tutors/{teacher.id}/packages", headers=bearer(student)).get_json()
    assert mine["balance"] == {"available_minutes": 90, "held_minutes": 0}
    # Someone else's minutes are not shown to another student.
    other = client.get(f"/api/tutors/{teacher.id}/packages", headers=bearer(factories.user("student"))).get_json()
    assert other["balance"] == {"available_minutes": 0, "held_minutes": 0}

    plans = client.get(f"/api/tutors/{teacher.id}/plans").get_json()
    assert plans == {"tutor_id": teacher.id, "subscription_id": None, "plans": [
        {"id": plan.id, "tutor_id": teacher.id, "minutes": 240, "price_minor": 8000, "currency": "GBP"}]}


def test_packages_and_plans_of_no_tutor_are_404_and_a_bad_token_is_401(app, client):
    student = factories.user("student")
    for path in ("packages", "plans"):
        assert client.get(f"/api/tutors/{student.id}/{path}").status_code == 404
        assert client.get(f"/api/tutors/999999/{path}").status_code == 404
        teacher, _ = factories.tutor()
        bad = client.get(f"/api/tutors/{teacher.id}/{path}", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and "bearer token" in _error(bad)["message"]


# --- buying a package --------------------------------------------------------------------------------

def test_buying_a_package_returns_checkout_and_the_same_key_is_the_same_purchase(app, client, stripe_world):
    teacher, _ = factories.tutor(rate_minor=4000)
    package = packages.add_package(teacher, 5, 10)
    student = factories.user("student")
    auth = {**bearer(student), "Idempotency-Key": "buy-key-0001"}

    first = client.post(f"/api/packages/{package.id}/purchases", headers=auth)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["checkout_url"] and body["state"] == "open" and body["tutor_id"] == teacher.id
    assert (body["minutes"], body["price_minor"], body["currency"]) == (300, 18000, "GBP")
    assert first.headers["Location"] == f"/api/purchases/{body['id']}"
    again = client.post(f"/api/packages/{package.id}/purchases", headers=auth).get_json()
    assert (again["id"], again["checkout_url"]) == (body["id"], body["checkout_url"])  # a retry: one purchase
    db.session.rollback()
    assert len(db.session.scalars(select(PackagePurchase)).all()) == 1

    # Paid on Stripe's page: the webhook grants the minutes, the purchase says so, and a retry opens no page.
    assert stripe_world.pay(body["checkout_url"]).status_code == 303
    _wait(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client)
    paid = client.get(first.headers["Location"], headers=auth).get_json()
    assert paid["state"] == "paid" and paid["paid_at"]
    after = client.post(f"/api/packages/{package.id}/purchases", headers=auth).get_json()
    assert after["id"] == body["id"] and after["checkout_url"] is None
    assert wallet.balance(student.id, teacher.id).available == 300

    # Without a key every call is a new purchase (a new Checkout page).
    fresh = client.post(f"/api/packages/{package.id}/purchases", headers=bearer(student)).get_json()
    assert fresh["id"] != body["id"] and fresh["checkout_url"]


def test_buying_refuses_what_a_client_can_send_wrong(app, client, stripe_world):
    teacher, _ = factories.tutor()
    package = packages.add_package(teacher, 5, 0)
    other = packages.add_package(teacher, 10, 0)
    student = factories.user("student")
    url = f"/api/packages/{package.id}/purchases"

    assert client.post(url).status_code == 401
    assert client.post(url, headers=bearer(teacher)).status_code == 403
    assert client.post("/api/packages/999999/purchases", headers=bearer(student)).status_code == 404
    for key in ("short", "has spaces in it", "x" * 65):
        bad = client.post(url, headers={**bearer(student), "Idempotency-Key": key})
        assert bad.status_code == 422 and "Idempotency-Key" in _error(bad)["fields"], key
    keyed = {**bearer(student), "Idempotency-Key": "buy-key-0002"}
    assert client.post(url, headers=keyed).status_code == 201
    reused = client.post(f"/api/packages/{other.id}/purchases", headers=keyed)
    assert reused.status_code == 409 and "another package" in _error(reused)["message"]
    packages.remove_package(teacher, other.id)
    gone = client.post(f"/api/packages/{other.id}/purchases", headers=bearer(student))
    assert gone.status_code == 404 and "no longer offered" in _error(gone)["message"]


def test_a_purchase_is_seen_only_by_its_buyer(app, client, stripe_world):
    teacher, _ = factories.tutor()
    package = packages.add_package(teacher, 5, 0)
    student = factories.user("student")
    made = client.post(f"/api/packages/{package.id}/purchases", headers=bearer(student)).get_json()
    assert client.get(f"/api/purchases/{made['id']}", headers=bearer(student)).status_code == 200
    assert client.get(f"/api/purchases/{made['id']}", headers=bearer(factories.user("student"))).status_code == 404
    assert client.get(f"/api/purchases/{made['id']}", headers=bearer(teacher)).status_code == 403
    assert client.get(f"/api/purchases/{made['id']}").status_code == 401


def test_a_session_cookie_purchase_needs_the_csrf_header(app, client, stripe_world):
    teacher, _ = factories.tutor()
    package = packages.add_package(teacher, 5, 0)
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    refused = client.post(f"/api/packages/{package.id}/purchases")
    assert refused.status_code == 400 and "form token is missing" in _error(refused)["message"]
    made = client.post(f"/api/packages/{package.id}/purchases", headers={"X-CSRFToken": csrf_for(client)})
    assert made.status_code == 201


# --- the wallet -----------------------------------------------------------------------------------

def test_the_wallet_shows_balances_from_the_ledger_lots_with_expiry_and_recent_moves(app, client):
    booking = book()
    student, teacher = booking.booker, booking.lesson.tutor
    soon, later = now() + timedelta(days=30), now() + timedelta(days=180)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=60, source="package",
                         source_ref="cs_test_soon", expires_at=soon)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=120, source="subscription",
                         source_ref="in_test_later", expires_at=later)
    minute_payments.pay_with_minutes(student, booking.id, now())

    response = client.get("/api/wallet", headers=bearer(student))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["balances"] == [{"tutor": {"id": teacher.id, "name": teacher.name}, "available_minutes": 120,
                                 "held_minutes": 60, "next_expiry": soon.isoformat()}]
    # Held minutes are still the student's (a decline returns them), in the lot that expires first.
    assert [(lot["source"], lot["minutes"], lot["remaining_minutes"], lot["expires_at"]) for lot in body["lots"]] == [
        ("package", 60, 60, soon.isoformat()), ("subscription", 120, 120, later.isoformat())]
    moves = [(t["move"], t["minutes"], t["available_change"], t["held_change"], t["booking_id"])
             for t in body["transactions"]]
    assert moves == [("hold", 60, -60, 60, booking.id), ("grant", 120, 120, 0, None), ("grant", 60, 60, 0, None)]
    assert client.get("/api/wallet?limit=1", headers=bearer(student)).get_json()["transactions"][0]["move"] == "hold"

    # Approval posts the hold: the first lot is spent, and the wallet says so.
    approvals.approve(teacher, booking.id, now())
    body = client.get("/api/wallet", headers=bearer(student)).get_json()
    assert (body["balances"][0]["available_minutes"], body["balances"][0]["held_minutes"]) == (120, 0)
    assert body["balances"][0]["next_expiry"] == later.isoformat()
    assert [lot["source"] for lot in body["lots"]] == ["subscription"]
    assert (body["transactions"][0]["move"], body["transactions"][0]["available_change"],
            body["transactions"][0]["held_change"]) == ("post", 0, -60)


def test_a_wallet_is_only_ever_your_own(app, client):
    teacher, _ = factories.tutor()
    student = factories.user("student")
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=60, source="package",
                         source_ref="cs_test_own", expires_at=None)
    assert client.get("/api/wallet", headers=bearer(factories.user("student"))).get_json() == {
        "balances": [], "lots": [], "transactions": []}
    assert client.get("/api/wallet", headers=bearer(factories.user("parent"))).status_code == 200
    assert client.get("/api/wallet").status_code == 401
    assert client.get("/api/wallet", headers=bearer(teacher)).status_code == 403
    for limit in ("0", "101", "abc", "1.5"):
        bad = client.get(f"/api/wallet?limit={limit}", headers=bearer(student))
        assert bad.status_code == 422 and "limit" in _error(bad)["fields"], limit


# --- subscriptions --------------------------------------------------------------------------------

def _subscribed(world, client, student, plan) -> dict:
    """Subscribe through the API, pay on the stand-in's Checkout and apply Stripe's webhooks."""
    started = client.post(f"/api/plans/{plan.id}/subscriptions",
                          headers={**bearer(student), "Idempotency-Key": "subscribe-0001"})
    assert started.status_code == 201, started.get_json()
    assert world.pay(started.get_json()["checkout_url"]).status_code == 303
    _wait(world, "invoice.paid")
    _wait(world, "checkout.session.completed")
    world.deliver(client)
    items = client.get("/api/subscriptions", headers=bearer(student)).get_json()["subscriptions"]
    assert len(items) == 1
    return items[0]


def test_subscribe_cancel_resume_and_change_plan_through_the_api(app, client, stripe_world):
    teacher, _ = factories.tutor(rate_minor=4000)
    small = subscriptions.add_plan(teacher, 240, 8000)
    large = subscriptions.add_plan(teacher, 480, 15000)
    cheaper = subscriptions.add_plan(teacher, 120, 4500)
    student = factories.user("student")
    auth = bearer(student)

    item = _subscribed(stripe_world, client, student, small)
    assert (item["status"], item["plan"]["id"], item["cancel_at_period_end"], item["minutes_left"]) == (
        "active", small.id, False, 240)
    assert {(c["plan"]["id"], c["takes_effect"]) for c in item["plan_choices"]} == {
        (large.id, "now"), (cheaper.id, "next_renewal")}
    assert client.get(f"/api/tutors/{teacher.id}/plans", headers=auth).get_json()["subscription_id"] == item["id"]
    again = client.post(f"/api/plans/{large.id}/subscriptions", headers=auth)
    assert again.status_code == 409 and "already subscribe" in _error(again)["message"]

    base = f"/api/subscriptions/{item['id']}"
    cancelled = client.post(f"{base}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_at_period_end"] is True
    twice = client.post(f"{base}/cancel", headers=auth)
    assert twice.status_code == 409 and "already cancelled" in _error(twice)["message"]
    resumed = client.post(f"{base}/resume", headers=auth)
    assert resumed.status_code == 200 and resumed.get_json()["cancel_at_period_end"] is False
    not_cancelled = client.post(f"{base}/resume", headers=auth)
    assert not_cancelled.status_code == 409 and "nothing to resume" in _error(not_cancelled)["message"]

    # A dearer plan at once, billed prorated: that invoice grants the extra minutes for what is left of the period.
    seen = stripe_world.receiver.types().count("invoice.paid")
    upgraded = client.post(f"{base}/change", json={"plan_id": large.id}, headers=auth)
    assert upgraded.status_code == 200, upgraded.get_json()
    assert upgraded.get_json()["plan"]["id"] == large.id
    _wait(stripe_world, "invoice.paid", seen + 1)
    stripe_world.deliver(client)
    assert 240 < wallet.balance(student.id, teacher.id).available <= 480
    same = client.post(f"{base}/change", json={"plan_id": large.id}, headers=auth)
    assert same.status_code == 409 and "already on that plan" in _error(same)["message"]
    db.session.rollback()
    assert db.session.get(Subscription, item["id"]).plan_id == large.id


def test_subscription_operations_refuse_others_and_bad_input(app, client, stripe_world):
    teacher, _ = factories.tutor(rate_minor=4000)
    plan = subscriptions.add_plan(teacher, 240, 8000)
    other_tutor, _ = factories.tutor(rate_minor=4000)
    foreign = subscriptions.add_plan(other_tutor, 240, 8000)
    student = factories.user("student")
    item = _subscribed(stripe_world, client, student, plan)
    base = f"/api/subscriptions/{item['id']}"
    stranger = bearer(factories.user("student"))

    for action in ("cancel", "resume"):
        assert client.post(f"{base}/{action}").status_code == 401
        assert client.post(f"{base}/{action}", headers=bearer(teacher)).status_code == 403
        assert client.post(f"{base}/{action}", headers=stranger).status_code == 404
    assert client.post(f"{base}/change", json={"plan_id": plan.id}, headers=stranger).status_code == 404
    assert client.get("/api/subscriptions", headers=stranger).get_json() == {"subscriptions": []}
    assert client.get("/api/subscriptions").status_code == 401
    assert client.get("/api/subscriptions", headers=bearer(teacher)).status_code == 403
    assert client.post(f"/api/plans/{plan.id}/subscriptions", headers=bearer(teacher)).status_code == 403
    assert client.post("/api/plans/999999/subscriptions", headers=bearer(student)).status_code == 404

    auth = bearer(student)
    for body, field in (({"plan_id": "1"}, "plan_id"), ({}, "plan_id"), ({"plan_id": 0}, "plan_id"),
                        ({"plan_id": plan.id, "extra": 1}, "extra")):
        bad = client.post(f"{base}/change", json=body, headers=auth)
        assert bad.status_code == 422 and field in _error(bad)["fields"], body
    assert client.post(f"{base}/change", data="{", content_type="application/json", headers=auth).status_code == 400
    elsewhere = client.post(f"{base}/change", json={"plan_id": foreign.id}, headers=auth)
    assert elsewhere.status_code == 404 and "no longer offered" in _error(elsewhere)["message"]
    bad_key = client.post(f"{base}/cancel", headers={**auth, "Idempotency-Key": "no"})
    assert bad_key.status_code == 422 and "Idempotency-Key" in _error(bad_key)["fields"]


# --- PayPal ---------------------------------------------------------------------------------------

def test_paying_with_paypal_through_the_api_then_completing_holds_the_booking(app, client, paypal_world):
    booking = book()
    auth = bearer(booking.booker)
    answer = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "paypal"}, headers=auth)
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["method"], body["status"]) == ("paypal", "requires_approval")
    assert body["approve_url"].endswith(f"token={body['order_id']}")
    again = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "paypal"}, headers=auth)
    assert again.get_json()["order_id"] == body["order_id"]  # the open order again, not a second one

    early = client.post("/api/payments/paypal/complete", json={"booking_id": booking.id, "order_id": body["order_id"]},
                        headers=auth)
    assert early.status_code == 409 and "not confirmed your approval" in _error(early)["message"]

    back = paypal_world.approve(body["approve_url"])
    assert back.status_code == 303
    assert urlsplit(back.headers["Location"]).path == f"/bookings/{booking.id}/paypal/return"
    token = parse_qs(urlsplit(back.headers["Location"]).query)["token"][0]
    done = client.post("/api/payments/paypal/complete", json={"booking_id": booking.id, "order_id": token},
                       headers=auth)
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["state"], done.get_json()["funding"]) == (BookingState.REQUIRES_CAPTURE, "paypal")
    # A PayPal-paid booking reads back through the API (its funding was once outside the declared choices: a 500).
    assert client.get(f"/api/bookings/{booking.id}", headers=auth).get_json()["funding"] == "paypal"
    twice = client.post("/api/payments/paypal/complete", json={"booking_id": booking.id, "order_id": token},
                        headers=auth)
    assert twice.status_code == 200 and twice.get_json()["state"] == BookingState.REQUIRES_CAPTURE
    db.session.rollback()
    assert db.session.get(PayPalOrder, db.session.scalar(select(PayPalOrder.id))).status == "AUTHORIZED"
    assert db.session.get(Booking, booking.id).receipt.provider == "paypal"


def test_paypal_through_the_api_refuses_others_and_bad_input(app, client, paypal_world):
    booking = book()
    auth = bearer(booking.booker)
    stranger = bearer(factories.user("student"))
    assert client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "paypal"},
                       headers=stranger).status_code == 404
    for body in ({"booking_id": booking.id, "method": "paypal", "payment_method": "pm_card_visa"},
                 {"booking_id": booking.id, "method": "paypal", "coupon": "NO PE!"},
                 {"booking_id": booking.id, "method": "paypl"}):
        assert client.post("/api/payments/pay", json=body, headers=auth).status_code == 422, body
    order_id = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "paypal"},
                           headers=auth).get_json()["order_id"]
    complete = "/api/payments/paypal/complete"
    assert client.post(complete, json={"booking_id": booking.id, "order_id": order_id}).status_code == 401
    assert client.post(complete, json={"booking_id": booking.id, "order_id": order_id},
                       headers=stranger).status_code == 404
    assert client.post(complete, json={"booking_id": booking.id, "order_id": "NOSUCHORDER"},
                       headers=auth).status_code == 404
    for body, field in (({"booking_id": booking.id}, "order_id"), ({"order_id": order_id}, "booking_id"),
                        ({"booking_id": booking.id, "order_id": "has space"}, "order_id"),
                        ({"booking_id": str(booking.id), "order_id": order_id}, "booking_id")):
        bad = client.post(complete, json=body, headers=auth)
        assert bad.status_code == 422 and field in _error(bad)["fields"], body


def test_paypal_is_a_409_in_words_when_it_is_not_offered(app, client):
    booking = book()
    answer = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "paypal"},
                         headers=bearer(booking.booker))
    assert answer.status_code == 409 and "PayPal is not available" in _error(answer)["message"]


# --- the document -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, method, operation_id", [
    ("/api/tutors/{tutor_id}/packages", "get", "listPackages"),
    ("/api/tutors/{tutor_id}/plans", "get", "listPlans"),
    ("/api/packages/{package_id}/purchases", "post", "buyPackage"),
    ("/api/purchases/{purchase_id}", "get", "getPurchase"),
    ("/api/wallet", "get", "getWallet"),
    ("/api/subscriptions", "get", "listSubscriptions"),
    ("/api/plans/{plan_id}/subscriptions", "post", "subscribe"),
    ("/api/subscriptions/{subscription_id}/cancel", "post", "cancelSubscription"),
    ("/api/subscriptions/{subscription_id}/resume", "post", "resumeSubscription"),
    ("/api/subscriptions/{subscription_id}/change", "post", "changeSubscriptionPlan"),
    ("/api/payments/paypal/complete", "post", "completePayPalPayment"),
    ("/api/purchases/{purchase_id}/paypal/complete", "post", "completePackagePayPal"),
    ("/api/purchases/{purchase_id}/refunds", "get", "getPackageRefunds"),
    ("/api/purchases/{purchase_id}/refunds", "post", "refundPackagePurchase"),
])
def test_the_openapi_document_lists_the_money_operations(client, path, method, operation_id):
    document = client.get("/api/openapi.json").get_json()
    operation = document["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert "401" in operation["responses"]
    if method == "post":
        assert "409" in operation["responses"]  # state conflicts are documented
    if operation_id in ("buyPackage", "subscribe", "cancelSubscription", "resumeSubscription",
                        "changeSubscriptionPlan"):
        header = next(p for p in operation["parameters"] if p["in"] == "header")
        assert header["name"] == "Idempotency-Key" and header["required"] is False


def test_the_document_states_paypal_as_a_way_to_pay(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    assert schemas["PaymentInput"]["properties"]["method"]["enum"] == ["card", "minutes", "paypal"]
    assert "requires_approval" in schemas["PaymentAnswer"]["properties"]["status"]["enum"]


def test_a_subscription_change_replayed_with_its_idempotency_key_answers_the_same_and_otherwise_409_in_words(
        app, client, stripe_world):
    teacher, _ = factories.tutor(rate_minor=4000)
    plan = subscriptions.add_plan(teacher, 240, 8000)
    cheaper = subscriptions.add_plan(teacher, 120, 4500)
    student = factories.user("student")
    item = _subscribed(stripe_world, client, student, plan)
    base = f"/api/subscriptions/{item['id']}"
    keyed = lambda key: {**bearer(student), "Idempotency-Key": key}  # noqa: E731

    cancelled = client.post(f"{base}/cancel", headers=keyed("cancel-key-01"))
    assert cancelled.status_code == 200 and cancelled.get_json()["cancel_at_period_end"] is True
    # The same request again (the answer was lost, the client retries): the same answer, nothing done twice.
    replay = client.post(f"{base}/cancel", headers=keyed("cancel-key-01"))
    assert (replay.status_code, replay.get_json()) == (200, cancelled.get_json())
    # Another key, or none, asks to cancel what is cancelled already: a 409 that says so and changes nothing.
    for headers in (keyed("cancel-key-02"), bearer(student)):
        already = client.post(f"{base}/cancel", headers=headers)
        assert already.status_code == 409 and "already cancelled" in _error(already)["message"]
        assert "Nothing changed" in _error(already)["message"]

    resumed = client.post(f"{base}/resume", headers=keyed("resume-key-01"))
    assert resumed.status_code == 200 and resumed.get_json()["cancel_at_period_end"] is False
    assert client.post(f"{base}/resume", headers=keyed("resume-key-01")).get_json() == resumed.get_json()
    nothing = client.post(f"{base}/resume", headers=keyed("resume-key-02"))
    assert nothing.status_code == 409 and "nothing to resume" in _error(nothing)["message"]

    changed = client.post(f"{base}/change", json={"plan_id": cheaper.id}, headers=keyed("change-key-01"))
    assert changed.status_code == 200 and changed.get_json()["plan"]["id"] == cheaper.id
    again = client.post(f"{base}/change", json={"plan_id": cheaper.id}, headers=keyed("change-key-01"))
    assert (again.status_code, again.get_json()) == (200, changed.get_json())
    same = client.post(f"{base}/change", json={"plan_id": cheaper.id}, headers=keyed("change-key-02"))
    assert same.status_code == 409 and "already on that plan" in _error(same)["message"]
    db.session.rollback()
    assert db.session.get(Subscription, item["id"]).plan_id == cheaper.id

