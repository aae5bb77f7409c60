"""Video meetings for online lessons: one small interface (create, update, delete, join URLs) and two providers.

- `JitsiProvider` (the default, no API key): an unguessable room name on a configurable Jitsi base URL
  (`JITSI_BASE_URL`, a self-hosted Jitsi or JaaS); Jitsi creates rooms on first join, so nothing is called.
- `DailyProvider`: Daily's REST API (https://api.daily.co/v1, Bearer API key). A private room whose `nbf`/`exp`
  bound when it can be joined, and a meeting token per side: `is_owner` for the tutor (the host URL), a plain one
  for the learners (the participant URL). Tokens are scoped to the room and carry no times of their own (the
  room's `nbf`/`exp` bound access, and a deleted room takes its tokens with it), so a moved room keeps its links.

Callers must hold no write transaction while these run: they are network calls (each bounded by `timeout`).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import requests


@dataclass(frozen=True)
class MeetingSpec:
    """What a meeting is for: its room name (chosen by us, unguessable) and when it may be joined (aware UTC)."""

    name: str
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True)
class MeetingRoom:
    """What the provider answered: the room's external id, the host's and the participants' join URLs."""

    external_id: str
    join_url: str
    participant_join_url: str
    password: str | None = None


class MeetingNotFound(Exception):
    """The provider has no such meeting (deleted, expired, or never made): create a new one."""


class MeetingProviderUnavailable(Exception):
    """The provider could not answer now (network, timeout, 5xx, a reply we cannot read): try again later."""


class MeetingProvider(Protocol):
    """Anything that can hold a lesson's video meeting."""

    name: str

    def create(self, spec: MeetingSpec) -> MeetingRoom:
        """Make the room (idempotent for one name: a room that already exists under it is taken as made)."""
        ...

    def update(self, external_id: str, spec: MeetingSpec) -> None:
        """Move the room's times (its join URLs stay as they were); MeetingNotFound when the provider has lost it."""
        ...

    def delete(self, external_id: str) -> None:
        """Remove the room; one already gone is fine."""
        ...


def new_room_name(lesson_id: int) -> str:
    """An unguessable room name for a lesson (the lesson id only helps people reading logs)."""
    return f"lesson-{lesson_id}-{secrets.token_urlsafe(18).replace('_', 'x').replace('-', 'y')}"


class JitsiProvider:
    """Rooms on a Jitsi base URL: the room exists once someone opens it, so every call is local."""

    name = "jitsi"

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _room(self, name: str) -> MeetingRoom:
        url = f"{self.base_url}/{quote(name)}"
        return MeetingRoom(external_id=name, join_url=url, participant_join_url=url)

    def create(self, spec: MeetingSpec) -> MeetingRoom:
        """The room's URL (no network call)."""
        return self._room(spec.name)

    def update(self, external_id: str, spec: MeetingSpec) -> None:
        """Jitsi rooms have no times: nothing changes."""

    def delete(self, external_id: str) -> None:
        """Nothing to remove: an unused Jitsi room does not exist."""


class DailyProvider:
    """Daily's REST API: POST /rooms, POST /rooms/:name, DELETE /rooms/:name, POST /meeting-tokens."""

    name = "daily"

    def __init__(self, api_key: str, api_base: str = "https://api.daily.co/v1", timeout: float = 10.0):
        if not api_key:
            raise ValueError("DAILY_API_KEY is not set")
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
                         "Accept": "application/json"}

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = requests.request(method, self.api_base + path, json=body, headers=self._headers,
                                        timeout=self.timeout)
        except requests.RequestException as exc:
            raise MeetingProviderUnavailable(f"Daily did not answer: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = {}
        if response.status_code == 404:
            raise MeetingNotFound(data.get("info") or f"{method} {path}: not found")
        if response.status_code >= 400:
            # 4xx other than 404 is a request we got wrong or a key that is refused: retrying later is all a job
            # can do, and the error (Daily's `error` and `info`) is kept on the meeting for whoever looks.
            raise MeetingProviderUnavailable(
                f"Daily answered {response.status_code} {data.get('error', '')}: {data.get('info', '')}".strip())
        if not isinstance(data, dict):
            raise MeetingProviderUnavailable(f"Daily's reply to {method} {path} is not a JSON object")
        return data

    @staticmethod
    def _properties(spec: MeetingSpec) -> dict:
        return {"nbf": int(spec.opens_at.timestamp()), "exp": int(spec.closes_at.timestamp())}

    def _tokens(self, room: dict) -> MeetingRoom:
        try:
            name, url = room["name"], room["url"]
        except (KeyError, TypeError) as exc:
            raise MeetingProviderUnavailable(f"Daily's room has no name or url: {room!r}") from exc
        host = self._call("POST", "/meeting-tokens", {"properties": {"room_name": name, "is_owner": True}})
        guest = self._call("POST", "/meeting-tokens", {"properties": {"room_name": name, "is_owner": False}})
        try:
            return MeetingRoom(external_id=name, join_url=f"{url}?t={host['token']}",
                               participant_join_url=f"{url}?t={guest['token']}")
        except KeyError as exc:
            raise MeetingProviderUnavailable("Daily's meeting-token reply has no token") from exc

    def create(self, spec: MeetingSpec) -> MeetingRoom:
        """A private room with the lesson's window; a room already made under this name (a retry) is updated."""
        try:
            room = self._call("POST", "/rooms", {"name": spec.name, "privacy": "private",
                                                 "properties": self._properties(spec)})
        except MeetingProviderUnavailable as exc:
            if "already exists" not in str(exc):
                raise
            # Our earlier attempt made it and its answer was lost: give it this window and take its tokens.
            room = self._call("POST", f"/rooms/{quote(spec.name)}", {"properties": self._properties(spec)})
        return self._tokens(room)

    def update(self, external_id: str, spec: MeetingSpec) -> None:
        """New times on the same room (MeetingNotFound when Daily has lost it); the tokens, and so the links, stay."""
        self._call("POST", f"/rooms/{quote(external_id)}", {"properties": self._properties(spec)})

    def delete(self, external_id: str) -> None:
        """DELETE /rooms/:name; a room already gone (404) is what we wanted."""
        try:
            self._call("DELETE", f"/rooms/{quote(external_id)}")
        except MeetingNotFound:
            pass


def provider_for(config, name: str | None = None) -> MeetingProvider:
    """The provider called `name` (a stored meeting's), else the one the configuration names (`MEETING_PROVIDER`:
    jitsi or daily)."""
    kind = (name or config.get("MEETING_PROVIDER") or "jitsi").lower()
    if kind == "jitsi":
        return JitsiProvider(config["JITSI_BASE_URL"])
    if kind == "daily":
        return DailyProvider(config.get("DAILY_API_KEY") or "", config.get("DAILY_API_BASE") or
                             "https://api.daily.co/v1", float(config.get("MEETING_TIMEOUT_SECONDS") or 10))
    raise ValueError(f"MEETING_PROVIDER must be jitsi or daily, not {kind!r}")
