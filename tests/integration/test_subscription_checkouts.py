"""One subscription per student and tutor, and a new card for a past-due one, on the local Stripe: a second Checkout
reuses or replaces the open one, two tabs at once leave one page to pay, two Checkouts paid in a race end with one
live subscription (the other cancelled at Stripe, refunded, recorded, the student emailed; replays change nothing),
and a past-due subscription's card is updated through Checkout mode=setup (declined: said in words; paid: active
again, the month's minutes granted once, booking with minutes resumes)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import book
from tests.integration.test_subscriptions import URLS, _advance, _count, _lots, _plan, _subscribe, _wait
from webapp.adapters import stripe_gateway as gateway
from webapp.domain.funding import Funding
from webapp.extensions import db
from webapp.models import OutboxMessage, Subscription, SubscriptionCheckout
from webapp.services import minute_payments, stripe_events, subscription_checkouts, wallet
from webapp.services.errors import Conflict


def now() -> datetime:
    return datetime.now(UTC)


def _start(student, plan, key: str) -> str:
    return subscription_checkouts.start_subscription(student, plan.id, key, **URLS, now=now())


def _session_status(world, url: str) -> str:
    return world.client.v1.checkout.sessions.retrieve(url.rsplit("/", 1)[-1]).status


def _emails(template: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template)))


def test_a_second_checkout_reuses_the_open_one_for_the_same_plan_and_replaces_it_for_another(app, stripe_world):
    teacher = factories.tutor(rate_minor=4000)[0]
    small, big = _plan(teacher, 240, 8000), _plan(teacher, 480, 16000)
    student = factories.user("student")

    first = _start(student, small, "tab-1")
    assert _start(student, small, "tab-2") == first  # another tab, the same plan: the same page
    other = _start(student, big, "tab-3")  # another plan: the open page is expired at Stripe first

    assert other != first
    assert (_session_status(stripe_world, first), _session_status(stripe_world, other)) == ("expired", "open")
    assert "This Checkout Session has expired" in requests.get(first, timeout=10).text
    rows = db.session.scalars(select(SubscriptionCheckout).order_by(SubscriptionCheckout.id)).all()
    assert [(r.plan_id, r.status) for r in rows] == [(small.id, "expired"), (big.id, "open")]


def test_back_and_forth_between_plans_on_one_page_always_opens_a_page_that_can_be_paid(app, stripe_world):
    # The profile's Subscribe buttons share the page's key: Back from plan A's page, plan B, Back, plan A again must
    # not get plan A's first page (expired when B opened) replayed under the same idempotency key.
    teacher = factories.tutor(rate_minor=4000)[0]
    small, big = _plan(teacher, 240, 8000), _plan(teacher, 480, 16000)
    student = factories.user("student")

    first = _start(student, small, "page-1")
    _start(student, big, "page-1")
    again = _start(student, small, "page-1")

    assert again != first and _session_status(stripe_world, again) == "open"
    assert _start(student, small, "page-1") == again  # and a double click on it is still the same page


def test_a_page_stripe_no_longer_knows_is_closed_and_a_new_one_opened(app, stripe_world):
    plan = _plan()
    student = factories.user("student")
    db.session.add(SubscriptionCheckout(kind="subscribe", student_id=student.id, tutor_id=plan.tutor_id,
                                        plan_id=plan.id, session_id="cs_test_gone", url="http://x/c/pay/gone",
                                        status="open"))
    db.session.commit()

    url = _start(student, plan, "tab-1")

    assert _session_status(stripe_world, url) == "open"
    db.session.rollback()
    gone = db.session.scalar(select(SubscriptionCheckout).where(SubscriptionCheckout.session_id == "cs_test_gone"))
    assert gone.status == "expired"


def test_a_paid_checkout_closes_the_other_tabs_page_and_a_late_start_is_told(app, client, stripe_world):
    teacher = factories.tutor(rate_minor=4000)[0]
    small, big = _plan(teacher, 240, 8000), _plan(teacher, 480, 16000)
    student = factories.user("student")
    page = _start(student, small, "tab-1")
    # A second page open at the same time (made at Stripe directly, as a tab that raced ours would have).
    stray = gateway.create_subscription_checkout_session(
        amount_minor=16000, currency="GBP", product_name="480 minutes", customer_email=student.email,
        metadata={"plan_id": str(big.id), "student_id": str(student.id), "tutor_id": str(teacher.id)},
        idempotency_key="stray", **URLS)
    db.session.add(SubscriptionCheckout(kind="subscribe", student_id=student.id, tutor_id=teacher.id,
                                        plan_id=big.id, session_id=stray.id, url=stray.url, status="open"))
    db.session.commit()

    assert stripe_world.pay(page).status_code == 303
    _wait(stripe_world, "checkout.session.completed")
    stripe_world.deliver(client)

    assert _session_status(stripe_world, stray.url) == "expired"  # the other tab's page can no longer be paid
    with pytest.raises(Conflict, match="already subscribe"):
        _start(student, big, "tab-3")


def test_two_tabs_subscribing_at_once_leave_one_page_to_pay(app, stripe_world):
    teacher = factories.tutor(rate_minor=4000)[0]
    plans = [_plan(teacher, 240, 8000), _plan(teacher, 480, 16000)]
    student = factories.user("student")
    flask_app, student_id, plan_ids = app, student.id, [p.id for p in plans]  # the threads must not touch this session
    barrier = threading.Barrier(2)
    urls: list[str] = []

    def tab(plan_id: int, key: str) -> None:
        with flask_app.app_context():
            try:
                from webapp.models import User
                who = db.session.get(User, student_id)
                barrier.wait()
                urls.append(subscription_checkouts.start_subscription(who, plan_id, key, **URLS, now=now()))
            except Exception as error:  # shown in the assertion, not lost with the thread
                urls.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=tab, args=(plan_id, f"tab-{i}")) for i, plan_id in enumerate(plan_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert len(urls) == 2 and all(url.startswith("http") for url in urls), urls
    statuses = [_session_status(stripe_world, url) for url in urls]
    assert statuses.count("open") == 1, statuses
    db.session.rollback()
    rows = db.session.scalars(select(SubscriptionCheckout)).all()
    assert sorted(r.status for r in rows) == ["expired", "open"]


def _race_two_paid_checkouts(app, client, world):
    """Two Checkouts of one student with one tutor, both open (the race the reuse cannot close), paid at the same
    moment; then every webhook is applied by two workers at once."""
    teacher = factories.tutor(rate_minor=4000)[0]
    plan = _plan(teacher, 240, 8000)
    student = factories.user("student")
    metadata = {"plan_id": str(plan.id), "student_id": str(student.id), "tutor_id": str(teacher.id)}
    pages = [gateway.create_subscription_checkout_session(
        amount_minor=8000, currency="GBP", product_name="240 minutes", metadata=metadata,
        customer_email=student.email, idempotency_key=f"race-{i}", **URLS).url for i in range(2)]
    db.session.commit()
    barrier = threading.Barrier(2)
    answers: list[int] = []

    def pay(url: str) -> None:
        barrier.wait()
        answers.append(world.pay(url).status_code)

    threads = [threading.Thread(target=pay, args=(url,)) for url in pages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [303, 303]
    _wait(world, "invoice.paid", 2)
    _wait(world, "checkout.session.completed", 2)
    world.deliver(client, apply=False)  # stored; two workers apply them at once
    flask_app = app
    applied = threading.Barrier(2)
    errors: list[str] = []

    def worker() -> None:
        with flask_app.app_context():
            try:
                applied.wait()
                stripe_events.apply_stored_events(now())
            except Exception as error:
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    stripe_events.apply_stored_events(now())  # whatever a worker left for the sweep
    db.session.rollback()
    return teacher, student


def test_two_checkouts_paid_in_a_race_keep_one_subscription_and_refund_the_other(app, client, stripe_world):
    teacher, student = _race_two_paid_checkouts(app, client, stripe_world)

    rows = db.session.scalars(select(Subscription).order_by(Subscription.id)).all()
    kept = [r for r in rows if r.duplicate_of_id is None]
    dup = [r for r in rows if r.duplicate_of_id is not None]
    assert len(kept) == 1 and len(dup) == 1
    kept, dup = kept[0], dup[0]
    assert (kept.status, dup.duplicate_of_id, dup.status) == ("active", kept.id, "canceled")
    assert dup.duplicate_refunded_minor == 8000 and dup.duplicate_refund_ids.startswith("re_")
    assert stripe_world.client.v1.subscriptions.retrieve(dup.stripe_subscription_id).status == "canceled"
    refund = stripe_world.client.v1.refunds.retrieve(dup.duplicate_refund_ids)
    assert (refund.amount, refund.status) == (8000, "succeeded")
    payments = gateway.paid_invoice_payments(dup.stripe_subscription_id)
    assert refund.payment_intent == payments[0]["payment_intent"]
    assert [lot.minutes for lot in _lots(student)] == [240]  # the duplicate granted nothing
    mails = _emails("subscription_duplicate")
    assert [(m.to_address, m.context["refunded"]) for m in mails] == [(student.email, "£80.00")]

    _wait(stripe_world, "customer.subscription.deleted")
    stripe_world.deliver(client, stripe_world.deliveries() * 2)  # every webhook again, twice, the new ones too

    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Subscription)) == 2
    assert [lot.minutes for lot in _lots(student)] == [240]
    assert len(_emails("subscription_duplicate")) == 1
    refunds = stripe_world.client.v1.refunds.list(params={"payment_intent": refund.payment_intent}).data
    assert [r.id for r in refunds] == [refund.id]
    assert wallet.balance(student.id, teacher.id).available == 240
    login(client, student.email, factories.PASSWORD)
    text = client.get("/account/subscriptions").get_data(as_text=True)
    assert "Cancelled: a second subscription to" in text and "£80.00 refunded to your card" in text


def test_the_database_refuses_a_second_live_subscription_to_one_tutor(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    db.session.add(Subscription(stripe_subscription_id="sub_other", student_id=student.id, tutor_id=row.tutor_id,
                                plan_id=plan.id, status="active", billing_anchor=row.billing_anchor,
                                current_period_start=row.current_period_start,
                                current_period_end=row.current_period_end))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def _save_card(world, client, row: Subscription, card: str) -> str:
    """The student opens Update your card, saves `card` on Stripe's page and comes back; the webhooks (and what they
    lead to) are applied. Returns the result page."""
    form = client.get(f"/account/subscriptions/{row.id}/card").get_data(as_text=True)
    assert "Update your card" in form
    opened = client.post(f"/account/subscriptions/{row.id}/card",
                         data={"csrf_token": csrf_from(form), "form_key": f"card-{card}"})
    assert opened.status_code == 303 and "/c/pay/cs_test_" in opened.location
    seen = _count(world, "checkout.session.completed")
    back = world.pay(opened.location, card=card)
    assert back.status_code == 303 and f"/account/subscriptions/{row.id}/card/done?session_id=" in back.headers[
        "Location"]
    _wait(world, "checkout.session.completed", seen + 1)
    world.deliver(client)
    time.sleep(0.3)  # the invoice retry's own webhooks
    world.deliver(client)
    location = urlsplit(back.headers["Location"])
    return client.get(f"{location.path}?{location.query}").get_data(as_text=True)


def test_a_made_up_card_session_id_is_answered_at_once_and_not_polled(app, client, stripe_world):
    plan = _plan()
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    login(client, student.email, factories.PASSWORD)
    made_up = client.get(f"/account/subscriptions/{row.id}/card/done?session_id=cs_test_made_up")
    page = made_up.get_data(as_text=True)
    assert made_up.status_code == 404 and "That card update page is not one of yours" in page
    assert f'href="/account/subscriptions/{row.id}/card"' in page
    assert "every 2s" not in page and "Stripe is checking your new card" not in page  # no polling
    bare = client.get(f"/account/subscriptions/{row.id}/card/done").get_data(as_text=True)
    assert "No card update was started for this plan" in bare and "every 2s" not in bare
    assert db.session.scalar(select(func.count()).select_from(SubscriptionCheckout).where(
        SubscriptionCheckout.kind == "card")) == 0  # nothing was written


def test_a_past_due_subscription_gets_a_new_card_and_booking_with_minutes_resumes(app, client, stripe_world):
    teacher, teach = factories.tutor(rate_minor=4000)
    plan = _plan(teacher)
    student = factories.user("student")
    row = _subscribe(stripe_world, client, student, plan)
    row = _advance(stripe_world, client, row, renewal="declined", event="invoice.payment_failed")
    assert row.status == "past_due"
    mails = _emails("subscription_payment_failed")
    assert len(mails) == 1 and mails[0].context["card_url"].endswith(f"/account/subscriptions/{row.id}/card")
    assert mails[0].context["amount"] == "£80.00" and mails[0].context["reason"] == "Your card was declined."
    login(client, student.email, factories.PASSWORD)
    listing = client.get("/account/subscriptions").get_data(as_text=True)
    assert f'href="/account/subscriptions/{row.id}/card"' in listing and "Update your card" in listing
    wallet_page = client.get("/minutes").get_data(as_text=True)
    assert "monthly plan with" in wallet_page and f'href="/account/subscriptions/{row.id}/card"' in wallet_page

    declined = _save_card(stripe_world, client, db.session.get(Subscription, row.id), "4000000000000341")

    assert "Your new card was declined: Your card was declined." in declined
    db.session.rollback()
    assert db.session.get(Subscription, row.id).status == "past_due"
    assert [lot.minutes for lot in _lots(student)] == [240]
    assert "The last card you saved was declined" in client.get(f"/account/subscriptions/{row.id}/card").get_data(
        as_text=True)

    paid = _save_card(stripe_world, client, db.session.get(Subscription, row.id), "4242424242424242")

    assert "Your new card paid £80.00" in paid and "active again" in paid
    db.session.rollback()
    row = db.session.get(Subscription, row.id)
    assert row.status == "active"
    sub = stripe_world.client.v1.subscriptions.retrieve(row.stripe_subscription_id)
    invoice = stripe_world.client.v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.status, invoice.billing_reason) == ("paid", "subscription_cycle")
    assert [lot.minutes for lot in _lots(student)] == [240, 240] and _lots(student)[-1].source_ref == invoice.id
    stripe_world.deliver(client, stripe_world.deliveries() * 2)  # replays grant nothing more
    assert [lot.minutes for lot in _lots(student)] == [240, 240]
    booking = book(student=student, tutor_teach=(teacher, teach))
    assert minute_payments.pay_with_minutes(student, booking.id, now()).funding == Funding.MINUTES
    assert "Update your card" not in client.get("/minutes").get_data(as_text=True)
    other = factories.user("student")
    client.post("/logout", data={"csrf_token": csrf_from(paid)})
    login(client, other.email, factories.PASSWORD)
    assert client.get(f"/account/subscriptions/{row.id}/card").status_code == 303  # not theirs


def test_a_duplicates_refund_that_fails_later_is_recorded_once_and_the_staff_are_told(app, client, stripe_world):
    _teacher, student = _race_two_paid_checkouts(app, client, stripe_world)
    dup = db.session.scalar(select(Subscription).where(Subscription.duplicate_of_id.is_not(None)))
    refund_id = dup.duplicate_refund_ids
    stripe_world.server.fail_refund(refund_id)
    stripe_world.receiver.wait_for("refund.failed", id=refund_id)
    for kind in ("charge.refund.updated", "refund.updated"):
        stripe_world.receiver.wait_for(kind, id=refund_id)
    stripe_world.deliver(client, stripe_world.deliveries() * 2)  # everything again, the failure events twice

    db.session.rollback()
    dup = db.session.get(Subscription, dup.id)
    assert (dup.duplicate_refund_failed_ids, dup.duplicate_refunded_minor) == (refund_id, 0)
    [mail] = _emails("refund_failed")
    assert mail.context["what"] == f"duplicate subscription #{dup.id}" and mail.context["refund_id"] == refund_id
    login(client, student.email, factories.PASSWORD)
    text = client.get("/account/subscriptions").get_data(as_text=True)
    assert "did not reach your card" in text
