"""Analytics events: each key action writes one event row in its own transaction (a failed action writes none),
and the dedupe id makes an action applied twice one event."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests import factories
from tests.integration.test_payments import authorize, book
from webapp.adapters.database import serialized_write
from webapp.extensions import db
from webapp.models import AnalyticsEvent
from webapp.services import analytics, approvals, availability, bookings, cancellations
from webapp.services.bookings import BookingRequest
from webapp.services.errors import ServiceError


def now() -> datetime:
    return datetime.now(UTC)


def events(name: str | None = None) -> list[AnalyticsEvent]:
    db.session.expire_all()
    query = select(AnalyticsEvent).order_by(AnalyticsEvent.id)
    return list(db.session.scalars(query.where(AnalyticsEvent.name == name) if name else query))


def test_a_booking_writes_its_event_and_a_refused_booking_writes_none(app):
    tutor, teach = factories.tutor()
    start = now() + timedelta(days=4)
    slot = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now()).slots[0]
    first = bookings.request_booking(factories.user("student"), BookingRequest(tutor.id, teach.id, slot, 60), now())
    with pytest.raises(ServiceError):  # the same slot again: taken
        bookings.request_booking(factories.user("student"), BookingRequest(tutor.id, teach.id, slot, 60), now())
    [created] = events("booking_created")
    assert (created.dedupe_id, created.user_id) == (f"booking_created:{first.id}", first.booker_id)
    assert created.properties == {"booking_id": first.id, "tutor_id": tutor.id, "price_minor": 4000,
                                  "currency": "GBP"}


def test_an_event_rolls_back_with_its_action(app):
    student = factories.user("student")
    with pytest.raises(RuntimeError), serialized_write() as session:
        analytics.record_event(session, "booking_created", dedupe="booking_created:999", at=now(), user_id=student.id)
        raise RuntimeError("the action failed after its event was added")
    assert events() == []


def test_the_same_action_recorded_twice_is_one_event(app):
    with serialized_write() as session:
        analytics.record_event(session, "review_left", dedupe="review_left:7", at=now(), stars=5)
    with serialized_write() as session:
        analytics.record_event(session, "review_left", dedupe="review_left:7", at=now(), stars=1)
    [only] = events()
    assert only.properties == {"stars": 5}


def test_paying_approving_and_webhooks_delivered_twice_make_one_event_each(app, client, stripe_world):
    booking = book(rate_minor=4500)
    authorize(stripe_world, client, booking)
    assert all(r.status_code == 200 for r in stripe_world.deliver(client))  # every webhook again
    tutor = booking.lesson.tutor
    approvals.approve(tutor, booking.id, now())
    approvals.approve(tutor, booking.id, now())  # a double click
    assert [e.name for e in events()] == ["booking_created", "booking_paid", "booking_approved"]
    paid = events("booking_paid")[0]
    assert (paid.properties["amount_minor"], paid.properties["currency"], paid.user_id) == (4500, "GBP",
                                                                                          booking.booker_id)


def test_declining_and_cancelling_record_who_and_why(app, client, stripe_world):
    declined = book()
    authorize(stripe_world, client, declined)
    approvals.decline(declined.lesson.tutor, declined.id, now())
    cancelled = book()
    cancellations.cancel_booking(cancelled.booker, cancelled.id, "", now())
    cancellations.cancel_booking(cancelled.booker, cancelled.id, "", now())  # again: already cancelled
    assert [e.dedupe_id for e in events("booking_declined")] == [f"booking_declined:{declined.id}"]
    [cancel] = events("booking_cancelled")
    assert (cancel.properties["reason"], cancel.properties["state_before"]) == ("student_side", "AWAITING_PAYMENT")


def test_viewing_a_tutor_and_their_free_times_are_counted_per_view(app, client):
    tutor, _ = factories.tutor()
    assert client.get(f"/tutors/{tutor.id}").status_code == 200
    assert client.get(f"/tutors/{tutor.id}", headers={"HX-Request": "true"}).status_code == 200
    assert client.get(f"/tutors/{tutor.id}/slots").status_code == 200
    assert [e.name for e in events()] == ["tutor_viewed", "slots_viewed", "slots_viewed"]
    assert all(e.properties == {"tutor_id": tutor.id} and e.user_id is None for e in events())
