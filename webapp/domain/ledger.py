"""The minutes ledger's posting rules: double entry, as pure functions over plain values.

Stdlib only. A student's prepaid minutes are a currency of their own per tutor (tutors' rates differ, so a
minute bought from one tutor is not a minute of another's). Every movement of minutes is a transaction whose
postings sum to zero per currency; balances are sums of postings; a posting is never edited, only reversed by
another transaction.

Accounts
    ``user:<id>:available``  minutes the student can book with
    ``user:<id>:held``       minutes held for bookings awaiting the tutor's approval (two-phase: hold → post or void)
    ``platform:issued``      where granted minutes come from (its balance is minus all minutes ever granted)
    ``platform:taught``      minutes posted for lessons (what tutors are paid for)
    ``platform:expired``     minutes that expired unused (recorded, never silently dropped)

The moves
    grant   issued → available      a package bought or a subscription period paid
    hold    available → held        a booking paid with minutes, until the tutor approves
    post    held → taught           the tutor approved (by the same rule as a card capture)
    void    held → available        declined, the hold expired, or cancelled before approval
    refund  taught → available      a cancellation after approval (by the cancellation policy) or an admin's
                                    refund in minutes; never more than the booking's post less earlier refunds
    expire  available → expired     a package's unused minutes at its expiry
    withdraw available → withdrawn  a package's unused minutes taken back when its payment is refunded
    restore withdrawn → available   a withdrawal undone (the provider refused that refund)
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

ISSUED = "platform:issued"
TAUGHT = "platform:taught"
EXPIRED = "platform:expired"
WITHDRAWN = "platform:withdrawn"


class Move(StrEnum):
    """The kinds of ledger transaction (stored on each transaction row)."""

    GRANT = "grant"
    HOLD = "hold"
    POST = "post"
    VOID = "void"
    REFUND = "refund"
    EXPIRE = "expire"
    WITHDRAW = "withdraw"
    RESTORE = "restore"


class LedgerError(ValueError):
    """A transaction the ledger refuses (the message says why, in words a user can read)."""


class InsufficientMinutes(LedgerError):
    """The student's available minutes do not cover what was asked."""


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: a signed amount on an account, in one currency."""

    account: str
    currency: str
    amount: int


def minutes_currency(tutor_id: int) -> str:
    """The currency code of minutes bought from one tutor."""
    return f"MIN-T{tutor_id}"


def available_account(user_id: int) -> str:
    """The account of minutes a student can book with."""
    return f"user:{user_id}:available"


def held_account(user_id: int) -> str:
    """The account of a student's minutes held for bookings awaiting approval."""
    return f"user:{user_id}:held"


_MOVES = {  # move -> (account debited, account credited), as functions of the student's id
    Move.GRANT: (lambda _u: ISSUED, available_account),
    Move.HOLD: (available_account, held_account),
    Move.POST: (held_account, lambda _u: TAUGHT),
    Move.VOID: (held_account, available_account),
    Move.REFUND: (lambda _u: TAUGHT, available_account),
    Move.EXPIRE: (available_account, lambda _u: EXPIRED),
    Move.WITHDRAW: (available_account, lambda _u: WITHDRAWN),
    Move.RESTORE: (lambda _u: WITHDRAWN, available_account),
}


def postings_for(move: Move, user_id: int, currency: str, minutes: int) -> tuple[Posting, Posting]:
    """The two postings of a move of ``minutes`` for one student (minutes leave the first account)."""
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
        raise LedgerError(f"A ledger move needs a whole, positive number of minutes, got {minutes!r}")
    source, destination = _MOVES[Move(move)]
    return (Posting(source(user_id), currency, -minutes), Posting(destination(user_id), currency, minutes))


def is_student_account(account: str) -> bool:
    """Student accounts may never go below zero; the platform's may (``issued`` is minus all grants)."""
    return account.startswith("user:")


def check_covered(current: dict[str, int], postings: Iterable[Posting]) -> None:
    """Refuse postings that would take a student account below zero, given its ``current`` balance."""
    for posting in postings:
        if is_student_account(posting.account) and current.get(posting.account, 0) + posting.amount < 0:
            have = current.get(posting.account, 0)
            raise InsufficientMinutes(f"Your balance with this tutor is {have} minutes; "
                                      f"{-posting.amount} minutes are needed.")


def check_balanced(postings: Iterable[Posting]) -> None:
    """Refuse a transaction whose postings do not sum to zero in every currency."""
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.currency] += posting.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise LedgerError(f"Postings do not balance: {unbalanced}")


def balances(postings: Iterable[Posting]) -> dict[tuple[str, str], int]:
    """Each (account, currency) balance, summed from its postings."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for posting in postings:
        totals[(posting.account, posting.currency)] += posting.amount
    return dict(totals)


def refundable_minutes(posted: int, refunded: int, requested: int) -> int:
    """How many of a booking's posted minutes a refund may return: never more than were posted and not yet
    returned."""
    if requested < 0:
        raise LedgerError("A refund cannot be negative")
    return max(0, min(requested, posted - refunded))


@dataclass(frozen=True)
class Lot:
    """Minutes granted together (one package or one subscription period) and when they expire."""

    id: int
    minutes: int
    expires_at: datetime | None
    expired: int = 0  # minutes of this lot gone without being spent: expired, or withdrawn by a refund


def _spending_order(lot: Lot) -> tuple:
    """Lots are spent earliest expiry first, those that never expire last, ties by id."""
    return (lot.expires_at is None, lot.expires_at.timestamp() if lot.expires_at else 0.0, lot.id)


def lot_remaining(lots: Iterable[Lot], owned: int) -> dict[int, int]:
    """How many minutes of each lot the student still owns.

    ``owned`` is what the student holds now (available plus held). Minutes are spent from the lot that
    expires first (lots that never expire last; ties by id), which is the order that loses the student the
    fewest minutes; so what is still owned sits in the lots that expire last."""
    ordered = sorted(lots, key=_spending_order)
    remaining: dict[int, int] = {}
    left = owned
    for lot in reversed(ordered):
        unexpired = lot.minutes - lot.expired
        take = max(0, min(unexpired, left))
        remaining[lot.id] = take
        left -= take
    return remaining


def minutes_to_expire(lots: Iterable[Lot], owned: int, available: int, now: datetime) -> dict[int, int]:
    """For each lot past its expiry, how many minutes to expire now.

    Held minutes are not taken away from a booking awaiting approval: only available minutes expire. If a
    hold on an expired lot is later voided, those minutes become available and the next run expires them."""
    lots = list(lots)
    remaining = lot_remaining(lots, owned)
    result: dict[int, int] = {}
    budget = available
    for lot in sorted(lots, key=_spending_order):
        if lot.expires_at is None or lot.expires_at > now or budget <= 0:
            continue
        amount = min(remaining.get(lot.id, 0), budget)
        if amount > 0:
            result[lot.id] = amount
            budget -= amount
    return result


def drawn_from(lots: Iterable[Lot], owned: int, held: int) -> int | None:
    """The lot a new hold's first minute comes from (its origin, where a later refund goes back to), or None when
    the student owns no minutes.

    ``owned`` is what the student holds before the hold (available plus held) and ``held`` the part already held
    for other bookings. Minutes are spent earliest expiry first (the one rule of ``lot_remaining``), and the
    minutes already held are the first in that order, so the new hold starts where they end."""
    lots = list(lots)
    remaining = lot_remaining(lots, owned)
    skip = held
    for lot in sorted(lots, key=_spending_order):
        here = remaining.get(lot.id, 0)
        if here > skip:
            return lot.id
        skip -= here
    return None


def refund_lands_in_origin(origin_expires_at: datetime | None, now: datetime) -> bool:
    """Whether refunded minutes go back into the lot they were paid from: yes while that lot has not expired. Minutes
    refunded from a lot that has expired since would be expired again by the next expiry run, so they go into a
    new lot of their own with a fresh (shorter) lifetime instead (services/wallet.refund_booking_minutes)."""
    return origin_expires_at is None or origin_expires_at > now
