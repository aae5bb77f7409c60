"""Support tickets: a signed-in user opens one (optionally about a booking), the staff answers in a thread with
attachments and internal notes; both sides hear by email through the outbox, and the user may answer through the
signed, single-use link in that email."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..domain.limits import parse_id
from ..adapters import uploads
from ..domain import tickets as rules
from ..domain.tickets import TicketPriority, TicketStatus
from ..extensions import db
from ..models import AuditEntry, Booking, CannedReply, SupportTicket, TicketAttachment, TicketMessage, User
from . import audit, outbox, signed_links
from .bookings import get_booking
from .errors import AccountSuspended, Conflict, Forbidden, NotFound, ValidationError
from .notify import notify
from .urls import public_url

REPLY_PURPOSE = "ticket-reply"
REPLY_LINK_LIFETIME = timedelta(days=14)
PAGE_SIZE = 50


class Upload(Protocol):
    """What a view hands over for one file: werkzeug's FileStorage fits."""

    filename: str | None
    stream: BinaryIO


# --- reading --------------------------------------------------------------------------------------------------

def _ticket_query():
    return select(SupportTicket).options(
        selectinload(SupportTicket.messages).selectinload(TicketMessage.attachments),
        selectinload(SupportTicket.messages).selectinload(TicketMessage.author),
        selectinload(SupportTicket.requester), selectinload(SupportTicket.assignee))


def get_ticket(viewer: User, ticket_id: int) -> SupportTicket:
    """A ticket its requester or the staff may see; anyone else gets NotFound (never a hint that it exists)."""
    query = _ticket_query().where(SupportTicket.id == ticket_id)
    if not viewer.is_staff:
        query = query.where(SupportTicket.requester_id == viewer.id)
    ticket = db.session.scalar(query)
    if ticket is None:
        raise NotFound("We could not find that ticket.")
    return ticket


def visible_messages(viewer: User, ticket: SupportTicket) -> list[TicketMessage]:
    """The thread as `viewer` may read it: internal notes are for the staff only."""
    return [m for m in ticket.messages if viewer.is_staff or not m.internal]


def my_tickets(user: User) -> list[SupportTicket]:
    """The user's own tickets, newest activity first."""
    return list(db.session.scalars(select(SupportTicket).where(SupportTicket.requester_id == user.id)
                                   .order_by(SupportTicket.updated_at.desc(), SupportTicket.id.desc()).limit(200)))


@dataclass(frozen=True)
class Inbox:
    tickets: list[SupportTicket]
    page: int
    has_more: bool


def inbox(viewer: User, *, q: str = "", status: str = "", priority: str = "", assignee: str = "",
          page: int = 1) -> Inbox:
    """The staff's inbox: filter by status ("active" = new, open and pending), priority and assignee ("me",
    "none" or an id), search subjects, requesters and messages; the answer due soonest first."""
    if not viewer.is_staff:
        raise NotFound("We could not find that page.")
    query = select(SupportTicket).options(selectinload(SupportTicket.requester), selectinload(SupportTicket.assignee))
    if status == "active":
        query = query.where(SupportTicket.status.in_([TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING]))
    elif status:
        if status not in set(TicketStatus):
            raise ValidationError("Pick a status from the list.", {"status": "Unknown status."})
        query = query.where(SupportTicket.status == status)
    if priority:
        if priority not in set(TicketPriority):
            raise ValidationError("Pick a priority from the list.", {"priority": "Unknown priority."})
        query = query.where(SupportTicket.priority == priority)
    if assignee == "me":
        query = query.where(SupportTicket.assignee_id == viewer.id)
    elif assignee == "none":
        query = query.where(SupportTicket.assignee_id.is_(None))
    elif assignee:
        if parse_id(assignee) is None:
            raise ValidationError("Pick an assignee from the list.", {"assignee": "Unknown assignee."})
        query = query.where(SupportTicket.assignee_id == parse_id(assignee))
    words = " ".join((q or "").split())[:100].lower()
    if words:
        like = f"%{words}%"
        in_messages = select(TicketMessage.ticket_id).where(func.lower(TicketMessage.body).like(like))
        query = query.join(User, User.id == SupportTicket.requester_id).where(or_(
            func.lower(SupportTicket.subject).like(like), func.lower(User.name).like(like),
            func.lower(User.email).like(like), SupportTicket.id.in_(in_messages),
            SupportTicket.id == (parse_id(words.lstrip("#")) or -1)))
    page = max(page, 1)
    # Due soonest first (tickets without a due time last), then newest.
    rows = list(db.session.scalars(query.order_by(SupportTicket.due_at.is_(None), SupportTicket.due_at,
                                                  SupportTicket.id.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return Inbox(rows[:PAGE_SIZE], page, len(rows) > PAGE_SIZE)


def staff_members() -> list[User]:
    """Who a ticket may be assigned to."""
    return list(db.session.scalars(select(User).where(User.role.in_(["admin", "support"]),
                                                      User.suspended_at.is_(None)).order_by(User.name)))


def booking_for(user: User, booking_id: int | None) -> Booking | None:
    """The booking a new ticket is about, if the user may see it (someone else's is NotFound)."""
    return get_booking(user, booking_id) if booking_id is not None else None


# --- writing --------------------------------------------------------------------------------------------------

def _clean_subject(subject: str | None) -> str:
    text = " ".join(subject.split()) if isinstance(subject, str) else ""
    if not text:
        raise ValidationError("Say in a few words what the problem is.", {"subject": "Required."})
    if len(text) > rules.SUBJECT_MAX:
        raise ValidationError(f"Keep the subject under {rules.SUBJECT_MAX} characters.",
                              {"subject": f"Up to {rules.SUBJECT_MAX} characters."})
    return text


def _clean_body(body: str | None) -> str:
    text = body.replace("\r\n", "\n").strip() if isinstance(body, str) else ""
    if not text:
        raise ValidationError("Write your message.", {"body": "Write a message."})
    if len(text) > rules.BODY_MAX:
        raise ValidationError(f"The message is too long: at most {rules.BODY_MAX:,} characters.",
                              {"body": f"At most {rules.BODY_MAX:,} characters."})
    return text


def _store_files(files: list[Upload]) -> list[uploads.StoredFile]:
    """Store the uploads (the same rules as note attachments) before anything is written; all or none."""
    files = [f for f in files if f is not None and (f.filename or "").strip()]
    if len(files) > rules.MAX_ATTACHMENTS:
        raise ValidationError(f"Attach at most {rules.MAX_ATTACHMENTS} files to a message.",
                              {"attachments": f"At most {rules.MAX_ATTACHMENTS} files."})
    config, stored = current_app.config, []
    try:
        for upload in files:
            stored.append(uploads.store(upload.stream, upload.filename, config["UPLOAD_DIR"],
                                        config["MAX_ATTACHMENT_BYTES"]))
    except uploads.UploadRejected as exc:
        _discard(stored)
        raise ValidationError(str(exc), {"attachments": str(exc)}) from None
    return stored


def _discard(stored: list[uploads.StoredFile]) -> None:
    for s in stored:
        uploads.delete(current_app.config["UPLOAD_DIR"], s.stored_name)


def _add_message(ticket: SupportTicket, author: User, body: str, stored: list[uploads.StoredFile], now: datetime,
                 *, internal: bool = False, via: str = "web") -> TicketMessage:
    message = TicketMessage(author_id=author.id, body=body, internal=internal, via=via, created_at=now)
    message.attachments = [TicketAttachment(original_name=s.original_name, stored_name=s.stored_name,
                                            content_type=s.content_type, size_bytes=s.size_bytes, created_at=now)
                           for s in stored]
    ticket.messages.append(message)
    ticket.updated_at = now
    return message


def _tell_staff(ticket: SupportTicket, author: User, body: str, first: bool) -> None:
    """The assignee (else the support address) hears of a new ticket or the user's reply."""
    to = ticket.assignee.email if ticket.assignee is not None else current_app.config["SUPPORT_EMAIL"]
    outbox.enqueue_email("ticket_for_staff", to, {
        "ticket_id": ticket.id, "subject": ticket.subject, "from_name": author.name, "from_email": author.email,
        "body": body, "first": first, "url": public_url(f"/admin/tickets/{ticket.id}")})


def _tell_requester(ticket: SupportTicket, author: User, body: str, now: datetime) -> None:
    """The user hears of the staff's answer: in the app, by push, and by email with a single-use reply link."""
    requester = ticket.requester
    token = signed_links.make_token(REPLY_PURPOSE, {"t": ticket.id, "u": requester.id}, now + REPLY_LINK_LIFETIME)
    notify(requester, kind="SupportReply", title=f"Support answered: {ticket.subject}",
           body=body if len(body) <= 200 else body[:199] + "…", url=f"/support/tickets/{ticket.id}",
           email_template="ticket_reply", email_context={
               "name": requester.name, "ticket_id": ticket.id, "subject": ticket.subject, "from_name": author.name,
               "body": body, "url": public_url(f"/support/tickets/{ticket.id}"),
               "reply_url": public_url(f"/support/reply/{token}"), "zone": requester.timezone})


def open_ticket(user: User, subject: str | None, body: str | None, booking_id: int | None, files: list[Upload],
                now: datetime, form_key: str | None = None) -> SupportTicket:
    """Open a ticket (optionally about a booking the user may see); the staff hears at once. The same form sent
    twice (its one-time key) opens one ticket."""
    if user.is_suspended:
        raise AccountSuspended(user.suspension_reason)
    subject, text = _clean_subject(subject), _clean_body(body)
    booking = booking_for(user, booking_id)
    if form_key:
        existing = db.session.scalar(select(SupportTicket).where(SupportTicket.form_key == form_key,
                                                                 SupportTicket.requester_id == user.id))
        if existing is not None:
            return existing
    stored = _store_files(files)
    try:
        priority = TicketPriority.HIGH if booking is not None else TicketPriority.NORMAL
        ticket = SupportTicket(requester_id=user.id, subject=subject, status=TicketStatus.NEW, priority=priority,
                               booking_id=booking.id if booking else None, due_at=rules.due_at(priority, now),
                               created_at=now, updated_at=now, form_key=form_key or None)
        db.session.add(ticket)
        _add_message(ticket, user, text, stored, now)
        db.session.flush()
        _tell_staff(ticket, user, text, first=True)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _discard(stored)
        existing = db.session.scalar(select(SupportTicket).where(SupportTicket.form_key == form_key))
        if existing is None or existing.requester_id != user.id:
            raise Conflict("That form was already used; reload the page and try again.") from None
        return existing
    except BaseException:
        db.session.rollback()
        _discard(stored)
        raise
    return ticket


def reply(author: User, ticket_id: int, body: str | None, files: list[Upload], now: datetime, *,
          internal: bool = False, form_key: str | None = None) -> TicketMessage:
    """Write on a ticket: the requester's reply reopens it for the staff; the staff's answer waits for the user
    (and tells them); an internal note (staff only) changes nothing the user sees. The same form sent twice (its
    one-time key) posts once."""
    ticket = get_ticket(author, ticket_id)
    form_key = (form_key or "").strip()[:64] or None
    if form_key and (already := _reply_of(ticket.id, author.id, form_key)) is not None:
        return already
    if internal and not author.is_staff:
        raise Forbidden("Only the staff writes internal notes.")
    if author.is_suspended:
        raise AccountSuspended(author.suspension_reason)
    if not rules.accepts_replies(ticket.status):
        raise Conflict("This ticket is closed. Open a new one if something else went wrong.")
    text = _clean_body(body)
    stored = _store_files(files)
    try:
        message = _add_message(ticket, author, text, stored, now, internal=internal)
        message.form_key = form_key
        from_staff = author.is_staff and author.id != ticket.requester_id
        if internal or from_staff:
            db.session.flush()  # the message's id, for the audit entry that records what the staff wrote
        if internal:
            audit.record(author, "ticket.note", "ticket", ticket.id, f"Internal note on ticket #{ticket.id}: "
                         f"{_excerpt(text)}", now, after={"message_id": message.id, "internal": True,
                                                          "attachments": [s.original_name for s in stored]})
        elif from_staff:
            before = ticket.status
            ticket.status = rules.after_staff_reply(ticket.status)
            ticket.due_at = None  # the staff has answered; the next user reply sets a new due time
            if ticket.assignee_id is None:
                ticket.assignee_id = author.id  # whoever answers first owns it
            _tell_requester(ticket, author, text, now)
            audit.record(author, "ticket.reply", "ticket", ticket.id, f"Answered ticket #{ticket.id}: "
                         f"{ticket.subject}: {_excerpt(text)}", now, before={"status": before},
                         after={"status": ticket.status, "message_id": message.id,
                                "attachments": [s.original_name for s in stored]})
        else:
            _user_wrote(ticket, author, text, now)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _discard(stored)
        already = _reply_of(ticket_id, author.id, form_key) if form_key else None
        if already is None:
            raise Conflict("That form was already used; reload the page and try again.") from None
        return already  # the other click of a double click posted it
    except BaseException:
        db.session.rollback()
        _discard(stored)
        raise
    return message


def _reply_of(ticket_id: int, author_id: int, form_key: str) -> TicketMessage | None:
    """The message this reply form already posted on this ticket, by this author."""
    return db.session.scalar(select(TicketMessage).where(TicketMessage.form_key == form_key,
                                                         TicketMessage.ticket_id == ticket_id,
                                                         TicketMessage.author_id == author_id))


def _excerpt(text: str, limit: int = 200) -> str:
    """The start of what the staff wrote, for the audit log's summary (searchable by its words)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _user_wrote(ticket: SupportTicket, author: User, text: str, now: datetime) -> None:
    ticket.status = rules.after_user_reply(ticket.status)
    ticket.due_at = rules.due_at(ticket.priority, now)
    _tell_staff(ticket, author, text, first=False)


_UPDATABLE = ("status", "priority", "assignee_id")
_FIELD_WORDS = {"status": "the status", "priority": "the priority", "assignee_id": "the assignee"}


def update_ticket(actor: User, ticket_id: int, *, status: str | None, priority: str | None,
                  assignee_id: int | None, now: datetime, seen: dict | None = None) -> SupportTicket:
    """The staff changes a ticket's status, priority (the due time follows) or assignee; audited. With `seen` (what
    the form showed) only the fields the staff changed are written, and none if another staff member changed one of
    them meanwhile (Conflict, in words)."""
    if not actor.is_staff:
        raise NotFound("We could not find that ticket.")
    ticket = get_ticket(actor, ticket_id)
    if status not in set(TicketStatus):
        raise ValidationError("Pick a status from the list.", {"status": "Unknown status."})
    if priority not in set(TicketPriority):
        raise ValidationError("Pick a priority from the list.", {"priority": "Unknown priority."})
    if assignee_id is not None and assignee_id not in {u.id for u in staff_members()}:
        raise ValidationError("Assign the ticket to someone on the staff.", {"assignee_id": "Not on the staff."})
    # Lock and re-read the row so two staff saving at once are compared against what was really committed.
    ticket = db.session.get(SupportTicket, ticket.id, with_for_update=True, populate_existing=True)
    before = {k: getattr(ticket, k) for k in _UPDATABLE}
    wanted = {"status": status, "priority": priority, "assignee_id": assignee_id}
    if seen is not None:
        wanted = {k: v for k, v in wanted.items() if v != seen.get(k)}  # only what this staff member changed
        stale = [k for k, v in wanted.items() if before[k] != seen.get(k) and before[k] != v]
        if stale:
            db.session.rollback()
            raise Conflict(" ".join(_changed_meanwhile(ticket_id, k, before[k]) for k in stale)
                           + " Look again and save what you still want.")
    after = {**before, **wanted}
    if before == after:
        db.session.rollback()  # release the lock
        return ticket
    changed = {k: after[k] for k in _UPDATABLE if after[k] != before[k]}
    values = {**changed, "updated_at": now}
    if after["priority"] != before["priority"] and after["status"] in (TicketStatus.NEW, TicketStatus.OPEN):
        values["due_at"] = rules.due_at(after["priority"], now)
    # Written only if the fields changed still hold what was read (SQLite has no row lock), else nothing is.
    guard = [getattr(SupportTicket, k).is_(None) if before[k] is None else getattr(SupportTicket, k) == before[k]
             for k in changed]
    written = db.session.execute(update(SupportTicket).where(SupportTicket.id == ticket_id, *guard).values(**values)
                                 .execution_options(synchronize_session=False)).rowcount
    if written != 1:
        db.session.rollback()
        raise Conflict("Someone else changed this ticket meanwhile. Look again and save what you still want.")
    summary = ", ".join(f"{k} {before[k]} → {after[k]}" for k in changed)
    audit.record(actor, "ticket.update", "ticket", ticket_id, f"Ticket #{ticket_id}: {summary}", now,
                 before=before, after=after)
    db.session.commit()
    return db.session.get(SupportTicket, ticket_id, populate_existing=True)


def _changed_meanwhile(ticket_id: int, field: str, value) -> str:
    """Who set `field` to its current value (the newest audit entry that changed it to that), in words."""
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.target_type == "ticket",
                                                          AuditEntry.target_id == ticket_id)
                                 .order_by(AuditEntry.id.desc()).limit(20))
    who = next((e.actor_name for e in entries if (e.after or {}).get(field, object()) == value
                and (e.before or {}).get(field, object()) != value), None) or "Someone"
    if field == "assignee_id":
        shown = db.session.get(User, value).name if value is not None else "nobody"
    else:
        shown = str(value).capitalize()
    return f"{who} changed {_FIELD_WORDS[field]} to {shown} meanwhile."


# --- the emailed reply link -------------------------------------------------------------------------------------

def read_reply_link(token: str, now: datetime) -> tuple[SupportTicket, signed_links.LinkClaims]:
    """The ticket an emailed reply link is for, if the link is genuine, unexpired and unused and the ticket still
    takes replies."""
    claims = signed_links.read_token(REPLY_PURPOSE, token, now)
    ticket_id, user_id = claims.data.get("t"), claims.data.get("u")
    ticket = db.session.get(SupportTicket, ticket_id) if isinstance(ticket_id, int) else None
    if ticket is None or ticket.requester_id != user_id:
        raise signed_links.LinkError("This link is not valid.")
    if ticket.requester.is_suspended:
        raise signed_links.LinkError("This account is suspended, so it cannot reply.")
    if not rules.accepts_replies(ticket.status):
        raise signed_links.LinkError("This ticket is closed. Open a new one if something else went wrong.")
    return ticket, claims


def reply_by_link(token: str, body: str | None, now: datetime) -> SupportTicket:
    """Post the user's reply from the emailed link (once: the link is used up in the same transaction)."""
    ticket, claims = read_reply_link(token, now)
    text = _clean_body(body)
    try:
        signed_links.consume(claims, now)
        _add_message(ticket, ticket.requester, text, [], now, via="email")
        _user_wrote(ticket, ticket.requester, text, now)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ticket


# --- canned replies and files -----------------------------------------------------------------------------------

def canned_replies() -> list[CannedReply]:
    """The staff's saved answers, by title."""
    return list(db.session.scalars(select(CannedReply).order_by(CannedReply.title)))


def add_canned_reply(actor: User, title: str | None, body: str | None, now: datetime) -> CannedReply:
    """Save an answer for reuse (staff); audited."""
    if not actor.is_staff:
        raise NotFound("We could not find that page.")
    name = " ".join(title.split()) if isinstance(title, str) else ""
    if not name or len(name) > 120:
        raise ValidationError("Give the reply a title of up to 120 characters.", {"title": "1 to 120 characters."})
    text = _clean_body(body)
    if db.session.scalar(select(CannedReply.id).where(CannedReply.title == name)) is not None:
        raise ValidationError("A canned reply with that title exists already.", {"title": "Pick another title."})
    reply_row = CannedReply(title=name, body=text, created_at=now)
    db.session.add(reply_row)
    db.session.flush()
    audit.record(actor, "canned_reply.create", "canned_reply", reply_row.id, f"Added canned reply “{name}”", now,
                 after={"title": name})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("A canned reply with that title exists already.", {"title": "Pick another title."}) \
            from None
    return reply_row


def get_attachment(viewer: User, attachment_id: int) -> tuple[TicketAttachment, Path]:
    """A ticket file and where it is, for the requester (not on an internal note) or the staff."""
    row = db.session.get(TicketAttachment, attachment_id)
    if row is None:
        raise NotFound("We could not find that file.")
    ticket = get_ticket(viewer, row.message.ticket_id)  # NotFound for anyone else
    if row.message.internal and not viewer.is_staff:
        raise NotFound("We could not find that file.")
    path = uploads.path_for(current_app.config["UPLOAD_DIR"], row.stored_name)
    if path is None or ticket is None:
        raise NotFound("That file is no longer available.")
    return row, path


def is_overdue(ticket: SupportTicket, now: datetime) -> bool:
    """The staff owes an answer past its due time."""
    return rules.is_overdue(ticket.status, ticket.due_at, now)
