"""The marking table: numbers by tolerance and units, multiple choice, algebra by sympy equivalence in a child
process, and malicious or absurd input refused (or marked wrong) quickly, never executed."""
from __future__ import annotations

import re

import pytest

from webapp.adapters import algebra
from webapp.domain.marking import (Refused, algebra_pair, answer_hint, canonical_expression, expression_names, mark_choice,
                                   mark_numeric, normalise_unit, parse_number)


@pytest.mark.parametrize("typed, answer, tolerance, unit, right", [
    ("12.6", "12.6", 0.05, "cm^2", True),
    ("12.6 cm²", "12.6", 0.05, "cm^2", True),
    ("12.6cm2", "12.6", 0.05, "cm^2", True),
    ("12.64", "12.6", 0.05, "cm^2", True),
    ("12.7", "12.6", 0.05, "cm^2", False),
    ("£1,200.50", "1200.5", 0.005, "£", True),
    ("−3", "-3", 0, "", True),
    ("3", "-3", 0, "", False),
    ("60 km/h", "60", 0.05, "km/h", True),
    ("60 m/s", "60", 0.05, "km/h", False),  # a wrong unit is wrong, with a message
    ("1e999999", "1", 0, "", False),  # not read as a float overflow: "e999999" is a unit nobody asked for
])
def test_numbers_are_marked_by_tolerance_and_units(typed, answer, tolerance, unit, right):
    assert mark_numeric(typed, answer, tolerance, unit).correct is right


def test_a_wrong_unit_says_so():
    assert "units" in mark_numeric("60 m/s", "60", 0.05, "km/h").feedback
    assert normalise_unit(" CM² ") == "cm^2"


@pytest.mark.parametrize("typed", ["twelve", "", "9" * 500, "3n + 1", "2*3", "__import__('os')"])
def test_text_that_is_not_a_number_is_refused(typed):
    with pytest.raises(Refused):
        parse_number(typed)


def test_multiple_choice_is_marked_by_index_and_refuses_anything_else():
    assert mark_choice("2", "2", ["a", "b", "c"]).correct and not mark_choice("0", "2", ["a", "b", "c"]).correct
    for bad in ("3", "-1", "b", "0; drop table"):
        with pytest.raises(Refused):
            mark_choice(bad, "2", ["a", "b", "c"])


def _equivalent(typed: str, answer: str) -> bool:
    """Marked as the service marks it: the answer declares the letters, then sympy compares in the child process."""
    given, expected, names = algebra_pair(typed, answer)
    return algebra.equivalent(given, expected, names)


@pytest.mark.parametrize("typed, expected, same", [
    ("x^2 + 5x + 6", "(x+2)(x+3)", True),
    ("(x + 3)(x + 2)", "x**2 + (5)*x + (6)", True),
    ("x² − 3x − 10", "(x - 5)(x + 2)", True),
    ("(y-7)/5", "y/5 - 7/5", True),
    ("0.2y - 1.4", "(y - 7)/5", True),
    ("5/4", "1.25", True),
    ("2sqrt(3)", "sqrt(12)", True),
    ("3n - 1", "3*n + (-1)", True),
    ("x^2 + 5x + 5", "(x+2)(x+3)", False),
    ("y/5 - 7", "(y - 7)/5", False),
    ("x^3", "x^2", False),
    ("5/3", "5/4", False),
    # Any Latin letter, Greek letters by sign or name, pi, and √ with or without brackets.
    ("2πr", "2*pi*r", True),
    ("2pir", "2 pi r", True),
    ("πr^2", "pi r^2", True),
    ("1/2 mv^2", "m v^2 / 2", True),
    ("(v - u)(v + u)", "v^2 - u^2", True),
    ("u + at", "a t + u", True),
    ("u + at", "u - a t", False),
    ("ba", "ab", True),
    ("θ^2 + 2θ", "theta(theta + 2)", True),
    ("theta^2 + 2 theta", "θ(θ + 2)", True),
    ("2θ", "θ + θ", True),
    ("2θ", "θ^2", False),
    ("λx", "lambda x", True),
    ("mu u", "μu", True),       # the answer uses μ, so it declares "mu", and "mu" is then read as μ
    ("mu", "m u", True),        # … otherwise mu is m times u (momentum)
    ("√2", "sqrt(2)", True),
    ("sqrt 8", "2√2", True),
    ("√x", "sqrt(x)", True),
    ("x^(2)", "x^2", True),
    ("x^(-1)", "1/x", True),
    ("pi", "π", True),
    ("pi", "3.14", False),
    ("e^2", "e e", True),       # e is a letter like any other here (no exponential function is marked)
])
def test_algebra_is_marked_by_equivalence(typed, expected, same):
    assert _equivalent(typed, expected) is same


@pytest.mark.parametrize("malicious", [
    "__import__('os').system('touch /tmp/pwned')",
    "exec('1')",
    "x.__class__",
    "lambda: 1",
    "9^9^9",
    "x^99999999",
    "2^(2^100)",
    "(" * 150 + "x" + ")" * 150,
    "x" * 10_000,
    "1" * 50,
    "x; import os",
    "x # comment",
    "x\n__import__('os')",
    "[x for x in ()]",
    "'x'",
])
def test_malicious_or_absurd_algebra_is_refused_before_sympy_sees_it(malicious):
    with pytest.raises(Refused):
        canonical_expression(malicious)


@pytest.mark.parametrize("words", ["eval(x)", "exec(x)", "import os", "open(x)", "Symbol(x)", "globals()"])
def test_words_are_only_ever_products_of_letters(words):
    """With every letter a variable, a word is a product of symbols: nothing a pupil types names a Python or sympy
    callable (sympy gets a dict of exactly these symbols)."""
    try:
        canonical = canonical_expression(words)
    except Refused:
        return
    assert all(len(t) == 1 or t == "**" for t in canonical.split()), canonical
    given, expected, names = algebra_pair(words, words)
    assert algebra.equivalent(given, expected, names) is True  # compared as symbols, never called


@pytest.mark.parametrize("typed, answer, why", [
    ("3X", "3x", "“X” is not part of this question; use x."),
    ("3t - 1", "3n - 1", "“t” is not part of this question; use n."),
    ("x", "7/2", "“x” is not part of this question; the answer is a number"),
    ("x+", "x", "stops after “+”"),
    ("*x", "x", "missing before “*”"),
    ("x*/2", "x", "missing between “*” and “/”"),
    ("()", "x", "nothing inside a pair of brackets"),
    ("2(x+)", "x", "missing after “+”"),
    ("sqrt", "x", "square root with brackets"),
    ("sqrt()", "x", "nothing inside"),
    ("sin x", "x", "“sin” is not needed"),
    ("xcos(x)", "x", "“cos” is not needed"),
    ("ln x", "x", "“ln” is not needed"),
    ("Θ", "x", "“Θ” cannot be part"),
    ("1 1/4", "5/4", "write a mixed number such as 1 1/4 as 5/4"),  # not read as 1 × 1/4
    ("2 3x", "6x", "Two numbers side by side"),
])
def test_an_answer_the_marker_cannot_read_is_refused_in_words_not_marked_wrong(typed, answer, why):
    with pytest.raises(Refused, match=re.escape(why)):
        algebra_pair(typed, answer)


def test_the_variables_of_an_answer_are_its_letters_and_greek_names():
    assert expression_names(canonical_expression("2πr + θ − sqrt(ab)")) == ("a", "b", "r", "theta")
    # A declared multi-letter name is read whole; otherwise letters multiply.
    assert canonical_expression("mu") == "m * u"
    assert canonical_expression("mu", ("mu",)) == "mu"


def test_a_check_that_runs_too_long_is_stopped():
    # Within the whitelist, a legal but enormous expansion of surds (minutes of sympy): the child process is killed
    # at the time limit and the answer cannot be checked, which the service marks wrong with a message.
    heavy = "(sqrt(x) + sqrt(y) + sqrt(2) + sqrt(3))^50 - (sqrt(x) + sqrt(y) + sqrt(3) + sqrt(2))^49"
    with pytest.raises(algebra.AlgebraUnavailable, match="too long"):
        algebra.equivalent(canonical_expression(heavy), canonical_expression("x"), ("x", "y"))


def test_a_runaway_check_is_stopped_by_its_cpu_limit_when_the_clock_would_allow_more(monkeypatch):
    """The limit that counts is the child's CPU time (waiting for a core on a busy machine does not use it up);
    the clock limit is only a backstop."""
    monkeypatch.setattr(algebra, "WALL_LIMIT_SECONDS", 120)
    monkeypatch.setattr(algebra, "CPU_LIMIT_SECONDS", 1)
    heavy = "(sqrt(x) + sqrt(y) + sqrt(2) + sqrt(3))^50 - (sqrt(x) + sqrt(y) + sqrt(3) + sqrt(2))^49"
    with pytest.raises(algebra.AlgebraUnavailable, match="too long"):
        algebra.equivalent(canonical_expression(heavy), canonical_expression("x"), ("x", "y"))


def test_the_answer_box_hint_names_the_questions_letters_or_asks_for_a_number():
    assert answer_hint("5/4") == "e.g. 5/4 (a number: a fraction or a decimal)"
    assert answer_hint("(y - 7)/5") == "an expression in y, e.g. 3y + 2"
    assert answer_hint("2*n + (-1)").startswith("an expression in n")
