"""The SMTP sink `make run` starts when no MAIL_HOST is set: one line per email; /dev/mail shows them rendered.

aiosmtpd's own debugging server prints every message as raw MIME, which buries everything else `make run` says.
"""
from __future__ import annotations

import argparse
import email
import signal
import threading
from email import policy


def mail_line(recipients: list[str], subject: str, viewer_url: str) -> str:
    """One line for one email: who it went to, its subject, and where to read it."""
    return f"to {', '.join(recipients) or '(nobody)'}: “{subject or '(no subject)'}” — {viewer_url}"


class OneLinePerMessage:
    """An aiosmtpd handler that accepts everything and prints one line per message."""

    def __init__(self, viewer_url: str):
        self.viewer_url = viewer_url

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        print(mail_line(list(envelope.rcpt_tos), str(message.get("Subject", "")), self.viewer_url), flush=True)
        return "250 OK"


def main(argv: list[str] | None = None) -> None:
    """Run the sink on 127.0.0.1 until SIGTERM or Ctrl-C."""
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--viewer-url", default="/dev/mail", help="where the emails can be read (printed per email)")
    args = parser.parse_args(argv)
    controller = Controller(OneLinePerMessage(args.viewer_url), hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"SMTP sink on 127.0.0.1:{args.port}; one line per email, read them at {args.viewer_url}", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
