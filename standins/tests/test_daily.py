"""The Daily stand-in speaks Daily's REST wire format: rooms with nbf/exp, meeting tokens, {error, info} errors."""
from __future__ import annotations

import base64
import json
import time

import requests

KEY = {"Authorization": "Bearer daily_test_key"}


def _post(daily, path, body=None, headers=KEY):
    return requests.post(daily.url + path, json=body, headers=headers, timeout=5)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_room_is_created_with_its_window_and_has_dailys_shape(daily):
    nbf, exp = int(time.time()) + 600, int(time.time()) + 4200
    answer = _post(daily, "/rooms", {"name": "lesson-1-abc", "privacy": "private", "properties": {"nbf": nbf, "exp": exp}})
    assert answer.status_code == 200
    room = answer.json()
    assert room["name"] == "lesson-1-abc" and room["privacy"] == "private" and room["api_created"] is True
    assert room["url"] == "https://lessonbook-dev.daily.co/lesson-1-abc"
    assert room["config"] == {"nbf": nbf, "exp": exp}
    assert {"id", "created_at"} <= set(room)
    assert requests.get(daily.url + "/rooms/lesson-1-abc", headers=KEY, timeout=5).json() == room


def test_the_same_name_twice_is_dailys_400_and_a_missing_room_is_a_404_with_error_and_info(daily):
    assert _post(daily, "/rooms", {"name": "twice"}).status_code == 200
    again = _post(daily, "/rooms", {"name": "twice"})
    assert again.status_code == 400
    assert again.json() == {"error": "invalid-request-error", "info": "a room named twice already exists"}
    missing = _post(daily, "/rooms/nobody", {"properties": {"exp": int(time.time()) + 60}})
    assert missing.status_code == 404 and missing.json() == {"error": "not-found", "info": "room nobody not found"}


def test_updating_a_room_moves_its_window_and_deleting_it_answers_deleted(daily):
    _post(daily, "/rooms", {"name": "moving", "properties": {"nbf": 100, "exp": int(time.time()) + 600}})
    new_exp = int(time.time()) + 7200
    updated = _post(daily, "/rooms/moving", {"properties": {"exp": new_exp}}).json()
    assert updated["config"] == {"nbf": 100, "exp": new_exp}
    gone = requests.delete(daily.url + "/rooms/moving", headers=KEY, timeout=5)
    assert gone.status_code == 200 and gone.json() == {"deleted": True, "name": "moving"}
    assert requests.delete(daily.url + "/rooms/moving", headers=KEY, timeout=5).status_code == 404


def test_a_room_past_its_exp_counts_as_deleted(daily):
    _post(daily, "/rooms", {"name": "short", "properties": {"exp": int(time.time()) + 60}})
    daily.clock_offset = 120
    assert requests.get(daily.url + "/rooms/short", headers=KEY, timeout=5).status_code == 404
    assert requests.get(daily.url + "/rooms", headers=KEY, timeout=5).json() == {"total_count": 0, "data": []}


def test_meeting_tokens_are_jwts_signed_with_the_key_carrying_room_and_owner(daily):
    token = _post(daily, "/meeting-tokens", {"properties": {"room_name": "r1", "is_owner": True}}).json()["token"]
    claims = _claims(token)
    assert claims["r"] == "r1" and claims["o"] is True and "iat" in claims
    checked = requests.get(f"{daily.url}/meeting-tokens/{token}", headers=KEY, timeout=5)
    assert checked.status_code == 200 and checked.json() == {"room_name": "r1", "is_owner": True}
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert requests.get(f"{daily.url}/meeting-tokens/{forged}", headers=KEY, timeout=5).status_code == 400


def test_keys_and_unknown_properties_are_refused_as_daily_refuses_them(daily):
    assert _post(daily, "/rooms", {}, headers={}).json()["error"] == "authorization-header-error"
    wrong = _post(daily, "/rooms", {}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "authentication-error"
    unknown = _post(daily, "/rooms", {"properties": {"start_time": 1}})
    assert unknown.status_code == 400 and unknown.json()["info"] == "unknown property: start_time"
    bad = requests.post(daily.url + "/rooms", data=b"{not json", headers={**KEY, "Content-Type": "application/json"},
                        timeout=5)
    assert bad.status_code == 400 and bad.json()["error"] == "json-parsing-error"


def test_told_to_fail_it_answers_a_server_error_and_records_the_request(daily):
    daily.fail_with = 503
    answer = _post(daily, "/rooms", {"name": "x"})
    assert answer.status_code == 503 and answer.json()["error"] == "server-error"
    assert daily.requests[-1]["path"] == "/v1/rooms" and daily.rooms == {}
