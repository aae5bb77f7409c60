"""Small helpers the question templates share: numbers written as a pupil writes them, and shuffled choices."""
from __future__ import annotations

import math
import re
import random


def num(value: float, places: int = 2) -> str:
    """A number as a pupil writes it: no trailing zeros, at most `places` decimals."""
    text = f"{round(value, places):.{places}f}"
    if places > 0:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def sig(value: float, figures: int = 3) -> str:
    """`value` to `figures` significant figures, plainly written between 0.001 and a million, else as 1.23e-05."""
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e6:
        places = figures - 1 - math.floor(math.log10(abs(value)))
        # Rounding can carry into a new digit (9.996 → 10.0): recount the places from the rounded value.
        places = figures - 1 - math.floor(math.log10(abs(round(value, places))))
        rounded = round(value, places)
        return str(int(rounded)) if places <= 0 else num(rounded, places)
    mantissa, exponent = f"{value:.{figures - 1}e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def sci(value: float, figures: int = 3) -> str:
    """`value` as a person writes it in a solution: 6.67 × 10^-11 for small or large numbers, else plainly."""
    text = sig(value, figures)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa} × 10^{exponent}"


def within(value: float, share: float = 0.01) -> float:
    """An absolute tolerance of `share` of `value`: answers to 3 significant figures pass, wrong working does not."""
    return abs(value) * share


def choice(rng: random.Random, right: str, wrong: list[str]) -> tuple[list[str], str]:
    """The right option and three distinct wrong ones, shuffled; returns (options, index of the right one)."""
    options = [right] + [w for w in dict.fromkeys(wrong) if w != right][:3]
    rng.shuffle(options)
    return options, str(options.index(right))


def signed(k: int) -> str:
    """`+ 3` or `− 3`, for writing a term after another."""
    return f"+ {k}" if k >= 0 else f"− {-k}"


_ZERO_TERM = re.compile(r"\s[+−-]\s0(?:[a-z](?:[²³]|\^\d+)?)(?![\w/.])")  # " + 0x²": a term that is not there
_ZERO_CONSTANT = re.compile(r"(?<=[a-z²³])\s[+−-]\s0(?=[.,;)]?(?:\s|$))")  # "−3n + 0" is "−3n"
_UNIT_COEFFICIENT = re.compile(r"(?<![\w.^/])1(?=[a-z](?![a-zA-Z\d]|-\d))")  # "1x" is written "x"
_NEGATIVE_SQUARED = re.compile(r"(?<![\w)])[-−](\d+(?:\.\d+)?)(?=[²³])")  # "-2²" means (−2)² here
_PLUS_NEGATIVE = re.compile(r"\+\s*[-−]\s*(?=[\w(])")  # "+ -3" → "− 3"
_MINUS_NEGATIVE = re.compile(r"[−]\s*[-−]\s*(?=[\w(])")  # "− -3" → "+ 3"
_HYPHEN_MINUS = re.compile(r"(?<![\w)])-(?=[\w(])")  # a negative number's sign is a minus, not a hyphen


def tidy(text: str) -> str:
    """Terms written as a teacher writes them: no "+ 0x" terms, "x" not "1x", "− 3" not "+ -3", "+ 3" not "− -3",
    (−2)² for a negative squared, and a minus sign (−) rather than a hyphen before a negative number."""
    text = _ZERO_CONSTANT.sub("", _ZERO_TERM.sub("", text))
    text = _UNIT_COEFFICIENT.sub("", text)
    text = _NEGATIVE_SQUARED.sub(r"(−\1)", text)
    text = _PLUS_NEGATIVE.sub("− ", text)
    text = _MINUS_NEGATIVE.sub("+ ", text)
    return _HYPHEN_MINUS.sub("−", text)
