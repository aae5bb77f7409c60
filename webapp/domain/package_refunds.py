"""Refunding a package purchase: which of its minutes are still unused, what they are worth, and how many minutes a
refunded amount takes back. Pure functions over plain values (stdlib only).

Rules (stated once, tested in tests/unit/test_package_refunds.py)
- Unused minutes of a purchase are those of its lot the student still has *available*: minutes held for a booked
  lesson awaiting approval count as spent, from the lot that expires first (the one spending order of
  ``ledger.lot_remaining``). So an admin refund never takes minutes a booking is waiting on.
- The money for unused minutes is pro rata to what was paid for the lot, rounded DOWN to the minor unit (the
  student never gets back more than the minutes were worth), and never more than was paid less earlier refunds.
- A refund of an amount takes back the minutes that amount paid for, rounded UP (money back never exceeds the
  value of the minutes taken), and never more minutes than the lot had.
"""
from __future__ import annotations

from collections.abc import Iterable

from .ledger import Lot, lot_remaining


def unused_minutes(lots: Iterable[Lot], lot_id: int, available: int) -> int:
    """The minutes of lot ``lot_id`` neither used nor held: what of it the student's ``available`` minutes cover."""
    return lot_remaining(lots, max(available, 0)).get(lot_id, 0)


def prorata_minor(paid_minor: int, lot_minutes: int, minutes: int, refunded_minor: int = 0) -> int:
    """What ``minutes`` of a lot bought for ``paid_minor`` are worth, rounded down, capped at what is left to refund."""
    if lot_minutes <= 0 or minutes <= 0:
        return 0
    worth = paid_minor * min(minutes, lot_minutes) // lot_minutes
    return max(0, min(worth, paid_minor - refunded_minor))


def minutes_for_amount(amount_minor: int, paid_minor: int, lot_minutes: int) -> int:
    """The minutes ``amount_minor`` paid for in a lot bought for ``paid_minor`` (rounded up; at most the lot)."""
    if amount_minor <= 0:
        return 0
    if paid_minor <= 0:
        return lot_minutes
    return min(lot_minutes, -(-amount_minor * lot_minutes // paid_minor))


def split_taken(due_minutes: int, unused: int) -> tuple[int, int]:
    """Minutes a refund takes back now and the shortfall (already used: recorded, never a negative balance)."""
    taken = max(0, min(due_minutes, unused))
    return taken, max(0, due_minutes - taken)
