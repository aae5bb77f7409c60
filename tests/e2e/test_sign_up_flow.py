"""Signing up as a newcomer does it: the form, "check your email", the emailed link, the button, and in. Someone
signing up with an address that already has an account sees exactly the same, and the owner gets an email."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import open_latest_mail
from webapp.extensions import db

pytestmark = pytest.mark.e2e


def _sign_up(page, name: str, email: str) -> None:
    page.goto("/register")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-long-enough-password")
    page.get_by_label("Student").check()
    page.get_by_role("button", name="Sign up").click()


def test_a_newcomer_signs_up_through_the_emailed_link_and_a_taken_email_gets_the_same_answer(
        browser_page, live_server, dev_mail):
    owner_email = factories.user("student", email="owner@example.com").email
    db.session.remove()

    page = browser_page("Europe/Paris")
    _sign_up(page, "Nora New", "nora@example.com")
    expect(page.locator("#register-sent")).to_contain_text("We have sent an email to nora@example.com")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)  # no account yet

    open_latest_mail(page, "nora@example.com", "Finish signing up")
    page.get_by_role("link", name="Create my account").click()
    expect(page.locator("#register-confirm")).to_contain_text("nora@example.com")
    expect(page.locator("#register-confirm")).to_contain_text("Europe/Paris")  # the zone the browser is in
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_text("Welcome to Lessonbook, Nora New.")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # The link works once.
    open_latest_mail(page, "nora@example.com", "Finish signing up")
    page.get_by_role("link", name="Create my account").click()
    expect(page.locator("#link-refused")).to_contain_text("already been used")

    stranger = browser_page()
    _sign_up(stranger, "Not The Owner", owner_email)
    expect(stranger.locator("#register-sent")).to_contain_text(f"We have sent an email to {owner_email}")
    open_latest_mail(stranger, owner_email, "Someone tried to sign up with your email")
    expect(stranger.get_by_text("which already has an account").first).to_be_visible()
