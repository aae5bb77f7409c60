"""With Redis down the site keeps working: log-in (rate-limited in memory), pages, the bell, caches, the admin jobs
page; nothing answers 5xx, and the limiter says in the log that it fell back."""
from __future__ import annotations

import logging
import threading

import requests

from tests import factories
from tests.conftest import csrf_from, login
from webapp.services import reviews

FALLBACK_LOG = "falling back to in-memory storage"


def _login_form(client, email: str, password: str):
    page = client.get("/login")
    assert page.status_code == 200
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_log_in_works_while_redis_is_down_and_the_limiter_logs_its_fallback(app, client, redis_outage, caplog):
    user = factories.user("student")
    redis_outage.kill()
    with caplog.at_level(logging.WARNING):
        response = _login_form(client, user.email, factories.PASSWORD)
    assert response.status_code == 302
    assert any(FALLBACK_LOG in record.getMessage() for record in caplog.records)
    assert client.get("/").status_code == 200

    token = app.test_client().post("/api/auth/token", json={"email": user.email, "password": factories.PASSWORD})
    assert token.status_code == 200 and token.get_json()["token"].startswith("lb_")


def test_log_in_attempts_are_still_limited_in_memory_while_redis_is_down(app, client, redis_outage):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        user = factories.user("student")
        redis_outage.kill()
        statuses = [_login_form(client, user.email, "wrong-password").status_code for _ in range(3)]
        assert statuses == [422, 422, 422]
        assert _login_form(client, user.email, factories.PASSWORD).status_code == 429
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10 per minute"


def test_every_kind_of_page_renders_while_redis_is_down(app, client, redis_outage):
    tutor, _ = factories.tutor()
    student = factories.user("student")
    admin = factories.user("admin")
    redis_outage.kill()

    for path in ("/", "/tutors", f"/tutors/{tutor.id}", "/login", "/register"):
        assert client.get(path).status_code == 200, path
    login(client, student.email, factories.PASSWORD)
    for path in ("/", "/tutors", f"/tutors/{tutor.id}", "/settings", "/notifications"):
        assert client.get(path).status_code == 200, path
    bell = client.get("/notifications/bell", headers={"HX-Request": "true"})
    assert bell.status_code == 200

    admin_client = app.test_client()
    login(admin_client, admin.email, factories.PASSWORD)
    jobs = admin_client.get("/admin/jobs/")
    assert jobs.status_code == 200
    assert "Redis cannot be reached just now" in jobs.get_data(as_text=True)
    requeue = admin_client.post("/admin/jobs/failed/default/some-job/requeue",
                                data={"csrf_token": csrf_from(jobs.get_data(as_text=True))})
    assert requeue.status_code in (302, 303)
    assert "the job was not queued again" in admin_client.get(requeue.headers["Location"]).get_data(as_text=True)


def test_the_review_summary_is_computed_while_redis_is_down_and_cached_again_after(app, redis_outage):
    tutor, _ = factories.tutor()
    from datetime import UTC, datetime
    now = datetime.now(UTC)
    redis_outage.kill()
    assert reviews.review_summary(tutor.id, now)["count"] == 0
    reviews.invalidate_summary(tutor.id)  # a review written meanwhile: the bump is lost with Redis, quietly
    redis_outage.start()
    assert reviews.review_summary(tutor.id, now)["count"] == 0
    from webapp.adapters.queue import get_redis
    assert get_redis().get(reviews.summary_cache_key(tutor.id)) is not None  # cached again once Redis is back


def test_redis_stopped_while_requests_are_in_flight_never_gives_a_5xx(app, live_server, redis_outage):
    app.config["LOGIN_RATE_LIMIT"] = "1000 per minute"
    try:
        tutor_id, email = factories.tutor()[0].id, factories.user("student").email
        statuses: list[int] = []
        lock = threading.Lock()
        half_done = threading.Event()
        stop = threading.Event()

        def client_loop() -> None:
            session = requests.Session()
            done = 0
            while not stop.is_set():
                for method, path, body in (("post", "/api/auth/token", {"email": email,
                                                                        "password": factories.PASSWORD}),
                                           ("get", f"/tutors/{tutor_id}", None), ("get", "/login", None)):
                    response = session.request(method, live_server.url + path, json=body, timeout=60)
                    with lock:
                        statuses.append(response.status_code)
                done += 1
                if done == 3:
                    half_done.set()

        threads = [threading.Thread(target=client_loop) for _ in range(4)]
        for thread in threads:
            thread.start()
        assert half_done.wait(60)
        redis_outage.kill()  # Redis goes away under the running requests
        with lock:
            at_kill = len(statuses)
        while True:
            with lock:
                if len(statuses) >= at_kill + 24:
                    break
            threading.Event().wait(0.05)
        redis_outage.start()
        with lock:
            at_start = len(statuses)
        while True:
            with lock:
                if len(statuses) >= at_start + 12:
                    break
            threading.Event().wait(0.05)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert statuses and all(200 <= status < 400 for status in statuses), sorted(set(statuses))
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10 per minute"


def test_stripe_webhooks_arriving_while_redis_is_down_are_stored_and_applied_after_it_is_back(
        app, client, stripe_world, redis_outage):
    from tests.conftest import apply_stored_events
    from tests.integration.test_payments import URLS, book, now, wait_for_types
    from webapp.domain.states import BookingState
    from webapp.extensions import db
    from webapp.models import Booking, StripeEvent
    from webapp.services import checkout

    booking = book()
    url = checkout.start_checkout(booking.booker, booking.id, None, now(), **URLS)
    assert stripe_world.pay(url).status_code == 303
    wait_for_types(stripe_world, "checkout.session.completed", "payment_intent.amount_capturable_updated")
    redis_outage.kill()  # the endpoint cannot enqueue the job that applies them
    responses = stripe_world.deliver(client, apply=False)
    assert responses and all(r.status_code == 200 for r in responses)
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.AWAITING_PAYMENT
    assert db.session.query(StripeEvent).filter(StripeEvent.processed_at.is_(None)).count() == len(responses)

    redis_outage.start()
    assert apply_stored_events() >= 1  # the periodic sweep, once the worker runs again
    db.session.rollback()
    assert db.session.get(Booking, booking.id).state == BookingState.REQUIRES_CAPTURE
