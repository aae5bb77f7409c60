"""Register, log in, log out, and a forgotten password (log-in and sign-up keep where the user was going, e.g. the
booking form for a chosen slot)."""
from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from ..auth_loading import log_in, log_out
from ..extensions import limiter
from ..filters import time_of_day
from ..forms import ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from ..services import accounts, catalogue, sessions, signed_links
from ..services.errors import AccountSuspended, Conflict, NotFound, ServiceError, ValidationError
from . import params
from .common import apply_service_errors, now_utc, render

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


REGISTRATION_SENT = ("Check your email: a link to finish signing up is on its way (or, if the address already has "
                     "an account, an email saying so).")


def register_limit() -> str:
    """Sign-ups allowed per client and per email address (REGISTER_RATE_LIMIT)."""
    return current_app.config["REGISTER_RATE_LIMIT"]


def _email_in_body() -> str:
    """The email address a form or JSON body names (for limits per address as well as per client)."""
    data = request.get_json(silent=True) if request.is_json else request.form
    email = data.get("email") if hasattr(data, "get") else None
    return (email if isinstance(email, str) else "").strip().lower()[:254]


def register_email_key() -> str:
    """Rate-limit key for sign-ups per email address (a flood of emails at one inbox from many addresses)."""
    return "register-email:" + _email_in_body()


def _reset_email_key() -> str:
    """Rate-limit key for reset requests per email address (a flood at one inbox from many addresses)."""
    return "reset-email:" + (request.form.get("email") or "").strip().lower()[:254]


def _safe_next(target: str | None) -> str | None:
    """Only a local path is followed after log-in or sign-up: no scheme, no host, no `//` or `/\\` (browsers read
    both as another host), no control characters."""
    if not target or not isinstance(target, str) or len(target) > 2000:
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _booking_intent(target: str | None) -> str | None:
    """Why the log-in page appeared, when `next` is the booking form for a slot: "… to book 13:30 on Tue 8 Dec with Ana"."""
    if not target:
        return None
    parts = urlsplit(target)
    try:
        endpoint, values = current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:
        return None
    if endpoint != "bookings.new":
        return None
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    try:
        start = params.parse_instant(query.get("start"))
        zone, _ = params.zone_from(query, "UTC")
        tutor = catalogue.get_tutor(values["tutor_id"])
    except ServiceError:
        return None
    local = start.astimezone(zone)
    when = f"{time_of_day(local, query.get('clock', '24'))} on {local.strftime('%a')} {local.day} {local.strftime('%b')}"
    return f"to book {when} with {tutor.name}"


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(register_limit, methods=["POST"])
@limiter.limit(register_limit, methods=["POST"], key_func=register_email_key)
def register():
    """Sign up: a link to finish arrives by email; the page answers the same whether or not the email has an account."""
    form = RegisterForm()
    target = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            email = accounts.request_registration(email=form.email.data, password=form.password.data,
                                                  name=form.name.data, role=form.role.data,
                                                  timezone=form.timezone.data, now=now_utc(), then=target)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            return render("auth/register_sent.html", email=email)
    return render("auth/register.html", form=form, next=target, intent=_booking_intent(target),
                  status=422 if form.errors else 200)


@bp.route("/register/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token: str):
    """The emailed sign-up link: GET shows what will be created; POST creates the account (once) and logs in."""
    try:
        pending = accounts.pending_registration(token, now_utc())
        if request.method == "GET":  # mail scanners follow links: only the button (a POST, with CSRF) acts
            return render("auth/register_confirm.html", pending=pending)
        user = accounts.confirm_registration(token, now_utc())
    except (NotFound, Conflict) as exc:
        return render("auth/register_refused.html", message=exc.message, status=exc.status)
    log_in(user)
    flash(f"Welcome to Lessonbook, {user.name}.", "success")
    target = _safe_next(request.args.get("next"))
    if user.is_tutor:  # the dashboard says nobody can find them until approved, and what to set up meanwhile
        return redirect(url_for("tutor_dashboard.lessons"))
    if target:  # back to where they were going, e.g. the booking form for the slot they picked
        return redirect(target, code=303)
    if user.is_parent:
        return redirect(url_for("account.children"))
    return redirect(url_for("tutors.directory"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Log in with email and password (rate-limited per address)."""
    form = LoginForm()
    target = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(form.email.data, form.password.data)
        except AccountSuspended as exc:
            form.form_errors = [exc.message]
            return render("auth/login.html", form=form, next=target, intent=None, status=403)
        if user is None:
            form.password.errors = ["That email and password do not match an account."]
        else:
            log_in(user)
            return redirect(target or url_for("main.home"))
    return render("auth/login.html", form=form, next=target, intent=_booking_intent(target),
                  status=422 if form.errors else 200)


@bp.post("/logout")
def logout():
    """Log out (POST, so a link cannot log you out); the session ends on the server, not only in this browser."""
    log_out()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
@limiter.limit(_reset_limit, methods=["POST"], key_func=_reset_email_key)
def forgot_password():
    """Ask for a password reset link by email; the answer is the same whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        sessions.request_password_reset(form.email.data, now_utc())
        return render("auth/forgot_sent.html", email=form.email.data)
    return render("auth/forgot.html", form=form, status=422 if form.errors else 200)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    """The emailed reset link: GET shows the new-password form; POST sets it (once) and logs out everywhere."""
    now = now_utc()
    try:
        user, _ = sessions.read_reset_link(token, now)
    except signed_links.LinkError as exc:
        return render("auth/reset_refused.html", message=exc.message, status=400)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            sessions.reset_password(token, form.new_password.data, now)
        except signed_links.LinkError as exc:
            return render("auth/reset_refused.html", message=exc.message, status=409)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            if current_user.is_authenticated and current_user.id == user.id:
                log_out()  # this browser's session ended with all the others; forget it here too
            flash("Your password is changed and you are logged out everywhere. Log in with the new password.",
                  "success")
            return redirect(url_for("auth.login"))
    return render("auth/reset.html", form=form, email=user.email, status=422 if form.errors else 200)
