"""Refunds after the tutor was paid take the tutor's share back from their transfer, once, through outages."""
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.integration.test_refunds_and_payouts import onboard, paid_booking
from tests.integration.test_payments import now
from webapp.domain.fees import FeeBreakdown, refund_split
from webapp.extensions import db
from webapp.models import PaymentReceipt, TransferReversal
from webapp.services import cancellations, payouts, transfer_reversals


def _paid_out(world, client):
    """A booking approved, its lesson over and settled, and the tutor's share transferred."""
    booking = paid_booking(world, client, days_ahead=5)
    account = onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    receipt = db.session.scalar(select(PaymentReceipt).where(PaymentReceipt.booking_id == booking.id))
    return booking, account, receipt


def _reversals_in_stripe(world, receipt) -> list[int]:
    return [r.amount for r in world.client.v1.transfers.reversals.list(receipt.transfer_id).data]


def test_a_goodwill_refund_after_the_payout_takes_the_tutors_share_back_once(app, client, stripe_world):
    booking, _, receipt = _paid_out(stripe_world, client)
    sent = receipt.transferred_minor
    assert sent == receipt.tutor_payout_minor > 0
    breakdown = FeeBreakdown.from_dict(receipt.breakdown)
    cancellations.admin_refund(factories.user("admin"), booking.id, 2000, "Goodwill", now())
    tutors_part = refund_split(breakdown, 2000).from_tutor
    assert tutors_part > 0
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0  # safe to run twice
    assert _reversals_in_stripe(stripe_world, receipt) == [tutors_part]
    db.session.rollback()
    receipt = db.session.get(PaymentReceipt, receipt.id)
    # What the tutor keeps is what they are owed now: the transfer less the reversal.
    assert sent - tutors_part == receipt.tutor_payout_minor


def test_refunding_the_rest_later_takes_back_only_the_difference(app, client, stripe_world):
    booking, _, receipt = _paid_out(stripe_world, client)
    sent, admin = receipt.transferred_minor, factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 1000, "", now())
    transfer_reversals.reverse_overpaid_transfers(now())
    paid = receipt.amount_minor
    cancellations.admin_refund(admin, booking.id, paid - 1000, "", now())
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    assert sum(_reversals_in_stripe(stripe_world, receipt)) == sent  # refunded in full: the whole share comes back
    assert len(_reversals_in_stripe(stripe_world, receipt)) == 2


def test_a_refund_before_the_payout_reverses_nothing(app, client, stripe_world):
    booking = paid_booking(stripe_world, client, days_ahead=5)
    cancellations.admin_refund(factories.user("admin"), booking.id, 1000, "", now())
    onboard(booking.lesson.tutor)
    assert payouts.send_pending_payouts(booking.lesson.finish_at + timedelta(days=3)) == 1
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 0  # the payout already paid the smaller share
    assert db.session.scalar(select(TransferReversal.id)) is None


def test_stripe_down_leaves_the_reversal_pending_and_the_next_run_sends_the_same_one(app, client, stripe_world):
    booking, _, receipt = _paid_out(stripe_world, client)
    cancellations.admin_refund(factories.user("admin"), booking.id, 2000, "", now())
    saved = app.config["STRIPE_API_BASE"]
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there
    app.extensions.pop("stripe_client", None)
    try:
        assert transfer_reversals.reverse_overpaid_transfers(now()) == 0
    finally:
        app.config["STRIPE_API_BASE"] = saved
        app.extensions.pop("stripe_client", None)
    db.session.rollback()
    pending = db.session.scalars(select(TransferReversal)).all()
    assert [(r.status, r.stripe_reversal_id) for r in pending] == [("pending", None)]
    assert transfer_reversals.reverse_overpaid_transfers(now()) == 1
    db.session.rollback()
    done = db.session.scalars(select(TransferReversal)).all()
    assert [r.status for r in done] == ["succeeded"] and len(_reversals_in_stripe(stripe_world, receipt)) == 1
