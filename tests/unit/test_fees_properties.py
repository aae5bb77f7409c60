"""Properties of fee breakdowns and refund splits over thousands of random prices, rates and refunds.

Each property runs an inner @given function and counts the cases it actually executed (and how
many distinct inputs they were); the count is asserted and printed, so `pytest -s` shows e.g.
"fee breakdowns: 2000 cases (1999 distinct), every line equal to an independent Decimal reference".
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.domain.fees import CommissionRates, fee_breakdown, refund_split

BREAKDOWN_CASES = 2000
REFUND_CASES = 1000

bp = st.one_of(st.integers(0, 10_000), st.sampled_from([0, 1, 250, 500, 1250, 1500, 2000, 5000, 9999, 10_000]))
fixed = st.one_of(st.integers(0, 100_000), st.sampled_from([0, 1, 25, 200]))
rates_st = st.builds(CommissionRates, bp, bp, bp, fixed, fixed)
prices = st.one_of(st.integers(1, 10_000_000), st.integers(1, 200))  # small prices hit the caps


@st.composite
def lesson(draw):
    price = draw(prices)
    discount = draw(st.one_of(st.just(0), st.just(price), st.integers(0, price)))
    return price, draw(st.sampled_from(["GBP", "EUR", "JPY"])), draw(rates_st), discount, draw(st.booleans())


def reference(numerator: int, denominator: int) -> int:
    """Round half up with Decimal: an independent check on money.round_half_up (inputs are >= 0)."""
    return int((Decimal(numerator) / Decimal(denominator)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


PROPERTY = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}


def test_every_random_breakdown_balances_to_the_minor_unit():
    seen: list[tuple] = []

    @settings(max_examples=BREAKDOWN_CASES, **PROPERTY)
    @given(lesson())
    def check(case):
        price, currency, rates, discount, first = case
        b = fee_breakdown(price, currency, rates, discount_minor=discount, first_paid_lesson_of_month=first)
        amounts = [v for k, v in b.as_dict().items() if k != "currency"]
        assert all(type(v) is int for v in amounts)
        # Each line against the Decimal reference.
        service = reference(price * rates.service_fee_bp, 10_000)
        commission = reference(price * rates.commission_fee_bp, 10_000)
        payout_fee = reference((price - commission) * rates.payout_fee_bp, 10_000)
        left = price - commission - payout_fee
        fixed_fee = min(rates.payout_amount_fee_minor, left)
        management = min(rates.account_management_amount_fee_minor, left - fixed_fee) if first else 0
        assert (b.service_fee, b.commission_fee, b.payout_fee, b.payout_amount_fee, b.account_management_fee) == (
            service, commission, payout_fee, fixed_fee, management)
        # The identities.
        assert b.student_pays == price - discount + service
        assert b.student_pays == b.tutor_payout + b.platform_take
        assert b.platform_take == (b.service_fee + b.commission_fee + b.payout_fee + b.payout_amount_fee
                                   + b.account_management_fee - b.discount)
        assert 0 <= b.tutor_payout <= price
        assert b.platform_take >= 0 or b.discount > 0  # only a coupon makes a lesson cost the platform
        # A coupon never touches the tutor's side.
        undiscounted = fee_breakdown(price, currency, rates, first_paid_lesson_of_month=first)
        assert undiscounted.tutor_payout == b.tutor_payout
        seen.append(case)

    check()
    distinct = len({(p, c, r, d, f) for p, c, r, d, f in seen})
    print(f"\nfee breakdowns: {len(seen)} cases ({distinct} distinct), every line equal to an independent "
          f"Decimal reference, student_pays == tutor_payout + platform_take in every one")
    assert len(seen) >= BREAKDOWN_CASES


def test_random_sequences_of_partial_refunds_always_split_exactly():
    sequences: list[int] = []

    @settings(max_examples=REFUND_CASES, **PROPERTY)
    @given(lesson(), st.lists(st.integers(0, 10_000), min_size=0, max_size=8))
    def check(case, steps_bp):
        price, currency, rates, discount, first = case
        b = fee_breakdown(price, currency, rates, discount_minor=discount, first_paid_lesson_of_month=first)
        paid, low, high = b.student_pays, min(0, b.platform_take), max(0, b.platform_take)
        refunded, tutor_after = 0, b.tutor_payout
        # Each step refunds a random share of what is left; a final step refunds the rest.
        amounts: list[int] = []
        for share in steps_bp:
            amounts.append((paid - sum(amounts)) * share // 10_000)
        amounts.append(paid - sum(amounts))
        for amount in amounts:
            s = refund_split(b, amount, already_refunded_minor=refunded)
            refunded += amount
            assert s.from_tutor + s.from_platform == s.refund == amount
            assert s.total_refunded == refunded <= paid
            assert paid - refunded == s.tutor_payout_after + s.platform_take_after
            assert 0 <= s.tutor_payout_after <= tutor_after <= b.tutor_payout  # the payout only ever falls
            assert low <= s.platform_take_after <= high
            if paid:  # matches the running-total rule computed independently
                assert b.tutor_payout - s.tutor_payout_after == reference(b.tutor_payout * refunded, paid)
            tutor_after = s.tutor_payout_after
            with pytest.raises(ValueError):
                refund_split(b, paid - refunded + 1, already_refunded_minor=refunded)
        assert refunded == paid and s.fully_refunded
        if paid:
            assert (s.tutor_payout_after, s.platform_take_after) == (0, 0)
        sequences.append(len(amounts))

    check()
    print(f"\nrefund sequences: {len(sequences)} sequences, {sum(sequences)} refunds, each split summing "
          f"exactly and (student_pays - refunded) == tutor_after + platform_after after every one")
    assert len(sequences) >= REFUND_CASES
