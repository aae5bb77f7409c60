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


def test_the_dashboard_plots_the_bookings_made_today(browser_page, live_server, tmp_path):
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
    page.screenshot(path=str(tmp_path / "analytics-desktop.png"))

    page.get_by_label("Tutor", exact=True).select_option(label=tutor_name)
    page.get_by_role("button", name="Show").click()
    expect(page.locator(f'#chart-bookings g.chart-bar[data-label="{today}"] text.chart-value')).to_have_text("3")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the days as CSV").click()
    assert f"{now.date().isoformat()},3," in download.value.path().read_text()


def _paid_in(currency: str, amount_minor: int, days_ago: int = 0) -> None:
    """A paid lesson in `currency` with its receipt dated `days_ago` (the card-hold webhook writes receipts)."""
    from webapp.models import PaymentReceipt
    tutor, teach = factories.tutor(currency=currency, rate_minor=amount_minor)
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    lesson = factories.lesson_at(start, teacher=tutor, teach=teach)
    db.session.add(PaymentReceipt(booking_id=lesson.booking.id, payment_intent_id=f"pi_test_{lesson.booking.id}",
                                  amount_minor=amount_minor, currency=currency, application_fee_amount_minor=0,
                                  breakdown={}, tutor_payout_minor=amount_minor,
                                  created_at=datetime.now(UTC) - timedelta(days=days_ago)))
    db.session.commit()


def test_on_a_phone_each_currency_has_its_own_money_chart_and_nothing_overflows(browser_page, live_server,
                                                                                 tmp_path):
    _paid_in("GBP", 4500)
    _paid_in("GBP", 12000, days_ago=3)
    _paid_in("EUR", 3000)
    admin_email = factories.user("admin").email
    db.session.remove()

    page = browser_page()
    log_in(page, admin_email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/admin/analytics")
    today = datetime.now(UTC).strftime("%d %b")
    expect(page.get_by_role("heading", name="Revenue (GBP)")).to_be_visible()
    expect(page.get_by_role("heading", name="Revenue (EUR)")).to_be_visible()
    expect(page.locator(f'#chart-revenue-gbp g.chart-bar[data-label="{today}"] text.chart-value')).to_have_text(
        "£45.00")
    expect(page.locator(f'#chart-revenue-eur g.chart-bar[data-label="{today}"] text.chart-value')).to_have_text(
        "€30.00")
    page.screenshot(path=str(tmp_path / "analytics-390.png"), full_page=True)
    for card in ("bookings", "revenue-gbp", "funnel", "utilisation"):
        page.locator(f"#chart-{card}").screenshot(path=str(tmp_path / f"chart-{card}.png"))
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"the dashboard is {width}px wide on a {viewport}px screen"
    # Every chart fits its card, and its words stay readable (not shrunk below 9 px on a phone).
    for chart in page.locator("svg.chart").all():
        box, card = chart.bounding_box(), chart.locator("xpath=..").bounding_box()
        assert box["x"] >= card["x"] - 0.5 and box["x"] + box["width"] <= card["x"] + card["width"] + 0.5
    smallest = page.evaluate("""Math.min(...[...document.querySelectorAll('svg.chart text')].map(t => {
        const svg = t.ownerSVGElement, scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return parseFloat(getComputedStyle(t).fontSize) * scale; }))""")
    assert smallest >= 10, f"chart text is drawn {smallest:.1f}px high on a phone"
