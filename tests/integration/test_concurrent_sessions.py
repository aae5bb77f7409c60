"""Races on an account's keys, against a running server: one reset link sent many times at once sets the password
once, and nobody gets a 5xx."""
import re
import threading
from datetime import UTC, datetime

import requests
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_from
from webapp.extensions import db
from webapp.models import OutboxMessage
from webapp.services import accounts, sessions

RACERS = 8


def test_one_reset_link_posted_many_times_at_once_sets_the_password_exactly_once(app, live_server):
    user = factories.user()
    sessions.request_password_reset(user.email, datetime.now(UTC))
    url = db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == "password_reset")).context["url"]
    path = re.search(r"(/reset/.+)$", url).group(1)
    email = user.email
    db.session.remove()  # the live server's threads read and write the same database from here on

    barrier = threading.Barrier(RACERS)
    results: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        browser = requests.Session()
        form = browser.get(f"{live_server.url}{path}", timeout=30)
        password = f"racer-number-{n}-password"
        barrier.wait()
        response = browser.post(f"{live_server.url}{path}", timeout=60, allow_redirects=False,
                                data={"new_password": password, "csrf_token": csrf_from(form.text)})
        with lock:
            results.append((response.status_code, password, response.text))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    statuses = sorted(status for status, _, _ in results)
    assert len(results) == RACERS and all(s < 500 for s in statuses), statuses
    winners = [password for status, password, _ in results if status == 302]
    assert len(winners) == 1, statuses
    losers = [text for status, _, text in results if status != 302]
    assert all(re.search(r"already been used|password was changed", text) for text in losers)
    assert accounts.authenticate(email, winners[0]) is not None
