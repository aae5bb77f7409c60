"""Packages over the JSON API beyond Stripe Checkout, against the local Stripe and PayPal stand-ins: buying with PayPal
(the approval link, the same purchase and order for the same Idempotency-Key, completing after approval, the status
the purchase shows) and staff refunding a purchase (an amount, some minutes or the unused minutes' worth; the
support agents' cap; an audit row per refund; the same idempotency_key answered again, never refunded twice); every
operation's 401, 403, 404, 409 and 422 in words."""
from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from tests import factories
from tests.integration.test_package_refunds import _card_purchase, _spend
from tests.integration.test_packages import _tutor_with_package
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.models import AuditEntry, PackagePurchase, PackageRefund, PayPalOrder
from webapp.services import accounts, package_paypal, packages, wallet


def now() -> datetime:
    return datetime.now(UTC)


def bearer(user) -> dict:
    return {"Authorization": f"Bearer {accounts.issue_api_token(user)[0]}"}


def _error(response) -> dict:
    return response.get_json()["error"]


def _count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# --- buying with PayPal -------------------------------------------------------------------------------

def test_buying_a_package_with_paypal_gives_the_approval_link_and_completing_grants_the_minutes_once(
        app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=2, discount=10, rates=(3000,))
    student = factories.user("student")
    auth = {**bearer(student), "Idempotency-Key": "paypal-buy-0001"}
    url = f"/api/packages/{package.id}/purchases"

    first = client.post(url, json={"method": "paypal"}, headers=auth)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["method"], body["state"], body["checkout_url"]) == ("paypal", "open", None)
    assert (body["minutes"], body["price_minor"], body["currency"]) == (120, 5400, "GBP")
    assert "token=" in body["approve_url"] and first.headers["Location"] == f"/api/purchases/{body['id']}"
    # A double submit with the same key: the same purchase and the same PayPal order, not a second one.
    again = client.post(url, json={"method": "paypal"}, headers=auth)
    assert again.status_code == 201
    assert (again.get_json()["id"], again.get_json()["approve_url"]) == (body["id"], body["approve_url"])
    assert len(paypal_world.server.orders) == 1 and _count(PackagePurchase) == 1
    status = client.get(first.headers["Location"], headers=auth).get_json()
    assert (status["state"], status["method"], status["paid_at"]) == ("open", "paypal", None)

    order_id = body["approve_url"].split("token=", 1)[1]
    complete = f"/api/purchases/{body['id']}/paypal/complete"
    early = client.post(complete, json={"order_id": order_id}, headers=auth)
    assert early.status_code == 409 and "not confirmed your approval" in _error(early)["message"]

    back = paypal_world.approve(body["approve_url"])
    assert back.status_code == 303
    assert urlsplit(back.headers["Location"]).path == f"/minutes/purchases/{body['id']}/paypal/return"
    token = parse_qs(urlsplit(back.headers["Location"]).query)["token"][0]
    done = client.post(complete, json={"order_id": token}, headers=auth)
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["state"], done.get_json()["id"]) == ("paid", body["id"]) and done.get_json()["paid_at"]
    assert wallet.balance(student.id, teacher.id).available == 120
    # Completing twice, and the webhook's backstop after it, grant nothing more.
    twice = client.post(complete, json={"order_id": token}, headers=auth)
    assert twice.status_code == 200 and twice.get_json()["state"] == "paid"
    paypal_world.deliver(client)
    assert wallet.balance(student.id, teacher.id).available == 120 and len(paypal_world.server.captures) == 1
    assert client.get(first.headers["Location"], headers=auth).get_json()["state"] == "paid"
    # The same key once paid: the purchase, and no page to pay on.
    after = client.post(url, json={"method": "paypal"}, headers=auth).get_json()
    assert (after["id"], after["state"], after["approve_url"], after["checkout_url"]) == (body["id"], "paid", None,
                                                                                            None)


def test_buying_with_paypal_refuses_what_a_client_can_send_wrong(app, client, paypal_world, stripe_world):
    teacher, package = _tutor_with_package(hours=1, discount=0, rates=(3000,))
    student = factories.user("student")
    url = f"/api/packages/{package.id}/purchases"

    anonymous = client.post(url, json={"method": "paypal"})
    assert anonymous.status_code == 401 and "Authentication required" in _error(anonymous)["message"]
    tutor = client.post(url, json={"method": "paypal"}, headers=bearer(teacher))
    assert tutor.status_code == 403 and "student and parent" in _error(tutor)["message"]
    missing = client.post("/api/packages/999999/purchases", json={"method": "paypal"}, headers=bearer(student))
    assert missing.status_code == 404 and "no longer offered" in _error(missing)["message"]
    for payload, field in (({"method": "bitcoin"}, "method"), ({"method": 1}, "method"),
                           ({"method": "paypal", "extra": True}, "extra")):
        bad = client.post(url, json=payload, headers=bearer(student))
        assert bad.status_code == 422 and field in _error(bad)["fields"], payload
    broken = client.post(url, data="{", content_type="application/json", headers=bearer(student))
    assert broken.status_code == 400 and "not valid JSON" in _error(broken)["message"]

    # One key is one purchase paid one way: a card purchase's key cannot open a PayPal order, nor the other way.
    keyed = {**bearer(student), "Idempotency-Key": "one-way-key-01"}
    assert client.post(url, headers=keyed).status_code == 201  # no body: by card
    other_way = client.post(url, json={"method": "paypal"}, headers=keyed)
    assert other_way.status_code == 409 and "pay with a card" in _error(other_way)["message"]
    assert paypal_world.server.orders == {}

    made = client.post(url, json={"method": "paypal"}, headers=bearer(student)).get_json()
    complete = f"/api/purchases/{made['id']}/paypal/complete"
    order_id = made["approve_url"].split("token=", 1)[1]
    assert client.post(complete, json={"order_id": order_id}).status_code == 401
    assert client.post(complete, json={"order_id": order_id}, headers=bearer(teacher)).status_code == 403
    stranger = client.post(complete, json={"order_id": order_id}, headers=bearer(factories.user("student")))
    assert stranger.status_code == 404 and "could not find that purchase" in _error(stranger)["message"]
    unknown = client.post(complete, json={"order_id": "NOSUCHORDER1"}, headers=bearer(student))
    assert unknown.status_code == 404 and "PayPal payment" in _error(unknown)["message"]
    for payload, field in (({}, "order_id"), ({"order_id": "has space"}, "order_id"), ({"order_id": 12}, "order_id"),
                           ({"order_id": order_id, "more": 1}, "more")):
        bad = client.post(complete, json=payload, headers=bearer(student))
        assert bad.status_code == 422 and field in _error(bad)["fields"], payload

    # Cancelled on PayPal's page: completing afterwards takes nothing, and says so.
    package_paypal.cancel(student, made["id"], order_id, now())
    paypal_world.approve(made["approve_url"])
    closed = client.post(complete, json={"order_id": order_id}, headers=bearer(student))
    assert closed.status_code == 409 and "nothing was taken" in _error(closed)["message"]
    assert wallet.balance(student.id, teacher.id).available == 0 and paypal_world.server.captures == {}


def test_paypal_for_a_package_is_a_409_in_words_when_it_is_not_offered(app, client):
    _, package = _tutor_with_package(hours=1, discount=0, rates=(3000,))
    answer = client.post(f"/api/packages/{package.id}/purchases", json={"method": "paypal"},
                         headers=bearer(factories.user("student")))
    assert answer.status_code == 409 and "PayPal is not available" in _error(answer)["message"]
    assert _count(PackagePurchase) == 0


# --- refunds by staff -----------------------------------------------------------------------------------

def test_an_admin_refunds_an_amount_then_minutes_then_the_rest_each_audited_and_a_replay_refunds_once(
        app, client, stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)  # 60 minutes for £30.00
    admin = factories.user("admin")
    auth = bearer(admin)
    url = f"/api/purchases/{purchase.id}/refunds"

    before = client.get(url, headers=auth)
    assert before.status_code == 200, before.get_json()
    assert {k: before.get_json()[k] for k in ("unused_minutes", "refundable_minor", "refunded_minor", "currency",
                                              "refunds")} == {
        "unused_minutes": 60, "refundable_minor": 3000, "refunded_minor": 0, "currency": "GBP", "refunds": []}
    assert before.get_json()["student"] == {"id": student.id, "name": student.name}

    first = client.post(url, json={"amount_minor": 1000, "reason": "Changed plans", "idempotency_key": "api-ref-01"},
                        headers=auth)
    assert first.status_code == 201, first.get_json()
    made = first.get_json()
    assert {k: made["refund"][k] for k in ("amount_minor", "minutes", "status", "reason", "made_by_staff")} == {
        "amount_minor": 1000, "minutes": 20, "status": "succeeded", "reason": "Changed plans", "made_by_staff": True}
    assert (made["unused_minutes"], made["refundable_minor"], made["refunded_minor"]) == (40, 2000, 1000)
    assert wallet.balance(student.id, teacher.id).available == 40

    # The same request again (a retry after a lost answer): the same refund, no second Stripe refund or audit row.
    replay = client.post(url, json={"amount_minor": 1000, "reason": "Changed plans", "idempotency_key": "api-ref-01"},
                         headers=auth)
    assert replay.status_code == 201 and replay.get_json()["refund"]["id"] == made["refund"]["id"]
    assert _count(PackageRefund) == 1 and _count(AuditEntry, AuditEntry.action == "package.refund") == 1
    assert len(stripe_world.client.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id}).data) == 1
    reused = client.post(url, json={"amount_minor": 500, "idempotency_key": "api-ref-01"}, headers=auth)
    assert reused.status_code == 409 and "used for another refund" in _error(reused)["message"]

    # Some of the unused minutes, at their pro-rata worth.
    by_minutes = client.post(url, json={"minutes": 10, "idempotency_key": "api-ref-02"}, headers=auth)
    assert by_minutes.status_code == 201, by_minutes.get_json()
    assert (by_minutes.get_json()["refund"]["amount_minor"], by_minutes.get_json()["refund"]["minutes"]) == (500, 10)
    too_many = client.post(url, json={"minutes": 31}, headers=auth)
    assert too_many.status_code == 409 and "Only 30 of this purchase's minutes are unused" in _error(too_many)[
        "message"]
    assert (_error(too_many)["refundable_minutes"], _error(too_many)["refundable_minor"]) == (30, 1500)
    too_much = client.post(url, json={"amount_minor": 1501}, headers=auth)
    assert too_much.status_code == 409 and "Only £15.00 is left" in _error(too_much)["message"]
    assert _error(too_much)["refundable_minor"] == 1500

    # Nothing given: the rest of the unused minutes' worth; then nothing is left.
    rest = client.post(url, json={"reason": "Closing the account"}, headers=auth)
    assert rest.status_code == 201
    assert (rest.get_json()["refund"]["amount_minor"], rest.get_json()["refund"]["minutes"]) == (1500, 30)
    assert (rest.get_json()["unused_minutes"], rest.get_json()["refunded_minor"]) == (0, 3000)
    empty = client.post(url, json={}, headers=auth)
    assert empty.status_code == 409 and "Nothing is left to refund" in _error(empty)["message"]
    assert wallet.balance(student.id, teacher.id).available == 0
    audits = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "package.refund")
                                     .order_by(AuditEntry.id)))
    assert [(a.actor_id, a.target_id) for a in audits] == [(admin.id, student.id)] * 3
    assert [a.after["refunded_minor"] for a in audits] == [1000, 1500, 3000]
    assert [r["amount_minor"] for r in client.get(url, headers=auth).get_json()["refunds"]] == [1000, 500, 1500]


def test_a_support_agent_refunds_within_the_cap_and_is_told_the_cap_in_words_beyond_it(app, client, stripe_world,
                                                                                     monkeypatch):
    monkeypatch.setitem(app.config, "SUPPORT_REFUND_CAP_MINOR", 1000)
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)
    support = bearer(factories.user("support"))
    url = f"/api/purchases/{purchase.id}/refunds"

    over = client.post(url, json={"amount_minor": 1001}, headers=support)
    assert over.status_code == 403 and "Support agents refund up to £10.00" in _error(over)["message"]
    whole = client.post(url, json={}, headers=support)  # the whole £30.00 worth is over the cap too
    assert whole.status_code == 403 and "ask an admin" in _error(whole)["message"]
    assert _count(PackageRefund) == 0 and wallet.balance(student.id, teacher.id).available == 60
    within = client.post(url, json={"amount_minor": 1000, "reason": "Goodwill"}, headers=support)
    assert within.status_code == 201 and within.get_json()["refund"]["minutes"] == 20
    assert _count(AuditEntry, AuditEntry.action == "package.refund") == 1


def test_package_refunds_refuse_others_and_bad_input_in_words(app, client, stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)
    url = f"/api/purchases/{purchase.id}/refunds"
    admin = bearer(factories.user("admin"))

    for method in ("get", "post"):
        call = getattr(client, method)
        anonymous = call(url, json={}) if method == "post" else call(url)
        assert anonymous.status_code == 401 and "Authentication required" in _error(anonymous)["message"]
        for who in (student, teacher, factories.user("parent")):
            refused = call(url, json={}, headers=bearer(who)) if method == "post" else call(url, headers=bearer(who))
            assert refused.status_code == 403 and "admins and support agents" in _error(refused)["message"]
        missing = call("/api/purchases/999999/refunds", headers=admin, **({"json": {}} if method == "post" else {}))
        assert missing.status_code == 404 and "could not find that purchase" in _error(missing)["message"]

    unpaid = packages.start_purchase(student, purchase.package_id, "open-purchase-1", now(),
                                     success_url="http://x/{PURCHASE_ID}", cancel_url="http://x/")[0]
    for response in (client.get(f"/api/purchases/{unpaid.id}/refunds", headers=admin),
                     client.post(f"/api/purchases/{unpaid.id}/refunds", json={}, headers=admin)):
        assert response.status_code == 409 and "paid" in _error(response)["message"]

    for payload, field in (({"amount_minor": 0}, "amount_minor"), ({"amount_minor": "10"}, "amount_minor"),
                           ({"amount_minor": 10.5}, "amount_minor"), ({"minutes": 0}, "minutes"),
                           ({"minutes": True}, "minutes"), ({"reason": "x" * 201}, "reason"),
                           ({"idempotency_key": "short"}, "idempotency_key"), ({"note": "hi"}, "note")):
        bad = client.post(url, json=payload, headers=admin)
        assert bad.status_code == 422 and field in _error(bad)["fields"], payload
    both = client.post(url, json={"amount_minor": 100, "minutes": 2}, headers=admin)
    assert both.status_code == 422 and "not both" in _error(both)["message"]
    broken = client.post(url, data="{", content_type="application/json", headers=admin)
    assert broken.status_code == 400 and "not valid JSON" in _error(broken)["message"]
    assert _count(PackageRefund) == 0 and wallet.balance(student.id, teacher.id).available == 60

    _spend(student, teacher, 60, post=True, key="used-up")  # every minute used: nothing is unused
    used = client.post(url, json={"minutes": 1}, headers=admin)
    assert used.status_code == 409 and "None of this purchase's minutes are unused" in _error(used)["message"]


def test_staff_refund_a_paypal_package_purchase_through_the_api(app, client, paypal_world):
    _, package = _tutor_with_package(hours=1, discount=0, rates=(3000,))
    student = factories.user("student")
    made = client.post(f"/api/packages/{package.id}/purchases", json={"method": "paypal"},
                       headers=bearer(student)).get_json()
    back = paypal_world.approve(made["approve_url"])
    token = parse_qs(urlsplit(back.headers["Location"]).query)["token"][0]
    assert client.post(f"/api/purchases/{made['id']}/paypal/complete", json={"order_id": token},
                       headers=bearer(student)).get_json()["state"] == "paid"

    refund = client.post(f"/api/purchases/{made['id']}/refunds", json={"minutes": 30, "idempotency_key": "pp-ref-01"},
                         headers=bearer(factories.user("admin")))
    assert refund.status_code == 201, refund.get_json()
    assert {k: refund.get_json()["refund"][k] for k in ("amount_minor", "minutes", "status")} == {
        "amount_minor": 1500, "minutes": 30, "status": "succeeded"}
    order = db.session.scalar(select(PayPalOrder).where(PayPalOrder.purchase_id == made["id"]))
    assert [r["amount"]["value"] for r in paypal_world.server.refunds.values()
            if r["_capture"] == order.capture_id] == ["15.00"]
