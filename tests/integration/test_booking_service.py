"""Booking a slot through the service: one transaction, holds that lapse, and no double booking."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, CalendarEvent, Lesson, LessonAddress, lesson_child
from webapp.services import availability, bookings
from webapp.services.bookings import Address, BookingRequest
from webapp.services.errors import Forbidden, NotFound, SlotTaken, ValidationError

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)  # a Monday
TEN = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)


def _request(tutor, teach, start=TEN, duration=60, **kw) -> BookingRequest:
    return BookingRequest(tutor_id=tutor.id, teach_id=teach.id, start=start, duration_minutes=duration, **kw)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _slots(tutor, teach, day=TEN, duration=60, now=NOW, **kw):
    start = day.replace(hour=0, minute=0)
    req = availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), duration, **kw)
    return availability.find_slots(req, now).slots


def test_booking_creates_lesson_booking_and_student_link_in_one_go(app):
    tutor, teach = factories.tutor(rate_minor=4500)
    student = factories.user("student")
    booking = bookings.request_booking(student, _request(tutor, teach, duration=90, note="Quadratics please"), NOW)
    lesson = booking.lesson
    assert booking.state == BookingState.AWAITING_PAYMENT
    assert booking.hold_expires_at == NOW + timedelta(minutes=30)
    assert booking.price_minor == 6750 and booking.currency == "GBP"
    assert lesson.state == LessonState.ACTIVE and lesson.duration_minutes == 90
    assert (lesson.start_at, lesson.finish_at) == (TEN, TEN + timedelta(minutes=90))
    assert (lesson.subject_id, lesson.level_id, lesson.teach_id) == (teach.subject_id, teach.level_id, teach.id)
    assert [s.id for s in lesson.students] == [student.id]
    assert booking.note == "Quadratics please"


def test_booked_slot_disappears_for_everyone_else(app):
    tutor, teach = factories.tutor()
    bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    free = _slots(tutor, teach)
    assert TEN not in free
    assert all(not (TEN - timedelta(minutes=60) < s < TEN + timedelta(minutes=60)) for s in free)
    assert TEN + timedelta(hours=1) in free and TEN - timedelta(hours=1) in free


def test_second_booking_of_the_same_slot_is_refused_and_leaves_nothing(app):
    tutor, teach = factories.tutor()
    bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    with pytest.raises(SlotTaken):
        bookings.request_booking(factories.user("student"), _request(tutor, teach, start=TEN + timedelta(minutes=30)), NOW)
    assert _count(Lesson) == 1 and _count(Booking) == 1


def test_expired_hold_frees_the_slot_and_is_marked_expired_when_rebooked(app):
    tutor, teach = factories.tutor()
    first = bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    later = NOW + timedelta(minutes=31)
    assert TEN in _slots(tutor, teach, now=later)
    second = bookings.request_booking(factories.user("student"), _request(tutor, teach), later)
    db.session.refresh(first)
    assert first.state == BookingState.EXPIRED and first.lesson.state == LessonState.CANCELLED
    assert second.state == BookingState.AWAITING_PAYMENT


def test_expire_stale_holds_job_is_safe_to_run_twice(app):
    tutor, teach = factories.tutor()
    booking = bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    later = NOW + timedelta(hours=1)
    assert bookings.expire_stale_holds(later) == [booking.id]
    assert bookings.expire_stale_holds(later) == []
    db.session.refresh(booking)
    assert booking.state == BookingState.EXPIRED and booking.lesson.state == LessonState.CANCELLED


def test_hold_still_blocks_before_it_expires(app):
    tutor, teach = factories.tutor()
    bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    assert TEN not in _slots(tutor, teach, now=NOW + timedelta(minutes=29))


def test_student_cannot_hold_two_overlapping_lessons(app):
    tutor_a, teach_a = factories.tutor()
    tutor_b, teach_b = factories.tutor(subject_name="Physics")
    student = factories.user("student")
    bookings.request_booking(student, _request(tutor_a, teach_a), NOW)
    with pytest.raises(ValidationError, match="already have a lesson"):
        bookings.request_booking(student, _request(tutor_b, teach_b, start=TEN + timedelta(minutes=45)), NOW)
    assert _count(Lesson) == 1


def test_parent_books_for_own_child_and_links_the_child(app):
    tutor, teach = factories.tutor()
    parent = factories.user("parent")
    kid = factories.child(parent, "Robin")
    booking = bookings.request_booking(parent, _request(tutor, teach, child_id=kid.id), NOW)
    assert [c.id for c in booking.lesson.children] == [kid.id]
    assert booking.lesson.students == [] and booking.booker_id == parent.id


def test_parent_cannot_book_for_someone_elses_child(app):
    tutor, teach = factories.tutor()
    other_kid = factories.child(factories.user("parent"), "Not yours")
    with pytest.raises(NotFound):
        bookings.request_booking(factories.user("parent"), _request(tutor, teach, child_id=other_kid.id), NOW)
    assert _count(Lesson) == 0 and db.session.scalar(select(func.count()).select_from(lesson_child)) == 0


def test_in_person_booking_needs_an_address_and_stores_it(app):
    tutor, teach = factories.tutor(online=False, in_person=True)
    student = factories.user("student")
    with pytest.raises(ValidationError, match="address"):
        bookings.request_booking(student, _request(tutor, teach, in_person=True), NOW)
    address = Address("1 High St", "London", "N1 1AA", 51.53, -0.10)
    booking = bookings.request_booking(student, _request(tutor, teach, in_person=True, address=address), NOW)
    stored = db.session.scalar(select(LessonAddress).where(LessonAddress.lesson_id == booking.lesson_id))
    assert (stored.line1, stored.latitude, stored.longitude) == ("1 High St", 51.53, -0.10)


def test_in_person_lessons_keep_travel_time_free_between_them(app):
    tutor, teach = factories.tutor(online=False, in_person=True, buffer_minutes=30)
    bookings.request_booking(factories.user("student"), _request(
        tutor, teach, in_person=True, address=Address("1 High St", latitude=51.50, longitude=-0.12)), NOW)
    far = Address("Cambridge", latitude=52.2053, longitude=0.1218)  # ~80 km away
    free = _slots(tutor, teach, in_person=True, location=far.coordinates)
    assert TEN + timedelta(hours=1) not in free  # no time to travel 80 km
    with pytest.raises(SlotTaken):
        bookings.request_booking(factories.user("student"), _request(
            tutor, teach, start=TEN + timedelta(hours=1), in_person=True, address=far), NOW)


def test_calendar_events_block_slots(app):
    tutor, teach = factories.tutor()
    db.session.add(CalendarEvent(tutor_id=tutor.id, event_id="gcal-1", start_at=TEN, finish_at=TEN + timedelta(hours=2)))
    db.session.commit()
    free = _slots(tutor, teach)
    assert TEN not in free and TEN + timedelta(hours=1) not in free and TEN + timedelta(hours=2) in free


@pytest.mark.parametrize("duration", [50, 135, 0, 10])
def test_bad_durations_are_refused_in_words(app, duration):
    tutor, teach = factories.tutor()
    with pytest.raises(ValidationError, match="Duration must be 15–120 minutes"):
        bookings.request_booking(factories.user("student"), _request(tutor, teach, duration=duration), NOW)


def test_a_start_in_the_past_or_beyond_the_horizon_is_refused(app):
    tutor, teach = factories.tutor(horizon_days=14)
    student = factories.user("student")
    # Refused as for a taken slot (409 with fresh slots in the API): the time is not free, whatever was sent.
    with pytest.raises(SlotTaken, match="past"):
        bookings.request_booking(student, _request(tutor, teach, start=NOW - timedelta(days=1)), NOW)
    with pytest.raises(SlotTaken, match="14 days ahead"):
        bookings.request_booking(student, _request(tutor, teach, start=NOW + timedelta(days=20)), NOW)
    assert _count(Lesson) == 0


def test_tutors_cannot_book_lessons(app):
    """A tutor's account is refused as not allowed (403 to the API), not as a wrong input."""
    tutor, teach = factories.tutor()
    with pytest.raises(Forbidden, match="Only student and parent accounts"):
        bookings.request_booking(factories.user("tutor"), _request(tutor, teach), NOW)


def test_bookings_are_only_visible_to_people_in_them(app):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    booking = bookings.request_booking(student, _request(tutor, teach), NOW)
    assert bookings.get_booking(student, booking.id).id == booking.id
    assert bookings.get_booking(tutor, booking.id).id == booking.id
    assert bookings.get_booking(factories.user("admin"), booking.id).id == booking.id
    with pytest.raises(NotFound):
        bookings.get_booking(factories.user("student"), booking.id)
    assert bookings.list_bookings(factories.user("student"), NOW) == []


def test_database_refuses_overlapping_blocking_lessons_even_without_the_service(app):
    """The last line of defence: on PostgreSQL an exclusion constraint (SQLite relies on BEGIN IMMEDIATE)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("exclusion constraints exist on PostgreSQL only")
    from sqlalchemy.exc import IntegrityError
    tutor, teach = factories.tutor()
    common = dict(tutor_id=tutor.id, subject_id=teach.subject_id, level_id=teach.level_id, teach_id=teach.id,
                  duration_minutes=60)
    db.session.add(Lesson(start_at=TEN, finish_at=TEN + timedelta(hours=1), **common))
    db.session.commit()
    db.session.add(Lesson(start_at=TEN + timedelta(minutes=30), finish_at=TEN + timedelta(hours=2), **common))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    # Cancelled lessons do not block, and touching intervals do not overlap.
    db.session.add(Lesson(start_at=TEN + timedelta(hours=1), finish_at=TEN + timedelta(hours=2), **common))
    db.session.add(Lesson(start_at=TEN, finish_at=TEN + timedelta(hours=1), state="CANCELLED", **common))
    db.session.commit()


def test_in_person_address_beyond_the_tutors_travel_distance_is_refused(app):
    tutor, teach = factories.tutor(online=False, in_person=True)
    availability.update_settings(tutor, {"base_latitude": 51.5072, "base_longitude": -0.1276})
    teach.max_travel_km = 15
    db.session.commit()
    near = Address("Camden", latitude=51.539, longitude=-0.1426)
    assert bookings.request_booking(factories.user("student"), _request(tutor, teach, in_person=True, address=near), NOW)
    oxford = Address("Oxford", latitude=51.752, longitude=-1.2577)
    with pytest.raises(ValidationError, match="travels up to 15 km"):
        bookings.request_booking(factories.user("student"), _request(
            tutor, teach, start=TEN + timedelta(hours=3), in_person=True, address=oxford), NOW)


def test_a_tutor_can_stop_offering_a_subject_that_has_lessons(app):
    from webapp.services import catalogue
    tutor, teach = factories.tutor()
    booking = bookings.request_booking(factories.user("student"), _request(tutor, teach), NOW)
    catalogue.remove_teach(tutor, teach.id)
    assert catalogue.tutor_teaches(tutor.id) == []
    assert catalogue.search_tutors(catalogue.TutorFilters()) == []
    db.session.refresh(booking)
    assert booking.lesson.teach_id == teach.id  # the booked lesson keeps it
    with pytest.raises(NotFound):
        bookings.request_booking(factories.user("student"), _request(tutor, teach, start=TEN + timedelta(hours=2)), NOW)
    # Offering it again brings the same record back.
    catalogue.add_teach(tutor, {"subject_id": teach.subject_id, "level_id": teach.level_id, "hourly_rate_minor": 5000})
    [again] = catalogue.tutor_teaches(tutor.id)
    assert (again.id, again.hourly_rate_minor) == (teach.id, 5000)
