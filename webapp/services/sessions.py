"""Sessions and tokens that end when the user says so: browser log-ins, API tokens, password change and reset.

A browser log-in is a LoginSession row whose key travels in the session cookie (and the remember-me cookie);
an API token is an ApiToken row. Deleting the row ends it at once, wherever the cookie or token was copied to.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import joinedload

from ..extensions import db
from ..filters import local
from ..models import ApiToken, LoginSession, User
from . import accounts, outbox, signed_links
from .errors import NotFound, ValidationError
from .urls import public_url

RESET_PURPOSE = "password-reset"
RESET_LIFETIME = timedelta(hours=1)
LAST_USED_PRECISION = timedelta(minutes=1)  # a token's last use is written at most once a minute


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# --- browser log-ins -----------------------------------------------------------------------------------------

def start_session(user: User, now: datetime, user_agent: str = "") -> str:
    """Record a new browser log-in for `user`; returns its key (also set on `user.login_key` for Flask-Login)."""
    raw = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_hash=_hash(raw), created_at=now,
                                user_agent=(user_agent or "")[:200]))
    db.session.commit()
    user.login_key = raw
    return raw


def _session_lifetime() -> timedelta:
    return timedelta(days=current_app.config["LOGIN_SESSION_DAYS"])


def user_for_session(session_id: str, now: datetime) -> User | None:
    """The user a session cookie's id ("<user id>.<key>") names, while that log-in has not been ended or run out."""
    user_part, _, raw = (session_id or "").partition(".")
    if not user_part.isdigit() or not raw:
        return None  # cookies from before sessions were recorded carry a bare user id: they no longer log in
    # The user comes in the same statement: every signed-in request needs both.
    row = db.session.scalar(select(LoginSession).where(LoginSession.key_hash == _hash(raw))
                            .options(joinedload(LoginSession.user)))
    if row is None or row.user_id != int(user_part) or row.created_at <= now - _session_lifetime():
        return None
    if row.user.is_suspended:  # suspension deletes the rows; this also covers a log-in racing the suspension
        return None
    user = row.user
    user.login_key = raw
    return user


def end_session(user: User) -> None:
    """Log out this browser: its session (and any copy of its cookies) stops working."""
    if user.login_key:
        db.session.execute(delete(LoginSession).where(LoginSession.key_hash == _hash(user.login_key)))
        db.session.commit()


def _end_sessions(user: User, keep_key: str | None = None) -> None:
    """Delete `user`'s log-ins and API tokens in the caller's transaction, except the log-in `keep_key`."""
    doomed = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_key:
        doomed = doomed.where(LoginSession.key_hash != _hash(keep_key))
    db.session.execute(doomed)
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def end_everywhere_in_transaction(user: User) -> tuple[int, int]:
    """Delete every log-in and API token of `user` in the caller's transaction; returns how many of each ended."""
    ended = db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id)).rowcount
    revoked = db.session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)).rowcount
    return ended, revoked


def login_sessions(user: User) -> list[LoginSession]:
    """The user's browser log-ins, newest first (for the admin's user page)."""
    return list(db.session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)
                                   .order_by(LoginSession.created_at.desc(), LoginSession.id.desc())))


def end_all_sessions(user: User) -> None:
    """Log out everywhere: every browser (this one too) and every app token."""
    _end_sessions(user)
    db.session.commit()


def other_session_count(user: User) -> int:
    """How many other browsers are logged in to this account."""
    rows = db.session.scalars(select(LoginSession.key_hash).where(LoginSession.user_id == user.id))
    mine = _hash(user.login_key) if user.login_key else None
    return sum(1 for key_hash in rows if key_hash != mine)


def purge_ended(now: datetime) -> int:
    """Forget log-ins past their lifetime and expired API tokens (they no longer work anyway)."""
    ended = db.session.execute(delete(LoginSession).where(LoginSession.created_at <= now - _session_lifetime()))
    expired = db.session.execute(delete(ApiToken).where(ApiToken.expires_at <= now))
    db.session.commit()
    return ended.rowcount + expired.rowcount


# --- API tokens ----------------------------------------------------------------------------------------------

def clean_device_name(device_name: str | None) -> str:
    """A token's device name: optional, text, up to 80 characters."""
    if device_name is None:
        return ""
    if not isinstance(device_name, str):
        raise ValidationError("device_name must be a string.", {"device_name": "Must be a string."})
    device_name = " ".join(device_name.split())
    if len(device_name) > 80:
        raise ValidationError("Please shorten the device name.", {"device_name": "Up to 80 characters."})
    return device_name


def token_for(raw: str, now: datetime) -> ApiToken | None:
    """The live token row for a raw bearer token; its last use is recorded (at most once a minute)."""
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    if token is None or token.expires_at <= now or token.user.is_suspended:
        return None
    if token.last_used_at is None or token.last_used_at <= now - LAST_USED_PRECISION:
        # One conditional UPDATE: concurrent requests write it once; a busy database only skips the bookkeeping.
        try:
            db.session.execute(update(ApiToken).where(ApiToken.id == token.id).where(
                (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at <= now - LAST_USED_PRECISION))
                .values(last_used_at=now).execution_options(synchronize_session=False))
            db.session.commit()
        except OperationalError:
            db.session.rollback()
    return token


def api_tokens(user: User) -> list[ApiToken]:
    """The user's live API tokens, newest first."""
    return list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                   .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_api_token(user: User, token_id: int) -> None:
    """Revoke one of the user's own tokens (someone else's looks exactly like a missing one)."""
    deleted = db.session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    db.session.commit()
    if deleted.rowcount == 0:
        raise NotFound("That app token is not on your account (it may already be revoked).")


def revoke_token_in_use(raw: str) -> None:
    """Revoke the bearer token this request came with."""
    db.session.execute(delete(ApiToken).where(ApiToken.token_hash == _hash(raw)))
    db.session.commit()


# --- passwords -----------------------------------------------------------------------------------------------

def _verify(user: User, password: str) -> bool:
    try:
        return accounts.password_hasher().verify(user.password_hash, password or "")
    except (VerificationError, InvalidHashError):
        return False


def _set_password(user: User, new_password: str, field: str = "new_password") -> None:
    problem = accounts.password_problem(new_password)
    if problem:
        raise ValidationError(problem, {field: problem})
    user.password_hash = accounts.password_hasher().hash(new_password)


def _tell_owner(user: User, how: str, ended: str, now: datetime) -> None:
    """Email the account's owner that the password changed (in the caller's transaction), so a stranger's change
    does not go unnoticed."""
    outbox.enqueue_email("password_changed", user.email, {
        "name": user.name, "how": how, "ended": ended, "when": local(now, user.timezone), "zone": user.timezone,
        "forgot_url": public_url("/forgot-password")})


def change_password(user: User, current_password: str, new_password: str, now: datetime) -> None:
    """Change the password (the current one is required); every other browser and every app token is logged out."""
    if not _verify(user, current_password):
        raise ValidationError("Your current password is not right.",
                              {"current_password": "That is not your current password."})
    _set_password(user, new_password)
    _end_sessions(user, keep_key=user.login_key)
    _tell_owner(user, "changed in the settings", "Every other browser and app was logged out.", now)
    db.session.commit()


def _password_fingerprint(user: User) -> str:
    # A reset link names the password it replaces: once the password changes (by this link or otherwise),
    # every older link stops working.
    return hmac.new(b"reset", user.password_hash.encode(), hashlib.sha256).hexdigest()[:16]


def request_password_reset(email: str | None, now: datetime) -> None:
    """Email a one-hour, single-use reset link if the address has an account; the caller answers the same either way."""
    try:
        normalized = accounts.clean_email(email)
    except ValidationError:
        return
    user = db.session.scalar(select(User).where(User.email == normalized))
    if user is None:
        return
    token = signed_links.make_token(RESET_PURPOSE, {"u": user.id, "p": _password_fingerprint(user)},
                                    now + RESET_LIFETIME)
    outbox.enqueue_email("password_reset", user.email, {"name": user.name, "url": public_url(f"/reset/{token}"),
                                                        "zone": user.timezone})
    db.session.commit()


def read_reset_link(token: str, now: datetime) -> tuple[User, signed_links.LinkClaims]:
    """The account a reset link is for, if it is genuine, unexpired, unused and its password is unchanged."""
    claims = signed_links.read_token(RESET_PURPOSE, token, now)
    user = db.session.get(User, claims.data.get("u")) if isinstance(claims.data.get("u"), int) else None
    if user is None or not hmac.compare_digest(str(claims.data.get("p", "")), _password_fingerprint(user)):
        raise signed_links.LinkError("This link has already been used or the password was changed since. "
                                     "Ask for a new one.")
    return user, claims


def reset_password(token: str, new_password: str, now: datetime) -> User:
    """Set a new password from a reset link (once); every browser and every app token is logged out."""
    user, claims = read_reset_link(token, now)
    _set_password(user, new_password)
    try:
        signed_links.consume(claims, now)
    except signed_links.LinkError:
        db.session.rollback()
        raise
    _end_sessions(user)
    _tell_owner(user, "reset from an emailed link", "Every browser and app was logged out.", now)
    db.session.commit()
    return user
