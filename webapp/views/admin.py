"""Admin pages: commissions, coupons and special offers (with their usage and announcements), bookings and refunds."""
from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import Blueprint, Response, flash, redirect, request, url_for
from flask_login import current_user

from ..domain.limits import parse_id
from ..domain.coupons import normalize_code
from ..domain.money import Money, parse_major_amount
from ..domain.funding import Funding
from ..domain.offers import Audience
from ..domain.packages import minutes_words
from ..domain.roles import STAFF_ROLES
from ..models import Role
from ..services import bookings, cancellations, dashboard, minute_refunds, mixpanel_export, offer_announcements, offers
from ..services.errors import ServiceError
from . import params
from .common import now_utc, perform, render, role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@role_required(*STAFF_ROLES)
def index():
    """The admin overview: recent bookings with their money state."""
    return render("admin/index.html", bookings=bookings.recent_bookings(current_user))


@bp.route("/commissions", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def commissions():
    """List commissions; adding one makes it the only active one."""
    error, fields = None, {}
    if request.method == "POST":
        f, currency = request.form, request.form.get("currency", "GBP")
        data = {k: _parsed(fields, k, _percent_to_bp, f.get(k))
                for k in ("commission_fee_bp", "service_fee_bp", "payout_fee_bp")}
        for k in ("payout_amount_fee_minor", "account_management_amount_fee_minor"):
            data[k] = _parsed(fields, k, parse_major_amount, f.get(k) or "0", currency)
        try:
            if fields:
                error = "Please correct the rates below."
            else:
                offers.add_commission(current_user, data, now_utc())
                flash("New commission is now active; the previous one was disabled.", "success")
                return redirect(url_for("admin.commissions"), code=303)
        except ServiceError as exc:
            error, fields = exc.message, exc.fields
    return render("admin/commissions.html", commissions=offers.list_commissions(), error=error, fields=fields,
                  form=request.form, status=422 if error else 200)


def _parsed(fields: dict, name: str, parse, *args):
    """parse(*args), or None with the problem noted under `name` (so a form reports every bad field at once)."""
    try:
        return parse(*args)
    except ValueError as exc:
        fields[name] = str(exc)
        return None


def _whole_number(text: str) -> int:
    """A count typed in a form (at least 1: a limit of none is an empty field)."""
    text = text.strip()
    if text.startswith("-") and text[1:].isdigit() or text == "0":
        raise ValueError(f"At least 1, not {text!r}; leave it empty for no limit.")
    if not (text.isascii() and text.isdigit()) or int(text) > 2**31 - 1:
        raise ValueError(f"Use a whole number such as 100, not {text!r}.")
    return int(text)


def _typed_minutes(text: str) -> int:
    """Minutes typed in the refund form (the service says which counts it accepts)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise ValueError(f"Minutes are a whole number such as 30, not {text!r}.")
    return int(text)


def _percent_to_bp(text: str | None) -> int:
    """'12.5' (percent) → 1250 basis points, exactly; more than 0 and at most 100."""
    text = (text or "").strip().rstrip("%")
    if not text:
        raise ValueError("Enter the percentage off, such as 10.")
    whole, _, frac = text.partition(".")
    if not text.isascii() or not (whole.isdigit() or whole == "") or not (frac.isdigit() or frac == "") \
            or len(frac) > 2:
        raise ValueError(f"Percentages look like 12.5, not {text!r}.")
    bp = int(whole or "0") * 100 + int(frac.ljust(2, "0") or "0")
    if not 0 < bp <= 10_000:
        raise ValueError(f"A percentage is more than 0 and at most 100, not {text!r}.")
    return bp


def _positive_amount(text: str, currency: str) -> int:
    """A typed amount of money, more than nothing."""
    amount = parse_major_amount(text, currency)
    if amount <= 0:
        raise ValueError("Enter an amount more than 0, like 5.00.")
    return amount


@bp.route("/coupons", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def coupons():
    """List special-offer coupons and create new ones."""
    error, fields = None, {}
    if request.method == "POST":
        f = request.form
        currency = (f.get("currency") or "").upper() or None
        is_amount = f.get("discount_type") == "DISCOUNT_TYPE_AMOUNT"
        # Every field is read first, so one submission reports every problem beside its own field.
        _parsed(fields, "code", normalize_code, f.get("code", ""))
        values = {
            "amount_minor": _parsed(fields, "amount", _positive_amount, f.get("amount") or "", currency or "GBP")
            if is_amount else None,
            "percent_bp": None if is_amount else _parsed(fields, "percent", _percent_to_bp, f.get("percent")),
            "max_discount_amount_minor": _parsed(fields, "max_discount", _positive_amount, f.get("max_discount"),
                                                 currency or "GBP") if (not is_amount and f.get("max_discount")) else None,
            "valid_from": _parsed(fields, "valid_from", _date_or_none, f.get("valid_from")),
            "valid_until": _parsed(fields, "valid_until", _date_or_none, f.get("valid_until")),
            "max_total_uses": _parsed(fields, "max_total_uses", _whole_number, f["max_total_uses"])
            if f.get("max_total_uses") else None}
        if values["valid_from"] and values["valid_until"] and values["valid_until"] <= values["valid_from"]:
            fields["valid_until"] = "The offer must end after the day it starts."
        try:
            if fields:
                error = "Please correct the offer below."
            else:
                offers.create_coupon(current_user, code=f.get("code", ""), usage=f.get("usage", ""),
                                     discount_type=f.get("discount_type", ""), currency=currency, now=now_utc(),
                                     name=f.get("name", ""), audience=f.get("audience", ""),
                                     tutor_email=f.get("tutor_email", ""),
                                     recipient_emails=f.get("recipient_emails", ""),
                                     auto_apply=f.get("auto_apply") == "1", **values)
                flash("Special offer created." if f.get("audience") else "Coupon created.", "success")
                return redirect(url_for("admin.coupons"), code=303)
        except ServiceError as exc:
            error, fields = exc.message, exc.fields
    found = offers.list_coupons(_page_arg() or 1)
    return render("admin/coupons.html", found=found, coupons=found.coupons,
                  usage=offers.offer_usage([c.id for c in found.coupons]),
                  audiences=list(Audience), error=error, fields=fields, form=request.form,
                  status=422 if error else 200)


def _page_arg() -> int | None:
    """The offers page asked for (?page=), or None for the first (nonsense is the first page too)."""
    try:
        page = params.optional_int(request.args, "page")
    except ServiceError:
        return None
    return page if page and page > 1 else None


def _date_or_none(text: str | None) -> datetime | None:
    """A date typed in a date field, as the start of that day in UTC (a day people can mean: params' range)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"Dates look like 2027-03-28, not {text!r}.") from None
    if not params.EARLIEST <= day <= params.LATEST:
        raise ValueError(f"Choose a date between {params.EARLIEST} and {params.LATEST}.")
    return datetime.combine(day, time(), UTC)


@bp.post("/coupons/<id:coupon_id>/active")
@role_required(Role.ADMIN)
def toggle_coupon(coupon_id: int):
    """Switch a coupon on or off."""
    active = request.form.get("active") == "1"
    return perform(lambda: offers.set_coupon_active(current_user, coupon_id, active, now_utc()),
                   "Coupon activated." if active else "Coupon deactivated.", url_for("admin.coupons", page=_page_arg()))


@bp.post("/coupons/<id:coupon_id>/announce")
@role_required(Role.ADMIN)
def announce_offer(coupon_id: int):
    """Email the offer's audience (one email per user, in the background)."""
    return perform(lambda: offer_announcements.request_announcement(current_user, coupon_id, now_utc()),
                   "The announcement is being sent to the offer's audience.",
                   url_for("admin.coupons", page=_page_arg()))


@bp.post("/bookings/<id:booking_id>/refund")
@role_required(*STAFF_ROLES)
def refund(booking_id: int):
    """Refund any amount up to what remains on a booking, in money or, for a lesson paid with minutes, in minutes
    (support agents up to their cap)."""
    try:
        booking = bookings.get_booking(current_user, booking_id)
        if booking.funding == Funding.MINUTES:
            done = minute_refunds.staff_refund_minutes(current_user, booking_id,
                                                       _typed_minutes(request.form.get("minutes") or ""),
                                                       request.form.get("reason", ""), now_utc(),
                                                       request_key=request.form.get("request_key"))
            flash(f"{minutes_words(done.minutes)} returned to the student's balance. The lesson still stands; "
                  "cancel it separately if it should not happen.", "success")
        else:
            amount = parse_major_amount(request.form.get("amount") or "", booking.currency)
            cancellations.admin_refund(current_user, booking_id, amount, request.form.get("reason", ""),
                                       now_utc(), request_key=request.form.get("request_key"))
            flash(f"Refund of {Money(amount, booking.currency).format()} sent. The lesson still stands; "
                  "cancel it separately if it should not happen.", "success")
    except ValueError as exc:
        flash(str(exc), "error")
    except ServiceError as exc:
        flash(exc.message, "error")
    ticket_id = request.form.get("ticket_id", "")
    if parse_id(ticket_id):  # refunded from a support ticket: back to it
        return redirect(url_for("admin_tickets.ticket", ticket_id=parse_id(ticket_id)), code=303)
    if request.form.get("back") == "timeline":  # refunded from the staff's timeline: back to it, not the user's page
        return redirect(url_for("admin_users.booking_timeline_page", booking_id=booking_id), code=303)
    return redirect(url_for("bookings.detail", booking_id=booking_id), code=303)


@bp.get("/analytics")
@role_required(Role.ADMIN)
def analytics():
    """The analytics dashboard: charts drawn on the server for a date range and, optionally, one tutor."""
    error, board = None, None
    try:
        start, end = dashboard.parse_range(request.args.get("start"), request.args.get("end"), now_utc().date())
        board = dashboard.dashboard(current_user, start, end, _tutor_filter())
    except ServiceError as exc:
        error = exc.message
    refused_count, refused = mixpanel_export.refused_events()
    return render("admin/analytics.html", board=board, error=error, args=request.args, tutors=dashboard.tutors(),
                  refused_count=refused_count, refused=refused,
                  max_refusals=mixpanel_export.MAX_REFUSALS, status=422 if error else 200)


@bp.get("/analytics.csv")
@role_required(Role.ADMIN)
def analytics_csv():
    """The dashboard's day table as CSV (amounts in minor units)."""
    try:
        start, end = dashboard.parse_range(request.args.get("start"), request.args.get("end"), now_utc().date())
        board = dashboard.dashboard(current_user, start, end, _tutor_filter())
    except ServiceError as exc:
        return Response(exc.message + "\n", status=422, mimetype="text/plain")
    return Response(dashboard.as_csv(board), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=lessonbook-{start.isoformat()}-{end.isoformat()}.csv"})


def _tutor_filter() -> int | None:
    """The tutor chosen in the filter, if any (anything else is everyone)."""
    text = request.args.get("tutor", "")
    return parse_id(text)
