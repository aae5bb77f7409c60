"""Every page, as every kind of visitor, renders under the strict Content-Security-Policy with no violation in
Chromium, and the htmx interactions (the slot picker, the bell) still work under it."""
from __future__ import annotations

import re
from urllib.parse import urlsplit
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.conftest import log_in
from webapp.extensions import db
from sqlalchemy import select

from webapp.models import (HomeworkEntry, HomeworkSet, OutboxMessage, PackagePurchase, QuestionItem, Subscription, Topic,
                           User)
from webapp.services import accounts, curriculum, packages, sessions, subscriptions, tickets
from webapp.services.notify import notify

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("dev_mail")]

# GET routes that are not pages a person opens: files and JSON. Every other GET route is visited below, so a
# page added later is swept too (the test fails until it is given ids here or listed with a reason).
NOT_PAGES = {
    "static": "our own files (the CSP allows 'self')",
    "notes.attachment": "a file download",
    "support.attachment": "a file download",
    "homework.export_gift": "a file download (GIFT text for a quiz tool)",
    "admin.analytics_csv": "a CSV download (tests/e2e/test_analytics_dashboard_flow.py downloads it)",
    "homework.export_gift": "a GIFT text download (tests/integration/test_homework.py downloads it)",
    "push_subscriptions.service_worker": "JavaScript (registered by push.js on the settings page, visited below)",
    "push_subscriptions.vapid_public_key": "JSON",
    "lesson_room.socket": "a WebSocket (the room opens it; tests/e2e/test_lesson_room_flow.py chats through it)",
    "calendars.feed": "an iCalendar file for calendar apps (its address is a secret made on the settings page)",
}

# Records the violations the page itself sees (Playwright's init scripts run outside the page's CSP).
WATCH_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  (window.__cspViolations = window.__cspViolations || []).push(
    e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});
"""


class Watcher:
    """Collects CSP violations (the DOM event and Chromium's console report) and htmx eval refusals."""

    def __init__(self, page: Page):
        self.page, self.problems = page, []
        page.context.add_init_script(WATCH_VIOLATIONS)
        page.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "evalDisallowed" in text:
            self.problems.append(f"{self.page.url}: console: {text}")

    def collect(self) -> list[str]:
        self.page.wait_for_load_state("load")
        # Violation events are queued as tasks: let the ones already queued run before reading them.
        seen = self.page.evaluate("new Promise(function (done) { setTimeout(function () {"
                                  " done(window.__cspViolations || []); }, 0); })")
        self.page.evaluate("window.__cspViolations = []")
        found, self.problems = self.problems + [f"{self.page.url}: {v}" for v in seen], []
        return found


def _world(live_server) -> dict:
    """Accounts of every role with the things their pages show: bookings, past lessons, a child, mail."""
    now = datetime.now(UTC)
    tutor, teach = factories.tutor()
    student, parent, admin = factories.user("student"), factories.user("parent"), factories.user("admin")
    support = factories.user("support")
    ticket = tickets.open_ticket(student, "Video froze", "The lesson video froze twice.", None, [], now)
    kid = factories.child(parent)
    past = factories.finished_lesson(tutor, teach, booker=student)
    factories.finished_lesson(tutor, teach, for_child=kid, ended_ago=timedelta(days=3))
    start = (now + timedelta(days=4)).replace(hour=10, minute=0, second=0, microsecond=0)
    upcoming = factories.lesson_at(start, teacher=tutor, teach=teach, booker=student)
    unpaid = factories.lesson_at(start + timedelta(days=1), teacher=tutor, teach=teach, booker=student,
                                 booked_at=now, booking_state="AWAITING_PAYMENT")
    sessions.request_password_reset(student.email, now)
    mail = db.session.query(OutboxMessage).filter_by(template="password_reset").one()
    accounts.request_registration(email="newcomer@example.com", password="a-long-password", name="Newcomer",
                                  role="student", timezone="Europe/London", now=now)
    sign_up = db.session.query(OutboxMessage).filter_by(template="confirm_registration").one()
    notify(student, kind="lesson_reminder", title="Mathematics tomorrow", body="See you then.", url="/notifications")
    db.session.commit()
    package = packages.add_package(tutor, 5, 10)
    purchase = PackagePurchase(package_id=package.id, tutor_id=tutor.id, student_id=student.id, minutes=300,
                               price_minor=18000, currency="GBP", form_key="csp-sweep")  # opened, not paid yet
    db.session.add(purchase)
    db.session.commit()
    plan, dearer = subscriptions.add_plan(tutor, 240, 8000), subscriptions.add_plan(tutor, 480, 15000)
    subscription = Subscription(stripe_subscription_id="sub_csp_sweep", student_id=student.id, tutor_id=tutor.id,
                                plan_id=plan.id, status="active", billing_anchor=now, current_period_start=now,
                                current_period_end=now + timedelta(days=30), created_at=now, updated_at=now)
    db.session.add(subscription)
    db.session.commit()
    # The topic tree, one of the tutor's own questions and a draft set holding it (the authoring pages).
    curriculum.seed_curriculum()
    topic = db.session.scalar(select(Topic).where(Topic.parent_id.is_not(None)).order_by(Topic.id))
    own = QuestionItem(topic_id=topic.id, kind="numeric", prompt="What is 2 + 2?", answer="4", solution="2 + 2 = 4.",
                       owner_id=tutor.id, created_by_id=tutor.id)
    db.session.add(own)
    db.session.flush()
    draft = HomeworkSet(lesson_id=past.id, learner_key=f"u{student.id}", learner_name=student.name,
                        answerer_id=student.id, seed=1, state="draft")
    draft.entries.append(HomeworkEntry(item_id=own.id, position=1, reason="covered"))
    db.session.add(draft)
    db.session.commit()
    world = {
        "emails": {"student": student.email, "parent": parent.email, "tutor": tutor.email, "admin": admin.email,
                   "support": support.email},
        "ids": {"tutor_id": tutor.id, "user_id": student.id, "ticket_id": ticket.id,
                "booking_id": unpaid.booking.id if unpaid.booking else None,
                "lesson_id": past.id, "message_id": mail.id, "purchase_id": purchase.id,
                "subscription_id": subscription.id, "subject_id": topic.subject_id, "level_id": topic.level_id,
                "item_id": own.id, "set_id": draft.id, "entry_id": draft.entries[0].id,
                "token": re.search(r"/reset/(.+)$", mail.context["url"]).group(1), "action": "accept"},
        "extra": [f"/bookings/{upcoming.booking.id}", f"/lessons/{upcoming.id}/reschedule",
                  f"/bookings/{past.booking.id}", f"/lessons/{past.id}/notes", f"/lessons/{past.id}/review",
                  urlsplit(sign_up.context["url"]).path,
                  f"/account/subscriptions/{subscription.id}/change?plan_id={dearer.id}"],
    }
    db.session.remove()  # the live server's threads read and write the same database from here on
    return world


def _pages(app, ids: dict) -> list[str]:
    """Every GET page of the app, with ids from the world filled in."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES or rule.rule.startswith("/api/"):
            continue
        missing = [a for a in rule.arguments if ids.get(a) is None]
        assert not missing, f"{rule.rule}: give the sweep a value for {missing} (or list it in NOT_PAGES)"
        urls.append(rule.build({a: ids[a] for a in rule.arguments}, append_unknown=False)[1])
    return sorted(set(urls))


def test_every_page_for_every_role_carries_the_policy_and_breaks_none_of_it(app, browser_page, live_server):
    world = _world(live_server)
    urls = _pages(app, world["ids"]) + world["extra"]
    assert len(urls) > 30
    problems, statuses = [], {}
    for role in ("anonymous", "student", "parent", "tutor", "admin", "support"):
        page = browser_page()
        watcher = Watcher(page)
        if role != "anonymous":
            log_in(page, world["emails"][role])
        for url in urls:
            response = page.goto(url)
            policy = response.headers.get("content-security-policy", "")
            assert "script-src 'self'" in policy and "style-src 'self'" in policy, (role, url, policy)
            statuses[(role, url)] = response.status
            problems += [f"{role} {p}" for p in watcher.collect()]
        page.context.close()
    assert problems == []
    assert all(status < 500 for status in statuses.values()), {k: v for k, v in statuses.items() if v >= 500}
    # The sweep saw real pages, not only refusals: each role reached most of them.
    assert statuses[("student", f"/lessons/{world['ids']['lesson_id']}/review")] == 200
    assert statuses[("admin", "/admin/")] == 200 and statuses[("tutor", "/tutor/availability")] == 200
    assert statuses[("support", "/admin/users/")] == 200 and statuses[("admin", "/admin/audit")] == 200


def test_the_watcher_notices_a_violation_when_one_happens(browser_page, live_server):
    page = browser_page()
    watcher = Watcher(page)
    page.goto("/login")
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
    found = watcher.collect()
    assert any("style-src" in p for p in found), found


def test_htmx_swaps_the_slot_picker_and_refreshes_the_bell_under_the_policy(browser_page, live_server):
    tutor, _ = factories.tutor()
    student = factories.user("student")
    tutor_id, student_id, email = tutor.id, student.id, student.email
    db.session.remove()
    page = browser_page()
    watcher = Watcher(page)
    log_in(page, email)

    page.goto(f"/tutors/{tutor_id}")
    picker = page.locator("#slot-picker")
    expect(picker.get_by_role("radio", name="60 min")).to_be_checked()
    page.evaluate("window.__sameDocument = true")
    picker.get_by_role("radio", name="90 min").check()
    expect(page).to_have_url(re.compile(r"duration=90"))  # the swapped picker pushed its URL
    expect(picker.get_by_role("radio", name="90 min")).to_be_checked()
    month = page.locator("#booker-month-label").inner_text()
    page.locator("#booker-next-month").click()
    expect(page.locator("#booker-month-label")).not_to_have_text(month)
    assert page.evaluate("window.__sameDocument === true"), "the picker reloaded the page instead of swapping"

    bell = page.get_by_role("navigation").get_by_role("link", name="Notifications, 1 unread", exact=True)
    notify(db.session.get(User, student_id), kind="lesson_reminder", title="Mathematics tomorrow", body="",
           url="/notifications")
    db.session.commit()
    db.session.remove()
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # the tab is shown again
    expect(bell).to_be_visible()
    assert page.evaluate("window.__sameDocument === true"), "the bell reloaded the page instead of swapping"

    # The service worker push.js registers loads under the policy (worker-src falls back to script-src 'self').
    page.goto("/settings")
    scope = page.evaluate("navigator.serviceWorker.register('/service-worker.js').then(function (r) {"
                          " return navigator.serviceWorker.ready.then(function () { return r.scope; }); })")
    assert scope.endswith("/")
    assert watcher.collect() == []


def test_form_posts_may_still_lead_to_stripes_hosted_onboarding_page(browser_page, live_server, stripe_webhooks):
    """Chromium applies form-action to the redirect after a post: the policy lets it reach Stripe's hosted page."""
    email = factories.tutor()[0].email
    db.session.remove()
    page = browser_page()
    watcher = Watcher(page)
    log_in(page, email)
    page.goto("/tutor/payouts")
    page.get_by_role("button", name="Connect a Stripe account").click()
    expect(page).to_have_url(re.compile("^" + re.escape(stripe_webhooks.url)))
    assert watcher.collect() == []
