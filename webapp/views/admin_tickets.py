"""The staff's support inbox: filter and search tickets; on a ticket, answer (or note internally), pick a canned
reply, change status, priority and assignee, and see the linked booking's timeline with its refund form."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from ..adapters.uploads import ACCEPT, ALLOWED_WORDS
from ..domain.roles import STAFF_ROLES
from ..domain.tickets import TicketPriority, TicketStatus
from ..services import booking_timeline, minute_refunds, tickets
from ..services.errors import ServiceError, ValidationError
from . import params
from .common import now_utc, render, role_required

bp = Blueprint("admin_tickets", __name__, url_prefix="/admin")


def _int_arg(source, name: str) -> int | None:
    try:
        return params.optional_int(source, name)
    except ValidationError:
        return None


@bp.get("/tickets/")
@role_required(*STAFF_ROLES)
def inbox():
    """Tickets by status, priority and assignee, searched by words; the answer due soonest first."""
    f = {k: request.args.get(k, "") for k in ("q", "status", "priority", "assignee")}
    if "status" not in request.args:
        f["status"] = "active"
    error = None
    try:
        found = tickets.inbox(current_user, page=max(_int_arg(request.args, "page") or 1, 1), **f)
    except ValidationError as exc:
        found, error = tickets.Inbox([], 1, False), exc.message
    return render("admin/tickets.html", partial="admin/_tickets_results.html", inbox=found, f=f, error=error,
                  statuses=list(TicketStatus), priorities=list(TicketPriority), staff=tickets.staff_members(),
                  now=now_utc(), overdue=tickets.is_overdue)


@bp.get("/tickets/<id:ticket_id>")
@role_required(*STAFF_ROLES)
def ticket(ticket_id: int):
    """One ticket with everything the staff needs to answer it."""
    return _ticket_page(ticket_id)


def _ticket_page(ticket_id: int, error: str | None = None, fields: dict | None = None, status: int = 200):
    found = tickets.get_ticket(current_user, ticket_id)
    canned = tickets.canned_replies()
    picked = _int_arg(request.args, "canned")
    draft = request.form.get("body") or next((c.body for c in canned if c.id == picked), "")
    booking, events = (booking_timeline.timeline(current_user, found.booking_id) if found.booking_id
                       else (None, []))
    return render("admin/ticket.html", ticket=found, messages=tickets.visible_messages(current_user, found),
                  canned=canned, picked=picked, draft=draft, booking=booking, events=events,
                  statuses=list(TicketStatus), priorities=list(TicketPriority), staff=tickets.staff_members(),
                  error=error, fields=fields or {}, accept=ACCEPT, allowed=ALLOWED_WORDS,
                  refund_offer=minute_refunds.staff_refund_offer(current_user, booking) if booking else None,
                  refund_request_key=uuid.uuid4().hex, reply_key=request.form.get("form_key") or uuid.uuid4().hex,
                  status=status)


@bp.post("/tickets/<id:ticket_id>/reply")
@role_required(*STAFF_ROLES)
def reply(ticket_id: int):
    """Answer the user (they hear by email with a reply link), or add an internal note they never see."""
    internal = request.form.get("internal") == "1"
    try:
        tickets.reply(current_user, ticket_id, request.form.get("body"), request.files.getlist("attachments"),
                      now_utc(), internal=internal, form_key=request.form.get("form_key"))
    except ValidationError as exc:
        return _ticket_page(ticket_id, exc.message, exc.fields, 422)
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("Internal note added." if internal else "Answer sent to the user.", "success")
    return redirect(url_for("admin_tickets.ticket", ticket_id=ticket_id), code=303)


@bp.post("/tickets/<id:ticket_id>/update")
@role_required(*STAFF_ROLES)
def update(ticket_id: int):
    """Change the status, priority or assignee (only those changed on the form; refused if changed meanwhile)."""
    try:
        tickets.update_ticket(current_user, ticket_id, status=request.form.get("status"),
                              priority=request.form.get("priority"),
                              assignee_id=_int_arg(request.form, "assignee_id"), now=now_utc(), seen=_seen())
        flash("Ticket updated.", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("admin_tickets.ticket", ticket_id=ticket_id), code=303)


def _seen() -> dict | None:
    """What the ticket form showed (its seen_* fields), so only what the staff member changed is saved."""
    form = request.form
    if not all(f"seen_{k}" in form for k in ("status", "priority", "assignee_id")):
        return None  # a form from before this check: every field is applied, as it was
    return {"status": form["seen_status"], "priority": form["seen_priority"],
            "assignee_id": _int_arg(form, "seen_assignee_id")}


@bp.route("/canned-replies", methods=["GET", "POST"])
@role_required(*STAFF_ROLES)
def canned():
    """The staff's saved answers; add one."""
    error, fields = None, {}
    if request.method == "POST":
        try:
            tickets.add_canned_reply(current_user, request.form.get("title"), request.form.get("body"), now_utc())
        except ServiceError as exc:
            error, fields = exc.message, exc.fields
        else:
            flash("Canned reply saved.", "success")
            return redirect(url_for("admin_tickets.canned"), code=303)
    return render("admin/canned.html", replies=tickets.canned_replies(), error=error, fields=fields,
                  form=request.form, status=422 if error else 200)
