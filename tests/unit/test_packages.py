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
