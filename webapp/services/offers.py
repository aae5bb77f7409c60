"""Admin use cases for pricing: the active commission and special-offer coupons."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..adapters.database import serialized_write
from ..domain.coupons import CouponTerms, CouponUsage, DiscountType, normalize_code
from ..domain.fees import CommissionRates
from ..extensions import db
from ..models import Commission, Coupon, User
from .errors import Forbidden, ValidationError
from .locks import LOCK_COMMISSION


def _admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only admins manage commissions and offers.")


def list_commissions() -> list[Commission]:
    """Every commission, newest first."""
    return list(db.session.scalars(select(Commission).order_by(Commission.id.desc())))


def add_commission(admin: User, rates: dict, now: datetime) -> Commission:
    """Add a commission and make it the only active one (seed 002: adding disables the others)."""
    _admin(admin)
    try:
        parsed = CommissionRates(**{k: int(rates[k]) for k in (
            "commission_fee_bp", "service_fee_bp", "payout_fee_bp", "payout_amount_fee_minor",
            "account_management_amount_fee_minor")})
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"Please correct the rates: {exc}".rstrip(".") + ".") from None
    with serialized_write((LOCK_COMMISSION, 0)) as session:
        session.execute(update(Commission).where(Commission.active.is_(True)).values(active=False))
        session.flush()
        commission = Commission(**parsed.as_dict(), active=True, created_by_id=admin.id, created_at=now)
        session.add(commission)
    return commission


def list_coupons() -> list[Coupon]:
    """Every coupon, newest first."""
    return list(db.session.scalars(select(Coupon).order_by(Coupon.id.desc())))


def create_coupon(admin: User, *, code: str, usage: str, discount_type: str, amount_minor: int | None,
                  percent_bp: int | None, max_discount_amount_minor: int | None, currency: str | None,
                  valid_from: datetime | None, valid_until: datetime | None, max_total_uses: int | None,
                  now: datetime) -> Coupon:
    """Create a special offer; the domain checks the terms make sense."""
    _admin(admin)
    try:
        normalized = normalize_code(code)
        terms = CouponTerms(code=normalized, usage=CouponUsage(usage), discount_type=DiscountType(discount_type),
                            amount_minor=amount_minor, percent_bp=percent_bp,
                            max_discount_amount_minor=max_discount_amount_minor, currency=currency or None,
                            valid_from=valid_from, valid_until=valid_until, max_total_uses=max_total_uses)
    except ValueError as exc:
        raise ValidationError(str(exc), {"code": str(exc)}) from None
    coupon = Coupon(code=terms.code, usage=terms.usage.value, discount_type=terms.discount_type.value,
                    amount_minor=terms.amount_minor, percent_bp=terms.percent_bp,
                    max_discount_amount_minor=terms.max_discount_amount_minor, currency=terms.currency,
                    valid_from=terms.valid_from, valid_until=terms.valid_until,
                    max_total_uses=terms.max_total_uses, active=True, created_at=now)
    db.session.add(coupon)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("A coupon with that code already exists.", {"code": "Already exists."}) from None
    return coupon


def set_coupon_active(admin: User, coupon_id: int, active: bool) -> Coupon:
    """Switch a coupon on or off."""
    _admin(admin)
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise ValidationError("No such coupon.")
    coupon.active = active
    db.session.commit()
    return coupon
