"""The admin's analytics dashboard as they use it: after bookings are made, its server-drawn chart shows them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.conftest import log_in
from tests.e2e.paying import nav
from webapp.extensions import db
from webapp.services import availability, bookings
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e


def test_the_dashboard_plots_the_bookings_made_today(browser_page, live_server):
    now = datetime.now(UTC)
    tutor, teach = factories.tutor()
    slots = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=2),
                                                             now + timedelta(days=3), 60), now).slots
    starts = [slots[0]]
    for start in slots:  # three lessons an hour or more apart
        if len(starts) < 3 and start >= starts[-1] + timedelta(hours=1):
            starts.append(start)
    for start in starts:
        bookings.request_booking(factories.user("student"), BookingRequest(tutor.id, teach.id, start, 60), now)
    admin_email, tutor_name = factories.user("admin").email, tutor.name
    db.session.remove()

    page = browser_page()
    log_in(page, admin_email)
    nav(page, "Admin").click()
    page.get_by_role("link", name="Analytics").click()
    today = now.strftime("%d %b")
    bar = page.locator(f'#chart-bookings g.chart-bar[data-label="{today}"]')
    expect(bar.locator("text.chart-value")).to_have_text("3")
    expect(page.locator('#chart-funnel g.chart-bar[data-label="Booked"] text.chart-value')).to_have_text("3")
    expect(page.locator('#chart-funnel g.chart-bar[data-label="Paid"] text.chart-value')).to_have_text("0")
    expect(page.locator("#analytics-days tr", has_text=now.date().isoformat())).to_contain_text("3")

    page.get_by_label("Tutor", exact=True).select_option(label=tutor_name)
    page.get_by_role("button", name="Show").click()
    expect(page.locator(f'#chart-bookings g.chart-bar[data-label="{today}"] text.chart-value')).to_have_text("3")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the days as CSV").click()
    assert f"{now.date().isoformat()},3," in download.value.path().read_text()
