"""Homework: the tutor reviews and publishes a lesson's drafted sets; the learner's side answers, marked at once."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..services import homework
from ..services.errors import Conflict, ValidationError
from .common import now_utc, render

bp = Blueprint("homework", __name__)


@bp.get("/lessons/<id:lesson_id>/homework")
@login_required
def page(lesson_id: int):
    """The lesson's homework: drafts, published sets and the agenda for the tutor; the learner's own sets to answer."""
    view = homework.homework_page(current_user, lesson_id)
    return render("homework/page.html", view=view, lesson=view.lesson, results={})


@bp.post("/homework/<id:set_id>/entries/<id:entry_id>/remove")
@login_required
def remove(set_id: int, entry_id: int):
    """Take a question out of a draft set."""
    found = homework.remove_entry(current_user, set_id, entry_id)
    flash("Question removed.", "success")
    return redirect(url_for("homework.page", lesson_id=found.lesson_id, _anchor=f"set-{set_id}"), code=303)


@bp.post("/homework/<id:set_id>/entries/<id:entry_id>/swap")
@login_required
def swap(set_id: int, entry_id: int):
    """Swap a question of a draft set for another on the same topic."""
    try:
        found = homework.swap_entry(current_user, set_id, entry_id, now_utc())
    except ValidationError as exc:
        flash(exc.message, "error")
        found = homework.homework_set(current_user, set_id)
    else:
        flash("Question swapped.", "success")
    return redirect(url_for("homework.page", lesson_id=found.lesson_id, _anchor=f"set-{set_id}"), code=303)


@bp.post("/homework/<id:set_id>/publish")
@login_required
def publish(set_id: int):
    """Publish a draft set to the learner's side (email and push)."""
    found = homework.publish(current_user, set_id, now_utc())
    flash(f"Homework published to {found.learner_name}.", "success")
    return redirect(url_for("homework.page", lesson_id=found.lesson_id), code=303)


@bp.post("/homework/entries/<id:entry_id>/answer")
@login_required
def answer(entry_id: int):
    """Answer one question: marked at once, the worked solution shown."""
    try:
        outcome = homework.answer(current_user, entry_id, request.form.get("response"), now_utc())
    except (ValidationError, Conflict) as exc:
        entry = homework.answerable_entry(current_user, entry_id)
        view = homework.homework_page(current_user, entry.set.lesson_id)
        return render("homework/page.html", partial="homework/_entry.html", view=view, lesson=view.lesson,
                      entry=entry, results={entry_id: exc.message}, status=422)
    entry = outcome.entry
    view = homework.homework_page(current_user, entry.set.lesson_id)
    return render("homework/page.html", partial="homework/_entry.html", view=view, lesson=view.lesson, entry=entry,
                  results={entry_id: outcome.feedback})
