"""The dev mail viewer: every email in the outbox, rendered, so signed links can be clicked.

It shows everyone's mail with working signed links, so it exists only outside production, answers only when
DEV_MAIL_VIEWER is on (development; a test may turn it on for itself) and only to requests from this machine.
"""
import ipaddress
import re

from flask import Blueprint, abort, current_app, request
from sqlalchemy import select

from ..extensions import db
from ..models import OutboxMessage
from ..services.outbox import render_email
from .common import render

bp = Blueprint("dev_mail", __name__, url_prefix="/dev")


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").strip()).is_loopback
    except ValueError:
        return False


def _from_this_machine() -> bool:
    """The connection comes from loopback and no proxy says it forwarded it from anywhere else."""
    if not _is_loopback(request.remote_addr):
        return False
    forwarded = [a for a in request.headers.get("X-Forwarded-For", "").split(",") if a.strip()]
    if any(not _is_loopback(a) for a in forwarded):
        return False
    # A proxy speaking RFC 7239 instead: any Forwarded header means someone else's request came through it.
    return "Forwarded" not in request.headers


@bp.before_request
def _only_in_development_and_only_locally():
    if not current_app.config.get("DEV_MAIL_VIEWER"):
        abort(404)
    if not _from_this_machine():
        return render("dev/refused.html", status=403)
    return None


@bp.get("/mail")
def inbox():
    """The newest 100 emails, whoever they are to."""
    messages = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")
                                       .order_by(OutboxMessage.id.desc()).limit(100)))
    rows = [(m, render_email(m.template, m.context)[0]) for m in messages]
    return render("dev/mail.html", rows=rows)


@bp.get("/mail/<id:message_id>")
def message(message_id: int):
    """One email as its recipient sees it."""
    found = db.session.get(OutboxMessage, message_id)
    if found is None or found.channel != "email":
        abort(404)
    subject, text, html = render_email(found.template, found.context)
    return render("dev/message.html", message=found, subject=subject, text=text, html=_for_viewer(html))


_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.S | re.I)
_STYLE_ATTRIBUTE = re.compile(r'\s+style="[^"]*"', re.I)


def _for_viewer(html: str) -> str:
    """The email's body without its inline styles: mail clients need them, but this page's Content-Security-Policy
    (style-src 'self') refuses them, and the viewer is for reading the words and clicking the links."""
    found = _BODY.search(html)
    return _STYLE_ATTRIBUTE.sub("", found.group(1) if found else html)
