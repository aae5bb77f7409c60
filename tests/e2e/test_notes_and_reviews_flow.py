"""After a lesson: the tutor writes notes with a file that the student downloads; a parent reviews the tutor and the
profile's review summary changes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.services import reviews

pytestmark = pytest.mark.e2e


@pytest.fixture
def upload_dir(app, tmp_path):
    """Attachments go to a fresh directory for this test."""
    previous = app.config["UPLOAD_DIR"]
    app.config["UPLOAD_DIR"] = str(tmp_path / "uploads")
    yield tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = previous


def _nav(page: Page, name: str):
    """A link in the top navigation bar."""
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def _open_past_lesson(page: Page) -> None:
    """From My bookings, open the (only) past lesson."""
    past = page.locator("#past-bookings")
    expect(past.locator("tbody tr")).to_have_count(1)
    past.locator("tbody tr").get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(r"/bookings/\d+$"))


def test_a_tutor_writes_a_note_with_an_attachment_and_the_student_downloads_it(browser_page, upload_dir, tmp_path):
    lesson = factories.finished_lesson()
    tutor_email, student_email = lesson.tutor.email, lesson.students[0].email
    db.session.remove()  # the live server's threads read and write the same database from here on
    worksheet = tmp_path / "worksheet.txt"
    worksheet.write_text("Homework: factorise x² + 5x + 6 and x² − 9.\n", encoding="utf-8")

    # --- the tutor finds the finished lesson and writes the notes -------------------------------------------------
    tutor_page = browser_page("Europe/London")
    log_in(tutor_page, tutor_email)
    _nav(tutor_page, "My lessons").click()
    tutor_page.get_by_role("link", name="past lessons").click()
    _open_past_lesson(tutor_page)
    tutor_page.get_by_role("link", name="Write lesson notes").click()
    expect(tutor_page.get_by_role("heading", name="Lesson notes")).to_be_visible()
    tutor_page.get_by_label("Notes", exact=True).fill("We factorised quadratics.\nPlease try the worksheet.")
    tutor_page.get_by_label("Attach files").set_input_files(str(worksheet))
    tutor_page.get_by_role("button", name="Save and send").click()
    expect(tutor_page.get_by_role("status").filter(has_text="Notes sent to the student.")).to_be_visible()
    expect(tutor_page.locator("#summary-note")).to_contain_text("We factorised quadratics.")
    expect(tutor_page.locator("#note-attachments").get_by_role("link", name="worksheet.txt")).to_be_visible()
    assert len([p for p in upload_dir.iterdir()]) == 1  # stored under a random name, outside the web root

    # --- the student reads them and downloads the file ------------------------------------------------------------
    student_page = browser_page("Europe/London")
    log_in(student_page, student_email)
    _nav(student_page, "My bookings").click()
    _open_past_lesson(student_page)
    student_page.get_by_role("link", name="Read the lesson notes").click()
    expect(student_page.locator("#summary-note")).to_contain_text("Please try the worksheet.")
    expect(student_page.locator("#note-form")).to_have_count(0)
    with student_page.expect_download() as download_info:
        student_page.locator("#note-attachments").get_by_role("link", name="worksheet.txt").click()
    download = download_info.value
    assert download.suggested_filename == "worksheet.txt"
    assert Path(download.path()).read_bytes() == worksheet.read_bytes()


def test_a_reviewer_leaves_a_review_and_the_profile_summary_changes(browser_page):
    admin = factories.user("admin")
    reviews.add_criterion(admin, "Knowledge", 1)
    reviews.add_criterion(admin, "Clarity", 2)
    parent = factories.user("parent")
    lesson = factories.finished_lesson(for_child=factories.child(parent, "Robin"))
    tutor_id, tutor_name, parent_email = lesson.tutor_id, lesson.tutor.name, parent.email
    db.session.remove()

    page = browser_page("Europe/London")
    log_in(page, parent_email)
    page.goto(f"/tutors/{tutor_id}")
    expect(page.locator("#review-summary")).to_contain_text("No reviews yet.")

    _nav(page, "My bookings").click()
    _open_past_lesson(page)
    page.get_by_role("link", name="Leave a review").click()
    expect(page.get_by_role("heading", name=f"Review {tutor_name}")).to_be_visible()
    page.get_by_role("radiogroup", name="Knowledge").get_by_label("5", exact=True).check()
    page.get_by_role("radiogroup", name="Clarity").get_by_label("4", exact=True).check()
    page.get_by_label("Comment").fill("Robin finally enjoys algebra.")
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("status").filter(has_text="Thank you")).to_be_visible()
    expect(page.locator("#your-review")).to_contain_text("Robin finally enjoys algebra.")

    page.get_by_role("link", name=f"{tutor_name}'s profile").click()
    summary = page.locator("#review-summary")
    expect(summary.locator("#review-count")).to_have_text(re.compile(r"4\.5 out of 5 · 1 review\s*$"))
    expect(summary.locator("#review-averages tr", has_text="Knowledge")).to_contain_text("5.0 / 5")
    expect(summary.locator("#review-averages tr", has_text="Clarity")).to_contain_text("4.0 / 5")
