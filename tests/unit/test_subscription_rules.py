"""The subscription rules in domain/subscriptions.py: plan validation, periods, rollover and proration."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from webapp.domain.ledger import Lot, minutes_to_expire
from webapp.domain.subscriptions import (add_months, carry_over, is_upgrade, lot_expiry, period_left, plan_problems,
                                         prorated_minutes)


def test_plan_terms_are_checked_in_words():
    assert plan_problems(240, 8000) == {}
    assert set(plan_problems(20, 8000)) == {"minutes"}
    assert set(plan_problems(245, 8000)) == {"minutes"}  # steps of 15
    assert set(plan_problems(240, 50)) == {"price"}
    assert set(plan_problems("240", True)) == {"minutes", "price"}
    assert "from 30 to 6000" in plan_problems(0, 8000)["minutes"]


def test_months_clamp_to_the_month_end_without_drifting():
    anchor = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert [add_months(anchor, n).date().isoformat() for n in range(4)] == [
        "2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"]


def test_a_periods_lot_expires_at_the_end_of_the_next_period():
    anchor = datetime(2027, 1, 31, 9, 0, tzinfo=UTC)
    assert lot_expiry(anchor, add_months(anchor, 1)) == add_months(anchor, 2)
    assert lot_expiry(anchor, add_months(anchor, 2)) == datetime(2027, 4, 30, 9, 0, tzinfo=UTC)
    assert lot_expiry(anchor, add_months(anchor, 2), carry_periods=0) == add_months(anchor, 2)
    with pytest.raises(ValueError):
        lot_expiry(anchor, anchor)


def test_carry_over_keeps_at_most_one_allowance_and_expires_the_rest():
    assert carry_over(300, 240) == carry_over(300, 240, 1)
    assert (carry_over(300, 240).kept, carry_over(300, 240).expired) == (240, 60)
    assert (carry_over(100, 240).kept, carry_over(100, 240).expired) == (100, 0)
    assert carry_over(500, 240, carry_periods=2).expired == 20
    assert carry_over(500, 240, carry_periods=0).expired == 500


@pytest.mark.parametrize("seed", range(20))
def test_lot_expiry_on_the_ledger_is_the_carry_over_rule(seed):
    """Granting one lot per period with lot_expiry and expiring lots as the expiry job does keeps exactly
    carry_over's minutes at every period end, whatever the student spends."""
    rng = random.Random(seed)
    allowance = 240
    anchor = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
    lots: list[Lot] = []
    owned = 0
    for period in range(1, 9):
        end = add_months(anchor, period)
        lots.append(Lot(id=period, minutes=allowance, expires_at=lot_expiry(anchor, end)))
        owned += allowance
        owned -= rng.randint(0, owned)  # spent during the period
        expiring = minutes_to_expire(lots, owned, owned, end + timedelta(seconds=1))
        expired = sum(expiring.values())
        assert expired == carry_over(owned, allowance).expired
        lots = [Lot(lot.id, lot.minutes, lot.expires_at, lot.expired + expiring.get(lot.id, 0)) for lot in lots]
        owned -= expired


def test_an_upgrade_grants_the_prorated_difference_and_a_downgrade_nothing():
    assert prorated_minutes(240, 480, Fraction(1, 2)) == 120
    assert prorated_minutes(240, 480, Fraction(1, 3)) == 80
    assert prorated_minutes(480, 240, Fraction(1, 2)) == 0
    assert period_left(150, 100, 200) == Fraction(1, 2)
    assert period_left(50, 100, 200) == 1 and period_left(250, 100, 200) == 0
    assert is_upgrade(8000, 16000) and not is_upgrade(8000, 4000)
