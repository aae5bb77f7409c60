"""No double booking, ever: 30 simultaneous requests for one slot against a running server."""
import threading
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import func, select

from tests import factories
from webapp.extensions import db
from webapp.models import Booking, Lesson
from webapp.services import accounts, availability

RACERS = 30


def _first_free_slot(tutor, teach) -> datetime:
    now = datetime.now(UTC)
    start = now + timedelta(days=2)
    req = availability.SlotRequest(tutor.id, teach.id, start, start + timedelta(days=1), 60)
    return availability.find_slots(req, now).slots[0]


def test_thirty_simultaneous_bookings_of_one_slot_let_exactly_one_through(app, live_server):
    tutor, teach = factories.tutor()
    slot = _first_free_slot(tutor, teach)
    tokens = [accounts.issue_api_token(factories.user("student"))[0] for _ in range(RACERS)]
    body = {"tutor_id": tutor.id, "teach_id": teach.id, "start": slot.isoformat(), "duration": 60}
    barrier = threading.Barrier(RACERS)
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def race(token: str) -> None:
        session = requests.Session()
        barrier.wait()
        response = session.post(f"{live_server.url}/api/bookings", json=body, timeout=60,
                                headers={"Authorization": f"Bearer {token}"})
        with lock:
            results.append((response.status_code, response.json()))

    threads = [threading.Thread(target=race, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * (RACERS - 1), statuses
    losers = [payload for status, payload in results if status == 409]
    assert all("That slot was just taken" in p["error"]["message"] for p in losers)
    db.session.rollback()  # end the test's own read snapshot before counting
    assert db.session.scalar(select(func.count()).select_from(Lesson)) == 1
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
