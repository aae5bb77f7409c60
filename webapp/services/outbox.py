"""The outbox: emails and push messages are written with the change that causes them and delivered by a job."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, render_template
from sqlalchemy import and_, delete, or_, select, update

from ..adapters import calendar_files, mail, push
from ..adapters.database import insert_unless_present
from ..domain.calendar_entry import CalendarEntry
from ..extensions import db
from ..models import OutboxMessage, PushSubscription


def enqueue_email(template: str, to: str, context: dict, *, bcc: list[str] | None = None,
                  dedupe_key: str | None = None) -> OutboxMessage | None:
    """Add an email to the caller's transaction (no commit here); a dedupe key makes it at most once, even when two
    transactions write it at the same moment (two runs of a job): then the second writes nothing and returns None."""
    if dedupe_key is None:
        message = OutboxMessage(template=template, to_address=to, bcc=",".join(bcc or []), context=context)
        db.session.add(message)
        return message
    new_id = insert_unless_present(db.session, OutboxMessage, "dedupe_key", template=template, to_address=to,
                                   bcc=",".join(bcc or []), context=context, dedupe_key=dedupe_key)
    return db.session.get(OutboxMessage, new_id) if new_id is not None else None


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


@dataclass(frozen=True)
class _Claim:
    """One claimed message, as plain values, so the network call needs no session and no open transaction."""

    id: int
    attempt: int  # the attempts count this claim set: it identifies the claim when the result is recorded
    channel: str
    template: str
    to_address: str
    bcc: list[str]
    context: dict
    devices: tuple[tuple[int, str, str, str], ...]  # push: (id, endpoint, p256dh, auth) of the user's browsers


def _due(now: datetime):
    """Pending messages whose time has come, and claimed ones whose lease ran out (their sender died)."""
    return or_(and_(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now),
               and_(OutboxMessage.status == "sending",
                    or_(OutboxMessage.sending_until.is_(None), OutboxMessage.sending_until <= now)))


def deliver_due(now: datetime, limit: int = 100) -> int:
    """Send due emails and push messages under a lease; failures wait with backoff. Safe to run twice or concurrently.

    Each message is claimed in a short transaction (status `sending`, `sending_until` = now + the lease), sent with
    no transaction open, and its result recorded in another short transaction, for that claim only. A sender that
    dies between claim and record (a killed worker, a lost database connection) leaves the row `sending` until its
    lease ends; then the next run claims and sends it again. So nothing is lost, and nothing is sent twice unless a
    sender died after the SMTP server or push service accepted the message but before the result was recorded:
    delivery is at least once, with that one window. When the SMTP server does not answer within its timeout (an
    unreachable host, or a server that accepts and stays silent), the run sends no more email, so a stalled server
    costs one timeout per run, not one per message."""
    due = db.session.execute(select(OutboxMessage.id, OutboxMessage.channel).where(_due(now))
                             .order_by(OutboxMessage.id).limit(limit)).all()
    db.session.commit()
    sent = 0
    smtp_stalled = False
    for message_id, channel in due:
        if smtp_stalled and channel != "push":
            continue  # the server just timed out: the other emails wait for the next run, unclaimed
        claim = _claim(message_id, now)
        if claim is None:
            continue  # another runner has it, or it was sent meanwhile
        try:
            reached, gone = _send(claim, now)
        except _PartialPush as partial:
            _record(claim, now, error=partial.error, reached=partial.reached, gone=partial.gone)
        except Exception as exc:  # SMTP or push service down, DNS, template data: keep the message and try later
            _record(claim, now, error=exc)
            smtp_stalled = smtp_stalled or (claim.channel != "push" and mail.server_stalled(exc))
        else:
            sent += _record(claim, now, reached=reached, gone=gone)
    return sent


def _claim(message_id: int, now: datetime) -> _Claim | None:
    """Take the message for one send attempt under a lease, in one short transaction; None if not ours to send."""
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    claimed = db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, _due(now))
                                 .values(status="sending", sending_until=now + lease,
                                         attempts=OutboxMessage.attempts + 1))
    if not claimed.rowcount:
        db.session.commit()
        return None
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    devices: tuple = ()
    if message.channel == "push":
        devices = tuple(tuple(row) for row in db.session.execute(
            select(PushSubscription.id, PushSubscription.endpoint, PushSubscription.p256dh, PushSubscription.auth)
            .where(PushSubscription.user_id == message.user_id).order_by(PushSubscription.id)))
    claim = _Claim(message.id, message.attempts, message.channel, message.template, message.to_address,
                   [a for a in message.bcc.split(",") if a], dict(message.context or {}), devices)
    db.session.commit()
    return claim


def _send(claim: _Claim, now: datetime) -> tuple[list[int], list[int]]:
    """The network part: no database access here. Returns (devices reached, devices gone) for push."""
    if claim.channel == "push":
        return _push_to_devices(claim)
    subject, text, html = render_email(claim.template, claim.context)
    mail.send(to=claim.to_address, subject=subject, text=text, html=html,
              attachments=attachments_for(claim.context, now), bcc=claim.bcc)
    return [], []


def _record(claim: _Claim, now: datetime, *, error: Exception | None = None, reached: list[int] = (),
            gone: list[int] = ()) -> int:
    """Write the outcome of one claim in a short transaction; 1 when the message is now sent.

    Only the claim that is still current may write: if our lease ran out and another runner claimed the message
    meanwhile, its result is the one that counts."""
    values: dict = {"sending_until": None}
    if claim.channel == "push":
        pushed = sorted(set(claim.context.get("pushed_to", [])) | set(reached))
        values["context"] = {**claim.context, "pushed_to": pushed}
    if error is None:
        values.update(status="sent", sent_at=now, last_error=None)
    else:
        give_up = claim.attempt >= current_app.config["MAIL_MAX_ATTEMPTS"]
        values.update(status="failed" if give_up else "pending", next_attempt_at=now + _backoff(claim.attempt),
                      last_error=f"{type(error).__name__}: {error}"[:1000])
    if gone:  # the browser unsubscribed or the subscription expired
        db.session.execute(delete(PushSubscription).where(PushSubscription.id.in_(gone)))
    recorded = db.session.execute(update(OutboxMessage).where(
        OutboxMessage.id == claim.id, OutboxMessage.status == "sending", OutboxMessage.attempts == claim.attempt)
        .values(**values))
    db.session.commit()
    if not recorded.rowcount:
        current_app.logger.warning("outbox message %s: the lease of attempt %s ran out before its result was "
                                   "recorded; another run has it", claim.id, claim.attempt)
    return int(error is None and bool(recorded.rowcount))


class _PartialPush(Exception):
    """Some devices failed: what was reached and what is gone is still recorded, then the message retries."""

    def __init__(self, error: Exception, reached: list[int], gone: list[int]):
        super().__init__(str(error))
        self.error, self.reached, self.gone = error, reached, gone


def _push_to_devices(claim: _Claim) -> tuple[list[int], list[int]]:
    """Push one message to every device of its user; gone devices are reported, failures raise after the rest.

    The devices already reached are kept in the message, so a retry after one device failed does not push the
    others twice. A user with no devices has nothing to deliver: the message is done."""
    context = claim.context
    payload = {"title": context.get("title", ""), "body": context.get("body", ""), "url": context.get("url", "")}
    already = set(context.get("pushed_to", []))
    reached: list[int] = []
    gone: list[int] = []
    failure: Exception | None = None
    for device_id, endpoint, p256dh, auth in claim.devices:
        if device_id in already:
            continue
        try:
            push.send({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}, payload)
        except push.PushGone:
            gone.append(device_id)
        except Exception as exc:  # this device's push service is down: try the others, then retry this one
            failure = failure or exc
        else:
            reached.append(device_id)
    if failure is not None:
        raise _PartialPush(failure, reached, gone)
    return reached, gone
