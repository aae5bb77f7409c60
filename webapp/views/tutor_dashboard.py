"""The tutor's side: upcoming lessons, availability editor (HTMX), subjects and prices, profile."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from ..domain.labels import approval_outcome
from ..domain.money import parse_major_amount
from ..forms import OverrideForm, PackageForm, ProfileForm, RulesForm, TeachForm, WeeklyWindowForm
from ..models import Role
from ..services import (admin_tutors, approvals, availability, bookings, calendar_sync, catalogue, homework, packages,
                        payouts, reschedules)
from ..services.errors import ServiceError, ValidationError
from .common import apply_service_errors, now_utc, perform, render, role_required

bp = Blueprint("tutor_dashboard", __name__, url_prefix="/tutor")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@bp.get("/")
@role_required(Role.TUTOR)
def lessons():
    """Your upcoming lessons in your time zone, each with its learners' topics still weak from homework, and where
    your application stands until an admin approves it."""
    now = now_utc()
    lessons = bookings.tutor_upcoming_lessons(current_user, now)
    return render("tutor/lessons.html", lessons=lessons, weak=homework.weak_topics_by_lesson(lessons),
                  approval=admin_tutors.approval_of(current_user),
                  account=payouts.payout_account(current_user),
                  calendar_warnings=calendar_sync.hiding_sources(current_user, now), now=now,
                  can_reschedule=reschedules.can_propose)


def _today():
    return datetime.now(ZoneInfo(current_user.timezone)).date()


def _editor(status: int = 200, partial: str | None = None, **forms):
    """The availability editor page, or one of its sections for HTMX."""
    settings = availability.get_settings(current_user)
    rules = forms.pop("rules_form", None) or RulesForm(formdata=None, data={
        "timezone": settings.timezone, "min_notice_hours": settings.min_notice_hours,
        "horizon_days": settings.horizon_days, "travel_buffer_minutes": settings.travel_buffer_minutes,
        "base_line1": settings.base_line1, "base_postcode": settings.base_postcode, "base_city": settings.base_city})
    return render("tutor/availability.html", partial=partial, status=status,
                  window_form=forms.pop("window_form", None) or WeeklyWindowForm(formdata=None),
                  override_form=forms.pop("override_form", None) or OverrideForm(formdata=None),
                  rules_form=rules, windows=availability.weekly_rows(current_user),
                  overrides=availability.override_rows(current_user, _today()), weekdays=WEEKDAYS,
                  settings=settings, today=_today(),
                  calendar_warnings=calendar_sync.hiding_sources(current_user, now_utc()))


@bp.get("/availability", endpoint="availability")
@role_required(Role.TUTOR)
def availability_page():
    """The availability editor: weekly hours, date overrides, booking rules."""
    return _editor()


@bp.post("/availability/windows")
@role_required(Role.TUTOR)
def add_window():
    """Add a weekly window (returns the weekly section for HTMX)."""
    form = WeeklyWindowForm()
    if form.validate_on_submit():
        try:
            availability.add_weekly_window(current_user, form.weekday.data, form.start.data, form.end.data)
            form = None
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message, aliases={"window": "start"})
    status = 422 if form is not None else 200
    return _editor(status, partial="tutor/_weekly.html", window_form=form)


@bp.post("/availability/windows/<id:window_id>/delete")
@role_required(Role.TUTOR)
def delete_window(window_id: int):
    """Remove a weekly window."""
    try:
        availability.remove_weekly_window(current_user, window_id)
    except ServiceError:
        pass  # already gone (double click): the refreshed list says so by its absence
    return _editor(partial="tutor/_weekly.html")


@bp.post("/availability/overrides")
@role_required(Role.TUTOR)
def add_override():
    """Add a day off or other hours on a date (returns the overrides section for HTMX)."""
    form = OverrideForm()
    if form.validate_on_submit():
        try:
            availability.add_override(current_user, form.on_date.data, form.day_off.data, form.start.data,
                                      form.end.data, _today())
            form = None
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message, aliases={"override": "on_date"})
    status = 422 if form is not None else 200
    return _editor(status, partial="tutor/_overrides.html", override_form=form)


@bp.post("/availability/overrides/<id:override_id>/delete")
@role_required(Role.TUTOR)
def delete_override(override_id: int):
    """Remove a date override."""
    try:
        availability.remove_override(current_user, override_id)
    except ServiceError:
        pass
    return _editor(partial="tutor/_overrides.html")


@bp.post("/availability/rules")
@role_required(Role.TUTOR)
def update_rules():
    """Save notice, horizon, travel buffer, time zone and the base address (the geocoder places it, if configured)."""
    form = RulesForm()
    if form.validate_on_submit():
        try:
            availability.update_rules(current_user, {
                "timezone": form.timezone.data, "min_notice_hours": form.min_notice_hours.data,
                "horizon_days": form.horizon_days.data, "travel_buffer_minutes": form.travel_buffer_minutes.data,
                "base_line1": form.base_line1.data, "base_postcode": form.base_postcode.data,
                "base_city": form.base_city.data})
            form = None
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
    saved = form is None
    response = _editor(200 if saved else 422, partial="tutor/_rules.html", rules_form=form)
    return response


@bp.route("/teaches", methods=["GET", "POST"])
@role_required(Role.TUTOR)
def teaches():
    """Your subjects, levels and hourly rates; add one or remove one."""
    form = _teach_form()
    if form.validate_on_submit():
        try:
            rate = parse_major_amount(form.hourly_rate.data, form.currency.data)
            catalogue.add_teach(current_user, {
                "subject_id": form.subject_id.data, "level_id": form.level_id.data,
                "exam_board_id": form.exam_board_id.data or None, "hourly_rate_minor": rate,
                "currency": form.currency.data, "online": form.online.data, "in_person": form.in_person.data,
                "max_travel_km": form.max_travel_km.data})
        except ValueError as exc:
            form.hourly_rate.errors = [str(exc)]
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message, aliases={"hourly_rate_minor": "hourly_rate"})
        else:
            flash("Subject added.", "success")
            return redirect(url_for("tutor_dashboard.teaches"), code=303)
    return render("tutor/teaches.html", form=form, teaches=catalogue.tutor_teaches(current_user.id),
                  status=422 if form.errors else 200)


@bp.post("/teaches/<id:teach_id>/delete")
@role_required(Role.TUTOR)
def delete_teach(teach_id: int):
    """Stop offering one subject/level (lessons already booked keep it)."""
    return perform(lambda: catalogue.remove_teach(current_user, teach_id), "Subject removed.",
                   url_for("tutor_dashboard.teaches"))


def _teach_form() -> TeachForm:
    form = TeachForm()
    options = catalogue.catalogue()
    form.subject_id.choices = [(s.id, s.name) for s in options["subjects"]]
    form.level_id.choices = [(lv.id, lv.name) for lv in options["levels"]]
    form.exam_board_id.choices = [(0, "Any / none")] + [(b.id, b.name) for b in options["exam_boards"]]
    return form


@bp.route("/packages", methods=["GET", "POST"])
@role_required(Role.TUTOR)
def packages_page():
    """Your packages of prepaid hours, priced from your highest rate less each one's discount; add one."""
    form = PackageForm()
    if form.validate_on_submit():
        try:
            packages.add_package(current_user, form.hours.data, form.discount_percent.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, exc.message)
        else:
            flash("Package added.", "success")
            return redirect(url_for("tutor_dashboard.packages_page"), code=303)
    return render("tutor/packages.html", form=form, offers=packages.offers(current_user.id),
                  rate=packages.tutor_rate(current_user.id), status=422 if form.errors else 200)


@bp.post("/packages/<id:package_id>/delete")
@role_required(Role.TUTOR)
def delete_package(package_id: int):
    """Stop offering a package (minutes already bought stay with their students)."""
    return perform(lambda: packages.remove_package(current_user, package_id), "Package removed.",
                   url_for("tutor_dashboard.packages_page"))


@bp.route("/profile", methods=["GET", "POST"])
@role_required(Role.TUTOR)
def profile():
    """Edit your headline and bio."""
    form = ProfileForm(obj=current_user.tutor_profile)
    if form.validate_on_submit():
        try:
            catalogue.update_profile(current_user, headline=form.headline.data, bio=form.bio.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            flash("Profile saved.", "success")
            return redirect(url_for("tutor_dashboard.profile"), code=303)
    return render("tutor/profile.html", form=form, status=422 if form.errors else 200)


@bp.post("/bookings/<id:booking_id>/approve")
@role_required(Role.TUTOR)
def approve(booking_id: int):
    """Approve a paid booking: the payment is taken (or the held minutes spent)."""
    return perform(lambda: approvals.approve(current_user, booking_id, now_utc()),
                   lambda booking: approval_outcome(booking.funding, booking.lesson.duration_minutes, True),
                   url_for("tutor_dashboard.lessons"))


@bp.post("/bookings/<id:booking_id>/decline")
@role_required(Role.TUTOR)
def decline(booking_id: int):
    """Decline a booking: the authorization (or the held minutes) is released and the slot is free again."""
    return perform(lambda: approvals.decline(current_user, booking_id, now_utc()),
                   lambda booking: approval_outcome(booking.funding, booking.lesson.duration_minutes, False),
                   url_for("tutor_dashboard.lessons"))


@bp.get("/payouts")
@role_required(Role.TUTOR)
def payouts_page():
    """Whether payouts can reach you, and the button to connect a Stripe account."""
    return render("tutor/payouts.html", account=payouts.payout_account(current_user))


@bp.post("/payouts/onboard")
@role_required(Role.TUTOR)
def onboard():
    """Start (or resume) Stripe Connect onboarding."""
    try:
        url = payouts.start_onboarding(current_user,
                                       return_url=url_for("tutor_dashboard.onboarding_return", _external=True),
                                       refresh_url=url_for("tutor_dashboard.payouts_page", _external=True))
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(url_for("tutor_dashboard.payouts_page"), code=303)
    return redirect(url, code=303)


@bp.get("/payouts/return")
@role_required(Role.TUTOR)
def onboarding_return():
    """Back from Stripe onboarding: read the account's state."""
    account = payouts.refresh_onboarding(current_user)
    # The flash says what just happened; the page itself says what payouts do now (once, with the settings' days).
    if account and account.payouts_enabled:
        flash("Your Stripe account is connected.", "success")
    else:
        flash("You came back before Stripe's onboarding was finished.", "info")
    return redirect(url_for("tutor_dashboard.payouts_page"), code=303)
