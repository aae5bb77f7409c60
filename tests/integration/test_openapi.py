"""GET /api/openapi.json: a valid OpenAPI 3.1 document, generated from the API's declarations, that documents exactly
the routes and responses the API has; GET /api/docs shows it."""
from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from tests import factories
from webapp.views.api import openapi_document
from webapp.services import accounts

JSON = "application/json"
DAY = datetime.now(UTC).date() + timedelta(days=7)
START = datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=UTC).isoformat()
LATER = datetime(DAY.year, DAY.month, DAY.day, 14, tzinfo=UTC).isoformat()
LATER_PLUS_2H = datetime(DAY.year, DAY.month, DAY.day, 16, tzinfo=UTC).isoformat()


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _template(rule: str) -> str:
    """Werkzeug's /api/tutors/<int(max=...):tutor_id> as OpenAPI's /api/tutors/{tutor_id}."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_served_document_is_a_valid_openapi_3_1_document(document):
    assert document["openapi"].startswith("3.1")
    validate_spec(document)  # raises with the offending path when invalid
    assert document == openapi_document()


def test_documented_operations_are_exactly_the_api_routes(app, document):
    routes = {(_template(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/") and rule.endpoint != "api.docs"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in document["paths"].items() for method in item
                  if method in ("get", "put", "post", "delete", "patch")}
    assert documented == routes


def test_the_docs_page_loads_the_vendored_swagger_ui_over_the_document(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-spec-url="/api/openapi.json"' in html
    for asset in ("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
                  "/static/vendor/swagger-ui-5.35.0/swagger-ui.css", "/static/api-docs.js"):
        assert asset in html and client.get(asset).status_code == 200, asset
    assert "<script>" not in html and "style=" not in html
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy and "img-src 'self' data:" in policy


def test_every_error_response_uses_the_error_shape(document):
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "status", "message", "fields", "refundable_minor", "refundable_minutes", "currency", "booking_id"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]["$ref"]
                    assert schema.rsplit("/", 1)[-1] in ("Error", "SlotTaken"), (path, method, status)


def test_protected_operations_ask_for_the_bearer_scheme(document):
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path in ("/api/me", "/api/bookings/{booking_id}", "/api/tutors/me/teaches"):
        for operation in document["paths"][path].values():
            assert {"bearerAuth": []} in operation["security"] and {} not in operation["security"], path


# --- real responses against the documented schemas ----------------------------------------------------

def _closed(schema):
    """A copy where every object schema forbids undocumented properties, so extra fields fail validation too."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(schema)
    return schema


class Checker:
    """Validates a response against the schema the document gives for its path, method and status."""

    def __init__(self, document):
        self.document = document
        self.components = _closed(document["components"])
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, path: str, method: str, response, expect: int):
        assert response.status_code == expect, (path, method, response.get_data(as_text=True)[:300])
        status = str(response.status_code)
        responses = self.document["paths"][path][method]["responses"]
        assert status in responses, f"{method.upper()} {path} answered {status}, which is not documented"
        if "content" not in responses[status]:  # documented without a body (204)
            assert response.get_data() == b"", f"{method.upper()} {path} {status} has a body"
            self.seen.add((path, method, status))
            return None
        schema = responses[status]["content"]["application/json"]["schema"]
        validator = Draft202012Validator({**schema, "components": self.components},
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        body = response.get_json()
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
        assert errors == [], f"{method.upper()} {path} {status}"
        self.seen.add((path, method, status))
        return body


def test_real_responses_match_the_documented_schemas(client, document, stripe_world):
    check = Checker(document)
    tutor, teach = factories.tutor(in_person=True)

    check("/api/auth/register", "post", client.post("/api/auth/register", json={
        "email": "ada@example.com", "password": "long-enough-password", "name": "Ada", "role": "parent",
        "timezone": "Europe/London"}), 202)
    from tests.integration.test_registration import confirm_by_email
    confirm_by_email(client.application.test_client(), "ada@example.com")
    check("/api/auth/register", "post", client.post("/api/auth/register", json={"role": "admin"}), 422)
    check("/api/auth/register", "post", client.post("/api/auth/register", data="{", content_type=JSON), 400)
    registered = check("/api/auth/token", "post", client.post("/api/auth/token", json={
        "email": "ada@example.com", "password": "long-enough-password"}), 200)
    parent = {"Authorization": f"Bearer {registered['token']}"}
    check("/api/auth/token", "post", client.post("/api/auth/token", json={
        "email": "ada@example.com", "password": "not-it"}), 401)

    kid = factories.child(accounts.user_for_token(registered["token"]), "Robin")
    check("/api/me", "get", client.get("/api/me", headers=parent), 200)
    check("/api/me", "get", client.get("/api/me"), 401)
    check("/api/openapi.json", "get", client.get("/api/openapi.json"), 200)
    check("/api/subjects", "get", client.get("/api/subjects"), 200)
    check("/api/tutors", "get", client.get("/api/tutors"), 200)
    check("/api/tutors", "get", client.get("/api/tutors?mode=by-owl"), 422)
    check("/api/tutors/{tutor_id}", "get", client.get(f"/api/tutors/{tutor.id}"), 200)
    check("/api/tutors/{tutor_id}", "get", client.get("/api/tutors/999999"), 404)

    as_tutor = {"Authorization": f"Bearer {accounts.issue_api_token(tutor)[0]}"}
    teaches = {"teaches": [{"subject_id": teach.subject_id, "level_id": teach.level_id, "hourly_rate_minor": 4000,
                            "online": True, "in_person": True, "max_travel_km": 20}]}
    check("/api/tutors/me/teaches", "put", client.put("/api/tutors/me/teaches", json=teaches, headers=as_tutor), 200)
    check("/api/tutors/me/teaches", "put", client.put("/api/tutors/me/teaches", json={"teaches": [{}]},
                                                       headers=as_tutor), 422)
    check("/api/tutors/me/teaches", "put", client.put("/api/tutors/me/teaches", json=teaches, headers=parent), 403)
    check("/api/tutors/me/teaches", "put", client.put("/api/tutors/me/teaches", json=teaches), 401)
    settings = {"overrides": [{"date": DAY.isoformat(), "start": "06:00", "end": "20:00"},
                              {"date": (DAY + timedelta(days=1)).isoformat()}],
                "base_latitude": 51.5, "base_longitude": -0.1}
    check("/api/tutors/me/availability", "put", client.put("/api/tutors/me/availability", headers=as_tutor,
                                                           json=settings), 200)
    check("/api/tutors/me/availability", "put", client.put("/api/tutors/me/availability", headers=as_tutor,
                                                           json={"weekly": [{"weekday": 0, "start": "9am"}]}), 422)
    check("/api/tutors/me/availability", "get", client.get("/api/tutors/me/availability", headers=as_tutor), 200)
    check("/api/tutors/me/availability", "get", client.get("/api/tutors/me/availability", headers=parent), 403)

    query = {"tutor_id": tutor.id, "teach_id": teach.id, "start_date": DAY.isoformat(), "tz": "Asia/Kathmandu"}
    slots = check("/api/availabilities", "get", client.get("/api/availabilities", query_string=query), 200)
    assert slots["slots"]
    for changed, status in (({"tz": None, "utc_offset": "+05:30"}, 200), ({"duration": 50}, 422),
                            ({"tutor_id": 999999}, 404), ({"tz": ""}, 422)):
        asked = {name: value for name, value in {**query, **changed}.items() if value is not None}
        response = client.get("/api/availabilities", query_string=asked)
        check("/api/availabilities", "get", response, status)

    near = {"line1": "1 Strand", "city": "London", "postcode": "WC2N 5HR", "latitude": 51.51, "longitude": -0.12}
    body = {"tutor_id": tutor.id, "teach_id": teach.id, "start": START, "child_id": kid.id, "lesson_type": "in_person",
            "address": near}
    booking = check("/api/bookings", "post", client.post("/api/bookings", json=body, headers=parent), 201)
    student = {"Authorization": f"Bearer {accounts.issue_api_token(factories.user('student'))[0]}"}
    online = {"tutor_id": tutor.id, "teach_id": teach.id, "start": START, "duration": 30}
    check("/api/bookings", "post", client.post("/api/bookings", json=online, headers=student), 409)
    check("/api/bookings", "post", client.post("/api/bookings", json={**body, "child_id": 999999}, headers=parent), 404)
    check("/api/bookings", "post", client.post("/api/bookings", json={**body, "address": {}}, headers=parent), 422)
    check("/api/bookings", "post", client.post("/api/bookings", data="[1", content_type=JSON, headers=parent), 400)
    check("/api/bookings", "post", client.post("/api/bookings", json=body), 401)
    check("/api/bookings", "get", client.get("/api/bookings", headers=parent), 200)
    check("/api/bookings", "get", client.get("/api/bookings?when=later", headers=parent), 422)
    check("/api/bookings", "get", client.get("/api/bookings"), 401)
    check("/api/bookings/{booking_id}", "get", client.get(f"/api/bookings/{booking['id']}", headers=parent), 200)
    check("/api/bookings/{booking_id}", "get", client.get(f"/api/bookings/{booking['id']}", headers=student), 404)
    check("/api/bookings/{booking_id}", "get", client.get(f"/api/bookings/{booking['id']}"), 401)

    # Payments and cancellation (the local Stripe server answers for Stripe).
    bid = booking["id"]
    paid = check("/api/payments/pay", "post", client.post("/api/payments/pay", headers=parent, json={
        "booking_id": bid, "payment_method": "pm_card_visa"}), 201)
    assert paid["status"] == "requires_capture"
    check("/api/payments/pay", "post", client.post("/api/payments/pay", headers=parent, json={"booking_id": bid}), 422)
    check("/api/payments/pay", "post", client.post("/api/payments/pay", headers=student, json={
        "booking_id": bid, "payment_method": "pm_card_visa"}), 404)
    check("/api/payments/{booking_id}/status", "get", client.get(f"/api/payments/{bid}/status", headers=parent), 200)
    check("/api/payments/{booking_id}/status", "get", client.get(f"/api/payments/{bid}/status", headers=student), 404)
    check("/api/bookings/{booking_id}/cancellation", "get",
          client.get(f"/api/bookings/{bid}/cancellation", headers=parent), 200)
    check("/api/bookings/{booking_id}/cancellation", "get",
          client.get(f"/api/bookings/{bid}/cancellation", headers=student), 404)
    check("/api/bookings/{booking_id}/cancel", "put", client.put(f"/api/bookings/{bid}/cancel", headers=parent,
                                                                 json={"note": "x" * 1001}), 422)
    check("/api/bookings/{booking_id}/cancel", "put", client.put(f"/api/bookings/{bid}/cancel", headers=parent,
                                                                 json={"note": "Clash"}), 200)
    check("/api/bookings/{booking_id}/cancel", "put", client.put(f"/api/bookings/{bid}/cancel", headers=student), 404)

    # Summary notes on a lesson that has taken place (files go to a throwaway directory).
    import io
    import tempfile
    app, uploads_before = client.application, client.application.config["UPLOAD_DIR"]
    with tempfile.TemporaryDirectory() as upload_dir:
        app.config["UPLOAD_DIR"] = upload_dir
        try:
            lesson = factories.finished_lesson(tutor, for_child=kid)
            note = {"lesson_id": lesson.id, "body": "Fractions, then decimals."}
            check("/api/v1/notes", "post", client.post("/api/v1/notes", json=note, headers=as_tutor), 201)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", headers=as_tutor,
                                                       content_type="multipart/form-data", data={
                "lesson_id": str(lesson.id), "body": "Fractions and decimals.",
                "attachments": [(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "sheet.pdf")]}), 200)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", json=note, headers=parent), 403)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", json={**note, "lesson_id": 999999},
                                                       headers=as_tutor), 404)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", json={**note, "body": ""},
                                                       headers=as_tutor), 422)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", data="{", content_type=JSON,
                                                       headers=as_tutor), 400)
            check("/api/v1/notes", "post", client.post("/api/v1/notes", json=note), 401)
            read = check("/api/v1/notes/{lesson_id}", "get", client.get(f"/api/v1/notes/{lesson.id}",
                                                                         headers=parent), 200)
            assert [a["name"] for a in read["attachments"]] == ["sheet.pdf"]
            check("/api/v1/notes/{lesson_id}", "get", client.get(f"/api/v1/notes/{lesson.id}", headers=student), 404)
            check("/api/v1/notes/{lesson_id}", "get", client.get(f"/api/v1/notes/{lesson.id}"), 401)
            _check_homework(check, client, lesson, as_tutor, parent, student)
        finally:
            app.config["UPLOAD_DIR"] = uploads_before

    # Rescheduling a paid lesson: the student's side proposes, the tutor answers.
    from webapp.extensions import db
    from webapp.models import Booking
    from webapp.services import approvals
    online = {"tutor_id": tutor.id, "teach_id": teach.id, "start": START, "duration": 60}
    moved = check("/api/bookings", "post", client.post("/api/bookings", json={**online, "child_id": kid.id,
                                                                               "start": LATER}, headers=parent), 201)
    client.post("/api/payments/pay", headers=parent, json={"booking_id": moved["id"], "payment_method": "pm_card_visa"})
    stripe_world.receiver.wait_for("payment_intent.amount_capturable_updated",
                                   metadata={"booking_id": str(moved["id"])})
    stripe_world.deliver(client)
    db.session.rollback()
    approvals.approve(tutor, moved["id"], datetime.now(UTC))
    lesson_id = db.session.get(Booking, moved["id"]).lesson_id
    proposal = {"suggested_start": LATER_PLUS_2H}
    edit = f"/api/lessons/{lesson_id}/edit"
    check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, json={"suggested_start": "soon"}, headers=parent),
          422)
    check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, json=proposal, headers=student), 404)
    check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, json=proposal), 401)
    check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, data="{", content_type=JSON, headers=parent), 400)
    proposed = check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, json=proposal, headers=parent), 200)
    assert proposed["state"] == "RESCHEDULE"
    check("/api/lessons/{lesson_id}/edit", "put", client.put(edit, json=proposal, headers=parent), 409)
    respond = f"/api/lessons/{lesson_id}/reschedule/respond"
    answer = {"accept": True, "version": proposed["reschedule_version"]}
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, json=answer, headers=parent),
          403)
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, json={"accept": "yes"},
                                                                            headers=as_tutor), 422)
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, json=answer, headers=student),
          404)
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, json=answer), 401)
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, data="[", content_type=JSON,
                                                                            headers=as_tutor), 400)
    accepted = check("/api/lessons/{lesson_id}/reschedule/respond", "post",
                     client.post(respond, json=answer, headers=as_tutor), 200)
    assert accepted["state"] == "ACTIVE" and accepted["start"].startswith(LATER_PLUS_2H[:16])
    check("/api/lessons/{lesson_id}/reschedule/respond", "post", client.post(respond, json=answer, headers=as_tutor),
          409)

    # An admin refunds part of the paid lesson; a second refund of more than is left answers 409 with what is.
    admin = {"Authorization": f"Bearer {accounts.issue_api_token(factories.user('admin'))[0]}"}
    paid = db.session.get(Booking, moved["id"]).receipt.amount_minor
    refunds = f"/api/bookings/{moved['id']}/refunds"
    refund_path = "/api/bookings/{booking_id}/refunds"
    check(refund_path, "post", client.post(refunds, json={"amount_minor": 100, "idempotency_key": "openapi-1"},
                                           headers=admin), 201)
    lost = check(refund_path, "post", client.post(refunds, json={"amount_minor": paid}, headers=admin), 409)
    assert lost["error"]["refundable_minor"] == paid - 100
    check(refund_path, "post", client.post(refunds, json={"amount_minor": 0}, headers=admin), 422)
    check(refund_path, "post", client.post(refunds, json={"amount_minor": 100}, headers=parent), 403)
    check(refund_path, "post", client.post(refunds, json={"amount_minor": 100}), 401)
    check(refund_path, "post", client.post(refunds, data="{", content_type=JSON, headers=admin), 400)

    # Staff refund a minute-paid lesson in minutes; asking for more than is left answers 409 with what is.
    from tests.integration.test_minute_payments import _with_minutes
    from webapp.services import approvals, minute_payments
    by_minutes = _with_minutes(60)
    minute_payments.pay_with_minutes(by_minutes.booker, by_minutes.id, datetime.now(UTC))
    approvals.approve(by_minutes.lesson.tutor, by_minutes.id, datetime.now(UTC))
    minute_path = "/api/bookings/{booking_id}/minute-refunds"
    minute_url = f"/api/bookings/{by_minutes.id}/minute-refunds"
    check(minute_path, "post", client.post(minute_url, json={"minutes": 15, "idempotency_key": "openapi-m1"},
                                           headers=admin), 201)
    left = check(minute_path, "post", client.post(minute_url, json={"minutes": 60}, headers=admin), 409)
    assert left["error"]["refundable_minutes"] == 45
    check(minute_path, "post", client.post(minute_url, json={"minutes": 0}, headers=admin), 422)
    check(minute_path, "post", client.post(f"/api/bookings/{moved['id']}/minute-refunds", json={"minutes": 5},
                                           headers=admin), 409)  # paid by card: refunded in money
    check(minute_path, "post", client.post(minute_url, json={"minutes": 5}), 401)

    # Prepaid minutes, plans and subscriptions (the local Stripe answers for Checkout and subscriptions).
    from webapp.services import packages, subscriptions
    package = packages.add_package(tutor, 5, 10)
    plan, cheaper = subscriptions.add_plan(tutor, 240, 8000), subscriptions.add_plan(tutor, 120, 4500)
    for kind in ("packages", "plans"):
        path = f"/api/tutors/{{tutor_id}}/{kind}"
        check(path, "get", client.get(f"/api/tutors/{tutor.id}/{kind}", headers=parent), 200)
        check(path, "get", client.get(f"/api/tutors/999999/{kind}"), 404)
    buy, buy_path = f"/api/packages/{package.id}/purchases", "/api/packages/{package_id}/purchases"
    bought = check(buy_path, "post", client.post(buy, headers={**parent, "Idempotency-Key": "openapi-buy-1"}), 201)
    check(buy_path, "post", client.post(buy, headers={**parent, "Idempotency-Key": "bad"}), 422)
    check(buy_path, "post", client.post(buy, headers=as_tutor), 403)
    check(buy_path, "post", client.post(buy), 401)
    check(buy_path, "post", client.post("/api/packages/999999/purchases", headers=parent), 404)
    check(buy_path, "post", client.post(buy, json={"method": "paypal"}, headers=parent), 409)  # PayPal not set up
    check(buy_path, "post", client.post(buy, json={"method": "cash"}, headers=parent), 422)
    check(buy_path, "post", client.post(buy, data="{", content_type=JSON, headers=parent), 400)
    purchase = f"/api/purchases/{bought['id']}"
    check("/api/purchases/{purchase_id}", "get", client.get(purchase, headers=parent), 200)
    check("/api/purchases/{purchase_id}", "get", client.get(purchase, headers=student), 404)
    check("/api/purchases/{purchase_id}", "get", client.get(purchase), 401)
    paypal_done = "/api/purchases/{purchase_id}/paypal/complete"
    check(paypal_done, "post", client.post(f"{purchase}/paypal/complete", json={"order_id": "NOSUCH"},
                                           headers=parent), 404)
    check(paypal_done, "post", client.post(f"{purchase}/paypal/complete", json={}, headers=parent), 422)
    check(paypal_done, "post", client.post(f"{purchase}/paypal/complete", data="{", content_type=JSON,
                                           headers=parent), 400)
    check(paypal_done, "post", client.post(f"{purchase}/paypal/complete", json={"order_id": "X"}, headers=as_tutor),
          403)
    check(paypal_done, "post", client.post(f"{purchase}/paypal/complete", json={"order_id": "X"}), 401)
    staff = {"Authorization": f"Bearer {accounts.issue_api_token(factories.user('admin'))[0]}"}
    refunds = "/api/purchases/{purchase_id}/refunds"
    check(refunds, "get", client.get(f"{purchase}/refunds", headers=staff), 409)  # not paid yet
    check(refunds, "post", client.post(f"{purchase}/refunds", json={}, headers=staff), 409)
    assert stripe_world.pay(bought["checkout_url"]).status_code == 303
    stripe_world.receiver.wait_for("checkout.session.completed")
    stripe_world.deliver(client)
    check(refunds, "get", client.get(f"{purchase}/refunds", headers=staff), 200)
    check(refunds, "get", client.get(f"{purchase}/refunds", headers=parent), 403)
    check(refunds, "get", client.get("/api/purchases/999999/refunds", headers=staff), 404)
    check(refunds, "get", client.get(f"{purchase}/refunds"), 401)
    check(refunds, "post", client.post(f"{purchase}/refunds", json={"minutes": 15, "idempotency_key": "openapi-r1"},
                                       headers=staff), 201)
    check(refunds, "post", client.post(f"{purchase}/refunds", json={"minutes": 100000}, headers=staff), 409)
    check(refunds, "post", client.post(f"{purchase}/refunds", json={"amount_minor": 1, "minutes": 1},
                                       headers=staff), 422)
    check(refunds, "post", client.post(f"{purchase}/refunds", data="{", content_type=JSON, headers=staff), 400)
    check(refunds, "post", client.post(f"{purchase}/refunds", json={}, headers=parent), 403)
    check(refunds, "post", client.post("/api/purchases/999999/refunds", json={}, headers=staff), 404)
    check(refunds, "post", client.post(f"{purchase}/refunds", json={}), 401)
    check("/api/wallet", "get", client.get("/api/wallet", headers=parent), 200)
    check("/api/wallet", "get", client.get("/api/wallet?limit=0", headers=parent), 422)
    check("/api/wallet", "get", client.get("/api/wallet", headers=as_tutor), 403)
    check("/api/wallet", "get", client.get("/api/wallet"), 401)
    subscribe, subscribe_path = f"/api/plans/{plan.id}/subscriptions", "/api/plans/{plan_id}/subscriptions"
    started = check(subscribe_path, "post", client.post(subscribe, headers=parent), 201)
    check(subscribe_path, "post", client.post("/api/plans/999999/subscriptions", headers=parent), 404)
    check(subscribe_path, "post", client.post(subscribe, headers=as_tutor), 403)
    check(subscribe_path, "post", client.post(subscribe), 401)
    assert stripe_world.pay(started["checkout_url"]).status_code == 303
    stripe_world.receiver.wait_for("invoice.paid")
    stripe_world.receiver.wait_for("checkout.session.completed", mode="subscription")
    stripe_world.deliver(client)
    listed = check("/api/subscriptions", "get", client.get("/api/subscriptions", headers=parent), 200)
    check("/api/subscriptions", "get", client.get("/api/subscriptions", headers=as_tutor), 403)
    check("/api/subscriptions", "get", client.get("/api/subscriptions"), 401)
    check(subscribe_path, "post", client.post(subscribe, headers=parent), 409)
    mine = f"/api/subscriptions/{listed['subscriptions'][0]['id']}"
    for action in ("cancel", "resume"):
        path = f"/api/subscriptions/{{subscription_id}}/{action}"
        check(path, "post", client.post(f"{mine}/{action}", headers=student), 404)
        check(path, "post", client.post(f"{mine}/{action}", headers={**parent, "Idempotency-Key": "?"}), 422)
        check(path, "post", client.post(f"{mine}/{action}", headers=as_tutor), 403)
        check(path, "post", client.post(f"{mine}/{action}"), 401)
    check("/api/subscriptions/{subscription_id}/resume", "post", client.post(f"{mine}/resume", headers=parent), 409)
    check("/api/subscriptions/{subscription_id}/cancel", "post", client.post(f"{mine}/cancel", headers=parent), 200)
    check("/api/subscriptions/{subscription_id}/cancel", "post", client.post(f"{mine}/cancel", headers=parent), 409)
    check("/api/subscriptions/{subscription_id}/resume", "post", client.post(f"{mine}/resume", headers=parent), 200)
    change_path = "/api/subscriptions/{subscription_id}/change"
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": cheaper.id}, headers=parent), 200)
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": cheaper.id}, headers=parent), 409)
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": 999999}, headers=parent), 404)
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": "1"}, headers=parent), 422)
    check(change_path, "post", client.post(f"{mine}/change", data="{", content_type=JSON, headers=parent), 400)
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": plan.id}, headers=as_tutor), 403)
    check(change_path, "post", client.post(f"{mine}/change", json={"plan_id": plan.id}), 401)
    complete, complete_path = "/api/payments/paypal/complete", "/api/payments/paypal/complete"
    check(complete_path, "post", client.post(complete, json={"booking_id": bid, "order_id": "NOSUCH"},
                                             headers=parent), 404)
    check(complete_path, "post", client.post(complete, json={"booking_id": bid}, headers=parent), 422)
    check(complete_path, "post", client.post(complete, data="[", content_type=JSON, headers=parent), 400)
    check(complete_path, "post", client.post(complete, json={"booking_id": bid, "order_id": "NOSUCH"}), 401)

    spare = check("/api/auth/token", "post", client.post("/api/auth/token", json={
        "email": "ada@example.com", "password": "long-enough-password", "device_name": "Ada's tablet"}), 200)
    check("/api/auth/token", "delete", client.delete("/api/auth/token",
                                                     headers={"Authorization": f"Bearer {spare['token']}"}), 204)
    check("/api/auth/token", "delete", client.delete("/api/auth/token",
                                                     headers={"Authorization": f"Bearer {spare['token']}"}), 401)

    unchecked = {(path, method) for path, item in document["paths"].items() for method in item} - {
        (path, method) for path, method, _ in check.seen}
    assert unchecked == set()


def _check_homework(check, client, lesson, as_tutor, parent, student):
    """Topics and mistakes on the note, the drafted set, answering it and the tutor's agenda, as documented."""
    from datetime import UTC, datetime

    from webapp.extensions import db
    from webapp.models import HomeworkSet
    from webapp.services import curriculum, homework
    curriculum.seed_curriculum()
    topics_path = "/api/v1/lessons/{lesson_id}/topics"
    topics = check(topics_path, "get", client.get(f"/api/v1/lessons/{lesson.id}/topics", headers=as_tutor), 200)
    check(topics_path, "get", client.get(f"/api/v1/lessons/{lesson.id}/topics", headers=student), 404)
    check(topics_path, "get", client.get(f"/api/v1/lessons/{lesson.id}/topics"), 401)
    ids = {t["name"]: t["id"] for t in topics["topics"]}
    note = {"lesson_id": lesson.id, "body": "Fractions.", "topics": [ids["Ratio"]],
            "errors": [{"topic_id": ids["Fractions"], "what_went_wrong": "Added the denominators"}]}
    saved = check("/api/v1/notes", "post", client.post("/api/v1/notes", json=note, headers=as_tutor), 200)
    assert saved["errors"][0]["topic"]["name"] == "Fractions"
    check("/api/v1/notes", "post", client.post("/api/v1/notes", headers=as_tutor, json={
        **note, "errors": [{"topic_id": ids["Fractions"], "what_went_wrong": " "}]}), 422)
    listed = check("/api/v1/homework", "get", client.get("/api/v1/homework", headers=as_tutor), 200)
    set_id = listed["sets"][0]["id"]
    check("/api/v1/homework", "get", client.get("/api/v1/homework"), 401)
    one = "/api/v1/homework/{set_id}"
    check(one, "get", client.get(f"/api/v1/homework/{set_id}", headers=as_tutor), 200)
    check(one, "get", client.get(f"/api/v1/homework/{set_id}", headers=parent), 404)  # still a draft
    check(one, "get", client.get(f"/api/v1/homework/{set_id}"), 401)
    homework.publish(lesson.tutor, set_id, datetime.now(UTC))
    db.session.commit()
    shown = check(one, "get", client.get(f"/api/v1/homework/{set_id}", headers=parent), 200)
    first = shown["items"][0]
    answer = "/api/v1/homework/questions/{entry_id}/answer"
    url = f"/api/v1/homework/questions/{first['id']}/answer"
    right = db.session.get(HomeworkSet, set_id).entries[0].item.answer
    check(answer, "post", client.post(url, json={"response": "€€€"}, headers=parent), 422)
    check(answer, "post", client.post(url, json={"response": right}, headers=student), 404)
    check(answer, "post", client.post(url, json={"response": right}), 401)
    check(answer, "post", client.post(url, data="{", content_type=JSON, headers=parent), 400)
    check(answer, "post", client.post(url, json={"response": right}, headers=parent), 200)
    check(answer, "post", client.post(url, json={"response": right}, headers=parent), 409)
    agenda = "/api/v1/lessons/{lesson_id}/agenda"
    check(agenda, "get", client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=as_tutor), 200)
    check(agenda, "get", client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=parent), 403)
    check(agenda, "get", client.get(f"/api/v1/lessons/{lesson.id}/agenda", headers=student), 404)
    check(agenda, "get", client.get(f"/api/v1/lessons/{lesson.id}/agenda"), 401)
