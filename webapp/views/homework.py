"""Homework: the tutor reviews and publishes a lesson's drafted sets; the learner's side answers, marked at once."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from ..services import curriculum, homework
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
    return render("homework/page.html", partial="homework/_answered.html", view=view, lesson=view.lesson, entry=entry,
                  results={entry_id: outcome.feedback})


@bp.get("/question-bank")
@login_required
def bank():
    """The question bank's shelves (subject and level) with GIFT export and import, for tutors and admins."""
    return render("homework/bank.html", shelves=curriculum.bank_shelves(current_user), error=None)


@bp.get("/question-bank/<id:subject_id>/<id:level_id>.gift")
@login_required
def export_gift(subject_id: int, level_id: int):
    """Download a shelf of the bank as GIFT text."""
    text = curriculum.export_gift(current_user, subject_id, level_id)
    response = make_response(text)
    response.headers["Content-Type"] = "text/plain; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=questions-{subject_id}-{level_id}.gift"
    return response


@bp.post("/question-bank/import")
@login_required
def import_gift():
    """Add the questions of a GIFT text (pasted or uploaded) to one shelf of the bank: all or none."""
    upload = request.files.get("file")
    text = upload.read(1_000_001).decode("utf-8", "replace") if upload and upload.filename else \
        request.form.get("gift", "")
    shelf = request.form.get("shelf", "")
    subject_id, _, level_id = shelf.partition("-")
    try:
        if not (subject_id.isdigit() and level_id.isdigit()):
            raise ValidationError("Pick the subject and level to import into.")
        added = curriculum.import_gift(current_user, int(subject_id), int(level_id), text)
    except ValidationError as exc:
        return render("homework/bank.html", shelves=curriculum.bank_shelves(current_user), error=exc.message,
                      status=422)
    flash(f"{added} questions imported.", "success")
    return redirect(url_for("homework.bank"), code=303)


@bp.get("/lessons/<id:lesson_id>/agenda")
@login_required
def agenda(lesson_id: int):
    """The tutor's agenda for a lesson (topics still weak from homework), loaded into the lesson room."""
    return render("homework/_agenda.html", agenda=homework.tutor_agenda(current_user, lesson_id), lesson_id=lesson_id)
