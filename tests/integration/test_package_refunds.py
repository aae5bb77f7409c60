"""Refunding package purchases: an admin's refund from the user page (the unused minutes' pro-rata worth, or a smaller
amount; held and used minutes stay), by card (a Stripe refund on the purchase's PaymentIntent) and PayPal (a refund
on its capture), and refunds made at the provider (charge.refunded, PAYMENT.CAPTURE.REFUNDED) taking the refunded
share of the unused minutes back once, in any order, recording what was already used as a shortfall."""
from __future__ import annotations

import random
import re
import threading
import time
from datetime import UTC, datetime

import requests
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_package_payments import _paypal_buy, _path
from tests.integration.test_packages import _buy, _student_client, _tutor_with_package, _wait_for
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.adapters import paypal
from webapp.domain.ledger import Move, check_balanced
from webapp.extensions import db
from webapp.models import (AuditEntry, LedgerBalance, LedgerTransaction, OutboxMessage, PackagePurchase, PackageRefund,
                           PayPalOrder)
from webapp.services import package_refunds, wallet
from webapp.services.errors import Conflict
from webapp.services.outbox import render_email


def now() -> datetime:
    return datetime.now(UTC)


def _card_purchase(client, stripe_world, rate=3100, hours=1):
    """A student who bought a package by card (the webhook applied); returns (student, teacher, purchase)."""
    teacher, package = _tutor_with_package(hours=hours, discount=0, rates=(rate,))
    student = _student_client(None, client)
    stripe_world.pay(_buy(client, teacher, package).location)
    _wait_for(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client)
    db.session.rollback()
    purchase = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id))
    assert purchase.state == "paid" and purchase.payment_intent_id
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/minutes").get_data(as_text=True))})
    return student, teacher, purchase


def _spend(student, teacher, minutes: int, *, post: bool, key: str) -> None:
    """Minutes held for a booking awaiting approval (or, posted, used on a lesson): the ledger's own moves."""
    with _write(student) as session:
        wallet.record_move(session, Move.HOLD, user_id=student.id, tutor_id=teacher.id, minutes=minutes,
                           key=f"hold:{key}")
        if post:
            wallet.record_move(session, Move.POST, user_id=student.id, tutor_id=teacher.id, minutes=minutes,
                               key=f"post:{key}")


def _write(student):
    from webapp.adapters.database import serialized_write
    return serialized_write(wallet.wallet_lock(student.id))


def _admin_client(client, role="admin"):
    admin = factories.user(role)
    login(client, admin.email, factories.PASSWORD)
    return admin


def _refund_form(client, student, purchase, amount="", reason="Asked for", key=None):
    page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    request_key = key or re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    return client.post(f"/admin/users/{student.id}/purchases/{purchase.id}/refund",
                       data={"csrf_token": csrf_from(page), "amount": amount, "reason": reason,
                             "request_key": request_key}, follow_redirects=True)


def _rows(purchase_id: int) -> list[PackageRefund]:
    db.session.rollback()
    return list(db.session.scalars(select(PackageRefund).where(PackageRefund.purchase_id == purchase_id)
                                   .order_by(PackageRefund.id)))


def _assert_books_balance() -> None:
    """Every ledger transaction sums to zero and no student balance is below zero."""
    db.session.rollback()
    for transaction in db.session.scalars(select(LedgerTransaction)):
        check_balanced(transaction.entries)
    assert db.session.scalar(select(func.min(LedgerBalance.balance))) >= 0


def test_an_admin_refunds_the_unused_minutes_pro_rata_rounded_down_and_held_minutes_stay(app, client, stripe_world):
    # 60 minutes bought for £31.00: 51.67p a minute. 7 minutes are held for a booking awaiting approval.
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3100)
    _spend(student, teacher, 7, post=False, key="awaiting")
    _admin_client(client)
    page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    # 53 unused minutes are worth 3100 × 53 / 60 = 2738.33p, rounded down to £27.38.
    assert "53 minutes, worth £27.38" in page and "Refund package" in page

    done = _refund_form(client, student, purchase).get_data(as_text=True)
    assert "Refunded £27.38; 53 unused minutes were taken back" in done
    [row] = _rows(purchase.id)
    assert (row.amount_minor, row.minutes, row.status, row.shortfall_minutes) == (2738, 53, "succeeded", 0)
    assert row.provider_refund_id.startswith("re_")
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=0, held=7)
    refunds = stripe_world.client.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id}).data
    assert [(r.amount, r.metadata["refund_row_id"]) for r in refunds] == [(2738, str(row.id))]
    # Audited, and the student's receipt is in the outbox.
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "package.refund"))
    assert entry.target_id == student.id and "£27.38" in entry.summary
    [mail] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "package_refund")).all()
    subject, text, _html = render_email(mail.template, mail.context)
    assert mail.to_address == student.email and "£27.38" in subject
    assert "Amount refunded: £27.38 (card)" in text and "Minutes taken back: 53" in text

    # Stripe's charge.refunded for our own refund, replayed and shuffled with everything else: booked once.
    _wait_for(stripe_world, "charge.refunded")
    events = stripe_world.deliveries() * 3
    random.Random(3).shuffle(events)
    stripe_world.deliver(client, events)
    assert len(_rows(purchase.id)) == 1 and wallet.balance(student.id, teacher.id).held == 7
    # Nothing is left: the form says so instead of refunding again.
    again = client.post(f"/admin/users/{student.id}/purchases/{purchase.id}/refund",
                        data={"csrf_token": csrf_from(page), "amount": "", "request_key": "another-form-1"},
                        follow_redirects=True).get_data(as_text=True)
    assert "Nothing is left to refund" in again and len(_rows(purchase.id)) == 1
    _assert_books_balance()


def test_two_partial_refunds_take_the_minutes_they_paid_for_and_never_exceed_the_pro_rata_worth(app, client,
                                                                                              stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3100)
    _admin_client(client)
    # £10.00 paid for 1000 × 60 / 3100 = 19.35 minutes: 20 are taken back (rounded up).
    assert "Refunded £10.00; 20 unused minutes" in _refund_form(client, student, purchase, "10.00").get_data(
        as_text=True)
    assert wallet.balance(student.id, teacher.id).available == 40
    # More than the 40 minutes left are worth (3100 × 40 / 60 = £20.66) is refused in words.
    too_much = _refund_form(client, student, purchase, "21.00").get_data(as_text=True)
    assert "Only £20.66 is left to refund for the 40 unused minutes" in too_much
    assert "Refunded £5.00; 10 unused minutes" in _refund_form(client, student, purchase, "5.00").get_data(
        as_text=True)
    assert [(r.amount_minor, r.minutes) for r in _rows(purchase.id)] == [(1000, 20), (500, 10)]
    assert wallet.balance(student.id, teacher.id).available == 30
    page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert "30 minutes, worth £15.50" in page and "£15.00" in page  # refunded so far
    # Bad amounts are answered in words, and nothing moves.
    for amount, words in (("abc", "Enter an amount like 42.50"), ("-3", "Enter an amount like 42.50"),
                          ("0", "A refund must be more than nothing.")):
        answer = _refund_form(client, student, purchase, amount).get_data(as_text=True)
        assert words in answer and "unused minutes were taken back" not in answer, amount
    assert len(_rows(purchase.id)) == 2
    _assert_books_balance()


def test_the_same_form_sent_twice_is_one_refund_and_a_support_agent_is_capped(app, client, stripe_world,
                                                                             monkeypatch):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=6000)
    monkeypatch.setitem(app.config, "SUPPORT_REFUND_CAP_MINOR", 2000)  # the app outlives the test: put it back
    _admin_client(client, role="support")
    refused = _refund_form(client, student, purchase, "").get_data(as_text=True)  # all of it: £60.00
    assert "Support agents refund up to £20.00" in refused and _rows(purchase.id) == []
    first = _refund_form(client, student, purchase, "20.00", key="same-form-key-1").get_data(as_text=True)
    second = _refund_form(client, student, purchase, "20.00", key="same-form-key-1").get_data(as_text=True)
    assert "Refunded £20.00; 20 unused minutes" in first and "Refunded £20.00" in second
    assert [(r.amount_minor, r.minutes) for r in _rows(purchase.id)] == [(2000, 20)]
    assert len(stripe_world.client.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id}).data) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "package.refund")) == 1


def test_two_admins_refunding_at_once_make_one_refund(app, client, live_server, stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)
    browsers = []
    for _ in range(2):
        admin = factories.user("admin")
        browser = requests.Session()
        page = browser.get(f"{live_server.url}/login").text
        browser.post(f"{live_server.url}/login", data={"email": admin.email, "password": factories.PASSWORD,
                                                       "csrf_token": csrf_from(page)})
        page = browser.get(f"{live_server.url}/admin/users/{student.id}").text
        key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
        browsers.append((browser, csrf_from(page), key))
    barrier, answers = threading.Barrier(2), []
    url = f"{live_server.url}/admin/users/{student.id}/purchases/{purchase.id}/refund"

    def click(browser, token, key):
        barrier.wait()
        answers.append(browser.post(url,
                                    data={"csrf_token": token, "amount": "", "request_key": key}).text)

    threads = [threading.Thread(target=click, args=b) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum("Refunded £30.00; 60 unused minutes" in a for a in answers) == 1
    assert sum("Nothing is left to refund" in a for a in answers) == 1
    assert [(r.amount_minor, r.status) for r in _rows(purchase.id)] == [(3000, "succeeded")]
    assert wallet.balance(student.id, teacher.id).available == 0
    _assert_books_balance()


def test_a_dashboard_refund_takes_the_refunded_share_of_unused_minutes_once_and_records_a_shortfall(app, client,
                                                                                                   stripe_world):
    # 120 minutes for £60.00 (50p a minute); 100 used on lessons, 20 left.
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000, hours=2)
    _spend(student, teacher, 100, post=True, key="taught")
    # Refunded in Stripe's Dashboard: £15.00 paid for 30 minutes; 20 are still unused, 10 were used.
    made = stripe_world.client.v1.refunds.create(params={"payment_intent": purchase.payment_intent_id,
                                                         "amount": 1500})
    _wait_for(stripe_world, "charge.refunded")
    events = stripe_world.deliveries() * 3
    random.Random(5).shuffle(events)
    stripe_world.deliver(client, events)
    [row] = _rows(purchase.id)
    assert (row.provider_refund_id, row.amount_minor, row.minutes, row.shortfall_minutes) == (made.id, 1500, 20, 10)
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=0, held=0)
    # A second Dashboard refund: nothing is unused, so it is all shortfall, and the balance never goes negative.
    stripe_world.client.v1.refunds.create(params={"payment_intent": purchase.payment_intent_id, "amount": 500})
    deadline = time.monotonic() + 5
    while stripe_world.receiver.types().count("charge.refunded") < 2:
        assert time.monotonic() < deadline, "no second charge.refunded"
        time.sleep(0.05)
    stripe_world.deliver(client)
    assert [(r.amount_minor, r.minutes, r.shortfall_minutes) for r in _rows(purchase.id)] == [(1500, 20, 10),
                                                                                              (500, 0, 10)]
    _admin_client(client)
    page = client.get(f"/admin/users/{student.id}").get_data(as_text=True)
    assert "10 minutes already used (shortfall)" in page and "Refunded at Stripe" in page
    assert "Nothing left to refund" in page
    _assert_books_balance()


def test_paypal_package_refund_by_an_admin_and_at_paypal_books_each_refund_once(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=2, discount=0, rates=(3000,))  # 120 minutes for £60.00
    student = _student_client(app, client)
    back = paypal_world.approve(_paypal_buy(client, teacher, package).location)
    client.get(_path(back.headers["Location"]))
    db.session.rollback()
    purchase = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id))
    order = db.session.scalar(select(PayPalOrder).where(PayPalOrder.purchase_id == purchase.id))
    assert wallet.balance(student.id, teacher.id).available == 120
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/minutes").get_data(as_text=True))})

    _admin_client(client)
    done = _refund_form(client, student, purchase, "20.00").get_data(as_text=True)
    assert "Refunded £20.00; 40 unused minutes" in done
    posts = [r for r in paypal_world.server.requests
             if r["method"] == "POST" and r["path"] == f"/v2/payments/captures/{order.capture_id}/refund"]
    [ours] = _rows(purchase.id)
    assert len(posts) == 1 and posts[0]["headers"]["PayPal-Request-Id"] == ours.idempotency_key
    assert paypal_world.server.refunds[ours.provider_refund_id]["amount"] == {"currency_code": "GBP",
                                                                              "value": "20.00"}
    # Refunded at PayPal (no invoice id of ours): £6.00 paid for 12 minutes.
    paypal.client().refund_capture(order.capture_id, amount_minor=600, currency="GBP", request_id="dashboard-1")
    events = paypal_world.event_ids() * 3
    random.Random(9).shuffle(events)
    paypal_world.deliver(client, events)
    assert [(r.amount_minor, r.minutes, r.shortfall_minutes, r.status) for r in _rows(purchase.id)] == [
        (2000, 40, 0, "succeeded"), (600, 12, 0, "succeeded")]
    assert wallet.balance(student.id, teacher.id).available == 68
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.template == "package_refund")) == 2
    # The student's minutes page shows the refund.
    client.post("/logout", data={"csrf_token": csrf_from(client.get(f"/admin/users/{student.id}").get_data(
        as_text=True))})
    login(client, student.email, factories.PASSWORD)
    assert "Partly refunded: £26.00 of" in client.get("/minutes").get_data(as_text=True)
    _assert_books_balance()


def test_a_second_refund_of_a_purchase_with_nothing_unused_is_refused_by_the_service(app, client, stripe_world):
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)
    _spend(student, teacher, 60, post=True, key="all-used")
    admin = factories.user("admin")
    try:
        package_refunds.refund_purchase(admin, purchase.id, None, "", now(), request_key="service-key-1")
        raise AssertionError("refunded used minutes")
    except Conflict as exc:
        assert "Nothing is left to refund" in exc.message
    assert _rows(purchase.id) == []


def test_a_refund_whose_stripe_call_never_arrived_is_dropped_by_the_sweep_and_its_minutes_come_back(app, client,
                                                                                                 stripe_world):
    from datetime import timedelta

    from webapp import jobs
    from webapp.services.errors import NotRecorded
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)
    admin = factories.user("admin")
    saved = app.config.get("STRIPE_API_BASE")
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # Stripe unreachable: the answer is lost
    app.extensions.pop("stripe_client", None)
    try:
        package_refunds.refund_purchase(admin, purchase.id, 1500, "", now(), request_key="lost-answer-1")
        raise AssertionError("no error for a lost answer")
    except NotRecorded as exc:
        assert "held as pending" in exc.message
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop("stripe_client", None)
    [row] = _rows(purchase.id)
    assert (row.status, row.minutes) == ("pending", 30)
    assert wallet.balance(student.id, teacher.id).available == 30  # held back while the answer is unknown
    assert package_refunds.confirm_pending(now()) == 0  # too early: the answer may still come
    assert jobs.confirm_pending_refunds((now() + timedelta(minutes=16)).isoformat()) == 1
    [row] = _rows(purchase.id)
    assert row.status == "failed" and wallet.balance(student.id, teacher.id).available == 60
    assert stripe_world.client.v1.refunds.list(params={"payment_intent": purchase.payment_intent_id}).data == []
    _assert_books_balance()


def test_minutes_taken_back_by_a_refund_do_not_expire_again_when_the_lot_expires(app, client, stripe_world):
    from datetime import timedelta
    student, teacher, purchase = _card_purchase(client, stripe_world, rate=3000)  # 60 minutes for £30.00
    package_refunds.refund_purchase(factories.user("admin"), purchase.id, 1000, "", now(), request_key="before-expiry")
    assert wallet.balance(student.id, teacher.id).available == 40
    later = now() + timedelta(days=400)
    assert wallet.expire_lots(later) == 40 and wallet.expire_lots(later) == 0
    assert wallet.balance(student.id, teacher.id).available == 0
    _assert_books_balance()
