"""The question form's checks, as plain values: what is stored, and every wrong field named in words."""
import pytest

from webapp.domain.question_form import QuestionDraft, QuestionInvalid, clean_question

BASE = dict(kind="numeric", prompt="What is 6 × 7?", answer="42", tolerance="0", solution="6 × 7 = 42.")


def test_a_numeric_question_keeps_its_plain_number_tolerance_and_unit():
    clean = clean_question(QuestionDraft(**{**BASE, "answer": " −2.5 ", "tolerance": "0.05", "unit": " m / s "}))
    assert (clean.answer, clean.tolerance, clean.unit, clean.choices) == ("-2.5", 0.05, "m/s", [])


def test_blank_choice_rows_are_dropped_and_the_right_index_follows():
    clean = clean_question(QuestionDraft(**{**BASE, "kind": "choice", "answer": ""},
                                         choices=("", "3", "", "4", ""), correct=("3",)))
    assert (clean.choices, clean.answer) == (["3", "4"], "1")


def test_an_algebra_answer_is_rebuilt_by_the_markers_parser():
    clean = clean_question(QuestionDraft(**{**BASE, "kind": "algebra", "answer": "3x^2 + 2x"}))
    assert clean.answer == "3x^2 + 2x" and clean.canonical == "3 * x ** 2 + 2 * x"


@pytest.mark.parametrize("changes, fields", [
    ({"prompt": "", "solution": "", "difficulty": "0"}, {"prompt", "solution", "difficulty"}),
    ({"answer": "inf", "tolerance": "-1"}, {"answer", "tolerance"}),
    ({"tolerance": "1e400"}, {"tolerance"}),
    ({"unit": "x" * 21}, {"unit"}),
    ({"kind": "choice", "answer": ""}, {"choices", "correct"}),
    ({"kind": "algebra", "answer": "__import__('os')"}, {"answer"}),
    ({"kind": "algebra", "answer": "3x +"}, {"answer"}),
])
def test_every_wrong_field_is_named_at_once(changes, fields):
    with pytest.raises(QuestionInvalid) as refused:
        clean_question(QuestionDraft(**{**BASE, **changes}))
    assert set(refused.value.fields) == fields and all(refused.value.fields.values())


def test_two_correct_choices_are_refused():
    with pytest.raises(QuestionInvalid) as refused:
        clean_question(QuestionDraft(**{**BASE, "kind": "choice"}, choices=("a", "b", "c"), correct=("0", "2")))
    assert refused.value.fields == {"correct": "Mark exactly one choice as the correct one."}
