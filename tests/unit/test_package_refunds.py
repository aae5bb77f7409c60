"""The package refund rules: unused minutes (held count as spent, earliest expiry first), pro-rata money rounded
down and capped, minutes per amount rounded up, and the shortfall when minutes were already used."""
from datetime import UTC, datetime, timedelta

from webapp.domain.ledger import Lot
from webapp.domain.package_refunds import minutes_for_amount, prorata_minor, split_taken, unused_minutes

NOW = datetime(2026, 12, 2, tzinfo=UTC)


def test_unused_minutes_are_what_the_available_balance_covers_held_minutes_spent_from_the_earliest_lot():
    early = Lot(id=1, minutes=60, expires_at=NOW + timedelta(days=10))
    late = Lot(id=2, minutes=120, expires_at=NOW + timedelta(days=100))
    # 150 available (30 held or used): the late lot is whole, the early one has 30 left.
    assert unused_minutes([early, late], 2, 150) == 120 and unused_minutes([early, late], 1, 150) == 30
    assert unused_minutes([early, late], 2, 100) == 100 and unused_minutes([early, late], 1, 100) == 0
    # Minutes already expired or withdrawn from a lot are not unused.
    assert unused_minutes([Lot(id=3, minutes=60, expires_at=None, expired=20)], 3, 60) == 40


def test_pro_rata_rounds_down_and_never_exceeds_what_is_left_to_refund():
    assert prorata_minor(3100, 60, 53) == 2738  # 2738.33p
    assert prorata_minor(3100, 60, 60) == 3100
    assert prorata_minor(3100, 60, 60, refunded_minor=3000) == 100
    assert prorata_minor(3100, 60, 0) == 0 and prorata_minor(3100, 60, 80) == 3100


def test_an_amount_takes_back_the_minutes_it_paid_for_rounded_up_never_more_than_the_lot():
    assert minutes_for_amount(1000, 3100, 60) == 20  # 19.35 minutes
    assert minutes_for_amount(3100, 3100, 60) == 60 and minutes_for_amount(9999, 3100, 60) == 60
    assert minutes_for_amount(0, 3100, 60) == 0 and minutes_for_amount(1, 0, 60) == 60


def test_minutes_due_beyond_the_unused_ones_are_a_shortfall():
    assert split_taken(30, 20) == (20, 10) and split_taken(30, 50) == (30, 0) and split_taken(10, 0) == (0, 10)
