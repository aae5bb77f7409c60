"""Homework: the tutor reviews and publishes a lesson's drafted sets; the learner's side answers, marked at once."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, request, url_for
from flask_login import current_user, login_required

from ..domain.limits import parse_id
from ..domain.question_form import KINDS, MAX_CHOICES, QuestionDraft
from ..services import curriculum, homework, question_bank
from ..services.errors import Conflict, ValidationError
from .common import is_htmx, now_utc, render

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
    found = homework.remove_entry(current_user, set_id, entry_id, now_utc())
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


@bp.post("/homework/<id:set_id>/entries")
@login_required
def add_entry(set_id: int):
    """Add one of the tutor's own questions to a draft set."""
    value = request.form.get("item_id", "")
    item_id = parse_id(value)
    try:
        found = homework.add_entry(current_user, set_id, item_id, now_utc())
    except ValidationError as exc:
        flash(exc.message, "error")
        found = homework.homework_set(current_user, set_id)
    else:
        flash("Question added to the set.", "success")
    return redirect(url_for("homework.page", lesson_id=found.lesson_id, _anchor=f"set-{set_id}"), code=303)


@bp.post("/homework/<id:set_id>/rebuild")
@login_required
def rebuild(set_id: int):
    """Draft a set you changed anew from the lesson's note as it is now (your changes to it are dropped)."""
    found = homework.rebuild_draft(current_user, set_id, now_utc())
    flash(f"{found.learner_name}'s set was drafted again from the note.", "success")
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
    typed = (request.form.get("response") or "")[:200]
    try:
        outcome = homework.answer(current_user, entry_id, typed, now_utc())
    except (ValidationError, Conflict) as exc:
        entry = homework.answerable_entry(current_user, entry_id)
        if not is_htmx():
            # The whole page comes back: the message is also said at its top, where the reader is.
            flash(f"Question {entry.position}: {exc.message}", "error")
        view = homework.homework_page(current_user, entry.set.lesson_id)
        return render("homework/page.html", partial="homework/_entry.html", view=view, lesson=view.lesson,
                      entry=entry, results={entry_id: exc.message}, typed={entry_id: typed},
                      status=422)  # htmx swaps a 422 in place (the question now shows as answered)
    entry = outcome.entry
    if not is_htmx():
        # Post/redirect/get: a reload does not send the answer again, and the page opens at the marked question.
        if outcome.feedback:
            flash(f"Question {entry.position}: {outcome.feedback}", "info")
        return redirect(url_for("homework.page", lesson_id=entry.set.lesson_id, _anchor=f"entry-{entry.id}"),
                        code=303)
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


def _gift_text(data: bytes) -> str:
    """An uploaded GIFT file as text: UTF-8 (a byte-order mark from Windows editors dropped); anything else, such as
    an image or a Word file, is refused in words rather than read as garbled questions."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise ValidationError("That file is not GIFT text: GIFT is a plain-text file (.gift or .txt) saved as UTF-8.")
    return text


@bp.post("/question-bank/import")
@login_required
def import_gift():
    """Add the questions of a GIFT text (pasted or uploaded) to one shelf of the bank: all or none."""
    upload = request.files.get("file")
    shelf = request.form.get("shelf", "")
    subject_id, _, level_id = shelf.partition("-")
    try:
        text = _gift_text(upload.read(1_000_001)) if upload and upload.filename else request.form.get("gift", "")
        if not (parse_id(subject_id) and parse_id(level_id)):
            raise ValidationError("Pick the subject and level to import into.")
        done = curriculum.import_gift(current_user, parse_id(subject_id), parse_id(level_id), text, now_utc())
    except ValidationError as exc:
        return render("homework/bank.html", shelves=curriculum.bank_shelves(current_user), error=exc.message,
                      status=422)
    if done.added:
        said = f"{done.added} question{'' if done.added == 1 else 's'} imported."
        if done.skipped:
            said += f" {done.skipped} {'was' if done.skipped == 1 else 'were'} already in the bank and skipped."
    else:
        said = "Nothing new to import: these questions are already in the bank."
    flash(said, "success")
    return redirect(url_for("homework.bank"), code=303)


@bp.get("/lessons/<id:lesson_id>/agenda")
@login_required
def agenda(lesson_id: int):
    """The tutor's agenda for a lesson (topics still weak from homework), loaded into the lesson room."""
    return render("homework/_agenda.html", agenda=homework.tutor_agenda(current_user, lesson_id), lesson_id=lesson_id)


# --- authoring one question ---------------------------------------------------------------------------------------


def _draft_from_form() -> QuestionDraft:
    """The question form as typed."""
    f = request.form
    return QuestionDraft(kind=f.get("kind", ""), prompt=f.get("prompt", ""), answer=f.get("answer", ""),
                         tolerance=f.get("tolerance", ""), unit=f.get("unit", ""),
                         choices=tuple(f.get(f"choice_{i}", "") for i in range(MAX_CHOICES)),
                         correct=tuple(f.getlist("correct")), solution=f.get("solution", ""),
                         difficulty=f.get("difficulty", "1"))


def _topic_id() -> int | None:
    value = request.form.get("topic_id", "")
    return parse_id(value)


def _form(heading: str, action: str, submit: str, back: str, draft: QuestionDraft, *, topic_id: int | None = None,
          with_topics: bool = True, error: ValidationError | None = None, intro: str = "", offer_bank: bool = False,
          save_to_bank: bool = False):
    """The question form, with a ValidationError's messages beside their fields (422) when there is one."""
    return render("homework/question_form.html", heading=heading, action=action, submit=submit, back=back,
                  draft=draft, kinds=KINDS, topics=question_bank.topic_choices() if with_topics else None,
                  topic_id=topic_id, intro=intro, offer_bank=offer_bank, save_to_bank=save_to_bank,
                  message=error.message if error else None,
                  fields=error.fields if error else {}, status=422 if error else 200)


_BLANK = QuestionDraft(kind="numeric", tolerance="0", choices=("",) * 4, difficulty="1")


@bp.get("/question-bank/items")
@login_required
def items():
    """The questions a tutor may use (the shared bank and their own) or, for admins, all; edit and copy links."""
    listing = question_bank.list_items(current_user, mine=request.args.get("mine") == "1",
                                       page=request.args.get("page", 1, type=int) or 1)
    return render("homework/items.html", listing=listing, kinds=KINDS, mine=request.args.get("mine") == "1")


@bp.route("/question-bank/items/new", methods=["GET", "POST"])
@login_required
def new_item():
    """Add one question: a tutor's own, or (by an admin) to the shared bank."""
    question_bank.may_author(current_user)
    page = dict(heading="Add a question", action=url_for("homework.new_item"), submit="Add question",
                back=url_for("homework.items"))
    if request.method == "GET":
        return _form(**page, draft=_BLANK)
    draft = _draft_from_form()
    try:
        item = question_bank.add_item(current_user, _topic_id(), draft, now_utc())
    except ValidationError as exc:
        return _form(**page, draft=draft, topic_id=_topic_id(), error=exc)
    flash(f"Question {item.id} added.", "success")
    return redirect(url_for("homework.items", mine=None if current_user.is_admin else 1), code=303)


@bp.route("/question-bank/items/<id:item_id>/edit", methods=["GET", "POST"])
@login_required
def edit_item(item_id: int):
    """Edit a question (a new version when a published set holds it, so answers keep what they were marked on)."""
    item = question_bank.editable_item(current_user, item_id)
    page = dict(heading=f"Edit question {item.id}", action=url_for("homework.edit_item", item_id=item.id),
                submit="Save question", back=url_for("homework.items"),
                intro="Once a published homework set holds a question, saving makes a new version: answers already "
                      "given stay with the version they were marked against.")
    if request.method == "GET":
        return _form(**page, draft=question_bank.draft_of(item), topic_id=item.topic_id)
    draft = _draft_from_form()
    try:
        saved = question_bank.update_item(current_user, item_id, _topic_id(), draft, now_utc())
    except ValidationError as exc:
        return _form(**page, draft=draft, topic_id=_topic_id(), error=exc)
    flash(f"Saved as version {saved.item.version} (question {saved.item.id}); answers already given keep the "
          f"earlier version." if saved.new_version else "Question saved.", "success")
    return redirect(url_for("homework.items", mine=None if current_user.is_admin else 1), code=303)


@bp.post("/question-bank/items/<id:item_id>/copy")
@login_required
def copy_item(item_id: int):
    """Copy a question into the user's own, then edit the copy."""
    copy = question_bank.copy_item(current_user, item_id, now_utc())
    flash(f"Copied as your question {copy.id}: edit it below.", "success")
    return redirect(url_for("homework.edit_item", item_id=copy.id), code=303)


@bp.route("/homework/<id:set_id>/entries/<id:entry_id>/edit", methods=["GET", "POST"])
@login_required
def edit_entry(set_id: int, entry_id: int):
    """Edit a draft set's question for this set only (saved as the tutor's own question; the bank is untouched)."""
    found, entry = homework.draft_entry(current_user, set_id, entry_id)
    back = url_for("homework.page", lesson_id=found.lesson_id, _anchor=f"entry-{entry_id}")
    page = dict(heading=f"Edit question {entry.position} for {found.learner_name}",
                action=url_for("homework.edit_entry", set_id=set_id, entry_id=entry_id), submit="Save for this set",
                back=back, with_topics=False, offer_bank=True,
                intro=f"{entry.item.topic.name}. The change is used in this set only: the question bank is not "
                      f"changed, and the edit stays out of your own questions unless you tick “Also save to my "
                      f"questions”.")
    if request.method == "GET":
        return _form(**page, draft=question_bank.draft_of(entry.item))
    draft = _draft_from_form()
    keep = request.form.get("save_to_bank") == "1"
    try:
        homework.edit_entry(current_user, set_id, entry_id, draft, now_utc(), save_to_bank=keep)
    except ValidationError as exc:
        return _form(**page, draft=draft, error=exc, save_to_bank=keep)
    flash("Question changed for this set and saved to your questions." if keep else
          "Question changed for this set.", "success")
    return redirect(back, code=303)
