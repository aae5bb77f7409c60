"""Signed email links: a purpose, an expiry and a single use. GET shows a confirmation page; only POST acts."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import UsedLink


class LinkError(Exception):
    """A link we refuse, with the sentence the page shows."""

    def __init__(self, message: str, data: dict | None = None, reason: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.data = data or {}  # what a link with a good signature said (expired, used): the page links its lesson
        self.reason = reason  # "invalid", "expired" or "used": a used link may be the user's own refresh


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link says."""

    purpose: str
    jti: str
    expires_at: datetime
    data: dict


def _serializer(purpose: str) -> URLSafeSerializer:
    # The purpose is the salt: a link made for one purpose never verifies as another.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"link:{purpose}")


def make_token(purpose: str, data: dict, expires_at: datetime) -> str:
    """A token for `purpose` carrying `data`, valid until `expires_at`."""
    payload = {"d": data, "exp": int(expires_at.timestamp()), "jti": secrets.token_urlsafe(12)}
    return _serializer(purpose).dumps(payload)


def read_token(purpose: str, token: str, now: datetime) -> LinkClaims:
    """Verify signature, purpose, expiry and that the link is unused; LinkError in words otherwise."""
    try:
        payload = _serializer(purpose).loads(token)
    except BadSignature:
        raise LinkError("This link is not valid. It may have been changed or copied incompletely.") from None
    try:
        expires_at = datetime.fromtimestamp(int(payload["exp"]), UTC)
        claims = LinkClaims(purpose, str(payload["jti"]), expires_at, dict(payload["d"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        raise LinkError("This link is not valid.") from None
    if expires_at <= now:
        raise LinkError("This link has expired.", claims.data, "expired")
    if db.session.get(UsedLink, claims.jti) is not None:
        raise LinkError("This link has already been used.", claims.data, "used")
    return claims


def consume(claims: LinkClaims, now: datetime) -> None:
    """Mark the link used in the caller's transaction (a second use fails on the primary key)."""
    db.session.add(UsedLink(jti=claims.jti, purpose=claims.purpose, used_at=now))
    try:
        db.session.flush()
    except IntegrityError:
        raise LinkError("This link has already been used.", claims.data, "used") from None
