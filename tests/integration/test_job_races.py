"""Jobs of the wallet, offers, homework and analytics features run twice at the same moment (two workers, a manual
run beside the scheduled one, a job and its sweep): the work is done once and neither run fails.

To make "at the same moment" certain rather than lucky, the other run is played by a connection of the test's own
(PostgreSQL) that writes the conflicting row and keeps its transaction open until the job under test is seen
waiting on it; then it commits, exactly as the faster of two workers would."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, text

from tests import factories
from tests.integration.test_special_offers import offer
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import offer_announcements


def now() -> datetime:
    return datetime.now(UTC)


def in_thread(app, call):
    """Start call() on a thread with its own app context; returns (thread, box) where box holds its result or
    exception once the thread is joined."""
    box: dict = {}

    def run():
        with app.app_context():
            try:
                box["result"] = call()
            except Exception as exc:  # noqa: BLE001 — the test shows it
                box["error"] = exc
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def wait_until_someone_waits_on_a_lock(timeout: float = 60) -> None:
    """Until a backend of this database is waiting for a lock (the job reached the other run's row)."""
    deadline = time.monotonic() + timeout
    with db.engine.connect() as look:
        while time.monotonic() < deadline:
            waiting = look.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND wait_event_type = 'Lock'"))
            look.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the job never reached the row the other run was writing")


@contextmanager
def another_run_writing(*statements):
    """The other worker: its writes are made and left uncommitted until the block ends, then committed."""
    with db.engine.connect() as other:
        for statement in statements:
            other.execute(statement)
        yield
        other.commit()


@pytest.fixture
def postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("row locks between two connections: PostgreSQL (SQLite has one writer at a time)")


def test_an_announcement_written_by_two_runs_at_once_emails_each_user_once_and_neither_fails(app, postgresql_only):
    students = [factories.user("student") for _ in range(3)]
    coupon = offer("RACE", "EVERYONE", percent=1000)
    offer_announcements.request_announcement(factories.user("admin"), coupon.id, now())
    coupon_id, first = coupon.id, students[0]
    db.session.commit()

    # The other run has just written the first student's email, and not committed yet.
    with another_run_writing(insert(OutboxMessage).values(
            template="offer_announcement", to_address=first.email, bcc="", context={},
            dedupe_key=f"offer:{coupon_id}:announce:{first.id}", status="pending", attempts=0,
            next_attempt_at=now(), created_at=now())):
        thread, box = in_thread(app, lambda: offer_announcements.announce(coupon_id, now()))
        wait_until_someone_waits_on_a_lock()
    thread.join(60)

    assert "error" not in box, box
    assert box["result"] == 2
    db.session.rollback()
    addresses = db.session.scalars(select(OutboxMessage.to_address).where(
        OutboxMessage.dedupe_key.startswith(f"offer:{coupon_id}:announce:"))).all()
    assert sorted(addresses) == sorted(s.email for s in students)


def test_a_notification_written_by_two_runs_at_once_is_kept_once_and_the_second_run_carries_on(app, postgresql_only):
    """What every reminder, digest and homework job relies on: notify() with a dedupe key under a race."""
    from webapp.models import Notification, User
    from webapp.services.notify import notify
    user_id = factories.user("student").id
    db.session.commit()

    def remind():
        written = notify(db.session.get(User, user_id), kind="reminder", title="Lesson tomorrow",
                         dedupe_key="reminder:1:24h", email_template="lesson_reminder", email_context={})
        db.session.commit()
        return written

    with another_run_writing(insert(Notification).values(user_id=user_id, kind="reminder", title="Lesson tomorrow",
                                                          body="", url="", dedupe_key="reminder:1:24h",
                                                          created_at=now())):
        thread, box = in_thread(app, remind)
        wait_until_someone_waits_on_a_lock()
    thread.join(60)

    assert box == {"result": None}
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_two_payout_runs_at_once_transfer_a_minute_paid_lesson_once(app, client, stripe_world):
    """Two workers (or a manual run beside the scheduled one) pay out the same settled lesson at the same moment."""
    from datetime import timedelta

    from tests.integration.test_minute_payouts import _bought_and_approved
    from tests.integration.test_refunds_and_payouts import onboard
    from webapp import jobs
    from webapp.models import MinutePayout
    booking = _bought_and_approved(stripe_world, client)
    account = onboard(booking.lesson.tutor)
    later = (booking.lesson.finish_at + timedelta(days=2, minutes=1)).isoformat()
    destination = account.stripe_account_id
    db.session.commit()
    barrier = threading.Barrier(2)

    def run():
        barrier.wait()
        return jobs.send_pending_payouts(later)

    runs = [in_thread(app, run) for _ in range(2)]
    for thread, _ in runs:
        thread.join(120)

    assert all("error" not in box for _, box in runs), runs
    assert sorted(box["result"] for _, box in runs) == [0, 1], runs
    transfers = stripe_world.client.v1.transfers.list(params={"destination": destination}).data
    assert [t.amount for t in transfers] == [3600]
    db.session.rollback()
    assert [r.transfer_id for r in db.session.scalars(select(MinutePayout))] == [transfers[0].id]
    assert jobs.send_pending_payouts(later) == 0
