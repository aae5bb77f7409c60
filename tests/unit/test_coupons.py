"""Discount codes: normalising, whether a user may use one now, and the discount it gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain.coupons import CouponTerms, CouponUsage, DiscountType, coupon_problem, discount_for, normalize_code

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
FIVE_OFF = CouponTerms(code="FIVEOFF", usage=CouponUsage.ONE_TIME_USE, discount_type=DiscountType.DISCOUNT_TYPE_AMOUNT,
                       amount_minor=500, currency="GBP")
QUARTER_OFF = CouponTerms(code="QUARTER", usage=CouponUsage.TWO_TIME_USE,
                          discount_type=DiscountType.DISCOUNT_TYPE_PERCENT, percent_bp=2500)


def problem(terms, now=NOW, uses_by_user=0, total_uses=0, currency="GBP", **kw):
    return coupon_problem(terms, now=now, uses_by_user=uses_by_user, total_uses=total_uses, currency=currency, **kw)


# --- codes -----------------------------------------------------------------------------------------

def test_codes_are_trimmed_and_upper_cased():
    assert normalize_code("  summer-10_a \n") == "SUMMER-10_A"


@pytest.mark.parametrize("text, message", [
    ("", "Enter a discount code"),
    ("   ", "Enter a discount code"),
    (None, "Enter a discount code"),
    ("A" * 33, "at most 32 characters"),
    ("SUMMER 10", "only letters, digits, hyphens and underscores"),
    ("10%OFF", "only letters, digits, hyphens and underscores"),
    ("straße", "only letters, digits, hyphens and underscores"),  # upper() would turn ß into SS
    ("ÉTÉ", "only letters, digits, hyphens and underscores"),
])
def test_empty_long_or_odd_codes_are_refused_in_words(text, message):
    with pytest.raises(ValueError, match=message):
        normalize_code(text)


def test_a_32_character_code_is_accepted():
    assert normalize_code("a" * 32) == "A" * 32


# --- may this user use it now? ---------------------------------------------------------------------

def test_a_fresh_code_is_usable():
    assert problem(FIVE_OFF) is None
    assert problem(QUARTER_OFF, currency="JPY") is None  # an uncapped percentage applies in any currency


def test_a_one_time_code_used_once_is_refused():
    assert problem(FIVE_OFF, uses_by_user=1) == "You have already used this code."


def test_a_two_time_code_can_be_used_twice_but_not_three_times():
    assert problem(QUARTER_OFF, uses_by_user=1) is None
    assert problem(QUARTER_OFF, uses_by_user=2) == "You have already used this code twice."


def test_a_code_at_its_total_usage_limit_is_refused():
    limited = replace(FIVE_OFF, max_total_uses=100)
    assert problem(limited, total_uses=99) is None
    assert problem(limited, total_uses=100) == "This code has reached its usage limit."


def test_an_inactive_code_is_refused_before_anything_else():
    off = replace(FIVE_OFF, active=False, valid_until=NOW - timedelta(days=1))
    assert problem(off, uses_by_user=1) == "This code is no longer active."


def test_a_code_is_valid_from_its_start_instant_inclusive():
    starts = replace(FIVE_OFF, valid_from=NOW)
    assert problem(starts, now=NOW - timedelta(microseconds=1)) == "This code is not valid yet."
    assert problem(starts, now=NOW) is None


def test_a_code_expires_at_its_end_instant_and_names_the_last_day_it_worked():
    # valid until 4 March 00:00 UTC: usable all of 3 March, so "expired on 3 March 2027"
    ends = replace(FIVE_OFF, valid_until=datetime(2027, 3, 4, tzinfo=UTC))
    assert problem(ends, now=datetime(2027, 3, 3, 23, 59, 59, tzinfo=UTC)) is None
    assert problem(ends, now=datetime(2027, 3, 4, tzinfo=UTC)) == "This code expired on 3 March 2027."


def test_the_expiry_date_is_shown_in_the_viewers_zone():
    # 23:30 UTC on 3 March is 00:30 on 4 March in Berlin
    ends = replace(FIVE_OFF, valid_until=datetime(2027, 3, 3, 23, 30, tzinfo=UTC))
    later = datetime(2027, 3, 10, tzinfo=UTC)
    assert problem(ends, now=later) == "This code expired on 3 March 2027."
    assert problem(ends, now=later, zone=ZoneInfo("Europe/Berlin")) == "This code expired on 4 March 2027."


def test_a_code_in_another_currency_does_not_apply():
    assert problem(FIVE_OFF, currency="EUR") == "This code is for GBP lessons."
    capped = replace(QUARTER_OFF, max_discount_amount_minor=1000, currency="USD")
    assert problem(capped, currency="GBP") == "This code is for USD lessons."


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        problem(FIVE_OFF, now=datetime(2027, 3, 1))
    with pytest.raises(ValueError, match="uses_by_user"):
        problem(FIVE_OFF, uses_by_user=-1)


# --- the discount ----------------------------------------------------------------------------------

def test_an_amount_coupon_takes_its_amount_off_but_never_more_than_the_price():
    assert discount_for(FIVE_OFF, 4000) == 500
    assert discount_for(FIVE_OFF, 300) == 300


def test_a_percentage_coupon_rounds_half_up_once():
    assert discount_for(QUARTER_OFF, 4000) == 1000  # 4000 x 25 % = 1000
    assert discount_for(QUARTER_OFF, 4250) == 1063  # 4250 x 25 % = 1062.5 -> 1063
    assert discount_for(QUARTER_OFF, 4249) == 1062  # 1062.25 -> 1062


def test_percentages_are_basis_points_so_twelve_and_a_half_percent_is_exact():
    eighth = replace(QUARTER_OFF, percent_bp=1250)
    assert discount_for(eighth, 4000) == 500  # 4000 x 12.5 % = 500


def test_a_percentage_coupon_is_capped_at_its_maximum_discount():
    capped = replace(QUARTER_OFF, percent_bp=5000, max_discount_amount_minor=1500, currency="GBP")
    assert discount_for(capped, 4000) == 1500  # 50 % would be 2000
    assert discount_for(capped, 2000) == 1000  # under the cap


def test_a_100_percent_coupon_takes_off_the_whole_price():
    assert discount_for(replace(QUARTER_OFF, percent_bp=10_000), 4321) == 4321


@pytest.mark.parametrize("changes, message", [
    ({"currency": None}, "amount and its currency"),
    ({"amount_minor": None}, "amount and its currency"),
    ({"amount_minor": 0}, "at least 1"),
    ({"percent_bp": 500}, "no percentage"),
    ({"code": "fiveoff"}, "normalised"),
    ({"currency": "XYZ"}, "Unsupported currency"),
    ({"valid_from": datetime(2027, 1, 1)}, "timezone-aware"),
    ({"valid_from": NOW, "valid_until": NOW}, "start before it expires"),
    ({"max_total_uses": 0}, "at least 1"),
    ({"usage": "THREE_TIME_USE"}, "THREE_TIME_USE"),
])
def test_inconsistent_amount_coupon_terms_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(FIVE_OFF, **changes)


@pytest.mark.parametrize("changes, message", [
    ({"percent_bp": 0}, "at least 1"),
    ({"percent_bp": 10_001}, "between 1 and 10000"),
    ({"percent_bp": None}, "between 1 and 10000"),
    ({"amount_minor": 100}, "no fixed amount"),
    ({"max_discount_amount_minor": 1000}, "currency of its cap"),
])
def test_inconsistent_percentage_coupon_terms_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(QUARTER_OFF, **changes)


def test_terms_accept_the_stored_strings_for_their_enums():
    terms = CouponTerms(code="X1", usage="TWO_TIME_USE", discount_type="DISCOUNT_TYPE_PERCENT", percent_bp=1000)
    assert terms.usage is CouponUsage.TWO_TIME_USE and terms.discount_type is DiscountType.DISCOUNT_TYPE_PERCENT
    assert discount_for(terms, 1000) == 100


@settings(max_examples=500, deadline=None, database=None)
@given(price=st.integers(0, 10_000_000), bp=st.integers(1, 10_000), cap=st.none() | st.integers(1, 1_000_000),
       amount=st.integers(1, 1_000_000))
def test_a_discount_is_never_negative_never_above_the_price_and_never_above_the_cap(price, bp, cap, amount):
    percent = CouponTerms(code="P", usage=CouponUsage.ONE_TIME_USE, discount_type=DiscountType.DISCOUNT_TYPE_PERCENT,
                          percent_bp=bp, max_discount_amount_minor=cap, currency="GBP" if cap else None)
    d = discount_for(percent, price)
    assert type(d) is int and 0 <= d <= price and (cap is None or d <= cap)
    assert discount_for(replace(FIVE_OFF, amount_minor=amount), price) == min(amount, price)
