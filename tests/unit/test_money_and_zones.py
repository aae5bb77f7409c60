"""Money in minor units with one rounding rule, and the zone names and offsets users send."""
from datetime import timedelta
from fractions import Fraction

import pytest

from webapp.domain.money import (Money, decimal_string, lesson_price, minor_from_decimal_string, parse_major_amount,
                                 round_half_up)
from webapp.domain.timezones import TimeZoneError, match_zone, parse_utc_offset, validate_zone, viewer_zone


@pytest.mark.parametrize(("value", "rounded"), [(Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(7, 3), 2),
                                                (Fraction(8, 3), 3), (Fraction(0), 0)])
def test_halves_round_away_from_zero(value, rounded):
    assert round_half_up(value) == rounded


def test_a_lesson_costs_the_hourly_rate_times_its_minutes_rounded_once():
    assert lesson_price(4000, "GBP", 60).lesson_price == Money(4000, "GBP")
    assert lesson_price(4000, "GBP", 45).lesson_price.amount_minor == 3000
    assert lesson_price(3333, "GBP", 45).lesson_price.amount_minor == 2500  # 2499.75 → 2500
    assert lesson_price(1001, "JPY", 15).lesson_price.amount_minor == 250  # 250.25 → 250


def test_money_refuses_floats_and_unknown_currencies_and_formats_in_words():
    with pytest.raises(TypeError):
        Money(10.5, "GBP")
    with pytest.raises(ValueError):
        Money(100, "XXX")
    assert Money(123456, "GBP").format() == "£1,234.56" and Money(-5, "EUR").format() == "-€0.05"
    assert Money(1500, "JPY").format() == "¥1,500"


@pytest.mark.parametrize(("text", "minor"), [("42.50", 4250), ("42", 4200), ("£1,234.5", 123450), (" 0.07 ", 7),
                                             ("1,000,000", 100000000)])
def test_typed_amounts_become_exact_minor_units(text, minor):
    assert parse_major_amount(text, "GBP") == minor


@pytest.mark.parametrize("text", ["", "4.255", "abc", "1.2.3", "-5"])
def test_typed_amounts_that_make_no_sense_are_refused(text):
    with pytest.raises(ValueError):
        parse_major_amount(text, "GBP")


@pytest.mark.parametrize("text", ["80,00", "£80,5", "1,5", "12,34.00", ",500", "1,0000", "40,50", "4,0.50"])
def test_a_decimal_comma_is_refused_not_read_as_thousands(text):
    # "80,00" read with the comma as a thousands separator would price a plan at £8,000.00.
    with pytest.raises(ValueError, match="with a point for the decimals"):
        parse_major_amount(text, "GBP")


@pytest.mark.parametrize("text", ["4²", "٤٢", "４２"])
def test_digits_other_than_0_to_9_are_refused_in_words(text):
    # str.isdigit() let them through to int(), whose own message ("invalid literal...") reached the form.
    with pytest.raises(ValueError, match="^Enter an amount like 42.50$"):
        parse_major_amount(text, "GBP")


def test_zone_names_are_iana_names():
    assert validate_zone(" Asia/Kathmandu ") == "Asia/Kathmandu"
    for bad in ("Mars/Olympus", "", None, "A/" * 100, 42, "../../etc/passwd"):
        with pytest.raises(TimeZoneError):
            validate_zone(bad)


@pytest.mark.parametrize(("text", "delta"), [("+05:30", timedelta(hours=5, minutes=30)), ("-0400", timedelta(hours=-4)),
                                             ("UTC+1", timedelta(hours=1)), ("+05:45", timedelta(hours=5, minutes=45))])
def test_utc_offsets_clients_send(text, delta):
    assert parse_utc_offset(text).utcoffset(None) == delta


@pytest.mark.parametrize("text", ["+15:00", "+05:10", "five", "", None])
def test_offsets_that_no_place_uses_are_refused(text):
    with pytest.raises(TimeZoneError):
        parse_utc_offset(text)


def test_an_iana_name_wins_over_an_offset_and_the_fallback():
    assert viewer_zone("Asia/Kolkata", "+01:00", "UTC")[1] == "Asia/Kolkata"
    assert viewer_zone(None, "+05:30", "UTC")[1] == "UTC+05:30"
    assert viewer_zone(None, None, "Europe/London")[1] == "Europe/London"


@pytest.mark.parametrize(("typed", "meant"), [
    ("Europe/London", "Europe/London"), ("europe/london", "Europe/London"), ("new york", "America/New_York"),
    ("Tokyo", "Asia/Tokyo"), (" utc ", "UTC"), ("Springfield", None), ("", None), (None, None), ("x" * 200, None),
])
def test_a_zone_typed_by_its_city_or_in_any_case_is_the_zone_meant(typed, meant):
    assert match_zone(typed) == meant


@pytest.mark.parametrize(("minor", "currency", "text"), [(4250, "GBP", "42.50"), (5, "USD", "0.05"), (0, "EUR", "0.00"),
                                                         (1200, "JPY", "1200"), (100000001, "GBP", "1000000.01")])
def test_provider_decimal_strings_round_trip_exactly(minor, currency, text):
    assert decimal_string(minor, currency) == text
    assert minor_from_decimal_string(text, currency) == minor


@pytest.mark.parametrize("text", ["42.505", "-1.00", "1e3", "", "12.", "abc"])
def test_a_provider_amount_that_is_not_exact_minor_units_is_refused(text):
    with pytest.raises(ValueError):
        minor_from_decimal_string(text, "GBP")


def test_typed_amounts_past_a_32_bit_column_or_in_other_digits_are_refused_in_words():
    import pytest

    from webapp.domain.money import MAX_MINOR, parse_major_amount
    assert parse_major_amount("21474836.47", "GBP") == MAX_MINOR
    for text, words in (("21474836.48", "too large"), ("99999999999999999999", "too large"), ("²", "like 42.50"),
                        ("٣.50", "like 42.50")):
        with pytest.raises(ValueError, match=words):
            parse_major_amount(text, "GBP")
