"""A booking's coupon: the code checked against its uses, a use reserved while paying, confirmed once the card is
authorized, given back when the payment ends without one."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..adapters.database import serialized_write
from ..domain.coupons import CouponTerms, coupon_problem, discount_for, normalize_code
from ..domain.offers import Candidate, Standing, audience_problem, best_offer
from ..extensions import db
from ..models import Booking, Coupon, CouponUse, User
from .errors import ValidationError
from .locks import LOCK_BOOKING
from .offer_targets import standing_of

USED_UP = "This code has just been used up."


def coupon_terms(coupon: Coupon) -> CouponTerms:
    """Coupon row → domain terms."""
    return CouponTerms(code=coupon.code, usage=coupon.usage, discount_type=coupon.discount_type,
                       amount_minor=coupon.amount_minor, percent_bp=coupon.percent_bp,
                       max_discount_amount_minor=coupon.max_discount_amount_minor, currency=coupon.currency,
                       valid_from=coupon.valid_from, valid_until=coupon.valid_until,
                       max_total_uses=coupon.max_total_uses, active=coupon.active)


UNKNOWN_COUPON = "We do not know that code. Check the spelling."


def coupon_for(code_text: str | None, user: User, booking: Booking,
               now: datetime) -> tuple[Coupon | None, str, str | None]:
    """The coupon a typed code names for this booking, the code as normalized, and the problem with it (in words).

    Uses by other bookings count; this booking's own reserved use does not (paying again is not a second use)."""
    if not (code_text or "").strip():
        return None, "", None
    try:
        code = normalize_code(code_text)
    except ValueError as exc:
        return None, str(code_text).strip()[:40], str(exc)
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
    if coupon is None:
        return None, code, UNKNOWN_COUPON
    problem = _problem(coupon, user, booking, now, standing_of(user))
    return (None if problem else coupon), code, problem


def _problem(coupon: Coupon, user: User, booking: Booking, now: datetime, standing: Standing) -> str | None:
    """Why this user may not use this coupon on this booking now (its terms, its uses, its audience), or None."""
    others = select(func.count()).select_from(CouponUse).where(CouponUse.coupon_id == coupon.id,
                                                                CouponUse.booking_id != booking.id)
    return coupon_problem(coupon_terms(coupon), now=now, currency=booking.currency,
                          uses_by_user=db.session.scalar(others.where(CouponUse.user_id == user.id)),
                          total_uses=db.session.scalar(others)) or audience_problem(
        coupon.audience, offer_id=coupon.id, audience_tutor_id=coupon.audience_tutor_id, standing=standing,
        lesson_tutor_id=booking.lesson.tutor_id)


def automatic_offer(user: User, booking: Booking, now: datetime) -> Coupon | None:
    """The best special offer applied without a code: active, automatic, this user in its audience, uses left."""
    offers = db.session.scalars(select(Coupon).where(Coupon.auto_apply.is_(True), Coupon.active.is_(True)))
    standing = standing_of(user)
    usable = {c.id: c for c in offers if _problem(c, user, booking, now, standing) is None}
    best = best_offer([Candidate(c.id, discount_for(coupon_terms(c), booking.price_minor), c.valid_until)
                       for c in usable.values()])
    return usable[best.offer_id] if best else None


def reserve_coupon_use(coupon: Coupon, user: User, booking: Booking, discount: int) -> None:
    """Take the lowest free per-user and per-coupon slot (unique constraints make a lost race an error)."""
    taken = db.session.execute(select(CouponUse.user_id, CouponUse.user_slot, CouponUse.total_slot).where(
        CouponUse.coupon_id == coupon.id)).all()
    terms = coupon_terms(coupon)
    user_slots = {row.user_slot for row in taken if row.user_id == user.id}
    total_slots = {row.total_slot for row in taken}
    user_slot = next(n for n in range(1, len(user_slots) + 2) if n not in user_slots)
    total_slot = next(n for n in range(1, len(total_slots) + 2) if n not in total_slots)
    if user_slot > terms.usage.uses_per_user or (coupon.max_total_uses and total_slot > coupon.max_total_uses):
        raise ValidationError(USED_UP, {"coupon": USED_UP})
    db.session.add(CouponUse(coupon_id=coupon.id, user_id=user.id, booking_id=booking.id, user_slot=user_slot,
                             total_slot=total_slot, discount_minor=discount))
    try:
        db.session.flush()
    except IntegrityError as exc:
        raise ValidationError(USED_UP, {"coupon": USED_UP}) from exc


def give_back_reserved_uses(booking_id: int) -> None:
    """Inside the caller's write: drop the booking's reserved (not yet confirmed) coupon uses."""
    db.session.execute(delete(CouponUse).where(CouponUse.booking_id == booking_id, CouponUse.confirmed.is_(False)))


def release_reserved_coupon(booking_id: int) -> None:
    """In a short write of its own: give the booking's reserved coupon uses back (a payment that did not start)."""
    with serialized_write((LOCK_BOOKING, booking_id)):
        give_back_reserved_uses(booking_id)


def give_back_all_uses(booking_id: int) -> None:
    """Inside the caller's write: drop every coupon use of a booking that ends before any money was taken."""
    db.session.execute(delete(CouponUse).where(CouponUse.booking_id == booking_id))


def confirm_coupon_uses(booking_id: int) -> None:
    """Inside the caller's write: the card is authorized, so the booking's coupon uses count for good."""
    db.session.execute(CouponUse.__table__.update().where(CouponUse.booking_id == booking_id).values(confirmed=True))
