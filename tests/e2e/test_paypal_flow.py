"""Paying for a lesson with PayPal, as a student clicks it: "Pay with PayPal" on the pay page, Approve on the local
PayPal stand-in's approval page, back to Lessonbook with the booking waiting for the tutor; the tutor approves and
the PayPal authorization is captured. The stand-in delivers its signed webhooks to the live server, and a worker
thread applies them as `worker.py` would."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from standins.paypal import PayPalStandIn
from tests import factories
from tests.e2e.conftest import log_in
from tests.paypal_fixtures import CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID
from webapp.domain.states import BookingState
from webapp.extensions import db
from webapp.models import Booking, PayPalOrder
from webapp.services import availability, bookings
from webapp.services.bookings import BookingRequest

pytestmark = pytest.mark.e2e

LONDON = ZoneInfo("Europe/London")
WHEN = "%a %d %b %Y, %H:%M"


@pytest.fixture
def paypal_live(app, live_server):
    """A PayPal stand-in the app is pointed at, delivering its webhooks to the live server, and a worker thread."""
    server = PayPalStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, webhook_id=WEBHOOK_ID,
                           webhook_url=f"{live_server.url}/webhooks/paypal")
    saved = {k: app.config.get(k) for k in ("PAYPAL_API_BASE", "PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET",
                                            "PAYPAL_WEBHOOK_ID")}
    app.config.update(PAYPAL_API_BASE=server.url, PAYPAL_CLIENT_ID=CLIENT_ID, PAYPAL_CLIENT_SECRET=CLIENT_SECRET,
                      PAYPAL_WEBHOOK_ID=WEBHOOK_ID)
    app.extensions.pop("paypal_client", None)
    stop = threading.Event()

    def work():
        from webapp.services import paypal_events
        while not stop.wait(0.1):
            with app.app_context():
                try:
                    paypal_events.apply_stored_events(datetime.now(UTC))
                finally:
                    db.session.remove()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    yield server
    stop.set()
    worker.join(10)
    app.config.update(saved)
    app.extensions.pop("paypal_client", None)
    server.close()


def _held_booking() -> dict:
    tutor, teach = factories.tutor()
    student = factories.user("student")
    now = datetime.now(UTC)
    start = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, now + timedelta(days=3),
                                                             now + timedelta(days=4), 60), now).slots[0]
    booking = bookings.request_booking(student, BookingRequest(tutor.id, teach.id, start, 60), now)
    data = {"booking_id": booking.id, "start": start, "tutor_email": tutor.email, "tutor_name": tutor.name,
            "student_email": student.email, "student_name": student.name}
    db.session.remove()
    return data


def _nav(page: Page, name: str):
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def test_student_pays_with_paypal_on_the_approval_page_and_the_tutors_approval_captures_it(
        browser_page, live_server, paypal_live):
    held = _held_booking()
    page = browser_page()
    log_in(page, held["student_email"])
    _nav(page, "My bookings").click()
    page.locator("#upcoming-bookings").get_by_role("link", name=held["start"].astimezone(LONDON).strftime(WHEN)).click()
    page.get_by_role("link", name="Pay now").click()
    page.get_by_role("button", name="Pay with PayPal").click()

    # PayPal's approval page (the local stand-in): what is paid for, and Approve.
    expect(page).to_have_url(re.compile("^" + re.escape(paypal_live.url) + r"/checkoutnow\?token="))
    expect(page.get_by_role("heading", name="Pay with PayPal")).to_be_visible()
    expect(page.locator(".amount")).to_contain_text("40.00 GBP")
    page.get_by_role("button", name="Approve payment").click()

    # Back on Lessonbook: authorized, waiting for the tutor.
    expect(page).to_have_url(f"{live_server.url}/bookings/{held['booking_id']}")
    expect(page.get_by_role("status").filter(has_text="PayPal has authorized")).to_be_visible()
    expect(page.locator("#booking-status")).to_have_text(
        re.compile(r"^\s*Payment authorized; waiting for the tutor to approve"))
    db.session.rollback()
    order = db.session.scalar(select(PayPalOrder).where(PayPalOrder.booking_id == held["booking_id"]))
    assert paypal_live.authorizations[order.authorization_id]["status"] == "CREATED"
    db.session.remove()

    tutor_page = browser_page()
    log_in(tutor_page, held["tutor_email"])
    _nav(tutor_page, "My lessons").click()
    row = tutor_page.locator("#tutor-lessons tbody tr", has_text=held["student_name"])
    expect(row).to_contain_text("PayPal authorized — approve by")
    row.get_by_role("button", name="Approve").click()
    expect(tutor_page.get_by_role("status").filter(has_text="Approved")).to_have_text(
        "Approved: the PayPal payment is taken and the lesson is confirmed.")

    db.session.rollback()
    assert db.session.get(Booking, held["booking_id"]).state == BookingState.PAID
    order = db.session.scalar(select(PayPalOrder).where(PayPalOrder.booking_id == held["booking_id"]))
    assert paypal_live.captures[order.capture_id]["amount"] == {"currency_code": "GBP", "value": "40.00"}
    assert paypal_live.wait_for_deliveries()
    assert paypal_live.event_types() == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.AUTHORIZATION.CREATED",
                                         "PAYMENT.CAPTURE.COMPLETED"]
    db.session.remove()
