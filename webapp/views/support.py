"""Support for users: open a ticket from any page (optionally about a booking), follow the conversation, reply
(also through the single-use link in the email), and download the files on it."""
from __future__ import annotations

import secrets
from urllib.parse import quote

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..adapters.uploads import ACCEPT, ALLOWED_WORDS
from ..services import signed_links, tickets
from ..services.errors import NotFound, ServiceError, ValidationError
from . import params
from .common import now_utc, render, send_stored_file

bp = Blueprint("support", __name__)


def _booking_arg() -> int | None:
    try:
        return params.optional_int(request.values, "booking")
    except ValidationError:
        return None


@bp.route("/support", methods=["GET", "POST"])
def new_ticket():
    """Signed in: open a ticket (about a booking when one is named) and see your tickets; otherwise how to email us."""
    booking_id = _booking_arg()
    if not current_user.is_authenticated:  # no account to open a ticket with: an email to support instead
        subject = f"Problem with booking #{booking_id}" if booking_id else "Help with Lessonbook"
        address = current_app.config["SUPPORT_EMAIL"]
        return render("main/support.html", address=address, subject=subject, booking_id=booking_id or "",
                      mailto=f"mailto:{address}?subject={quote(subject)}")
    error, fields, status = None, {}, 200
    if request.method == "POST":
        try:
            ticket = tickets.open_ticket(current_user, request.form.get("subject"), request.form.get("body"),
                                         booking_id, request.files.getlist("attachments"), now_utc(),
                                         form_key=request.form.get("form_key"))
        except ServiceError as exc:
            error, fields, status = exc.message, exc.fields, exc.status
        else:
            flash("Your ticket is open. We will answer here and by email.", "success")
            return redirect(url_for("support.ticket", ticket_id=ticket.id), code=303)
    try:
        booking = tickets.booking_for(current_user, booking_id)
    except NotFound:
        booking = None
    return render("support/new.html", booking=booking, mine=tickets.my_tickets(current_user), error=error,
                  fields=fields, form=request.form, form_key=secrets.token_urlsafe(16), accept=ACCEPT,
                  allowed=ALLOWED_WORDS, status=status)


@bp.route("/support/tickets/<id:ticket_id>", methods=["GET", "POST"])
@login_required
def ticket(ticket_id: int):
    """The conversation (internal notes are never shown here) and the reply box."""
    error, fields = None, {}
    if request.method == "POST":
        try:
            tickets.reply(current_user, ticket_id, request.form.get("body"), request.files.getlist("attachments"),
                          now_utc(), form_key=request.form.get("form_key"))
        except ValidationError as exc:
            error, fields = exc.message, exc.fields
        except ServiceError as exc:
            flash(exc.message, "error")
            return redirect(url_for("support.ticket", ticket_id=ticket_id), code=303)
        else:
            flash("Reply sent.", "success")
            return redirect(url_for("support.ticket", ticket_id=ticket_id), code=303)
    found = tickets.get_ticket(current_user, ticket_id)
    return render("support/ticket.html", ticket=found, messages=tickets.visible_messages(current_user, found),
                  error=error, fields=fields, draft=request.form.get("body", ""), accept=ACCEPT,
                  form_key=request.form.get("form_key") or secrets.token_urlsafe(16),
                  allowed=ALLOWED_WORDS, status=422 if error else 200)


@bp.route("/support/reply/<token>", methods=["GET", "POST"])
def reply_by_link(token: str):
    """The emailed reply link: GET shows the reply form; POST posts the reply (once), no log-in needed."""
    now = now_utc()
    try:
        found, _ = tickets.read_reply_link(token, now)
    except signed_links.LinkError as exc:
        return render("support/link_refused.html", message=exc.message, status=400)
    error = None
    if request.method == "POST":
        try:
            tickets.reply_by_link(token, request.form.get("body"), now)
        except signed_links.LinkError as exc:
            return render("support/link_refused.html", message=exc.message, status=409)
        except ValidationError as exc:
            error = exc.message
        else:
            return render("support/link_replied.html", ticket=found)
    return render("support/reply_link.html", ticket=found, error=error, draft=request.form.get("body", ""),
                  status=422 if error else 200)


@bp.get("/support/attachments/<id:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """Download a file on a ticket: its requester (not from an internal note) or the staff; always as a download."""
    row, path = tickets.get_attachment(current_user, attachment_id)
    return send_stored_file(row, path)
