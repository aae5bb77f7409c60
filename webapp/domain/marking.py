"""Marking answers: numbers by tolerance (with units), multiple choice by index, and the safe front half of algebra.

Algebra is checked for equivalence by sympy in a separate process (`adapters/algebra.py`); this module only turns what
a pupil typed into a canonical expression string built from a whitelist of tokens, or refuses it in words. Nothing
here evaluates user input."""
from __future__ import annotations

import keyword
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .limits import HOMEWORK_ANSWER_MAX

MAX_ANSWER = HOMEWORK_ANSWER_MAX  # characters a pupil may type for one answer
MAX_EXPONENT = 50         # larger powers are refused before sympy sees them
MAX_POWERS = 4            # how many ^ one answer may carry
MAX_NUMBER_DIGITS = 12
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


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z]+)|([^\x00-\x7f])|(\*\*|[-+*/^()]))")
_FOLD = {"×": "*", "÷": "/", "−": "-", "–": "-", "·": "*", "²": "^2", "³": "^3", "√": "sqrt", "π": "pi"}
# Greek letters typed as signs are variables under their names (λ is sympy's "lamda": "lambda" is a Python keyword).
_GREEK_SIGNS = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "θ": "theta", "λ": "lamda",
                "μ": "mu", "µ": "mu", "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "ϕ": "phi", "ω": "omega"}
# Greek names a pupil may spell out. Two-letter ones (mu, nu, xi) and tau/rho are left out: "mu" is as likely m × u
# (momentum) as μ; a question whose answer uses μ declares it, and then "mu" is read as μ.
GREEK = {"alpha": "alpha", "beta": "beta", "gamma": "gamma", "delta": "delta", "epsilon": "epsilon",
         "theta": "theta", "lambda": "lamda", "lamda": "lamda", "phi": "phi", "sigma": "sigma", "omega": "omega"}
# Names a pupil might reach for that these answers do not need: refused in words rather than read as s × i × n.
_UNSUPPORTED = ("sin", "cos", "tan", "sec", "csc", "cot", "log", "exp")


def canonical_expression(text: str, names: Iterable[str] = ()) -> str:
    """The pupil's expression rewritten from whitelisted tokens only (explicit * and **), or Refused in words.

    Each Latin letter is a variable (xy is x times y), except within the whitelisted names: sqrt, pi, the Greek
    letters in GREEK (or typed as signs) and any extra `names` a question declares. Implicit multiplication (2x,
    3(x+1), x y, √2) is made explicit; only numbers, letters, those names, + - * / ^ and brackets pass; the shape is
    checked (every operator has its values), and powers are capped so nobody can ask for 9^9^9."""
    if len(text) > MAX_ANSWER:
        raise Refused(f"That answer is too long (at most {MAX_ANSWER} characters).")
    for symbol, plain in _FOLD.items():
        text = text.replace(symbol, plain)
    known = _known_names(names)
    tokens: list[tuple[str, str]] = []
    position, text = 0, text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise Refused(f"“{text[position]}” cannot be part of an answer here.")
        position = match.end()
        number, name, sign, op = match.groups()
        if number:
            if len(number.replace(".", "")) > MAX_NUMBER_DIGITS:
                raise Refused("That number has too many digits.")
            tokens.append(("num", number))
        elif name:
            tokens.extend(_split_name(name, known))
        elif sign:
            if sign not in _GREEK_SIGNS:
                raise Refused(f"“{sign}” cannot be part of an answer here.")
            tokens.append(("var", _GREEK_SIGNS[sign]))
        else:
            tokens.append(("op", "^" if op == "**" else op))
    if not tokens:
        raise Refused("Type an expression, for example 3x + 2.")
    if sum(1 for kind, value in tokens if value == "^") > MAX_POWERS:
        raise Refused("That answer has too many powers.")
    tokens = _bracket_function_arguments(tokens)
    _check_shape(tokens)
    out: list[str] = []
    depth = 0
    for index, (kind, value) in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        if previous and previous[0] == "num" and kind == "num":
            # "1 1/4" would be read as 1 × 1/4: a mixed number is refused rather than marked as a quarter.
            raise Refused("Two numbers side by side cannot be read: write a mixed number such as 1 1/4 as 5/4 (or "
                          "1 + 1/4), and put × between numbers you multiply.")
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


def expression_names(canonical: str) -> tuple[str, ...]:
    """The variables a canonical expression uses (not sqrt or pi), sorted."""
    return tuple(sorted({t for t in canonical.split()
                         if t[0].isalpha() and t not in FUNCTIONS and t not in CONSTANTS}))


def algebra_pair(typed: str, answer: str) -> tuple[str, str, tuple[str, ...]]:
    """(the pupil's canonical expression, the answer's, the variables to compare over) for one algebra answer.

    A question declares its variables by using them in its answer, and a pupil's answer may use only those: a capital
    X for x, or t where the question is in n, is refused in words (the pupil retypes it) rather than marked wrong."""
    expected = canonical_expression(answer)
    declared = expression_names(expected)
    given = canonical_expression(typed, declared)
    extra = [name for name in expression_names(given) if name not in declared]
    if extra:
        hint = f"use {', '.join(declared)}" if declared else "the answer is a number, with no letters"
        raise Refused(f"“{extra[0]}” is not part of this question; {hint}.")
    return given, expected, declared


def answer_hint(answer: str) -> str:
    """A placeholder for an algebra answer box that names the letters the question uses (none: a number)."""
    try:
        names = expression_names(canonical_expression(answer))
    except Refused:
        return ""
    if not names:
        return "e.g. 5/4 (a number: a fraction or a decimal)"
    return f"an expression in {', '.join(names)}, e.g. 3{names[0]} + 2"


def _known_names(extra: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Multi-letter names read as one token (lower case → kind and canonical spelling); the rest are single letters."""
    known = {f: ("func", f) for f in FUNCTIONS} | {c: ("const", c) for c in CONSTANTS}
    known |= {typed: ("var", name) for typed, name in GREEK.items()}
    known |= {name.lower(): ("var", name) for name in extra
              if len(name) > 1 and name.isascii() and name.isalpha() and not keyword.iskeyword(name)}
    return known


def _split_name(name: str, known: dict[str, tuple[str, str]]) -> list[tuple[str, str]]:
    """A run of letters: the longest known name at each place (sqrt, pi, theta…), else one letter, a variable (so
    xy → x*y, 2pix → 2*pi*x). Function names we do not mark (sin, log…) are refused in words."""
    lowered = name.lower()
    parts: list[tuple[str, str]] = []
    at = 0
    while at < len(name):
        if lowered.startswith(_UNSUPPORTED, at) or (at == 0 and lowered.startswith("ln")):
            found = next(f for f in (*_UNSUPPORTED, "ln") if lowered.startswith(f, at))
            raise Refused(f"“{found}” is not needed in these answers; use numbers, letters, sqrt, pi, + − × ÷ ^ and "
                          f"brackets.")
        for length in range(min(8, len(name) - at), 1, -1):
            if lowered[at:at + length] in known:
                parts.append(known[lowered[at:at + length]])
                at += length
                break
        else:
            parts.append(("var", name[at]))
            at += 1
    return parts


def _bracket_function_arguments(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """sqrt followed by one value (√2, sqrt x) takes that value as its argument; otherwise it needs a bracket."""
    out: list[tuple[str, str]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        out.append(token)
        index += 1
        if token[0] != "func":
            continue
        following = tokens[index] if index < len(tokens) else None
        if following is not None and following[0] in ("num", "var", "const"):
            out.extend([("op", "("), following, ("op", ")")])
            index += 1
        elif following != ("op", "("):
            raise Refused("Write a square root with brackets, for example sqrt(x + 1), or as √2.")
    return out


def _check_shape(tokens: list[tuple[str, str]]) -> None:
    """Every operator has a value on each side (a sign may lead), and brackets are not empty: an answer the marker
    could not read is refused in words here, not marked wrong later."""
    wanting = True  # a value must come next
    previous = ""
    for kind, value in tokens:
        if kind in ("num", "var", "const"):
            wanting = False
        elif kind == "func" or value == "(":
            wanting = True
        elif value == ")":
            if wanting:
                raise Refused("There is nothing inside a pair of brackets." if previous == "(" else
                              f"Something is missing after “{previous}”.")
        elif value in ("+", "-") and wanting:
            pass  # a sign: -x, x*-2, (-3)
        elif wanting:
            raise Refused(f"Something is missing before “{value}”." if not previous else
                          f"Something is missing between “{previous}” and “{value}”.")
        else:
            wanting = True
        previous = value
    if wanting:
        raise Refused(f"The answer stops after “{previous}”: something is missing.")


def _ends_value(token: tuple[str, str]) -> bool:
    kind, value = token
    return kind in ("num", "var", "const") or value == ")"


def _check_power(tokens: list[tuple[str, str]], index: int) -> None:
    """A power is one small number (optionally negative, optionally in brackets) or one variable, and is not itself
    raised to a power."""
    after = tokens[index + 1:]
    bracketed = bool(after) and after[0] == ("op", "(")
    if bracketed:
        after = after[1:]
    if after and after[0] == ("op", "-"):
        after = after[1:]
    if not after or after[0][0] not in ("num", "var"):
        raise Refused("Write each power as a single number, for example x^2.")
    if after[0][0] == "num" and float(after[0][1]) > MAX_EXPONENT:
        raise Refused(f"Powers above {MAX_EXPONENT} are not needed here.")
    if bracketed:
        if len(after) < 2 or after[1] != ("op", ")"):
            raise Refused("Write each power as a single number, for example x^2.")
        after = after[1:]
    if len(after) > 1 and after[1] == ("op", "^"):
        raise Refused("A power of a power is not needed here; use brackets and one power.")
