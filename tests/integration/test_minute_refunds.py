"""Staff refunds of lessons paid with prepaid minutes (and of PayPal-paid ones): minutes back to the student's
balance, full or partial, never more than were posted less earlier refunds, into the lot they came from (a fresh
lot when it has expired), audited and emailed in the same write; one refund for a double submit or two admins at
once; and after the tutor's payout, the right share of the transfer taken back once, through Stripe outages."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_minute_payments import _reload, _with_minutes, no_stripe  # noqa: F401 (fixture)
from tests.integration.test_minute_payouts import _bought_and_approved
from tests.integration.test_refunds_and_payouts import onboard
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.adapters.database import serialized_write
from webapp.domain.ledger import Move, balances
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import (AuditEntry, LedgerBalance, LedgerEntry, LedgerTransaction, MinuteLot, MinutePayout,
                           OutboxMessage, TransferReversal)
from webapp.services import approvals, cancellations, minute_payments, minute_payouts, transfer_reversals, wallet
from webapp.services.errors import Conflict, Forbidden, ValidationError
from webapp.services.minute_refunds import MinuteRefundRaceLost, staff_refund_minutes


def now() -> datetime:
    return datetime.now(UTC)


def _approved(minutes: int = 60, **book_args):
    """A minute-paid booking approved by the tutor (its 60 minutes posted), the student holding `minutes` first."""
    booking = _with_minutes(minutes, **book_args)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    return _reload(booking.id)


def _refund_moves(booking_id: int) -> list[int]:
    return list(db.session.scalars(select(LedgerTransaction.minutes).where(
        LedgerTransaction.booking_id == booking_id, LedgerTransaction.move == str(Move.REFUND))
        .order_by(LedgerTransaction.id)))


def _ledger_balances_and_cache_agree() -> None:
    """Every transaction sums to zero, and each cached student balance equals the sum of its entries."""
    sums = db.session.execute(select(LedgerEntry.transaction_id, LedgerEntry.currency, func.sum(LedgerEntry.amount))
                              .group_by(LedgerEntry.transaction_id, LedgerEntry.currency)).all()
    assert all(total == 0 for _, _, total in sums)
    from webapp.domain.ledger import Posting
    derived = balances(Posting(e.account, e.currency, e.amount) for e in db.session.scalars(select(LedgerEntry)))
    for row in db.session.scalars(select(LedgerBalance)):
        assert derived.get((row.account, row.currency), 0) == row.balance


def test_partial_refunds_add_up_to_at_most_the_posted_minutes_audited_and_emailed(app, no_stripe):
    booking = _approved(60)
    student, tutor, admin = booking.booker, booking.lesson.tutor, factories.user("admin")
    assert wallet.balance(student.id, tutor.id).available == 0
    first = staff_refund_minutes(admin, booking.id, 20, "Late start", now())
    assert (first.minutes, first.left) == (20, 40)
    assert _reload(booking.id).state == BookingState.PARTIAL_REFUNDED
    staff_refund_minutes(admin, booking.id, 30, "", now())
    with pytest.raises(MinuteRefundRaceLost) as lost:
        staff_refund_minutes(admin, booking.id, 11, "", now())  # 10 are left
    assert "Only 10 minutes are left" in lost.value.message
    staff_refund_minutes(admin, booking.id, 10, "", now())
    with pytest.raises(MinuteRefundRaceLost):
        staff_refund_minutes(admin, booking.id, 1, "", now())
    db.session.rollback()
    assert _refund_moves(booking.id) == [20, 30, 10]
    assert _reload(booking.id).state == BookingState.REFUNDED
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=60, held=0)
    _ledger_balances_and_cache_agree()
    audits = list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "booking.refund_minutes")
                                     .order_by(AuditEntry.id)))
    assert [a.after["refundable_minutes"] for a in audits] == [40, 10, 0]
    assert audits[0].summary == f"Refunded 20 minutes on booking #{booking.id}: Late start"
    mails = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "minutes_refunded")
                                    .order_by(OutboxMessage.id)))
    assert [(m.to_address, m.context["minutes"], m.context["available"]) for m in mails] == [
        (student.email, 20, 20), (student.email, 30, 50), (student.email, 10, 60)]
    # A cancellation afterwards returns nothing more: the policy works on what is left, from the rows.
    cancellations.cancel_booking(tutor, booking.id, "", now())
    assert wallet.balance(student.id, tutor.id).available == 60


def test_bad_asks_are_refused_in_words(app, no_stripe):
    booking = _approved(60)
    admin = factories.user("admin")
    for bad in (0, -5, True, "10"):
        with pytest.raises(ValidationError):
            staff_refund_minutes(admin, booking.id, bad, "", now())
    with pytest.raises(Forbidden):
        staff_refund_minutes(factories.user("tutor"), booking.id, 10, "", now())
    held = _with_minutes(60)
    minute_payments.pay_with_minutes(held.booker, held.id, now())
    with pytest.raises(Conflict, match="approved by the tutor"):
        staff_refund_minutes(admin, held.id, 10, "", now())  # held, not spent: a decline or cancel returns them
    assert _refund_moves(booking.id) == []


def test_support_agents_refund_minutes_up_to_the_cap_by_their_value(app, no_stripe):
    app.config["SUPPORT_REFUND_CAP_MINOR"] = 2000
    try:
        booking = _approved(60)  # granted minutes (no package bought): valued at the lesson's £40.00 pro rata
        support = factories.user("support")
        with pytest.raises(Forbidden, match=r"31 minutes are worth £20\.67; support agents refund up to £20\.00"):
            staff_refund_minutes(support, booking.id, 31, "", now())
        assert staff_refund_minutes(support, booking.id, 30, "", now()).minutes == 30
    finally:
        app.config["SUPPORT_REFUND_CAP_MINOR"] = 5000


def test_the_same_form_twice_and_two_admins_at_once_make_one_refund(app, live_server, no_stripe):
    booking = _approved(60)
    admins = [factories.user("admin"), factories.user("admin")]
    browsers = []
    import requests
    for admin in admins:
        browser = requests.Session()
        page = browser.get(f"{live_server.url}/login").text
        browser.post(f"{live_server.url}/login", data={"email": admin.email, "password": factories.PASSWORD,
                                                       "csrf_token": csrf_from(page)})
        browsers.append(browser)
    forms = []
    for browser in browsers:
        page = browser.get(f"{live_server.url}/bookings/{booking.id}").text
        assert "Minutes to refund (up to 60 minutes)" in page
        forms.append({"csrf_token": csrf_from(page), "minutes": "45", "reason": "Tutor late",
                      "request_key": re.search(r'name="request_key" value="([^"]+)"', page).group(1)})
    url = f"{live_server.url}/admin/bookings/{booking.id}/refund"
    # The first admin's form sent twice at once (a double click), the second admin's at the same moment.
    sends = [(browsers[0], forms[0]), (browsers[0], forms[0]), (browsers[1], forms[1])]
    barrier = threading.Barrier(len(sends))
    answers = []

    def send(browser, form):
        barrier.wait()
        answers.append(browser.post(url, data=form))

    threads = [threading.Thread(target=send, args=pair) for pair in sends]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 3 and all(a.status_code == 200 for a in answers)  # followed to a page, no 500
    db.session.rollback()
    assert _refund_moves(booking.id) == [45]  # one refund: the double submit is it, the other admin is told
    texts = " ".join(a.text for a in answers)
    assert "Only 15 minutes are left to refund now" in texts
    assert wallet.balance(booking.booker_id, booking.lesson.tutor_id).available == 45
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "booking.refund_minutes")) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)
                             .where(OutboxMessage.template == "minutes_refunded")) == 1


def test_minutes_go_back_into_their_lot_or_a_fresh_one_when_it_has_expired(app, no_stripe):
    booking = _with_minutes(60)  # a lot that never expires
    later = _with_minutes(60, days_ahead=6)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    hold = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.key == f"hold:booking:{booking.id}"))
    origin = db.session.get(MinuteLot, hold.lot_id)
    assert origin.source_ref == f"cs_test_{booking.id}"
    admin = factories.user("admin")
    staff_refund_minutes(admin, booking.id, 10, "", now())
    refund = db.session.scalar(select(LedgerTransaction).where(LedgerTransaction.move == "refund"))
    assert refund.lot_id == origin.id  # not expired: back where they came from

    # The rule when the lot has expired since: the refunded minutes go into a new lot that lasts
    # REFUNDED_MINUTES_EXPIRE_AFTER_DAYS from the refund, so the next expiry run does not take them straight back.
    student, tutor = later.booker, later.lesson.tutor
    lot = db.session.scalar(select(MinuteLot).where(MinuteLot.source_ref == f"cs_test_{later.id}"))
    minute_payments.pay_with_minutes(student, later.id, now())
    approvals.approve(tutor, later.id, now())
    with serialized_write() as session:
        session.get(MinuteLot, lot.id).expires_at = now() - timedelta(days=1)
    assert wallet.expire_lots(now()) == 0  # everything in it was spent: nothing to expire
    refunded_at = now()
    staff_refund_minutes(admin, later.id, 40, "", refunded_at)
    db.session.rollback()
    fresh = db.session.scalar(select(MinuteLot).where(MinuteLot.source == "refund"))
    assert fresh.minutes == 40 and fresh.user_id == student.id
    days = app.config["REFUNDED_MINUTES_EXPIRE_AFTER_DAYS"]
    assert abs(fresh.expires_at - (refunded_at + timedelta(days=days))) < timedelta(seconds=5)
    assert wallet.expire_lots(now() + timedelta(hours=1)) == 0  # the refund is not expired at the next run
    assert wallet.balance(student.id, tutor.id).available == 40
    assert wallet.expire_lots(refunded_at + timedelta(days=days, seconds=1)) == 40  # but at its own expiry
    _ledger_balances_and_cache_agree()


def test_the_admin_booking_page_refunds_minutes_and_says_what_is_left(app, client, no_stripe):
    booking = _approved(60)
    admin = factories.user("admin")
    login(client, admin.email, factories.PASSWORD)
    page = client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "Minutes to refund (up to 60 minutes)" in page and 'name="amount"' not in page
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    bad = client.post(f"/admin/bookings/{booking.id}/refund", data={
        "csrf_token": csrf_from(page), "minutes": "ten", "request_key": key}, follow_redirects=True)
    assert "Minutes are a whole number such as 30, not &#39;ten&#39;" in bad.get_data(as_text=True)
    done = client.post(f"/admin/bookings/{booking.id}/refund", data={
        "csrf_token": csrf_from(page), "minutes": "15", "reason": "Sound problems", "request_key": key},
        follow_redirects=True).get_data(as_text=True)
    assert "15 minutes returned to the student&#39;s balance" in done or "15 minutes returned" in done
    timeline = client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "Minutes to refund (up to 45 minutes)" in timeline and "15 minutes refunded to the balance" in timeline


# --- after the tutor's payout --------------------------------------------------------------------------------------

def _minute_lesson_paid_out(world, client):
    booking = _bought_and_approved(world, client)  # 60 of 300 minutes bought for £180.00: a £36.00 transfer
    onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    return booking, db.session.scalar(select(MinutePayout).where(MinutePayout.booking_id == booking.id))


def _reversed(world, transfer_id: str) -> list[int]:
    return [r.amount for r in world.client.v1.transfers.reversals.list(transfer_id).data]


def test_a_minute_refund_after_the_payout_takes_back_the_same_share_of_the_transfer_once(app, client, stripe_world):
    booking, payout = _minute_lesson_paid_out(stripe_world, client)
    assert (payout.minutes, payout.amount_minor) == (60, 3600)
    admin = factories.user("admin")
    staff_refund_minutes(admin, booking.id, 15, "", now())  # a quarter of the minutes: a quarter of the transfer
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0  # safe to run twice
    assert _reversed(stripe_world, payout.transfer_id) == [900]
    staff_refund_minutes(admin, booking.id, 45, "", now())  # the rest: only the difference, never more than sent
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert sorted(_reversed(stripe_world, payout.transfer_id)) == [900, 2700]
    db.session.rollback()
    rows = db.session.scalars(select(TransferReversal).order_by(TransferReversal.id)).all()
    assert [(r.amount_minor, r.status, r.transfer_id) for r in rows] == [
        (900, "succeeded", payout.transfer_id), (2700, "succeeded", payout.transfer_id)]
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0


def test_stripe_down_leaves_the_minute_reversal_pending_and_the_next_run_sends_the_same_one(app, client,
                                                                                           stripe_world):
    booking, payout = _minute_lesson_paid_out(stripe_world, client)
    staff_refund_minutes(factories.user("admin"), booking.id, 30, "", now())
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("stripe_client", None)
    try:
        assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop("stripe_client", None)
    db.session.rollback()
    assert [(r.status, r.amount_minor) for r in db.session.scalars(select(TransferReversal))] == [("pending", 1800)]
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    db.session.rollback()
    assert [r.status for r in db.session.scalars(select(TransferReversal))] == ["succeeded"]
    assert _reversed(stripe_world, payout.transfer_id) == [1800]


def test_a_minute_refund_before_the_payout_reverses_nothing(app, client, stripe_world):
    booking = _bought_and_approved(stripe_world, client)
    staff_refund_minutes(factories.user("admin"), booking.id, 30, "", now())
    onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    assert db.session.scalar(select(MinutePayout.amount_minor)) == 1800  # paid for the 30 minutes kept
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0


# --- PayPal-paid lessons -------------------------------------------------------------------------------------------

def test_an_admin_refunds_a_paypal_lesson_on_its_capture_and_after_the_payout_takes_back_the_tutors_share(
        app, client, paypal_world, stripe_world):
    from tests.integration.test_payments import authorize
    from tests.integration.test_payments import book as card_book
    from tests.integration.test_paypal_payments import book as paypal_book
    from tests.integration.test_paypal_payments import pay
    from webapp.domain.fees import FeeBreakdown, refund_split
    from webapp.models import PaymentReceipt, PayPalOrder, Refund
    booking = pay(paypal_world, paypal_book(days_ahead=5))
    approvals.approve(booking.lesson.tutor, booking.id, now())
    onboard(booking.lesson.tutor)
    card = authorize(stripe_world, client, card_book())  # funds the platform's Stripe balance for the transfer
    approvals.approve(card.lesson.tutor, card.id, now())
    from webapp.services import payouts
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    db.session.rollback()
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    assert receipt.provider == "paypal" and receipt.transferred_minor == receipt.tutor_payout_minor > 0
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 1000, "Goodwill", now(), request_key="paypal-form-1")
    cancellations.admin_refund(admin, booking.id, 1000, "Goodwill", now(), request_key="paypal-form-1")  # resent
    capture_id = db.session.scalar(select(PayPalOrder.capture_id).where(PayPalOrder.booking_id == booking.id))
    assert [(r["_capture"], r["amount"]["value"]) for r in paypal_world.server.refunds.values()] == [
        (capture_id, "10.00")]  # one refund, on the capture
    db.session.rollback()
    assert [(r.amount_minor, r.status) for r in db.session.scalars(select(Refund))] == [(1000, "succeeded")]
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    tutors_part = refund_split(FeeBreakdown.from_dict(receipt.breakdown), 1000).from_tutor
    assert tutors_part > 0 and _reversed(stripe_world, receipt.transfer_id) == [tutors_part]


def test_minutes_refunded_after_the_payout_are_worth_their_price_again_when_taught_again(app, client, stripe_world):
    from tests.integration.test_payments import book
    booking = _bought_and_approved(stripe_world, client, hours=1, discount=0)  # £40.00 for 60 minutes
    tutor, student = booking.lesson.tutor, booking.booker
    onboard(tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    staff_refund_minutes(factories.user("admin"), booking.id, 60, "Tutor no-show", now())
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1  # the whole £40.00 comes back from the tutor
    again = book(student=student, tutor_teach=(tutor, booking.lesson.teach), days_ahead=6)
    minute_payments.pay_with_minutes(student, again.id, now())
    approvals.approve(tutor, again.id, now())
    db.session.rollback()
    again = db.session.get(type(booking), again.id)
    assert minute_payouts.send_minute_payouts(again.lesson.finish_at + timedelta(days=3)) == 1
    db.session.rollback()
    # The same 60 minutes, taught this time, are paid for: not valued at nothing because an earlier lesson had them.
    assert db.session.scalar(select(MinutePayout.amount_minor).where(MinutePayout.booking_id == again.id)) == 4000


def _taught_again(booking):
    """The same student pays another lesson with the same tutor from their minutes; the tutor approves it."""
    from tests.integration.test_payments import book
    again = book(student=booking.booker, tutor_teach=(booking.lesson.tutor, booking.lesson.teach), days_ahead=6)
    minute_payments.pay_with_minutes(booking.booker, again.id, now())
    approvals.approve(booking.lesson.tutor, again.id, now())
    db.session.rollback()
    return db.session.get(type(booking), again.id)


def _payout_of(booking_id: int) -> int | None:
    db.session.rollback()
    return db.session.scalar(select(MinutePayout.amount_minor).where(MinutePayout.booking_id == booking_id))


def test_a_lesson_taught_while_a_clawback_is_pending_is_valued_after_it_comes_back(app, client, stripe_world):
    """Stripe down: the refunded minutes' share is still with the tutor, so the next lesson is not valued on them
    yet (that would pay the tutor twice if the clawback then failed); once it is back, the lesson is paid in full."""
    booking = _bought_and_approved(stripe_world, client, hours=1, discount=0)  # £40.00 for 60 minutes
    onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    staff_refund_minutes(factories.user("admin"), booking.id, 60, "Tutor no-show", now())
    again = _taught_again(booking)
    settled = again.lesson.finish_at + timedelta(days=3)
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("stripe_client", None)
    try:
        assert transfer_reversals.reverse_overpaid_transfers(now()) == 0  # recorded pending
        assert minute_payouts.send_minute_payouts(settled) == 0
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop("stripe_client", None)
    assert _payout_of(again.id) is None  # not decided while the clawback is unsettled
    assert minute_payouts.send_minute_payouts(settled) == 0  # Stripe is back, but the money is not yet
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert minute_payouts.send_minute_payouts(settled) == 1
    assert _payout_of(again.id) == 4000


def test_minutes_whose_clawback_stripe_refused_are_not_paid_for_twice(app, client, stripe_world):
    """The tutor still holds the refunded minutes' share (Stripe refused to take it back: a person must act), so
    teaching those minutes again is not paid a second time."""
    booking = _bought_and_approved(stripe_world, client, hours=1, discount=0)
    onboard(booking.lesson.tutor)
    assert minute_payouts.send_minute_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    payout = db.session.scalar(select(MinutePayout).where(MinutePayout.booking_id == booking.id))
    # Someone reversed the whole transfer by hand at Stripe: ours is refused, as more than remains.
    stripe_world.client.v1.transfers.reversals.create(payout.transfer_id, params={"amount": payout.amount_minor})
    staff_refund_minutes(factories.user("admin"), booking.id, 60, "Tutor no-show", now())
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    db.session.rollback()
    assert [r.status for r in db.session.scalars(select(TransferReversal))] == ["failed"]
    again = _taught_again(booking)
    minute_payouts.send_minute_payouts(again.lesson.finish_at + timedelta(days=3))
    assert not _payout_of(again.id)  # valued at nothing: those 60 minutes were paid for once already


def test_the_api_refunds_minutes_once_per_key_and_says_what_is_left(app, client, no_stripe):
    from webapp.services import accounts
    booking = _approved(60)
    admin = factories.user("admin")
    auth = {"Authorization": f"Bearer {accounts.issue_api_token(admin)[0]}"}
    url = f"/api/bookings/{booking.id}/minute-refunds"
    body = {"minutes": 40, "reason": "Late", "idempotency_key": "api-key-0001"}
    first = client.post(url, json=body, headers=auth)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["state"] == BookingState.PARTIAL_REFUNDED
    assert client.post(url, json=body, headers=auth).status_code == 201  # the same key: the same refund
    more = client.post(url, json={"minutes": 30, "idempotency_key": "api-key-0002"}, headers=auth)
    assert more.status_code == 409 and more.get_json()["error"]["refundable_minutes"] == 20
    assert client.post(url, json={"minutes": "20"}, headers=auth).status_code == 422
    assert client.post(url, json={"minutes": 0}, headers=auth).status_code == 422
    student = {"Authorization": f"Bearer {accounts.issue_api_token(booking.booker)[0]}"}
    assert client.post(url, json={"minutes": 5}, headers=student).status_code in (403, 404)
    db.session.rollback()
    assert _refund_moves(booking.id) == [40]
