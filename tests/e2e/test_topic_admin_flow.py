"""Editing a topic tree as an admin clicks it (htmx swaps the tree in place): add a topic, move it up, try to move a
strand inside its own topic (refused in words), rename, and retire a topic that notes and questions use."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from webapp.services import curriculum

pytestmark = pytest.mark.e2e


def test_an_admin_edits_the_gcse_maths_topic_tree(browser_page):
    factories.subject(), factories.level()
    curriculum.seed_curriculum()
    admin_email = factories.user("admin").email
    db.session.remove()

    admin = browser_page("Europe/London")
    log_in(admin, admin_email)
    admin.goto("/admin/")
    admin.get_by_role("link", name="Topics").click()
    admin.get_by_role("link", name="Mathematics · GCSE").click()
    tree = admin.locator("#topics")
    expect(tree).to_contain_text("Pythagoras' theorem")

    admin.get_by_label("Name", exact=True).fill("Number puzzles")
    admin.get_by_label("Under").select_option(label="Number")
    admin.get_by_role("button", name="Add topic").click()
    expect(admin.get_by_role("status")).to_have_text("Added “Number puzzles”.")
    row = tree.locator("tr", has_text="Number puzzles")
    expect(row).to_contain_text("number-puzzles")
    above = tree.locator("tr").nth(tree.locator("tr").all_inner_texts().index(row.inner_text()) - 1)
    above_name = above.locator("strong").inner_text()
    admin.get_by_role("button", name="Move Number puzzles up").click()
    expect(admin.get_by_role("status")).to_have_text("Moved “Number puzzles” up.")
    names = [n for n in admin.locator("#topics strong").all_inner_texts()]
    assert names.index("Number puzzles") == names.index(above_name) - 1

    admin.get_by_label("Topic to move").select_option(label="Number")
    admin.get_by_label("New parent").select_option(label="— Number puzzles")
    admin.get_by_role("button", name="Move topic").click()
    expect(admin.get_by_role("alert")).to_have_text(
        "“Number” cannot move under “Number puzzles”, which is inside it: a topic cannot sit inside its own topics.")

    admin.get_by_label("New name for Number puzzles").fill("Number games")
    admin.locator("tr", has_text="number-puzzles").get_by_role("button", name="Rename").click()
    expect(admin.get_by_role("status")).to_have_text("Renamed to “Number games”.")

    admin.get_by_role("button", name="Retire Fractions").click()
    expect(admin.get_by_role("status")).to_have_text("Topic retired: questions and notes keep its name.")
    expect(tree.locator("tr", has_text="Fractions").first).to_contain_text("retired")
    admin.screenshot(path="/tmp/topic-tree.png", full_page=False)
    admin.get_by_role("button", name="Retire Number games").click()
    expect(admin.get_by_role("status")).to_have_text("Unused topic deleted.")
    expect(tree).not_to_contain_text("Number games")
