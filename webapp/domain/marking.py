"""Marking answers: numbers by tolerance (with units), multiple choice by index, and the safe front half of algebra.

Algebra is checked for equivalence by sympy in a separate process (`adapters/algebra.py`); this module only turns what
a pupil typed into a canonical expression string built from a whitelist of tokens, or refuses it in words. Nothing
here evaluates user input."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .limits import HOMEWORK_ANSWER_MAX

MAX_ANSWER = HOMEWORK_ANSWER_MAX  # characters a pupil may type for one answer
MAX_EXPONENT = 50         # larger powers are refused before sympy sees them
MAX_POWERS = 4            # how many ^ one answer may carry
MAX_NUMBER_DIGITS = 12
VARIABLES = ("x", "y", "n")
FUNCTIONS = ("sqrt",)
CONSTANTS = ("pi",)


@dataclass(frozen=True)
class Mark:
    """The verdict on one answer: right or wrong, and a sentence for the pupil when the answer was not understood."""

    correct: bool
    feedback: str = ""


class Refused(ValueError):
    """An answer that cannot be marked (too long, unknown symbols, absurd powers); the message says why."""


_UNIT_ALIASES = {"cm2": "cm^2", "cm3": "cm^3", "m2": "m^2", "m3": "m^3",
                 "ms-1": "m/s", "ms^-1": "m/s", "kmh": "km/h", "kph": "km/h", "degrees": "°", "deg": "°",
                 "pounds": "£", "gbp": "£", "pence": "p",
                 "ms-2": "m/s^2", "ms^-2": "m/s^2", "m/s2": "m/s^2", "m/s/s": "m/s^2",
                 "kg/m3": "kg/m^3", "kgm-3": "kg/m^3", "kgm^-3": "kg/m^3",
                 # Momentum and impulse share a unit: kg m/s is the same as N s.
                 "kgm/s": "ns", "kgms-1": "ns", "kgms^-1": "ns",
                 "ohm": "ω", "ohms": "ω", "nkg-1": "n/kg", "nkg^-1": "n/kg",
                 "j/kgc": "j/kg°c", "j/(kg°c)": "j/kg°c", "jkg-1°c-1": "j/kg°c", "jkg^-1°c^-1": "j/kg°c",
                 "j/kgk": "j/kg°c", "j/(kgk)": "j/kg°c", "jkg-1k-1": "j/kg°c",
                 "sec": "s", "secs": "s", "seconds": "s", "hr": "h", "hrs": "h", "hours": "h",
                 "percent": "%", "volts": "v", "amps": "a", "joules": "j", "watts": "w", "newtons": "n"}
# What may follow the number: a unit (letters, Ω, powers, a slash, brackets, spaces), never a sum.
_UNIT_TEXT = re.compile(r"^[A-Za-z°%£/^²³0-9()·\u03a9\u2126μµ\s-]*$")  # both omegas: Greek and the ohm sign
# A number, optionally in standard form (3.2e-5, 3.2 × 10^-5, 3.2x10**-5), then whatever follows. Exponents have at
# most three digits, so "1e999999" is not read as an overflowing float.
_NUMBER = re.compile(r"^\s*(£)?\s*([-+−]?(?:\d+(?:[.,]\d+)*|\d*\.\d+))"
                     r"(?:\s*[eE]([-+−]?\d{1,3})(?!\d)|\s*[x×*]\s*10\s*(?:\^|\*\*)\s*([-+−]?\d{1,3})(?!\d))?"
                     r"\s*(.*?)\s*$")


def is_unit(text: str) -> bool:
    """Whether `text` is something a pupil can type after a number and have read as the unit (empty is no unit)."""
    return text == "£" or bool(_UNIT_TEXT.match(text))


def normalise_unit(unit: str) -> str:
    """A unit as we compare it: no spaces, lower case, common spellings folded (cm2 → cm^2, kg m/s → N s)."""
    text = unit.strip().lower().replace(" ", "").replace("·", "").replace("²", "^2").replace("³", "^3")
    text = text.replace("Ω", "ω").replace("µ", "μ")
    return _UNIT_ALIASES.get(text, text)


def parse_number(text: str) -> tuple[float, str]:
    """(value, unit as typed) from e.g. '12.5 cm', '£1,200.50', '-3' or '6.2 × 10^-5 m'; Refused when there is no
    number."""
    if len(text) > MAX_ANSWER:
        raise Refused(f"That answer is too long (at most {MAX_ANSWER} characters).")
    match = _NUMBER.match(text.replace("−", "-"))
    if not match:
        raise Refused("Type a number, for example 12.5 (units are optional).")
    digits = match.group(2).replace(",", "")
    unit = match.group(5)
    if not _UNIT_TEXT.match(unit):
        raise Refused("Type a number, for example 12.5 (units are optional).")
    if len(digits.lstrip("+-").replace(".", "")) > MAX_NUMBER_DIGITS + 6:
        raise Refused("That number has too many digits.")
    exponent = match.group(3) or match.group(4)
    value = float(f"{digits}e{int(exponent)}") if exponent else float(digits)
    return value, ("£" if match.group(1) else unit)


def mark_numeric(text: str, answer: str, tolerance: float, unit: str) -> Mark:
    """Right when within `tolerance` of `answer`; a unit, if typed, must be the expected one."""
    value, typed_unit = parse_number(text)
    if typed_unit and normalise_unit(typed_unit) != normalise_unit(unit):
        expected = f"in {unit}" if unit else "as a plain number"
        return Mark(False, f"Check your units: the answer is {expected}.")
    return Mark(abs(value - float(answer)) <= tolerance + 1e-9)


def mark_choice(text: str, answer: str, choices: list[str]) -> Mark:
    """Right when the chosen index is the right one."""
    if not text.strip().isdigit() or not 0 <= int(text) < len(choices):
        raise Refused("Pick one of the options.")
    return Mark(int(text) == int(answer))


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z]+)|(\*\*|[-+*/^()]))")
_FOLD = {"×": "*", "÷": "/", "−": "-", "–": "-", "·": "*", "²": "^2", "³": "^3", "√": "sqrt", "π": "pi"}


def canonical_expression(text: str, variables: tuple[str, ...] = VARIABLES) -> str:
    """The pupil's expression rewritten from whitelisted tokens only (explicit * and **), or Refused in words.

    Implicit multiplication (2x, 3(x+1), x y) is made explicit; only numbers, the given variables, sqrt, pi,
    + - * / ^ and brackets pass; powers are capped so nobody can ask for 9^9^9."""
    if len(text) > MAX_ANSWER:
        raise Refused(f"That answer is too long (at most {MAX_ANSWER} characters).")
    for symbol, plain in _FOLD.items():
        text = text.replace(symbol, plain)
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise Refused(f"“{text[position]}” cannot be part of an answer here.")
        position = match.end()
        number, name, op = match.groups()
        if number:
            if len(number.replace(".", "")) > MAX_NUMBER_DIGITS:
                raise Refused("That number has too many digits.")
            tokens.append(("num", number))
        elif name:
            tokens.extend(_split_name(name, variables))
        else:
            tokens.append(("op", "^" if op == "**" else op))
    if not tokens:
        raise Refused("Type an expression, for example 3x + 2.")
    if sum(1 for kind, value in tokens if value == "^") > MAX_POWERS:
        raise Refused("That answer has too many powers.")
    out: list[str] = []
    depth = 0
    for index, (kind, value) in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        # Implicit multiplication: a value followed by a value or an opening bracket.
        if previous and _ends_value(previous) and (kind in ("num", "var", "const", "func") or value == "("):
            out.append("*")
        if value == "^":
            _check_power(tokens, index)
            out.append("**")
            continue
        if value == "(":
            depth += 1
        elif value == ")":
            depth -= 1
            if depth < 0:
                raise Refused("The brackets do not match.")
        out.append(value)
    if depth:
        raise Refused("The brackets do not match.")
    return " ".join(out)


def _split_name(name: str, variables: tuple[str, ...]) -> list[tuple[str, str]]:
    """A run of letters: a known function or constant, else single-letter variables multiplied (xy → x*y)."""
    lowered = name.lower()
    if lowered in FUNCTIONS:
        return [("func", lowered)]
    if lowered in CONSTANTS:
        return [("const", lowered)]
    parts = []
    for letter in name:
        if letter not in variables:
            raise Refused(f"“{name}” is not something this answer can contain; use {', '.join(variables)}.")
        parts.append(("var", letter))
    return parts


def _ends_value(token: tuple[str, str]) -> bool:
    kind, value = token
    return kind in ("num", "var", "const") or value == ")"


def _check_power(tokens: list[tuple[str, str]], index: int) -> None:
    """A power is one small number (optionally negative) or one variable, and is not itself raised to a power."""
    after = tokens[index + 1:index + 3]
    if after and after[0] == ("op", "-"):
        after = tokens[index + 2:index + 4]
    if not after or after[0][0] not in ("num", "var"):
        raise Refused("Write each power as a single number, for example x^2.")
    if after[0][0] == "num" and float(after[0][1]) > MAX_EXPONENT:
        raise Refused(f"Powers above {MAX_EXPONENT} are not needed here.")
    if len(after) > 1 and after[1] == ("op", "^"):
        raise Refused("A power of a power is not needed here; use brackets and one power.")
