"""A tutor opens a weekly window, a student books a slot in it, and the next student no longer sees it."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _mark_document(page: Page) -> None:
    """Tag the loaded document so a later check can tell that no full page load happened since."""
    page.evaluate("window.__sameDocument = true")


def _still_same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _nav(page: Page, name: str):
    """A link in the top navigation bar."""
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def test_tutor_sets_availability_and_a_student_books_the_slot_which_vanishes_for_the_next_student(browser_page):
    # A tutor who teaches Mathematics but has no weekly hours yet, and asks for two days' notice.
    tutor, _ = factories.tutor(weekly=[], notice_hours=48)
    first = factories.user("student", timezone="America/New_York")
    second = factories.user("student", timezone="America/New_York")
    tutor_name, tutor_email = tutor.name, tutor.email
    first_email, second_email = first.email, second.email
    db.session.remove()  # the live server's threads read and write the same database from here on

    # Tomorrow in the tutor's zone, 10:00-12:00 there; 60-minute lessons start every quarter hour.
    tomorrow = (datetime.now(LONDON) + timedelta(days=1)).date()
    weekday = WEEKDAYS[tomorrow.weekday()]
    window_start = datetime.combine(tomorrow, time(10, 0), LONDON)
    offered = [window_start + timedelta(minutes=15 * i) for i in range(5)]  # 10:00 ... 11:00 London
    lesson_start = offered[0]
    local = [s.astimezone(NEW_YORK) for s in offered]  # 05:00 or 06:00 New York, depending on DST

    # --- the tutor opens the hours ---------------------------------------------------------------------------
    tutor_page = browser_page("Europe/London")
    log_in(tutor_page, tutor_email)
    _nav(tutor_page, "Availability").click()
    expect(tutor_page.get_by_role("heading", name="Your availability")).to_be_visible()
    _mark_document(tutor_page)

    weekly = tutor_page.locator("#weekly-hours")
    day_row = weekly.locator("tr", has=tutor_page.locator("th", has_text=weekday))
    expect(day_row).to_contain_text("Not available")
    weekly.get_by_label("Day").select_option(label=weekday)
    weekly.get_by_label("From").fill("10:00")
    weekly.get_by_label("To").fill("12:00")
    weekly.get_by_role("button", name="Add hours").click()
    expect(tutor_page.locator("#weekly-hours tr", has=tutor_page.locator("th", has_text=weekday))
           .locator(".chip.window")).to_have_text(re.compile(r"10:00–12:00"))
    assert _still_same_document(tutor_page), "adding hours reloaded the page instead of swapping the section"

    # Two days' notice would hide tomorrow: the tutor takes bookings at no notice.
    rules = tutor_page.locator("#booking-rules")
    rules.get_by_label("Minimum notice (hours)").fill("0")
    rules.get_by_role("button", name="Save rules").click()
    expect(tutor_page.locator("#booking-rules").get_by_role("status")).to_have_text(re.compile("saved", re.I))
    expect(tutor_page.locator("#booking-rules").get_by_label("Minimum notice (hours)")).to_have_value("0")
    assert _still_same_document(tutor_page)

    # --- a student in New York finds the tutor and books the first slot --------------------------------------
    student_page = browser_page("America/New_York")
    log_in(student_page, first_email)
    _nav(student_page, "Find a tutor").click()
    student_page.get_by_role("link", name=tutor_name).click()
    expect(student_page.get_by_role("heading", name=tutor_name, level=1)).to_be_visible()
    picker = student_page.locator("#slot-picker")
    expect(picker.locator("[data-zone-label]")).to_have_text("America/New_York")
    # The month calendar marks the day as free (and the day before, with no hours, as not), and lists its times.
    day_name = f"{local[0]:%A} {local[0].day} {local[0]:%B}"
    expect(picker.locator(f'a.cal-day[data-date="{(local[0].date() - timedelta(days=1)).isoformat()}"]')).to_have_count(0)
    picker.get_by_role("link", name=f"{day_name}, {len(local)} free times").click()
    expect(picker.get_by_role("heading", name=day_name)).to_be_visible()
    expect(picker.locator("a.slot")).to_have_text([s.strftime("%H:%M") for s in local])

    picker.get_by_role("link", name=f"{day_name}, {local[0]:%H:%M}").click()
    expect(student_page.get_by_role("heading", name=f"Book a lesson with {tutor_name}")).to_be_visible()
    expect(student_page.locator(".summary")).to_contain_text(
        f"{local[0].strftime('%a %d %b %Y, %H:%M')} (America/New_York), 60 minutes")
    expect(student_page.locator(".summary")).to_contain_text(
        f"{lesson_start.strftime('%a %d %b %Y, %H:%M')} (Europe/London)")
    student_page.get_by_role("button", name="Book and hold this slot").click()

    expect(student_page).to_have_url(re.compile(r"/bookings/\d+$"))
    expect(student_page.get_by_role("status").filter(has_text="Your slot is held")).to_be_visible()
    expect(student_page.locator("#booking-status")).to_contain_text("Awaiting payment")
    expect(student_page.locator("main")).to_contain_text(local[0].strftime("%a %d %b %Y, %H:%M"))

    _nav(student_page, "My bookings").click()
    upcoming = student_page.locator("#upcoming-bookings")
    expect(upcoming.locator("tbody tr")).to_have_count(1)
    expect(upcoming.locator("tbody tr")).to_contain_text(local[0].strftime("%a %d %b %Y, %H:%M"))
    expect(upcoming.locator("tbody tr")).to_contain_text(tutor_name)
    expect(upcoming.locator("tbody tr")).to_contain_text("Awaiting payment")

    # --- the next student sees only the start after the booked hour ------------------------------------------
    next_page = browser_page("America/New_York")
    log_in(next_page, second_email)
    _nav(next_page, "Find a tutor").click()
    next_page.get_by_role("link", name=tutor_name).click()
    picker = next_page.locator("#slot-picker")
    expect(picker.locator("[data-zone-label]")).to_have_text("America/New_York")
    expect(picker.locator("a.slot")).to_have_text([local[4].strftime("%H:%M")])
    expect(picker.locator(f'a.slot[data-start="{local[0].isoformat()}"]')).to_have_count(0)


def test_directory_subject_filter_updates_the_list_in_place_and_keeps_the_filter_in_the_url(browser_page):
    factories.tutor(name="Ada Maths", subject_name="Mathematics")
    factories.tutor(name="Isaac Physics", subject_name="Physics")
    physics_id = factories.subject("Physics").id
    db.session.remove()

    page = browser_page()
    page.goto("/tutors")
    results = page.locator("#tutor-results")
    subject = page.get_by_label("Subject")
    expect(results.get_by_role("link", name="Ada Maths")).to_be_visible()
    expect(results.get_by_role("link", name="Isaac Physics")).to_be_visible()
    _mark_document(page)

    subject.select_option(label="Physics")
    expect(results.get_by_role("link", name="Ada Maths")).to_have_count(0)
    expect(results.get_by_role("link", name="Isaac Physics")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/tutors\?(.*&)?subject_id={physics_id}(&|$)"))
    assert _still_same_document(page), "the filter reloaded the whole page"

    # Back to any subject brings everyone back.
    subject.select_option(label="Any subject")
    expect(results.get_by_role("link", name="Ada Maths")).to_be_visible()
    expect(results.get_by_role("link", name="Isaac Physics")).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"subject_id=\d"))

    # The browser's Back button returns to the Physics list, and the menu says Physics too.
    page.go_back()
    expect(page).to_have_url(re.compile(rf"subject_id={physics_id}(&|$)"))
    expect(subject).to_have_value(str(physics_id))
    expect(results.get_by_role("link", name="Ada Maths")).to_have_count(0)
    expect(results.get_by_role("link", name="Isaac Physics")).to_be_visible()

    # The URL is shareable: loading it afresh shows the same filtered list with the filter still chosen.
    page.reload()
    expect(subject).to_have_value(str(physics_id))
    expect(results.get_by_role("link", name="Ada Maths")).to_have_count(0)
    expect(results.get_by_role("link", name="Isaac Physics")).to_be_visible()


@pytest.mark.parametrize(("start", "end", "says"), [
    ("12:00", "10:00", re.compile(r"before|after", re.I)),
    ("10:10", "12:00", re.compile(r"quarter hour", re.I)),
], ids=["end-before-start", "off-the-quarter-hour"])
def test_weekly_hours_that_make_no_sense_are_refused_in_words_and_nothing_is_saved(browser_page, start, end, says):
    tutor, _ = factories.tutor(weekly=[])
    email = tutor.email
    db.session.remove()

    page = browser_page()
    log_in(page, email)
    _nav(page, "Availability").click()
    _mark_document(page)
    weekly = page.locator("#weekly-hours")
    weekly.get_by_label("Day").select_option(label="Wednesday")
    weekly.get_by_label("From").fill(start)
    weekly.get_by_label("To").fill(end)
    weekly.get_by_role("button", name="Add hours").click()

    error = page.locator("#weekly-hours .error")
    expect(error).to_be_visible()
    assert _still_same_document(page), "the refusal reloaded the page instead of swapping the section"
    # What the tutor typed is still there to correct, and no window was added.
    expect(page.locator("#weekly-hours").get_by_label("From")).to_have_value(start)
    expect(page.locator("#weekly-hours").get_by_label("To")).to_have_value(end)
    expect(page.locator("#weekly-hours .chip.window")).to_have_count(0)
    message = error.inner_text()

    page.reload()
    expect(page.locator("#weekly-hours tr", has=page.locator("th", has_text="Wednesday"))).to_contain_text(
        "Not available")
    expect(page.locator("#weekly-hours .chip.window")).to_have_count(0)

    assert says.search(message), message
    assert not re.search(r"_minute|\(\d+\)", message), f"the message leaks internals: {message!r}"
