"""Paying a booking with prepaid minutes: no card and no Stripe call anywhere (pay, approve, decline, expiry, cancel),
the hold posted at approval and returned otherwise, refunds in minutes by the cancellation policy, pages that say
"Paid with 60 minutes", the API's method minutes, and two bookings racing for the last minutes."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from tests.integration.test_payments import book
from webapp.domain.funding import Funding
from webapp.domain.ledger import TAUGHT, minutes_currency
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, LedgerEntry, OutboxMessage, PaymentReceipt, Teach
from webapp.services import accounts, approvals, cancellations, minute_payments, wallet
from webapp.services.errors import Conflict


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def no_stripe(app):
    """Point the app's Stripe client at a closed port: any Stripe call during the test fails loudly."""
    saved = app.config.get("STRIPE_API_BASE")
    app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"
    app.extensions.pop("stripe_client", None)
    yield
    app.config["STRIPE_API_BASE"] = saved
    app.extensions.pop("stripe_client", None)


def _with_minutes(minutes: int, **book_args):
    """A fresh unpaid 60-minute booking whose booker holds `minutes` with its tutor."""
    booking = book(**book_args)
    wallet.grant_minutes(user_id=booking.booker_id, tutor_id=booking.lesson.tutor_id, minutes=minutes,
                         source="package", source_ref=f"cs_test_{booking.id}", expires_at=None)
    return db.session.get(Booking, booking.id)


def _reload(booking_id: int) -> Booking:
    db.session.rollback()
    return db.session.get(Booking, booking_id)


def _taught(tutor_id: int) -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account == TAUGHT, LedgerEntry.currency == minutes_currency(tutor_id)))


def test_paying_with_minutes_holds_them_and_approval_posts_them_without_stripe(app, client, no_stripe):
    booking = _with_minutes(90)
    student, tutor = booking.booker, booking.lesson.tutor
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}/pay").get_data(as_text=True)
    assert "You have 90 minutes with" in page and "Pay with 60 minutes" in page
    response = client.post(f"/bookings/{booking.id}/pay-with-minutes", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 303 and response.location.endswith(f"/bookings/{booking.id}")
    paid = _reload(booking.id)
    assert (paid.state, paid.funding) == (BookingState.REQUIRES_CAPTURE, Funding.MINUTES)
    assert paid.payment_intent_id is None and paid.checkout_session_id is None
    assert db.session.scalar(select(func.count()).select_from(PaymentReceipt)) == 0
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=30, held=60)
    assert db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_awaiting_approval"))
    assert "60 minutes held, not spent yet" in client.get(f"/bookings/{booking.id}").get_data(as_text=True)

    approvals.approve(tutor, booking.id, now())
    approved = _reload(booking.id)
    assert approved.state == BookingState.PAID and approved.refund_policy
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=30, held=0)
    assert _taught(tutor.id) == 60
    approvals.approve(tutor, booking.id, now())  # a double click posts nothing twice
    assert _taught(tutor.id) == 60
    assert "Paid with 60 minutes" in client.get(f"/bookings/{booking.id}").get_data(as_text=True)


@pytest.mark.parametrize("ending", ["decline", "expire", "cancel"])
def test_a_decline_an_approval_expiry_or_a_cancellation_before_approval_returns_the_held_minutes(app, no_stripe,
                                                                                                 ending):
    booking = _with_minutes(60)
    student, tutor = booking.booker, booking.lesson.tutor
    minute_payments.pay_with_minutes(student, booking.id, now())
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=0, held=60)
    if ending == "decline":
        approvals.decline(tutor, booking.id, now())
        expected = BookingState.DECLINED
    elif ending == "expire":
        assert approvals.expire_unapproved(_reload(booking.id).approval_deadline + timedelta(seconds=1)) == 1
        expected = BookingState.EXPIRED
    else:
        plan = cancellations.preview(student, booking.id, now())
        assert plan.kind == "release" and plan.minutes == 60 and "60 minutes held" in plan.explanation
        cancellations.cancel_booking(student, booking.id, "", now())
        expected = BookingState.CANCELLED
    closed = _reload(booking.id)
    assert closed.state == expected and closed.lesson.state == LessonState.CANCELLED
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=60, held=0)
    assert _taught(tutor.id) == 0


def test_cancelling_after_approval_returns_minutes_by_the_policy_and_never_more_than_were_paid(app, client, no_stripe):
    in_good_time = _with_minutes(120, days_ahead=5)
    student, tutor = in_good_time.booker, in_good_time.lesson.tutor
    minute_payments.pay_with_minutes(student, in_good_time.id, now())
    approvals.approve(tutor, in_good_time.id, now())
    plan = cancellations.preview(student, in_good_time.id, now())
    assert plan.kind == "refund" and plan.minutes == 60 and "full refund of 60 minutes" in plan.explanation
    cancellations.cancel_booking(student, in_good_time.id, "", now())
    cancellations.cancel_booking(student, in_good_time.id, "", now())  # a second click returns nothing more
    assert _reload(in_good_time.id).state == BookingState.REFUNDED
    told = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "lesson_cancelled",
                                                         OutboxMessage.to_address == tutor.email))
    assert told.context["refund"] == "60 minutes, back in the prepaid balance they were paid from"
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=120, held=0)
    assert wallet.booking_minutes(db.session, in_good_time.id) == (60, 60)

    # Less than 24 hours before the start, the student side gets half back (the policy's late rate), in minutes.
    late = book(student=student, tutor_teach=(tutor, in_good_time.lesson.teach), days_ahead=0)
    minute_payments.pay_with_minutes(student, late.id, now())
    approvals.approve(tutor, late.id, now())
    plan = cancellations.preview(student, late.id, now())
    assert plan.minutes == 30 and "50% refund, 30 minutes of 60 minutes" in plan.explanation
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/bookings/{late.id}/cancel").get_data(as_text=True)
    assert "30 minutes" in page
    client.post(f"/bookings/{late.id}/cancel", data={"csrf_token": csrf_from(page), "note": ""})
    cancelled = _reload(late.id)
    assert cancelled.state == BookingState.PARTIAL_REFUNDED and cancelled.lesson.state == LessonState.CANCELLED
    assert wallet.balance(student.id, tutor.id).available == 90
    assert wallet.refund_booking_minutes(db.session, late.id, 60, key="another-try") == 30  # capped by what is left
    db.session.rollback()
    assert "Paid with 60 minutes, 30 returned" in client.get(f"/bookings/{late.id}").get_data(as_text=True)


def test_too_few_minutes_are_refused_in_words_and_the_booking_stays_payable_by_card(app, client, no_stripe):
    booking = _with_minutes(45)
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}/pay").get_data(as_text=True)
    assert "You have 45 minutes with" in page and "Pay with 60 minutes" not in page and "buy a package" in page
    response = client.post(f"/bookings/{booking.id}/pay-with-minutes", data={"csrf_token": csrf_from(page)},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "do not cover this 60-minute lesson" in response.get_data(as_text=True)
    assert _reload(booking.id).state == BookingState.AWAITING_PAYMENT
    assert wallet.balance(booking.booker_id, booking.lesson.tutor_id).available == 45


def test_the_tutor_and_admin_pages_show_a_minute_paid_booking_for_what_it_is(app, client, no_stripe):
    booking = _with_minutes(60)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    login(client, booking.lesson.tutor.email, factories.PASSWORD)
    assert "Paid with 60 prepaid minutes" in client.get("/tutor/").get_data(as_text=True)
    admin = factories.user("admin")
    other = app.test_client()
    login(other, admin.email, factories.PASSWORD)
    listing = other.get("/admin/").get_data(as_text=True)
    assert "60 minutes held, awaiting approval" in listing and "60 prepaid minutes" in listing


def test_the_tutor_is_told_in_minutes_what_approving_or_declining_a_minute_paid_booking_did(app, client, no_stripe):
    # Not "the payment is captured" (no payment is) nor "the student was not charged" (nothing was charged anyway).
    approved = _with_minutes(120)
    minute_payments.pay_with_minutes(approved.booker, approved.id, now())
    teach = db.session.get(Teach, approved.lesson.teach_id)
    declined = book(student=approved.booker, tutor_teach=(approved.lesson.tutor, teach), days_ahead=4)
    minute_payments.pay_with_minutes(declined.booker, declined.id, now())
    mail = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "booking_awaiting_approval"))
    assert mail.context["held"] == "paid with 60 prepaid minutes, held until you approve"
    assert mail.context["unanswered"] == "the held minutes go back to whoever booked"
    login(client, approved.lesson.tutor.email, factories.PASSWORD)
    token = csrf_from(client.get("/tutor/").get_data(as_text=True))
    page = client.post(f"/tutor/bookings/{approved.id}/approve", data={"csrf_token": token}, follow_redirects=True)
    assert "Approved: the 60 prepaid minutes held for it are spent and the lesson is confirmed." in \
        page.get_data(as_text=True)
    page = client.post(f"/tutor/bookings/{declined.id}/decline", data={"csrf_token": token}, follow_redirects=True)
    assert "Declined: the 60 held minutes are back in the booker&#39;s balance" in page.get_data(as_text=True)
    assert "captured" not in page.get_data(as_text=True)


def test_the_api_pays_with_minutes_and_says_when_they_fall_short(app, client, no_stripe):
    booking = _with_minutes(60)
    auth = {"Authorization": f"Bearer {accounts.issue_api_token(booking.booker)[0]}"}
    refused = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "minutes",
                                                     "payment_method": "pm_card_visa"}, headers=auth)
    assert refused.status_code in (400, 422)
    response = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "minutes"}, headers=auth)
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {"booking_id": booking.id, "method": "minutes", "status": "requires_capture",
                                   "minutes": 60}
    again = client.post("/api/payments/pay", json={"booking_id": booking.id, "method": "minutes"}, headers=auth)
    assert again.status_code == 201  # a repeat finds it paid; one hold
    assert wallet.balance(booking.booker_id, booking.lesson.tutor_id) == wallet.WalletBalance(available=0, held=60)
    second = book(student=booking.booker, tutor_teach=(booking.lesson.tutor, booking.lesson.teach))
    short = client.post("/api/payments/pay", json={"booking_id": second.id, "method": "minutes"}, headers=auth)
    assert short.status_code == 409 and "do not cover" in short.get_json()["error"]["message"]
    listed = client.get(f"/api/bookings/{booking.id}", headers=auth).get_json()
    assert listed["funding"] == "minutes"
    preview = client.get(f"/api/bookings/{booking.id}/cancellation", headers=auth).get_json()
    assert preview["kind"] == "release" and preview["minutes"] == 60 and preview["refund_minor"] == 0


def test_two_bookings_racing_for_the_last_minutes_one_wins_and_the_other_is_told(app, live_server, no_stripe):
    first = _with_minutes(60)
    student, tutor = first.booker, first.lesson.tutor
    second = book(student=student, tutor_teach=(tutor, first.lesson.teach))
    browser = requests.Session()
    login_page = browser.get(f"{live_server.url}/login").text
    browser.post(f"{live_server.url}/login", data={"email": student.email, "password": factories.PASSWORD,
                                                   "csrf_token": csrf_from(login_page)})
    token = csrf_from(browser.get(f"{live_server.url}/bookings/{first.id}/pay").text)
    urls = [f"{live_server.url}/bookings/{b.id}/pay-with-minutes" for b in (first, second)]
    answers: dict = {}
    barrier = threading.Barrier(2)

    def pay(url):
        barrier.wait()
        answers[url] = browser.post(url, data={"csrf_token": token})

    threads = [threading.Thread(target=pay, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(a.status_code == 200 for a in answers.values())  # both followed to a page, neither a 500
    texts = [a.text for a in answers.values()]
    assert sum("do not cover this 60-minute lesson" in t for t in texts) == 1
    assert sum("Paid with your minutes" in t for t in texts) == 1
    db.session.rollback()
    states = sorted(db.session.get(Booking, b.id).state for b in (first, second))
    assert states == [BookingState.AWAITING_PAYMENT, BookingState.REQUIRES_CAPTURE]
    assert wallet.balance(student.id, tutor.id) == wallet.WalletBalance(available=0, held=60)


def test_a_card_checkout_left_open_cannot_be_paid_after_paying_with_minutes(app, client, stripe_world):
    from webapp.services import checkout
    from tests.integration.test_payments import URLS
    booking = _with_minutes(60)
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    page = stripe_world.pay(url)
    assert page.status_code == 200 and "Pay" not in page.headers.get("Location", "")
    session_id = _reload(booking.id).checkout_session_id
    assert stripe_world.client.v1.checkout.sessions.retrieve(session_id).status == "expired"
    assert _reload(booking.id).funding == Funding.MINUTES


def test_a_refund_never_returns_more_than_was_paid_even_when_asked_twice_at_once(app, no_stripe):
    booking = _with_minutes(60)
    minute_payments.pay_with_minutes(booking.booker, booking.id, now())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    with pytest.raises(Conflict):
        minute_payments.pay_with_minutes(booking.booker, book(student=booking.booker, tutor_teach=(
            booking.lesson.tutor, booking.lesson.teach)).id, now())
    from webapp.adapters.database import serialized_write
    for key in ("a", "b", "c"):
        with serialized_write() as session:
            wallet.refund_booking_minutes(session, booking.id, 45, key=f"refund-{key}")
    assert wallet.booking_minutes(db.session, booking.id) == (60, 60)
    assert wallet.balance(booking.booker_id, booking.lesson.tutor_id).available == 60
