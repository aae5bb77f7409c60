"""Package purchases refunded and then reported failed by Stripe (signed events from the local Stripe server, posted
to the real webhook): the minutes come back once, the purchase's status (derived from its refund rows) reads paid,
partly refunded or refunded for the student, the staff and the JSON API, and the staff are told once."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_package_refunds import (_admin_client, _assert_books_balance, _card_purchase,
                                                    _refund_form, _rows)
from tests.integration.test_refund_failures import FAILURE_EVENTS, _fail
from webapp.extensions import db
from webapp.models import LedgerTransaction, Notification, OutboxMessage
from webapp.services import wallet


def _as_student(client, student) -> None:
    page = client.get("/minutes").get_data(as_text=True)
    if "csrf_token" in page:
        client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(client, student.email, factories.PASSWORD)


def _status(client, purchase) -> tuple[str, dict]:
    """What the student reads on /minutes and the API's refund fields for the purchase."""
    page = client.get("/minutes").get_data(as_text=True)
    api = client.get(f"/api/purchases/{purchase.id}").get_json()
    return page, {k: api[k] for k in ("state", "refunded_minor", "refund_pending_minor", "refund_status")}


def test_a_package_refund_that_fails_later_gives_the_minutes_back_and_reads_paid_again(app, client, stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3100)
    _admin_client(client)
    assert "Refunded £31.00" in _refund_form(client, student, purchase).get_data(as_text=True)
    [row] = _rows(purchase.id)
    assert wallet.balance(student.id, teacher.id).available == 0

    _as_student(client, student)
    page, api = _status(client, purchase)
    assert "Refunded: £31.00" in page
    assert api == {"state": "paid", "refunded_minor": 3100, "refund_pending_minor": 0, "refund_status": "full"}
    purchase_page = client.get(f"/minutes/purchases/{purchase.id}").get_data(as_text=True)
    assert "Refunded: £31.00" in purchase_page

    _fail(stripe_world, row.provider_refund_id)
    stripe_world.deliver(client)
    stripe_world.deliver(client)  # replayed: nothing twice

    [row] = _rows(purchase.id)
    assert (row.status, row.failure_reason) == ("failed", "unknown")
    assert wallet.balance(student.id, teacher.id).available == 60  # the minutes are the student's again, once
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)
                             .where(LedgerTransaction.key == f"restore:package-refund:{row.id}")) == 1
    page, api = _status(client, purchase)
    assert "Refunded:" not in page and ">Paid<" in page
    assert api["refund_status"] == "none" and api["refunded_minor"] == 0
    [mail] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund_failed")).all()
    assert mail.context["what"] == f"package purchase #{purchase.id}" and "60 minutes" in mail.context["consequence"]
    assert db.session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.kind == "refund_failed")) == 1  # the one admin
    _assert_books_balance()

    # The staff page says it failed and offers the refund again.
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/minutes").get_data(as_text=True))})
    _admin_client(client)
    admin_page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert "failed" in admin_page and "60 minutes, worth £31.00" in admin_page


def test_a_partial_package_refund_reads_partly_refunded(app, client, stripe_world):
    student, _teacher, purchase = _card_purchase(client, stripe_world, rate=3100)
    _admin_client(client)
    _refund_form(client, student, purchase, amount="10.00")
    admin_page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert "Partly refunded: £10.00 of £31.00" in admin_page
    _as_student(client, student)
    page, api = _status(client, purchase)
    assert "Partly refunded: £10.00 of £31.00" in page
    assert (api["refund_status"], api["refunded_minor"]) == ("partial", 1000)


def test_a_dashboard_refund_of_a_package_failing_before_its_news_arrives_takes_no_minutes(app, client,
                                                                                          stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3100)
    refund = stripe_world.client.v1.refunds.create(params={"payment_intent": purchase.payment_intent_id})
    _fail(stripe_world, refund.id)
    deliveries = stripe_world.deliveries()
    kinds = [*FAILURE_EVENTS, "charge.refunded"]
    order = [d for kind in kinds for d in deliveries if json.loads(d[1])["type"] == kind]
    stripe_world.deliver(client, order)
    stripe_world.deliver(client, order[::-1])

    assert [(r.provider_refund_id, r.status, r.minutes) for r in _rows(purchase.id)] == [(refund.id, "failed", 0)]
    assert wallet.balance(student.id, teacher.id).available == 60
    _as_student(client, student)
    _page, api = _status(client, purchase)
    assert api["refund_status"] == "none"
    _assert_books_balance()
