"""Fee breakdowns and refund splits, worked by hand (rules in webapp/domain/fees.py)."""

from __future__ import annotations

import pytest

from webapp.domain.fees import CommissionRates, FeeBreakdown, RefundSplit, fee_breakdown, refund_split
from webapp.domain.money import Money

# 15 % commission, 5 % service fee, 2.5 % payout fee, 25p per payout, £2.00 monthly management fee.
RATES = CommissionRates(commission_fee_bp=1500, service_fee_bp=500, payout_fee_bp=250,
                        payout_amount_fee_minor=25, account_management_amount_fee_minor=200)
ZERO = CommissionRates(0, 0, 0, 0, 0)


def total(rows) -> int:
    return sum(money.amount_minor for _, money in rows)


# --- the breakdown ---------------------------------------------------------------------------------

def test_a_40_pound_lesson_breaks_down_line_by_line():
    # service    4000 x 5 %           = 200        student pays 4000 - 0 + 200 = 4200
    # commission 4000 x 15 %          = 600
    # payout fee (4000 - 600) x 2.5 % = 85
    # fixed payout fee                = 25
    # tutor      4000 - 600 - 85 - 25 = 3290       platform 4200 - 3290 = 910 = 200 + 600 + 85 + 25
    b = fee_breakdown(4000, "GBP", RATES)
    assert b == FeeBreakdown(currency="GBP", lesson_price=4000, discount=0, service_fee=200, student_pays=4200,
                             commission_fee=600, payout_fee=85, payout_amount_fee=25, account_management_fee=0,
                             tutor_payout=3290, platform_take=910)


def test_the_management_fee_is_taken_only_on_the_first_paid_lesson_of_the_month():
    # as above, less the 200 management fee: tutor 3290 - 200 = 3090, platform 910 + 200 = 1110
    first = fee_breakdown(4000, "GBP", RATES, first_paid_lesson_of_month=True)
    later = fee_breakdown(4000, "GBP", RATES, first_paid_lesson_of_month=False)
    assert (first.account_management_fee, first.tutor_payout, first.platform_take) == (200, 3090, 1110)
    assert (later.account_management_fee, later.tutor_payout, later.platform_take) == (0, 3290, 910)
    assert first.student_pays == later.student_pays == 4200


def test_halves_round_up_once_per_line():
    # service    4250 x 5 %            = 212.5  -> 213
    # commission 4250 x 15 %           = 637.5  -> 638
    # payout fee (4250 - 638) x 2.5 %  = 90.3   -> 90
    # tutor 4250 - 638 - 90 - 25 = 3497; student 4250 + 213 = 4463; platform 4463 - 3497 = 966
    b = fee_breakdown(4250, "GBP", RATES)
    assert (b.service_fee, b.commission_fee, b.payout_fee) == (213, 638, 90)
    assert (b.tutor_payout, b.student_pays, b.platform_take) == (3497, 4463, 966)
    assert b.platform_take == 213 + 638 + 90 + 25


def test_a_single_half_penny_rounds_up_and_less_than_half_rounds_down():
    half = CommissionRates(5000, 0, 0, 0, 0)
    assert fee_breakdown(1, "GBP", half).commission_fee == 1  # 1 x 50 % = 0.5 -> 1
    assert fee_breakdown(3, "GBP", CommissionRates(1500, 0, 0, 0, 0)).commission_fee == 0  # 0.45 -> 0
    assert fee_breakdown(7, "GBP", CommissionRates(0, 1000, 0, 0, 0)).service_fee == 1  # 0.7 -> 1


def test_zero_rates_pay_the_tutor_the_whole_price():
    b = fee_breakdown(4000, "GBP", ZERO, first_paid_lesson_of_month=True)
    assert (b.student_pays, b.tutor_payout, b.platform_take) == (4000, 4000, 0)


def test_a_coupon_is_funded_by_the_platform_and_never_cuts_the_tutors_pay():
    # discount 500: student pays 4000 - 500 + 200 = 3700; tutor still 3290; platform 3700 - 3290 = 410
    b = fee_breakdown(4000, "GBP", RATES, discount_minor=500)
    assert (b.student_pays, b.commission_fee, b.tutor_payout, b.platform_take) == (3700, 600, 3290, 410)


def test_a_coupon_bigger_than_the_platforms_fees_is_a_platform_cost():
    # discount 1000: student pays 3200; tutor 3290; platform 200 + 600 + 85 + 25 - 1000 = -90
    b = fee_breakdown(4000, "GBP", RATES, discount_minor=1000)
    assert (b.student_pays, b.tutor_payout, b.platform_take) == (3200, 3290, -90)


def test_a_full_discount_means_the_student_pays_only_the_service_fee():
    b = fee_breakdown(4000, "GBP", RATES, discount_minor=4000)
    assert (b.student_pays, b.tutor_payout, b.platform_take) == (200, 3290, 200 - 3290)


def test_fixed_fees_are_capped_at_what_is_left_so_the_payout_is_never_negative():
    # 100 x 50 % = 50 commission; payout fee 0; fixed 30 fits (20 left); management 50 capped at 20
    rates = CommissionRates(5000, 0, 0, 30, 50)
    b = fee_breakdown(100, "GBP", rates, first_paid_lesson_of_month=True)
    assert (b.commission_fee, b.payout_amount_fee, b.account_management_fee, b.tutor_payout) == (50, 30, 20, 0)
    assert b.platform_take == 100
    tiny = fee_breakdown(10, "GBP", CommissionRates(0, 0, 0, 25, 200), first_paid_lesson_of_month=True)
    assert (tiny.payout_amount_fee, tiny.account_management_fee, tiny.tutor_payout) == (10, 0, 0)


def test_a_100_percent_commission_leaves_nothing_for_payout_fees():
    b = fee_breakdown(4000, "GBP", CommissionRates(10000, 0, 10000, 25, 200), first_paid_lesson_of_month=True)
    assert (b.commission_fee, b.payout_fee, b.payout_amount_fee, b.account_management_fee, b.tutor_payout) == (
        4000, 0, 0, 0, 0)


def test_a_zero_decimal_currency_works_in_its_own_minor_units():
    # ¥5000 x 15 % = 750; service 250; payout fee 4250 x 2.5 % = 106.25 -> 106; tutor 5000 - 750 - 106 - 25 = 4119
    b = fee_breakdown(5000, "JPY", RATES)
    assert (b.commission_fee, b.service_fee, b.payout_fee, b.tutor_payout) == (750, 250, 106, 4119)


def test_a_free_lesson_has_no_fees():
    b = fee_breakdown(0, "GBP", RATES, first_paid_lesson_of_month=True)
    assert (b.student_pays, b.tutor_payout, b.platform_take) == (0, 0, 0)


@pytest.mark.parametrize("discount", [-1, 4001])
def test_a_discount_outside_zero_to_the_price_is_refused(discount):
    with pytest.raises(ValueError, match="discount"):
        fee_breakdown(4000, "GBP", RATES, discount_minor=discount)


def test_bad_prices_and_currencies_are_refused():
    with pytest.raises(ValueError, match="negative"):
        fee_breakdown(-1, "GBP", RATES)
    with pytest.raises(ValueError, match="Unsupported currency"):
        fee_breakdown(4000, "XYZ", RATES)
    with pytest.raises(TypeError):
        fee_breakdown(40.0, "GBP", RATES)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fee_breakdown(True, "GBP", RATES)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, message", [
    ({"commission_fee_bp": 10001}, "between 0 and 10000"),
    ({"service_fee_bp": -1}, "between 0 and 10000"),
    ({"payout_fee_bp": 20000}, "between 0 and 10000"),
    ({"payout_amount_fee_minor": -5}, "cannot be negative"),
    ({"account_management_amount_fee_minor": -1}, "cannot be negative"),
])
def test_commission_rates_out_of_range_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CommissionRates(**{**RATES.as_dict(), **kwargs})


def test_commission_rates_round_trip_through_json():
    assert CommissionRates.from_dict(RATES.as_dict()) == RATES
    with pytest.raises(ValueError, match="exactly the keys"):
        CommissionRates.from_dict({**RATES.as_dict(), "extra": 1})


def test_a_breakdown_that_does_not_balance_cannot_be_built():
    good = fee_breakdown(4000, "GBP", RATES).as_dict()
    with pytest.raises(ValueError, match="balance|equal"):
        FeeBreakdown.from_dict({**good, "platform_take_minor": 911})
    with pytest.raises(ValueError):
        FeeBreakdown.from_dict({**good, "tutor_payout_minor": 3291, "platform_take_minor": 909})


def test_a_breakdown_round_trips_through_json_with_minor_unit_keys():
    b = fee_breakdown(4250, "GBP", RATES, discount_minor=300, first_paid_lesson_of_month=True)
    data = b.as_dict()
    assert data["currency"] == "GBP" and data["student_pays_minor"] == b.student_pays
    assert FeeBreakdown.from_dict(data) == b


def test_receipt_lines_add_up_to_their_totals():
    b = fee_breakdown(4000, "GBP", RATES, discount_minor=500, first_paid_lesson_of_month=True)
    student = b.student_lines()
    assert [label for label, _ in student] == ["Lesson price", "Discount", "Service fee", "Total paid"]
    assert total(student[:-1]) == student[-1][1].amount_minor == b.student_pays
    tutor = b.tutor_lines()
    assert [label for label, _ in tutor] == ["Lesson price", "Commission", "Payout fee", "Fixed payout fee",
                                             "Account management fee", "Tutor payout"]
    assert total(tutor[:-1]) == tutor[-1][1].amount_minor == b.tutor_payout
    assert b.lines()[-1] == ("Platform take", Money(b.platform_take, "GBP"))
    assert [m.format() for _, m in student] == ["£40.00", "-£5.00", "£2.00", "£37.00"]


def test_receipt_lines_leave_out_a_zero_discount_and_management_fee():
    b = fee_breakdown(4000, "GBP", RATES)
    labels = [label for label, _ in b.lines()]
    assert "Discount" not in labels and "Account management fee" not in labels


# --- refunds ---------------------------------------------------------------------------------------

B = fee_breakdown(4000, "GBP", RATES)  # student pays 4200 = tutor 3290 + platform 910


def test_a_full_refund_takes_everything_back_from_both_sides():
    s = refund_split(B, 4200)
    assert s == RefundSplit(currency="GBP", refund=4200, from_tutor=3290, from_platform=910, total_refunded=4200,
                            remaining_refundable=0, tutor_payout_after=0, platform_take_after=0)
    assert s.fully_refunded


def test_a_half_refund_splits_in_proportion_to_the_shares():
    # tutor part 3290 x 2100 / 4200 = 1645; platform part 2100 - 1645 = 455
    s = refund_split(B, 2100)
    assert (s.from_tutor, s.from_platform, s.tutor_payout_after, s.platform_take_after) == (1645, 455, 1645, 455)
    assert 4200 - 2100 == s.tutor_payout_after + s.platform_take_after
    assert not s.fully_refunded


def test_penny_refunds_split_on_running_totals_so_rounding_never_drifts():
    # running tutor totals: round(3290 x 1/4200 = 0.78) = 1, round(1.57) = 2, round(2.35) = 2
    parts = [(s.from_tutor, s.from_platform) for s in (refund_split(B, 1, k) for k in range(3))]
    assert parts == [(1, 0), (1, 0), (0, 1)]


def test_partial_refunds_end_exactly_where_one_refund_of_the_same_total_does():
    first = refund_split(B, 1000)
    second = refund_split(B, 3200, already_refunded_minor=1000)
    assert first.from_tutor + second.from_tutor == 3290 and first.from_platform + second.from_platform == 910
    assert (second.tutor_payout_after, second.platform_take_after) == (0, 0)
    assert refund_split(B, 1777, 0).tutor_payout_after == refund_split(B, 777, 1000).tutor_payout_after


def test_refunding_more_than_is_left_is_refused_in_words():
    with pytest.raises(ValueError, match=r"Only £2\.00 of the £42\.00 paid is left to refund, so £3\.00 cannot"):
        refund_split(B, 300, already_refunded_minor=4000)
    with pytest.raises(ValueError, match=r"already been refunded in full"):
        refund_split(B, 1, already_refunded_minor=4200)
    with pytest.raises(ValueError, match="negative"):
        refund_split(B, -1)
    with pytest.raises(ValueError, match="do not fit"):
        refund_split(B, 0, already_refunded_minor=4201)


def test_when_a_coupon_made_the_platform_take_negative_its_subsidy_shrinks_with_the_refund():
    # student pays 3200, tutor 3290, platform -90. Half refund 1600: tutor part 3290 x 1600/3200 = 1645,
    # platform part 1600 - 1645 = -45; afterwards tutor 1645, platform -45 (1600 = 1645 - 45).
    b = fee_breakdown(4000, "GBP", RATES, discount_minor=1000)
    half = refund_split(b, 1600)
    assert (half.from_tutor, half.from_platform, half.tutor_payout_after, half.platform_take_after) == (
        1645, -45, 1645, -45)
    rest = refund_split(b, 1600, already_refunded_minor=1600)
    assert (rest.tutor_payout_after, rest.platform_take_after) == (0, 0)


def test_a_lesson_paid_with_nothing_has_nothing_to_refund():
    b = fee_breakdown(4000, "GBP", ZERO, discount_minor=4000)  # student pays 0, platform subsidises 4000
    s = refund_split(b, 0)
    assert (s.refund, s.tutor_payout_after, s.platform_take_after) == (0, 4000, -4000)
    with pytest.raises(ValueError, match="already been refunded in full"):
        refund_split(b, 1)


def test_a_transfer_reversal_takes_back_what_was_sent_beyond_what_is_owed_now():
    from webapp.domain.fees import transfer_reversal_due
    assert transfer_reversal_due(3600, 3600, 0) == 0
    assert transfer_reversal_due(3600, 1800, 0) == 1800
    assert transfer_reversal_due(3600, 1800, 1800) == 0
    assert transfer_reversal_due(3600, 0, 1800) == 1800
    assert transfer_reversal_due(1000, 1800, 0) == 0  # owed more than was sent: the payout job's business, not ours
    with pytest.raises(ValueError):
        transfer_reversal_due(-1, 0, 0)
