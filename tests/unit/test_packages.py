"""Package prices and terms (domain/packages.py)."""
import pytest

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


def test_minutes_are_worth_what_they_cost_on_average_and_the_tutor_gets_that_less_the_commission():
    from webapp.domain.packages import minutes_payout, minutes_value
    assert minutes_value([(18000, 300)], 60) == 3600  # £180.00 for 5 hours: 60 minutes are worth £36.00
    assert minutes_value([(18000, 300), (7200, 120)], 60) == 3600  # (252.00 / 420) × 60
    assert minutes_value([(1000, 3)], 1) == 333  # 3.333… rounds half up once
    assert minutes_value([], 60) == 0 and minutes_value([(18000, 300)], 0) == 0
    assert minutes_payout(3600, 1500) == 3060 and minutes_payout(3600, 0) == 3600


def test_a_minute_payout_keeps_the_share_of_minutes_not_refunded_never_more_than_was_sent():
    from webapp.domain.packages import minute_payout_kept
    assert minute_payout_kept(3600, 60, 60) == 3600
    assert minute_payout_kept(3600, 60, 45) == 2700  # 15 of 60 refunded: a quarter comes back
    assert minute_payout_kept(1700, 30, 10) == 567  # 566.67 rounds half up
    assert minute_payout_kept(3600, 60, 0) == 0
    assert minute_payout_kept(3600, 60, 90) == 3600  # never more than was transferred
    assert minute_payout_kept(0, 0, 0) == 0
