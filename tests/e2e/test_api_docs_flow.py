"""A developer reads the API reference at /api/docs: Swagger UI from our own files, under the strict CSP, over the
generated document; they authorize with a bearer token and try GET /api/me."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests import factories
from webapp.services import accounts

pytestmark = pytest.mark.e2e

WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + " blocked " + e.blockedURI);
});
"""


def test_a_developer_reads_the_reference_and_tries_an_operation_with_a_token(browser_page, live_server):
    student = factories.user("student", name="Sam Reader")
    token = accounts.issue_api_token(student)[0]
    page = browser_page()
    page.add_init_script(WATCH_VIOLATIONS)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((live_server.url, "data:")) else None)
    page.goto("/api/docs")

    expect(page.get_by_role("heading", name="Lessonbook API")).to_be_visible()
    slots = page.locator(".opblock").filter(has_text="/api/availabilities")
    slots.locator(".opblock-summary").first.click()
    expect(slots.get_by_text("The tutor.", exact=True)).to_be_visible()  # a parameter's description, from the models

    page.get_by_role("button", name="Authorize").first.click()
    dialog = page.locator(".modal-ux")
    bearer = dialog.locator(".auth-container").filter(has_text="bearerAuth")
    bearer.get_by_label("auth-bearer-value").fill(token)
    bearer.get_by_role("button", name="Apply credentials").click()
    expect(bearer.get_by_text("Authorized")).to_be_visible()
    dialog.locator("button.close-modal").click()  # the dialog's ×

    me = page.locator(".opblock").filter(has_text="/api/me")
    me.locator(".opblock-summary").first.click()
    me.get_by_role("button", name="Try it out").click()
    me.get_by_role("button", name="Execute").click()
    answer = me.locator(".live-responses-table")
    expect(answer.locator("td.response-col_status").filter(has_text="200").first).to_be_visible()
    expect(answer).to_contain_text("Sam Reader")

    assert page.evaluate("window.__cspViolations || []") == []
    assert outside == []  # no CDN: every file came from the app
