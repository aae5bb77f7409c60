"""Summary notes: the tutor writes them after a lesson; the lesson's participants read them and download files."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..domain.limits import parse_id
from ..adapters.uploads import ACCEPT, ALLOWED_WORDS
from ..services import notes
from ..services.errors import ValidationError
from ..services.homework import ErrorInput
from .common import now_utc, render, send_stored_file

bp = Blueprint("notes", __name__)


@bp.route("/lessons/<id:lesson_id>/notes", methods=["GET", "POST"])
@login_required
def page(lesson_id: int):
    """Read a lesson's summary note; its tutor writes or edits it here (multipart, with attachments), with the topics
    covered and the mistakes made ("Suggest topics" re-shows the form with topics suggested from the text)."""
    now = now_utc()
    error, fields = None, {}
    if request.method == "POST" and request.form.get("action") != "suggest":
        removing = _ids(request.form.getlist("remove"))
        try:
            _, created = notes.save_note(current_user, lesson_id, request.form.get("body"),
                                         request.files.getlist("attachments"), now, removing,
                                         covered=_ids(request.form.getlist("topics")), errors=_errors(request.form))
        except ValidationError as exc:
            error, fields = exc.message, exc.fields
        else:
            flash("Notes sent to the student." if created else "Notes updated.", "success")
            return redirect(url_for("notes.page", lesson_id=lesson_id), code=303)
    posted = request.method == "POST"
    view = notes.view_note(current_user, lesson_id, now, request.form.get("body") if posted else None)
    draft = request.form.get("body") if posted else (view.note.body if view.note else "")
    return render("notes/page.html", view=view, lesson=view.lesson, note=view.note, draft=draft, error=error,
                  fields=fields, accept=ACCEPT, allowed=ALLOWED_WORDS, status=422 if error else 200,
                  picked=set(_ids(request.form.getlist("topics"))) if posted else None,
                  posted_errors=_errors(request.form) if posted else None)


def _ids(values: list[str]) -> list[int]:
    return [n for n in map(parse_id, values) if n]


def _errors(form) -> list[ErrorInput]:
    """The mistake rows of the note form (topic, what went wrong, wrong answer), blank rows included."""
    topics, whats, wrongs = form.getlist("error_topic"), form.getlist("error_what"), form.getlist("error_wrong")
    return [ErrorInput(parse_id(t) or 0, w, a) for t, w, a in zip(topics, whats, wrongs, strict=False)]


@bp.get("/notes/attachments/<id:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """Download a note's file: the lesson's participants only, always as an attachment, never sniffed."""
    row, path = notes.get_attachment(current_user, attachment_id)
    return send_stored_file(row, path)
