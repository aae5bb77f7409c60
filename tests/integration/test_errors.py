"""Error answers keep the headers HTTP gives them: a 405 says which methods the path does allow."""
import re

from tests.integration.test_api import error_of

OTHER_METHODS = ("PATCH", "PUT", "DELETE", "POST", "GET")


def _sample_path(rule) -> str:
    """The rule's path with each variable filled in with a value its converter accepts."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "1", rule.rule)


def _routes(app) -> dict[str, set[str]]:
    """Each concrete path and every method some rule serves at it."""
    paths: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        paths.setdefault(_sample_path(rule), set()).update(rule.methods)
    return paths


def test_every_path_answers_a_wrong_method_with_405_and_an_allow_header(app, client):
    routes = _routes(app)
    assert len(routes) > 50  # pages, partials, /api, webhooks, static
    for path, methods in sorted(routes.items()):
        wrong = next(m for m in OTHER_METHODS if m not in methods)
        response = client.open(path, method=wrong)
        assert response.status_code == 405, f"{wrong} {path}: {response.status_code}"
        allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
        assert allowed == methods, f"{wrong} {path}: Allow {allowed} != {methods}"


def test_a_405_from_the_api_is_json_with_allow(client):
    response = client.delete("/api/subjects")
    assert response.status_code == 405 and error_of(response)["status"] == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}
    assert response.content_type == "application/json"


def test_a_405_on_a_page_is_a_page_in_words_with_allow(client):
    response = client.post("/tutors", data={})
    assert response.status_code == 405 and "GET" in response.headers["Allow"].split(", ")
    assert response.content_type.startswith("text/html") and "not available here" in response.get_data(as_text=True)
