"""Prepaid minutes on the double-entry ledger (services/wallet.py) against the real database: grants keyed on what
paid for them, two-phase holds, refunds capped by what was posted, expiry recorded, and races for the last
minutes that only one booking wins."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from tests import factories
from webapp.adapters.database import serialized_write
from webapp.domain.ledger import EXPIRED, ISSUED, TAUGHT, InsufficientMinutes, minutes_currency
from webapp.extensions import db
from webapp.models import LedgerBalance, LedgerEntry, LedgerTransaction, MinuteLot
from webapp.services import wallet

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def _bookings(count: int):
    """`count` unpaid bookings of one student with one tutor, on distinct future slots."""
    teacher, teach = factories.tutor()
    student = factories.user("student")
    start = NOW.replace(minute=0) + timedelta(days=2)
    lessons = [factories.lesson_at(start + timedelta(hours=2 * i), teacher=teacher, teach=teach, booker=student,
                                   booking_state="AWAITING_PAYMENT") for i in range(count)]
    return teacher, student, [lesson.booking.id for lesson in lessons]


def _in_write(action):
    """Run `action(session)` in one serialized write, as a booking or approval service would."""
    with serialized_write() as session:
        return action(session)


def _platform_total(account: str, tutor_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                             .where(LedgerEntry.account == account, LedgerEntry.currency == minutes_currency(tutor_id)))


def test_a_replayed_grant_grants_nothing_twice(app):
    teacher, student, _ = _bookings(0)
    for _ in range(2):
        lot = wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=300, source="package",
                                   source_ref="cs_test_package_1", expires_at=NOW + timedelta(days=180))
    assert db.session.scalar(select(func.count()).select_from(MinuteLot)) == 1
    assert lot.minutes == 300
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=300, held=0)
    assert _platform_total(ISSUED, teacher.id) == -300


def test_a_hold_is_posted_on_approval_and_a_refund_returns_at_most_what_was_posted(app):
    teacher, student, (booking_id,) = _bookings(1)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=120, source="package",
                         source_ref="cs_1", expires_at=None)
    _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=student.id, tutor_id=teacher.id,
                                                minutes=60))
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=60, held=60)
    assert _in_write(lambda s: wallet.post_hold(s, booking_id)) is True
    assert _in_write(lambda s: wallet.void_hold(s, booking_id)) is False  # posted holds cannot be voided too
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=60, held=0)
    assert _platform_total(TAUGHT, teacher.id) == 60
    assert _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, 30, key="refund:1")) == 30
    assert _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, 60, key="refund:2")) == 30
    assert _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, 60, key="refund:3")) == 0
    assert _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, 60, key="refund:1")) == 0  # replay
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=120, held=0)


def test_a_declined_booking_gets_its_held_minutes_back(app):
    teacher, student, (booking_id,) = _bookings(1)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=60, source="package", source_ref="cs_2",
                         expires_at=None)
    _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=student.id, tutor_id=teacher.id,
                                                minutes=60))
    assert _in_write(lambda s: wallet.void_hold(s, booking_id)) is True
    assert _in_write(lambda s: wallet.void_hold(s, booking_id)) is False
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=60, held=0)
    assert _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, 60, key="refund:x")) == 0


def test_a_hold_the_balance_does_not_cover_is_refused_and_writes_nothing(app):
    teacher, student, (booking_id,) = _bookings(1)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=45, source="package", source_ref="cs_3",
                         expires_at=None)
    before = db.session.scalar(select(func.count()).select_from(LedgerTransaction))
    with pytest.raises(InsufficientMinutes, match="45 minutes; 60 minutes are needed"):
        _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=student.id,
                                                    tutor_id=teacher.id, minutes=60))
    assert db.session.scalar(select(func.count()).select_from(LedgerTransaction)) == before
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=45, held=0)


def test_two_bookings_racing_for_the_last_minutes_one_wins_the_other_is_told(app):
    teacher, student, booking_ids = _bookings(2)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=60, source="package", source_ref="cs_4",
                         expires_at=None)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    flask_app, student_id, tutor_id = app, student.id, teacher.id  # the threads must not touch this session

    def book(booking_id: int) -> None:
        with flask_app.app_context():
            barrier.wait()
            try:
                _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=student_id,
                                                            tutor_id=tutor_id, minutes=60))
                outcomes.append("held")
            except InsufficientMinutes:
                outcomes.append("short")
            except Exception as error:  # anything else is a failure to show, not a lost thread
                outcomes.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=book, args=(booking_id,)) for booking_id in booking_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == ["held", "short"]
    db.session.rollback()
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=0, held=60)


def test_expired_minutes_are_recorded_once_and_held_ones_wait_for_their_booking(app):
    teacher, student, (booking_id,) = _bookings(1)
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=90, source="package", source_ref="cs_5",
                         expires_at=NOW - timedelta(days=1))
    _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=student.id, tutor_id=teacher.id,
                                                minutes=60))
    assert wallet.expire_lots(NOW) == 30
    assert wallet.expire_lots(NOW) == 0  # safe to run twice
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=0, held=60)
    _in_write(lambda s: wallet.void_hold(s, booking_id))  # declined: the minutes come back to an expired lot...
    assert wallet.expire_lots(NOW) == 60  # ...and the next run expires them
    assert wallet.balance(student.id, teacher.id) == wallet.WalletBalance(available=0, held=0)
    assert _platform_total(EXPIRED, teacher.id) == 90


class WalletMachine(RuleBasedStateMachine):
    """Random sequences of buy, hold, post, void, refund and expire; after every step the books balance."""

    def __init__(self):
        super().__init__()
        self.teacher, self.student, self.free = _bookings(6)
        self.held: list[int] = []
        self.posted: list[int] = []
        self.refs = 0

    @rule(minutes=st.integers(15, 240), expired=st.booleans())
    def buy(self, minutes, expired):
        self.refs += 1
        wallet.grant_minutes(user_id=self.student.id, tutor_id=self.teacher.id, minutes=minutes, source="package",
                             source_ref=f"cs_machine_{self.refs}",
                             expires_at=NOW + timedelta(days=-1 if expired else 30))

    @precondition(lambda self: self.free)
    @rule(minutes=st.sampled_from([30, 45, 60, 90]))
    def hold(self, minutes):
        booking_id = self.free[0]
        try:
            _in_write(lambda s: wallet.hold_for_booking(s, booking_id=booking_id, user_id=self.student.id,
                                                        tutor_id=self.teacher.id, minutes=minutes))
        except InsufficientMinutes:
            return
        self.held.append(self.free.pop(0))

    @precondition(lambda self: self.held)
    @rule(approve=st.booleans())
    def settle(self, approve):
        booking_id = self.held.pop(0)
        if approve:
            assert _in_write(lambda s: wallet.post_hold(s, booking_id))
            self.posted.append(booking_id)
        else:
            assert _in_write(lambda s: wallet.void_hold(s, booking_id))

    @precondition(lambda self: self.posted)
    @rule(minutes=st.integers(1, 120), index=st.integers(0, 5))
    def refund(self, minutes, index):
        booking_id = self.posted[index % len(self.posted)]
        self.refs += 1
        _in_write(lambda s: wallet.refund_booking_minutes(s, booking_id, minutes, key=f"refund:m:{self.refs}"))

    @rule()
    def expire(self):
        wallet.expire_lots(NOW)

    @invariant()
    def books_balance(self):
        db.session.rollback()
        per_transaction = db.session.execute(
            select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount) != 0)).all()
        assert per_transaction == []
        for row in db.session.scalars(select(LedgerBalance)):
            assert row.balance >= 0
            assert row.balance == db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
                LedgerEntry.account == row.account, LedgerEntry.currency == row.currency))
        # A lot of source "refund" is a new home for refunded minutes whose own lot had expired, not a grant.
        granted = db.session.scalar(select(func.coalesce(func.sum(MinuteLot.minutes), 0))
                                    .where(MinuteLot.source != "refund"))
        rehomed = db.session.scalar(select(func.coalesce(func.sum(MinuteLot.minutes), 0))
                                    .where(MinuteLot.source == "refund"))
        mine = wallet.balance(self.student.id, self.teacher.id)
        # Minutes are never created or lost: every minute granted is available, held, taught or expired.
        assert granted == -_platform_total(ISSUED, self.teacher.id)
        assert granted == (mine.available + mine.held + _platform_total(TAUGHT, self.teacher.id)
                           + _platform_total(EXPIRED, self.teacher.id))
        refunded = db.session.scalar(select(func.coalesce(func.sum(LedgerTransaction.minutes), 0))
                                     .where(LedgerTransaction.move == "refund"))
        posted = db.session.scalar(select(func.coalesce(func.sum(LedgerTransaction.minutes), 0))
                                   .where(LedgerTransaction.move == "post"))
        assert rehomed <= refunded
        assert 0 <= refunded <= posted


def test_random_sequences_of_wallet_moves_keep_the_books_balanced(app):
    from tests.conftest import _reset  # each example starts from empty tables

    class Machine(WalletMachine):
        def __init__(self):
            db.session.remove()  # end the previous example's transaction (TRUNCATE waits for it) and forget its rows
            _reset(app, app.config["REDIS_URL"])
            super().__init__()

    Machine.TestCase.settings = settings(max_examples=15, stateful_step_count=20, deadline=None,
                                         suppress_health_check=list(HealthCheck))
    Machine.TestCase().runTest()
