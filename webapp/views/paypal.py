"""Paying for a booking with PayPal: off to PayPal's approval page, and back (approved or cancelled)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..domain.states import BookingState
from ..services import bookings, paypal_checkout
from ..services.errors import NotFound, ServiceError
from .common import now_utc

bp = Blueprint("paypal", __name__)


def return_urls(booking_id: int) -> dict[str, str]:
    """Where PayPal sends the payer back: approved (this blueprint completes the payment) or cancelled."""
    return {"return_url": url_for("paypal.back", booking_id=booking_id, _external=True),
            "cancel_url": url_for("paypal.cancelled", booking_id=booking_id, _external=True)}


@bp.post("/bookings/<id:booking_id>/pay/paypal")
@login_required
def start(booking_id: int):
    """"Pay with PayPal": open (or reopen) the booking's PayPal order and go to its approval page."""
    try:
        url = paypal_checkout.start(current_user, booking_id, request.form.get("coupon"), now_utc(),
                                    **return_urls(booking_id))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("bookings.pay", booking_id=booking_id), code=303)
    return redirect(url, code=303)


@bp.get("/bookings/<id:booking_id>/paypal/return")
@login_required
def back(booking_id: int):
    """Back from PayPal having approved: authorize, then show the booking waiting for the tutor."""
    try:
        paypal_checkout.finish(current_user, booking_id, request.args.get("token"), now_utc())
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("PayPal has authorized your payment. You are charged only when the tutor approves the lesson.",
              "success")
    return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)


@bp.get("/bookings/<id:booking_id>/paypal/cancel")
@login_required
def cancelled(booking_id: int):
    """Back from PayPal without approving: nothing was taken; the pay page again (or, for a booking already paid,
    its page, which says how: Back to PayPal's page after paying and Cancel there undoes nothing)."""
    try:
        booking = bookings.get_booking(current_user, booking_id)
    except NotFound as exc:
        flash(exc.message, "error")
        return redirect(url_for("bookings.index"), code=303)
    if booking.state != BookingState.AWAITING_PAYMENT:
        flash("You left PayPal's page. Nothing more was taken: this booking's payment stands as shown below.", "info")
        return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)
    flash("You left PayPal without paying, so nothing was taken.", "info")
    return redirect(url_for("bookings.pay", booking_id=booking_id), code=303)
