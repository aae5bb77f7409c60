"""Support tickets: opened from any page (optionally about a booking), a thread with attachments and internal notes,
email both ways through the outbox, the single-use emailed reply link, the staff inbox, and audit entries."""
from __future__ import annotations

import io
import os
import re
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import book, now
from webapp.extensions import db
from webapp.models import AuditEntry, OutboxMessage, SupportTicket, TicketAttachment
from webapp.services import notes, tickets

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


@pytest.fixture
def upload_dir(app, tmp_path):
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = previous


def _form(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _open(client, subject="Tutor did not come", body="I waited 20 minutes.", booking=None, files=None, key=None):
    path = f"/support?booking={booking}" if booking else "/support"
    data = {"csrf_token": _form(client, path), "subject": subject, "body": body, "form_key": key or os.urandom(8).hex()}
    if files:
        data["attachments"] = files
    return client.post(path, data=data, content_type="multipart/form-data")


def _staff(app, role="support"):
    agent = factories.user(role)
    c = app.test_client()
    login(c, agent.email, factories.PASSWORD)
    return agent, c


def _ticket() -> SupportTicket:
    return db.session.scalar(select(SupportTicket).order_by(SupportTicket.id.desc()))


def _emails(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template,
                                                               OutboxMessage.channel == "email")
                                   .order_by(OutboxMessage.id)))


def test_a_student_opens_a_ticket_about_their_booking_and_support_hears(app, client, upload_dir):
    booking = book()
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/support?booking={booking.id}").get_data(as_text=True)
    assert f"About booking #{booking.id}" in page
    response = _open(client, booking=booking.id)
    assert response.status_code == 303
    ticket = _ticket()
    assert (ticket.booking_id, ticket.status, ticket.priority) == (booking.id, "new", "high")
    assert ticket.due_at == ticket.created_at + timedelta(hours=12)
    [mail] = _emails("ticket_for_staff")
    assert mail.to_address == app.config["SUPPORT_EMAIL"] and "I waited 20 minutes." in mail.context["body"]
    assert "Tutor did not come" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_same_form_sent_twice_opens_one_ticket(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client, key="same-form-key-1")
    _open(client, key="same-form-key-1")
    assert db.session.scalar(select(func.count()).select_from(SupportTicket)) == 1


def test_a_ticket_about_someone_elses_booking_is_refused(app, client, upload_dir):
    booking = book()
    stranger = factories.user("student")
    login(client, stranger.email, factories.PASSWORD)
    response = _open(client, booking=booking.id)
    assert response.status_code == 404 and "could not find that booking" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SupportTicket)) == 0


def test_empty_or_huge_messages_are_refused_in_words(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    assert "Write your message." in _open(client, body="  ").get_data(as_text=True)
    assert "at most 10,000 characters" in _open(client, body="x" * 10_001).get_data(as_text=True)
    assert "Say in a few words" in _open(client, subject="").get_data(as_text=True)


def test_only_the_requester_and_the_staff_see_a_ticket(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    other = app.test_client()
    login(other, factories.user("student").email, factories.PASSWORD)
    assert other.get(f"/support/tickets/{ticket_id}").status_code == 404
    assert other.get(f"/admin/tickets/{ticket_id}").status_code == 403
    _, agent = _staff(app)
    assert "Tutor did not come" in agent.get(f"/admin/tickets/{ticket_id}").get_data(as_text=True)
    assert f"#{ticket_id} Tutor did not come" in agent.get(f"/admin/users/{student.id}").get_data(as_text=True)


def test_staff_answers_by_email_with_a_reply_link_that_works_once(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    agent, staff = _staff(app)
    path = f"/admin/tickets/{ticket_id}"
    staff.post(f"{path}/reply", data={"csrf_token": _form(staff, path), "body": "Sorry! Refund on its way.",
                                      "internal": "0"})
    ticket = db.session.get(SupportTicket, ticket_id)
    db.session.refresh(ticket)
    assert (ticket.status, ticket.assignee_id, ticket.due_at) == ("pending", agent.id, None)
    [mail] = _emails("ticket_reply")
    assert mail.to_address == student.email and mail.context["body"] == "Sorry! Refund on its way."
    assert "Sorry! Refund on its way." in client.get(f"/support/tickets/{ticket_id}").get_data(as_text=True)

    link = "/support/reply/" + mail.context["reply_url"].rsplit("/", 1)[1]
    reader = app.test_client()  # the email's reader need not be logged in
    form = reader.get(link)
    assert form.status_code == 200 and "Reply to “Tutor did not come”" in form.get_data(as_text=True)
    assert reader.get(link).status_code == 200  # looking (mail scanners) uses nothing up
    posted = reader.post(link, data={"csrf_token": csrf_from(form.get_data(as_text=True)), "body": "Thank you!"})
    assert posted.status_code == 200 and "Reply sent" in posted.get_data(as_text=True)
    again = reader.post(link, data={"csrf_token": csrf_from(form.get_data(as_text=True)), "body": "Twice?"})
    assert again.status_code == 400 and "already been used" in again.get_data(as_text=True)
    assert reader.get(link).status_code == 400
    db.session.expire_all()
    ticket = db.session.get(SupportTicket, ticket_id)
    assert [m.body for m in ticket.messages][-1] == "Thank you!" and ticket.messages[-1].via == "email"
    assert ticket.status == "open" and ticket.due_at is not None
    assert len(_emails("ticket_for_staff")) == 2  # the opening and the emailed reply, to the assignee now
    assert _emails("ticket_for_staff")[-1].to_address == agent.email


def test_a_tampered_reply_link_is_refused(app, client, upload_dir):
    assert app.test_client().get("/support/reply/not-a-real-token").status_code == 400


def test_internal_notes_and_their_files_are_never_shown_to_the_user(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    _, staff = _staff(app)
    path = f"/admin/tickets/{ticket_id}"
    staff.post(f"{path}/reply", data={"csrf_token": _form(staff, path), "body": "Card looks stolen, check.",
                                      "internal": "1", "attachments": [(io.BytesIO(PNG), "proof.png")]},
               content_type="multipart/form-data")
    assert "Card looks stolen" in staff.get(path).get_data(as_text=True)
    page = client.get(f"/support/tickets/{ticket_id}").get_data(as_text=True)
    assert "Card looks stolen" not in page and "proof.png" not in page
    attachment = db.session.scalar(select(TicketAttachment))
    assert client.get(f"/support/attachments/{attachment.id}").status_code == 404
    assert staff.get(f"/support/attachments/{attachment.id}").status_code == 200
    assert db.session.get(SupportTicket, ticket_id).status == "new"  # a note is not an answer
    assert _emails("ticket_reply") == []


def test_attachments_follow_the_upload_rules(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    refused = _open(client, files=[(io.BytesIO(b"#!/bin/sh\nrm -rf /\n"), "run.sh")])
    assert refused.status_code == 422 and "run.sh: we accept only" in refused.get_data(as_text=True)
    renamed = _open(client, files=[(io.BytesIO(PNG), "diagram.pdf")])
    assert "named as a PDF but its content is a PNG image" in renamed.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SupportTicket)) == 0
    assert not upload_dir.exists() or not any(upload_dir.iterdir())  # nothing left behind

    assert _open(client, files=[(io.BytesIO(PNG), "../../screen.png")]).status_code == 303
    attachment = db.session.scalar(select(TicketAttachment))
    assert attachment.original_name == "screen.png" and re.fullmatch(r"[0-9a-f]{32}\.png", attachment.stored_name)
    download = client.get(f"/support/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Disposition"].startswith("attachment")
    stranger = app.test_client()
    login(stranger, factories.user("student").email, factories.PASSWORD)
    assert stranger.get(f"/support/attachments/{attachment.id}").status_code == 404
    # The hourly sweep of orphaned uploads keeps files a ticket points at.
    old = time.time() - 7200
    os.utime(upload_dir / attachment.stored_name, (old, old))
    assert notes.sweep_orphaned_uploads(now()) == 0
    assert (upload_dir / attachment.stored_name).exists()


def test_a_closed_ticket_takes_no_replies(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    agent = factories.user("support")
    tickets.update_ticket(agent, ticket_id, status="closed", priority="normal", assignee_id=None, now=now())
    path = f"/support/tickets/{ticket_id}"
    page = client.get(path).get_data(as_text=True)
    assert "This ticket is closed" in page
    response = client.post(path, data={"csrf_token": csrf_from(page), "body": "Hello?"}, follow_redirects=True)
    assert "This ticket is closed" in response.get_data(as_text=True)
    assert len(db.session.get(SupportTicket, ticket_id).messages) == 1


def test_the_inbox_filters_and_searches(app, client, upload_dir):
    student = factories.user("student", name="Quinn Query")
    login(client, student.email, factories.PASSWORD)
    _open(client, subject="Refund question")
    _open(client, subject="Calendar sync broken")
    agent, staff = _staff(app)
    first = db.session.scalar(select(SupportTicket).where(SupportTicket.subject == "Refund question"))
    tickets.update_ticket(agent, first.id, status="solved", priority="low", assignee_id=agent.id, now=now())
    active = staff.get("/admin/tickets/").get_data(as_text=True)
    assert "Calendar sync broken" in active and "Refund question" not in active
    solved = staff.get("/admin/tickets/?status=solved&assignee=me").get_data(as_text=True)
    assert "Refund question" in solved and "Calendar sync broken" not in solved
    found = staff.get("/admin/tickets/?status=&q=quinn", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert found.startswith('<div id="tickets-results">') and "Refund question" in found and "Calendar" in found
    assert "Pick a status" in staff.get("/admin/tickets/?status=bogus").get_data(as_text=True)


def test_every_staff_action_on_tickets_is_audited(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    agent, staff = _staff(app)
    path = f"/admin/tickets/{ticket_id}"
    staff.post(f"{path}/reply", data={"csrf_token": _form(staff, path), "body": "Looking", "internal": "1"})
    staff.post(f"{path}/reply", data={"csrf_token": _form(staff, path), "body": "On it", "internal": "0"})
    staff.post(f"{path}/update", data={"csrf_token": _form(staff, path), "status": "solved", "priority": "urgent",
                                       "assignee_id": str(agent.id)})
    canned = "/admin/canned-replies"
    staff.post(canned, data={"csrf_token": _form(staff, canned), "title": "Refund sent",
                             "body": "We refunded you."})
    actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["ticket.note", "ticket.reply", "ticket.update", "canned_reply.create"]
    update = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "ticket.update"))
    assert (update.before["status"], update.after["status"]) == ("pending", "solved")
    assert update.before["priority"] == "normal" and update.after["priority"] == "urgent"
    # The canned reply fills the answer box when picked.
    reply_id = tickets.canned_replies()[0].id
    assert "We refunded you." in staff.get(f"{path}?canned={reply_id}").get_data(as_text=True)


def test_staff_forms_need_csrf(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    _, staff = _staff(app)
    ticket_id = _ticket().id
    assert staff.post(f"/admin/tickets/{ticket_id}/reply", data={"body": "x"}).status_code == 400
    assert client.post(f"/support/tickets/{ticket_id}", data={"body": "x"}).status_code == 400


def test_the_inbox_takes_any_search_words_and_refuses_an_unknown_assignee_in_words(app, client):
    agent = factories.user("support")
    login(client, agent.email, factories.PASSWORD)
    for q in ("99999999999999999999", "#99999999999999999999", "²", "#٣"):
        assert client.get("/admin/tickets/", query_string={"q": q}).status_code == 200, q
    for assignee in ("99999999999999999999", "²", "someone"):
        answer = client.get("/admin/tickets/", query_string={"assignee": assignee})
        assert answer.status_code == 200 and "Pick an assignee from the list." in answer.get_data(as_text=True)


def _ticket_form(page: str) -> dict:
    """The ticket form's hidden fields as the page rendered them (csrf and what the staff member saw)."""
    return dict(re.findall(r'name="(csrf_token|seen_\w+)" value="([^"]*)"', page))


def test_two_staff_saving_a_ticket_at_once_never_overwrite_each_other(app, client, upload_dir):
    student = factories.user("student")
    login(client, student.email, factories.PASSWORD)
    _open(client)
    ticket_id = _ticket().id
    path = f"/admin/tickets/{ticket_id}"
    alex = factories.user("support", name="Alex Agent")
    alex_client = app.test_client()
    login(alex_client, alex.email, factories.PASSWORD)
    _, blake = _staff(app)
    alex_form = _ticket_form(alex_client.get(path).get_data(as_text=True))
    blake_form = _ticket_form(blake.get(path).get_data(as_text=True))  # both see: new, normal, nobody
    assert blake_form["seen_status"] == "new" and blake_form["seen_assignee_id"] == ""
    alex_client.post(f"{path}/update", data={**alex_form, "status": "pending", "priority": "normal",
                                             "assignee_id": ""})
    # Blake only raised the priority: Alex's status stays.
    blake.post(f"{path}/update", data={**blake_form, "status": "new", "priority": "high", "assignee_id": ""})
    db.session.expire_all()
    ticket = db.session.get(SupportTicket, ticket_id)
    assert (ticket.status, ticket.priority) == ("pending", "high")
    audits = db.session.scalar(select(func.count(AuditEntry.id)))
    # Blake now changes the status from the page that still shows "new": refused in words, nothing written.
    response = blake.post(f"{path}/update", data={**blake_form, "status": "solved", "priority": "high",
                                                  "assignee_id": ""}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "Alex Agent changed the status to Pending meanwhile." in body, re.findall(r"flash[^>]*>([^<]*)", body)
    db.session.expire_all()
    ticket = db.session.get(SupportTicket, ticket_id)
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("pending", "high", None)
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audits
