"""The outbox: emails and push messages are written with the change that causes them and delivered by a job."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import select, update

from ..adapters import calendar_files, mail, push
from ..domain.calendar_entry import CalendarEntry
from ..extensions import db
from ..models import OutboxMessage, PushSubscription


def enqueue_email(template: str, to: str, context: dict, *, bcc: list[str] | None = None,
                  dedupe_key: str | None = None) -> OutboxMessage | None:
    """Add an email to the caller's transaction (no commit here); a dedupe key makes it at most once."""
    if dedupe_key and db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)):
        return None
    message = OutboxMessage(template=template, to_address=to, bcc=",".join(bcc or []), context=context,
                            dedupe_key=dedupe_key)
    db.session.add(message)
    return message


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """Subject, text and HTML bodies from templates/email/<template>/."""
    subject = render_template(f"email/{template}/subject.txt", **context).strip()
    return (subject, render_template(f"email/{template}/body.txt", **context),
            render_template(f"email/{template}/body.html", **context))


def attachments_for(context: dict, now: datetime) -> list[tuple[str, str, bytes]]:
    """Files an email carries: a calendar entry when the context has one (lessons created, moved or cancelled)."""
    entry = context.get("ics")
    if not entry:
        return []
    return [calendar_files.attachment(CalendarEntry.from_json(entry), organizer=current_app.config["MAIL_FROM"],
                                      stamp=now)]


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** attempts, 240))


def deliver_due(now: datetime, limit: int = 100) -> int:
    """Send due emails and push messages; failures wait with backoff. Safe to run twice or concurrently."""
    ids = list(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id).limit(limit)))
    db.session.commit()
    sent = 0
    for message_id in ids:
        # Claim it: only one runner moves pending → sending for this attempt.
        claimed = db.session.execute(update(OutboxMessage).where(
            OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sending", attempts=OutboxMessage.attempts + 1))
        db.session.commit()
        if not claimed.rowcount:
            continue
        message = db.session.get(OutboxMessage, message_id)
        try:
            if message.channel == "push":
                _push_to_devices(message)
            else:
                subject, text, html = render_email(message.template, message.context)
                mail.send(to=message.to_address, subject=subject, text=text, html=html,
                          attachments=attachments_for(message.context, now),
                          bcc=[a for a in message.bcc.split(",") if a])
        except Exception as exc:  # SMTP or push service down, DNS, template data: keep the message and try later
            give_up = message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]
            message.status = "failed" if give_up else "pending"
            message.next_attempt_at = now + _backoff(message.attempts)
            message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        else:
            message.status, message.sent_at, message.last_error = "sent", now, None
            sent += 1
        db.session.commit()
    return sent


def _push_to_devices(message: OutboxMessage) -> None:
    """Push one message to every device of its user; gone devices are forgotten, failures raise after the rest.

    The devices already reached are kept in the message, so a retry after one device failed does not push the
    others twice. A user with no devices has nothing to deliver: the message is done."""
    context = message.context or {}
    payload = {"title": context.get("title", ""), "body": context.get("body", ""), "url": context.get("url", "")}
    reached = set(context.get("pushed_to", []))
    failure: Exception | None = None
    devices = list(db.session.scalars(select(PushSubscription).where(PushSubscription.user_id == message.user_id)
                                      .order_by(PushSubscription.id)))
    for device in devices:
        if device.id in reached:
            continue
        try:
            push.send({"endpoint": device.endpoint, "keys": {"p256dh": device.p256dh, "auth": device.auth}}, payload)
        except push.PushGone:
            db.session.delete(device)  # the browser unsubscribed or the subscription expired
        except Exception as exc:  # this device's push service is down: try the others, then retry this one
            failure = failure or exc
        else:
            reached.add(device.id)
    message.context = {**context, "pushed_to": sorted(reached)}  # a new dict: JSON columns track assignment only
    if failure is not None:
        raise failure
