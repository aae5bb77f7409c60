"""Forgotten passwords and lost devices, as people deal with them: reset through the emailed link, log out everywhere."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in, open_latest_mail
from webapp.extensions import db

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "correct-horse-battery"


def _logged_out(page) -> None:
    expect(page.get_by_role("navigation").get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_a_user_who_forgot_the_password_resets_it_from_the_emailed_link(browser_page, live_server, dev_mail):
    email = factories.user("student").email
    db.session.remove()
    phone = browser_page()
    log_in(phone, email)  # still logged in somewhere else

    page = browser_page()
    page.goto("/login")
    page.get_by_role("link", name="Forgot password?").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Email me a reset link").click()
    expect(page.locator("#forgot-sent")).to_contain_text(f"If {email} has a Lessonbook account")

    open_latest_mail(page, email, "Reset your Lessonbook password")
    page.get_by_role("link", name="Choose a new password").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("Use at least 10 characters.")).to_be_visible()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("Your password is changed and you are logged out everywhere")).to_be_visible()

    log_in(page, email, NEW_PASSWORD)
    phone.reload()
    _logged_out(phone)  # the other device was logged out by the reset

    # The link works once.
    open_latest_mail(page, email, "Reset your Lessonbook password")
    page.get_by_role("link", name="Choose a new password").click()
    expect(page.locator("#link-refused")).to_contain_text("already been used")


def test_log_out_everywhere_from_settings_ends_the_session_on_another_device(browser_page, live_server):
    email = factories.user("parent").email
    db.session.remove()
    laptop, phone = browser_page(), browser_page()
    log_in(laptop, email)
    log_in(phone, email)

    laptop.locator("nav a.account-link").click()  # the name · zone link opens Settings
    expect(laptop.locator("#sessions")).to_contain_text("1 other browser")
    laptop.get_by_role("button", name="Log out everywhere").click()
    expect(laptop.get_by_text("You are logged out everywhere")).to_be_visible()
    _logged_out(laptop)

    phone.goto("/settings")
    expect(phone.get_by_role("heading", name="Log in")).to_be_visible()  # sent to the log-in page
    _logged_out(phone)
