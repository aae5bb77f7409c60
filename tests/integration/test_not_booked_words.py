"""The "not booked" email, notification and booking page say what happened to the payment: a card's or PayPal's
authorization released, or prepaid minutes back in the balance (they said "card authorization" for every booking)."""
from __future__ import annotations

from sqlalchemy import select

from tests import factories
from tests.conftest import login
from tests.integration.test_minute_payments import _with_minutes, no_stripe  # noqa: F401 (fixture)
from tests.integration.test_paypal_payments import book, now, pay
from tests.paypal_fixtures import paypal_world  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.models import Notification, OutboxMessage
from webapp.services import approvals, cancellations, minute_payments
from webapp.services.outbox import render_email


def _not_booked(user) -> tuple[str, str, str]:
    """The notification's body and the email's text and html for a booking that is not booked."""
    db.session.rollback()
    notice = db.session.scalar(select(Notification).where(Notification.user_id == user.id,
                                                          Notification.kind == "booking_declined"))
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_declined",
                                                         OutboxMessage.to_address == user.email,
                                                         OutboxMessage.channel == "email"))
    _subject, text, html = render_email(mail.template, mail.context)
    return notice.body, text, html


def test_a_declined_paypal_booking_says_its_paypal_authorization_was_released(app, client, paypal_world):
    booking = pay(paypal_world, book())
    approvals.decline(booking.lesson.tutor, booking.id, now())
    body, text, html = _not_booked(booking.booker)
    for words in (body, text, html):
        assert "The PayPal authorization of £40.00 was released; you were not charged." in words
        assert "card" not in words
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "Declined by the tutor; the PayPal authorization was released and nothing was charged." in page


def test_a_declined_minute_paid_booking_says_the_minutes_are_back_in_the_balance(app, client, no_stripe):
    booking = _with_minutes(60)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    approvals.decline(booking.lesson.tutor, booking.id, now())
    body, text, html = _not_booked(booking.booker)
    for words in (body, text, html):
        assert "The 60 minutes held for it are back in your balance; nothing was spent." in words
        assert "authorization" not in words and "charged" not in words


def test_cancelling_an_unapproved_paypal_booking_says_paypal_not_card(app, paypal_world):
    booking = pay(paypal_world, book())
    plan = cancellations.preview(booking.booker, booking.id, now())
    assert plan.explanation == "The PayPal authorization of £40.00 is released in full; nothing is charged."
    assert cancellations.refund_words(plan) == ("the PayPal authorization of £40.00 is released and nothing is "
                                                "charged")
