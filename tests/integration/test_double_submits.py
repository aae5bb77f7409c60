"""The same request twice at the same moment (a double click, two tabs on one form, a replayed link) in the wallet,
subscription, support and homework features: one effect, and the other request gets a clear answer, never an
IntegrityError or a 500. Each request runs on its own thread with its own app context and database connection."""
from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests import factories
from tests.integration.test_subscriptions import URLS, _plan
from webapp.extensions import db
from webapp.models import SubscriptionCheckout, User
from webapp.services import subscription_checkouts


def now() -> datetime:
    return datetime.now(UTC)


def at_once(app, *calls):
    """Run each call(…) on its own thread in its own app context, released together; their results (or the
    exceptions they raised, as values) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        with app.app_context():
            try:
                barrier.wait()
                results[i] = call()
            except Exception as exc:  # noqa: BLE001 — returned so the test shows it
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_the_subscribe_form_sent_twice_at_once_opens_one_checkout_page(app, stripe_world):
    plan = _plan()
    student_id, plan_id = factories.user("student").id, plan.id

    def subscribe():
        who = db.session.get(User, student_id)
        return subscription_checkouts.start_subscription(who, plan_id, "one-form", **URLS, now=now())

    results = at_once(app, subscribe, subscribe)

    assert all(isinstance(r, str) for r in results), results
    assert results[0] == results[1]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(SubscriptionCheckout)) == 1
