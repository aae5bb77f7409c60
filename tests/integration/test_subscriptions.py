"""Monthly plans on the local Stripe: subscribing on Checkout (mode=subscription), invoice.paid granting the period's
minutes once per invoice (replayed and reordered webhooks), a declined renewal pausing minute bookings, cancel at
period end / resume / the end, plan changes with proration, and the rollover rule recorded as expiry."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import book
from webapp.domain.funding import Funding
from webapp.domain.ledger import Move
from webapp.domain.states import BookingState
from webapp.domain.subscriptions import add_months
from webapp.extensions import db
from webapp.models import Booking, LedgerTransaction, MinuteLot, Subscription
from webapp.services import minute_payments, subscription_checkouts, subscriptions, wallet
from webapp.services.errors import Conflict, NotFound, ValidationError

URLS = {"success_url": "http://app.test/account/subscriptions", "cancel_url": "http://app.test/tutors/1"}


def now() -> datetime:
    return datetime.now(UTC)


def _plan(teacher=None, minutes: int = 240, price: int = 8000):
    teacher = teacher or factories.tutor(rate_minor=4000)[0]
    return subscriptions.add_plan(teacher, minutes, price)


def _count(world, event_type: str) -> int:
    return world.receiver.types().count(event_type)


def _wait(world, event_type: str, count: int = 1, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while _count(world, event_type) < count:
        assert time.monotonic() < deadline, f"no {count}× {event_type}; got {world.receiver.types()}"
        time.sleep(0.05)


def _subscribe(world, client, student, plan) -> Subscription:
    url = subscription_checkouts.start_subscription(student, plan.id, "form-key-1", **URLS, now=now())
    assert world.pay(url).status_code == 303
    _wait(world, "invoice.paid")
    _wait(world, "checkout.session.completed")
    assert all(r.status_code == 200 for r in world.deliver(client))
    db.session.rollback()
    return db.session.scalar(select(Subscription).where(Subscription.student_id == student.id))


def _lots(student) -> list[MinuteLot]:
    return list(db.session.scalars(select(MinuteLot).where(MinuteLot.user_id == student.id).order_by(MinuteLot.id)))


def _advance(world, client, row: Subscription, renewal: str = "paid", event: str = "invoice.paid") -> Subscription:
    seen = _count(world, event)
    world.server.advance_subscription(row.stripe_subscription_id, renewal=renewal)
    _wait(world, event, seen + 1)
    world.deliver(client)
    db.session.rollback()
    return db.session.get(Subscription, row.id)


def test_subscribing_grants_the_periods_minutes_once_under_replay(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")

    row = _subscribe(stripe_world, client, student, plan)
    stripe_world.deliver(client, stripe_world.deliveries() * 3)  # every webhook replayed three more times

    db.session.rollback()
    assert (row.status, row.plan_id, row.tutor_id, row.cancel_at_period_end) == ("active", plan.id, plan.tutor_id, False)
    assert row.current_period_end == add_months(row.current_period_start, 1)
    lots = _lots(student)
    assert [(lot.source, lot.minutes) for lot in lots] == [("subscription", 240)]
    assert lots[0].source_ref.startswith("in_")
    assert lots[0].expires_at == add_months(row.billing_anchor, 2)  # one period's allowance may carry over
    assert wallet.balance(student.id, plan.tutor_id).available == 240


def test_a_renewal_grants_again_keyed_on_its_invoice_whatever_the_order(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    first_end = row.current_period_end

    seen = _count(stripe_world, "invoice.paid")
    stripe_world.server.advance_subscription(row.stripe_subscription_id)
    _wait(stripe_world, "invoice.paid", seen + 1)
    _wait(stripe_world, "customer.subscription.updated")
    stripe_world.deliver(client, list(reversed(stripe_world.deliveries())))  # newest first
    stripe_world.deliver(client)

    db.session.rollback()
    row = db.session.get(Subscription, row.id)
    assert row.current_period_start == first_end and row.status == "active"
    assert [lot.minutes for lot in _lots(student)] == [240, 240]
    assert len({lot.source_ref for lot in _lots(student)}) == 2
    assert wallet.balance(student.id, plan.tutor_id).available == 480


def test_a_declined_renewal_pauses_booking_with_minutes_until_paid(app, client, stripe_world):
    teacher, teach = factories.tutor(rate_minor=4000)
    plan = _plan(teacher)
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)

    row = _advance(stripe_world, client, row, renewal="declined", event="invoice.payment_failed")

    assert row.status == "past_due"
    assert [lot.minutes for lot in _lots(student)] == [240]  # the failed invoice granted nothing
    booking = book(student=student, tutor_teach=(teacher, teach))
    offer = minute_payments.minutes_offer(student, booking)
    assert offer.available == 240 and not offer.covers and "paused" in offer.paused
    with pytest.raises(Conflict, match="last payment of your monthly plan failed"):
        minute_payments.pay_with_minutes(student, booking.id, now())
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT
    assert wallet.balance(student.id, teacher.id).held == 0

    invoice = stripe_world.client.v1.subscriptions.retrieve(row.stripe_subscription_id).latest_invoice
    seen = _count(stripe_world, "invoice.paid")
    stripe_world.client.v1.invoices.pay(invoice, params={"paid_out_of_band": True})
    _wait(stripe_world, "invoice.paid", seen + 1)
    stripe_world.deliver(client)
    db.session.rollback()
    assert db.session.get(Subscription, row.id).status == "active"
    assert wallet.balance(student.id, teacher.id).available == 480
    assert minute_payments.pay_with_minutes(student, booking.id, now()).funding == Funding.MINUTES


def test_cancel_at_period_end_resume_and_the_end(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)

    assert subscriptions.set_cancel_at_period_end(student, row.id, True, "k-cancel", now()).cancel_at_period_end
    assert subscriptions.set_cancel_at_period_end(student, row.id, True, "k-cancel", now()).cancel_at_period_end
    resumed = subscriptions.set_cancel_at_period_end(student, row.id, False, "k-resume", now())
    assert not resumed.cancel_at_period_end
    subscriptions.set_cancel_at_period_end(student, row.id, True, "k-cancel-2", now())
    _wait(stripe_world, "customer.subscription.updated", 3)
    stripe_world.deliver(client)
    db.session.rollback()
    row = db.session.get(Subscription, row.id)
    assert (row.status, row.cancel_at_period_end) == ("active", True)

    row = _advance(stripe_world, client, row, event="customer.subscription.deleted")

    assert row.status == "canceled" and row.ended_at == row.current_period_end
    assert [lot.minutes for lot in _lots(student)] == [240]  # no renewal; the paid minutes stay until they expire
    with pytest.raises(Conflict, match="ended"):
        subscriptions.set_cancel_at_period_end(student, row.id, False, "k-late", now())
    other = factories.user("student")
    with pytest.raises(NotFound):
        subscriptions.set_cancel_at_period_end(other, row.id, True, "k-other", now())


def test_a_stale_cancel_replayed_under_its_old_key_records_what_stripe_holds_and_still_cancels(app, client,
                                                                                              stripe_world):
    # Cancel (key A), resume (key B), then the cancel form of a stale page or an app's retry (key A again): Stripe
    # answers a replay of the first cancel without acting. Recording that answer would show "Cancelled" while Stripe
    # renews (and charges) at the period's end.
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    subscriptions.set_cancel_at_period_end(student, row.id, True, "k-cancel", now())
    subscriptions.set_cancel_at_period_end(student, row.id, False, "k-resume", now())

    again = subscriptions.set_cancel_at_period_end(student, row.id, True, "k-cancel", now())

    held = stripe_world.client.v1.subscriptions.retrieve(row.stripe_subscription_id)
    assert again.cancel_at_period_end is True and held.cancel_at_period_end is True


def test_an_upgrade_is_prorated_at_once_and_a_downgrade_waits_for_the_renewal(app, client, stripe_world):
    teacher = factories.tutor(rate_minor=4000)[0]
    small, big, tiny = _plan(teacher, 240, 8000), _plan(teacher, 480, 16000), _plan(teacher, 120, 4000)
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, small)

    upgraded = subscriptions.change_plan(student, row.id, big.id, "k-up", now())
    assert upgraded.plan_id == big.id
    _wait(stripe_world, "invoice.paid", 2)
    stripe_world.deliver(client)
    db.session.rollback()
    extra = _lots(student)[-1]
    assert 235 <= extra.minutes <= 240  # (480 - 240) × nearly the whole period left
    assert extra.expires_at == _lots(student)[0].expires_at
    update_invoice = stripe_world.client.v1.invoices.retrieve(extra.source_ref)
    assert update_invoice.billing_reason == "subscription_update" and 7900 <= update_invoice.amount_paid <= 8000

    subscriptions.change_plan(student, row.id, tiny.id, "k-down", now())
    _wait(stripe_world, "customer.subscription.updated", 2)
    stripe_world.deliver(client)
    assert len(_lots(student)) == 2  # the downgrade bills and grants nothing now
    row = _advance(stripe_world, client, db.session.get(Subscription, row.id))
    assert row.plan_id == tiny.id and _lots(student)[-1].minutes == 120
    renewal = stripe_world.client.v1.invoices.retrieve(_lots(student)[-1].source_ref)
    assert renewal.amount_paid == 4000

    with pytest.raises(NotFound):
        subscriptions.change_plan(student, row.id, _plan(minutes=600, price=9000).id, "k-x", now())


def test_unused_minutes_beyond_one_allowance_expire_on_the_ledger(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    anchor = row.billing_anchor
    row = _advance(stripe_world, client, row)
    row = _advance(stripe_world, client, row)
    assert wallet.balance(student.id, plan.tutor_id).available == 720

    expired = wallet.expire_lots(add_months(anchor, 2) + timedelta(seconds=1))

    assert expired == 240  # the first period's minutes: one allowance (240) still carries over beside the third's
    assert wallet.balance(student.id, plan.tutor_id).available == 480
    moves = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.user_id == student.id,
                                                               LedgerTransaction.move == str(Move.EXPIRE))).all()
    assert [(m.minutes, m.lot_id) for m in moves] == [(240, _lots(student)[0].id)]
    assert wallet.expire_lots(add_months(anchor, 2) + timedelta(seconds=1)) == 0


def test_one_live_subscription_per_tutor_and_plans_are_validated(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    _subscribe(stripe_world, client, student, plan)
    with pytest.raises(Conflict, match="already subscribe"):
        subscription_checkouts.start_subscription(student, plan.id, "form-key-2", **URLS, now=now())
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 1
    with pytest.raises(ValidationError):
        subscriptions.add_plan(plan.tutor, 240, 9000)  # one plan per number of minutes
    with pytest.raises(ValidationError):
        subscriptions.add_plan(plan.tutor, 17, 9000)


def test_the_pages_a_tutor_and_a_student_use(app, client, stripe_world):
    teacher = factories.tutor(rate_minor=4000)[0]
    login(client, teacher.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/plans").get_data(as_text=True))
    for data, words in (({"minutes": "20", "price": "80"}, "from 30 to 6000, in steps of 15"),
                        ({"minutes": "240", "price": "eighty"}, "Enter an amount like 42.50"),
                        ({"minutes": "240", "price": "0.50"}, "Give a monthly price from 1.00"),
                        ({"minutes": "240", "price": "80,00"}, "with a point for the decimals, like 42.50"),
                        ({"minutes": "2.5", "price": "80"}, "Type a whole number, like 12."),
                        ({"minutes": "", "price": ""}, "Give the minutes per month.")):
        response = client.post("/tutor/plans", data={"csrf_token": token, **data})
        assert response.status_code == 422 and words in response.get_data(as_text=True), data
    assert client.post("/tutor/plans", data={"csrf_token": token, "minutes": "240", "price": "80.00"}).status_code == 303
    client.post("/tutor/plans", data={"csrf_token": token, "minutes": "480", "price": "150"})
    assert "£80.00" in client.get("/tutor/plans").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": token})

    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    offer = client.get(f"/tutors/{teacher.id}/plans").get_data(as_text=True)
    assert "240 minutes a month" in offer and "£80.00 a month" in offer
    small = subscriptions.plans(teacher.id)[0]
    response = client.post(f"/tutors/{teacher.id}/plans/{small.id}/subscribe",
                           data={"csrf_token": csrf_from(offer), "form_key": "page-key-1"})
    assert response.status_code == 303 and "/c/pay/cs_test_" in response.location
    again = client.post(f"/tutors/{teacher.id}/plans/{small.id}/subscribe",
                        data={"csrf_token": csrf_from(offer), "form_key": "page-key-1"})
    assert again.location == response.location  # a double click: the same Checkout page
    assert "Stripe is confirming" in client.get("/account/subscriptions?subscribed=1").get_data(as_text=True)
    stripe_world.pay(response.location)
    _wait(stripe_world, "invoice.paid")
    stripe_world.deliver(client)

    page = client.get("/account/subscriptions").get_data(as_text=True)
    row = db.session.scalar(select(Subscription).where(Subscription.student_id == student.id))
    assert "Active" in page and "240 minutes left" not in page and "240 minutes</dd>" in page
    assert "Next renewal" in page and "Change plan" in page
    confirm = client.get(f"/account/subscriptions/{row.id}/change?plan_id={subscriptions.plans(teacher.id)[1].id}")
    assert "charged the difference for the rest of this month" in confirm.get_data(as_text=True)
    same = client.get(f"/account/subscriptions/{row.id}/change?plan_id={row.plan_id}", follow_redirects=True)
    assert "You are already on that plan." in same.get_data(as_text=True)  # not "Change to the plan you have?"
    token = csrf_from(page)
    cancelled = client.post(f"/account/subscriptions/{row.id}/cancel", data={"csrf_token": token, "form_key": "c1"},
                            follow_redirects=True).get_data(as_text=True)
    assert "Cancelled: ends on" in cancelled and "Resume" in cancelled
    resumed = client.post(f"/account/subscriptions/{row.id}/resume", data={"csrf_token": token, "form_key": "r1"},
                          follow_redirects=True).get_data(as_text=True)
    assert "Resumed" in resumed and "Active" in resumed

    other = factories.user("student")
    client.post("/logout", data={"csrf_token": token})
    login(client, other.email, factories.PASSWORD)
    token = csrf_from(client.get("/account/subscriptions").get_data(as_text=True))
    refused = client.post(f"/account/subscriptions/{row.id}/cancel", data={"csrf_token": token},
                          follow_redirects=True).get_data(as_text=True)
    assert "We could not find that subscription." in refused
    db.session.rollback()
    assert not db.session.get(Subscription, row.id).cancel_at_period_end


def test_after_checkout_the_page_waits_for_the_first_months_minutes_not_only_for_the_subscription(app, client):
    # customer.subscription.created may be applied before invoice.paid: "Active" beside the minutes the student
    # had before would read as this month's minutes missing, so the page keeps confirming until they are granted.
    plan = _plan()
    student = factories.user("student")
    anchor = datetime.now(UTC).replace(microsecond=0)
    db.session.add(Subscription(stripe_subscription_id="sub_test_waiting", student_id=student.id,
                                tutor_id=plan.tutor_id, plan_id=plan.id, status="active", billing_anchor=anchor,
                                current_period_start=anchor, current_period_end=add_months(anchor, 1)))
    db.session.commit()
    login(client, student.email, factories.PASSWORD)

    waiting = client.get("/account/subscriptions?subscribed=1").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in waiting and "this month's minutes appear here in a moment" in waiting

    wallet.grant_minutes(user_id=student.id, tutor_id=plan.tutor_id, minutes=240, source="subscription",
                         source_ref="in_test_first", expires_at=add_months(anchor, 2))
    done = client.get("/account/subscriptions?subscribed=1").get_data(as_text=True)
    assert "every 2s" not in done and "Stripe is confirming" not in done and "240 minutes</dd>" in done
