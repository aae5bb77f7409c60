"""Admin user management: find users, one user's page, suspend and reactivate, end their log-ins.

Every change writes its audit entry in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from ..domain.funding import Funding
from ..domain.money import Money
from ..domain.roles import Role
from ..extensions import db
from ..models import (ApiToken, AuditEntry, Booking, Lesson, LoginSession, PaymentReceipt, PayoutAccount,
                      SupportTicket, User)
from . import audit, sessions, wallet
from .errors import Conflict, Forbidden, NotFound, ValidationError

PAGE_SIZE = 50
REASON_MAX = 500


def _staff(viewer: User) -> None:
    if not viewer.is_staff:
        raise NotFound("We could not find that page.")


def _admin(actor: User) -> None:
    if not actor.is_admin:
        raise Forbidden("Only admins can do that.")


def search_users(viewer: User, q: str = "", role: str = "", status: str = "", page: int = 1
                 ) -> tuple[list[User], bool]:
    """Users matching words in their name or email, a role and a status (active/suspended); newest first."""
    _staff(viewer)
    query = select(User)
    words = " ".join((q or "").split())[:100].lower()
    if words:
        like = f"%{words}%"
        query = query.where(or_(func.lower(User.name).like(like), func.lower(User.email).like(like)))
    if role:
        if role not in set(Role):
            raise ValidationError("Pick a role from the list.", {"role": "Unknown role."})
        query = query.where(User.role == role)
    if status == "suspended":
        query = query.where(User.suspended_at.is_not(None))
    elif status == "active":
        query = query.where(User.suspended_at.is_(None))
    page = max(page, 1)
    rows = list(db.session.scalars(query.order_by(User.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


@dataclass(frozen=True)
class PaymentRow:
    """One booking's payment as the staff sees it: what funded it (card, PayPal or prepaid minutes) and how much,
    in money or in minutes."""

    booking_id: int
    funding: str  # Funding value
    paid: str  # "£40.00" or "60 minutes"
    returned: str  # refunded money, or minutes given back
    at: datetime


def _payments(user: User, limit: int = 100) -> list[PaymentRow]:
    """What `user` paid for their bookings, newest first: card and PayPal receipts with their refunds, and the
    minutes held or spent for minute-paid bookings with those given back."""
    rows = []
    for receipt, funding in db.session.execute(
            select(PaymentReceipt, Booking.funding).join(Booking, Booking.id == PaymentReceipt.booking_id)
            .where(Booking.booker_id == user.id).order_by(PaymentReceipt.id.desc()).limit(limit)):
        rows.append(PaymentRow(receipt.booking_id, Funding.PAYPAL if receipt.provider == "paypal" else funding,
                               Money(receipt.amount_minor, receipt.currency).format(),
                               Money(receipt.refunded_minor, receipt.currency).format(), receipt.created_at))
    for booking in db.session.scalars(
            select(Booking).where(Booking.booker_id == user.id, Booking.funding == Funding.MINUTES,
                                  Booking.authorized_at.is_not(None)).order_by(Booking.id.desc()).limit(limit)):
        paid, returned = wallet.booking_minutes(db.session, booking.id)
        rows.append(PaymentRow(booking.id, Funding.MINUTES, f"{paid} minutes", f"{returned} minutes",
                               booking.authorized_at))
    return sorted(rows, key=lambda r: r.at, reverse=True)[:limit]


@dataclass(frozen=True)
class UserOverview:
    """What the admin's user page shows."""

    user: User
    bookings: list[Booking]
    payments: list[PaymentRow]
    login_sessions: list[LoginSession]
    api_tokens: list[ApiToken]
    payout_account: PayoutAccount | None
    history: list[AuditEntry]
    tickets: list[SupportTicket]


def get_user(viewer: User, user_id: int) -> User:
    """One user, for staff only."""
    _staff(viewer)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("We could not find that user.")
    return user


def user_overview(viewer: User, user_id: int) -> UserOverview:
    """A user's bookings (as booker or tutor), payments, log-ins, app tokens, tickets and what staff did to them."""
    user = get_user(viewer, user_id)
    bookings = list(db.session.scalars(
        select(Booking).join(Lesson, Lesson.id == Booking.lesson_id)
        .where(or_(Booking.booker_id == user.id, Lesson.tutor_id == user.id))
        .options(selectinload(Booking.lesson).selectinload(Lesson.tutor), selectinload(Booking.booker))
        .order_by(Booking.id.desc()).limit(100)))
    return UserOverview(user, bookings, _payments(user), sessions.login_sessions(user),
                        list(db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)
                                                .order_by(ApiToken.created_at.desc()))),
                        db.session.get(PayoutAccount, user.id), audit.for_target("user", user.id),
                        list(db.session.scalars(select(SupportTicket).where(SupportTicket.requester_id == user.id)
                                                .order_by(SupportTicket.id.desc()).limit(100))))


def _reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise ValidationError("Give a reason (the user sees it when they try to log in).", {"reason": "Required."})
    if len(text) > REASON_MAX:
        raise ValidationError(f"Keep the reason under {REASON_MAX} characters.", {"reason": f"Up to {REASON_MAX}."})
    return text


def _target(actor: User, user_id: int) -> User:
    _admin(actor)
    user = db.session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound("We could not find that user.")
    return user


def suspend(actor: User, user_id: int, reason: str | None, now: datetime) -> User:
    """Suspend an account: it cannot log in or book, and every log-in and app token it has ends now."""
    reason = _reason(reason)
    user = _target(actor, user_id)
    if user.id == actor.id:
        raise Conflict("You cannot suspend your own account.")
    if user.is_suspended:
        raise Conflict(f"{user.name} is already suspended.")
    user.suspended_at, user.suspension_reason = now, reason
    ended, revoked = sessions.end_everywhere_in_transaction(user)
    audit.record(actor, "user.suspend", "user", user.id,
                 f"Suspended {user.name} <{user.email}>: {reason} ({ended} log-ins and {revoked} app tokens ended)",
                 now, before={"suspended": False}, after={"suspended": True, "reason": reason})
    db.session.commit()
    return user


def reactivate(actor: User, user_id: int, reason: str | None, now: datetime) -> User:
    """Lift a suspension: the user may log in and book again."""
    reason = _reason(reason)
    user = _target(actor, user_id)
    if not user.is_suspended:
        raise Conflict(f"{user.name} is not suspended.")
    before = {"suspended": True, "reason": user.suspension_reason}
    user.suspended_at, user.suspension_reason = None, ""
    audit.record(actor, "user.reactivate", "user", user.id, f"Reactivated {user.name} <{user.email}>: {reason}", now,
                 before=before, after={"suspended": False, "reason": reason})
    db.session.commit()
    return user


def end_sessions(actor: User, user_id: int, now: datetime) -> tuple[int, int]:
    """Log a user out of every browser and revoke every app token (they can log in again)."""
    user = _target(actor, user_id)
    ended, revoked = sessions.end_everywhere_in_transaction(user)
    audit.record(actor, "user.end_sessions", "user", user.id,
                 f"Ended {ended} log-ins and {revoked} app tokens of {user.name} <{user.email}>", now,
                 before={"login_sessions": ended, "api_tokens": revoked}, after={"login_sessions": 0, "api_tokens": 0})
    db.session.commit()
    return ended, revoked


ROLE_CHOICES = tuple(Role)
