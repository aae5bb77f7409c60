"""An opt-in pytest plugin that finds network calls made while a write transaction is open (PostgreSQL runs only).

    TEST_DATABASE_URL=... .venv/bin/pytest -p tests.network_in_transaction -k postgresql tests/integration/...

Python's audit hooks report every HTTP request (`http.client.send`, which requests, urllib3, the Stripe SDK, the
mixpanel library and our PayPal client all go through) and every SMTP command (`smtplib.send`). For each one made in
a thread with an app context, the hook asks PostgreSQL, on the session's own connection, whether that transaction
holds a transaction id (it wrote or locked rows) or advisory locks, and also looks for changes still waiting in the
session. Any of those is a network call inside a write transaction (README, "Transactions and the outside world"):
the test that made it fails at teardown with the stack of the call. Nothing is patched: the SDKs run as they are."""
from __future__ import annotations

import sys
import threading
import traceback

import pytest

_found: list[str] = []
_busy = threading.local()


def _open_write(session) -> str | None:
    """Why the session's transaction counts as a write one just now, or None."""
    from sqlalchemy import text

    from webapp.adapters.database import has_pending_changes
    if has_pending_changes(session):
        return "changes are waiting in the session"
    if not session.in_transaction():
        return None
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return None
    xid, advisory = connection.execute(text(
        "SELECT txid_current_if_assigned(), (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() "
        "AND locktype = 'advisory' AND granted)")).one()
    if xid is not None:
        return f"transaction {xid} has written or locked rows"
    if advisory:
        return f"{advisory} advisory lock(s) held"
    return None


def _hook(event: str, args: tuple) -> None:
    if event not in ("http.client.send", "smtplib.send") or getattr(_busy, "on", False):
        return
    from flask import has_app_context
    if not has_app_context():
        return
    _busy.on = True
    try:
        from webapp.extensions import db
        why = _open_write(db.session())
    except Exception:  # noqa: BLE001 — a session in a broken state is not ours to judge here
        why = None
    finally:
        _busy.on = False
    if why:
        stack = "".join(traceback.format_stack(limit=25)[:-2])
        _found.append(f"{event} while {why}\n{stack}")


def pytest_configure(config):
    sys.addaudithook(_hook)


@pytest.fixture(autouse=True)
def _no_network_call_inside_a_write_transaction():
    start = len(_found)
    yield
    found = _found[start:]
    if found:
        pytest.fail(f"{len(found)} network call(s) inside a write transaction:\n\n" + "\n\n".join(found[:3]),
                    pytrace=False)
