"""A user's own settings, and a parent's children."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required, logout_user

from ..forms import ChangePasswordForm, ChildForm, SettingsForm
from ..models import Role
from ..services import accounts, calendar_feeds, sessions
from ..services.errors import ValidationError
from .common import apply_service_errors, now_utc, perform, render, role_required

bp = Blueprint("account", __name__)


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings():
    """Edit your name and time zone."""
    form = SettingsForm(obj=current_user)
    if form.validate_on_submit():
        try:
            accounts.update_settings(current_user, name=form.name.data, timezone=form.timezone.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            flash("Settings saved.", "success")
            return redirect(url_for("account.settings"))
    return _settings_page(form=form, status=422 if form.errors else 200)


def _settings_page(form=None, password_form=None, status: int = 200, partial: str | None = None,
                   new_feed_url: str | None = None):
    user = current_user._get_current_object()
    return render("account/settings.html", partial=partial, form=form or SettingsForm(obj=user),
                  password_form=password_form or ChangePasswordForm(formdata=None),
                  tokens=sessions.api_tokens(user), other_sessions=sessions.other_session_count(user), status=status,
                  feed=calendar_feeds.feed_of(user), new_feed_url=new_feed_url)


@bp.post("/settings/privacy")
@login_required
def privacy():
    """Opt out of analytics (never sent to Mixpanel) and of special-offer emails, or back in."""
    return perform(lambda: accounts.update_privacy(
        current_user._get_current_object(), analytics_opt_out=request.form.get("analytics_opt_out") == "1",
        offer_emails_opt_out=request.form.get("offer_emails_opt_out") == "1"),
        "Privacy settings saved.", url_for("account.settings"))


@bp.post("/settings/calendar-feed")
@login_required
def new_calendar_feed():
    """Make your calendar feed address, or a new one in place of the old (which stops working); shown this once."""
    url = calendar_feeds.new_feed_address(current_user._get_current_object(), now_utc())
    return _settings_page(partial="account/_calendar_feed.html", new_feed_url=url)


@bp.post("/settings/calendar-feed/off")
@login_required
def calendar_feed_off():
    """Turn your calendar feed off: its address stops working."""
    calendar_feeds.turn_off(current_user._get_current_object())
    return _settings_page(partial="account/_calendar_feed.html")


@bp.post("/settings/password")
@login_required
def change_password():
    """Change your password (current one required); other browsers and every app are logged out."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            sessions.change_password(current_user._get_current_object(), form.current_password.data,
                                     form.new_password.data, now_utc())
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            flash("Password changed. Every other browser and every app is logged out; this one stays logged in.",
                  "success")
            return redirect(url_for("account.settings"), code=303)
    return _settings_page(password_form=form, status=422)


@bp.post("/settings/log-out-everywhere")
@login_required
def log_out_everywhere():
    """End every session of this account: all browsers (this one too) and all app tokens."""
    sessions.end_all_sessions(current_user._get_current_object())
    logout_user()
    flash("You are logged out everywhere: every browser and every app.", "info")
    return redirect(url_for("auth.login"), code=303)


@bp.post("/settings/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of your app tokens."""
    return perform(lambda: sessions.revoke_api_token(current_user._get_current_object(), token_id),
                   "App token revoked: that app is logged out.", url_for("account.settings"))


@bp.route("/children", methods=["GET", "POST"])
@role_required(Role.PARENT)
def children():
    """A parent lists and adds the children they book for (the list is an HTMX partial)."""
    form = ChildForm()
    if not form.is_submitted():
        form.timezone.data = current_user.timezone
    if form.validate_on_submit():
        try:
            accounts.add_child(current_user, name=form.name.data, year_level=form.year_level.data,
                               timezone=form.timezone.data)
        except ValidationError as exc:
            apply_service_errors(form, exc.fields)
        else:
            form = ChildForm(formdata=None, timezone=current_user.timezone)
    status = 422 if form.errors else 200
    return render("account/children.html", partial="account/_children.html", form=form,
                  children=current_user.children, status=status)


@bp.post("/children/<id:child_id>/delete")
@role_required(Role.PARENT)
def remove_child(child_id: int):
    """Remove a child who has no lessons."""
    return perform(lambda: accounts.remove_child(current_user, child_id), "Child removed.",
                   url_for("account.children"))
