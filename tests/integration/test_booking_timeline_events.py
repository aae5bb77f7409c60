"""A booking's timeline for the staff lists the Stripe and PayPal webhook events stored about its payment: type,
when it came, and whether it was applied (with what it did, or the error that keeps it waiting)."""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from tests import factories
from tests.conftest import login
from tests.integration import test_paypal_payments as paypal
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from tests.integration.test_admin_audit_walk import paid
from webapp.extensions import db
from webapp.models import PayPalEvent, StripeEvent
from webapp.services import booking_timeline, paypal_checkout


def _staff_page(app, booking_id: int) -> str:
    staff = app.test_client()
    login(staff, factories.user("support").email, factories.PASSWORD)
    return staff.get(f"/admin/bookings/{booking_id}").get_data(as_text=True)


def test_the_timeline_lists_the_stripe_events_of_the_bookings_payment_and_whether_they_were_applied(
        app, client, stripe_world):
    booking = paid({"world": stripe_world, "client": client})
    other = paid({"world": stripe_world, "client": client})
    stored = list(db.session.scalars(select(StripeEvent).where(StripeEvent.booking_id == booking.id)))
    assert {e.type for e in stored} >= {"checkout.session.completed", "payment_intent.amount_capturable_updated"}
    # One more event about this booking that a job could not apply yet.
    db.session.add(StripeEvent(id="evt_waiting_1", type="payment_intent.succeeded", payload={}, booking_id=booking.id,
                               received_at=datetime.now(UTC), attempts=2, last_error="Timeout: Stripe was slow"))
    db.session.commit()

    page = _staff_page(app, booking.id)
    for event in stored:
        assert f"Stripe event {event.type} ({event.id}): applied" in page, event.type
    assert "Stripe event payment_intent.succeeded (evt_waiting_1): not applied yet after 2 attempt(s): " \
           "Timeout: Stripe was slow" in page
    theirs = db.session.scalars(select(StripeEvent.id).where(StripeEvent.booking_id == other.id)).all()
    assert theirs and not any(event_id in page for event_id in theirs)


def test_the_timeline_lists_the_paypal_events_of_a_paypal_paid_booking(app, client, paypal_world):
    booking = paypal.book()
    url = paypal_checkout.start(booking.booker, booking.id, None, paypal.now(), **paypal.URLS)
    paypal_world.approve(url)
    paypal_world.deliver(client)  # CHECKOUT.ORDER.APPROVED: the job authorizes
    events = list(db.session.scalars(select(PayPalEvent).where(PayPalEvent.booking_id == booking.id)))
    assert "CHECKOUT.ORDER.APPROVED" in {e.type for e in events}
    _, timeline = booking_timeline.timeline(factories.user("admin"), booking.id)
    provider = [e.text for e in timeline if e.kind == "provider"]
    assert len(provider) == len(events) and all(t.startswith("PayPal event ") for t in provider)
    assert any("CHECKOUT.ORDER.APPROVED" in t and ": applied" in t for t in provider)


def test_the_timeline_says_who_approved_declined_or_cancelled_and_when(app, paypal_world):
    from webapp.services import approvals, cancellations
    staff = factories.user("admin")
    approved = paypal.pay(paypal_world, paypal.book())
    tutor = approved.lesson.tutor
    approvals.approve(tutor, approved.id, paypal.now())
    texts = [e.text for e in booking_timeline.timeline(staff, approved.id)[1]]
    assert f"Approved by the tutor ({tutor.name})" in texts

    declined = paypal.pay(paypal_world, paypal.book(days_ahead=8))
    approvals.decline(declined.lesson.tutor, declined.id, paypal.now())
    texts = [e.text for e in booking_timeline.timeline(staff, declined.id)[1]]
    assert f"Declined by the tutor ({declined.lesson.tutor.name})" in texts

    cancelled = paypal.pay(paypal_world, paypal.book(days_ahead=11))
    student = cancelled.booker
    cancellations.cancel_booking(student, cancelled.id, "", paypal.now())
    texts = [e.text for e in booking_timeline.timeline(staff, cancelled.id)[1]]
    assert f"Cancelled by {student.name}" in texts
    assert not any(t.startswith("Approved") for t in texts)
