"""Authoring a question as a tutor clicks it: the tutor writes a question with the form (a bad tolerance first, told
in words), adds it to the draft set a lesson's note made, edits its wording and numbers for this set, publishes, and
the student answers it and is marked against the edited answer."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import QuestionItem
from webapp.services import curriculum

pytestmark = pytest.mark.e2e


def test_a_tutor_writes_a_question_edits_it_in_a_draft_set_and_the_student_is_marked_on_it(browser_page):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    lesson = factories.finished_lesson()
    lesson_id, tutor_email, student_email = lesson.id, lesson.tutor.email, lesson.students[0].email
    bank_items = db.session.query(QuestionItem).count()
    db.session.remove()  # the live server's threads read and write the same database from here on

    # --- the tutor writes a question with the form --------------------------------------------------------------
    tutor = browser_page("Europe/London")
    log_in(tutor, tutor_email)
    tutor.goto("/question-bank")
    tutor.get_by_role("link", name="Add a question").click()
    tutor.get_by_label("Kind").select_option(label="Numeric (with tolerance and unit)")
    tutor.get_by_label("Topic").select_option(label="Ratio")  # a topic the note will not name: the tutor adds it
    tutor.get_by_label("Question", exact=True).fill("A recipe needs 3/4 of 2 kg of flour. How many kilograms is that?")
    tutor.get_by_label("Answer").fill("1.5")
    tutor.get_by_label("Tolerance").fill("-1")
    tutor.get_by_label("Unit").fill("kg")
    tutor.get_by_label("Worked solution").fill("3/4 × 2 = 6/4 = 1.5 kg.")
    expect(tutor.get_by_label("Choice 1", exact=True)).to_be_hidden()  # only the numeric fields show
    tutor.get_by_role("button", name="Add question").click()
    expect(tutor.locator("#tolerance-error")).to_have_text("The tolerance cannot be negative (0 for an exact answer).")
    tutor.get_by_label("Tolerance").fill("0.01")
    tutor.screenshot(path="/tmp/question-form.png", full_page=True)
    tutor.get_by_role("button", name="Add question").click()
    expect(tutor.get_by_role("status").filter(has_text=re.compile(r"Question \d+ added\."))).to_be_visible()
    expect(tutor.locator("#items")).to_contain_text("A recipe needs 3/4 of 2 kg")

    # --- a note with a mistake drafts a set; the tutor adds the question and edits it for this set ---------------
    tutor.goto(f"/lessons/{lesson_id}/notes")
    tutor.get_by_label("Notes", exact=True).fill("Fractions of amounts.")
    tutor.get_by_label("Topic of mistake 1").select_option(label="Fractions")
    tutor.get_by_label("What went wrong in mistake 1").fill("Multiplied by the denominator")
    tutor.get_by_role("button", name="Save and send").click()
    tutor.get_by_role("link", name="Review the homework drafted from these notes").click()
    draft = tutor.locator(".homework-set")
    expect(draft).to_contain_text("draft")
    count = draft.locator(".homework-item").count()
    tutor.get_by_label("Add one of my questions").select_option(
        label="Ratio: A recipe needs 3/4 of 2 kg of flour. How many kilograms is that?")
    tutor.get_by_role("button", name="Add to the set").click()
    expect(tutor.get_by_role("status").filter(has_text="Question added to the set.")).to_be_visible()
    expect(draft.locator(".homework-item")).to_have_count(count + 1)
    mine = draft.locator(".homework-item").filter(has_text="A recipe needs")
    expect(mine).to_contain_text("added by you")
    mine.get_by_role("link", name=re.compile("^Edit question")).click()
    expect(tutor.get_by_role("heading", name=re.compile("^Edit question"))).to_be_visible()
    tutor.get_by_label("Question", exact=True).fill("A cake needs 3/4 of 4 kg of flour. How many kilograms is that?")
    tutor.get_by_label("Answer").fill("3")
    tutor.get_by_label("Worked solution").fill("3/4 × 4 = 3 kg.")
    tutor.get_by_role("button", name="Save for this set").click()
    expect(tutor.get_by_role("status").filter(has_text="Question changed for this set.")).to_be_visible()
    edited = tutor.locator(".homework-set .homework-item").filter(has_text="A cake needs 3/4 of 4 kg")
    expect(edited).to_have_count(1)
    expect(tutor.locator(".homework-set .homework-item").filter(has_text="A recipe needs")).to_have_count(0)
    tutor.screenshot(path="/tmp/question-draft-edited.png", full_page=True)
    tutor.get_by_role("button", name=re.compile("^Publish to ")).click()
    expect(tutor.get_by_role("status").filter(has_text="Homework published")).to_be_visible()

    # --- the student answers the edited question and is marked against the edited answer ----------------------
    student = browser_page("Europe/Berlin")
    log_in(student, student_email)
    student.goto(f"/lessons/{lesson_id}/homework")
    item = student.locator(".homework-item").filter(has_text="A cake needs 3/4 of 4 kg")
    item.get_by_label(re.compile("^Your answer")).fill("3 kg")  # right only for the edited numbers (was 1.5)
    item.get_by_role("button", name="Check").click()
    expect(student.locator(".homework-item").filter(has_text="A cake needs").locator(".verdict")).to_contain_text(
        "Right")
    expect(student.locator(".homework-item").filter(has_text="A cake needs")).to_contain_text("3/4 × 4 = 3 kg.")
    student.screenshot(path="/tmp/question-student.png", full_page=True)

    # The bank is untouched: the tutor's question keeps its wording, and only the tutor's two questions are new.
    db.session.remove()
    prompts = [q.prompt for q in db.session.scalars(select(QuestionItem).where(QuestionItem.owner_id.is_not(None)))]
    assert sorted(prompts) == ["A cake needs 3/4 of 4 kg of flour. How many kilograms is that?",
                               "A recipe needs 3/4 of 2 kg of flour. How many kilograms is that?"]
    assert db.session.query(QuestionItem).count() == bank_items + 2
