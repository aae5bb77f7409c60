"""Prepaid minutes, the student's side: a tutor's packages (with your balance), buying one on Stripe Checkout or with
PayPal, the purchase's status while the payment is confirmed, and your minutes and purchases."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..domain.packages import PurchaseState
from ..models import Role
from ..services import catalogue, package_paypal, package_refunds, packages, subscriptions, wallet
from ..services.errors import NotFound, ServiceError
from .common import now_utc, render, role_required

bp = Blueprint("wallet", __name__)


def purchase_page_url() -> str:
    """The purchase status page's address for Stripe Checkout to send the buyer back to ({PURCHASE_ID} is filled in
    by packages.start_purchase)."""
    return url_for("wallet.purchase", purchase_id=0, returned=1, _external=True).replace("/0?", "/{PURCHASE_ID}?")


@bp.get("/tutors/<id:tutor_id>/packages")
def tutor_packages(tutor_id: int):
    """A tutor's packages with Buy buttons and the viewer's minutes with them (the profile loads it as a partial)."""
    tutor = catalogue.get_tutor(tutor_id)
    is_buyer = current_user.is_authenticated and current_user.role in (Role.STUDENT, Role.PARENT)
    return render("wallet/packages.html", partial="wallet/_packages.html", tutor=tutor,
                  offers=packages.offers(tutor.id),
                  minutes=wallet.balance(current_user.id, tutor.id) if is_buyer else None, is_buyer=is_buyer,
                  paypal=package_paypal.available(),
                  # One key per rendered Buy form: a double click is one purchase and one Checkout page.
                  form_key=secrets.token_urlsafe(16))


@bp.post("/tutors/<id:tutor_id>/packages/<id:package_id>/buy")
@role_required(Role.STUDENT, Role.PARENT)
def buy(tutor_id: int, package_id: int):
    """Buy a package: off to Stripe Checkout (or to the purchase's status if it is already paid)."""
    try:
        purchase, url = packages.start_purchase(
            current_user, package_id, request.form.get("form_key"), now_utc(), success_url=purchase_page_url(),
            cancel_url=url_for("wallet.tutor_packages", tutor_id=tutor_id, _external=True))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("wallet.tutor_packages", tutor_id=tutor_id), code=303)
    return redirect(url or url_for("wallet.purchase", purchase_id=purchase.id), code=303)


@bp.post("/tutors/<id:tutor_id>/packages/<id:package_id>/buy/paypal")
@role_required(Role.STUDENT, Role.PARENT)
def buy_with_paypal(tutor_id: int, package_id: int):
    """Buy a package with PayPal: off to PayPal's approval page (or to the purchase's status if it is paid)."""
    try:
        purchase, url = package_paypal.start(
            current_user, package_id, request.form.get("form_key"), now_utc(),
            return_url=url_for("wallet.paypal_back", purchase_id=0, _external=True).replace("/0/", "/{PURCHASE_ID}/"),
            cancel_url=url_for("wallet.paypal_cancelled", purchase_id=0, _external=True)
            .replace("/0/", "/{PURCHASE_ID}/"))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("wallet.tutor_packages", tutor_id=tutor_id), code=303)
    return redirect(url or url_for("wallet.purchase", purchase_id=purchase.id), code=303)


@bp.get("/minutes/purchases/<id:purchase_id>/paypal/return")
@role_required(Role.STUDENT, Role.PARENT)
def paypal_back(purchase_id: int):
    """Back from PayPal having approved: capture the payment, then show the purchase with its minutes."""
    try:
        purchase = package_paypal.finish(current_user, purchase_id, request.args.get("token"), now_utc())
    except NotFound as exc:
        flash(exc.message, "error")
        return redirect(url_for("wallet.index"), code=303)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        if purchase.state == PurchaseState.PAID:
            flash(f"PayPal has taken your payment: {purchase.minutes} minutes are yours.", "success")
    return redirect(url_for("wallet.purchase", purchase_id=purchase_id, returned=1), code=303)


@bp.get("/minutes/purchases/<id:purchase_id>/paypal/cancel")
@role_required(Role.STUDENT, Role.PARENT)
def paypal_cancelled(purchase_id: int):
    """Back from PayPal without approving: nothing taken, no minutes; the tutor's packages again."""
    try:
        purchase = package_paypal.cancel(current_user, purchase_id, request.args.get("token"), now_utc())
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("wallet.index"), code=303)
    if purchase.state == PurchaseState.PAID:
        flash("This package was already paid, so your minutes are there.", "info")
        return redirect(url_for("wallet.purchase", purchase_id=purchase_id), code=303)
    flash("You cancelled the payment on PayPal, so nothing was taken and no minutes were added.", "info")
    return redirect(url_for("wallet.tutor_packages", tutor_id=purchase.tutor_id), code=303)


@bp.get("/minutes/purchases/<id:purchase_id>")
@role_required(Role.STUDENT, Role.PARENT)
def purchase(purchase_id: int):
    """A package purchase's status (polled while open): confirming for a buyer back from the payment page, else not
    paid yet with a way back to that page; then the minutes."""
    row = packages.get_purchase(current_user, purchase_id)
    return render("wallet/purchase.html", partial="wallet/_purchase_status.html", purchase=row,
                  minutes=wallet.balance(current_user.id, row.tutor_id), returned=request.args.get("returned") == "1",
                  page_open_until=row.expires_at if row.expires_at and row.expires_at > now_utc() else None,
                  refunds=package_refunds.refund_totals(purchase_id=row.id).get(row.id))


@bp.get("/minutes")
@role_required(Role.STUDENT, Role.PARENT)
def index():
    """Your prepaid minutes with each tutor (available, held for bookings, next expiry), your package purchases, and
    any monthly plan whose payment failed (with its card page)."""
    return render("wallet/index.html", balances=wallet.balances_of(current_user.id),
                  purchases=packages.purchases_of(current_user), owed=subscriptions.owed_by(current_user.id),
                  refunds=package_refunds.refund_totals(student_id=current_user.id))
