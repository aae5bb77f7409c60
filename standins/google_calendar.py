"""A local stand-in for the Google endpoints the calendar import uses: OAuth 2.0 (authorization code with PKCE,
refresh tokens) and Calendar API v3 `freeBusy`, in Google's wire format.

Google has no installable server, so `webapp/adapters/google_calendar.py` is tested against this one, and
`make run` starts it when GOOGLE_CLIENT_ID is not set, so "Connect Google Calendar" can be tried locally.

What it speaks:
- `GET /o/oauth2/v2/auth?client_id&redirect_uri&response_type=code&scope&state&code_challenge
  &code_challenge_method=S256&access_type=offline` → a consent page (HTML, like Google's) whose Allow and Deny
  buttons POST `/o/oauth2/v2/auth/decision`, which redirects (302) to `redirect_uri?code=…&state=…` or
  `redirect_uri?error=access_denied&state=…`. An unknown client or a missing redirect_uri → 400 page.
- `POST /token` (form-encoded): `grant_type=authorization_code` (code, client_id, client_secret, redirect_uri,
  code_verifier) → {access_token, expires_in, refresh_token, scope, token_type: "Bearer"};
  `grant_type=refresh_token` (refresh_token, client_id, client_secret) → the same without refresh_token.
  Errors as Google: 401 {error: "invalid_client"}, 400 {error: "invalid_grant", error_description: …},
  400 {error: "unsupported_grant_type"} / {error: "invalid_request"}.
- `POST /calendar/v3/freeBusy` (JSON, `Authorization: Bearer <access token>`) {timeMin, timeMax, items: [{id}]} →
  {kind: "calendar#freeBusy", timeMin, timeMax, calendars: {id: {busy: [{start, end}]}}} with each busy period
  that overlaps the range, clipped to it, in UTC ("…Z"); an unknown calendar id gets
  {errors: [{domain: "global", reason: "notFound"}], busy: []}. A bad token → 401 with Google's error object
  (reason authError); missing or reversed times → 400 (reason badRequest / timeRangeEmpty).

Run it:      python -m standins.google_calendar --port 8423 [--client-id ID --client-secret SECRET] [--demo-busy]
Or import:   google = GoogleCalendarStandIn(); google.url; google.set_busy([(start, end), …]);
             google.revoke_all(); google.fail_with = 503; google.requests; google.close()
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import html
import json
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

FREEBUSY_SCOPES = {"https://www.googleapis.com/auth/calendar.freebusy",
                   "https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/calendar"}
ACCESS_TOKEN_SECONDS = 3599
CODE_SECONDS = 600


class GoogleError(Exception):
    """An error answer: status and JSON body."""

    def __init__(self, status: int, body: dict):
        super().__init__(str(body))
        self.status, self.body = status, body


def _api_error(status: int, reason: str, message: str, domain: str = "global") -> GoogleError:
    statuses = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND"}
    return GoogleError(status, {"error": {"code": status, "message": message, "errors": [
        {"domain": domain, "reason": reason, "message": message}], "status": statuses.get(status, "UNKNOWN")}})


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


class GoogleCalendarStandIn:
    """The server in a background thread; one Google account whose calendars' busy periods the test sets."""

    def __init__(self, client_id: str = "lessonbook-test.apps.googleusercontent.com",
                 client_secret: str = "test-client-secret", port: int = 0):
        self.clients = {client_id: client_secret}
        self.busy: dict[str, list[tuple[datetime, datetime]]] = {"primary": []}
        self.requests: list[dict] = []
        self.fail_with: int | None = None  # answer API and token requests with this status (500, 503…)
        self.codes: dict[str, dict] = {}
        self.refresh_tokens: dict[str, dict] = {}
        self.access_tokens: dict[str, dict] = {}
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                stand_in.requests.append({"method": self.command, "path": parts.path, "query": parts.query,
                                          "body": raw.decode(errors="replace"), "headers": dict(self.headers)})
                try:
                    status, headers, body = stand_in.answer(self.command, parts.path, parts.query,
                                                            dict(self.headers), raw)
                except GoogleError as exc:
                    status, headers, body = exc.status, {}, exc.body
                if isinstance(body, (dict, list)):
                    data, kind = json.dumps(body).encode(), "application/json; charset=UTF-8"
                else:
                    data, kind = str(body).encode(), "text/html; charset=utf-8"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.auth_url = self.url + "/o/oauth2/v2/auth"
        self.token_url = self.url + "/token"
        self.api_base = self.url + "/calendar/v3"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- test controls ------------------------------------------------------------------------------

    def set_busy(self, periods: list[tuple[datetime, datetime]], calendar: str = "primary") -> None:
        """The account's busy periods (aware datetimes) in one calendar."""
        with self._lock:
            self.busy[calendar] = list(periods)

    def revoke_all(self) -> None:
        """The user removed the app's access in their Google account: every token stops working."""
        with self._lock:
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Let an hour pass for the access tokens (refresh tokens keep working)."""
        with self._lock:
            for token in self.access_tokens.values():
                token["expires"] = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the endpoints ------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: str, headers: dict, raw: bytes):
        """One request → (status, extra headers, body: a dict for JSON or a str for HTML)."""
        if method == "GET" and path == "/o/oauth2/v2/auth":
            return self._consent_page({k: v[0] for k, v in parse_qs(query).items()})
        if method == "POST" and path == "/o/oauth2/v2/auth/decision":
            return self._decision({k: v[0] for k, v in parse_qs(raw.decode()).items()})
        if self.fail_with:
            raise GoogleError(self.fail_with, {"error": {"code": self.fail_with, "message": "Backend Error"}})
        if method == "POST" and path == "/token":
            return 200, {"Cache-Control": "no-cache, no-store"}, self._token(
                {k: v[0] for k, v in parse_qs(raw.decode()).items()})
        if method == "POST" and path == "/calendar/v3/freeBusy":
            self._authenticate(headers.get("Authorization"))
            return 200, {}, self._free_busy(raw)
        raise GoogleError(404, {"error": {"code": 404, "message": "Not Found"}})

    def _consent_page(self, params: dict):
        client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
        if client_id not in self.clients:
            return 401, {}, "<h1>Error 401: invalid_client</h1><p>The OAuth client was not found.</p>"
        if not redirect_uri or params.get("response_type") != "code":
            return 400, {}, "<h1>Error 400: invalid_request</h1><p>Missing redirect_uri or response_type=code.</p>"
        scopes = set((params.get("scope") or "").split())
        if not scopes & FREEBUSY_SCOPES:
            return 400, {}, "<h1>Error 400: invalid_scope</h1><p>No calendar scope was requested.</p>"
        fields = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        return 200, {}, (
            "<!doctype html><title>Sign in - Google Accounts (local stand-in)</title>"
            "<h1>Lessonbook wants to access your Google Account</h1>"
            "<p>See the availability on Google calendars you have access to.</p>"
            f'<form method="post" action="/o/oauth2/v2/auth/decision">{fields}'
            '<button name="decision" value="allow">Allow</button> '
            '<button name="decision" value="deny">Cancel</button></form>')

    def _decision(self, params: dict):
        redirect_uri, state = params.get("redirect_uri", ""), params.get("state")
        if params.get("client_id") not in self.clients or not redirect_uri:
            return 400, {}, "<h1>Error 400: invalid_request</h1>"
        answer = {"state": state} if state is not None else {}
        if params.get("decision") != "allow":
            answer = {"error": "access_denied", **answer}
        else:
            code = "4/0A" + secrets.token_urlsafe(24)
            with self._lock:
                self.codes[code] = {"client_id": params["client_id"], "redirect_uri": redirect_uri,
                                    "challenge": params.get("code_challenge"),
                                    "method": params.get("code_challenge_method", "plain"),
                                    "scope": params.get("scope", ""), "expires": time.time() + CODE_SECONDS}
            answer = {"code": code, **answer, "scope": params.get("scope", "")}
        separator = "&" if "?" in redirect_uri else "?"
        return 302, {"Location": redirect_uri + separator + urlencode(answer)}, ""

    def _client(self, params: dict) -> str:
        client_id = params.get("client_id")
        if client_id not in self.clients or self.clients[client_id] != params.get("client_secret"):
            raise GoogleError(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        return client_id

    def _token(self, params: dict) -> dict:
        grant = params.get("grant_type")
        if grant not in ("authorization_code", "refresh_token"):
            raise GoogleError(400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type: "
                                    + str(grant)})
        client_id = self._client(params)
        with self._lock:
            if grant == "authorization_code":
                code = self.codes.pop(params.get("code", ""), None)  # a code works once
                if code is None or code["client_id"] != client_id or code["expires"] < time.time():
                    raise GoogleError(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                if code["redirect_uri"] != params.get("redirect_uri"):
                    raise GoogleError(400, {"error": "redirect_uri_mismatch", "error_description": "Bad Request"})
                if code["challenge"] and not self._pkce_ok(code, params.get("code_verifier")):
                    raise GoogleError(400, {"error": "invalid_grant", "error_description": "Invalid code verifier."})
                refresh = "1//0" + secrets.token_urlsafe(32)
                self.refresh_tokens[refresh] = {"client_id": client_id, "scope": code["scope"]}
                return {**self._new_access(refresh, code["scope"]), "refresh_token": refresh}
            refresh = params.get("refresh_token", "")
            known = self.refresh_tokens.get(refresh)
            if known is None or known["client_id"] != client_id:
                raise GoogleError(400, {"error": "invalid_grant",
                                        "error_description": "Token has been expired or revoked."})
            return self._new_access(refresh, known["scope"])

    @staticmethod
    def _pkce_ok(code: dict, verifier: str | None) -> bool:
        if not verifier:
            return False
        if code["method"] == "S256":
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            return digest == code["challenge"]
        return verifier == code["challenge"]

    def _new_access(self, refresh: str, scope: str) -> dict:
        token = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[token] = {"refresh": refresh, "expires": time.time() + ACCESS_TOKEN_SECONDS}
        return {"access_token": token, "expires_in": ACCESS_TOKEN_SECONDS, "scope": scope, "token_type": "Bearer"}

    def _authenticate(self, authorization: str | None) -> None:
        token = (authorization or "").removeprefix("Bearer ").strip()
        with self._lock:
            known = self.access_tokens.get(token)
            good = known is not None and known["expires"] > time.time() and known["refresh"] in self.refresh_tokens
        if not good:
            raise _api_error(401, "authError", "Request had invalid authentication credentials. Expected OAuth 2 "
                             "access token, login cookie or other valid authentication credential.")

    def _free_busy(self, raw: bytes) -> dict:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _api_error(400, "parseError", "Parse Error") from None
        start, end = _parse_time(body.get("timeMin")), _parse_time(body.get("timeMax"))
        if start is None or end is None:
            raise _api_error(400, "badRequest", "Bad Request")
        if end <= start:
            raise _api_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        calendars = {}
        with self._lock:
            for item in body.get("items") or []:
                calendar_id = item.get("id") if isinstance(item, dict) else None
                if calendar_id not in self.busy:
                    calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                    continue
                calendars[calendar_id] = {"busy": [
                    {"start": _rfc3339(max(s, start)), "end": _rfc3339(min(e, end))}
                    for s, e in sorted(self.busy[calendar_id]) if e > start and s < end]}
        return {"kind": "calendar#freeBusy", "timeMin": _rfc3339(start), "timeMax": _rfc3339(end),
                "calendars": calendars}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Google OAuth + Calendar freeBusy stand-in on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8423)
    parser.add_argument("--client-id", default="lessonbook-local.apps.googleusercontent.com")
    parser.add_argument("--client-secret", default="local-dev-secret")
    parser.add_argument("--demo-busy", action="store_true", help="a few busy hours in the coming days (make run)")
    args = parser.parse_args(argv)
    stand_in = GoogleCalendarStandIn(client_id=args.client_id, client_secret=args.client_secret, port=args.port)
    if args.demo_busy:
        today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        stand_in.set_busy([(today.replace(hour=10) + timedelta(days=d), today.replace(hour=12) + timedelta(days=d))
                           for d in (1, 2, 4)])
    print(f"local Google OAuth and Calendar API on {stand_in.url}", flush=True)
    try:
        stand_in.thread.join()
    except KeyboardInterrupt:
        stand_in.close()


if __name__ == "__main__":
    main()
