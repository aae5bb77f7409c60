"""Prepaid minutes: grant, hold, post, void, refund and expire them on the double-entry ledger.

The posting rules are in domain/ledger.py; this module writes them. Every move is one LedgerTransaction keyed by
what caused it (a Checkout session, an invoice, a booking), with entries that sum to zero; a replayed key records
nothing. A student's balances are cached in LedgerBalance rows, changed in the same transaction as the entries
under a row lock, which is what makes "two bookings race for the last minutes → one wins" hold on PostgreSQL as
on SQLite. Moves for a booking run inside the caller's transaction (the booking's own serialized write), so a
booking and its hold commit or fail together.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..adapters.database import serialized_write
from ..domain.ledger import (InsufficientMinutes, LedgerError, Lot, Move, available_account, check_balanced,
                             check_covered, drawn_from, held_account, is_student_account, lot_remaining,
                             minutes_currency, minutes_to_expire, minutes_tutor, postings_for, refund_lands_in_origin,
                             refundable_minutes)
from ..extensions import db
from ..models import LedgerBalance, LedgerEntry, LedgerTransaction, MinuteLot, User
from .locks import LOCK_WALLET

__all__ = ["InsufficientMinutes", "LedgerError", "LotLeft", "TutorMinutes", "WalletBalance", "WalletLine",
           "WalletStatement", "balance", "balances_of", "booking_minutes", "expire_lots", "grant_lot", "grant_minutes",
           "hold_for_booking", "lot_gone", "post_hold", "posted_minutes", "record_move", "refund_booking_minutes",
           "statement", "void_hold", "wallet_lock"]


@dataclass(frozen=True)
class WalletBalance:
    """A student's minutes with one tutor: what they can book with, and what is held for bookings."""

    available: int
    held: int


def wallet_lock(user_id: int) -> tuple[int, int]:
    """The serialized_write lock key of a student's wallet (callers moving minutes in their own write take it)."""
    return (LOCK_WALLET, user_id)


def _balance_row(session: Session, account: str, currency: str) -> LedgerBalance:
    """The cached balance row of a student account, created if new, locked for the rest of the transaction."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(LedgerBalance).values(account=account, currency=currency, balance=0)
                    .on_conflict_do_nothing(index_elements=["account", "currency"]))
    return session.execute(select(LedgerBalance).where(LedgerBalance.account == account,
                                                       LedgerBalance.currency == currency)
                           .with_for_update().execution_options(populate_existing=True)).scalar_one()


def record_move(session: Session, move: Move, *, user_id: int, tutor_id: int, minutes: int, key: str,
                booking_id: int | None = None, lot_id: int | None = None) -> LedgerTransaction | None:
    """Record one move in the caller's transaction; None when ``key`` was recorded before (a replay).

    Raises InsufficientMinutes when it would take a student account below zero (nothing is written then)."""
    if session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.key == key)) is not None:
        return None
    currency = minutes_currency(tutor_id)
    postings = postings_for(move, user_id, currency, minutes)
    check_balanced(postings)
    # Lock the student's balance rows in one order (so two writers cannot deadlock), then check and change them.
    # Platform accounts are derived from entries only: no shared hot row for every student to queue on.
    rows = {p.account: _balance_row(session, p.account, currency)
            for p in sorted(postings, key=lambda p: p.account) if is_student_account(p.account)}
    check_covered({account: row.balance for account, row in rows.items()}, postings)
    for posting in postings:
        if posting.account in rows:
            rows[posting.account].balance += posting.amount
    transaction = LedgerTransaction(key=key, move=str(move), user_id=user_id, tutor_id=tutor_id,
                                    booking_id=booking_id, lot_id=lot_id, minutes=minutes)
    transaction.entries = [LedgerEntry(account=p.account, currency=p.currency, amount=p.amount) for p in postings]
    session.add(transaction)
    session.flush()
    return transaction


def grant_minutes(*, user_id: int, tutor_id: int, minutes: int, source: str, source_ref: str,
                  expires_at: datetime | None, paid_minor: int | None = None,
                  currency: str | None = None) -> MinuteLot:
    """Grant a lot of minutes paid for outside (a package's Checkout session, a subscription invoice), once per
    ``source_ref``: a replayed webhook returns the lot it granted before."""
    with serialized_write(wallet_lock(user_id)) as session:
        return grant_lot(session, user_id=user_id, tutor_id=tutor_id, minutes=minutes, source=source,
                         source_ref=source_ref, expires_at=expires_at, paid_minor=paid_minor, currency=currency)


def grant_lot(session: Session, *, user_id: int, tutor_id: int, minutes: int, source: str, source_ref: str,
              expires_at: datetime | None, paid_minor: int | None = None, currency: str | None = None) -> MinuteLot:
    """grant_minutes inside the caller's write (a webhook applied under its own locks, which include the
    wallet's): once per ``source_ref``; ``paid_minor``/``currency`` are what the student paid for the lot."""
    lot = session.scalar(select(MinuteLot).where(MinuteLot.source_ref == source_ref))
    if lot is None:
        lot = MinuteLot(user_id=user_id, tutor_id=tutor_id, source=source, source_ref=source_ref,
                        minutes=minutes, expires_at=expires_at, paid_minor=paid_minor, currency=currency)
        session.add(lot)
        session.flush()
        record_move(session, Move.GRANT, user_id=user_id, tutor_id=tutor_id, minutes=minutes,
                    key=f"grant:{source_ref}", lot_id=lot.id)
    return lot


def _booking_minutes(session: Session, booking_id: int, move: Move) -> int:
    """Minutes moved for a booking by one kind of move, summed from its transactions."""
    return session.scalar(select(func.coalesce(func.sum(LedgerTransaction.minutes), 0))
                          .where(LedgerTransaction.booking_id == booking_id, LedgerTransaction.move == str(move)))


def _hold_of(session: Session, booking_id: int) -> LedgerTransaction | None:
    return session.scalar(select(LedgerTransaction).where(LedgerTransaction.key == f"hold:booking:{booking_id}"))


def _plain_lots(session: Session, user_id: int, tutor_id: int) -> list[Lot]:
    """A wallet's lots as plain values, with what has expired of each so far."""
    return [Lot(id=lot.id, minutes=lot.minutes, expires_at=lot.expires_at, expired=_expired_so_far(session, lot.id))
            for lot in session.scalars(select(MinuteLot).where(MinuteLot.user_id == user_id,
                                                               MinuteLot.tutor_id == tutor_id))]


def hold_for_booking(session: Session, *, booking_id: int, user_id: int, tutor_id: int, minutes: int) -> None:
    """Hold a booking's minutes until the tutor approves (caller's transaction; raises InsufficientMinutes). The
    hold names the lot its minutes are drawn from (domain/ledger.drawn_from): a refund later goes back there."""
    owned = balance(user_id, tutor_id)
    origin = drawn_from(_plain_lots(session, user_id, tutor_id), owned.available + owned.held, owned.held)
    record_move(session, Move.HOLD, user_id=user_id, tutor_id=tutor_id, minutes=minutes,
                key=f"hold:booking:{booking_id}", booking_id=booking_id, lot_id=origin)


def post_hold(session: Session, booking_id: int) -> bool:
    """Post a booking's held minutes to the lesson (approval); False if there is no open hold."""
    return _settle_hold(session, booking_id, Move.POST)


def void_hold(session: Session, booking_id: int) -> bool:
    """Return a booking's held minutes to the student (decline, expiry, cancel before approval); False if none."""
    return _settle_hold(session, booking_id, Move.VOID)


def _settle_hold(session: Session, booking_id: int, move: Move) -> bool:
    hold = _hold_of(session, booking_id)
    if hold is None:
        return False
    # One key for both outcomes: a hold is either posted or voided, never both.
    recorded = record_move(session, move, user_id=hold.user_id, tutor_id=hold.tutor_id, minutes=hold.minutes,
                           key=f"settle:booking:{booking_id}", booking_id=booking_id)
    return recorded is not None


def refund_booking_minutes(session: Session, booking_id: int, minutes: int, *, key: str,
                           now: datetime | None = None, fresh_lot_days: int = 30) -> int:
    """Return up to ``minutes`` of a booking's posted minutes to the student (a cancellation after approval, or an
    admin's refund); never more than were posted and not yet returned (summed from the rows, in the caller's
    locked write). Returns the minutes returned (0 for a replayed ``key``).

    The minutes go back into the lot the hold was drawn from. If that lot has expired since, they go into a new
    lot of their own (source "refund", keyed by ``key``) that expires ``fresh_lot_days`` after ``now``: put back
    into the expired lot, the next expiry run would take them away again, and the refund would be worth nothing."""
    hold = _hold_of(session, booking_id)
    if hold is None:
        return 0
    amount = refundable_minutes(_booking_minutes(session, booking_id, Move.POST),
                                _booking_minutes(session, booking_id, Move.REFUND), minutes)
    if amount == 0 or session.scalar(select(LedgerTransaction.id).where(LedgerTransaction.key == key)):
        return 0
    now = now or datetime.now(UTC)
    origin = session.get(MinuteLot, hold.lot_id) if hold.lot_id else None
    lot_id = origin.id if origin is not None else None
    if origin is not None and not refund_lands_in_origin(origin.expires_at, now):
        fresh = MinuteLot(user_id=hold.user_id, tutor_id=hold.tutor_id, source="refund", source_ref=f"refund:{key}",
                          minutes=amount, expires_at=now + timedelta(days=fresh_lot_days))
        session.add(fresh)
        session.flush()
        lot_id = fresh.id
    recorded = record_move(session, Move.REFUND, user_id=hold.user_id, tutor_id=hold.tutor_id, minutes=amount,
                           key=key, booking_id=booking_id, lot_id=lot_id)
    return amount if recorded is not None else 0


def posted_minutes(session: Session, booking_id: int) -> tuple[int, int]:
    """A booking's minutes spent on its lesson: (posted at approval, returned since by refunds), from the rows."""
    return _booking_minutes(session, booking_id, Move.POST), _booking_minutes(session, booking_id, Move.REFUND)


def balance(user_id: int, tutor_id: int) -> WalletBalance:
    """A student's minutes with a tutor, summed from the ledger's entries."""
    currency = minutes_currency(tutor_id)
    rows = dict(db.session.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.account.in_([available_account(user_id), held_account(user_id)]),
               LedgerEntry.currency == currency)
        .group_by(LedgerEntry.account)).all())
    return WalletBalance(available=int(rows.get(available_account(user_id), 0)),
                         held=int(rows.get(held_account(user_id), 0)))


@dataclass(frozen=True)
class TutorMinutes:
    """A student's minutes with one tutor, for their account page."""

    tutor_id: int
    tutor_name: str
    available: int
    held: int
    next_expiry: datetime | None


def balances_of(user_id: int) -> list[TutorMinutes]:
    """Every tutor a student holds (or held) minutes with, from the cached balance rows (always equal to the
    entries), with the earliest expiry among the lots their minutes are still in (spent earliest expiry first)."""
    rows = db.session.execute(select(LedgerBalance.account, LedgerBalance.currency, LedgerBalance.balance)
                              .where(LedgerBalance.account.in_([available_account(user_id),
                                                                held_account(user_id)]))).all()
    by_tutor: dict[int, dict[str, int]] = {}
    for account, currency, amount in rows:
        tutor_id = minutes_tutor(currency)
        by_tutor.setdefault(tutor_id, {})[account] = amount
    result = []
    for tutor_id, amounts in sorted(by_tutor.items()):
        available, held = amounts.get(available_account(user_id), 0), amounts.get(held_account(user_id), 0)
        lots = [Lot(id=lot.id, minutes=lot.minutes, expires_at=lot.expires_at)
                for lot in db.session.scalars(select(MinuteLot).where(MinuteLot.user_id == user_id,
                                                                      MinuteLot.tutor_id == tutor_id))]
        remaining = lot_remaining(lots, available + held)
        expiries = [lot.expires_at for lot in lots if lot.expires_at and remaining.get(lot.id)]
        result.append(TutorMinutes(tutor_id, db.session.get(User, tutor_id).name, available, held,
                                   min(expiries) if expiries else None))
    return result


@dataclass(frozen=True)
class LotLeft:
    """A lot the student still holds minutes of, and when they expire (None: never)."""

    id: int
    tutor_id: int
    source: str
    minutes: int  # as granted
    remaining: int  # still owned (available or held), spent earliest expiry first
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class WalletLine:
    """One ledger transaction of the student's, with what it changed on their two accounts."""

    id: int
    move: str
    tutor_id: int
    minutes: int
    booking_id: int | None
    available_change: int
    held_change: int
    created_at: datetime


@dataclass(frozen=True)
class WalletStatement:
    """A student's wallet: minutes per tutor, the lots they are in, and the latest transactions."""

    balances: list[TutorMinutes]
    lots: list[LotLeft]
    transactions: list[WalletLine]
    tutor_names: dict[int, str]


def statement(user_id: int, limit: int = 20) -> WalletStatement:
    """The student's wallet (their own: scoped by ``user_id``), every balance summed from the ledger's entries, the
    lots still holding minutes soonest expiry first, and the ``limit`` latest transactions newest first."""
    accounts = [available_account(user_id), held_account(user_id)]
    sums: dict[int, dict[str, int]] = {}
    for currency, account, amount in db.session.execute(
            select(LedgerEntry.currency, LedgerEntry.account, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.account.in_(accounts)).group_by(LedgerEntry.currency, LedgerEntry.account)):
        sums.setdefault(minutes_tutor(currency), {})[account] = int(amount)
    recent = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.user_id == user_id)
                                .order_by(LedgerTransaction.id.desc()).limit(limit)).all()
    tutor_ids = set(sums) | {t.tutor_id for t in recent}
    names = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(tutor_ids))).all()) \
        if tutor_ids else {}
    # What left each lot unspent, by _expired_so_far's rule: expired or withdrawn, less withdrawals restored.
    sign = {str(Move.EXPIRE): 1, str(Move.WITHDRAW): 1, str(Move.RESTORE): -1}
    expired: dict[int, int] = {}
    for lot_id, move, minutes in db.session.execute(
            select(LedgerTransaction.lot_id, LedgerTransaction.move, func.sum(LedgerTransaction.minutes))
            .where(LedgerTransaction.user_id == user_id, LedgerTransaction.move.in_(list(sign)))
            .group_by(LedgerTransaction.lot_id, LedgerTransaction.move)):
        expired[lot_id] = expired.get(lot_id, 0) + sign[move] * int(minutes)
    rows = db.session.scalars(select(MinuteLot).where(MinuteLot.user_id == user_id)).all()
    balances, lots = [], []
    for tutor_id, amounts in sorted(sums.items()):
        available, held = amounts.get(accounts[0], 0), amounts.get(accounts[1], 0)
        mine = [row for row in rows if row.tutor_id == tutor_id]
        remaining = lot_remaining([Lot(id=row.id, minutes=row.minutes, expires_at=row.expires_at,
                                       expired=int(expired.get(row.id, 0))) for row in mine], available + held)
        left = [LotLeft(row.id, tutor_id, row.source, row.minutes, remaining[row.id], row.expires_at, row.created_at)
                for row in mine if remaining.get(row.id)]
        expiries = [lot.expires_at for lot in left if lot.expires_at]
        balances.append(TutorMinutes(tutor_id, names.get(tutor_id, ""), available, held,
                                     min(expiries) if expiries else None))
        lots.extend(left)
    lots.sort(key=lambda lot: (lot.expires_at is None, lot.expires_at or lot.created_at, lot.id))
    changes: dict[tuple[int, str], int] = {}
    for transaction_id, account, amount in db.session.execute(
            select(LedgerEntry.transaction_id, LedgerEntry.account, LedgerEntry.amount)
            .where(LedgerEntry.transaction_id.in_([t.id for t in recent]), LedgerEntry.account.in_(accounts))):
        changes[(transaction_id, account)] = changes.get((transaction_id, account), 0) + amount
    lines = [WalletLine(t.id, t.move, t.tutor_id, t.minutes, t.booking_id, changes.get((t.id, accounts[0]), 0),
                        changes.get((t.id, accounts[1]), 0), t.created_at) for t in recent]
    return WalletStatement(balances, lots, lines, names)


def booking_minutes(session: Session, booking_id: int) -> tuple[int, int]:
    """A minute-funded booking's minutes: (held or posted for it, returned to the student by refunds)."""
    hold = _hold_of(session, booking_id)
    return (hold.minutes if hold else 0), _booking_minutes(session, booking_id, Move.REFUND)


def _lot_moved(session: Session, lot_id: int, move: Move) -> int:
    return session.scalar(select(func.coalesce(func.sum(LedgerTransaction.minutes), 0))
                          .where(LedgerTransaction.lot_id == lot_id, LedgerTransaction.move == str(move)))


def _expired_so_far(session: Session, lot_id: int) -> int:
    """Minutes of a lot gone without being spent: expired, or withdrawn by a refund of its purchase (less any
    withdrawal undone because the provider refused that refund)."""
    return (_lot_moved(session, lot_id, Move.EXPIRE) + _lot_moved(session, lot_id, Move.WITHDRAW)
            - _lot_moved(session, lot_id, Move.RESTORE))


def lot_gone(session: Session, lot_id: int) -> int:
    """Public name of _expired_so_far for package refunds (minutes of a lot expired or withdrawn)."""
    return _expired_so_far(session, lot_id)


def expire_lots(now: datetime) -> int:
    """Job: record the unused minutes of every lot past its expiry as expired. Returns the minutes expired.

    Safe to run twice: each expiry is keyed on the lot and what had expired of it before."""
    wallets = db.session.execute(select(MinuteLot.user_id, MinuteLot.tutor_id)
                                 .where(MinuteLot.expires_at <= now).distinct()).all()
    db.session.commit()
    total = 0
    for user_id, tutor_id in wallets:
        with serialized_write(wallet_lock(user_id)) as session:
            owned = balance(user_id, tutor_id)
            plain = _plain_lots(session, user_id, tutor_id)
            # Keyed on what had *expired* of the lot (only ever grows), not on all it lost: a refund's withdrawal
            # undone by a restore would bring that total back to a value an earlier expiry was keyed on.
            expired_before = {lot.id: _lot_moved(session, lot.id, Move.EXPIRE) for lot in plain}
            for lot_id, minutes in minutes_to_expire(plain, owned.available + owned.held, owned.available,
                                                     now).items():
                record_move(session, Move.EXPIRE, user_id=user_id, tutor_id=tutor_id, minutes=minutes,
                            key=f"expire:lot:{lot_id}:{expired_before[lot_id]}", lot_id=lot_id)
                total += minutes
    return total
