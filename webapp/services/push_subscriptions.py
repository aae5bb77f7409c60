"""A user's browsers that receive Web Push: subscribe and unsubscribe, with the browser's data checked first."""
from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..adapters import push
from ..extensions import db
from ..models import PushSubscription, User
from .errors import Conflict, NotFound, ValidationError

MAX_DEVICES_PER_USER = 20  # the oldest subscription makes way; each one costs a request per notification
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
UNSUPPORTED = "This browser's push service is not supported, so notifications cannot be turned on here."


def _invalid(field: str, message: str, summary: str = "That push subscription is not valid.") -> ValidationError:
    return ValidationError(summary, {field: message})


def _clean_endpoint(endpoint) -> str:
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise _invalid("endpoint", "Send the subscription's endpoint URL.")
    if len(endpoint) > 1000 or any(c.isspace() or ord(c) < 32 for c in endpoint):
        raise _invalid("endpoint", "The endpoint is not a usable URL.")
    try:
        url = urlsplit(endpoint)
        port = url.port
    except ValueError:
        raise _invalid("endpoint", "The endpoint is not a usable URL.") from None
    host = (url.hostname or "").lower()
    if not host or url.username is not None or url.password is not None or url.fragment:
        raise _invalid("endpoint", "The endpoint is not a usable URL.")
    # We POST to this URL from our own network: only a known push service, over https on its usual port; dev and
    # tests may also use a push service on this machine.
    if current_app.config.get("PUSH_ALLOW_LOOPBACK") and host in _LOOPBACK_HOSTS and url.scheme in ("http", "https"):
        return endpoint
    known = any(host == h or host.endswith("." + h) for h in current_app.config["PUSH_SERVICE_HOSTS"])
    if url.scheme != "https" or port not in (None, 443) or not known:
        raise _invalid("endpoint", UNSUPPORTED, UNSUPPORTED)
    return endpoint


def _decode_key(value, field: str, size: int) -> bytes:
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise _invalid(field, "Send the key as base64url text.")
    stripped = value.rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise _invalid(field, "Send the key as base64url text.") from None
    if len(raw) != size:
        raise _invalid(field, f"The key must be {size} bytes (it is {len(raw)}).")
    return raw


def _clean_keys(keys) -> tuple[str, str]:
    if not isinstance(keys, dict):
        raise _invalid("keys", "Send the subscription's keys (p256dh and auth).")
    p256dh = _decode_key(keys.get("p256dh"), "keys.p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise _invalid("keys.p256dh", "The key is not an uncompressed P-256 public key.") from None
    auth = _decode_key(keys.get("auth"), "keys.auth", 16)
    return _encode(p256dh), _encode(auth)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def subscribe(user: User, subscription: dict) -> PushSubscription:
    """Register (or refresh) this browser's subscription for `user`, from its PushSubscription JSON."""
    if not isinstance(subscription, dict):
        raise _invalid("body", "Send the browser's PushSubscription as a JSON object.")
    endpoint = _clean_endpoint(subscription.get("endpoint"))
    p256dh, auth = _clean_keys(subscription.get("keys"))
    for _attempt in range(2):  # a concurrent subscribe of the same endpoint wins the insert: look again
        row = db.session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
        if row is not None and row.user_id != user.id and (row.p256dh, row.auth) != (p256dh, auth):
            # The same endpoint and keys mean the same browser, now used by another account, which takes it over;
            # an endpoint with other keys is not this browser's to claim.
            raise Conflict("This device is already registered for notifications by another account.",
                           {"endpoint": "Registered by another account."})
        added = row is None
        if added:
            row = PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
            db.session.add(row)
        else:
            row.user_id, row.p256dh, row.auth = user.id, p256dh, auth
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            continue
        if added:
            _drop_oldest_beyond_limit(user.id)
        db.session.commit()
        return row
    raise Conflict("That device was registered at the same moment; please try again.")


def _drop_oldest_beyond_limit(user_id: int) -> None:
    keep = select(PushSubscription.id).where(PushSubscription.user_id == user_id) \
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc()).limit(MAX_DEVICES_PER_USER)
    db.session.execute(delete(PushSubscription).where(PushSubscription.user_id == user_id,
                                                      PushSubscription.id.not_in(keep.scalar_subquery())))


def unsubscribe(user: User, endpoint) -> None:
    """Stop pushing to this browser; only its own user may (anyone else's endpoint is not found)."""
    if not isinstance(endpoint, str) or not endpoint:
        raise _invalid("endpoint", "Send the subscription's endpoint URL.")
    removed = db.session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint,
                                                                PushSubscription.user_id == user.id))
    db.session.commit()
    if not removed.rowcount:
        raise NotFound("This device is not registered for your notifications.")


def device_count(user: User) -> int:
    """How many browsers receive `user`'s notifications."""
    return db.session.scalar(select(func.count()).select_from(PushSubscription)
                             .where(PushSubscription.user_id == user.id)) or 0


def application_server_key() -> str:
    """The VAPID public key browsers subscribe with."""
    return push.application_server_key()
