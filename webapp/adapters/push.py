"""Sending one Web Push message (RFC 8030/8291/8292) through pywebpush, signed with the app's VAPID key."""
from __future__ import annotations

import json
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from flask import current_app
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush

# A push is a nudge (the notification centre keeps the record), so one the push service could not hand over
# within a few hours is dropped rather than shown long after it mattered (a 2-hours-before reminder).
TTL_SECONDS = 4 * 3600
TIMEOUT_SECONDS = 10  # pywebpush waits forever unless told otherwise
# Push services accept 4096 encrypted bytes; aes128gcm adds 103 (header, tag, padding delimiter).
MAX_PAYLOAD_BYTES = 3993


class PushGone(Exception):
    """The push service says the subscription no longer exists (404/410): delete it, never retry."""


class PushFailed(Exception):
    """The push service refused or failed for now (any other status); the outbox retries later."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class PushConfigError(RuntimeError):
    """The VAPID settings are missing or do not form a key pair."""


@lru_cache(maxsize=2)
def _vapid(private_key: str, public_key: str) -> Vapid:
    try:
        vapid = Vapid.from_string(private_key)
    except ValueError as exc:  # not base64url, not a key, or not on P-256
        raise PushConfigError(f"VAPID_PRIVATE_KEY is not a P-256 private key: {exc}") from None
    derived = b64urlencode(vapid.public_key.public_bytes(serialization.Encoding.X962,
                                                         serialization.PublicFormat.UncompressedPoint))
    # Browsers subscribe with VAPID_PUBLIC_KEY; a private key from another pair makes every push a 403.
    if derived != public_key.rstrip("="):
        raise PushConfigError("VAPID_PUBLIC_KEY is not the public half of VAPID_PRIVATE_KEY")
    return vapid


def _configured_vapid() -> Vapid:
    cfg = current_app.config
    if not (cfg.get("VAPID_PRIVATE_KEY") and cfg.get("VAPID_PUBLIC_KEY") and cfg.get("VAPID_SUBJECT")):
        raise PushConfigError("VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY and VAPID_SUBJECT must be set")
    return _vapid(cfg["VAPID_PRIVATE_KEY"], cfg["VAPID_PUBLIC_KEY"])


def application_server_key() -> str:
    """The VAPID public key browsers pass to pushManager.subscribe (base64url, no padding)."""
    _configured_vapid()
    return current_app.config["VAPID_PUBLIC_KEY"].rstrip("=")


def encode_payload(payload: dict) -> str:
    """The payload as compact JSON that fits a push message (a long body is shortened; title and url never are)."""
    data = dict(payload)
    while True:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        body = data.get("body") or ""
        if len(text.encode()) <= MAX_PAYLOAD_BYTES or not body:
            return text
        data["body"] = body[: len(body) * 3 // 4].rstrip() + "…" if len(body) > 8 else ""


def send(subscription_info: dict, payload: dict) -> None:
    """Encrypt `payload` (JSON) for one subscription and POST it to its push service.

    `subscription_info` is the browser's PushSubscription JSON: {"endpoint", "keys": {"p256dh", "auth"}}.
    Raises PushGone for 404/410, PushFailed for any other refusal, and requests' errors when unreachable."""
    vapid = _configured_vapid()
    # A fresh claims dict every time: pywebpush writes the endpoint's origin into it as `aud`.
    claims = {"sub": current_app.config["VAPID_SUBJECT"]}
    try:
        webpush(subscription_info, data=encode_payload(payload), vapid_private_key=vapid, vapid_claims=claims,
                ttl=TTL_SECONDS, timeout=TIMEOUT_SECONDS)
    except WebPushException as exc:
        status = exc.status_code
        if status in (404, 410):
            raise PushGone(f"push subscription gone ({status})") from None
        raise PushFailed(f"push service answered {status}: {exc.message}"[:500], status) from None
