"""Once a lesson has started there is no cancelling, for anyone, on any path (issue 7, item 4)."""
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.conftest import csrf_for, login
from tests.integration.test_api import bearer
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Lesson
from webapp.services import cancellations
from webapp.services.errors import Conflict


def now() -> datetime:
    return datetime.now(UTC)


def _started_lesson(minutes_ago: int = 10) -> Lesson:
    start = now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    start -= timedelta(minutes=start.minute % 15)
    return factories.lesson_at(start, booked_at=start - timedelta(days=2))


@pytest.mark.parametrize("who", ["booker", "tutor", "admin"])
def test_no_one_can_cancel_a_lesson_that_has_started(app, who):
    lesson = _started_lesson()
    booking = lesson.booking
    user = {"booker": booking.booker, "tutor": lesson.tutor, "admin": factories.user("admin")}[who]
    plan = cancellations.preview(user, booking.id, now())
    assert plan.kind == "started" and plan.refund.amount_minor == 0
    assert not cancellations.can_cancel(user, booking, now())
    with pytest.raises(Conflict, match="has started, so it can no longer be cancelled"):
        cancellations.cancel_booking(user, booking.id, "", now())
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.PAID
    assert db.session.get(Lesson, lesson.id).state == LessonState.ACTIVE


def test_a_minute_before_the_start_the_lesson_can_still_be_cancelled(app):
    start = now().replace(second=0, microsecond=0) + timedelta(days=2)
    start -= timedelta(minutes=start.minute % 15)
    lesson = factories.lesson_at(start)
    assert cancellations.can_cancel(lesson.booking.booker, lesson.booking, start - timedelta(minutes=1))
    assert not cancellations.can_cancel(lesson.booking.booker, lesson.booking, start)


def test_a_finished_lesson_page_offers_report_a_problem_instead_of_cancel(app, client):
    lesson = factories.finished_lesson()
    tutor_email, booking_id = lesson.tutor.email, lesson.booking.id
    login(client, tutor_email, factories.PASSWORD)
    page = client.get(f"/bookings/{booking_id}").get_data(as_text=True)
    assert "Cancel this lesson" not in page
    assert "Report a problem" in page
    preview = client.get(f"/bookings/{booking_id}/cancel").get_data(as_text=True)
    assert "full refund" not in preview and "can no longer be cancelled" in preview
    response = client.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf_for(client), "note": ""},
                           follow_redirects=True)
    assert "can no longer be cancelled" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Booking, booking_id).state == BookingState.PAID
    support = client.get(f"/support?booking={booking_id}").get_data(as_text=True)
    assert f"About booking #{booking_id}" in support and 'id="ticket-form"' in support  # a ticket about it
    signed_out = app.test_client().get(f"/support?booking={booking_id}").get_data(as_text=True)
    assert f"mailto:{app.config['SUPPORT_EMAIL']}?subject=Problem%20with%20booking%20%23{booking_id}" in signed_out


def test_the_api_refuses_to_cancel_a_started_lesson(app, client):
    lesson = _started_lesson()
    booking_id, headers = lesson.booking.id, bearer(lesson.booking.booker)
    preview = client.get(f"/api/bookings/{booking_id}/cancellation", headers=headers).get_json()
    assert preview["kind"] == "started"
    response = client.put(f"/api/bookings/{booking_id}/cancel", headers=headers, json={})
    assert response.status_code == 409
    assert "can no longer be cancelled" in response.get_json()["error"]["message"]
    db.session.rollback()
    assert db.session.get(Booking, booking_id).state == BookingState.PAID
