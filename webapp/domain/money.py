"""Money in integer minor units. The one rounding rule: half up, applied once per computed amount."""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# ISO 4217 currencies we price in, with their minor-unit exponents.
CURRENCY_EXPONENTS: dict[str, int] = {"GBP": 2, "EUR": 2, "USD": 2, "AUD": 2, "CAD": 2, "NZD": 2, "INR": 2, "JPY": 0}
CURRENCY_SYMBOLS: dict[str, str] = {"GBP": "£", "EUR": "€", "USD": "$", "AUD": "A$", "CAD": "C$", "NZD": "NZ$",
                                    "INR": "₹", "JPY": "¥"}


def round_half_up(value: Fraction) -> int:
    """The single rounding rule for every computed amount: nearest minor unit, halves away from zero."""
    sign = -1 if value < 0 else 1
    magnitude = abs(value)
    whole, remainder = divmod(magnitude.numerator, magnitude.denominator)
    if remainder * 2 >= magnitude.denominator:
        whole += 1
    return sign * whole


@dataclass(frozen=True)
class Money:
    """An amount in minor units with its currency code beside it."""

    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount_minor, int) or isinstance(self.amount_minor, bool):
            raise TypeError("Money amounts are integers in minor units")
        if self.currency not in CURRENCY_EXPONENTS:
            raise ValueError(f"Unsupported currency: {self.currency}")

    def format(self) -> str:
        """Human form, e.g. £42.50."""
        exp = CURRENCY_EXPONENTS[self.currency]
        symbol = CURRENCY_SYMBOLS.get(self.currency, self.currency + " ")
        sign = "-" if self.amount_minor < 0 else ""
        major, minor = divmod(abs(self.amount_minor), 10 ** exp) if exp else (abs(self.amount_minor), 0)
        return f"{sign}{symbol}{major:,}" + (f".{minor:0{exp}d}" if exp else "")


@dataclass(frozen=True)
class LessonPriceBreakdown:
    """The price of one lesson from a tutor's hourly rate and the lesson's duration (fees come later)."""

    hourly_rate: Money
    duration_minutes: int
    lesson_price: Money

    def as_dict(self) -> dict:
        """JSON form used by the API and the slot picker."""
        return {"currency": self.lesson_price.currency, "hourly_rate_minor": self.hourly_rate.amount_minor,
                "duration_minutes": self.duration_minutes, "lesson_price_minor": self.lesson_price.amount_minor,
                "lesson_price_display": self.lesson_price.format()}


def lesson_price(hourly_rate_minor: int, currency: str, duration_minutes: int) -> LessonPriceBreakdown:
    """Price a lesson: hourly rate × minutes / 60, rounded once by the rule above."""
    if hourly_rate_minor < 0:
        raise ValueError("An hourly rate cannot be negative")
    if duration_minutes <= 0:
        raise ValueError("A lesson must last some minutes")
    rate = Money(hourly_rate_minor, currency)
    price = round_half_up(Fraction(hourly_rate_minor * duration_minutes, 60))
    return LessonPriceBreakdown(rate, duration_minutes, Money(price, currency))


_THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+")
_PLAIN_AMOUNT = re.compile(r"(?=\.?[0-9])[0-9]*\.?[0-9]*")  # at least one digit, and only 0-9


def parse_major_amount(text: str, currency: str, *, bounded: bool = True) -> int:
    """Parse a user-typed amount like '42.50' into minor units exactly (no floats); ValueError with words. Amounts
    to store are `bounded` by MAX_MINOR; a filter (a ceiling that only compares) may take any size and cap it."""
    exp = CURRENCY_EXPONENTS.get(currency)
    if exp is None:
        raise ValueError(f"Unsupported currency: {currency}")
    cleaned = text.strip()
    for symbol in CURRENCY_SYMBOLS.values():
        cleaned = cleaned.removeprefix(symbol)
    whole = cleaned.partition(".")[0]
    if "," in whole:
        # A comma only groups thousands ("1,234.50"). "80,00" is a decimal comma: read as thousands it would be
        # 8000, a hundred times what was meant, so it is refused rather than guessed.
        if not _THOUSANDS.fullmatch(whole):
            raise ValueError("Write the amount with a point for the decimals, like 42.50")
        cleaned = cleaned.replace(",", "", whole.count(","))
    if not _PLAIN_AMOUNT.fullmatch(cleaned):  # str.isdigit() let other scripts' digits through to int()
        raise ValueError("Enter an amount like 42.50")
    major, _, minor = cleaned.partition(".")
    if len(minor) > exp:
        raise ValueError(f"{currency} amounts have at most {exp} decimal places")
    amount = int(major or "0") * 10 ** exp + int((minor or "0").ljust(exp, "0") or "0")
    if bounded and amount > MAX_MINOR:
        raise ValueError(f"That amount is too large: at most {Money(MAX_MINOR, currency).format()}")
    return amount


# Amounts live in 32-bit integer columns: a larger one is an input error, not a server error.
MAX_MINOR = 2**31 - 1


def decimal_string(amount_minor: int, currency: str) -> str:
    """Minor units as a provider's decimal string ('4250', 'GBP' → '42.50'; JPY has no decimals), exactly."""
    exp = CURRENCY_EXPONENTS[currency]
    if amount_minor < 0:
        raise ValueError("A provider amount cannot be negative")
    major, minor = divmod(amount_minor, 10 ** exp)
    return f"{major}.{minor:0{exp}d}" if exp else str(major)


def minor_from_decimal_string(value: str, currency: str) -> int:
    """A provider's decimal string back to minor units, exactly (ValueError for anything else)."""
    exp = CURRENCY_EXPONENTS[currency]
    major, dot, minor = value.partition(".")
    if not major.isdigit() or (dot and (not minor.isdigit() or len(minor) > exp)):
        raise ValueError(f"Not a {currency} amount: {value!r}")
    return int(major) * 10 ** exp + int(minor.ljust(exp, "0") or "0")
