"""Homework from a lesson, as people click it: the tutor records two mistakes in the note, a draft set appears, the
tutor publishes it, the student answers every question (marked at once, with worked solutions), and the student's
mastery and the tutor's agenda change."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.models import HomeworkSet
from webapp.services import curriculum

pytestmark = pytest.mark.e2e


def _answers(set_id: int) -> dict[str, tuple[str, str]]:
    """What the test's student types for each question (prompt → (kind, right answer)): the answer key, read from the
    bank as a pupil with the worked solutions would know it."""
    db.session.remove()
    found = db.session.get(HomeworkSet, set_id)
    out = {e.item.prompt: (e.item.kind, e.item.answer) for e in found.entries}
    db.session.remove()
    return out


def test_two_mistakes_in_a_note_become_homework_that_moves_mastery_and_the_agenda(browser_page):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    lesson = factories.finished_lesson()
    lesson_id, tutor_email, student_email = lesson.id, lesson.tutor.email, lesson.students[0].email
    db.session.remove()  # the live server's threads read and write the same database from here on

    # --- the tutor writes the note with two mistakes ----------------------------------------------------------------
    tutor = browser_page("Europe/London")
    log_in(tutor, tutor_email)
    tutor.goto(f"/lessons/{lesson_id}/notes")
    tutor.get_by_label("Notes", exact=True).fill("We practised Pythagoras' theorem and adding fractions.")
    tutor.get_by_role("button", name="Suggest topics from my notes").click()
    suggested = tutor.locator("#suggested-topics")
    expect(suggested).to_contain_text("Pythagoras' theorem")
    suggested.get_by_label(re.compile("Pythagoras' theorem")).check()
    tutor.get_by_label("Topic of mistake 1").select_option(label="Fractions")
    tutor.get_by_label("What went wrong in mistake 1").fill("Added the denominators")
    tutor.get_by_label("Wrong answer in mistake 1").fill("2/7")
    tutor.get_by_label("Topic of mistake 2").select_option(label="Pythagoras' theorem")
    tutor.get_by_label("What went wrong in mistake 2").fill("Subtracted the squares")
    tutor.screenshot(path="/tmp/homework-note-form.png", full_page=True)
    tutor.get_by_label("What went wrong in mistake 2").press("Enter")  # Enter in a field saves, as the button does
    expect(tutor.get_by_role("status").filter(has_text="Notes sent to the student.")).to_be_visible()

    # --- a draft set appears; the tutor removes one question and publishes ----------------------------------------
    tutor.get_by_role("link", name="Review the homework drafted from these notes").click()
    draft = tutor.locator(".homework-set")
    expect(draft).to_contain_text("draft")
    expect(draft.locator(".homework-item")).to_have_count(8)
    expect(draft.locator(".homework-item").filter(has_text="from a mistake").first).to_be_visible()
    draft.locator(".homework-item").last.get_by_role("button", name="Remove").click()
    expect(tutor.get_by_role("status").filter(has_text="Question removed.")).to_be_visible()
    expect(tutor.locator(".homework-set .homework-item")).to_have_count(7)
    tutor.screenshot(path="/tmp/homework-draft.png", full_page=True)
    tutor.get_by_role("button", name=re.compile("^Publish to ")).click()
    expect(tutor.get_by_role("status").filter(has_text="Homework published")).to_be_visible()
    set_id = int(tutor.locator(".homework-set").get_attribute("id").split("-")[1])

    # --- the student answers: the first question wrong, the rest right ---------------------------------------------
    answers = _answers(set_id)
    student = browser_page("Europe/Berlin")
    log_in(student, student_email)
    student.goto(f"/lessons/{lesson_id}/notes")
    student.get_by_role("link", name="Homework").click()
    items = student.locator(".homework-item")
    expect(items).to_have_count(7)
    for index in range(7):
        item = items.nth(index)
        prompt = item.locator("p.pre-wrap").first.inner_text()
        kind, answer = answers[prompt]
        if kind == "choice":
            item.get_by_role("radio").nth((int(answer) + (1 if index == 0 else 0)) % 4).check()
        else:
            item.get_by_label(re.compile("^Your answer")).fill("12345" if index == 0 else answer.replace("**", "^"))
        if kind != "choice" and index > 0:
            item.get_by_label(re.compile("^Your answer")).press("Enter")  # by keyboard: focus moves to the verdict
            expect(items.nth(index).locator(".verdict")).to_be_focused()
        else:
            item.get_by_role("button", name="Check").click()
        expect(items.nth(index).locator(".verdict")).to_contain_text("Not quite" if index == 0 else "Right")
        expect(items.nth(index).get_by_text("Worked solution")).to_be_visible()
    expect(student.locator(".set-score")).to_contain_text("7 of 7 answered, 6 right")  # updated as answers came in
    student.reload()
    expect(student.locator(".set-score")).to_contain_text("7 of 7 answered, 6 right")
    expect(student.locator("#mastery")).to_contain_text("Fractions")
    student.screenshot(path="/tmp/homework-student.png", full_page=True)

    # --- the tutor's agenda for the next lesson shows what is still weak ------------------------------------------
    tutor.reload()
    agenda = tutor.locator("#agenda")
    expect(agenda).not_to_contain_text("No weak topics yet")
    expect(agenda.locator("li").first).to_be_visible()
    expect(tutor.locator("#mastery")).to_contain_text("familiar")
    tutor.screenshot(path="/tmp/homework-agenda.png", full_page=True)
