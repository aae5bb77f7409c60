"""Refunds that Stripe accepted and then reported failed (charge.refund.updated, refund.updated, refund.failed),
signed by the local Stripe server and posted to the real webhook endpoint: the refund row goes to failed once,
whatever the order or number of deliveries; the booking's refunded total and state come back from the rows, so it
can be refunded again; the payout waits for the staff; a transfer reversal already made is kept and said; the staff
are told once."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from tests.integration.test_payments import authorize, book, now, wait_for_types
from tests.integration.test_refunds_and_payouts import onboard
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import (Booking, Notification, OutboxMessage, PaymentReceipt, Refund, StripeEvent,
                           TransferReversal)
from webapp.services import approvals, booking_timeline, cancellations, payouts, transfer_reversals
from webapp.services.errors import Conflict
from webapp.services.outbox import render_email

FAILURE_EVENTS = ("charge.refund.updated", "refund.updated", "refund.failed")


def _paid(world, client, days_ahead: int = 5) -> Booking:
    booking = authorize(world, client, book(days_ahead=days_ahead))
    return approvals.approve(booking.lesson.tutor, booking.id, now())


def _by_type(world, *types: str) -> list:
    """The deliveries so far of these event types, in the order given (then the order they came)."""
    deliveries = world.deliveries()
    return [d for kind in types for d in deliveries if json.loads(d[1])["type"] == kind]


def _fail(world, refund_id: str) -> None:
    world.server.fail_refund(refund_id)
    for kind in FAILURE_EVENTS:
        world.receiver.wait_for(kind, id=refund_id)


def _receipt(booking_id: int) -> PaymentReceipt:
    db.session.rollback()
    return db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking_id))


def _team_mails() -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "refund_failed")))


def test_a_refund_that_fails_later_stops_counting_and_the_booking_can_be_refunded_again(app, client, stripe_world):
    booking = _paid(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 2000, "Goodwill", now())
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))
    wait_for_types(stripe_world, "charge.refunded")
    stripe_world.deliver(client)
    assert (_receipt(booking.id).refunded_minor, db.session.get(Booking, booking.id).state) == (
        2000, BookingState.PARTIAL_REFUNDED)

    _fail(stripe_world, row.stripe_refund_id)
    responses = stripe_world.deliver(client)  # everything so far: the old ones answer "duplicate"

    assert all(r.status_code == 200 for r in responses)
    receipt = _receipt(booking.id)
    row = db.session.get(Refund, row.id)
    assert (row.status, row.failure_reason) == ("failed", "unknown") and row.failed_at is not None
    assert receipt.refunded_minor == 0
    assert db.session.get(Booking, booking.id).state == BookingState.PAID
    outcomes = dict(db.session.execute(select(StripeEvent.type, StripeEvent.outcome)
                                       .where(StripeEvent.type.in_(FAILURE_EVENTS))).all())
    assert sorted(outcomes.values()) == ["already-applied", "already-applied", "refund-failed"]
    mails = _team_mails()
    assert len(mails) == 1 and mails[0].context["what"] == f"lesson booking #{booking.id}"
    assert mails[0].context["refund_id"] == row.stripe_refund_id and "held" in mails[0].context["consequence"]
    subject, text, _html = render_email(mails[0].template, mails[0].context)
    assert subject.startswith("Refund FAILED at Stripe: £20.00") and "Reason given: no reason given" in text
    notices = list(db.session.scalars(select(Notification).where(Notification.kind == "refund_failed")))
    assert [n.user_id for n in notices] == [admin.id]
    assert notices[0].url == f"/admin/bookings/{booking.id}"
    _, events = booking_timeline.timeline(admin, booking.id)
    assert any("FAILED after it was accepted" in e.text for e in events)

    # Staff refund again: Stripe has the whole charge to refund, and the books follow.
    cancellations.admin_refund(admin, booking.id, 4000, "Again, after the failed one", now())
    receipt = _receipt(booking.id)
    assert receipt.refunded_minor == 4000
    assert db.session.get(Booking, booking.id).state == BookingState.REFUNDED


def test_deliveries_replayed_and_in_any_order_book_the_failure_once(app, client, stripe_world):
    booking = _paid(stripe_world, client)
    refund = stripe_world.client.v1.refunds.create(params={"payment_intent": booking.payment_intent_id})  # dashboard
    wait_for_types(stripe_world, "charge.refunded")
    _fail(stripe_world, refund.id)
    # The failure reaches us before the refund itself (charge.refunded last), each event twice.
    order = _by_type(stripe_world, "refund.failed", "charge.refund.updated", "refund.updated", "charge.refunded")
    responses = stripe_world.deliver(client, order + order)
    assert [r.get_json().get("outcome") for r in responses][-4:] == ["duplicate"] * 4

    db.session.rollback()
    rows = list(db.session.scalars(select(Refund).where(Refund.booking_id == booking.id)))
    assert [(r.stripe_refund_id, r.status, r.amount_minor) for r in rows] == [(refund.id, "failed", 4000)]
    assert _receipt(booking.id).refunded_minor == 0
    assert db.session.get(Booking, booking.id).state == BookingState.PAID
    assert len(_team_mails()) == 1


def test_a_failed_refund_the_form_resends_is_not_made_again_silently(app, client, stripe_world):
    booking = _paid(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 1000, "", now(), request_key="form-key-1")
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))
    _fail(stripe_world, row.stripe_refund_id)
    stripe_world.deliver(client)
    try:
        cancellations.admin_refund(admin, booking.id, 1000, "", now(), request_key="form-key-1")
        raise AssertionError("the same form again must not pretend to refund")
    except Conflict as exc:
        assert "failed at Stripe" in exc.message
    assert _receipt(booking.id).refunded_minor == 0


def _refund_failed_before_payout(stripe_world, client, amount_minor: int):
    """A paid lesson an admin refunded `amount_minor` of, the refund failed at Stripe (delivered), the tutor onboarded;
    returns (booking, admin, a time after the lesson has settled)."""
    booking = _paid(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, amount_minor, "", now())
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))
    _fail(stripe_world, row.stripe_refund_id)
    stripe_world.deliver(client)
    onboard(booking.lesson.tutor)
    return booking, admin, booking.lesson.finish_at + timedelta(days=3)


def test_a_failed_refund_holds_the_payout_until_the_customer_is_refunded_again(app, client, stripe_world):
    booking, admin, settled = _refund_failed_before_payout(stripe_world, client, 1000)

    assert payouts.send_pending_payouts(settled) == 0
    receipt = _receipt(booking.id)
    assert receipt.transfer_id is None and receipt.transfer_error.startswith("Held: ")
    rows = payouts.payout_overview(admin, settled)
    assert [(r.status, r.booking.id) for r in rows] == [("held", booking.id)]
    login(client, admin.email, factories.PASSWORD)
    assert "Pay the tutor anyway" in client.get("/admin/payouts").get_data(as_text=True)
    timeline = client.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "Payout Held: refund" in timeline and "Pay the tutor anyway (payout held: a refund failed)" in timeline

    cancellations.admin_refund(admin, booking.id, 1000, "Again", now())  # the customer refunded again
    assert _receipt(booking.id).transfer_error is None  # the hold lifted
    assert payouts.send_pending_payouts(settled) == 1
    receipt = _receipt(booking.id)
    assert receipt.transferred_minor == receipt.tutor_payout_minor > 0


def test_an_admin_may_pay_a_held_payout_anyway_and_it_is_audited(app, client, stripe_world):
    booking, admin, settled = _refund_failed_before_payout(stripe_world, client, 4000)
    assert payouts.send_pending_payouts(settled) == 0
    assert payouts.retry_payout(admin, booking.id, settled).transferred
    receipt = _receipt(booking.id)
    assert receipt.transfer_id and receipt.transferred_minor == receipt.tutor_payout_minor


def test_a_reversal_made_for_a_refund_that_failed_is_kept_said_and_never_taken_twice(app, client, stripe_world):
    booking = _paid(stripe_world, client)
    admin = factories.user("admin")
    account = onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    sent = _receipt(booking.id).transferred_minor
    cancellations.admin_refund(admin, booking.id, 4000, "Full goodwill", now())
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))

    _fail(stripe_world, row.stripe_refund_id)
    stripe_world.deliver(client)

    # Nothing is paid back to the tutor by itself; the staff are told how much the tutor is short.
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    transfers = stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data
    assert len(transfers) == 1
    mail = _team_mails()[0]
    assert mail.context["tutor_short"] == f"£{sent / 100:.2f}"
    _, events = booking_timeline.timeline(admin, booking.id)
    assert any(e.text.startswith("The tutor is ") and "short" in e.text for e in events)

    # Refunding the customer again takes nothing more from the tutor: the reversal already covers it.
    cancellations.admin_refund(admin, booking.id, 4000, "Again", now())
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    assert db.session.scalar(select(func.count()).select_from(TransferReversal)) == 1
    _, events = booking_timeline.timeline(admin, booking.id)
    assert not any(e.text.startswith("The tutor is ") for e in events)


def test_a_cancellation_refund_that_fails_leaves_the_lesson_cancelled_and_the_money_refundable(
        app, client, stripe_world):
    booking = _paid(stripe_world, client, days_ahead=5)
    cancellations.cancel_booking(booking.booker, booking.id, "Cannot make it", now())
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))
    assert row.amount_minor == 4000
    _fail(stripe_world, row.stripe_refund_id)
    stripe_world.deliver(client)
    db.session.rollback()
    booking = db.session.get(Booking, booking.id)
    assert (booking.state, booking.lesson.state) == (BookingState.PAID, "CANCELLED")
    cancellations.admin_refund(factories.user("admin"), booking.id, 4000, "Cancellation refund, again", now())
    assert _receipt(booking.id).refunded_minor == 4000


def test_a_payout_made_smaller_by_a_refund_that_then_failed_is_not_topped_up_by_itself_but_said(
        app, client, stripe_world):
    booking = _paid(stripe_world, client)
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 2000, "Half back", now())
    account = onboard(booking.lesson.tutor)
    settled = booking.lesson.finish_at + timedelta(days=3)
    assert payouts.send_pending_payouts(settled) == 1
    sent = _receipt(booking.id).transferred_minor
    row = db.session.scalar(select(Refund).where(Refund.booking_id == booking.id))

    _fail(stripe_world, row.stripe_refund_id)
    stripe_world.deliver(client)

    receipt = _receipt(booking.id)
    owed = receipt.tutor_payout_minor
    assert owed > sent
    assert payouts.send_pending_payouts(settled) == 0 and transfer_reversals.reverse_overpaid_transfers(now()) == 0
    assert len(stripe_world.client.v1.transfers.list(params={"destination": account.stripe_account_id}).data) == 1
    [mail] = _team_mails()
    assert mail.context["tutor_short"] == f"£{(owed - sent) / 100:.2f}"
