"""The staff's user and booking pages name what really paid for a booking (card, PayPal or prepaid minutes, with the
amounts in money or minutes), never card wording for everything."""
from __future__ import annotations

import re

from tests import factories
from tests.conftest import login
from tests.integration import test_paypal_payments as paypal
from tests.integration.test_admin_audit_walk import paid
from tests.integration.test_minute_payments import _with_minutes, no_stripe  # noqa: F401 (fixture)
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.services import approvals, minute_payments


def _admin(app):
    staff = app.test_client()
    login(staff, factories.user("admin").email, factories.PASSWORD)
    return staff


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_minute_paid_booking_shows_its_minutes_on_the_user_and_booking_pages(app, no_stripe):
    booking = _with_minutes(90)
    minute_payments.pay_with_minutes(booking.booker, booking.id, paypal.now())
    approvals.approve(booking.lesson.tutor, booking.id, paypal.now())
    staff = _admin(app)
    user_page = _text(staff.get(f"/admin/users/{booking.booker_id}").get_data(as_text=True))
    assert f"#{booking.id} Prepaid minutes 60 minutes 0 minutes" in user_page
    assert "Card" not in user_page and "Stripe" not in user_page
    page = staff.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "60 prepaid minutes · <span id=\"booking-funding\">Prepaid minutes</span>" in page
    assert "60 minutes held" in page and "60 minutes spent on the lesson" in page
    assert "Now: Paid with 60 minutes" in page
    assert "card" not in _text(page).lower()


def test_a_paypal_paid_booking_says_paypal_and_refunds_to_the_paypal_account(app, paypal_world):
    booking = paypal.pay(paypal_world, paypal.book())
    approvals.approve(booking.lesson.tutor, booking.id, paypal.now())
    staff = _admin(app)
    user_page = _text(staff.get(f"/admin/users/{booking.booker_id}").get_data(as_text=True))
    assert f"#{booking.id} PayPal £40.00 £0.00" in user_page and "Card" not in user_page
    page = staff.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "Send this refund to the PayPal account now?" in page and "to the card" not in page
    assert "Receipt: £40.00 paid with PayPal" in page and "Payment authorized (PayPal)" in page


def test_a_card_paid_booking_says_card(app, client, stripe_world):
    booking = paid({"world": stripe_world, "client": client})
    staff = _admin(app)
    user_page = _text(staff.get(f"/admin/users/{booking.booker_id}").get_data(as_text=True))
    assert f"#{booking.id} Card £40.00 £0.00" in user_page
    page = staff.get(f"/admin/bookings/{booking.id}").get_data(as_text=True)
    assert "Send this refund to the card now?" in page and "Receipt: £40.00 paid with Card" in page
