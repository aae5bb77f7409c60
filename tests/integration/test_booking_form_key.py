"""The booking form's one-time key: sending the same form twice (a double click, Back and resubmit, two at once)
lands on the one booking it made instead of "That slot was just taken"."""
import re
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests
from sqlalchemy import func, select

from tests import factories
from tests.conftest import csrf_from, login
from webapp.extensions import db
from webapp.models import Booking
from webapp.services import availability

_KEY = re.compile(r'name="form_key" type="hidden" value="([^"]+)"|name="form_key" value="([^"]+)"')


def _slot(tutor, teach) -> datetime:
    now = datetime.now(UTC)
    start = now + timedelta(days=2)
    return availability.find_slots(availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60),
                                   now).slots[0]


def _bookings() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Booking))


def _form(client, tutor, teach, slot) -> tuple[dict, str]:
    """Open the booking form as a browser does; return its fields and the key it was rendered with."""
    query = urlencode({"teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online"})
    html = client.get(f"/tutors/{tutor.id}/book?{query}").get_data(as_text=True)
    match = _KEY.search(html)
    assert match, "the booking form has no form_key field"
    key = next(g for g in match.groups() if g)
    return {"csrf_token": csrf_from(html), "teach_id": teach.id, "start": slot.isoformat(), "duration": 60,
            "lesson_type": "online", "form_key": key}, key


def test_submitting_the_same_booking_form_twice_lands_on_the_one_booking_it_made(client):
    tutor, teach = factories.tutor()
    login(client, factories.user("student").email, factories.PASSWORD)
    data, _ = _form(client, tutor, teach, _slot(tutor, teach))

    first = client.post(f"/tutors/{tutor.id}/book", data=data)
    again = client.post(f"/tutors/{tutor.id}/book", data=data)

    assert first.status_code == again.status_code == 303
    assert re.search(r"/bookings/\d+$", first.headers["Location"])
    assert again.headers["Location"] == first.headers["Location"]
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "That slot was just taken" not in page and "Awaiting payment" in page
    assert _bookings() == 1


def test_each_rendering_of_the_form_gets_its_own_key_and_a_fresh_form_for_a_slot_you_hold_shows_your_booking(client):
    tutor, teach = factories.tutor()
    login(client, factories.user("student").email, factories.PASSWORD)
    slot = _slot(tutor, teach)
    first, first_key = _form(client, tutor, teach, slot)
    second, second_key = _form(client, tutor, teach, slot)
    assert first_key != second_key

    made = client.post(f"/tutors/{tutor.id}/book", data=first)
    assert made.status_code == 303
    again = client.post(f"/tutors/{tutor.id}/book", data=second)  # Back to the form, reloaded, Book again
    assert again.status_code == 303 and again.headers["Location"] == made.headers["Location"]
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "You already hold this time" in page and "That slot was just taken" not in page
    assert _bookings() == 1


def test_another_students_form_key_does_not_hand_over_their_booking(client, app):
    tutor, teach = factories.tutor()
    slot = _slot(tutor, teach)
    owner = app.test_client()
    login(owner, factories.user("student").email, factories.PASSWORD)
    data, key = _form(owner, tutor, teach, slot)
    made = owner.post(f"/tutors/{tutor.id}/book", data=data)
    assert made.status_code == 303

    login(client, factories.user("student").email, factories.PASSWORD)
    theirs, _ = _form(client, tutor, teach, slot)
    response = client.post(f"/tutors/{tutor.id}/book", data={**theirs, "form_key": key})
    assert response.status_code == 303 and response.headers["Location"] != made.headers["Location"]
    assert "That slot was just taken" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _bookings() == 1


def test_a_mangled_form_key_is_refused_in_words_and_books_nothing(client):
    tutor, teach = factories.tutor()
    login(client, factories.user("student").email, factories.PASSWORD)
    data, _ = _form(client, tutor, teach, _slot(tutor, teach))
    response = client.post(f"/tutors/{tutor.id}/book", data={**data, "form_key": "x" * 65})
    assert response.status_code == 422
    assert "reload the page" in response.get_data(as_text=True)
    assert _bookings() == 0


def test_the_same_form_sent_five_times_at_once_makes_one_booking_and_every_answer_points_at_it(app, live_server):
    tutor, teach = factories.tutor()
    student = factories.user("student")
    slot = _slot(tutor, teach)
    session = requests.Session()
    login_page = session.get(f"{live_server.url}/login").text
    session.post(f"{live_server.url}/login", data={"email": student.email, "password": factories.PASSWORD,
                                                   "csrf_token": csrf_from(login_page)})
    query = urlencode({"teach_id": teach.id, "start": slot.isoformat(), "duration": 60, "lesson_type": "online"})
    html = session.get(f"{live_server.url}/tutors/{tutor.id}/book?{query}").text
    match = _KEY.search(html)
    data = {"csrf_token": csrf_from(html), "teach_id": teach.id, "start": slot.isoformat(), "duration": 60,
            "lesson_type": "online", "form_key": next(g for g in match.groups() if g)}
    racers = 5
    barrier = threading.Barrier(racers)
    locations: list[tuple[int, str]] = []
    lock = threading.Lock()

    def submit() -> None:
        barrier.wait()
        response = session.post(f"{live_server.url}/tutors/{tutor.id}/book", data=data, allow_redirects=False,
                                timeout=60)
        with lock:
            locations.append((response.status_code, response.headers.get("Location", "")))

    threads = [threading.Thread(target=submit) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert len(locations) == racers
    assert {status for status, _ in locations} == {303}
    targets = {location for _, location in locations}
    assert len(targets) == 1 and re.search(r"/bookings/\d+$", targets.pop()), locations
    assert _bookings() == 1
