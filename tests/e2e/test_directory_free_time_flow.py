"""Finding a tutor by when they are free, as a visitor does it: tick days and times of day in the directory."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories

pytestmark = pytest.mark.e2e


def test_visitor_in_new_york_finds_tutors_free_on_their_mornings_and_the_choice_stays_in_the_url(browser_page):
    # London 13:00-17:00 is 08:00-12:00 in New York (a New Yorker's morning); 07:00-11:00 is their night.
    factories.tutor(name="Afternoon Ada", weekly=[(d, "13:00", "17:00") for d in range(7)])
    factories.tutor(name="Early Ezra", weekly=[(d, "07:00", "11:00") for d in range(7)])
    page = browser_page("America/New_York")
    page.goto("/tutors")
    results = page.locator("#tutor-results")
    expect(results.get_by_role("link", name="Afternoon Ada")).to_be_visible()
    expect(results.get_by_role("link", name="Early Ezra")).to_be_visible()
    expect(page.get_by_role("group", name="Time of day")).to_be_visible()
    expect(page.locator(".free-time legend")).to_contain_text("America/New_York")  # the browser's zone, named

    page.get_by_label("Morning").check()
    expect(results.get_by_role("link", name="Early Ezra")).to_have_count(0)
    expect(results.get_by_role("link", name="Afternoon Ada")).to_be_visible()
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York.*times=morning"))

    page.get_by_label("Morning").uncheck()
    page.get_by_label("Night").check()
    expect(results.get_by_role("link", name="Afternoon Ada")).to_have_count(0)
    expect(results.get_by_role("link", name="Early Ezra")).to_be_visible()

    # The URL is the search: reloading it shows the same choice and the same tutors.
    page.reload()
    expect(page.get_by_label("Night")).to_be_checked()
    expect(results.get_by_role("link", name="Early Ezra")).to_be_visible()
    expect(results.get_by_role("link", name="Afternoon Ada")).to_have_count(0)
