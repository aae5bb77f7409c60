"""The minutes ledger's posting rules (domain/ledger.py): balanced moves, covered student accounts, lots spent
earliest-expiry first and expiry that never takes held or already spent minutes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain.ledger import (EXPIRED, ISSUED, TAUGHT, InsufficientMinutes, LedgerError, Lot, Move, Posting,
                                  available_account, balances, check_balanced, check_covered, held_account,
                                  lot_remaining, minutes_currency, minutes_to_expire, postings_for,
                                  refundable_minutes)

NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
CUR = minutes_currency(7)


@pytest.mark.parametrize("move, source, destination", [
    (Move.GRANT, ISSUED, available_account(3)),
    (Move.HOLD, available_account(3), held_account(3)),
    (Move.POST, held_account(3), TAUGHT),
    (Move.VOID, held_account(3), available_account(3)),
    (Move.REFUND, TAUGHT, available_account(3)),
    (Move.EXPIRE, available_account(3), EXPIRED),
])
def test_each_move_takes_minutes_from_one_account_and_gives_them_to_another(move, source, destination):
    taken, given_ = postings_for(move, 3, CUR, 45)
    assert taken == Posting(source, CUR, -45)
    assert given_ == Posting(destination, CUR, 45)
    check_balanced([taken, given_])


@pytest.mark.parametrize("minutes", [0, -30, 1.5, True, "60"])
def test_a_move_needs_a_whole_positive_number_of_minutes(minutes):
    with pytest.raises(LedgerError, match="whole, positive"):
        postings_for(Move.GRANT, 3, CUR, minutes)


def test_postings_that_do_not_sum_to_zero_in_a_currency_are_refused():
    with pytest.raises(LedgerError, match="do not balance"):
        check_balanced([Posting("a", CUR, -60), Posting("b", CUR, 30), Posting("b", "MIN-T8", 30)])


def test_minutes_of_different_tutors_are_different_currencies():
    assert minutes_currency(7) != minutes_currency(8)
    totals = balances([*postings_for(Move.GRANT, 3, minutes_currency(7), 60),
                       *postings_for(Move.GRANT, 3, minutes_currency(8), 30)])
    assert totals[(available_account(3), minutes_currency(7))] == 60
    assert totals[(available_account(3), minutes_currency(8))] == 30


def test_a_student_account_cannot_go_below_zero_but_the_platform_can():
    check_covered({}, postings_for(Move.GRANT, 3, CUR, 600))  # issued goes negative: that is what it is for
    check_covered({available_account(3): 60}, postings_for(Move.HOLD, 3, CUR, 60))
    with pytest.raises(InsufficientMinutes, match="balance with this tutor is 45 minutes; 60 minutes are needed"):
        check_covered({available_account(3): 45}, postings_for(Move.HOLD, 3, CUR, 60))


def test_a_refund_never_returns_more_than_was_posted_and_not_yet_returned():
    assert refundable_minutes(posted=60, refunded=0, requested=30) == 30
    assert refundable_minutes(posted=60, refunded=30, requested=60) == 30
    assert refundable_minutes(posted=60, refunded=60, requested=60) == 0
    assert refundable_minutes(posted=0, refunded=0, requested=60) == 0


def test_minutes_are_spent_from_the_lot_that_expires_first():
    soon = Lot(1, 60, NOW + timedelta(days=10))
    later = Lot(2, 60, NOW + timedelta(days=100))
    never = Lot(3, 60, None)
    # 100 of 180 spent: the soon lot is gone, the later one half used, the one that never expires untouched.
    assert lot_remaining([later, never, soon], owned=80) == {3: 60, 2: 20, 1: 0}


def test_expiry_takes_the_unspent_part_of_an_expired_lot_only():
    old = Lot(1, 60, NOW - timedelta(days=1))
    new = Lot(2, 60, NOW + timedelta(days=30))
    assert minutes_to_expire([old, new], owned=90, available=90, now=NOW) == {1: 30}
    assert minutes_to_expire([old, new], owned=60, available=60, now=NOW) == {}  # the old lot was spent first


def test_expiry_leaves_held_minutes_for_the_booking_waiting_on_them():
    old = Lot(1, 60, NOW - timedelta(days=1))
    assert minutes_to_expire([old], owned=60, available=15, now=NOW) == {1: 15}


def test_expiry_does_not_take_again_what_already_expired():
    old = Lot(1, 60, NOW - timedelta(days=1), expired=40)
    assert minutes_to_expire([old], owned=20, available=20, now=NOW) == {1: 20}
    assert minutes_to_expire([Lot(1, 60, NOW - timedelta(days=1), expired=60)], owned=0, available=0,
                             now=NOW) == {}


lots_strategy = st.lists(
    st.builds(Lot, id=st.integers(1, 10_000), minutes=st.integers(1, 600),
              expires_at=st.one_of(st.none(), st.integers(-200, 200).map(lambda d: NOW + timedelta(days=d))),
              expired=st.just(0)),
    max_size=8, unique_by=lambda lot: lot.id)


@settings(max_examples=2000, deadline=None)
@given(lots=lots_strategy, spent=st.integers(0, 5000), held_share=st.integers(0, 100))
def test_expiry_never_creates_minutes_nor_takes_more_than_is_available(lots, spent, held_share):
    total = sum(lot.minutes for lot in lots)
    owned = max(0, total - spent)
    available = owned - owned * held_share // 100
    remaining = lot_remaining(lots, owned)
    assert sum(remaining.values()) == owned
    assert all(0 <= remaining[lot.id] <= lot.minutes for lot in lots)
    expiring = minutes_to_expire(lots, owned, available, NOW)
    assert sum(expiring.values()) <= available
    for lot_id, amount in expiring.items():
        lot = next(lot for lot in lots if lot.id == lot_id)
        assert lot.expires_at is not None and lot.expires_at <= NOW
        assert 0 < amount <= remaining[lot_id]


def test_a_hold_is_drawn_from_the_lot_that_expires_first_after_what_is_already_held():
    from webapp.domain.ledger import drawn_from
    soon = Lot(1, 60, NOW + timedelta(days=10))
    later = Lot(2, 60, NOW + timedelta(days=100))
    assert drawn_from([later, soon], owned=120, held=0) == 1
    assert drawn_from([later, soon], owned=120, held=60) == 2  # the soon lot's minutes are held already
    assert drawn_from([later, soon], owned=60, held=0) == 2  # the soon lot was spent
    assert drawn_from([later, soon], owned=0, held=0) is None


def test_refunded_minutes_go_back_to_their_lot_unless_it_has_expired():
    from webapp.domain.ledger import refund_lands_in_origin
    assert refund_lands_in_origin(None, NOW)
    assert refund_lands_in_origin(NOW + timedelta(seconds=1), NOW)
    assert not refund_lands_in_origin(NOW, NOW)
