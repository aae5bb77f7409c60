"""Google Calendar as a source of busy time: OAuth 2.0 (authorization code with PKCE, offline refresh tokens) and
the Calendar API's free/busy query (POST {api}/freeBusy), spoken over plain HTTPS.

Free/busy is all we read: the narrowest scope (`calendar.freebusy`), no event titles. Two endpoints and one
refresh are simpler over `requests` than through the discovery-based client library; tests and `make run` point
the URLs at `standins/google_calendar.py`, which speaks the same wire format."""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import requests

from ..domain.busy_time import BusyBlock, occurrence_key, within

SCOPE = "https://www.googleapis.com/auth/calendar.freebusy"
# Queried in pieces no longer than this (Google refuses very long free/busy ranges).
MAX_QUERY_SPAN = timedelta(days=60)


class GoogleCalendarError(RuntimeError):
    """Google did not give us busy time; the message says why, in words a tutor can act on."""


class GoogleAccessRevoked(GoogleCalendarError):
    """The refresh token no longer works (access removed in the Google account, or expired): reconnect."""


@dataclass(frozen=True)
class GoogleSettings:
    """Where Google (or the local stand-in) answers, and who we are to it."""

    client_id: str
    client_secret: str
    auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    token_url: str = "https://oauth2.googleapis.com/token"
    api_base: str = "https://www.googleapis.com/calendar/v3"
    timeout: float = 15


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(settings: GoogleSettings, redirect_uri: str, state: str, code_challenge: str) -> str:
    """Where to send the tutor to allow access: offline (a refresh token), consent asked so one is always issued."""
    return settings.auth_url + "?" + urlencode({
        "client_id": settings.client_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": SCOPE,
        "access_type": "offline", "prompt": "consent", "include_granted_scopes": "true", "state": state,
        "code_challenge": code_challenge, "code_challenge_method": "S256"})


def _token_request(settings: GoogleSettings, form: dict) -> dict:
    try:
        response = requests.post(settings.token_url, data={**form, "client_id": settings.client_id,
                                                           "client_secret": settings.client_secret},
                                 timeout=settings.timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise GoogleCalendarError(f"Google could not be reached ({type(exc).__name__}); we try again shortly.") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code == 400 and body.get("error") == "invalid_grant":
        raise GoogleAccessRevoked("Google no longer gives us access to this calendar (it was removed in your Google "
                                  "account, or expired): connect it again.")
    if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
        raise GoogleCalendarError(f"Google refused the sign-in (HTTP {response.status_code}"
                                  + (f", {body.get('error')}" if isinstance(body, dict) and body.get("error") else "")
                                  + ").")
    return body


def exchange_code(settings: GoogleSettings, code: str, redirect_uri: str, code_verifier: str) -> str:
    """The refresh token for an authorization code (the code works once)."""
    body = _token_request(settings, {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                     "code_verifier": code_verifier})
    refresh = body.get("refresh_token")
    if not refresh:
        raise GoogleCalendarError("Google gave no lasting access (no refresh token); connect again and allow access.")
    return refresh


def access_token(settings: GoogleSettings, refresh_token: str) -> str:
    """A fresh access token (they last an hour; each sync gets its own)."""
    return _token_request(settings, {"grant_type": "refresh_token", "refresh_token": refresh_token})["access_token"]


def _parse(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("free/busy times carry an offset")
    return moment.astimezone(UTC)


def free_busy(settings: GoogleSettings, token: str, start: datetime, end: datetime,
              calendar_ids: tuple[str, ...] = ("primary",)) -> list[BusyBlock]:
    """The busy periods of the calendars over [start, end), in pieces of at most MAX_QUERY_SPAN."""
    blocks: list[BusyBlock] = []
    piece = start
    while piece < end:
        stop = min(end, piece + MAX_QUERY_SPAN)
        blocks += _query(settings, token, piece, stop, calendar_ids)
        piece = stop
    return within(blocks, start, end)


def _query(settings, token, start, end, calendar_ids) -> list[BusyBlock]:
    body = {"timeMin": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "timeMax": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "items": [{"id": c} for c in calendar_ids]}
    try:
        response = requests.post(settings.api_base.rstrip("/") + "/freeBusy", json=body, timeout=settings.timeout,
                                 headers={"Authorization": f"Bearer {token}"}, allow_redirects=False)
    except requests.RequestException as exc:
        raise GoogleCalendarError(f"Google Calendar could not be reached ({type(exc).__name__}).") from None
    if response.status_code != 200:
        raise GoogleCalendarError(f"Google Calendar answered HTTP {response.status_code}: {_message(response)}")
    try:
        calendars = response.json()["calendars"]
        blocks = []
        for calendar_id in calendar_ids:
            found = calendars[calendar_id]
            if found.get("errors"):
                reason = found["errors"][0].get("reason", "error")
                raise GoogleCalendarError(f"Google Calendar could not read the calendar ({reason}).")
            for period in found.get("busy", []):
                first, last = _parse(period["start"]), _parse(period["end"])
                if last > first:
                    blocks.append(BusyBlock(first, last, occurrence_key(calendar_id, f"{first.isoformat()}/{last.isoformat()}")))
        return blocks
    except GoogleCalendarError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, IndexError):
        raise GoogleCalendarError("Google Calendar sent an answer we cannot read.") from None


def _message(response) -> str:
    try:
        return str(response.json()["error"]["message"])[:200]
    except (ValueError, KeyError, TypeError):
        return response.reason or "error"
