"""The JSON API's prepaid minutes, subscriptions and PayPal: a tutor's packages and plans, buying a package, your
wallet, your subscriptions (subscribe, cancel at period end, resume, change plan) and completing a PayPal payment.

These operations sit on the API's blueprint (webapp/views/api.py), so bearer tokens, the session's CSRF rule, the
error shape and the OpenAPI document are the same as for every other operation. Each calls the service the HTML
pages call (services/packages.py, wallet.py, subscriptions.py, paypal_checkout.py); none decides anything itself.
"""
from __future__ import annotations

from functools import wraps

from flask import request, url_for
from flask_login import current_user
from spectree import Response

from ..domain.packages import refund_status
from ..domain.roles import Role
from ..domain.subscriptions import is_upgrade
from ..models import PackagePurchase, Subscription, SubscriptionPlan
from ..services import (catalogue, package_refunds, packages, paypal_checkout, subscription_checkouts,
                        subscriptions, wallet)
from ..services.errors import Forbidden
from . import api_schemas as schema
from .api import ANON, BAD_TOKEN, MALFORMED, api_user, body, booking_json, bp, error, query, signed_in
from .api_spec import ANYONE, SIGNED_IN, spec
from .common import now_utc
from .wallet import purchase_page_url

BUYERS = (Role.STUDENT, Role.PARENT)
NOT_A_BUYER = error("Signed in, but not a student or parent account (only they hold minutes and subscriptions).")


def buyers_only(view):
    """Signed in as a student or parent (401 or 403 before the request is validated)."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if api_user().role not in BUYERS:
            raise Forbidden("Only student and parent accounts hold minutes and subscriptions.")
        return view(*args, **kwargs)
    return wrapped


def _viewer_buys() -> bool:
    return current_user.is_authenticated and current_user.role in BUYERS


def _idempotency_key() -> str | None:
    """The request's validated Idempotency-Key header, if sent."""
    return request.context.headers.idempotency_key


# --- serializers -----------------------------------------------------------------------------

def plan_json(plan: SubscriptionPlan) -> dict:
    """A monthly plan."""
    return {"id": plan.id, "tutor_id": plan.tutor_id, "minutes": plan.minutes, "price_minor": plan.price_minor,
            "currency": plan.currency}


def purchase_json(purchase: PackagePurchase) -> dict:
    """A package purchase, its state and how much of it was refunded (summed from its refund rows)."""
    totals = package_refunds.refund_totals(purchase_id=purchase.id).get(purchase.id) or package_refunds.RefundTotals()
    return {"id": purchase.id, "package_id": purchase.package_id, "tutor_id": purchase.tutor_id,
            "minutes": purchase.minutes, "price_minor": purchase.price_minor, "currency": purchase.currency,
            "method": purchase.method, "state": purchase.state, "created_at": purchase.created_at.isoformat(),
            "paid_at": purchase.paid_at.isoformat() if purchase.paid_at else None,
            "refunded_minor": totals.refunded_minor, "refund_pending_minor": totals.pending_minor,
            "refund_status": str(refund_status(purchase.price_minor, totals.refunded_minor))}


def subscription_json(item: subscriptions.SubscriptionView) -> dict:
    """A subscription as its student sees it, with the plans it can change to."""
    row: Subscription = item.row
    choices = [] if item.ended else [
        {"plan": plan_json(plan), "takes_effect": "now" if is_upgrade(row.plan.price_minor, plan.price_minor)
         else "next_renewal"} for plan in subscriptions.plan_choices(row)]
    return {"id": row.id, "tutor": {"id": row.tutor_id, "name": row.tutor.name}, "plan": plan_json(row.plan),
            "status": row.status, "current_period_start": row.current_period_start.isoformat(),
            "current_period_end": row.current_period_end.isoformat(), "cancel_at_period_end": row.cancel_at_period_end,
            "ended_at": row.ended_at.isoformat() if row.ended_at else None, "payment_owed": item.payment_owed,
            "minutes_left": item.minutes_left, "plan_choices": choices}


def _one_subscription(row: Subscription) -> dict:
    return subscription_json(subscriptions.SubscriptionView(row, wallet.balance(row.student_id,
                                                                                 row.tutor_id).available))


# --- a tutor's packages and plans (public) ------------------------------------------------------

@bp.get("/tutors/<id:tutor_id>/packages")
@spec.validate(security=ANYONE, operation_id="listPackages", resp=Response(
    HTTP_200=(schema.PackageList, "The packages on offer."), HTTP_401=BAD_TOKEN, HTTP_404=error("No such tutor.")))
def tutor_packages(tutor_id: int):
    """A tutor's packages of prepaid hours, priced now, with your minutes with them when you are a student or
    parent."""
    tutor = catalogue.get_tutor(tutor_id)
    mine = wallet.balance(current_user.id, tutor.id) if _viewer_buys() else None
    return {"tutor_id": tutor.id,
            "packages": [{"id": o.id, "hours": o.hours, "minutes": o.minutes, "discount_percent": o.discount_percent,
                          "price_minor": o.price.amount_minor if o.price else None,
                          "full_price_minor": o.full_price.amount_minor if o.full_price else None,
                          "currency": o.price.currency if o.price else None} for o in packages.offers(tutor.id)],
            "balance": {"available_minutes": mine.available, "held_minutes": mine.held} if mine else None}


@bp.get("/tutors/<id:tutor_id>/plans")
@spec.validate(security=ANYONE, operation_id="listPlans", resp=Response(
    HTTP_200=(schema.PlanList, "The plans on offer."), HTTP_401=BAD_TOKEN, HTTP_404=error("No such tutor.")))
def tutor_plans(tutor_id: int):
    """A tutor's monthly plans, with your live subscription with them when you are a student or parent."""
    tutor = catalogue.get_tutor(tutor_id)
    current = subscriptions.live_subscription(current_user.id, tutor.id) if _viewer_buys() else None
    return {"tutor_id": tutor.id, "plans": [plan_json(plan) for plan in subscriptions.plans(tutor.id)],
            "subscription_id": current.id if current else None}


# --- buying a package ---------------------------------------------------------------------------

@bp.post("/packages/<id:package_id>/purchases")
@buyers_only
@spec.validate(headers=schema.IdempotencyHeaders, security=SIGNED_IN, operation_id="buyPackage", resp=Response(
    HTTP_201=(schema.PurchaseStarted, "The purchase (the Location header is its status) and the page to pay on."),
    HTTP_401=ANON, HTTP_403=NOT_A_BUYER, HTTP_404=error("No such package on offer."),
    HTTP_409=error("This Idempotency-Key was used for another package, for a payment page that closed unpaid, or "
                   "to pay with PayPal; or the tutor offers no subject to price the package."),
    HTTP_502=error("Stripe could not be reached; nothing was charged.")))
def buy_package(package_id: int):
    """Buy a package on Stripe Checkout (paid at once): open checkout_url; the minutes are granted when Stripe
    confirms the payment (GET the purchase until its state is paid). Send an Idempotency-Key header to make a retry
    safe: the same key again is the same purchase and the same page (no page once paid); without one, every call is
    a new purchase."""
    purchase, url = packages.start_purchase(api_user(), package_id, _idempotency_key(), now_utc(),
                                            success_url=purchase_page_url(), cancel_url=purchase_page_url())
    return ({**purchase_json(purchase), "checkout_url": url}, 201,
            {"Location": url_for("api.get_purchase", purchase_id=purchase.id)})


@bp.get("/purchases/<id:purchase_id>")
@buyers_only
@spec.validate(security=SIGNED_IN, operation_id="getPurchase", resp=Response(
    HTTP_200=(schema.Purchase, "The purchase."), HTTP_401=ANON, HTTP_403=NOT_A_BUYER,
    HTTP_404=error("No such purchase of yours.")))
def get_purchase(purchase_id: int):
    """One of your package purchases: open until Stripe confirms the payment, then paid (the minutes are yours)."""
    return purchase_json(packages.get_purchase(api_user(), purchase_id))


# --- the wallet ---------------------------------------------------------------------------------

@bp.get("/wallet")
@buyers_only
@spec.validate(query=schema.WalletQuery, security=SIGNED_IN, operation_id="getWallet", resp=Response(
    HTTP_200=(schema.Wallet, "Your wallet."), HTTP_401=ANON, HTTP_403=NOT_A_BUYER))
def get_wallet():
    """Your prepaid minutes: per tutor (available and held for bookings), the lots they are in with their expiry, and
    your latest ledger transactions."""
    found = wallet.statement(api_user().id, query().limit)
    names = found.tutor_names
    return {"balances": [{"tutor": {"id": b.tutor_id, "name": b.tutor_name}, "available_minutes": b.available,
                          "held_minutes": b.held,
                          "next_expiry": b.next_expiry.isoformat() if b.next_expiry else None}
                         for b in found.balances],
            "lots": [{"id": lot.id, "tutor_id": lot.tutor_id, "source": lot.source, "minutes": lot.minutes,
                      "remaining_minutes": lot.remaining,
                      "expires_at": lot.expires_at.isoformat() if lot.expires_at else None,
                      "granted_at": lot.created_at.isoformat()} for lot in found.lots],
            "transactions": [{"id": t.id, "move": t.move, "tutor": {"id": t.tutor_id, "name": names.get(t.tutor_id, "")},
                              "minutes": t.minutes, "booking_id": t.booking_id, "available_change": t.available_change,
                              "held_change": t.held_change, "created_at": t.created_at.isoformat()}
                             for t in found.transactions]}


# --- subscriptions ------------------------------------------------------------------------------

@bp.get("/subscriptions")
@buyers_only
@spec.validate(security=SIGNED_IN, operation_id="listSubscriptions", resp=Response(
    HTTP_200=(schema.SubscriptionList, "Your subscriptions."), HTTP_401=ANON, HTTP_403=NOT_A_BUYER))
def list_subscriptions():
    """Your subscriptions: status, period, minutes left, and the plans each can change to."""
    return {"subscriptions": [subscription_json(item) for item in subscriptions.subscriptions_of(api_user())]}


@bp.post("/plans/<id:plan_id>/subscriptions")
@buyers_only
@spec.validate(headers=schema.IdempotencyHeaders, security=SIGNED_IN, operation_id="subscribe", resp=Response(
    HTTP_201=(schema.SubscriptionCheckout, "The page to subscribe on."), HTTP_401=ANON, HTTP_403=NOT_A_BUYER,
    HTTP_404=error("No such plan on offer."),
    HTTP_409=error("You already subscribe to a plan with this tutor (change it instead), or the page for this "
                   "Idempotency-Key was already used."),
    HTTP_502=error("Stripe could not be reached; nothing was charged.")))
def subscribe(plan_id: int):
    """Subscribe to a tutor's monthly plan on Stripe Checkout: open checkout_url; the subscription and its first
    minutes appear once Stripe confirms it. Send an Idempotency-Key header to make a retry safe: the same key again
    gets the same page."""
    url = subscription_checkouts.start_subscription(
        api_user(), plan_id, _idempotency_key(),
        success_url=url_for("subscriptions.index", subscribed=1, _external=True),
        cancel_url=url_for("subscriptions.index", _external=True), now=now_utc())
    return {"checkout_url": url}, 201

_CHANGE_ERRORS = dict(
    HTTP_401=ANON, HTTP_403=NOT_A_BUYER, HTTP_404=error("No such subscription of yours."),
    HTTP_502=error("Stripe refused or could not be reached (a declined card for an upgrade); nothing changed."))


@bp.post("/subscriptions/<id:subscription_id>/cancel")
@buyers_only
@spec.validate(headers=schema.IdempotencyHeaders, security=SIGNED_IN, operation_id="cancelSubscription",
               resp=Response(HTTP_200=(schema.Subscription, "The subscription, ending at current_period_end."),
                             HTTP_409=error("Already cancelled, or it has ended."), **_CHANGE_ERRORS))
def cancel_subscription(subscription_id: int):
    """Cancel at the end of the period paid for (its minutes stay yours until they expire); resume before then to
    keep it."""
    return _one_subscription(subscriptions.set_cancel_at_period_end(
        api_user(), subscription_id, True, _idempotency_key(), now_utc(), unchanged_is_conflict=True))


@bp.post("/subscriptions/<id:subscription_id>/resume")
@buyers_only
@spec.validate(headers=schema.IdempotencyHeaders, security=SIGNED_IN, operation_id="resumeSubscription",
               resp=Response(HTTP_200=(schema.Subscription, "The subscription, renewing as before."),
                             HTTP_409=error("Not cancelled, or it has ended."), **_CHANGE_ERRORS))
def resume_subscription(subscription_id: int):
    """Take back a cancellation before the period ends."""
    return _one_subscription(subscriptions.set_cancel_at_period_end(
        api_user(), subscription_id, False, _idempotency_key(), now_utc(), unchanged_is_conflict=True))


@bp.post("/subscriptions/<id:subscription_id>/change")
@buyers_only
@spec.validate(json=schema.ChangePlanInput, headers=schema.IdempotencyHeaders, security=SIGNED_IN,
               operation_id="changeSubscriptionPlan", resp=Response(
                   HTTP_200=(schema.Subscription, "The subscription on its new plan."), HTTP_400=MALFORMED,
                   HTTP_409=error("Already on that plan, it has ended, a payment is owed, the plan is in another "
                                  "currency, or Stripe has not confirmed the subscription yet."),
                   **{**_CHANGE_ERRORS, "HTTP_404": error("No such subscription of yours, or the plan is not one "
                                                          "the tutor offers.")}))
def change_subscription_plan(subscription_id: int):
    """Move to another of the tutor's plans: a dearer one at once, billed prorated for what is left of the period
    (its extra minutes granted when that invoice is paid); a cheaper one from the next renewal."""
    return _one_subscription(subscriptions.change_plan(api_user(), subscription_id, body().plan_id,
                                                       _idempotency_key(), now_utc(), unchanged_is_conflict=True))


# --- PayPal ---------------------------------------------------------------------------------------

@bp.post("/payments/paypal/complete")
@signed_in
@spec.validate(json=schema.PayPalCompleteInput, security=SIGNED_IN, operation_id="completePayPalPayment",
               resp=Response(
                   HTTP_200=(schema.Booking, "The booking, held for the tutor's approval (REQUIRES_CAPTURE)."),
                   HTTP_400=MALFORMED, HTTP_401=ANON, HTTP_404=error("No such PayPal order for a booking of yours."),
                   HTTP_409=error("The payer has not approved the order, the booking is no longer waiting for "
                                  "payment or its hold expired, or the order was replaced by a newer one."),
                   HTTP_502=error("PayPal refused or could not be reached; nothing was taken.")))
def complete_paypal():
    """After the payer approved the order on PayPal: authorize it (captured when the tutor approves, voided
    otherwise), exactly as the booking page does when PayPal returns there. Completing twice is harmless."""
    data = body()
    return booking_json(paypal_checkout.finish(api_user(), data.booking_id, data.order_id, now_utc()), now_utc())
