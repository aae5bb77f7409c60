"""Nobody left uninformed, and each state shown for what it is (issue 7, items 2 and 3)."""
from datetime import timedelta

from sqlalchemy import select

from tests import factories
from tests.conftest import login
from tests.integration.test_payments import authorize, book, now
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Notification, OutboxMessage
from webapp.services import approvals, bookings, cancellations, outbox


def test_a_declined_booking_is_told_to_the_student_in_app_by_email_and_push(app, client, stripe_world, smtp_sink):
    booking = authorize(stripe_world, client, book())
    student = booking.booker
    approvals.decline(booking.lesson.tutor, booking.id, now())
    approvals.decline(booking.lesson.tutor, booking.id, now())  # a second click tells nobody twice

    notices = list(db.session.scalars(select(Notification).where(Notification.user_id == student.id,
                                                                 Notification.kind == "booking_declined")))
    assert len(notices) == 1
    assert notices[0].title.startswith("Not booked: Mathematics on ")
    assert "The card authorization of £40.00 was released; you were not charged." in notices[0].body
    push = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "push",
                                                          OutboxMessage.user_id == student.id)).all()
    assert [p.template for p in push if p.template == "booking_declined"] == ["booking_declined"]

    outbox.deliver_due(now())
    [message] = [m for to, m in smtp_sink.messages if to == [student.email]
                 and m["Subject"].startswith("Not booked")]
    assert "declined by the tutor" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    assert "is not booked" in text and "you were not charged" in text


def test_an_authorization_the_tutor_did_not_approve_in_time_is_told_too(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    assert approvals.expire_unapproved(booking.approval_deadline + timedelta(seconds=1)) == 1
    notice = db.session.scalar(select(Notification).where(Notification.user_id == booking.booker_id,
                                                          Notification.kind == "booking_declined"))
    assert "not approved in time" in notice.title
    assert db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.template == "booking_declined",
                                                            OutboxMessage.to_address == booking.booker.email))


def test_a_declined_booking_page_shows_a_released_authorization_not_an_amount_paid(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    approvals.decline(booking.lesson.tutor, booking.id, now())
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
    assert "Declined by the tutor; the card authorization was released and nothing was charged." in page
    assert "Amount paid" not in page and "Total paid" not in page
    assert "Authorized, then released" in page
    assert "Authorization of £40.00 released; nothing charged" in page


def test_a_goodwill_refund_leaves_the_lesson_booked_and_shows_the_refund(app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    admin = factories.user("admin")
    cancellations.admin_refund(admin, booking.id, 1000, "Goodwill", now())
    db.session.rollback()
    booking = db.session.get(Booking, booking.id)
    assert booking.state == BookingState.PARTIAL_REFUNDED and booking.lesson.state == LessonState.ACTIVE
    assert bookings.booking_status_words(booking, now()) == "Booked and paid; £10.00 of £40.00 was refunded."
    assert bookings.lesson_and_payment(booking, now()) == ("Booked", "£10.00 refunded of £40.00")
    for who in (booking.booker, booking.lesson.tutor, admin):
        client.post("/logout", data={})
        login(client, who.email, factories.PASSWORD)
        page = client.get(f"/bookings/{booking.id}").get_data(as_text=True)
        assert "Cancelled" not in page, who.role
        assert "£10.00 refunded of £40.00" in page
