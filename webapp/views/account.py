"""A user's own settings, and a parent's children."""
from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user, login_required

from ..forms import ChildForm, SettingsForm
from ..models import Role
from ..services import accounts
from ..services.errors import ValidationError
from .common import apply_service_errors, perform, render, role_required

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
    return render("account/settings.html", form=form, status=422 if form.errors else 200)


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
