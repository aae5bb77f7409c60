"""Package prices and terms (domain/packages.py)."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain.packages import Rate, package_price, package_problems, package_rate


def test_a_package_is_priced_at_the_highest_rate_less_its_discount_rounded_half_up_once():
    assert package_rate([Rate(3000, "GBP"), Rate(4500, "GBP"), Rate(4000, "GBP")]) == Rate(4500, "GBP")
    assert package_rate([]) is None
    assert package_price(4500, 10, 10) == 40500
    assert package_price(3333, 3, 15) == 8499  # 9999 × 0.85 = 8499.15 → 8499
    assert package_price(3333, 1, 50) == 1667  # 1666.5 rounds half up, on the whole package
    assert package_price(4000, 5, 0) == 20000


@pytest.mark.parametrize("hours, discount, fields", [
    (0, 0, {"hours"}), (101, 0, {"hours"}), (5, 51, {"discount_percent"}), (5, -1, {"discount_percent"}),
    ("5", 0, {"hours"}), (True, 0, {"hours"}), (5, 0, set()), (100, 50, set())])
def test_package_terms_outside_the_limits_are_refused_per_field(hours, discount, fields):
    assert set(package_problems(hours, discount)) == fields


def test_a_minute_paid_booking_is_worded_in_minutes():
    from webapp.domain.labels import booking_label, minutes_payment_words
    assert booking_label("PAID", "minutes", 60) == "Paid with 60 minutes"
    assert booking_label("PAID", "card", 60) == "Paid"
    assert booking_label("REQUIRES_CAPTURE", "minutes", 45) == "45 minutes held, awaiting approval"
    assert minutes_payment_words("PARTIAL_REFUNDED", 60, 30) == "Paid with 60 minutes, 30 returned"
    assert minutes_payment_words("DECLINED", 60, 0) == "60 minutes held, then returned; nothing spent"


def test_the_cancellation_policy_reads_the_same_in_minutes():
    from datetime import UTC, datetime, timedelta

    from webapp.domain.refunds import Canceller, RefundPolicy, cancellation_refund
    start = datetime(2027, 1, 10, 12, tzinfo=UTC)
    late = cancellation_refund(RefundPolicy(), refundable_minor=45, lesson_start=start,
                               now=start - timedelta(hours=2), cancelled_by=Canceller.STUDENT_SIDE)
    assert late.amount_minor == 23  # 22.5 rounds half up, as money does
    assert late.explanation_in_minutes() == ("Cancelled less than 24 hours before the start: 50% refund, "
                                             "23 minutes of 45 minutes.")


def test_minutes_are_worth_the_average_price_of_the_minutes_not_yet_valued_rounded_down():
    from webapp.domain.packages import minutes_payout, minutes_value
    assert minutes_value(18000, 300, 0, 0, 60) == 3600  # £180.00 for 5 hours: 60 minutes are worth £36.00
    assert minutes_value(8000, 240, 0, 0, 60) == 2000  # a £80.00 plan of 240 minutes: its price per minute
    assert minutes_value(25200, 420, 3600, 60, 60) == 3600  # (252.00 − 36.00) / 360 × 60
    assert minutes_value(1000, 3, 0, 0, 1) == 333  # 3.333… rounds down
    assert minutes_value(1000, 3, 333, 1, 1) == 333 and minutes_value(1000, 3, 666, 2, 1) == 334  # the last gets the rest
    assert minutes_value(0, 0, 0, 0, 60) == 0 and minutes_value(18000, 300, 0, 0, 0) == 0
    assert minutes_value(6000, 60, 6000, 60, 60) == 0  # minutes returned and taught again are worth nothing more
    assert minutes_value(6000, 60, 0, 0, 90) == 6000  # never more than what is left
    assert minutes_payout(3600, 1500) == 3060 and minutes_payout(3600, 0) == 3600
    assert minutes_payout(101, 1000) == 90  # 90.9: the tutor's share rounds down, the platform keeps the fraction


@settings(max_examples=2000, deadline=None)
@given(lots=st.lists(st.tuples(st.integers(0, 200_000), st.integers(15, 6000)), min_size=1, max_size=6),
       lessons=st.lists(st.integers(0, 240), max_size=40), bp=st.integers(0, 5000), data=st.data())
def test_payouts_never_add_up_to_more_than_was_paid_less_the_platforms_take(lots, lessons, bp, data):
    """Lots arrive between lessons at any price (packages, plans, prorated upgrades); whatever the order, the values
    of all lessons never exceed what was paid, and the tutor's payouts never exceed that less the commission."""
    from webapp.domain.packages import minutes_payout, minutes_value
    paid = granted = valued_minor = valued_minutes = paid_out = 0
    pending = list(lots)
    for minutes in lessons:
        while pending and (not granted or data.draw(st.booleans())):
            price, count = pending.pop(0)
            paid, granted = paid + price, granted + count
        minutes = min(minutes, granted - valued_minutes) if granted else 0
        value = minutes_value(paid, granted, valued_minor, valued_minutes, minutes)
        assert 0 <= value
        valued_minor, valued_minutes = valued_minor + value, valued_minutes + minutes
        paid_out += minutes_payout(value, bp)
        assert valued_minor <= paid
        assert paid_out * 10000 <= paid * (10000 - bp)



def test_a_minute_payout_keeps_the_share_of_minutes_not_refunded_never_more_than_was_sent():
    from webapp.domain.packages import minute_payout_kept
    assert minute_payout_kept(3600, 60, 60) == 3600
    assert minute_payout_kept(3600, 60, 45) == 2700  # 15 of 60 refunded: a quarter comes back
    assert minute_payout_kept(1700, 30, 10) == 566  # 566.67 rounds down: the platform keeps the fraction
    assert minute_payout_kept(3600, 60, 0) == 0
    assert minute_payout_kept(3600, 60, 90) == 3600  # never more than was transferred
    assert minute_payout_kept(0, 0, 0) == 0
