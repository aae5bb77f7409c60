"""Admin pages for people and money: users (suspend, reactivate, end log-ins), tutor approval, payouts, the audit
log."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..domain.roles import STAFF_ROLES, Role
from ..domain.money import Money, parse_major_amount
from ..services import admin_tutors, admin_users, audit, booking_timeline, minute_refunds, package_refunds, payouts
from ..services.errors import ServiceError, ValidationError
from . import params
from .common import now_utc, perform, render, role_required

bp = Blueprint("admin_users", __name__, url_prefix="/admin")


def _page() -> int:
    """The page number asked for; anything that is not a sensible number is the first page."""
    try:
        return min(max(params.optional_int(request.args, "page") or 1, 1), 10_000)
    except ValidationError:
        return 1


@bp.get("/users/")
@role_required(*STAFF_ROLES)
def index():
    """Users by name or email, role and status; htmx swaps only the results as the admin types."""
    q, role, status = (request.args.get(k, "") for k in ("q", "role", "status"))
    error = None
    try:
        users, has_more = admin_users.search_users(current_user, q, role, status, _page())
    except ValidationError as exc:
        users, has_more, error = [], False, exc.message
    return render("admin/users.html", partial="admin/_users_results.html", users=users, has_more=has_more,
                  page_no=_page(), q=q, role=role, state=status, roles=list(Role), error=error)


@bp.get("/users/<id:user_id>")
@role_required(*STAFF_ROLES)
def user(user_id: int):
    """One user: bookings, payments, log-ins, app tokens, tickets, and what staff did to the account."""
    return render("admin/user.html", o=admin_users.user_overview(current_user, user_id),
                  package_purchases=package_refunds.overview(current_user, user_id),
                  refund_request_key=secrets.token_urlsafe(24))


@bp.post("/users/<id:user_id>/purchases/<id:purchase_id>/refund")
@role_required(*STAFF_ROLES)
def refund_purchase(user_id: int, purchase_id: int):
    """Refund a package purchase: the unused minutes' pro-rata worth, or a smaller amount (support up to the cap)."""
    back = redirect(url_for("admin_users.user", user_id=user_id), code=303)
    overview = {p.purchase.id: p for p in package_refunds.overview(current_user, user_id)}
    if purchase_id not in overview:
        flash("We could not find that purchase among this user's paid purchases.", "error")
        return back
    currency = overview[purchase_id].purchase.currency
    try:
        text = (request.form.get("amount") or "").strip()
        amount = parse_major_amount(text, currency) if text else None
        row = package_refunds.refund_purchase(current_user, purchase_id, amount, request.form.get("reason", ""),
                                              now_utc(), request_key=request.form.get("request_key"))
        flash(f"Refunded {Money(row.amount_minor, currency).format()}; {row.minutes} unused minutes were taken "
              "back from the student's balance.", "success")
    except ValueError as exc:
        flash(str(exc), "error")
    except ServiceError as exc:
        flash(exc.message, "error")
    return back


@bp.post("/users/<id:user_id>/suspend")
@role_required(Role.ADMIN)
def suspend(user_id: int):
    """Suspend an account with a reason: it is logged out everywhere and cannot log in or book."""
    return perform(lambda: admin_users.suspend(current_user, user_id, request.form.get("reason"), now_utc()),
                   "Suspended: every log-in and app token of the account has ended.",
                   url_for("admin_users.user", user_id=user_id))


@bp.post("/users/<id:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate(user_id: int):
    """Lift a suspension, with a reason."""
    return perform(lambda: admin_users.reactivate(current_user, user_id, request.form.get("reason"), now_utc()),
                   "Reactivated: the account can log in and book again.",
                   url_for("admin_users.user", user_id=user_id))


@bp.post("/users/<id:user_id>/sessions/end")
@role_required(Role.ADMIN)
def end_sessions(user_id: int):
    """Log the user out of every browser and revoke their app tokens."""
    return perform(lambda: admin_users.end_sessions(current_user, user_id, now_utc()),
                   "Every log-in and app token of the account has ended.",
                   url_for("admin_users.user", user_id=user_id))


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log():
    """The audit log, newest first, searchable by words and filtered by action."""
    q, action = request.args.get("q", ""), request.args.get("action", "")
    result = audit.search(current_user, q, action, page=_page())
    return render("admin/audit.html", partial="admin/_audit_results.html", result=result, q=q, action=action,
                  actions=audit.actions())


@bp.get("/payouts")
@role_required(Role.ADMIN)
def payouts_page():
    """Each paid lesson's payout: transferred, failed (with the error and a Retry button), or waiting."""
    failed_only = request.args.get("failed") == "1"
    return render("admin/payouts.html", rows=payouts.payout_overview(current_user, now_utc(), failed_only),
                  failed_only=failed_only)


@bp.post("/payouts/<id:booking_id>/retry")
@role_required(Role.ADMIN)
def retry_payout(booking_id: int):
    """Send one failed payout again now, through the payout job's own path (or say why nothing was sent)."""
    try:
        retried = payouts.retry_payout(current_user, booking_id, now_utc())
        flash(retried.words, "success" if retried.transferred else "info")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin_users.payouts_page"), code=303)


@bp.get("/tutors")
@role_required(*STAFF_ROLES)
def tutors_page():
    """Tutors waiting for approval (or approved, or refused), with their Connect payout status."""
    approval = request.args.get("approval", "pending")
    try:
        rows = admin_tutors.tutors_by_approval(current_user, approval)
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin_users.tutors_page"), code=303)
    return render("admin/tutors.html", rows=rows, approval=approval)


@bp.post("/tutors/<id:tutor_id>/approve")
@role_required(Role.ADMIN)
def approve_tutor(tutor_id: int):
    """List the tutor and make them bookable (they hear by email)."""
    return perform(lambda: admin_tutors.approve(current_user, tutor_id, now_utc()),
                   "Approved: the tutor is listed and bookable.", url_for("admin_users.tutors_page"))


@bp.post("/tutors/<id:tutor_id>/refuse")
@role_required(Role.ADMIN)
def refuse_tutor(tutor_id: int):
    """Refuse the tutor with a reason they receive by email."""
    return perform(lambda: admin_tutors.refuse(current_user, tutor_id, request.form.get("reason"), now_utc()),
                   "Refused: the tutor was told why by email.", url_for("admin_users.tutors_page"))


@bp.get("/bookings/<id:booking_id>")
@role_required(*STAFF_ROLES)
def booking_timeline_page(booking_id: int):
    """A booking's timeline (state changes, payments, refunds, payout, emails, staff actions, tickets) with the
    admin actions open at this point."""
    booking, events = booking_timeline.timeline(current_user, booking_id)
    return render("admin/booking.html", booking=booking, events=events, now=now_utc(),
                  refund_offer=minute_refunds.staff_refund_offer(current_user, booking),
                  refund_request_key=secrets.token_urlsafe(16))
