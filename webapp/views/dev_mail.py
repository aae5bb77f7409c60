"""The dev mail viewer: every email in the outbox, rendered, so signed links can be clicked (never in production)."""
from flask import Blueprint, abort
from sqlalchemy import select

from ..extensions import db
from ..models import OutboxMessage
from ..services.outbox import render_email
from .common import render

bp = Blueprint("dev_mail", __name__, url_prefix="/dev")


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
    return render("dev/message.html", message=found, subject=subject, text=text, html=html)
