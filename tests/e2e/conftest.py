"""Browser tests: Playwright drives Debian's Chromium against the live server, on SQLite only."""
from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

import config
from tests.factories import PASSWORD
from tests.stripe_fixtures import TEST_WEBHOOK_SECRET

# Browser flags that keep a headless Chromium quiet and self-contained on machines without internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]

expect.set_options(timeout=10_000)


def _chromium_missing() -> str | None:
    path = Path(config.chromium_path())
    if not path.exists():
        return (f"Chromium not found at {path} (install Debian's `chromium` package or set CHROMIUM_PATH); "
                "Playwright cannot download browsers here")
    return None


def pytest_runtest_setup(item):
    """Skip the browser tests before any fixture starts when there is no browser to drive."""
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def backend():
    """Browser tests run once, on SQLite (the integration suite covers PostgreSQL)."""
    return "sqlite"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's Chromium headless (pytest-playwright's own options still apply, e.g. --headed)."""
    reason = _chromium_missing()
    if reason:
        pytest.skip(reason)
    return {"headless": True, **browser_type_launch_args, "executable_path": config.chromium_path(),
            "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_page(new_context, live_server):
    """Open a page in a fresh browser context (its own cookies) in time zone `timezone_id` and `locale`."""
    def open_page(timezone_id: str = "Europe/London", locale: str = "en-GB") -> Page:
        context: BrowserContext = new_context(timezone_id=timezone_id, locale=locale, base_url=live_server.url)
        context.set_default_timeout(10_000)
        return context.new_page()
    return open_page


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in through the real login form, as a user would."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


@pytest.fixture
def stripe_webhooks(local_stripe_server, live_server, app):
    """A clean local Stripe that delivers its webhooks to the live server, as Stripe would in production, and a
    worker thread that applies the stored events as `worker.py` would (the endpoint only stores them)."""
    local_stripe_server.reset()
    url = f"{live_server.url}/stripe/webhook"
    local_stripe_server.register_webhook(url, TEST_WEBHOOK_SECRET)
    stop = threading.Event()

    def work():
        from webapp.extensions import db
        from webapp.services import stripe_events
        while not stop.wait(0.1):
            with app.app_context():
                try:
                    stripe_events.apply_stored_events(datetime.now(UTC))
                finally:
                    db.session.remove()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    yield local_stripe_server
    stop.set()
    worker.join(10)
    local_stripe_server.unregister_webhook(url)


@pytest.fixture
def dev_mail(app):
    """Turn on the /dev/mail viewer (off under testing) so a test can open emailed links as a user would."""
    app.config["DEV_MAIL_VIEWER"] = True
    yield
    app.config["DEV_MAIL_VIEWER"] = False


def open_latest_mail(page: Page, email: str, subject_part: str) -> None:
    """Open the newest email to `email` whose subject contains `subject_part` in the dev mail viewer."""
    page.goto("/dev/mail")
    row = page.locator("#mail-list tr", has_text=email).filter(has_text=subject_part).first
    row.get_by_role("link").click()
