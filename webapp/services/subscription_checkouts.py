"""The Stripe Checkout pages of monthly plans, and what keeps a student to one subscription per tutor.

Subscribing: one open Checkout per student and tutor. Starting again while one is open reuses it (same plan) or
expires it at Stripe (`POST /v1/checkout/sessions/{id}/expire`) and opens a new one (another plan); two tabs that
open pages at the same moment each expire the older ones, so only the newest stays payable, and a paid Checkout
expires the others. If two Checkouts are still both paid (a race no check before Stripe can close), the database
holds one live subscription per student and tutor (`uq_subscriptions_one_live`): the one recorded second is a
duplicate (services/subscriptions.record_state), never grants minutes, and is cancelled at Stripe at once, its paid
invoices refunded (outside any transaction, keyed on our ids), recorded and the student emailed.

Updating the card of a subscription whose payment failed: Checkout in mode=setup saves a card for the subscription's
customer; when Stripe says it completed, the card becomes the subscription's default payment method and the open
invoice is retried (`POST /v1/invoices/{id}/pay`). Paid: the invoice.paid webhook grants the period's minutes (once,
keyed on the invoice) and the subscription is active again, so booking with its minutes resumes. Declined: the card
update records Stripe's words, which the student's result page shows.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.money import Money
from ..domain.roles import Role
from ..domain.subscriptions import PAUSED_FOR_PAYMENT
from ..extensions import db
from ..models import Subscription, SubscriptionCheckout, SubscriptionPlan, User
from . import outbox, refund_failures
from .errors import Conflict, Forbidden, NotFound, PaymentFailed
from .locks import LOCK_SUBSCRIPTION
from .subscriptions import get_subscription, live_subscription, locks_for, new_form_key, record_state, subscription_key
from .urls import public_url

SUBSCRIBE, CARD = "subscribe", "card"


# --- subscribing: one open Checkout per student and tutor ----------------------------------------

def _open_checkouts(student_id: int, tutor_id: int, kind: str) -> list[SubscriptionCheckout]:
    return list(db.session.scalars(select(SubscriptionCheckout).where(
        SubscriptionCheckout.student_id == student_id, SubscriptionCheckout.tutor_id == tutor_id,
        SubscriptionCheckout.kind == kind, SubscriptionCheckout.status == "open").order_by(SubscriptionCheckout.id)))


def _set_status(checkout_ids: list[int], status: str, now: datetime, message: str | None = None) -> None:
    if not checkout_ids:
        return
    with serialized_write() as session:
        session.execute(update(SubscriptionCheckout).where(SubscriptionCheckout.id.in_(checkout_ids),
                                                           SubscriptionCheckout.status == "open")
                        .values(status=status, message=message, updated_at=now))


def _stripe_session(session_id: str):
    """A Checkout Session as Stripe has it now; None when Stripe does not know it (404)."""
    try:
        return gateway.retrieve_checkout_session(session_id)
    except gateway.InvalidRequest:
        return None
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not reach Stripe to open the payment page; nothing was charged. Please try "
                            "again.") from exc


def _close(session_id: str) -> str:
    """Expire an open Checkout at Stripe; returns its status after (a page paid meanwhile stays complete)."""
    try:
        return gateway.expire_checkout_session(session_id).status
    except gateway.InvalidRequest:  # no longer open (Stripe says why in its status), or unknown there
        found = _stripe_session(session_id)
        return found.status if found is not None else "expired"
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not reach Stripe to close your other payment page; nothing was charged. "
                            "Please try again.") from exc


def start_subscription(student: User, plan_id: int, form_key: str | None, *, success_url: str, cancel_url: str,
                       now: datetime) -> str:
    """Open Stripe Checkout (mode=subscription) for a plan and return its page: the open one of this student with
    this tutor when it is for the same plan, else a new one (the open ones expired at Stripe first). The same form
    sent twice (a double click) gets the same page: the idempotency key comes from the form."""
    if student.role not in (Role.STUDENT, Role.PARENT):
        raise Forbidden("Only students and parents subscribe to plans.")
    plan = db.session.get(SubscriptionPlan, plan_id)
    if plan is None or not plan.active:
        raise NotFound("This plan is no longer offered.")
    if live_subscription(student.id, plan.tutor_id) is not None:
        raise Conflict(f"You already subscribe to a plan with {plan.tutor.name}. Change it on your Subscriptions "
                       "page instead.")
    tutor_id, student_id = plan.tutor_id, student.id
    opened = [(c.id, c.session_id, c.plan_id) for c in _open_checkouts(student_id, tutor_id, SUBSCRIBE)]
    # The idempotency key names the newest page this student opened with this tutor, whatever became of it: a double
    # click still sends one key (one page), but the same form sent again after that page closed (Back from plan A's
    # page, plan B, Back, plan A) gets a new page instead of Stripe replaying the closed one.
    newest = db.session.scalar(select(SubscriptionCheckout.session_id).where(
        SubscriptionCheckout.student_id == student_id, SubscriptionCheckout.tutor_id == tutor_id,
        SubscriptionCheckout.kind == SUBSCRIBE).order_by(SubscriptionCheckout.id.desc()).limit(1))
    product = f"{plan.minutes} minutes a month with {plan.tutor.name}"
    metadata = {"plan_id": str(plan.id), "student_id": str(student_id), "tutor_id": str(tutor_id)}
    amount, currency, email, tutor_name = plan.price_minor, plan.currency, student.email, plan.tutor.name
    end_read()
    for checkout_id, session_id, open_plan in reversed(opened):  # newest first: that is the one worth reusing
        stripe_session = _stripe_session(session_id)
        if stripe_session is None:  # Stripe no longer knows it: nothing there can be paid
            _set_status([checkout_id], "expired", now)
            continue
        if stripe_session.status == "open" and open_plan == plan_id:
            return stripe_session.url
        status = _close(session_id) if stripe_session.status == "open" else stripe_session.status
        _set_status([checkout_id], status, now)
        if status == "complete":
            raise Conflict(f"You have just subscribed to {tutor_name} in another window; Stripe is confirming "
                           "it. It appears on your Subscriptions page in a moment.")
    try:
        checkout = gateway.create_subscription_checkout_session(
            amount_minor=amount, currency=currency, product_name=product, metadata=metadata, customer_email=email,
            success_url=success_url, cancel_url=cancel_url,
            idempotency_key=f"subscribe:{student_id}:{plan_id}:{subscription_key(form_key)}:after:{newest or 'first'}")
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not open the payment page. Nothing was charged; please try again.") from exc
    if checkout.status != "open" or not checkout.url:
        raise Conflict("That subscription page was already used. Your subscription appears on your Subscriptions "
                       "page once Stripe confirms it.")
    # The student's lock: a double click reaches here twice with the one page Stripe gave both (same key), and only
    # one of them may record it.
    with serialized_write((LOCK_SUBSCRIPTION, student_id)) as session:
        mine = session.scalar(select(SubscriptionCheckout).where(SubscriptionCheckout.session_id == checkout.id))
        if mine is None:
            mine = SubscriptionCheckout(kind=SUBSCRIBE, student_id=student_id, tutor_id=tutor_id, plan_id=plan_id,
                                        session_id=checkout.id, url=checkout.url, status="open", created_at=now,
                                        updated_at=now)
            session.add(mine)
            session.flush()
        mine_id = mine.id
    # Two tabs at once both got here: each closes the pages opened before its own, so the newest alone stays open.
    _expire_others(student_id, tutor_id, now, keep=mine_id, only_older=True)
    return checkout.url


def _expire_others(student_id: int, tutor_id: int, now: datetime, *, keep: int | None,
                   only_older: bool = False) -> None:
    """Expire the student's other open subscribe Checkouts with this tutor at Stripe (outside any transaction)."""
    others = [(c.id, c.session_id) for c in _open_checkouts(student_id, tutor_id, SUBSCRIBE)
              if c.id != keep and (not only_older or keep is None or c.id < keep)]
    end_read()
    for checkout_id, session_id in others:
        try:
            _set_status([checkout_id], _close(session_id), now)
        except PaymentFailed:  # Stripe unreachable: that page stays open; a duplicate it made is still refunded
            current_app.logger.warning("could not expire subscription checkout %s", session_id)


def after_subscribe_completed(session_obj: dict, now: datetime) -> None:
    """A subscription's Checkout was paid: record it and expire the student's other open ones with the tutor (a
    second tab's page can no longer be paid)."""
    metadata = session_obj.get("metadata") or {}
    student_id, tutor_id = str(metadata.get("student_id", "")), str(metadata.get("tutor_id", ""))
    if not (student_id.isdigit() and tutor_id.isdigit()):
        return
    mine = db.session.scalar(select(SubscriptionCheckout.id).where(
        SubscriptionCheckout.session_id == session_obj.get("id")))
    end_read()
    if mine is not None:
        _set_status([mine], "complete", now)
    _expire_others(int(student_id), int(tutor_id), now, keep=mine)


# --- a duplicate: cancelled at once, refunded, recorded, told ------------------------------------

def duplicates_to_close(stripe_subscription_id: str | None) -> int | None:
    """The id of our duplicate subscription still to be closed (cancelled and refunded), if this is one."""
    if not stripe_subscription_id:
        return None
    row = db.session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == stripe_subscription_id))
    return row.id if row is not None and row.duplicate_of_id and row.duplicate_closed_at is None else None


def close_duplicate(row_id: int, now: datetime) -> None:
    """Cancel a duplicate subscription at Stripe at once and refund what its invoices took, then record the
    refunds and email the student, once. Runs after the event's transaction committed; every call is keyed on our
    ids, so a retry after a failure asks Stripe the same things."""
    row = db.session.get(Subscription, row_id)
    if row is None or row.duplicate_closed_at is not None:
        return
    stripe_id, student_id = row.stripe_subscription_id, row.student_id
    end_read()
    sub = gateway.retrieve_subscription(stripe_id)
    if sub.status != "canceled":
        sub = gateway.cancel_subscription(stripe_id, f"subscription:{row_id}:duplicate:cancel")
    refunds = [gateway.create_refund(payment["payment_intent"], payment["amount"],
                                     f"subscription:{row_id}:duplicate:refund:{payment['invoice']}")
               for payment in gateway.paid_invoice_payments(stripe_id) if payment["amount"] > 0]
    with serialized_write(*locks_for(student_id)) as session:
        row = session.get(Subscription, row_id, populate_existing=True)
        if row.duplicate_closed_at is not None:
            return
        record_state(session, sub.to_dict(), now)
        row.duplicate_refund_ids = ",".join(refund.id for refund in refunds) or None
        row.duplicate_refunded_minor = sum(refund.amount for refund in refunds)
        row.duplicate_closed_at = now
        kept = session.get(Subscription, row.duplicate_of_id)
        student = session.get(User, student_id)
        outbox.enqueue_email("subscription_duplicate", student.email, {
            "recipient_name": student.name, "tutor_name": row.tutor.name, "minutes": row.plan.minutes,
            "refunded": Money(row.duplicate_refunded_minor, row.plan.currency).format(),
            "kept_minutes": kept.plan.minutes if kept else row.plan.minutes,
            "subscriptions_url": public_url("/account/subscriptions")},
            dedupe_key=f"subscription-duplicate:{row_id}")


def _duplicate_refunded_by(refund_id: object) -> Subscription | None:
    """The duplicate subscription one of whose refunds this is (its ids are kept on the row)."""
    if not isinstance(refund_id, str) or not refund_id.startswith("re_"):
        return None
    return db.session.scalar(select(Subscription).where(Subscription.duplicate_refund_ids.like(f"%{refund_id}%")))


def refund_locks(refund: dict) -> list[tuple[int, int]]:
    """A refund event about a duplicate subscription's refund takes its student's locks."""
    row = _duplicate_refunded_by(refund.get("id"))
    student_id = row.student_id if row is not None else None
    end_read()
    return locks_for(student_id)


def duplicate_refund_changed(refund: dict, now: datetime) -> str:
    """A duplicate subscription's refund that Stripe reports failed after accepting it (in the event's write): the
    row's refunded total no longer counts it, its id is kept among the failed ones (so a replay changes nothing),
    and the staff are told once."""
    if refund.get("status") not in ("failed", "canceled"):
        return "ignored"
    row = _duplicate_refunded_by(refund.get("id"))
    if row is None or refund["id"] not in (row.duplicate_refund_ids or "").split(","):
        return "ignored"
    failed = {i for i in (row.duplicate_refund_failed_ids or "").split(",") if i}
    if refund["id"] in failed:
        return "already-applied"
    row.duplicate_refund_failed_ids = ",".join(sorted(failed | {refund["id"]}))
    row.duplicate_refunded_minor = max(0, (row.duplicate_refunded_minor or 0) - int(refund.get("amount") or 0))
    refund_failures.tell_staff(
        db.session, key=f"subscription-refund:{refund['id']}", what=f"duplicate subscription #{row.id}",
        amount=Money(int(refund.get("amount") or 0), row.plan.currency), refund_id=refund["id"],
        reason=refund.get("failure_reason") or refund.get("status"), path=f"/admin/users/{row.student_id}",
        consequence=("The student paid twice for the same plan and this refund did not reach them: refund the "
                     "invoice's payment again in Stripe."))
    return "refund-failed"


# --- a past-due subscription's card ---------------------------------------------------------------

def start_card_update(student: User, subscription_id: int, form_key: str | None, *, success_url: str,
                      cancel_url: str, now: datetime) -> str:
    """Open Stripe Checkout (mode=setup) to save a new card for one of the student's live subscriptions; returns its
    page (the open one when there is one)."""
    row = get_subscription(student, subscription_id)
    if row.duplicate_of_id or row.status not in {*PAUSED_FOR_PAYMENT, "active", "incomplete"}:
        raise Conflict("This subscription has ended: there is no card to update.")
    if not row.stripe_customer_id:
        raise Conflict("We are still waiting for Stripe to confirm this subscription. Try again in a minute.")
    opened = [c.session_id for c in db.session.scalars(select(SubscriptionCheckout).where(
        SubscriptionCheckout.subscription_id == row.id, SubscriptionCheckout.kind == CARD,
        SubscriptionCheckout.status == "open").order_by(SubscriptionCheckout.id.desc()))]
    customer, row_id, tutor_id, student_id = row.stripe_customer_id, row.id, row.tutor_id, row.student_id
    end_read()
    for session_id in opened:
        stripe_session = _stripe_session(session_id)
        if stripe_session is not None and stripe_session.status == "open":
            return stripe_session.url
    metadata = {"card_for_subscription": str(row_id), "student_id": str(student_id)}
    try:
        checkout = gateway.create_card_setup_session(
            customer=customer, metadata=metadata, success_url=success_url, cancel_url=cancel_url,
            idempotency_key=f"subscription:{row_id}:card:{subscription_key(form_key)}")
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not open Stripe's card page; nothing changed. Please try again.") from exc
    if checkout.status != "open" or not checkout.url:
        raise Conflict("That card page was already used; see the result below.")
    with serialized_write((LOCK_SUBSCRIPTION, student_id)) as session:  # a double click records the page once
        if session.scalar(select(SubscriptionCheckout.id).where(SubscriptionCheckout.session_id == checkout.id)) is None:
            session.add(SubscriptionCheckout(kind=CARD, student_id=student_id, tutor_id=tutor_id,
                                             subscription_id=row_id, session_id=checkout.id, url=checkout.url,
                                             status="open", created_at=now, updated_at=now))
    return checkout.url


def card_update_of(session_obj: dict) -> int | None:
    """Our subscription whose card a completed setup-mode Checkout saved (None for any other session)."""
    value = str((session_obj.get("metadata") or {}).get("card_for_subscription") or "")
    return int(value) if session_obj.get("mode") == "setup" and value.isdigit() else None


def card_update_locks(session_obj: dict) -> list[tuple[int, int]]:
    """The locks applying a card update takes (the student's subscriptions and wallet)."""
    student = str((session_obj.get("metadata") or {}).get("student_id") or "")
    return locks_for(int(student)) if card_update_of(session_obj) and student.isdigit() else []


def apply_saved_card(session_id: str, now: datetime) -> str:
    """A setup Checkout completed: make its card the subscription's default payment method and retry the open
    invoice with it, outside any transaction (keyed on the session), then record the answer once. Returns it."""
    checkout = db.session.scalar(select(SubscriptionCheckout).where(SubscriptionCheckout.session_id == session_id,
                                                                    SubscriptionCheckout.kind == CARD))
    if checkout is None or checkout.status not in ("open", "complete"):
        return checkout.status if checkout else "ignored"
    row = db.session.get(Subscription, checkout.subscription_id)
    checkout_id, stripe_id, student_id = checkout.id, row.stripe_subscription_id, row.student_id
    end_read()
    setup_intent = gateway.retrieve_checkout_session(session_id).setup_intent
    card = gateway.retrieve_setup_intent(setup_intent).payment_method
    sub = gateway.set_subscription_payment_method(stripe_id, card, f"subscription-card:{checkout_id}:default")
    status, message = "saved", None
    invoice_id = sub.latest_invoice if isinstance(sub.latest_invoice, str) else None
    if invoice_id and gateway.retrieve_invoice(invoice_id).status == "open":
        try:
            gateway.pay_invoice(invoice_id, f"subscription-card:{checkout_id}:pay:{invoice_id}")
            status = "paid"
        except gateway.CardError as exc:
            status, message = "declined", exc.user_message or "Your card was declined."
        sub = gateway.retrieve_subscription(stripe_id)
    with serialized_write(*locks_for(student_id)) as session:
        checkout = session.get(SubscriptionCheckout, checkout_id, populate_existing=True)
        if checkout.status in ("open", "complete"):
            checkout.status, checkout.message, checkout.updated_at = status, message, now
            record_state(session, sub.to_dict(), now)
    return status


def card_result(student: User, subscription_id: int, session_id: str | None) -> SubscriptionCheckout | None:
    """The student's card update on their subscription (the one the redirect named, else the latest)."""
    row = get_subscription(student, subscription_id)
    query = select(SubscriptionCheckout).where(SubscriptionCheckout.subscription_id == row.id,
                                               SubscriptionCheckout.kind == CARD)
    if session_id:
        query = query.where(SubscriptionCheckout.session_id == session_id)
    return db.session.scalar(query.order_by(SubscriptionCheckout.id.desc()).limit(1))


__all__ = ["after_subscribe_completed", "apply_saved_card", "card_result", "card_update_locks", "card_update_of",
           "close_duplicate", "duplicates_to_close", "new_form_key", "start_card_update",
           "start_subscription"]
