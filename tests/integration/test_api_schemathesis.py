"""Schemathesis over the generated OpenAPI document, against the app served over HTTP on SQLite and on PostgreSQL:
every check on, a fixed seed and a bounded number of examples per operation; the API and its document agree."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests import factories
from webapp.services import accounts, packages, subscriptions, wallet

ST = Path(sys.executable).with_name("st")
SEED = 20261202
EXAMPLES_PER_OPERATION = 15
# The coverage phase (every boundary of every parameter: about 4,000 requests, two minutes per backend) is left to a
# manual `st run`; the examples, fuzzing and stateful phases are bounded by EXAMPLES_PER_OPERATION.
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")


def test_schemathesis_finds_no_disagreement_between_the_api_and_its_document(app, live_server, monkeypatch, tmp_path):
    # Fuzzing signs up and logs in hundreds of times: the per-client limits (tested on their own) would answer 429.
    monkeypatch.setitem(app.config, "REGISTER_RATE_LIMIT", "100000 per hour")
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100000 per minute")
    # A real tutor with a teach record, a package and a plan, and a student with minutes, so ids the fuzzer tries
    # can name rows (buying and subscribing open real Checkout pages on the local Stripe).
    teacher, _ = factories.tutor()
    packages.add_package(teacher, 5, 10)
    subscriptions.add_plan(teacher, 240, 8000)
    student = factories.user("student")
    wallet.grant_minutes(user_id=student.id, tutor_id=teacher.id, minutes=120, source="package",
                         source_ref="cs_schemathesis", expires_at=None)
    token = accounts.issue_api_token(student)[0]
    command = [str(ST), "run", f"{live_server.url}/api/openapi.json", "--checks", "all", "--seed", str(SEED),
               "--phases", PHASES,
               "--max-examples", str(EXAMPLES_PER_OPERATION), "--workers", "1", "--no-color",
               "--generation-database", "none", "--request-timeout", "20",
               "--header", f"Authorization: Bearer {token}",
               # Revoking the run's own token would leave every later request unauthenticated (test_api.py covers it).
               "--exclude-operation-id", "revokeToken"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                         env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    report = run.stdout[-20000:] + run.stderr[-5000:]
    (Path(os.environ.get("SCHEMATHESIS_REPORT_DIR", tmp_path)) / "schemathesis.txt").write_text(run.stdout + run.stderr)
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout or " 0 failures" in run.stdout or "passed" in run.stdout, report
