"""Defects found walking the product after issues 7 and 8: each test names the page that misbehaved."""
from datetime import UTC, datetime, timedelta

import pytest

from tests import factories
from tests.conftest import csrf_for, login
from webapp.domain.states import LessonState
from webapp.extensions import db
from webapp.models import Lesson, Refund


def _future_start(days: int = 5) -> datetime:
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=days)
    return start - timedelta(minutes=start.minute % 15)


@pytest.mark.parametrize("state", ["PAID", "PARTIAL_REFUNDED", "REQUIRES_CAPTURE"])
@pytest.mark.parametrize("who", ["booker", "tutor"])
def test_a_booking_without_a_payment_record_shows_and_cancels_without_a_500(app, client, state, who):
    # The factory walks the state machine without Stripe, as legacy rows may look: no PaymentReceipt, no intent id.
    lesson = factories.lesson_at(_future_start(), booking_state=state)
    assert lesson.booking.receipt is None and not lesson.booking.payment_intent_id
    user = lesson.booking.booker if who == "booker" else lesson.tutor
    email, booking_id, lesson_id = user.email, lesson.booking.id, lesson.id
    login(client, email, factories.PASSWORD)
    detail = client.get(f"/bookings/{booking_id}")
    assert detail.status_code == 200
    preview = client.get(f"/bookings/{booking_id}/cancel")
    assert preview.status_code == 200
    if state != "REQUIRES_CAPTURE":
        assert "no record of a card payment" in preview.get_data(as_text=True)
    response = client.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": csrf_for(client), "note": ""},
                           follow_redirects=True)
    assert response.status_code == 200
    assert "The lesson is cancelled." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Lesson, lesson_id).state == LessonState.CANCELLED
    assert db.session.query(Refund).count() == 0
