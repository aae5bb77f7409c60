"""Sending one email over SMTP (any server; a local sink in dev and tests)."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app


def server_stalled(exc: BaseException) -> bool:
    """Whether `exc` is the SMTP server failing to answer within MAIL_TIMEOUT_SECONDS (unreachable host, or a
    server that accepts and stays silent): the next message would only wait as long again."""
    # smtplib turns a read that timed out into SMTPServerDisconnected; the timeout is its context.
    return isinstance(exc, TimeoutError) or (isinstance(exc, smtplib.SMTPServerDisconnected)
                                             and isinstance(exc.__context__, TimeoutError))


def send(*, to: str, subject: str, text: str, html: str, bcc: list[str] | None = None,
         attachments: list[tuple[str, str, bytes]] | None = None) -> None:
    """Deliver a multipart email; raises OSError/SMTPException when the server is unavailable."""
    cfg = current_app.config
    if not cfg.get("MAIL_HOST"):
        raise ConnectionError("MAIL_HOST is not configured")
    message = EmailMessage()
    message["From"] = cfg["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for filename, mime, data in attachments or []:
        kind, _, parameters = mime.partition(";")
        maintype, _, subtype = kind.strip().partition("/")
        params = dict(p.strip().split("=", 1) for p in parameters.split(";") if "=" in p)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename, params=params)
    # The timeout covers the connect and every reply, so a silent or stalled server raises instead of hanging.
    with smtplib.SMTP(cfg["MAIL_HOST"], cfg["MAIL_PORT"], timeout=cfg.get("MAIL_TIMEOUT_SECONDS", 10)) as smtp:
        smtp.send_message(message, to_addrs=[to, *(bcc or [])])
