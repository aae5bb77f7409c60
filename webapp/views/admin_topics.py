"""Admin pages for the topic trees: pick a subject and level, then add, rename, move, reorder, retire and restore
topics (each form works as a plain POST and, through htmx, swaps the tree in place)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..domain.limits import parse_id
from ..models import Role
from ..services import topic_admin
from ..services.errors import ValidationError
from .common import is_htmx, now_utc, render, role_required

bp = Blueprint("admin_topics", __name__, url_prefix="/admin/topics")


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    """Every subject and level, each linking to its topic tree."""
    return render("admin/topic_shelves.html", shelves=topic_admin.shelves(current_user))


@bp.get("/<id:subject_id>/<id:level_id>")
@role_required(Role.ADMIN)
def tree(subject_id: int, level_id: int):
    """One subject and level's topic tree with its editing forms."""
    return render("admin/topics.html", tree=topic_admin.topic_tree(current_user, subject_id, level_id),
                  message=None, error=None, form={}, failed="")


def _form_id(name: str) -> int | None:
    value = request.form.get(name, "")
    return parse_id(value)


def _answer(subject_id: int, level_id: int, action, success):
    """Run one service call; answer htmx with the tree and a sentence, a plain form with a flash and a redirect."""
    error, message, status = None, None, 200
    try:
        message = success(action())
    except ValidationError as exc:
        error, status = exc.message, 422
    if is_htmx():
        return render("admin/topics.html", partial="admin/_topic_tree.html", status=status,
                      tree=topic_admin.topic_tree(current_user, subject_id, level_id), message=message, error=error,
                      form=request.form if error else {}, failed=request.endpoint.rsplit(".", 1)[-1] if error else "")
    flash(error or message, "error" if error else "success")
    return redirect(url_for("admin_topics.tree", subject_id=subject_id, level_id=level_id), code=303)


@bp.post("/<id:subject_id>/<id:level_id>/add")
@role_required(Role.ADMIN)
def add(subject_id: int, level_id: int):
    """Add a topic (or a strand, with no parent)."""
    f = request.form
    return _answer(subject_id, level_id, lambda: topic_admin.add_topic(
        current_user, subject_id, level_id, f.get("name", ""), _form_id("parent_id"), f.get("keywords", ""), now_utc()),
        lambda t: f"Added “{t.name}”.")


@bp.post("/<id:topic_id>/rename")
@role_required(Role.ADMIN)
def rename(topic_id: int):
    """Rename a topic (its slug stays)."""
    where = topic_admin.locate(current_user, topic_id)
    return _answer(*where, lambda: topic_admin.rename_topic(current_user, topic_id, request.form.get("name", ""),
                                                             request.form.get("keywords"), now_utc()),
                   lambda t: f"Renamed to “{t.name}”.")


@bp.post("/<id:subject_id>/<id:level_id>/move")
@role_required(Role.ADMIN)
def move(subject_id: int, level_id: int):
    """Move a topic of this tree under another parent (or to the top level)."""
    topic_id = _form_id("topic_id")

    def action():
        if topic_id is None or topic_admin.locate(current_user, topic_id) != (subject_id, level_id):
            raise ValidationError("Pick the topic to move.")
        return topic_admin.move_topic(current_user, topic_id, _form_id("parent_id"), now_utc())
    return _answer(subject_id, level_id, action, lambda t: f"Moved “{t.name}”.")


@bp.post("/<id:topic_id>/reorder")
@role_required(Role.ADMIN)
def reorder(topic_id: int):
    """Move a topic one place up or down among its siblings."""
    where = topic_admin.locate(current_user, topic_id)
    direction = request.form.get("direction", "")
    return _answer(*where, lambda: topic_admin.reorder_topic(current_user, topic_id, direction, now_utc()),
                   lambda t: f"Moved “{t.name}” {direction}.")


@bp.post("/<id:topic_id>/retire")
@role_required(Role.ADMIN)
def retire(topic_id: int):
    """Retire a topic in use, or delete an unused one."""
    where = topic_admin.locate(current_user, topic_id)
    return _answer(*where, lambda: topic_admin.retire_topic(current_user, topic_id, now_utc()),
                   lambda outcome: "Topic retired: questions and notes keep its name." if outcome == "retired"
                   else "Unused topic deleted.")


@bp.post("/<id:topic_id>/restore")
@role_required(Role.ADMIN)
def restore(topic_id: int):
    """Bring a retired topic back."""
    where = topic_admin.locate(current_user, topic_id)
    return _answer(*where, lambda: topic_admin.restore_topic(current_user, topic_id, now_utc()),
                   lambda t: f"Restored “{t.name}”.")
