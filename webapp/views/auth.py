"""Register, log in, log out."""
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user
from urllib.parse import urlsplit

from ..extensions import limiter
from ..forms import LoginForm, RegisterForm
from ..services import accounts
from ..services.errors import ValidationError
from .common import apply_service_errors, render

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login."""
    if not target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") else None


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account; the time zone is detected by the browser and can be changed."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = accounts.register_user(email=form.email.data, password=form.password.data, name=form.name.data,
                                          role=form.role.data, timezone=form.timezone.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            login_user(user)
            flash(f"Welcome to Lessonbook, {user.name}.", "success")
            if user.is_tutor:
                return redirect(url_for("tutor_dashboard.availability"))
            if user.is_parent:
                return redirect(url_for("account.children"))
            return redirect(url_for("tutors.directory"))
    return render("auth/register.html", form=form, status=422 if form.errors else 200)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """Log in with email and password (rate-limited per address)."""
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors = ["That email and password do not match an account."]
        else:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("main.home"))
    return render("auth/login.html", form=form, status=422 if form.errors else 200)


@bp.post("/logout")
def logout():
    """Log out (POST, so a link cannot log you out)."""
    if current_user.is_authenticated:
        logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("main.home"))
