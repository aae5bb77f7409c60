"""Monthly plans: the tutor's page of plans, the plans on a tutor's profile with Subscribe buttons, and the student's
Subscriptions page (status, next renewal, minutes left; cancel at period end, resume, change plan, each confirmed)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..forms import PlanForm
from ..models import Role
from ..services import catalogue, subscription_checkouts, subscriptions, wallet
from ..services.errors import ServiceError, ValidationError
from .common import apply_service_errors, now_utc, perform, render, role_required

bp = Blueprint("subscriptions", __name__)


@bp.route("/tutor/plans", methods=["GET", "POST"])
@role_required(Role.TUTOR)
def plans_page():
    """Your monthly plans (minutes a month for a price); add one."""
    form = PlanForm()
    if form.validate_on_submit():
        try:
            subscriptions.add_plan(current_user, form.minutes.data, form.price.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message)
        else:
            flash("Plan added.", "success")
            return redirect(url_for("subscriptions.plans_page"), code=303)
    return render("subscriptions/plans.html", form=form, plans=subscriptions.plans(current_user.id),
                  currency=subscriptions.plan_currency(current_user.id), status=422 if form.errors else 200)


@bp.post("/tutor/plans/<id:plan_id>/retire")
@role_required(Role.TUTOR)
def retire_plan(plan_id: int):
    """Stop offering a plan (its subscribers keep it until they change or cancel)."""
    return perform(lambda: subscriptions.retire_plan(current_user, plan_id), "Plan retired.",
                   url_for("subscriptions.plans_page"))


@bp.get("/tutors/<id:tutor_id>/plans")
def tutor_plans(tutor_id: int):
    """A tutor's monthly plans with Subscribe buttons (the profile loads it as a partial)."""
    tutor = catalogue.get_tutor(tutor_id)
    is_buyer = current_user.is_authenticated and current_user.role in (Role.STUDENT, Role.PARENT)
    return render("subscriptions/offer.html", partial="subscriptions/_offer.html", tutor=tutor,
                  plans=subscriptions.plans(tutor.id), is_buyer=is_buyer,
                  current=subscriptions.live_subscription(current_user.id, tutor.id) if is_buyer else None,
                  form_key=subscriptions.new_form_key())


@bp.post("/tutors/<id:tutor_id>/plans/<id:plan_id>/subscribe")
@role_required(Role.STUDENT, Role.PARENT)
def subscribe(tutor_id: int, plan_id: int):
    """Subscribe to a plan: off to Stripe Checkout."""
    try:
        url = subscription_checkouts.start_subscription(
            current_user, plan_id, request.form.get("form_key"),
            success_url=url_for("subscriptions.index", subscribed=1, _external=True),
            cancel_url=url_for("subscriptions.tutor_plans", tutor_id=tutor_id, _external=True), now=now_utc())
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("subscriptions.tutor_plans", tutor_id=tutor_id), code=303)
    return redirect(url, code=303)


@bp.get("/account/subscriptions")
@role_required(Role.STUDENT, Role.PARENT)
def index():
    """Your subscriptions: status, next renewal, minutes left, and what you can do with each."""
    return render("subscriptions/index.html", partial="subscriptions/_list.html",
                  items=subscriptions.subscriptions_of(current_user), subscribed=bool(request.args.get("subscribed")),
                  choices=subscriptions.plan_choices, form_key=subscriptions.new_form_key())


def _change(action, kind: str, done: str):
    """Run a cancel, resume or plan change and say what happened: a double click or a stale page (already so) gets
    words that say nothing changed, never the words of a change."""
    try:
        outcome = action()
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        if outcome.changed:
            flash(done, "success")
        else:
            flash(subscriptions.already_so_words(outcome.row, kind, current_user.timezone), "info")
    return redirect(url_for("subscriptions.index"), code=303)


@bp.post("/account/subscriptions/<id:subscription_id>/cancel")
@role_required(Role.STUDENT, Role.PARENT)
def cancel(subscription_id: int):
    """Cancel at the end of the period you paid for."""
    return _change(lambda: subscriptions.set_cancel_at_period_end(current_user, subscription_id, True,
                                                                  request.form.get("form_key"), now_utc()),
                   "cancel", "Cancelled: it ends at the end of this period. You can resume it until then.")


@bp.post("/account/subscriptions/<id:subscription_id>/resume")
@role_required(Role.STUDENT, Role.PARENT)
def resume(subscription_id: int):
    """Take back a cancellation before the period ends."""
    return _change(lambda: subscriptions.set_cancel_at_period_end(current_user, subscription_id, False,
                                                                  request.form.get("form_key"), now_utc()),
                   "resume", "Resumed: it renews as before.")


@bp.get("/account/subscriptions/<id:subscription_id>/change")
@role_required(Role.STUDENT, Role.PARENT)
def change_confirm(subscription_id: int):
    """Confirm a plan change: what it costs now and when it takes effect."""
    try:
        row = subscriptions.get_subscription(current_user, subscription_id)
        plan = subscriptions.get_plan(request.args.get("plan_id", type=int) or 0)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("subscriptions.index"), code=303)
    if plan not in subscriptions.plan_choices(row):  # its own plan, or another tutor's: nothing to confirm
        flash("You are already on that plan." if plan.id == row.plan_id else
              f"Choose one of {row.tutor.name}'s other plans.", "error")
        return redirect(url_for("subscriptions.index"), code=303)
    return render("subscriptions/change.html", row=row, plan=plan, form_key=subscriptions.new_form_key(),
                  upgrade=plan.price_minor > row.plan.price_minor,
                  minutes_left=wallet.balance(current_user.id, row.tutor_id).available)


@bp.post("/account/subscriptions/<id:subscription_id>/change")
@role_required(Role.STUDENT, Role.PARENT)
def change(subscription_id: int):
    """Move to another of the tutor's plans."""
    return _change(lambda: subscriptions.change_plan(current_user, subscription_id,
                                                     request.form.get("plan_id", type=int) or 0,
                                                     request.form.get("form_key"), now_utc()),
                   "plan", "Plan changed.")


@bp.route("/account/subscriptions/<id:subscription_id>/card", methods=["GET", "POST"])
@role_required(Role.STUDENT, Role.PARENT)
def card(subscription_id: int):
    """Update your card: what is owed and why; the button opens Stripe's page to save a new card (POST)."""
    if request.method == "POST":
        result_url = url_for("subscriptions.card_done", subscription_id=subscription_id, _external=True)
        try:
            url = subscription_checkouts.start_card_update(
                current_user, subscription_id, request.form.get("form_key"),
                success_url=result_url + "?session_id={CHECKOUT_SESSION_ID}",
                cancel_url=url_for("subscriptions.card", subscription_id=subscription_id, _external=True),
                now=now_utc())
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for("subscriptions.card", subscription_id=subscription_id), code=303)
        return redirect(url, code=303)
    try:
        row = subscriptions.get_subscription(current_user, subscription_id)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("subscriptions.index"), code=303)
    return render("subscriptions/card.html", row=row, form_key=subscriptions.new_form_key(),
                  last=subscription_checkouts.card_result(current_user, subscription_id, None))


@bp.get("/account/subscriptions/<id:subscription_id>/card/done")
@role_required(Role.STUDENT, Role.PARENT)
def card_done(subscription_id: int):
    """Back from Stripe: what the new card did (polls until Stripe's webhook has been applied); a session id that is
    not one of this subscription's card updates is answered at once, without polling."""
    try:
        row = subscriptions.get_subscription(current_user, subscription_id)
        result = subscription_checkouts.card_result(current_user, subscription_id, request.args.get("session_id"))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("subscriptions.index"), code=303)
    # Our row is written before the student is sent to Stripe, so no row now means none will come: nothing to wait for.
    return render("subscriptions/card_done.html", partial="subscriptions/_card_result.html", row=row,
                  result=result, minutes_left=wallet.balance(current_user.id, row.tutor_id).available,
                  status=200 if result is not None else 404)
