"""Schemathesis over the generated OpenAPI document, against the app served over HTTP on SQLite and on PostgreSQL:
every check on, a fixed seed and a bounded number of examples per operation; the API and its document agree."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import factories
from webapp.services import accounts, packages, subscriptions, wallet

ST = Path(sys.executable).with_name("st")
SEED = 20261202
EXAMPLES_PER_OPERATION = 15
# The coverage phase (every boundary of every parameter: about 4,000 requests, two minutes per backend) is left to a
# manual `st run`; the examples, fuzzing and stateful phases are bounded by EXAMPLES_PER_OPERATION.
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
# A tutor's availability and teaching records have rules across fields that JSON Schema does not state (an
# override's start goes with its end and comes before it, latitude with longitude, a level id must name a level):
# a body that breaks one is schema-valid and still answered 422 with the field named. Everywhere else a
# schema-valid body must be accepted or refused for its state (401, 403, 404, 409, 429), never 422.
CONFIG = """
[[operations]]
include-path = ["/api/tutors/me/availability", "/api/tutors/me/teaches"]
checks.positive_data_acceptance.expected-statuses = ["2XX", "401", "403", "404", "409", "422", "429"]
"""


# The staff's operations, run as an admin over a package purchase paid by card (a refund is a real one on the local
# Stripe, until nothing is left: then 409).
STAFF_OPERATIONS = ("getPackageRefunds", "refundPackagePurchase")


@pytest.mark.parametrize("role", ["student", "tutor", "admin"])
def test_schemathesis_finds_no_disagreement_between_the_api_and_its_document(app, live_server, monkeypatch, tmp_path,
                                                                              role, stripe_world, client):
    """As a student, then as a tutor: a student's token reaches tutor-only operations only as far as their 403. As an
    admin, the staff's operations alone (the others are a student's or a tutor's, covered by those runs).

    stripe_world starts the local Stripe afresh: ids restart with each test's database, so an idempotency key made
    from them (package-purchase:1:...) may have been used by an earlier test with other parameters."""
    # Fuzzing signs up and logs in hundreds of times: the per-client limits (tested on their own) would answer 429.
    monkeypatch.setitem(app.config, "REGISTER_RATE_LIMIT", "100000 per hour")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100000 per minute")
    # A real tutor with a teach record, a package and a plan, and a student with minutes with them, so ids the fuzzer
    # tries can name rows (buying and subscribing open real Checkout pages on the local Stripe).
    tutor = factories.tutor()[0]
    packages.add_package(tutor, 5, 10)
    subscriptions.add_plan(tutor, 240, 8000)
    caller = {"tutor": tutor, "admin": factories.user("admin")}.get(role) or factories.user("student")
    only = []
    if role == "admin":
        buyer = factories.user("student")
        package = packages.offers(tutor.id)[0]
        url = packages.start_purchase(buyer, package.id, "schemathesis-buy-1", datetime.now(UTC),
                                      success_url="http://127.0.0.1/{PURCHASE_ID}", cancel_url="http://127.0.0.1/")[1]
        assert stripe_world.pay(url).status_code == 303
        stripe_world.receiver.wait_for("checkout.session.completed")
        stripe_world.deliver(client)
        only = [arg for operation in STAFF_OPERATIONS for arg in ("--include-operation-id", operation)]
    if role == "student":
        wallet.grant_minutes(user_id=caller.id, tutor_id=tutor.id, minutes=120, source="package",
                             source_ref="cs_schemathesis", expires_at=None)
    token = accounts.issue_api_token(caller)[0]
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [str(ST), "--config-file", str(config), "run", f"{live_server.url}/api/openapi.json", "--checks", "all", "--seed", str(SEED),
               "--phases", PHASES,
               "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1", "--no-color",
               "--generation-database", "none", "--request-timeout", "20",
               "--header", f"Authorization: Bearer {token}",
               # Revoking the run's own token would leave every later request unauthenticated (test_api.py covers it).
               "--exclude-operation-id", "revokeToken", *only]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    report = run.stdout[-20000:] + run.stderr[-5000:]
    (Path(os.environ.get("SCHEMATHESIS_REPORT_DIR", tmp_path)) / f"schemathesis-{role}.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout or " 0 failures" in run.stdout or "passed" in run.stdout, report
