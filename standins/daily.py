"""A local stand-in for Daily's REST API (https://api.daily.co/v1): rooms and meeting tokens, in Daily's wire format.

Daily has no installable server, so the meeting adapter (`webapp/adapters/meetings.py`, `DailyProvider`) is tested
against this one, and `make run` starts it when `MEETING_PROVIDER=daily` is set without a `DAILY_API_KEY`.

What it speaks (JSON bodies; `Authorization: Bearer <key>` on every request):
- `POST /rooms` {name?, privacy?: public|private, properties?: {nbf, exp, ...}} → the room object
  {id, name, api_created, privacy, url, created_at, config}; a name in use → 400 invalid-request-error
  "a room named … already exists".
- `GET /rooms` → {total_count, data}; `GET /rooms/:name` → the room; `POST /rooms/:name` {privacy?, properties?}
  → the room, updated; `DELETE /rooms/:name` → {deleted: true, name}. A room whose `exp` has passed counts as
  deleted, as on Daily. Unknown rooms → 404 {error: "not-found", info: "room … not found"}.
- `POST /meeting-tokens` {properties: {room_name, is_owner, user_name, nbf, exp, ...}} → {token}: a JWT (HS256,
  signed with the API key, Daily's abbreviated claims `r`, `o`, `u`, `nbf`, `exp`, `iat`);
  `GET /meeting-tokens/:token` → its properties, or 400 when it does not verify.
- Errors are {error, info} with Daily's statuses: 401 authorization-header-error / authentication-error, 400
  invalid-request-error or json-parsing-error, 404 not-found. Properties it does not know are refused (400), so a
  gap shows up here rather than in production.

Run it:      python -m standins.daily --port 8422 [--api-key KEY]
Or import:   daily = DailyStandIn(api_key="…"); daily.url; daily.rooms; daily.requests; daily.forget(name);
             daily.fail_with = 503; daily.close()
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

ROOM_PROPERTIES = {"nbf", "exp", "max_participants", "enable_chat", "enable_screenshare", "enable_prejoin_ui",
                   "enable_knocking", "start_video_off", "start_audio_off", "eject_at_room_exp", "lang"}
TOKEN_PROPERTIES = {"room_name", "is_owner", "user_name", "user_id", "nbf", "exp", "eject_at_token_exp",
                    "enable_screenshare", "start_video_off", "start_audio_off"}
TOKEN_CLAIMS = {"room_name": "r", "is_owner": "o", "user_name": "u", "user_id": "ud", "nbf": "nbf", "exp": "exp",
                "eject_at_token_exp": "ejt", "enable_screenshare": "ss", "start_video_off": "vo",
                "start_audio_off": "ao"}
ROOM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


class DailyError(Exception):
    """An error answer: HTTP status, Daily's `error` code and its `info`."""

    def __init__(self, status: int, error: str, info: str):
        super().__init__(info)
        self.status, self.error, self.info = status, error, info


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DailyStandIn:
    """The server in a background thread. `rooms` maps names to room objects; `requests` records each request."""

    def __init__(self, api_key: str = "daily_test_key", port: int = 0, domain: str = "lessonbook-dev"):
        self.api_key = api_key
        self.domain = domain
        self.domain_id = str(uuid.uuid4())
        self.rooms: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.fail_with: int | None = None  # answer every request with this status (500, 503…) instead
        self.clock_offset = 0.0  # seconds added to the clock (rooms whose exp passed count as deleted)
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = urlsplit(self.path).path
                stand_in.requests.append({"method": self.command, "path": path, "body": raw.decode(errors="replace"),
                                          "headers": dict(self.headers)})
                try:
                    status, body = stand_in.answer(self.command, path, self.headers.get("Authorization"), raw)
                except DailyError as exc:
                    status, body = exc.status, {"error": exc.error, "info": exc.info}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle  # noqa: N815 (http.server's naming)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    # --- test controls ------------------------------------------------------------------------------

    def forget(self, name: str) -> None:
        """Lose a room, as Daily does once it expired or someone deleted it in the dashboard."""
        with self._lock:
            self.rooms.pop(name, None)

    def live_rooms(self) -> dict[str, dict]:
        """The rooms that exist now (not deleted, not expired)."""
        with self._lock:
            return {name: room for name, room in self.rooms.items() if not self._expired(room)}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- the API ------------------------------------------------------------------------------------

    def now(self) -> int:
        return int(time.time() + self.clock_offset)

    def _expired(self, room: dict) -> bool:
        exp = room["config"].get("exp")
        return exp is not None and exp <= self.now()

    def answer(self, method: str, path: str, authorization: str | None, raw: bytes) -> tuple[int, dict]:
        """One request → (status, JSON body); DailyError for the error answers."""
        if self.fail_with:
            raise DailyError(self.fail_with, "server-error", "the stand-in was told to fail")
        self._authenticate(authorization)
        body = self._json(raw) if method == "POST" else {}
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts[:1] != ["v1"]:
            raise DailyError(404, "not-found", f"unknown path {path}")
        parts = parts[1:]
        with self._lock:
            if parts == ["rooms"] and method == "POST":
                return 200, self._create_room(body)
            if parts == ["rooms"] and method == "GET":
                rooms = [r for r in self.rooms.values() if not self._expired(r)]
                return 200, {"total_count": len(rooms), "data": rooms}
            if len(parts) == 2 and parts[0] == "rooms":
                room = self._room(parts[1])
                if method == "GET":
                    return 200, room
                if method == "POST":
                    return 200, self._update_room(room, body)
                if method == "DELETE":
                    del self.rooms[room["name"]]
                    return 200, {"deleted": True, "name": room["name"]}
            if parts == ["meeting-tokens"] and method == "POST":
                return 200, {"token": self._token(body)}
            if len(parts) == 2 and parts[0] == "meeting-tokens" and method == "GET":
                return 200, self._validate(parts[1])
        raise DailyError(404, "not-found", f"{method} {path} is not an endpoint")

    def _authenticate(self, authorization: str | None) -> None:
        if not authorization or not authorization.startswith("Bearer ") or not authorization[7:].strip():
            raise DailyError(401, "authorization-header-error", "bad Authorization header format")
        if not hmac.compare_digest(authorization[7:].strip(), self.api_key):
            raise DailyError(401, "authentication-error", "Invalid API key")

    @staticmethod
    def _json(raw: bytes) -> dict:
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise DailyError(400, "json-parsing-error", f"could not parse the request body: {exc}") from exc
        if not isinstance(body, dict):
            raise DailyError(400, "invalid-request-error", "the request body must be a JSON object")
        return body

    def _room(self, name: str) -> dict:
        room = self.rooms.get(name)
        if room is None or self._expired(room):
            raise DailyError(404, "not-found", f"room {name} not found")
        return room

    @staticmethod
    def _properties(raw, allowed: set[str]) -> dict:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise DailyError(400, "invalid-request-error", "properties must be an object")
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise DailyError(400, "invalid-request-error", f"unknown property: {unknown[0]}")
        for key in ("nbf", "exp"):
            if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], int | float)):
                raise DailyError(400, "invalid-request-error", f"{key} must be a unix timestamp")
        return {k: int(v) if k in ("nbf", "exp") else v for k, v in raw.items()}

    @staticmethod
    def _privacy(value) -> str:
        if value not in ("public", "private"):
            raise DailyError(400, "invalid-request-error", "privacy must be public or private")
        return value

    def _create_room(self, body: dict) -> dict:
        unknown = sorted(set(body) - {"name", "privacy", "properties"})
        if unknown:
            raise DailyError(400, "invalid-request-error", f"unknown parameter: {unknown[0]}")
        name = body.get("name") or secrets.token_urlsafe(15).replace("_", "a").replace("-", "b")[:20]
        if not isinstance(name, str) or not ROOM_NAME.match(name):
            raise DailyError(400, "invalid-request-error", "name may hold only letters, digits, - and _")
        if name in self.rooms and not self._expired(self.rooms[name]):
            raise DailyError(400, "invalid-request-error", f"a room named {name} already exists")
        room = {"id": str(uuid.uuid4()), "name": name, "api_created": True,
                "privacy": self._privacy(body.get("privacy", "public")),
                "url": f"https://{self.domain}.daily.co/{name}",
                "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "config": self._properties(body.get("properties"), ROOM_PROPERTIES)}
        self.rooms[name] = room
        return room

    def _update_room(self, room: dict, body: dict) -> dict:
        unknown = sorted(set(body) - {"privacy", "properties"})
        if unknown:
            raise DailyError(400, "invalid-request-error", f"unknown parameter: {unknown[0]}")
        if "privacy" in body:
            room["privacy"] = self._privacy(body["privacy"])
        room["config"].update(self._properties(body.get("properties"), ROOM_PROPERTIES))
        return room

    def _sign(self, claims: dict) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signature = hmac.new(self.api_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def _token(self, body: dict) -> str:
        properties = self._properties(body.get("properties"), TOKEN_PROPERTIES)
        if "is_owner" in properties and not isinstance(properties["is_owner"], bool):
            raise DailyError(400, "invalid-request-error", "is_owner must be a boolean")
        claims = {TOKEN_CLAIMS[k]: v for k, v in properties.items()}
        claims.update(d=self.domain_id, iat=self.now())
        return self._sign(claims)

    def _validate(self, token: str) -> dict:
        try:
            header, payload, signature = token.split(".")
            expected = hmac.new(self.api_key.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(_unb64(signature), expected):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload))
        except ValueError as exc:
            raise DailyError(400, "invalid-request-error", "token is not valid") from exc
        if claims.get("exp") is not None and claims["exp"] <= self.now():
            raise DailyError(400, "invalid-request-error", "token has expired")
        names = {v: k for k, v in TOKEN_CLAIMS.items()}
        return {names[k]: v for k, v in claims.items() if k in names}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Daily-compatible REST API (rooms, meeting tokens), 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8422)
    parser.add_argument("--api-key", default="daily_local_dev")
    args = parser.parse_args(argv)
    stand_in = DailyStandIn(api_key=args.api_key, port=args.port)
    print(f"local Daily API on {stand_in.url}", flush=True)
    try:
        stand_in.thread.join()
    except KeyboardInterrupt:
        stand_in.close()


if __name__ == "__main__":
    main()
