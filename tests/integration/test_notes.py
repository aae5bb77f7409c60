"""Summary notes: the tutor writes them after a lesson, with attachments; the learner's side hears once and downloads."""
from __future__ import annotations

import html
import io
import re
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

import config
from tests import factories
from tests.conftest import csrf_for, csrf_from, login
from webapp.adapters import uploads
from webapp.extensions import db
from webapp.models import Lesson, NoteAttachment, Notification, OutboxMessage, SummaryNote
from webapp.services import bookings, cancellations, notes, outbox

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = "Practise factorising quadratics: ex. 3–7. Bring your calculator. ✓\n".encode()


def docx(parts=("[Content_Types].xml", "word/document.xml")) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in parts:
            archive.writestr(name, "<xml/>")
    return buffer.getvalue()


@pytest.fixture
def upload_dir(app, tmp_path):
    """Attachments go to a fresh directory for this test."""
    previous = app.config["UPLOAD_DIR"], app.config["MAX_ATTACHMENT_BYTES"], app.config["MAX_CONTENT_LENGTH"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"], app.config["MAX_ATTACHMENT_BYTES"], app.config["MAX_CONTENT_LENGTH"] = previous


def words(response) -> str:
    """The response body as a person reads it (HTML entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def _stored(directory: Path) -> list[Path]:
    return sorted(directory.iterdir()) if directory.exists() else []


def post_note(client, lesson_id: int, body: str = "Great progress on quadratics.", files=(), **extra):
    """Submit the note form as a browser does (multipart, with the page's CSRF token)."""
    page = client.get(f"/lessons/{lesson_id}/notes").get_data(as_text=True)
    data = {"body": body, "csrf_token": csrf_from(page), **extra}
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(f"/lessons/{lesson_id}/notes", data=data, content_type="multipart/form-data")


def _outbox(kind_or_template: str) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == kind_or_template)
                                   .order_by(OutboxMessage.id)))


# --- writing a note ----------------------------------------------------------------------------------------------

def test_tutor_writes_a_note_and_the_student_is_told_once_by_email_push_and_in_app(app, client, upload_dir, smtp_sink):
    lesson = factories.finished_lesson()
    student, tutor = lesson.students[0], lesson.tutor
    login(client, tutor.email, factories.PASSWORD)
    response = post_note(client, lesson.id, "Worked through completing the square.\nHomework: sheet 4.",
                         files=[("worksheet.pdf", PDF)])
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/lessons/{lesson.id}/notes")

    [email] = _outbox("lesson_summary_note")
    assert email.to_address == student.email
    [push] = _outbox("LessonSummaryNote")
    assert push.channel == "push" and push.user_id == student.id and push.context["url"] == f"/lessons/{lesson.id}/notes"
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == student.id, Notification.kind == "LessonSummaryNote")) == 1

    # Editing the note changes it but tells nobody again.
    response = post_note(client, lesson.id, "Worked through completing the square. Homework: sheets 4 and 5.")
    assert response.status_code == 303
    assert len(_outbox("lesson_summary_note")) == 1 and len(_outbox("LessonSummaryNote")) == 1
    note = db.session.scalar(select(SummaryNote))
    assert note.body.endswith("sheets 4 and 5.") and [a.original_name for a in note.attachments] == ["worksheet.pdf"]

    # The email carries the note, the lesson time in the student's zone and a link to the notes page.
    assert outbox.deliver_due(datetime.now(UTC) + timedelta(seconds=1)) >= 1
    [(recipients, message)] = smtp_sink.messages
    assert recipients == [student.email]
    text = message.get_body(("plain",)).get_content()
    assert "Homework: sheet 4." in text and "worksheet.pdf" in text
    assert f"/lessons/{lesson.id}/notes" in text and "Europe/London" in text
    assert message["Subject"].startswith(f"Lesson notes from {tutor.name}: Mathematics on ")
    assert "Homework: sheet 4." in message.get_body(("html",)).get_content()


def test_the_parent_of_a_child_gets_the_note_in_their_zone(app, client, upload_dir):
    parent = factories.user("parent", timezone="America/Chicago")
    kid = factories.child(parent, "Robin")
    lesson = factories.finished_lesson(for_child=kid)
    login(client, lesson.tutor.email, factories.PASSWORD)
    assert post_note(client, lesson.id, "Robin read two chapters.").status_code == 303
    [email] = _outbox("lesson_summary_note")
    assert email.to_address == parent.email
    assert email.context["zone"] == "America/Chicago" and email.context["learner"] == "Robin"
    from webapp.filters import local
    assert email.context["when"] == local(lesson.start_at, "America/Chicago")
    [push] = _outbox("LessonSummaryNote")
    assert push.user_id == parent.id and "Robin" in push.context["title"]


def test_the_note_page_shows_the_note_to_participants_and_hides_the_form_from_them(app, client, upload_dir):
    lesson = factories.finished_lesson()
    student = lesson.students[0]
    login(client, lesson.tutor.email, factories.PASSWORD)
    assert "Write the notes" in client.get(f"/lessons/{lesson.id}/notes").get_data(as_text=True)
    post_note(client, lesson.id, "Vectors <b>and</b> matrices.", files=[("plan.txt", TEXT)])
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/notes").get_data(as_text=True)
    assert "Vectors &lt;b&gt;and&lt;/b&gt; matrices." in page and "plan.txt" in page
    assert 'id="note-form"' not in page
    detail = client.get(f"/bookings/{lesson.booking.id}").get_data(as_text=True)
    assert "Read the lesson notes" in detail
    stranger = app.test_client()
    login(stranger, factories.user("student").email, factories.PASSWORD)
    assert stranger.get(f"/lessons/{lesson.id}/notes").status_code == 404


def test_only_the_lessons_tutor_writes_the_note(app, client, upload_dir):
    lesson = factories.finished_lesson()
    other_tutor, _ = factories.tutor(name="Other Tutor")
    login(client, lesson.students[0].email, factories.PASSWORD)
    response = post_note(client, lesson.id)
    assert response.status_code == 403 and "Only the lesson's tutor" in words(response)
    login(client, other_tutor.email, factories.PASSWORD)
    assert post_note(client, lesson.id).status_code == 404  # a lesson they cannot see looks missing
    assert db.session.scalar(select(func.count()).select_from(SummaryNote)) == 0
    assert _outbox("lesson_summary_note") == []


def test_no_note_before_the_lesson_has_finished(app, client, upload_dir):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    booking = bookings.request_booking(student, bookings.BookingRequest(tutor.id, teach.id, start, 60))
    login(client, tutor.email, factories.PASSWORD)
    page = client.get(f"/lessons/{booking.lesson_id}/notes").get_data(as_text=True)
    assert "has not finished yet" in page and 'id="note-form"' not in page
    response = post_note(client, booking.lesson_id)
    assert response.status_code == 422 and "has not finished yet" in words(response)
    assert db.session.scalar(select(func.count()).select_from(SummaryNote)) == 0


def test_no_note_for_a_cancelled_or_never_paid_lesson(app, client, upload_dir):
    tutor, teach = factories.tutor()
    cancelled = factories.finished_lesson(tutor, teach, paid=False)
    booker = cancelled.booking.booker
    cancellations.cancel_booking(booker, cancelled.booking.id, "", cancelled.start_at - timedelta(days=1),
                                 tell_others=False)
    unpaid = factories.finished_lesson(tutor, teach, paid=False, ended_ago=timedelta(days=3))
    login(client, tutor.email, factories.PASSWORD)
    response = post_note(client, cancelled.id)
    assert response.status_code == 422 and "This lesson was cancelled." in words(response)
    response = post_note(client, unpaid.id)
    assert response.status_code == 422 and "never confirmed and paid for" in words(response)
    assert db.session.scalar(select(func.count()).select_from(SummaryNote)) == 0


def test_an_empty_or_overlong_note_is_refused_in_words(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    empty = post_note(client, lesson.id, "   ")
    assert empty.status_code == 422 and "Write a few words" in words(empty)
    long = post_note(client, lesson.id, "x" * (notes.MAX_BODY + 1))
    assert long.status_code == 422 and "too long" in words(long)


# --- attachments -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, content, expected", [
    ("diagram.pdf", PNG, "diagram.pdf is named as a PDF but its content is a PNG image"),
    ("run.sh", b"#!/bin/sh\nrm -rf /\n", "run.sh: we accept only PDF, PNG image, JPEG image, plain text"),
    ("page.html", b"<script>alert(1)</script>", "page.html: we accept only"),
    ("binary.txt", b"\x00\x01\x02ELF", "binary.txt does not look like a plain text inside"),
    ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", "passwd: we accept only"),
    ("fake.docx", docx(("readme.txt",)), "fake.docx does not look like a Word document"),
    ("empty.pdf", b"", "empty.pdf is empty"),
])
def test_attachments_of_the_wrong_type_are_refused_in_words(app, client, upload_dir, name, content, expected):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    response = post_note(client, lesson.id, files=[(name, content)])
    assert response.status_code == 422
    assert expected in words(response)
    assert _stored(upload_dir) == []  # nothing left behind, not even a partial file
    assert db.session.scalar(select(func.count()).select_from(SummaryNote)) == 0
    assert _outbox("lesson_summary_note") == []


def test_an_attachment_over_the_size_limit_is_refused_and_nothing_is_kept(app, client, upload_dir):
    app.config["MAX_ATTACHMENT_BYTES"] = 1024
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    response = post_note(client, lesson.id, files=[("ok.txt", b"fine\n"), ("big.txt", b"a" * 2048)])
    assert response.status_code == 422
    assert "big.txt is larger than the 1 KB limit per file" in words(response)
    assert _stored(upload_dir) == []  # the accepted first file is removed again with the refused second
    assert db.session.scalar(select(func.count()).select_from(NoteAttachment)) == 0


def test_a_request_over_the_body_limit_gets_a_413_page_in_words(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    csrf = csrf_for(client)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    response = client.post(f"/lessons/{lesson.id}/notes", content_type="multipart/form-data", data={
        "csrf_token": csrf, "body": "x", "attachments": [(io.BytesIO(b"a" * 10_000), "big.txt")]})
    assert response.status_code == 413 and "That upload is too large." in words(response)
    assert _stored(upload_dir) == []


def test_too_many_attachments_are_refused(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    limit = app.config["MAX_NOTE_ATTACHMENTS"]
    response = post_note(client, lesson.id, files=[(f"f{i}.txt", TEXT) for i in range(limit + 1)])
    assert response.status_code == 422 and f"at most {limit} files" in words(response)
    assert _stored(upload_dir) == []


def test_accepted_files_are_stored_outside_the_web_root_under_random_names(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    files = [("../../../escape.txt", TEXT), ("scan.png", PNG), ("photo.JPG", JPEG), ("essay.docx", docx()),
             ("/home/me/paper.pdf", PDF)]
    assert post_note(client, lesson.id, files=files).status_code == 303
    rows = db.session.scalars(select(NoteAttachment).order_by(NoteAttachment.id)).all()
    assert [(r.original_name, r.content_type) for r in rows] == [
        ("escape.txt", "text/plain"), ("scan.png", "image/png"), ("photo.JPG", "image/jpeg"),
        ("essay.docx", uploads.DOCX), ("paper.pdf", "application/pdf")]
    assert sorted(p.name for p in _stored(upload_dir)) == sorted(r.stored_name for r in rows)
    assert all(re.fullmatch(r"[0-9a-f]{32}\.(txt|png|jpg|docx|pdf)", r.stored_name) for r in rows)
    assert not (upload_dir.parent / "escape.txt").exists() and not list(upload_dir.parent.parent.glob("escape.txt"))
    assert (upload_dir / rows[0].stored_name).read_bytes() == TEXT
    # The configured default lives outside the package, so nothing uploaded is ever served as a static file.
    default = Path(config.Config.UPLOAD_DIR).resolve()
    package = Path(app.root_path).resolve()
    assert not default.is_relative_to(package) and not default.is_relative_to(package / "static")


def test_the_tutor_removes_an_attachment_when_editing(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, files=[("a.txt", TEXT), ("b.pdf", PDF)])
    first = db.session.scalar(select(NoteAttachment).where(NoteAttachment.original_name == "a.txt"))
    gone = upload_dir / first.stored_name
    assert post_note(client, lesson.id, "Edited.", remove=str(first.id)).status_code == 303
    db.session.rollback()
    assert [a.original_name for a in db.session.scalars(select(NoteAttachment))] == ["b.pdf"]
    assert not gone.exists() and len(_stored(upload_dir)) == 1


# --- downloads ---------------------------------------------------------------------------------------------------

def test_participants_download_attachments_and_strangers_get_404(app, upload_dir):
    parent = factories.user("parent")
    lesson = factories.finished_lesson(for_child=factories.child(parent))
    tutor = lesson.tutor
    tutor_client = app.test_client()
    login(tutor_client, tutor.email, factories.PASSWORD)
    post_note(tutor_client, lesson.id, files=[("plan.txt", TEXT), ("résumé des cours.pdf", PDF)])
    text_file, pdf_file = db.session.scalars(select(NoteAttachment).order_by(NoteAttachment.id)).all()

    for email in (parent.email, tutor.email):
        c = app.test_client()
        login(c, email, factories.PASSWORD)
        response = c.get(f"/notes/attachments/{text_file.id}")
        assert response.status_code == 200 and response.data == TEXT
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "plan.txt" in response.headers["Content-Disposition"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.mimetype == "text/plain" and "no-store" in response.headers["Cache-Control"]
        pdf = c.get(f"/notes/attachments/{pdf_file.id}")
        assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9" in pdf.headers["Content-Disposition"]

    stranger = app.test_client()
    login(stranger, factories.user("student").email, factories.PASSWORD)
    assert stranger.get(f"/notes/attachments/{text_file.id}").status_code == 404
    assert stranger.get("/notes/attachments/999999").status_code == 404
    other_tutor = app.test_client()
    login(other_tutor, factories.tutor()[0].email, factories.PASSWORD)
    assert other_tutor.get(f"/notes/attachments/{text_file.id}").status_code == 404
    anonymous = app.test_client().get(f"/notes/attachments/{text_file.id}")
    assert anonymous.status_code in (302, 401) and b"root:" not in anonymous.data


def test_a_file_missing_from_disk_is_a_404_in_words(app, client, upload_dir):
    lesson = factories.finished_lesson()
    login(client, lesson.tutor.email, factories.PASSWORD)
    post_note(client, lesson.id, files=[("plan.txt", TEXT)])
    row = db.session.scalar(select(NoteAttachment))
    (upload_dir / row.stored_name).unlink()
    response = client.get(f"/notes/attachments/{row.id}")
    assert response.status_code == 404 and "no longer available" in words(response)


# --- the JSON API --------------------------------------------------------------------------------------------------

def test_api_writes_and_edits_a_note_with_attachments(app, client, upload_dir):
    from webapp.services import accounts
    lesson = factories.finished_lesson()
    as_tutor = {"Authorization": f"Bearer {accounts.issue_api_token(lesson.tutor)[0]}"}
    as_student = {"Authorization": f"Bearer {accounts.issue_api_token(lesson.students[0])[0]}"}
    created = client.post("/api/v1/notes", json={"lesson_id": lesson.id, "body": "Fractions."}, headers=as_tutor)
    assert created.status_code == 201 and created.get_json()["body"] == "Fractions."
    edited = client.post("/api/v1/notes", headers=as_tutor, content_type="multipart/form-data", data={
        "lesson_id": str(lesson.id), "body": "Fractions and decimals.",
        "attachments": [(io.BytesIO(PDF), "sheet.pdf")]})
    assert edited.status_code == 200
    [attachment] = edited.get_json()["attachments"]
    assert attachment["name"] == "sheet.pdf" and attachment["content_type"] == "application/pdf"
    assert len(_outbox("lesson_summary_note")) == 1
    read = client.get(f"/api/v1/notes/{lesson.id}", headers=as_student)
    assert read.status_code == 200 and read.get_json()["body"] == "Fractions and decimals."
    download = client.get(attachment["url"], headers=as_student)  # mobile clients download with their token
    assert download.status_code == 200 and download.data == PDF
    refused = client.post("/api/v1/notes", json={"lesson_id": lesson.id, "body": "Mine now."}, headers=as_student)
    assert refused.status_code == 403 and "Only the lesson's tutor" in refused.get_json()["error"]["message"]
    wrong = client.post("/api/v1/notes", headers=as_tutor, content_type="multipart/form-data", data={
        "lesson_id": str(lesson.id), "body": "x", "attachments": [(io.BytesIO(PNG), "photo.pdf")]})
    assert wrong.status_code == 422 and "content is a PNG image" in wrong.get_json()["error"]["fields"]["attachments"]


# --- at most once under a race -------------------------------------------------------------------------------------

def test_two_simultaneous_first_saves_make_one_note_and_one_notice(app, live_server, upload_dir):
    lesson = factories.finished_lesson()
    tutor_email, lesson_id = lesson.tutor.email, lesson.id
    db.session.remove()
    sessions = []
    for _ in range(4):
        s = requests.Session()
        page = s.get(f"{live_server.url}/login").text
        s.post(f"{live_server.url}/login", data={"email": tutor_email, "password": factories.PASSWORD,
                                                 "csrf_token": csrf_from(page)}, timeout=30)
        sessions.append((s, csrf_from(s.get(f"{live_server.url}/lessons/{lesson_id}/notes").text)))
    barrier = threading.Barrier(len(sessions))
    statuses: list[int] = []

    def save(session, token):
        barrier.wait()
        r = session.post(f"{live_server.url}/lessons/{lesson_id}/notes", data={"body": "Same time.", "csrf_token": token},
                         files={"attachments": ("same.txt", TEXT)}, allow_redirects=False, timeout=60)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save, args=pair) for pair in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert sorted(statuses) == [303] * len(sessions), statuses  # the later ones are edits
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SummaryNote)) == 1
    assert len(_outbox("lesson_summary_note")) == 1
    assert db.session.scalar(select(func.count()).select_from(NoteAttachment)) <= app.config["MAX_NOTE_ATTACHMENTS"]
    assert len(_stored(upload_dir)) == db.session.scalar(select(func.count()).select_from(NoteAttachment))


# --- the adapter on its own ----------------------------------------------------------------------------------------

def test_display_names_keep_only_the_last_path_component():
    assert uploads.display_name("../../etc/passwd") == "passwd"
    assert uploads.display_name("..\\..\\windows\\win.ini") == "win.ini"
    assert uploads.display_name("..") == "attachment" and uploads.display_name(None) == "attachment"
    assert uploads.display_name("a\x00b\n.txt") == "ab.txt"
    assert uploads.display_name("/abs/olute.pdf") == "olute.pdf"
    long = uploads.display_name("x" * 400 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


def test_stored_names_outside_our_pattern_are_never_opened(tmp_path):
    (tmp_path / "secret.txt").write_text("no")
    assert uploads.path_for(tmp_path, "../secret.txt") is None
    assert uploads.path_for(tmp_path, "secret.txt") is None
    stored = uploads.store(io.BytesIO(TEXT), "ok.txt", tmp_path, 1024)
    assert uploads.path_for(tmp_path, stored.stored_name) == tmp_path / stored.stored_name


def test_the_factory_makes_a_lesson_that_took_place(app):
    lesson = factories.finished_lesson()
    assert lesson.state == "ACTIVE" and lesson.finish_at < datetime.now(UTC)
    assert notes.lesson_took_place(db.session.get(Lesson, lesson.id), datetime.now(UTC))


def test_orphaned_upload_files_are_swept_but_attached_and_fresh_ones_stay(app, tmp_path):
    import os
    from datetime import UTC, datetime, timedelta

    from webapp.services import notes as notes_service
    app.config["UPLOAD_DIR"], before = str(tmp_path), app.config["UPLOAD_DIR"]
    try:
        old, fresh, foreign = "a" * 32 + ".pdf", "b" * 32 + ".pdf", "notes.txt"
        for name in (old, fresh, foreign):
            (tmp_path / name).write_bytes(b"%PDF-1.4\n")
        hour_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
        os.utime(tmp_path / old, (hour_ago, hour_ago))
        os.utime(tmp_path / foreign, (hour_ago, hour_ago))
        assert notes_service.sweep_orphaned_uploads(datetime.now(UTC)) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh, foreign])
        assert notes_service.sweep_orphaned_uploads(datetime.now(UTC)) == 0
    finally:
        app.config["UPLOAD_DIR"] = before
