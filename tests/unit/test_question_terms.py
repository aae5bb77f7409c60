"""Every seeded question is written as a teacher writes it: "x" not "1x", "− 3" not "+ -3", "+ 3" not "− -3", no
"+ 0x" terms, a minus sign rather than a hyphen, and a negative squared in brackets."""
from __future__ import annotations

import re

import pytest

from webapp.domain import question_templates
from webapp.domain.question_kit import tidy

BAD = {"a coefficient of one written out": re.compile(r"(?<![\w.^/])1(?=[a-z](?![a-zA-Z\d]|-\d))"),
       "a sign then a negative number": re.compile(r"[+\-−]\s*[-−]\s*[\w(]"),
       "a zero term": re.compile(r"[+−-]\s0[a-z]"),
       "a hyphen as a minus sign": re.compile(r"(?<![\w)])-\d"),
       "a negative squared without brackets": re.compile(r"(?<![\w)(])[-−]\d+[²³]")}


def _texts():
    for template in question_templates.TEMPLATES:
        for seed in question_templates.bank_seeds(template):
            variant = question_templates.generate(template, seed)
            yield template, seed, [variant["prompt"], variant["solution"], *variant["choices"]]


def test_no_seeded_prompt_solution_or_choice_writes_terms_clumsily():
    found = []
    for template, seed, texts in _texts():
        for text in texts:
            found += [f"{template}:{seed}: {name}: {text}" for name, bad in BAD.items() if bad.search(text)]
    assert found == [], "\n".join(found[:20])


@pytest.mark.parametrize("raw, tidied", [
    ("x² − 1x + 4x − 4", "x² − x + 4x − 4"),
    ("1x² + 1x + 3", "x² + x + 3"),
    ("x² + 0x − 36", "x² − 36"),
    ("5 + -3 and 5 − -3", "5 − 3 and 5 + 3"),
    ("√(2² + -2² + 6²)", "√(2² + (−2)² + 6²)"),
    ("nth term = −3n + 0.", "nth term = −3n."),
    ("6e^(1x) and 10x and 0.1x and 1.5 m/s and 11x", "6e^(x) and 10x and 0.1x and 1.5 m/s and 11x"),
])
def test_tidy_writes_terms_as_a_teacher_does(raw, tidied):
    assert tidy(raw) == tidied
