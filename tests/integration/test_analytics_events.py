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


# --- lesson held: recorded by a periodic job once a lesson has ended and took place ---------------------------

def test_a_lesson_that_ended_and_was_paid_is_held_once_and_others_are_not(app):
    from datetime import timedelta as td

    from webapp import jobs
    from webapp.domain.states import LessonState
    held = factories.finished_lesson(ended_ago=td(hours=3), duration_minutes=45)
    unpaid = factories.finished_lesson(ended_ago=td(hours=3), paid=False)  # a lapsed hold never happened
    cancelled = factories.finished_lesson(ended_ago=td(hours=3))
    cancelled.state = LessonState.CANCELLED
    upcoming = factories.lesson_at((now() + td(days=2)).replace(minute=0, second=0, microsecond=0))
    long_ago = factories.finished_lesson(ended_ago=td(days=45))  # before the lookback: earlier runs had it
    db.session.commit()

    assert jobs.record_held_lessons(now().isoformat()) == 1
    assert jobs.record_held_lessons(now().isoformat()) == 0  # a second run records nothing twice
    [event] = events("lesson_held")
    assert event.dedupe_id == f"lesson_held:{held.id}" and event.user_id == held.booking.booker_id
    assert event.occurred_at == held.finish_at
    assert event.properties == {"lesson_id": held.id, "tutor_id": held.tutor_id, "booking_id": held.booking.id,
                                "minutes": 45}
    assert {unpaid.id, cancelled.id, upcoming.id, long_ago.id}.isdisjoint({event.properties["lesson_id"]})


def test_a_lesson_is_held_only_once_its_end_has_passed(app):
    from datetime import timedelta as td

    from webapp.services import held_lessons
    lesson = factories.finished_lesson(ended_ago=td(minutes=30))
    assert held_lessons.record_held_lessons(lesson.finish_at - td(minutes=1)) == 0
    assert held_lessons.record_held_lessons(lesson.finish_at) == 1
    assert [e.dedupe_id for e in events("lesson_held")] == [f"lesson_held:{lesson.id}"]


def test_the_held_lessons_job_is_scheduled(app):
    import worker
    assert any(spec.func == "webapp.jobs.record_held_lessons" for spec in worker.PERIODIC_JOBS)
