"""Summary notes: the tutor writes notes (with attachments) on a finished lesson; the learner's side hears once."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..adapters import uploads
from ..adapters.database import serialized_write
from ..domain import limits
from ..domain.states import BookingState, LessonState
from ..extensions import db
from ..filters import local
from ..models import Lesson, NoteAttachment, SummaryNote, TicketAttachment, User
from . import homework
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .lessons import get_lesson, is_tutor_of, student_side
from .locks import LOCK_NOTE
from .notify import notify
from .urls import public_url

MAX_BODY = limits.SUMMARY_NOTE_MAX
NOTE_KIND = "LessonSummaryNote"


class Upload(Protocol):
    """What a view hands over for one file: werkzeug's FileStorage fits."""

    filename: str | None
    stream: BinaryIO


def lesson_took_place(lesson: Lesson, now: datetime) -> bool:
    """Whether the lesson happened: it has finished, was not cancelled, and (when booked) was paid for.

    A lapsed unpaid hold or a declined booking is not a lesson that happened, even before the expiry job runs."""
    if lesson.state != LessonState.ACTIVE or lesson.finish_at > now:
        return False
    # PARTIAL_REFUNDED with an active lesson is a goodwill refund by an admin: the lesson still happened.
    return lesson.booking is None or lesson.booking.state in (BookingState.PAID, BookingState.PARTIAL_REFUNDED)


def why_not_finished(lesson: Lesson, now: datetime) -> str | None:
    """In words, why nothing can be written about this lesson yet (None when it took place)."""
    if lesson_took_place(lesson, now):
        return None
    if lesson.state == LessonState.CANCELLED:
        return "This lesson was cancelled."
    if lesson.finish_at > now:
        return "This lesson has not finished yet."
    if lesson.state == LessonState.RESCHEDULE:
        return "This lesson is waiting for a reschedule answer."
    return "This lesson was never confirmed and paid for."


def note_for_lesson(lesson_id: int) -> SummaryNote | None:
    """The lesson's note with its attachments, if one was written."""
    return db.session.scalar(select(SummaryNote).options(selectinload(SummaryNote.attachments))
                             .where(SummaryNote.lesson_id == lesson_id))


@dataclass(frozen=True)
class NotePage:
    """What someone who may see the lesson sees of its note, and whether they may write it."""

    lesson: Lesson
    note: SummaryNote | None
    can_write: bool
    blocked: str | None  # why the tutor cannot write yet, in words
    learning: homework.NoteLearning | None = None  # topics and mistakes, for the tutor's form


def view_note(user: User, lesson_id: int, now: datetime, draft_text: str | None = None) -> NotePage:
    """The note page for anyone who may see the lesson (a stranger gets NotFound); the tutor's form also gets the
    topics, suggested from `draft_text` (else the saved note) and the lesson chat."""
    lesson = get_lesson(user, lesson_id)
    blocked = why_not_finished(lesson, now)
    note = note_for_lesson(lesson.id)
    can_write = is_tutor_of(user, lesson) and blocked is None
    text = draft_text if draft_text is not None else (note.body if note else "")
    learning = homework.note_learning(lesson, note, text) if can_write else None
    return NotePage(lesson, note, can_write, blocked, learning)


def save_note(tutor: User, lesson_id: int, body: str | None, files: list[Upload], now: datetime,
              remove_ids: list[int] | tuple[int, ...] = (), covered: list[int] | None = None,
              errors: list[homework.ErrorInput] | None = None) -> tuple[SummaryNote, bool]:
    """Write or edit the lesson's note (tutor only, once the lesson took place); returns (note, created).

    Files are stored first and removed again if anything fails; the learner's side is told once, when the note is
    first written (an edit never tells again). With `covered`/`errors` (the form always sends them; API callers may
    not), the note's topics and mistakes are replaced and each learner's draft homework is rebuilt."""
    lesson = get_lesson(tutor, lesson_id)
    if not is_tutor_of(tutor, lesson):
        raise Forbidden("Only the lesson's tutor writes its summary note.")
    blocked = why_not_finished(lesson, now)
    if blocked:
        raise ValidationError(f"{blocked} Summary notes are written after a lesson has taken place.")
    text = _clean_body(body)
    learning = homework.clean_errors(lesson, covered or [], errors or []) if covered is not None else None
    files = [f for f in files if f is not None and (f.filename or "").strip()]
    config = current_app.config
    directory, max_files = config["UPLOAD_DIR"], config["MAX_NOTE_ATTACHMENTS"]
    if len(files) > max_files:
        raise ValidationError(f"Attach at most {max_files} files to a note.",
                              {"attachments": f"At most {max_files} files."})
    stored: list[uploads.StoredFile] = []
    try:
        for upload in files:
            try:
                stored.append(uploads.store(upload.stream, upload.filename, directory, config["MAX_ATTACHMENT_BYTES"]))
            except uploads.UploadRejected as exc:
                raise ValidationError(str(exc), {"attachments": str(exc)}) from None
        with serialized_write((LOCK_NOTE, lesson.id)):
            note, created, removed = _write(tutor, lesson, text, stored, remove_ids, max_files, now)
            if learning is not None:
                homework.record_learning(note, *learning)
                homework.draft_sets(lesson, note, now)
    except IntegrityError:
        _discard(directory, [s.stored_name for s in stored])
        raise Conflict("The note was saved from somewhere else at the same moment; reload and try again.") from None
    except BaseException:
        _discard(directory, [s.stored_name for s in stored])
        raise
    _discard(directory, removed)  # only once the rows are gone for good
    return note_for_lesson(lesson.id) or note, created


def _clean_body(body: str | None) -> str:
    text = (body or "").replace("\r\n", "\n").strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationError("Write a few words about the lesson.", {"body": "Write the note."})
    if len(text) > MAX_BODY:
        raise ValidationError(f"The note is too long: at most {MAX_BODY:,} characters.",
                              {"body": f"At most {MAX_BODY:,} characters."})
    return text


def _write(tutor: User, lesson: Lesson, text: str, stored: list[uploads.StoredFile], remove_ids, max_files: int,
           now: datetime) -> tuple[SummaryNote, bool, list[str]]:
    """Inside the write transaction: create or update the note and its attachment rows."""
    note = db.session.scalar(select(SummaryNote).where(SummaryNote.lesson_id == lesson.id))
    created = note is None
    if created:
        note = SummaryNote(lesson_id=lesson.id, tutor_id=tutor.id, body=text, created_at=now, updated_at=now)
        db.session.add(note)
        db.session.flush()
    else:
        note.body, note.updated_at = text, now
    wanted = {int(i) for i in remove_ids}
    removed = [a for a in note.attachments if a.id in wanted]
    if len(note.attachments) - len(removed) + len(stored) > max_files:
        raise ValidationError(f"A note carries at most {max_files} files; remove some first.",
                              {"attachments": f"At most {max_files} files per note."})
    for attachment in removed:
        note.attachments.remove(attachment)
        db.session.delete(attachment)
    for s in stored:
        note.attachments.append(NoteAttachment(original_name=s.original_name, stored_name=s.stored_name,
                                               content_type=s.content_type, size_bytes=s.size_bytes, created_at=now))
    if created:
        _tell_learners(lesson, note)
    db.session.flush()
    return note, created, [a.stored_name for a in removed]


def _tell_learners(lesson: Lesson, note: SummaryNote) -> None:
    """LessonSummaryNote to the student, or the parent for a child: in-app, email and push, at most once each."""
    path = f"/lessons/{lesson.id}/notes"
    tutor = lesson.tutor
    for who in student_side(lesson):
        title = f"{tutor.name} wrote notes on {who.learner}'s {lesson.subject.name} lesson"
        context = {"recipient_name": who.user.name, "learner": who.learner, "tutor_name": tutor.name,
                   "subject": lesson.subject.name, "when": local(lesson.start_at, who.zone), "zone": who.zone,
                   "note": note.body, "attachments": [a.original_name for a in note.attachments],
                   "link": public_url(path)}
        excerpt = note.body if len(note.body) <= 200 else note.body[:199] + "…"
        # One notice per person: a parent of two children in the same lesson hears once.
        notify(who.user, kind=NOTE_KIND, title=title, body=excerpt, url=path,
               dedupe_key=f"lesson:{lesson.id}:summary-note:{who.user.id}",
               email_template="lesson_summary_note", email_context=context)


def _discard(directory, stored_names: list[str]) -> None:
    for name in stored_names:
        uploads.delete(directory, name)


def get_attachment(user: User, attachment_id: int) -> tuple[NoteAttachment, Path]:
    """An attachment and where its file is, for someone who may see the lesson; anyone else gets NotFound."""
    attachment = db.session.get(NoteAttachment, attachment_id)
    if attachment is None:
        raise NotFound("We could not find that file.")
    try:
        get_lesson(user, attachment.note.lesson_id)
    except NotFound:
        raise NotFound("We could not find that file.") from None
    path = uploads.path_for(current_app.config["UPLOAD_DIR"], attachment.stored_name)
    if path is None:
        raise NotFound("That file is no longer available.")
    return attachment, path


def sweep_orphaned_uploads(now: datetime, grace: timedelta = timedelta(hours=1)) -> int:
    """Delete stored files no attachment row points at (a process died between storing and committing).

    Only files older than `grace` are touched, so an upload whose note is being saved right now is left alone."""
    directory = current_app.config["UPLOAD_DIR"]
    candidates = uploads.stored_files(directory, (now - grace).timestamp())
    if not candidates:
        return 0
    # Note and ticket attachments share the upload directory: a file either points at is kept.
    known = set(db.session.scalars(select(NoteAttachment.stored_name).where(
        NoteAttachment.stored_name.in_(candidates)))) | set(db.session.scalars(
        select(TicketAttachment.stored_name).where(TicketAttachment.stored_name.in_(candidates))))
    orphans = [name for name in candidates if name not in known]
    for name in orphans:
        uploads.delete(directory, name)
    return len(orphans)
