"""Account use cases: register, authenticate, API tokens, settings, children."""
from __future__ import annotations

import hashlib
from urllib.parse import urlencode
from functools import lru_cache
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from ..domain import limits
from ..domain.timezones import TimeZoneError, validate_zone
from ..extensions import db
from ..domain.roles import SELF_SERVICE_ROLES, Role
from ..models import ApiToken, Child, PendingRegistration, TutorProfile, User
from . import outbox
from .errors import AccountSuspended, Conflict, NotFound, ValidationError
from .urls import public_url



@lru_cache(maxsize=4)
def _hasher_for(time_cost: int, memory_kib: int) -> tuple[PasswordHasher, str]:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)  # argon2-cffi's default type is Argon2id
    # A real hash to verify against when the email is unknown, so timing does not reveal which emails exist.
    return hasher, hasher.hash("not-a-real-password")


def _hasher() -> PasswordHasher:
    return _hasher_for(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])[0]


def password_hasher() -> PasswordHasher:
    """The app's Argon2id hasher (its cost comes from the config)."""
    return _hasher()


def password_problem(password) -> str | None:
    """What is wrong with a new password, in words (the same rule for registration, change and reset)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    return None


def clean_email(email: str | None) -> str:
    """The normalized email address, or ValidationError in words."""
    return _clean_email(email)


def _dummy_hash() -> str:
    return _hasher_for(current_app.config["ARGON2_TIME_COST"], current_app.config["ARGON2_MEMORY_KIB"])[1]
TOKEN_LIFETIME = timedelta(days=90)
REGISTRATION_LINK_LIFETIME = timedelta(hours=24)
MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH = limits.PASSWORD_LENGTH  # the forms' and the API's limits too


def _clean_email(email: str | None) -> str:
    if email is not None and not isinstance(email, str):
        raise ValidationError("Please correct the email address.", {"email": "An email address is text."})
    try:
        return validate_email((email or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError("Please correct the email address.", {"email": str(exc)}) from None


def _clean_zone(timezone: str | None, field: str = "timezone") -> str:
    try:
        return validate_zone(timezone)
    except TimeZoneError as exc:
        raise ValidationError(str(exc), {field: str(exc)}) from None


def _clean_name(name: str | None, field: str = "name") -> str:
    name = (name if isinstance(name, str) else "").strip()
    if not name or len(name) > 120:
        raise ValidationError("Please enter a name (up to 120 characters).", {field: "Enter a name of 1–120 characters."})
    return name


def _registration_fields(*, email, password, name, role, timezone) -> dict:
    """The sign-up fields, cleaned, or ValidationError naming each wrong one (none of them says if an email is taken)."""
    errors: dict[str, str] = {}
    if role not in SELF_SERVICE_ROLES:
        errors["role"] = "Choose student, parent or tutor."
    problem = password_problem(password)
    if problem:
        errors["password"] = problem
    if errors:
        raise ValidationError("Please correct the highlighted fields.", errors)
    return {"email": _clean_email(email), "name": _clean_name(name), "role": role, "timezone": _clean_zone(timezone)}


def request_registration(*, email: str, password: str, name: str, role: str, timezone: str, now: datetime,
                         then: str | None = None) -> str:
    """Start a student, parent or tutor sign-up; the answer is the same whether or not the email has an account.

    A new address gets a link that creates the account (REGISTRATION_LINK_LIFETIME, once); an address that already
    has an account gets an email saying someone tried to sign up with it, with links to log in or reset the
    password. The password is hashed either way, so the time taken does not tell the two apart either. Returns the
    normalized email. `then` (a local path, e.g. the booking form for a chosen slot) rides on the link as `next`."""
    fields = _registration_fields(email=email, password=password, name=name, role=role, timezone=timezone)
    password_hash = _hasher().hash(password)
    address = fields["email"]
    db.session.execute(delete(PendingRegistration).where(PendingRegistration.expires_at <= now))
    owner = db.session.scalar(select(User).where(User.email == address))
    if owner is not None:
        outbox.enqueue_email("registration_attempt", address, {
            "name": owner.name, "login_url": public_url("/login"), "reset_url": public_url("/forgot-password")},
            dedupe_key=f"registration-attempt:{owner.id}:{now.date().isoformat()}")  # at most one a day
    else:
        raw = secrets.token_urlsafe(32)
        db.session.add(PendingRegistration(token_hash=_token_hash(raw), password_hash=password_hash,
                                           created_at=now, expires_at=now + REGISTRATION_LINK_LIFETIME, **fields))
        outbox.enqueue_email("confirm_registration", address, {
            "name": fields["name"],
            "url": public_url(f"/register/confirm/{raw}" + (f"?{urlencode({'next': then})}" if then else "")),
            "hours": int(REGISTRATION_LINK_LIFETIME.total_seconds() // 3600)})
    db.session.commit()
    return address


def pending_registration(raw: str, now: datetime) -> PendingRegistration:
    """The sign-up an emailed link stands for, while it is unused and unexpired."""
    pending = db.session.scalar(select(PendingRegistration).where(
        PendingRegistration.token_hash == _token_hash(raw or "")))
    if pending is None or pending.expires_at <= now:
        raise NotFound("This sign-up link has expired or has already been used. Sign up again to get a new one.")
    return pending


def confirm_registration(raw: str, now: datetime) -> User:
    """Create the account an emailed sign-up link stands for (once); every other pending link for that email ends."""
    pending = pending_registration(raw, now)
    user = User(email=pending.email, password_hash=pending.password_hash, name=pending.name, role=pending.role,
                timezone=pending.timezone)
    db.session.execute(delete(PendingRegistration).where(PendingRegistration.email == pending.email))
    try:
        # A tutor who signs up on the site is listed once an admin approves them (services/admin_tutors.py).
        return _insert_user(user, tutor_approval="pending")
    except ValidationError:  # the account was made meanwhile (this link followed twice at once, or another one)
        raise Conflict("That email already has an account. Log in instead, or reset the password if you "
                       "have forgotten it.") from None


def create_user(*, email: str, password: str, name: str, role: str, timezone: str) -> User:
    """Create any account, admins included (CLI and demo data); a tutor made here is approved."""
    if role not in tuple(Role):
        raise ValidationError("Unknown role.", {"role": f"Choose one of {', '.join(Role)}."})
    user = User(email=_clean_email(email), password_hash=_hasher().hash(password), name=_clean_name(name), role=role,
                timezone=_clean_zone(timezone))
    return _insert_user(user)


def _insert_user(user: User, tutor_approval: str = "approved") -> User:
    db.session.add(user)
    if user.role == Role.TUTOR:
        db.session.add(TutorProfile(user=user, approval=tutor_approval))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("An account with that email already exists.",
                              {"email": "An account with that email already exists. Log in instead?"}) from None
    return user


def authenticate(email: str | None, password: str | None) -> User | None:
    """The user with this email and password, or None (same work either way); AccountSuspended if an admin
    suspended the account."""
    try:
        normalized = _clean_email(email)
    except ValidationError:
        normalized = None
    user = db.session.scalar(select(User).where(User.email == normalized)) if normalized else None
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user and user.is_suspended:  # said only to someone who knows the password
        raise AccountSuspended(user.suspension_reason)
    if user and _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
        db.session.commit()
    return user


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_api_token(user: User, now: datetime | None = None, device_name: str = "") -> tuple[str, datetime]:
    """Create a bearer token for `user` (named after the device, if given); only its hash is kept.
    Returns (token, expires_at)."""
    now = now or datetime.now(UTC)
    raw = "lb_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_token_hash(raw), created_at=now, expires_at=now + TOKEN_LIFETIME,
                     device_name=device_name)
    db.session.add(token)
    db.session.commit()
    return raw, token.expires_at


def user_for_token(raw: str, now: datetime | None = None) -> User | None:
    """The user a live bearer token belongs to."""
    now = now or datetime.now(UTC)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is None or token.expires_at <= now:
        return None
    return token.user


def update_settings(user: User, *, name: str, timezone: str) -> User:
    """Change a user's display name and time zone."""
    user.name = _clean_name(name)
    user.timezone = _clean_zone(timezone)
    db.session.commit()
    return user


def update_privacy(user: User, *, analytics_opt_out: bool, offer_emails_opt_out: bool) -> User:
    """Whether this user's analytics events go to Mixpanel, and whether special-offer emails come."""
    user.analytics_opt_out = bool(analytics_opt_out)
    user.offer_emails_opt_out = bool(offer_emails_opt_out)
    db.session.commit()
    return user


def add_child(parent: User, *, name: str, year_level: str, timezone: str | None) -> Child:
    """A parent adds a child they book lessons for."""
    if not parent.is_parent:
        raise ValidationError("Only parent accounts can add children.")
    year_level = (year_level or "").strip()
    if len(year_level) > 60:
        raise ValidationError("Please shorten the year or level.", {"year_level": "Up to 60 characters."})
    name = _clean_name(name)
    # The form sent again (Back and Add, a refresh) must not make a second child of the same name.
    if any(c.name.casefold() == name.casefold() for c in db.session.scalars(
            select(Child).where(Child.parent_id == parent.id))):
        raise ValidationError(f"You already added {name}.", {"name": f"You already added {name}: it is on the list."})
    child = Child(parent_id=parent.id, name=name, year_level=year_level,
                  timezone=_clean_zone(timezone or parent.timezone))
    db.session.add(child)
    db.session.commit()
    return child


def child_of(parent: User, child_id: int | None) -> Child:
    """A child of this parent, or NotFound (another family's child looks exactly like a missing one)."""
    child = db.session.get(Child, child_id) if child_id is not None else None
    if child is None or child.parent_id != parent.id:
        raise NotFound("We could not find that child on your account.", {"child_id": "Not one of your children."})
    return child


def remove_child(parent: User, child_id: int) -> None:
    """A parent removes a child who has no lessons."""
    child = child_of(parent, child_id)
    db.session.delete(child)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("This child has lessons, so they cannot be removed.") from None
