"""10,000 random sequences of buy, renew, hold, post, void, refund and expire on the ledger's rules (domain/ledger.py,
domain/subscriptions.py), per run: every transaction sums to zero, no student balance goes below zero, minutes are
never created or lost, a refund never returns more than was posted, and a subscription never carries over more than
one period's allowance past a period's end."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from webapp.domain.ledger import (EXPIRED, ISSUED, TAUGHT, InsufficientMinutes, Lot, Move, available_account,
                                  balances, check_balanced, check_covered, held_account, minutes_currency,
                                  minutes_to_expire, postings_for, refundable_minutes)
from webapp.domain.subscriptions import add_months, carry_over, lot_expiry

SEQUENCES = 10_000
STUDENT, TUTOR = 7, 3
CURRENCY = minutes_currency(TUTOR)
ALLOWANCE = 240


class Wallet:
    """One student's minutes with one tutor, moved only through the domain's posting rules."""

    def __init__(self, start: datetime):
        self.postings: list = []
        self.lots: list[Lot] = []
        self.bookings: dict[int, dict] = {}
        self.anchor, self.periods, self.now = start, 0, start

    def balance(self, account: str) -> int:
        return balances(self.postings).get((account, CURRENCY), 0)

    def move(self, move: Move, minutes: int) -> bool:
        postings = postings_for(move, STUDENT, CURRENCY, minutes)
        check_balanced(postings)
        assert sum(p.amount for p in postings) == 0
        current = {a: self.balance(a) for a in (available_account(STUDENT), held_account(STUDENT))}
        try:
            check_covered(current, postings)
        except InsufficientMinutes:
            return False
        self.postings.extend(postings)
        return True

    def grant(self, minutes: int, expires_at: datetime) -> None:
        assert self.move(Move.GRANT, minutes)
        self.lots.append(Lot(id=len(self.lots) + 1, minutes=minutes, expires_at=expires_at))

    def expire(self) -> int:
        available, held = self.balance(available_account(STUDENT)), self.balance(held_account(STUDENT))
        due = minutes_to_expire(self.lots, available + held, available, self.now)
        for lot_id, minutes in due.items():
            assert self.move(Move.EXPIRE, minutes)
        self.lots = [Lot(lot.id, lot.minutes, lot.expires_at, lot.expired + due.get(lot.id, 0)) for lot in self.lots]
        return sum(due.values())


def _run(rng: random.Random) -> None:
    wallet = Wallet(datetime(2027, 1, rng.randint(1, 31), 12, tzinfo=UTC))
    for _ in range(rng.randint(5, 25)):
        wallet.now += timedelta(days=rng.randint(0, 20))
        op = rng.choice(("buy", "renew", "hold", "post", "void", "refund", "expire"))
        if op == "buy":
            wallet.grant(rng.choice((300, 600)), wallet.now + timedelta(days=183))
        elif op == "renew":  # a period's invoice paid: its lot expires by the rollover rule
            wallet.periods += 1
            period_end = add_months(wallet.anchor, wallet.periods)
            wallet.grant(ALLOWANCE, lot_expiry(wallet.anchor, period_end))
        elif op == "hold":
            minutes = rng.choice((30, 60, 90))
            if wallet.move(Move.HOLD, minutes):
                wallet.bookings[len(wallet.bookings) + 1] = {"held": minutes, "settled": None, "refunded": 0}
        elif op in ("post", "void"):
            open_ = [b for b in wallet.bookings.values() if b["settled"] is None]
            if open_:
                booking = rng.choice(open_)
                assert wallet.move(Move.POST if op == "post" else Move.VOID, booking["held"])
                booking["settled"] = op
        elif op == "refund":
            posted = [b for b in wallet.bookings.values() if b["settled"] == "post"]
            if posted:
                booking = rng.choice(posted)
                amount = refundable_minutes(booking["held"], booking["refunded"], rng.randint(0, 120))
                if amount:
                    assert wallet.move(Move.REFUND, amount)
                    booking["refunded"] += amount
                assert booking["refunded"] <= booking["held"]
        else:
            wallet.expire()
        _check(wallet)


def _check(wallet: Wallet) -> None:
    totals = balances(wallet.postings)
    assert sum(totals.values()) == 0  # minutes are never created or lost
    for account in (available_account(STUDENT), held_account(STUDENT)):
        assert totals.get((account, CURRENCY), 0) >= 0
    granted = -totals.get((ISSUED, CURRENCY), 0)
    assert granted == sum(lot.minutes for lot in wallet.lots)
    assert granted == sum(totals.get((a, CURRENCY), 0) for a in (available_account(STUDENT), held_account(STUDENT),
                                                                 TAUGHT, EXPIRED))
    assert totals.get((EXPIRED, CURRENCY), 0) == sum(lot.expired for lot in wallet.lots)


def test_random_sequences_keep_the_ledger_balanced_and_minutes_conserved():
    rng = random.Random(20261202)
    for _ in range(SEQUENCES):
        _run(rng)


def test_a_subscription_alone_carries_over_at_most_one_allowance():
    """Renewals and spending only: at each period's end what stays is carry_over's share, the rest is expired."""
    rng = random.Random(11)
    for _ in range(1_000):
        wallet = Wallet(datetime(2027, 1, rng.randint(1, 31), 9, tzinfo=UTC))
        for _ in range(rng.randint(1, 8)):
            wallet.periods += 1
            period_end = add_months(wallet.anchor, wallet.periods)
            wallet.grant(ALLOWANCE, lot_expiry(wallet.anchor, period_end))
            spend = rng.randint(0, wallet.balance(available_account(STUDENT)))
            if spend:
                assert wallet.move(Move.HOLD, spend) and wallet.move(Move.POST, spend)
            unused = wallet.balance(available_account(STUDENT))
            wallet.now = period_end + timedelta(seconds=1)
            assert wallet.expire() == carry_over(unused, ALLOWANCE).expired
            assert wallet.balance(available_account(STUDENT)) <= ALLOWANCE
            _check(wallet)
