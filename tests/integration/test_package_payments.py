"""Buying a package of minutes with PayPal (an order with intent CAPTURE, captured on our return page or by the
webhook's backstop, granted once keyed on the capture), receipts for minute payments (a package bought by card or
PayPal, a lesson paid with minutes), and purchases nobody paid ending expired (Stripe's checkout.session.expired,
the PayPal cancel page, and the sweep that asks Stripe or PayPal outside any transaction)."""
from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_packages import _buy, _student_client, _tutor_with_package
from tests.integration.test_payments import book
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp import jobs
from webapp.domain.ledger import check_balanced
from webapp.domain.packages import PurchaseState
from webapp.extensions import db
from webapp.models import (LedgerEntry, LedgerTransaction, MinuteLot, OutboxMessage, PackagePurchase, PayPalEvent,
                           PayPalOrder, User)
from webapp.services import package_paypal, packages, wallet
from webapp.services.outbox import render_email


def now() -> datetime:
    return datetime.now(UTC)


def _paypal_buy(client, teacher, package, form_key="paypal-form-1"):
    page = client.get(f"/tutors/{teacher.id}/packages").get_data(as_text=True)
    return client.post(f"/tutors/{teacher.id}/packages/{package.id}/buy/paypal",
                       data={"csrf_token": csrf_from(page), "form_key": form_key})


def _path(location: str) -> str:
    """Our own URL PayPal sent the browser back to, as the test client requests it (path and query)."""
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def _purchase() -> PackagePurchase:
    db.session.rollback()
    return db.session.scalar(select(PackagePurchase).order_by(PackagePurchase.id.desc()).limit(1))


def _count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _receipts(template: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def _assert_ledger_balanced_and_money_matches_lots() -> None:
    """Every ledger transaction sums to zero, and the package money taken equals the minutes granted for it."""
    db.session.rollback()
    for transaction in db.session.scalars(select(LedgerTransaction)):
        check_balanced(transaction.entries)
    paid = list(db.session.scalars(select(PackagePurchase).where(PackagePurchase.state == PurchaseState.PAID)))
    lots = {lot.id: lot for lot in db.session.scalars(select(MinuteLot).where(MinuteLot.source == "package"))}
    assert sorted(p.lot_id for p in paid) == sorted(lots)
    assert all((lots[p.lot_id].minutes, lots[p.lot_id].paid_minor, lots[p.lot_id].currency)
               == (p.minutes, p.price_minor, p.currency) for p in paid)


# --- PayPal -------------------------------------------------------------------------------------


def test_buying_a_package_with_paypal_captures_on_return_grants_once_and_emails_the_receipt(app, client,
                                                                                           paypal_world):
    teacher, package = _tutor_with_package(hours=5, discount=10, rates=(4000,))
    student = _student_client(app, client)
    offer = client.get(f"/tutors/{teacher.id}/packages").get_data(as_text=True)
    assert "Pay with PayPal: 5 hours for £180.00" in offer and "approve the payment on PayPal" in offer

    response = _paypal_buy(client, teacher, package)
    assert response.status_code == 303 and "/checkoutnow?token=" in response.location
    purchase = _purchase()
    assert (purchase.method, purchase.state, purchase.price_minor) == ("paypal", PurchaseState.OPEN, 18000)
    order = paypal_world.server.orders[response.location.split("token=")[1]]
    assert order["intent"] == "CAPTURE" and order["purchase_units"][0]["amount"] == {"currency_code": "GBP",
                                                                                    "value": "180.00"}
    back = paypal_world.approve(response.location)
    assert back.status_code == 303 and f"/minutes/purchases/{purchase.id}/paypal/return" in back.headers["Location"]

    landed = client.get(_path(back.headers["Location"]))
    assert landed.status_code == 303 and landed.location.endswith(f"/minutes/purchases/{purchase.id}?returned=1")
    page = client.get(landed.location).get_data(as_text=True)
    assert "PayPal has taken your payment: 300 minutes are yours." in page and "Paid: 300 minutes" in page
    db.session.rollback()
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=300, held=0)
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.purchase_id == purchase.id))
    lot = db.session.scalar(select(MinuteLot))
    assert row.status == "CAPTURED" and lot.source_ref == row.capture_id
    assert paypal_world.server.captures[row.capture_id]["status"] == "COMPLETED"
    posts = [r for r in paypal_world.server.requests if r["method"] == "POST" and r["path"].startswith("/v2/")]
    assert [r["path"].rsplit("/", 1)[-1] for r in posts] == ["orders", "capture"]
    assert all(r["headers"].get("PayPal-Request-Id", "").startswith(f"package-purchase:{purchase.id}:")
               for r in posts)

    # The receipt: amount, minutes, tutor, and the expiry date.
    [receipt] = _receipts("package_receipt")
    subject, text, html = render_email(receipt.template, receipt.context)
    assert receipt.to_address == student.email
    assert subject == f"Receipt: 5 hours with {teacher.name}, £180.00 paid"
    # In the student's zone, as the email says it (near midnight UTC, London's date may be the next day's).
    expires = (now() + timedelta(days=183)).astimezone(ZoneInfo("Europe/London")).strftime("%d %B %Y")
    for words in ("Amount paid: £180.00 (PayPal)", "Minutes added: 300", f"Tutor: {teacher.name}",
                  f"Use them by: {expires}"):
        assert words in text
    assert "£180.00 (PayPal)" in html

    # A reload of the return page, and every webhook replayed in any order: nothing more.
    assert client.get(_path(back.headers["Location"])).status_code == 303
    events = paypal_world.event_ids() * 3
    random.Random(11).shuffle(events)
    assert all(r.status_code == 200 for r in paypal_world.deliver(client, events))
    assert wallet.balance(student.id, teacher.id).available == 300
    assert _count(MinuteLot) == 1 and len(_receipts("package_receipt")) == 1
    assert len(paypal_world.server.captures) == 1
    assert _count(PayPalEvent, PayPalEvent.processed_at.is_(None)) == 0
    _assert_ledger_balanced_and_money_matches_lots()


def test_the_webhook_captures_and_grants_when_the_student_closes_the_tab_after_approving(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=2, discount=0)
    student = _student_client(app, client)
    response = _paypal_buy(client, teacher, package)
    back = paypal_world.approve(response.location)  # ... and the tab closes: our return page never loads
    paypal_world.deliver(client)  # CHECKOUT.ORDER.APPROVED → the job captures
    db.session.rollback()
    assert wallet.balance(student.id, teacher.id).available == 120
    assert _purchase().state == PurchaseState.PAID
    paypal_world.deliver(client)  # now PAYMENT.CAPTURE.COMPLETED as well, and the approval again
    paypal_world.deliver(client, list(reversed(paypal_world.event_ids())))
    assert wallet.balance(student.id, teacher.id).available == 120 and len(paypal_world.server.captures) == 1
    # The student finds the tab again later: already paid, nothing taken twice.
    late = client.get(_path(back.headers["Location"]))
    assert late.status_code == 303
    assert "Paid: 120 minutes" in client.get(late.location).get_data(as_text=True)
    assert _count(MinuteLot) == 1 and len(_receipts("package_receipt")) == 1
    _assert_ledger_balanced_and_money_matches_lots()


def test_a_capture_completed_event_arriving_before_the_return_grants_once(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=1, discount=0)
    student = _student_client(app, client)
    response = _paypal_buy(client, teacher, package)
    back = paypal_world.approve(response.location)
    purchase = _purchase()
    order_id = response.location.split("token=")[1]
    # Our capture reached PayPal but its answer was lost; PayPal's event about it arrives first.
    with app.app_context():
        from webapp.adapters import paypal
        paypal.client().capture_order(order_id, request_id=f"package-purchase:{purchase.id}:paypal-capture:{order_id}")
    completed = paypal_world.event_ids("PAYMENT.CAPTURE.COMPLETED")
    paypal_world.deliver(client, completed * 2)
    assert wallet.balance(student.id, teacher.id).available == 60
    assert client.get(_path(back.headers["Location"])).status_code == 303  # the return, late: read back, not again
    paypal_world.deliver(client)
    assert wallet.balance(student.id, teacher.id).available == 60
    assert len(paypal_world.server.captures) == 1 and _count(MinuteLot) == 1
    assert len(_receipts("package_receipt")) == 1


def test_double_clicks_open_one_order_and_two_returns_at_once_grant_once(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=3, discount=5)
    student = _student_client(app, client)
    first, second = _paypal_buy(client, teacher, package, "twice"), _paypal_buy(client, teacher, package, "twice")
    assert first.location == second.location and len(paypal_world.server.orders) == 1
    assert _count(PackagePurchase) == 1 and _count(PayPalOrder) == 1
    back = paypal_world.approve(first.location)
    purchase_id, order_id = _purchase().id, first.location.split("token=")[1]
    student_id = student.id
    db.session.commit()
    errors: list = []
    barrier = threading.Barrier(2)

    def come_back():
        with app.app_context():
            try:
                barrier.wait()
                package_paypal.finish(db.session.get(User, student_id), purchase_id, order_id, now())
            except Exception as exc:  # noqa: BLE001 — collected and asserted below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=come_back) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    db.session.rollback()
    assert wallet.balance(student_id, teacher.id).available == 180
    assert len(paypal_world.server.captures) == 1 and _count(MinuteLot) == 1
    assert len(_receipts("package_receipt")) == 1
    # Back on the packages page (the same form), PayPal again: the purchase is paid, so its page, no new order.
    again = _paypal_buy(client, teacher, package, "twice")
    assert again.status_code == 303 and again.location.endswith(f"/minutes/purchases/{purchase_id}")
    assert client.get(_path(back.headers["Location"])).status_code == 303
    assert len(paypal_world.server.orders) == 1


def test_cancelling_on_paypal_returns_to_the_packages_with_a_message_and_grants_nothing_even_if_approved_later(
        app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=2, discount=0)
    student = _student_client(app, client)
    response = _paypal_buy(client, teacher, package)
    token = response.location.split("token=")[1]
    import requests
    cancel = requests.post(f"{paypal_world.server.url}/checkoutnow/{token}/cancel", allow_redirects=False, timeout=10)
    assert cancel.status_code == 303
    landed = client.get(_path(cancel.headers["Location"]))
    assert landed.status_code == 303 and landed.location.endswith(f"/tutors/{teacher.id}/packages")
    page = client.get(landed.location).get_data(as_text=True)
    assert "You cancelled the payment on PayPal, so nothing was taken and no minutes were added." in page
    assert _purchase().state == PurchaseState.CANCELLED

    # The approval page left open in another tab, approved later: never captured, nothing granted.
    back = paypal_world.approve(response.location)
    paypal_world.deliver(client)
    late = client.get(_path(back.headers["Location"]))
    assert "nothing was taken" in client.get(late.location).get_data(as_text=True)
    assert paypal_world.server.captures == {}
    assert wallet.balance(student.id, teacher.id).available == 0 and _count(MinuteLot) == 0
    assert _receipts("package_receipt") == []
    # The same form again: refused in words (a fresh page has a fresh form).
    reused = _paypal_buy(client, teacher, package)
    assert "closed without paying, so nothing was charged" in client.get(reused.location).get_data(as_text=True)
    assert "Cancelled (not charged)" in client.get("/minutes").get_data(as_text=True)


def test_someone_elses_purchase_or_order_is_not_found(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=1, discount=0)
    _student_client(app, client)
    response = _paypal_buy(client, teacher, package)
    back = _path(paypal_world.approve(response.location).headers["Location"])
    other = app.test_client()
    _student_client(app, other)
    assert "We could not find that purchase." in other.get(back, follow_redirects=True).get_data(as_text=True)
    assert other.get(f"/minutes/purchases/{_purchase().id}").status_code == 404
    assert _purchase().state == PurchaseState.OPEN and paypal_world.server.captures == {}
    wrong_token = back.replace("token=", "token=NOTTHEORDER")
    followed = client.get(wrong_token, follow_redirects=True).get_data(as_text=True)
    assert "We could not find that PayPal payment." in followed and paypal_world.server.captures == {}


def test_paypal_down_on_return_says_so_and_a_retry_grants_once(app, client, paypal_world):
    teacher, package = _tutor_with_package(hours=1, discount=0)
    student = _student_client(app, client)
    back = _path(paypal_world.approve(_paypal_buy(client, teacher, package).location).headers["Location"])
    paypal_world.server.fail_with = 503
    page = client.get(back, follow_redirects=True).get_data(as_text=True)
    assert "PayPal could not be reached to confirm the payment" in page
    assert wallet.balance(student.id, teacher.id).available == 0
    paypal_world.server.fail_with = None
    client.get(back)
    assert wallet.balance(student.id, teacher.id).available == 60 and len(paypal_world.server.captures) == 1


def test_the_sweep_expires_an_order_nobody_approved_and_captures_one_approved_but_abandoned(app, client,
                                                                                          paypal_world):
    teacher, package = _tutor_with_package(hours=1, discount=0)
    student = _student_client(app, client)
    _paypal_buy(client, teacher, package, "never-approved")
    abandoned = _purchase()
    approved_url = _paypal_buy(client, teacher, package, "approved-then-lost").location
    paypal_world.approve(approved_url)  # the tab closes, and the approval event is lost
    assert jobs.expire_abandoned_purchases((now() + timedelta(hours=1)).isoformat()) == 0  # not lapsed yet

    later = now() + timedelta(hours=3, minutes=1)
    assert jobs.expire_abandoned_purchases(later.isoformat()) == 1
    db.session.rollback()
    assert db.session.get(PackagePurchase, abandoned.id).state == PurchaseState.EXPIRED
    assert db.session.scalar(select(PayPalOrder.status).where(PayPalOrder.purchase_id == abandoned.id)) == "CANCELLED"
    assert wallet.balance(student.id, teacher.id).available == 60  # the approved one: captured and granted
    assert len(paypal_world.server.captures) == 1
    assert jobs.expire_abandoned_purchases(later.isoformat()) == 0  # run twice: nothing more
    mine = client.get("/minutes").get_data(as_text=True)
    assert mine.count("Expired (not charged)") == 1 and mine.count(">Paid<") == 1
    status = client.get(f"/minutes/purchases/{abandoned.id}").get_data(as_text=True)
    assert "Expired: the payment page lapsed without payment, so nothing was charged" in status
    assert "every 2s" not in status  # no polling for a purchase that is over
    _assert_ledger_balanced_and_money_matches_lots()


# --- Stripe Checkout: expiry and the receipt ---------------------------------------------------


def _wait_for(world, event_type: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while event_type not in world.receiver.types():
        assert time.monotonic() < deadline, f"no {event_type}; got {world.receiver.types()}"
        time.sleep(0.05)


def test_a_checkout_stripe_expires_ends_expired_once_even_replayed_and_reordered(app, client, stripe_world):
    teacher, package = _tutor_with_package(hours=2, discount=0)
    _student_client(app, client)
    _buy(client, teacher, package, "card-form")
    purchase = _purchase()
    assert purchase.expires_at is not None and purchase.method == "card"
    expired = stripe_world.client.v1.checkout.sessions.expire(purchase.checkout_session_id)  # Stripe's real endpoint
    assert expired.status == "expired"
    _wait_for(stripe_world, "checkout.session.expired")
    deliveries = stripe_world.deliveries() * 3
    random.Random(3).shuffle(deliveries)
    assert all(r.status_code == 200 for r in stripe_world.deliver(client, deliveries))
    purchase = _purchase()
    assert purchase.state == PurchaseState.EXPIRED and purchase.closed_at is not None
    assert "Expired (not charged)" in client.get("/minutes").get_data(as_text=True)
    status = client.get(f"/minutes/purchases/{purchase.id}").get_data(as_text=True)
    assert "Expired: the payment page lapsed" in status and "Confirming" not in status
    again = _buy(client, teacher, package, "card-form")  # Back to the old page, Buy again: said in words
    assert "closed without paying" in client.get(again.location).get_data(as_text=True)
    assert _count(MinuteLot) == 0


def test_the_sweep_expires_a_lapsed_checkout_and_grants_one_whose_completed_event_was_lost(app, client,
                                                                                           stripe_world):
    teacher, package = _tutor_with_package(hours=1, discount=0)
    student = _student_client(app, client)
    _buy(client, teacher, package, "left-open")
    left_open = _purchase()
    paid_url = _buy(client, teacher, package, "paid-quietly").location
    paid = _purchase()
    stripe_world.pay(paid_url)  # paid, but checkout.session.completed never reaches us
    assert jobs.expire_abandoned_purchases(now().isoformat()) == 0  # neither page has lapsed yet

    later = now() + timedelta(hours=25)
    assert jobs.expire_abandoned_purchases(later.isoformat()) == 1
    db.session.rollback()
    assert db.session.get(PackagePurchase, left_open.id).state == PurchaseState.EXPIRED
    session = stripe_world.client.v1.checkout.sessions.retrieve(left_open.checkout_session_id)
    assert session.status == "expired"  # Stripe still showed it open past its time: the sweep expired it there
    assert db.session.get(PackagePurchase, paid.id).state == PurchaseState.PAID
    assert wallet.balance(student.id, teacher.id).available == 60
    # The events arriving late (completed and expired, twice): nothing changes.
    _wait_for(stripe_world, "checkout.session.expired")
    stripe_world.deliver(client, stripe_world.deliveries() * 2)
    db.session.rollback()
    assert db.session.get(PackagePurchase, left_open.id).state == PurchaseState.EXPIRED
    assert wallet.balance(student.id, teacher.id).available == 60 and _count(MinuteLot) == 1
    assert len(_receipts("package_receipt")) == 1
    _assert_ledger_balanced_and_money_matches_lots()


def test_a_card_bought_package_emails_its_receipt_once(app, client, stripe_world):
    teacher, package = _tutor_with_package(hours=2, discount=10, rates=(4000,))
    student = _student_client(app, client)
    stripe_world.pay(_buy(client, teacher, package).location)
    _wait_for(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client, stripe_world.deliveries() * 2)
    [receipt] = _receipts("package_receipt")
    subject, text, _html = render_email(receipt.template, receipt.context)
    assert receipt.to_address == student.email
    assert subject == f"Receipt: 2 hours with {teacher.name}, £72.00 paid"
    assert "Amount paid: £72.00 (card)" in text and "Minutes added: 120" in text and "Use them by:" in text


# --- paying a lesson with minutes: the receipt and the pay page's words ---------------------------------


def test_paying_a_lesson_with_minutes_emails_what_is_held_and_what_is_left(app, client):
    booking = book()
    student, tutor = booking.booker, booking.lesson.tutor
    wallet.grant_minutes(user_id=student.id, tutor_id=tutor.id, minutes=150, source="package",
                         source_ref=f"cs_test_receipt_{booking.id}", expires_at=None)
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}/pay").get_data(as_text=True)
    assert "60 of your minutes are held now (leaving 90 to book with)" in page
    client.post(f"/bookings/{booking.id}/pay-with-minutes", data={"csrf_token": csrf_from(page)})
    client.post(f"/bookings/{booking.id}/pay-with-minutes", data={"csrf_token": csrf_from(page)})  # a double click
    [receipt] = _receipts("minutes_receipt")
    subject, text, _html = render_email(receipt.template, receipt.context)
    assert receipt.to_address == student.email
    assert subject == f"Receipt for booking #{booking.id}: 60 minutes held"
    assert "Minutes held: 60" in text and f"Minutes left with {tutor.name}: 90" in text
    assert _receipts("payment_receipt") == []


def test_the_pay_page_says_what_each_way_of_paying_does(app, client, paypal_world):
    booking = book()
    login(client, booking.booker.email, factories.PASSWORD)
    page = " ".join(client.get(f"/bookings/{booking.id}/pay").get_data(as_text=True).split())
    assert "By card: you enter your card on Stripe's secure page; it is authorized now" in page
    assert ("With PayPal: you log in and approve the payment on PayPal's page; PayPal then holds (authorizes) the "
            "amount in your PayPal account, and it is captured only when") in page
    assert "PayPal releases the hold and you pay nothing" in page


def test_the_sweep_closes_a_lapsed_purchase_whose_checkout_stripe_does_not_know(app, client, stripe_world):
    # Left "Waiting for payment" for ever otherwise: the sweep asked, Stripe answered 404, and it tried again next run.
    teacher, package = _tutor_with_package(hours=1, discount=0)
    _student_client(app, client)
    _buy(client, teacher, package, "forgotten")
    purchase = _purchase()
    purchase.checkout_session_id = "cs_test_stripe_never_heard_of_it"
    db.session.commit()

    assert jobs.expire_abandoned_purchases((now() + timedelta(hours=25)).isoformat()) == 1
    assert _purchase().state == PurchaseState.EXPIRED
    assert "Expired (not charged)" in client.get("/minutes").get_data(as_text=True)
    assert _count(MinuteLot) == 0
