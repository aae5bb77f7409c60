"""Tutor approval: a tutor who signs up waits for an admin, who approves (listed and bookable) or refuses with a
reason the tutor receives by email; each decision is audited in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import PayoutAccount, TutorProfile, User
from . import audit, outbox
from .errors import Conflict, Forbidden, NotFound, ValidationError
from .urls import public_url

APPROVALS = ("pending", "approved", "refused")


@dataclass(frozen=True)
class Approval:
    """Where a tutor's application stands, as the tutor sees it."""

    state: str  # pending, approved, refused
    reason: str  # the admin's words on a refusal


def approval_of(tutor: User) -> Approval:
    """The tutor's own application state (a tutor without a profile yet has not been decided on: pending)."""
    profile = db.session.get(TutorProfile, tutor.id)
    if profile is None:
        return Approval("pending", "")
    return Approval(profile.approval, profile.approval_reason or "")


def tutors_by_approval(viewer: User, approval: str = "pending") -> list[tuple[User, PayoutAccount | None]]:
    """Tutors in one approval state, newest first, with their Connect account (staff only)."""
    if not viewer.is_staff:
        raise NotFound("We could not find that page.")
    if approval not in APPROVALS:
        raise ValidationError("Pick pending, approved or refused.", {"approval": "Unknown state."})
    tutors = list(db.session.scalars(select(User).join(TutorProfile, TutorProfile.user_id == User.id)
                                     .where(TutorProfile.approval == approval)
                                     .options(selectinload(User.tutor_profile)).order_by(User.id.desc()).limit(200)))
    accounts = {a.tutor_id: a for a in db.session.scalars(
        select(PayoutAccount).where(PayoutAccount.tutor_id.in_([t.id for t in tutors])))} if tutors else {}
    return [(t, accounts.get(t.id)) for t in tutors]


def _profile(actor: User, tutor_id: int) -> tuple[User, TutorProfile]:
    if not actor.is_admin:
        raise Forbidden("Only admins approve tutors.")
    tutor = db.session.get(User, tutor_id)
    profile = db.session.get(TutorProfile, tutor_id, with_for_update=True) if tutor else None
    if profile is None:
        raise NotFound("We could not find that tutor.")
    return tutor, profile


def approve(actor: User, tutor_id: int, now: datetime) -> User:
    """List the tutor in the directory and make them bookable; they hear by email."""
    tutor, profile = _profile(actor, tutor_id)
    if profile.approval == "approved":
        raise Conflict(f"{tutor.name} is already approved.")
    before = profile.approval
    profile.approval, profile.approval_reason = "approved", ""
    outbox.enqueue_email("tutor_approved", tutor.email, {"name": tutor.name,
                                                         "url": public_url("/tutor/availability")})
    audit.record(actor, "tutor.approve", "user", tutor.id, f"Approved tutor {tutor.name} <{tutor.email}>", now,
                 before={"approval": before}, after={"approval": "approved"})
    db.session.commit()
    return tutor


def refuse(actor: User, tutor_id: int, reason: str | None, now: datetime) -> User:
    """Keep the tutor out of the directory, with a reason they receive by email."""
    text = " ".join((reason or "").split())
    if not text or len(text) > 1000:
        raise ValidationError("Give the tutor a reason (up to 1000 characters); they receive it by email.",
                              {"reason": "Required, up to 1000 characters."})
    tutor, profile = _profile(actor, tutor_id)
    if profile.approval == "refused":
        raise Conflict(f"{tutor.name} is already refused.")
    before = profile.approval
    profile.approval, profile.approval_reason = "refused", text
    outbox.enqueue_email("tutor_refused", tutor.email, {"name": tutor.name, "reason": text,
                                                        "support_url": public_url("/support")})
    audit.record(actor, "tutor.refuse", "user", tutor.id, f"Refused tutor {tutor.name} <{tutor.email}>: {text}", now,
                 before={"approval": before}, after={"approval": "refused", "reason": text})
    db.session.commit()
    return tutor
