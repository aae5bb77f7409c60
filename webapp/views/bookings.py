"""Booking a slot, and a user's bookings."""
from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required
from wtforms.validators import InputRequired

from ..domain.money import lesson_price
from ..forms import BookingForm, Length
from ..models import Role
from ..services import (availability, bookings, cancellations, catalogue, checkout, meetings, minute_payments,
                       minute_refunds, paypal_checkout, quotes, reschedules)
from ..services.errors import AlreadyYours, Conflict, ServiceError, SlotTaken, ValidationError
from . import params
from .common import apply_service_errors, is_htmx, now_utc, render, role_required

bp = Blueprint("bookings", __name__)


@bp.route("/tutors/<id:tutor_id>/book", methods=["GET", "POST"])
@role_required(Role.STUDENT, Role.PARENT)
def new(tutor_id: int):
    """Confirm a picked slot: who it is for, a note, the address for in-person; POST books it."""
    tutor = catalogue.get_tutor(tutor_id)
    source = request.form if request.method == "POST" else request.args
    form = BookingForm(formdata=request.form if request.method == "POST" else request.args)
    form.child_id.choices = [(c.id, c.name) for c in current_user.children]
    if current_user.is_parent:  # nobody is chosen for them: a parent says who each lesson is for
        form.child_id.validators = [InputRequired("Choose who the lesson is for.")]
    if request.method == "GET":
        form.form_key.data = secrets.token_urlsafe(16)  # one key per rendered form: a resubmit finds its booking
    summary, error = None, None
    try:
        teach = availability.resolve_teach(tutor.id, params.required_int(source, "teach_id", "The subject"))
        start = params.parse_instant(source.get("start"))
        duration = availability.validate_duration(params.duration_from(source))
        summary = {"teach": teach, "start": start, "duration": duration, "in_person": params.lesson_type(source),
                   "price": lesson_price(teach.hourly_rate_minor, teach.currency, duration)}
    except ServiceError as exc:
        error = exc.message
    if summary and summary["in_person"]:
        form.line1.validators = [InputRequired("Give the street and number where the lesson takes place."),
                                 Length(max=200)]
    if request.method == "POST" and summary and form.validate_on_submit():
        try:
            booking = bookings.request_booking(current_user, params.booking_request_from(request.form, tutor.id),
                                               now_utc())
        except AlreadyYours as exc:
            flash(exc.message, "info")
            return redirect(url_for("bookings.detail", booking_id=exc.booking_id), code=303)
        except SlotTaken as exc:
            flash(exc.message, "error")
            day = summary["start"].astimezone(_zone()).date()
            return redirect(url_for("tutors.profile", tutor_id=tutor.id, teach_id=summary["teach"].id,
                                    duration=summary["duration"],
                                    lesson_type="in_person" if summary["in_person"] else "online",
                                    tz=current_user.timezone, month=day.strftime("%Y-%m"), day=day.isoformat())
                            + "#slot-picker", code=303)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message)
        except ServiceError as exc:
            error = exc.message
        else:
            flash("Your slot is held. Complete payment before the hold runs out.", "success")
            return redirect(url_for("bookings.detail", booking_id=booking.id), code=303)
    status = 422 if (error or form.errors) and request.method == "POST" else (400 if error else 200)
    return render("bookings/new.html", tutor=tutor, form=form, summary=summary, error=error, status=status)


def _zone():
    from zoneinfo import ZoneInfo
    return ZoneInfo(current_user.timezone)


@bp.get("/bookings")
@login_required
def index():
    """Your bookings: upcoming and past, in your time zone."""
    now = now_utc()
    return render("bookings/list.html", upcoming=bookings.list_bookings(current_user, now, "upcoming"),
                  past=bookings.list_bookings(current_user, now, "past"), now=now,
                  status_words=bookings.booking_status_words)


@bp.get("/bookings/<id:booking_id>")
@login_required
def detail(booking_id: int):
    """One booking you may see, with what its state means now."""
    now = now_utc()
    booking = bookings.get_booking(current_user, booking_id)
    return render("bookings/detail.html", booking=booking, now=now,
                  status_text=bookings.booking_status_words(booking, now),
                  lesson_payment=bookings.lesson_and_payment(booking, now),
                  hold_lapsed=bookings.is_hold_lapsed(booking, now), polling=request.args.get("paid") == "1",
                  can_cancel=cancellations.can_cancel(current_user, booking, now),
                  can_reschedule=reschedules.can_propose(current_user, booking.lesson, now),
                  report_problem=cancellations.needs_support_link(current_user, booking, now),
                  meeting=meetings.join_link(booking.lesson, current_user, now),
                  # One key per rendered refund form: submitting the same form twice is the same refund.
                  refund_offer=minute_refunds.staff_refund_offer(current_user, booking)
                  if current_user.is_staff else None,
                  refund_request_key=secrets.token_urlsafe(16))


@bp.route("/bookings/<id:booking_id>/pay", methods=["GET", "POST"])
@login_required
def pay(booking_id: int):
    """Review the price, try a coupon (live quote), then go to Stripe Checkout."""
    now = now_utc()
    try:
        booking = quotes.payable_booking(current_user, booking_id, now)
    except Conflict as exc:  # Back after paying, or a stale tab: the booking page says where its payment stands
        flash(exc.message, "info")
        return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)
    code = request.form.get("coupon") if request.method == "POST" else request.args.get("coupon")
    if request.method == "POST":
        try:
            url = checkout.start_checkout(
                current_user, booking.id, code, now,
                success_url=url_for("bookings.detail", booking_id=booking.id, paid=1, _external=True),
                cancel_url=url_for("bookings.pay", booking_id=booking.id, _external=True))
        except ServiceError as exc:
            if "coupon" not in exc.fields:  # a code's own problem is shown once, beside the code, by the quote
                flash(exc.message, "error")
        else:
            return redirect(url, code=303)
    quote = quotes.quote_booking(current_user, booking, code, now)
    return render("bookings/pay.html", booking=booking, quote=quote, now=now,
                  minutes=minute_payments.minutes_offer(current_user, booking), paypal=paypal_checkout.available())


@bp.post("/bookings/<id:booking_id>/pay-with-minutes")
@login_required
def pay_with_minutes(booking_id: int):
    """Pay with prepaid minutes: no card; the lesson's minutes are held until the tutor approves."""
    try:
        minute_payments.pay_with_minutes(current_user, booking_id, now_utc())
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("bookings.pay", booking_id=booking_id), code=303)
    flash("Paid with your minutes. They are held until the tutor approves the lesson.", "success")
    return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)


@bp.get("/bookings/<id:booking_id>/quote")
@login_required
def quote(booking_id: int):
    """The live price as a coupon is typed (HTMX partial; a full pay page without HTMX)."""
    now = now_utc()
    booking = quotes.payable_booking(current_user, booking_id, now)
    result = quotes.quote_booking(current_user, booking, request.args.get("coupon"), now)
    return render("bookings/pay.html", partial="bookings/_quote.html", booking=booking, quote=result, now=now,
                  oob_total=is_htmx(), paypal=paypal_checkout.available())


@bp.get("/bookings/<id:booking_id>/payment-status")
@login_required
def payment_status(booking_id: int):
    """The payment status fragment the return page polls until the webhook has moved the booking."""
    now = now_utc()
    booking = bookings.get_booking(current_user, booking_id)
    return render("bookings/detail.html", partial="bookings/_status.html", booking=booking, now=now,
                  status_text=bookings.booking_status_words(booking, now),
                  lesson_payment=bookings.lesson_and_payment(booking, now),
                  hold_lapsed=bookings.is_hold_lapsed(booking, now), polling=request.args.get("paid") == "1")


@bp.route("/bookings/<id:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int):
    """Show exactly what comes back, then cancel on POST."""
    now = now_utc()
    if request.method == "POST":
        try:
            cancellations.cancel_booking(current_user, booking_id, request.form.get("note", ""), now)
        except ServiceError as exc:
            flash(exc.message, "error")
        else:
            flash("The lesson is cancelled.", "success")
            return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)
    plan = cancellations.preview(current_user, booking_id, now)
    return render("bookings/cancel.html", booking=bookings.get_booking(current_user, booking_id), plan=plan)
