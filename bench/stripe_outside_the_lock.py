"""Benchmark: a Stripe read inside the write lock against the same read before it (the project's rule).

Run from the repository root: ``python bench/stripe_outside_the_lock.py``. It starts the local Stripe server,
makes one PaymentIntent, and has THREADS workers each record ROUNDS small writes on one SQLite file, each write
preceded by a PaymentIntent read: once with the read inside ``serialized_write`` (how the webhook handler used
to work), once with the read before it. It prints how long the write lock was held per write and the wall time
of the whole run, as ratios measured in this one run; the local server answers in milliseconds, so a real
Stripe (tens to hundreds of milliseconds, with retries) makes the difference larger, not smaller.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from standins.stripe_server import start_local_stripe  # noqa: E402  (needs the path above)

THREADS = 8
ROUNDS = 15
KEY = "sk_test_bench"


def run(app, pi_id: str, inside: bool, label: str) -> tuple[float, list[float]]:
    """Wall time of THREADS × ROUNDS writes, and how long each held the write lock."""
    from webapp.adapters import stripe_gateway as gateway
    from webapp.adapters.database import serialized_write
    from webapp.extensions import db
    from webapp.models import Subject

    held: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        with app.app_context():
            barrier.wait()
            for i in range(ROUNDS):
                status = None if inside else gateway.retrieve_payment_intent(pi_id).status
                with serialized_write() as session:
                    start = time.perf_counter()
                    if inside:
                        status = gateway.retrieve_payment_intent(pi_id).status
                    session.add(Subject(name=f"{label}-{n}-{i}-{status}", slug=f"{label}-{n}-{i}"))
                    session.flush()
                    took = time.perf_counter() - start
                with lock:
                    held.append(took)
            db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, held


def main() -> None:
    from flask_migrate import upgrade

    from webapp import create_app
    server = start_local_stripe()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp}/bench.sqlite3", SERVER_NAME=None,
                             STRIPE_API_BASE=server.url, STRIPE_SECRET_KEY=KEY, REDIS_URL=None,
                             RATELIMIT_STORAGE_URI="memory://")
            with app.app_context():
                upgrade()
                from webapp.adapters import stripe_gateway as gateway
                pi = gateway.client().v1.payment_intents.create(params={
                    "amount": 4000, "currency": "gbp", "payment_method": "pm_card_visa", "confirm": True,
                    "capture_method": "manual"})
            run(app, pi.id, inside=False, label="warm")  # warm up connections and caches
            inside_wall, inside_held = run(app, pi.id, inside=True, label="inside")
            outside_wall, outside_held = run(app, pi.id, inside=False, label="before")
    finally:
        server.stop()
    writes = THREADS * ROUNDS
    print(f"{THREADS} threads x {ROUNDS} writes on one SQLite file, each after a PaymentIntent read")
    print(f"write lock held per write (median): read inside {statistics.median(inside_held) * 1000:.2f} ms, "
          f"read before {statistics.median(outside_held) * 1000:.2f} ms, "
          f"ratio {statistics.median(inside_held) / statistics.median(outside_held):.1f}x")
    print(f"wall time for {writes} writes: read inside {inside_wall:.2f} s, read before {outside_wall:.2f} s, "
          f"ratio {inside_wall / outside_wall:.1f}x")


if __name__ == "__main__":
    main()
