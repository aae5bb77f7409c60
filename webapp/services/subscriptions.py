"""Monthly plans and students' Stripe subscriptions to them.

A tutor offers plans (minutes per month for a price). A student subscribes on Stripe Checkout (mode=subscription);
from then on we only record what Stripe says: every subscription event and invoice event is applied by reading the
subscription from Stripe (outside any transaction) and recording its state, so replayed or reordered webhooks end in
Stripe's state now. ``invoice.paid`` grants the period's minutes as one lot keyed on the invoice id (once); its
expiry is the rollover rule of domain/subscriptions.py. While Stripe says a payment is owed (past_due, unpaid),
booking with that tutor's minutes is paused. Cancelling (at period end), resuming and changing plan are Stripe
calls made outside write transactions; their answer is recorded like a webhook.

Plan changes: a dearer plan is billed at once, prorated (``always_invoice``), and that invoice grants the extra
minutes for what is left of the period; a cheaper plan takes effect from the next renewal (no proration: no credit,
the period's minutes stay), which is what keeps "downgrade at once for a refund, keep the minutes" impossible.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.analytics import EventName, dedupe_id
from ..domain.money import Money, parse_major_amount
from ..domain.roles import Role
from ..domain.subscriptions import (LIVE, MAX_ACTIVE_PLANS, PAUSED_FOR_PAYMENT, SubscriptionStatus, is_upgrade,
                                    lot_expiry, period_left, plan_problems, prorated_minutes)
from ..extensions import db
from ..models import MinuteLot, Subscription, SubscriptionPlan, User
from . import outbox, packages, wallet
from .analytics import record_event
from .errors import Conflict, Forbidden, NotFound, PaymentFailed, ValidationError
from .locks import LOCK_SUBSCRIPTION, LOCK_TUTOR_PLANS
from .urls import public_url

DEFAULT_CURRENCY = "GBP"
FORM_KEY_LENGTH = 64


# --- the tutor's side ----------------------------------------------------------------------------

def plans(tutor_id: int) -> list[SubscriptionPlan]:
    """A tutor's plans on offer, fewest minutes first."""
    return list(db.session.scalars(select(SubscriptionPlan).where(SubscriptionPlan.tutor_id == tutor_id,
                                                                  SubscriptionPlan.active.is_(True))
                                   .order_by(SubscriptionPlan.minutes, SubscriptionPlan.id)))


def plan_currency(tutor_id: int) -> str:
    """Plans are priced in the currency of the tutor's package rate (their highest rate), else the default."""
    rate = packages.tutor_rate(tutor_id)
    return rate.currency if rate else DEFAULT_CURRENCY


def add_plan(tutor: User, minutes: object, price: object) -> SubscriptionPlan:
    """Offer a monthly plan (minutes 30–6000 in steps of 15; the price in minor units, or as typed: "80.00"), a few
    at once, one per number of minutes."""
    if tutor.role != Role.TUTOR:
        raise Forbidden("Only tutors offer monthly plans.")
    currency = plan_currency(tutor.id)
    price_minor, unreadable = price, None
    if isinstance(price, str):
        try:
            price_minor = parse_major_amount(price, currency)
        except ValueError as exc:
            price_minor, unreadable = None, str(exc)
    problems = plan_problems(minutes, price_minor)
    if unreadable:
        problems["price"] = unreadable
    if problems:
        raise ValidationError(next(iter(problems.values())), problems)
    with serialized_write((LOCK_TUTOR_PLANS, tutor.id)) as session:
        active = list(session.scalars(select(SubscriptionPlan).where(SubscriptionPlan.tutor_id == tutor.id,
                                                                     SubscriptionPlan.active.is_(True))))
        if any(plan.minutes == minutes for plan in active):
            message = f"You already offer a plan of {minutes} minutes a month. Retire it first to change its price."
            raise ValidationError(message, {"minutes": message})
        if len(active) >= MAX_ACTIVE_PLANS:
            message = f"You can offer up to {MAX_ACTIVE_PLANS} plans. Retire one to add another."
            raise ValidationError(message, {"minutes": message})
        plan = SubscriptionPlan(tutor_id=tutor.id, minutes=minutes, price_minor=price_minor, currency=currency)
        session.add(plan)
    return plan


def retire_plan(tutor: User, plan_id: int) -> None:
    """Stop offering a plan (students subscribed keep it until they change or cancel; a second click is harmless)."""
    with serialized_write((LOCK_TUTOR_PLANS, tutor.id)) as session:
        plan = session.get(SubscriptionPlan, plan_id)
        if plan is None or plan.tutor_id != tutor.id:
            raise NotFound("We could not find that plan.")
        plan.active = False


# --- the student's side --------------------------------------------------------------------------

def new_form_key() -> str:
    """One key per rendered form: a double click sends Stripe the same request under the same idempotency key."""
    return secrets.token_urlsafe(16)


def subscription_key(form_key: str | None) -> str:
    """The idempotency part a form sends (or a fresh one when it sent none)."""
    return (form_key or "").strip()[:FORM_KEY_LENGTH] or new_form_key()


def live_subscription(student_id: int, tutor_id: int) -> Subscription | None:
    """The student's subscription with this tutor that has not ended, if any (a duplicate never counts)."""
    return db.session.scalar(select(Subscription).where(Subscription.student_id == student_id,
                                                        Subscription.tutor_id == tutor_id,
                                                        Subscription.duplicate_of_id.is_(None),
                                                        Subscription.status.in_([str(s) for s in LIVE]))
                             .order_by(Subscription.id.desc()))


@dataclass(frozen=True)
class SubscriptionView:
    """One of a student's subscriptions as their page shows it."""

    row: Subscription
    minutes_left: int  # available minutes with the tutor (subscription and package minutes are one balance)
    period_granted: bool = True  # the current period's minutes are in (its invoice.paid has been applied)

    @property
    def payment_owed(self) -> bool:
        return self.row.status in PAUSED_FOR_PAYMENT

    @property
    def ended(self) -> bool:
        return self.row.status not in LIVE or self.row.duplicate_of_id is not None

    @property
    def duplicate(self) -> bool:
        return self.row.duplicate_of_id is not None


def subscriptions_of(student: User) -> list[SubscriptionView]:
    """The student's subscriptions, live ones first, each with their minutes left with the tutor."""
    rows = db.session.scalars(select(Subscription).where(Subscription.student_id == student.id)
                              .order_by(Subscription.id.desc())).all()
    views = [SubscriptionView(row, wallet.balance(student.id, row.tutor_id).available, _period_granted(row))
             for row in rows]
    return sorted(views, key=lambda v: v.ended)


def _period_granted(row: Subscription) -> bool:
    """Whether the lot of the subscription's current period exists: the lot an invoice grants expires at
    lot_expiry(anchor, that period's end), so the current period's lot is found by its expiry."""
    if row.status not in LIVE or row.duplicate_of_id is not None or row.current_period_end <= row.billing_anchor:
        return True  # nothing more will be granted for it
    expected = lot_expiry(row.billing_anchor, row.current_period_end, current_app.config["SUBSCRIPTION_CARRY_PERIODS"])
    return expected in db.session.scalars(select(MinuteLot.expires_at).where(
        MinuteLot.user_id == row.student_id, MinuteLot.tutor_id == row.tutor_id, MinuteLot.source == "subscription",
        MinuteLot.expires_at >= row.current_period_end)).all()


def plan_choices(row: Subscription) -> list[SubscriptionPlan]:
    """The tutor's other plans a subscription can move to (same currency)."""
    return [plan for plan in plans(row.tutor_id) if plan.id != row.plan_id and plan.currency == row.plan.currency]


def get_plan(plan_id: int) -> SubscriptionPlan:
    """A plan on offer, or NotFound."""
    plan = db.session.get(SubscriptionPlan, plan_id)
    if plan is None or not plan.active:
        raise NotFound("This plan is no longer offered.")
    return plan


def get_subscription(student: User, subscription_id: int) -> Subscription:
    """One of the student's own subscriptions, or NotFound."""
    row = db.session.get(Subscription, subscription_id)
    if row is None or row.student_id != student.id:
        raise NotFound("We could not find that subscription.")
    return row


def _live(student: User, subscription_id: int) -> Subscription:
    row = get_subscription(student, subscription_id)
    if row.duplicate_of_id is not None:
        raise Conflict("This was a second subscription to the same tutor: it was cancelled and refunded.")
    if row.status not in LIVE:
        raise Conflict("This subscription has ended.")
    return row


def set_cancel_at_period_end(student: User, subscription_id: int, cancel: bool, form_key: str | None,
                             now: datetime, *, unchanged_is_conflict: bool = False) -> Subscription:
    """Cancel at the period's end (cancel=True) or resume before then; recorded from Stripe's answer.

    Asking for what is already so is a double click on a form (nothing to do), or a Conflict for a caller that
    asked for a change (``unchanged_is_conflict``: the JSON API)."""
    row = _live(student, subscription_id)
    if row.cancel_at_period_end == cancel:
        if unchanged_is_conflict:
            raise Conflict(f"This subscription is already cancelled: it ends on "
                           f"{row.current_period_end.date().isoformat()}, at the end of the period paid for. Resume "
                           "it to keep it." if cancel else
                           "This subscription is not cancelled, so there is nothing to resume.")
        return row  # a double click, or the page was stale: already so
    stripe_id, row_id, version = row.stripe_subscription_id, row.id, _version(row)
    end_read()
    try:
        answer = gateway.set_cancel_at_period_end(
            stripe_id, cancel,
            f"subscription:{row_id}:{'cancel' if cancel else 'resume'}:{subscription_key(form_key)}:{version}")
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not change the subscription; nothing changed. Please try again.") from exc
    return _record_answer(answer.to_dict(), now)


def change_plan(student: User, subscription_id: int, plan_id: int, form_key: str | None,
                now: datetime, *, unchanged_is_conflict: bool = False) -> Subscription:
    """Move to another of the tutor's plans: a dearer one at once (prorated, its extra minutes granted when that
    invoice is paid), a cheaper one from the next renewal. The plan it is on already: nothing to do, or a Conflict
    with ``unchanged_is_conflict``."""
    row = _live(student, subscription_id)
    plan = db.session.get(SubscriptionPlan, plan_id)
    if plan is None or not plan.active or plan.tutor_id != row.tutor_id:
        raise NotFound("This plan is no longer offered.")
    if plan.id == row.plan_id:
        if unchanged_is_conflict:
            raise Conflict("This subscription is already on that plan.")
        return row
    if plan.currency != row.plan.currency:
        raise Conflict("This plan is priced in another currency; cancel and subscribe to it instead.")
    if row.status in PAUSED_FOR_PAYMENT:
        raise Conflict("Your last payment failed: the plan can be changed once it is paid.")
    if not row.stripe_item_id or not row.stripe_product_id:
        raise Conflict("We are still waiting for Stripe to confirm this subscription. Try again in a minute.")
    upgrade = is_upgrade(row.plan.price_minor, plan.price_minor)
    metadata = {"plan_id": str(plan.id), "previous_plan_id": str(row.plan_id), "student_id": str(row.student_id),
                "tutor_id": str(row.tutor_id)}
    args = dict(item_id=row.stripe_item_id, product_id=row.stripe_product_id, amount_minor=plan.price_minor,
                currency=plan.currency, prorate_now=upgrade, metadata=metadata,
                idempotency_key=f"subscription:{row.id}:plan:{plan.id}:{subscription_key(form_key)}:{_version(row)}")
    stripe_id = row.stripe_subscription_id
    end_read()
    try:
        answer = gateway.change_subscription_price(stripe_id, **args)
    except gateway.CardError as exc:
        raise PaymentFailed("Your card was declined for the upgrade; your plan is unchanged.") from exc
    except gateway.PaymentError as exc:
        raise PaymentFailed("Stripe could not change the plan; nothing changed. Please try again.") from exc
    return _record_answer(answer.to_dict(), now)


def _version(row: Subscription) -> str:
    """The state a change is asked from (when the row last recorded Stripe's answer or event), for its idempotency
    key: a double click, made from the same state, is one Stripe call; the same form sent again after another change
    (cancel, resume, then a stale page's cancel) is a new call, not a replay of the first answer, which Stripe would
    give without acting and which would be recorded as the state."""
    return str(int(row.updated_at.timestamp() * 1_000_000)) if row.updated_at else "0"


def _record_answer(sub: dict, now: datetime) -> Subscription:
    student_id = _metadata_int(sub.get("metadata"), "student_id")
    with serialized_write(*locks_for(student_id)) as session:
        return record_state(session, sub, now)


def payment_owed(session: Session, student_id: int, tutor_id: int) -> Subscription | None:
    """The student's subscription with this tutor whose payment failed (booking with its minutes is paused)."""
    return session.scalar(select(Subscription).where(
        Subscription.student_id == student_id, Subscription.tutor_id == tutor_id,
        Subscription.duplicate_of_id.is_(None), Subscription.status.in_([str(s) for s in PAUSED_FOR_PAYMENT])))


def owed_by(student_id: int) -> list[Subscription]:
    """The student's subscriptions whose last payment failed (their wallet page links each card page)."""
    return list(db.session.scalars(select(Subscription).where(
        Subscription.student_id == student_id, Subscription.duplicate_of_id.is_(None),
        Subscription.status.in_([str(s) for s in PAUSED_FOR_PAYMENT])).order_by(Subscription.id)))


def paused_message(tutor_name: str) -> str:
    """Why booking with minutes is paused, in words for the pay page and the API."""
    return (f"Booking with your minutes with {tutor_name} is paused: the last payment of your monthly plan failed. "
            "It resumes once it is paid: update your card on your Subscriptions page; meanwhile pay by card.")


# --- Stripe's webhooks ---------------------------------------------------------------------------

SUBSCRIPTION_EVENTS = ("customer.subscription.created", "customer.subscription.updated",
                       "customer.subscription.deleted", "invoice.paid", "invoice.payment_failed")


def _metadata_int(metadata: dict | None, name: str) -> int | None:
    value = str((metadata or {}).get(name) or "")
    return int(value) if value.isdigit() else None


def _invoice_subscription(invoice: dict) -> tuple[str | None, dict]:
    details = ((invoice.get("parent") or {}).get("subscription_details") or {})
    sub = details.get("subscription")
    return (sub if isinstance(sub, str) else (sub or {}).get("id")), (details.get("metadata") or {})


def subscription_id_of(event_type: str, obj: dict) -> str | None:
    """The Stripe subscription an event is about (None when it is not about one of ours)."""
    if event_type.startswith("customer.subscription."):
        return obj.get("id") if _metadata_int(obj.get("metadata"), "plan_id") else None
    if event_type.startswith("invoice."):
        sub_id, metadata = _invoice_subscription(obj)
        return sub_id if _metadata_int(metadata, "plan_id") else None
    if event_type == "checkout.session.completed" and obj.get("mode") == "subscription":
        return obj.get("subscription") if _metadata_int(obj.get("metadata"), "plan_id") else None
    return None


def _student_of(event_type: str, obj: dict) -> int | None:
    if event_type.startswith("invoice."):
        return _metadata_int(_invoice_subscription(obj)[1], "student_id")
    return _metadata_int(obj.get("metadata"), "student_id")


def locks_for(student_id: int | None) -> list[tuple[int, int]]:
    """The locks of a student's subscription records and wallet, in the order every writer takes them."""
    return [(LOCK_SUBSCRIPTION, student_id), wallet.wallet_lock(student_id)] if student_id else []


def event_locks(event_type: str, obj: dict) -> list[tuple[int, int]]:
    """The locks applying a subscription event takes: the student's subscriptions and wallet."""
    return locks_for(_student_of(event_type, obj)) if subscription_id_of(event_type, obj) else []


@dataclass(frozen=True)
class Fetched:
    """What Stripe says now, read before the event's transaction: the event's subscription, and the student's other
    subscriptions with the tutor that we hold as live (so a stale row is brought up to date before it can make the
    new one look like a duplicate)."""

    sub: dict
    others: list[dict]


def fetch_subscription(event_type: str, obj: dict) -> Fetched | None:
    """Stripe's subscription now (outside any transaction): what we record, whatever order the events came in."""
    sub_id = subscription_id_of(event_type, obj)
    if not sub_id:
        return None
    sub = gateway.retrieve_subscription(sub_id).to_dict()
    student_id = _metadata_int(sub.get("metadata"), "student_id")
    tutor_id = _metadata_int(sub.get("metadata"), "tutor_id")
    others = list(db.session.scalars(select(Subscription.stripe_subscription_id).where(
        Subscription.student_id == (student_id or 0), Subscription.tutor_id == (tutor_id or 0),
        Subscription.stripe_subscription_id != sub_id, Subscription.duplicate_of_id.is_(None),
        Subscription.status.in_([str(s) for s in LIVE]))))
    end_read()
    return Fetched(sub, [gateway.retrieve_subscription(other).to_dict() for other in others])


def _utc(seconds: int | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


def record_state(session: Session, sub: dict, now: datetime) -> Subscription | None:
    """Record a subscription as Stripe shows it (inside the caller's write); None for one that is not ours."""
    plan = session.get(SubscriptionPlan, _metadata_int(sub.get("metadata"), "plan_id") or 0)
    student_id = _metadata_int(sub.get("metadata"), "student_id")
    if plan is None or student_id is None or session.get(User, student_id) is None:
        return None
    item = sub["items"]["data"][0]
    price = item.get("price") or {}
    row = session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == sub["id"])
                         .execution_options(populate_existing=True))
    if row is None:
        row = Subscription(stripe_subscription_id=sub["id"], student_id=student_id, tutor_id=plan.tutor_id,
                           created_at=now)
        if SubscriptionStatus(sub["status"]) in LIVE:
            # A second live subscription to this tutor (two Checkouts paid in a race): the first recorded is
            # kept; this one grants nothing and is cancelled and refunded (subscription_checkouts.close_duplicate).
            row.duplicate_of_id = session.scalar(select(Subscription.id).where(
                Subscription.student_id == student_id, Subscription.tutor_id == plan.tutor_id,
                Subscription.duplicate_of_id.is_(None), Subscription.status.in_([str(s) for s in LIVE])))
        session.add(row)
    customer = sub.get("customer")
    row.stripe_customer_id = customer if isinstance(customer, str) else (customer or {}).get("id")
    row.plan_id = plan.id
    row.stripe_item_id = item.get("id")
    row.stripe_product_id = price.get("product") if isinstance(price.get("product"), str) else None
    row.status = str(SubscriptionStatus(sub["status"]))
    row.billing_anchor = _utc(sub.get("billing_cycle_anchor")) or _utc(item["current_period_start"])
    row.current_period_start = _utc(item["current_period_start"])
    row.current_period_end = _utc(item["current_period_end"])
    row.cancel_at_period_end = bool(sub.get("cancel_at_period_end"))
    row.ended_at = _utc(sub.get("ended_at"))
    row.updated_at = now
    session.flush()
    return row


def apply_event(event_type: str, obj: dict, fetched: Fetched | None, now: datetime) -> str:
    """Apply a subscription event inside the dispatcher's write: record Stripe's state; a paid invoice grants its
    minutes once (keyed on the invoice id); a failed one tells the student, with the link to update their card."""
    if fetched is None:
        return "ignored"
    for other in fetched.others:
        record_state(db.session, other, now)
    sub = fetched.sub
    row = record_state(db.session, sub, now)
    if row is None:
        return "ignored"
    if row.duplicate_of_id is not None:
        return "duplicate"  # never grants; the dispatcher has it cancelled and refunded after this commits
    if event_type == "invoice.payment_failed":
        if (obj.get("status") == "open" and sub.get("latest_invoice") == obj.get("id")
                and row.status == SubscriptionStatus.ACTIVE):
            row.status = str(SubscriptionStatus.PAST_DUE)  # Stripe's own state catches up in a moment
        if obj.get("status") == "open" and sub.get("latest_invoice") == obj.get("id"):
            _payment_failed_email(row, obj)
        return "past-due"
    if event_type == "invoice.paid":
        if obj.get("billing_reason") == "subscription_create" and obj.get("status") == "paid" and obj.get("id"):
            record_event(db.session, EventName.SUBSCRIPTION_BOUGHT, at=now, user_id=row.student_id,
                         dedupe=dedupe_id(EventName.SUBSCRIPTION_BOUGHT, obj["id"]), tutor_id=row.tutor_id,
                         amount_minor=obj.get("amount_paid"), currency=str(obj.get("currency") or "").upper())
        return _grant_for_invoice(row, obj, sub)
    return f"recorded-{row.status}"


def _payment_failed_email(row: Subscription, invoice: dict) -> None:
    """Tell the student their plan's payment failed, with the link to update their card (once per invoice)."""
    student = db.session.get(User, row.student_id)
    amount = invoice.get("amount_due") or row.plan.price_minor
    outbox.enqueue_email("subscription_payment_failed", student.email, {
        "recipient_name": student.name, "tutor_name": row.tutor.name, "minutes": row.plan.minutes,
        "amount": Money(int(amount), str(invoice.get("currency") or row.plan.currency).upper()).format(),
        "reason": (invoice.get("last_payment_error") or {}).get("message") or "Your card was declined.",
        "card_url": public_url(f"/account/subscriptions/{row.id}/card")},
        dedupe_key=f"subscription-payment-failed:{invoice.get('id')}")


def _grant_for_invoice(row: Subscription, invoice: dict, sub: dict) -> str:
    if invoice.get("status") != "paid":
        return "ignored-unpaid"
    _, metadata = _invoice_subscription(invoice)
    plan = db.session.get(SubscriptionPlan, _metadata_int(metadata, "plan_id") or 0)
    if plan is None:
        return "ignored"
    lines = (invoice.get("lines") or {}).get("data") or []
    reason = invoice.get("billing_reason")
    if reason in ("subscription_create", "subscription_cycle"):
        period = [line for line in lines if not _is_proration(line)]
        if not period:
            return "ignored-no-period"
        minutes, period_end = plan.minutes, period[-1]["period"]["end"]
    elif reason == "subscription_update":
        previous = db.session.get(SubscriptionPlan, _metadata_int(metadata, "previous_plan_id") or 0)
        added = [line for line in lines if _is_proration(line) and line.get("amount", 0) > 0]
        if previous is None or not added:
            return "ignored-no-upgrade"
        item = sub["items"]["data"][0]
        left = period_left(added[-1]["period"]["start"], item["current_period_start"], item["current_period_end"])
        minutes, period_end = prorated_minutes(previous.minutes, plan.minutes, left), added[-1]["period"]["end"]
    else:
        return "ignored"
    if minutes <= 0:
        return "nothing-to-grant"
    expires_at = lot_expiry(row.billing_anchor, _utc(period_end),
                            current_app.config["SUBSCRIPTION_CARRY_PERIODS"])
    before = db.session.scalar(select(MinuteLot.id).where(MinuteLot.source_ref == invoice["id"]))
    wallet.grant_lot(db.session, user_id=row.student_id, tutor_id=row.tutor_id, minutes=minutes,
                     source="subscription", source_ref=invoice["id"], expires_at=expires_at,
                     paid_minor=int(invoice.get("amount_paid") or 0),
                     currency=str(invoice.get("currency") or plan.currency).upper())
    return "already-granted" if before else "minutes-granted"


def _is_proration(line: dict) -> bool:
    details = ((line.get("parent") or {}).get("subscription_item_details") or {})
    return bool(details.get("proration") or line.get("proration"))
