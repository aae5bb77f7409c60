"""What an author types for one question (the add/edit form), checked into the values the bank stores, or refused
field by field in words. Plain values in and out; the algebra answer's sympy check runs in the service (a child
process), after this has rebuilt it from whitelisted tokens exactly as the marker will."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from . import marking

KINDS = {"numeric": "Numeric (with tolerance and unit)", "choice": "Multiple choice", "algebra": "Short algebraic"}
MAX_PROMPT = 5000
MAX_SOLUTION = 10000
MAX_ANSWER = 200
MAX_UNIT = 20
MAX_CHOICES = 6
MAX_CHOICE = 200
MAX_TOLERANCE = 1e12
_PLAIN_NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?$")


@dataclass(frozen=True)
class QuestionDraft:
    """The form as typed: every value a string (choices in order, `correct` the index of the right one)."""

    kind: str = ""
    prompt: str = ""
    answer: str = ""
    tolerance: str = ""
    unit: str = ""
    choices: tuple[str, ...] = ()
    correct: tuple[str, ...] = ()
    solution: str = ""
    difficulty: str = "1"


@dataclass(frozen=True)
class CleanQuestion:
    """A question ready to store: numeric answers as plain numbers, choices without blanks, `answer` the right
    choice's index for multiple choice."""

    kind: str
    prompt: str
    answer: str
    tolerance: float
    unit: str
    choices: list[str]
    solution: str
    difficulty: int
    canonical: str = ""  # the algebra answer rebuilt by the marker's parser (the service checks it with sympy)


@dataclass
class QuestionInvalid(ValueError):
    """One message per wrong field (the form shows each beside its field)."""

    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join(self.fields.values())


def clean_question(draft: QuestionDraft) -> CleanQuestion:
    """The stored values of a typed question, or QuestionInvalid naming every field that is wrong."""
    errors: dict[str, str] = {}
    kind = draft.kind.strip()
    if kind not in KINDS:
        errors["kind"] = "Pick the kind of question: numeric, multiple choice or short algebraic."
    prompt, solution = draft.prompt.strip(), draft.solution.strip()
    if not prompt:
        errors["prompt"] = "Write the question."
    elif len(prompt) > MAX_PROMPT:
        errors["prompt"] = f"Keep the question under {MAX_PROMPT} characters."
    if not solution:
        errors["solution"] = "Write the worked solution: the pupil sees it after answering."
    elif len(solution) > MAX_SOLUTION:
        errors["solution"] = f"Keep the worked solution under {MAX_SOLUTION} characters."
    difficulty = draft.difficulty.strip()
    if difficulty not in ("1", "2", "3"):
        errors["difficulty"] = "Difficulty is 1 (easier), 2 or 3 (harder)."
    answer, tolerance, unit, choices, canonical = draft.answer.strip(), 0.0, "", [], ""
    if kind == "numeric":
        answer, tolerance, unit = _numeric(draft, errors)
    elif kind == "choice":
        answer, choices = _choices(draft, errors)
    elif kind == "algebra":
        canonical = _algebra(answer, errors)
    if errors:
        raise QuestionInvalid(errors)
    return CleanQuestion(kind, prompt, answer, tolerance, unit, choices, solution, int(difficulty), canonical)


def _numeric(draft: QuestionDraft, errors: dict[str, str]) -> tuple[str, float, str]:
    answer = draft.answer.strip().replace("−", "-")
    if not _PLAIN_NUMBER.match(answer) or not math.isfinite(float(answer)):
        errors["answer"] = "The answer of a numeric question is a plain number, for example 12.5 (the unit has " \
                           "its own box)."
    tolerance_text = draft.tolerance.strip() or "0"
    tolerance = 0.0
    if not _PLAIN_NUMBER.match(tolerance_text) or not math.isfinite(float(tolerance_text)):
        errors["tolerance"] = "The tolerance is a number, for example 0.05 (0 for an exact answer)."
    else:
        tolerance = float(tolerance_text)
        if tolerance < 0:
            errors["tolerance"] = "The tolerance cannot be negative (0 for an exact answer)."
        elif tolerance > MAX_TOLERANCE:
            errors["tolerance"] = "That tolerance is too large to mean anything."
    unit = draft.unit.strip()
    if len(unit) > MAX_UNIT:
        errors["unit"] = f"Keep the unit under {MAX_UNIT} characters."
    elif unit and not marking.is_unit(unit.replace(" ", "")):
        errors["unit"] = "The unit is what a pupil types after the number, for example cm, m/s or kg; letters, " \
                         "/, ^ and digits only (or £)."
    return answer, tolerance, unit.replace(" ", "")


def _choices(draft: QuestionDraft, errors: dict[str, str]) -> tuple[str, list[str]]:
    typed = [(str(i), c.strip()) for i, c in enumerate(draft.choices)]
    kept = [(i, c) for i, c in typed if c]
    correct = {c.strip() for c in draft.correct if c.strip()}
    if len(kept) < 2:
        errors["choices"] = "A multiple-choice question needs at least two choices."
    elif len(kept) > MAX_CHOICES:
        errors["choices"] = f"Offer at most {MAX_CHOICES} choices."
    elif any(len(c) > MAX_CHOICE for _, c in kept):
        errors["choices"] = f"Keep each choice under {MAX_CHOICE} characters."
    elif len({c.lower() for _, c in kept}) != len(kept):
        errors["choices"] = "Two choices say the same thing; make each one different."
    right = [n for n, (i, _) in enumerate(kept) if i in correct]
    if any(i not in dict(typed) or not dict(typed)[i] for i in correct):
        errors["correct"] = "The choice marked correct is empty; mark a choice that has text."
    elif len(right) != 1:
        errors["correct"] = "Mark exactly one choice as the correct one."
    return (str(right[0]) if len(right) == 1 else ""), [c for _, c in kept]


def _algebra(answer: str, errors: dict[str, str]) -> str:
    if not answer:
        errors["answer"] = "Write the answer as an expression, for example 3x^2 + 2x - 1."
        return ""
    if len(answer) > MAX_ANSWER:
        errors["answer"] = f"Keep the answer under {MAX_ANSWER} characters."
        return ""
    try:
        return marking.canonical_expression(answer)
    except marking.Refused as exc:
        errors["answer"] = f"The marker cannot read this answer: {exc}"
        return ""
