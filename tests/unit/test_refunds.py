"""The cancellation refund policy (rules in webapp/domain/refunds.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.domain.fees import CommissionRates, fee_breakdown, refund_split
from webapp.domain.refunds import Canceller, RefundPolicy, RefundReason, cancellation_refund

START = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
POLICY = RefundPolicy()  # full until 24 h before, 50 % late, 0 % after the start


def refund(before_start: timedelta, by=Canceller.STUDENT_SIDE, refundable=4000, policy=POLICY):
    return cancellation_refund(policy, refundable_minor=refundable, lesson_start=START, now=START - before_start,
                               cancelled_by=by)


def test_the_default_policy_is_full_until_24_hours_then_half_then_nothing():
    assert POLICY.as_dict() == {"full_refund_until_hours": 24, "late_refund_percent": 50,
                                "refund_after_start_percent": 0}


def test_cancelling_more_than_24_hours_before_refunds_in_full():
    d = refund(timedelta(days=3))
    assert (d.amount_minor, d.percent, d.reason, d.is_full) == (4000, 100, RefundReason.IN_GOOD_TIME, True)


def test_cancelling_exactly_24_hours_before_still_refunds_in_full():
    assert refund(timedelta(hours=24)).amount_minor == 4000


def test_cancelling_a_microsecond_inside_24_hours_refunds_half():
    d = refund(timedelta(hours=24) - timedelta(microseconds=1))
    assert (d.amount_minor, d.reason) == (2000, RefundReason.LATE)


def test_cancelling_within_24_hours_refunds_half():
    assert refund(timedelta(hours=2)).amount_minor == 2000  # 4000 x 50 %


def test_a_late_refund_of_an_odd_amount_rounds_half_up():
    assert refund(timedelta(hours=2), refundable=4201).amount_minor == 2101  # 4201 x 50 % = 2100.5 -> 2101
    assert refund(timedelta(hours=2), refundable=1, policy=RefundPolicy(late_refund_percent=49)).amount_minor == 0


def test_cancelling_a_microsecond_before_the_start_is_still_late():
    assert refund(timedelta(microseconds=1)).reason == RefundReason.LATE


def test_cancelling_at_the_start_instant_refunds_the_after_start_percent():
    d = refund(timedelta(0))
    assert (d.amount_minor, d.percent, d.reason) == (0, 0, RefundReason.AFTER_START)


def test_cancelling_after_the_start_refunds_the_after_start_percent():
    policy = RefundPolicy(refund_after_start_percent=10)
    assert refund(-timedelta(minutes=20), policy=policy).amount_minor == 400  # 4000 x 10 %


@pytest.mark.parametrize("by", [Canceller.TUTOR, Canceller.ADMIN, "TUTOR"])
@pytest.mark.parametrize("before", [timedelta(days=5), timedelta(hours=1), -timedelta(hours=1)])
def test_a_tutor_or_admin_cancellation_always_refunds_in_full(by, before):
    d = refund(before, by=by)
    assert d.amount_minor == 4000 and d.percent == 100


def test_a_longer_notice_window_is_honoured():
    policy = RefundPolicy(full_refund_until_hours=48, late_refund_percent=25)
    assert refund(timedelta(hours=48), policy=policy).amount_minor == 4000
    assert refund(timedelta(hours=47), policy=policy).amount_minor == 1000  # 4000 x 25 %


def test_a_zero_hour_window_refunds_in_full_right_up_to_the_start():
    policy = RefundPolicy(full_refund_until_hours=0)
    assert refund(timedelta(microseconds=1), policy=policy).reason == RefundReason.IN_GOOD_TIME
    assert refund(timedelta(0), policy=policy).reason == RefundReason.AFTER_START


def test_the_clock_zone_of_now_does_not_matter():
    now = (START - timedelta(hours=23)).astimezone(ZoneInfo("Asia/Kathmandu"))
    d = cancellation_refund(POLICY, refundable_minor=4000, lesson_start=START, now=now,
                            cancelled_by=Canceller.STUDENT_SIDE)
    assert d.reason == RefundReason.LATE


def test_only_what_is_still_refundable_is_refunded():
    assert refund(timedelta(days=3), refundable=1500).amount_minor == 1500


def test_naive_times_and_bad_amounts_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        cancellation_refund(POLICY, refundable_minor=1, lesson_start=START.replace(tzinfo=None), now=START,
                            cancelled_by=Canceller.TUTOR)
    with pytest.raises(ValueError, match="refundable_minor"):
        refund(timedelta(days=1), refundable=-1)


# --- sentences -------------------------------------------------------------------------------------

@pytest.mark.parametrize("before, by, sentence", [
    (timedelta(days=2), Canceller.STUDENT_SIDE, "Cancelled at least 24 hours before the start: full refund of £40.00."),
    (timedelta(hours=3), Canceller.STUDENT_SIDE, ("Cancelled less than 24 hours before the start: 50% refund, "
                                                 "£20.00 of £40.00.")),
    (timedelta(0), Canceller.STUDENT_SIDE, "Cancelled after the lesson started: no refund."),
    (timedelta(hours=3), Canceller.TUTOR, "Cancelled by the tutor: full refund of £40.00."),
    (timedelta(hours=3), Canceller.ADMIN, "Cancelled by an administrator: full refund of £40.00."),
])
def test_each_decision_explains_itself_in_a_sentence(before, by, sentence):
    assert refund(before, by=by).explanation("GBP") == sentence


def test_sentences_handle_one_hour_and_nothing_left():
    one = RefundPolicy(full_refund_until_hours=1)
    assert refund(timedelta(hours=2), policy=one).explanation("EUR") == (
        "Cancelled at least 1 hour before the start: full refund of €40.00.")
    assert refund(timedelta(days=2), refundable=0).explanation("GBP") == (
        "Cancelled at least 24 hours before the start: nothing was left to refund.")


# --- the policy as stored on a booking -------------------------------------------------------------

def test_a_policy_round_trips_through_json_and_old_rows_take_defaults():
    policy = RefundPolicy(full_refund_until_hours=48, late_refund_percent=25, refund_after_start_percent=10)
    assert RefundPolicy.from_dict(policy.as_dict()) == policy
    assert RefundPolicy.from_dict({"late_refund_percent": 30}) == RefundPolicy(late_refund_percent=30)
    with pytest.raises(ValueError, match="Unknown refund policy keys"):
        RefundPolicy.from_dict({"late_refund_pct": 30})


@pytest.mark.parametrize("kwargs", [
    {"full_refund_until_hours": -1}, {"late_refund_percent": 101}, {"late_refund_percent": -1},
    {"refund_after_start_percent": 60}, {"late_refund_percent": 50.0},
])
def test_a_policy_out_of_range_is_refused(kwargs):
    with pytest.raises(ValueError):
        RefundPolicy(**kwargs)


def test_a_late_refund_feeds_the_refund_split():
    # £40 lesson, 15 % commission, 5 % service fee: student paid 4200, tutor 3400, platform 800.
    b = fee_breakdown(4000, "GBP", CommissionRates(1500, 500, 0, 0, 0))
    d = cancellation_refund(POLICY, refundable_minor=b.student_pays, lesson_start=START,
                            now=START - timedelta(hours=5), cancelled_by=Canceller.STUDENT_SIDE)
    s = refund_split(b, d.amount_minor)  # 2100: tutor 3400 x 2100/4200 = 1700, platform 400
    assert (d.amount_minor, s.from_tutor, s.from_platform, s.tutor_payout_after) == (2100, 1700, 400, 1700)


@settings(max_examples=300, deadline=None, database=None)
@given(refundable=st.integers(0, 10_000_000), hours=st.integers(0, 72), late=st.integers(0, 100),
       after=st.integers(0, 100), a=st.integers(-10**6, 10**6), b=st.integers(-10**6, 10**6))
def test_cancelling_later_never_refunds_more_and_never_more_than_is_refundable(refundable, hours, late, after, a, b):
    policy = RefundPolicy(hours, late, min(after, late))
    earlier, later = sorted((a, b))
    first = cancellation_refund(policy, refundable_minor=refundable, lesson_start=START,
                                now=START + timedelta(seconds=earlier), cancelled_by=Canceller.STUDENT_SIDE)
    second = cancellation_refund(policy, refundable_minor=refundable, lesson_start=START,
                                 now=START + timedelta(seconds=later), cancelled_by=Canceller.STUDENT_SIDE)
    assert 0 <= second.amount_minor <= first.amount_minor <= refundable
