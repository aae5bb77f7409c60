"""The Google stand-in speaks Google's wire format: the consent redirect, the token endpoint (authorization code
with PKCE, refresh tokens, Google's error bodies) and Calendar v3 freeBusy."""
from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import requests

REDIRECT = "http://127.0.0.1:5000/tutor/calendars/google/callback"
SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def authorize(google, verifier="v" * 50, decision="allow", state="st4te") -> dict:
    params = {"client_id": "client-1", "redirect_uri": REDIRECT, "response_type": "code", "scope": SCOPE,
              "state": state, "code_challenge": challenge(verifier), "code_challenge_method": "S256",
              "access_type": "offline"}
    page = requests.get(google.auth_url, params=params, timeout=5)
    assert page.status_code == 200 and "Allow" in page.text and "availability" in page.text
    answer = requests.post(google.url + "/o/oauth2/v2/auth/decision", data={**params, "decision": decision},
                           allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def token(google, **form):
    return requests.post(google.token_url, data={"client_id": "client-1", "client_secret": "secret-1", **form},
                         timeout=5)


def exchange(google, verifier="v" * 50):
    back = authorize(google, verifier)
    return token(google, grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT,
                 code_verifier=verifier)


def free_busy(google, access: str, body: dict):
    return requests.post(google.api_base + "/freeBusy", json=body, headers={"Authorization": f"Bearer {access}"},
                         timeout=5)


def test_allowing_access_redirects_back_with_a_code_and_the_state(google):
    back = authorize(google)
    assert back["state"] == "st4te" and back["code"].startswith("4/")


def test_denying_access_redirects_back_with_access_denied(google):
    assert authorize(google, decision="deny") == {"error": "access_denied", "state": "st4te"}


def test_an_unknown_client_gets_an_error_page(google):
    page = requests.get(google.auth_url, params={"client_id": "nobody", "redirect_uri": REDIRECT,
                                                 "response_type": "code", "scope": SCOPE}, timeout=5)
    assert page.status_code == 401 and "invalid_client" in page.text


def test_a_code_becomes_tokens_once_and_only_with_its_pkce_verifier(google):
    answer = exchange(google)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["scope"] == SCOPE
    assert body["access_token"].startswith("ya29.") and body["refresh_token"].startswith("1//")

    back = authorize(google, verifier="w" * 50)
    wrong = token(google, grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT,
                  code_verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    again = token(google, grant_type="authorization_code", code=back["code"], redirect_uri=REDIRECT,
                  code_verifier="w" * 50)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # the code was used up


def test_the_client_secret_is_checked(google):
    back = authorize(google)
    answer = requests.post(google.token_url, data={"client_id": "client-1", "client_secret": "nope",
                                                   "grant_type": "authorization_code", "code": back["code"],
                                                   "redirect_uri": REDIRECT, "code_verifier": "v" * 50}, timeout=5)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_a_refresh_token_gives_new_access_tokens_until_access_is_revoked(google):
    refresh = exchange(google).json()["refresh_token"]
    fresh = token(google, grant_type="refresh_token", refresh_token=refresh)
    assert fresh.status_code == 200 and "refresh_token" not in fresh.json()
    google.revoke_all()
    gone = token(google, grant_type="refresh_token", refresh_token=refresh)
    assert gone.status_code == 400
    assert gone.json() == {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def test_free_busy_lists_the_busy_periods_overlapping_the_range_clipped_in_utc(google):
    access = exchange(google).json()["access_token"]
    google.set_busy([(utc(2027, 3, 2, 10), utc(2027, 3, 2, 11)), (utc(2027, 3, 1, 23), utc(2027, 3, 2, 1)),
                     (utc(2027, 4, 1, 9), utc(2027, 4, 1, 10))])
    answer = free_busy(google, access, {"timeMin": "2027-03-02T00:00:00Z", "timeMax": "2027-03-03T00:00:00+00:00",
                                        "items": [{"id": "primary"}, {"id": "nobody@example.com"}]})
    assert answer.status_code == 200
    assert answer.json() == {
        "kind": "calendar#freeBusy", "timeMin": "2027-03-02T00:00:00Z", "timeMax": "2027-03-03T00:00:00Z",
        "calendars": {"primary": {"busy": [{"start": "2027-03-02T00:00:00Z", "end": "2027-03-02T01:00:00Z"},
                                           {"start": "2027-03-02T10:00:00Z", "end": "2027-03-02T11:00:00Z"}]},
                      "nobody@example.com": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}}}


def test_free_busy_needs_a_live_access_token_and_a_time_range(google):
    access = exchange(google).json()["access_token"]
    bad = free_busy(google, "ya29.made-up", {"timeMin": "2027-03-02T00:00:00Z", "timeMax": "2027-03-03T00:00:00Z"})
    assert bad.status_code == 401 and bad.json()["error"]["errors"][0]["reason"] == "authError"
    empty = free_busy(google, access, {"timeMin": "2027-03-03T00:00:00Z", "timeMax": "2027-03-02T00:00:00Z"})
    assert empty.status_code == 400 and empty.json()["error"]["errors"][0]["reason"] == "timeRangeEmpty"
    google.expire_access_tokens()
    assert free_busy(google, access, {"timeMin": "2027-03-02T00:00:00Z",
                                      "timeMax": "2027-03-03T00:00:00Z"}).status_code == 401
