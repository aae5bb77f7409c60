"""Admin use cases for pricing: the active commission, coupons and special offers (coupons with an audience)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from ..adapters.database import serialized_write
from ..domain.coupons import CouponTerms, CouponUsage, DiscountType, normalize_code
from ..domain.fees import CommissionRates
from ..domain.offers import Audience
from ..domain.roles import Role
from ..extensions import db
from ..models import Commission, Coupon, CouponUse, OfferRecipient, PaymentReceipt, User
from . import audit
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
        previous = session.scalar(select(Commission).where(Commission.active.is_(True)).order_by(Commission.id.desc()))
        before = {"commission_id": previous.id, **{k: getattr(previous, k) for k in parsed.as_dict()}} \
            if previous is not None else None
        session.execute(update(Commission).where(Commission.active.is_(True)).values(active=False))
        session.flush()
        commission = Commission(**parsed.as_dict(), active=True, created_by_id=admin.id, created_at=now)
        session.add(commission)
        session.flush()
        audit.record(admin, "commission.add", "commission", commission.id,
                     "Added a commission; it is now the only active one.", now, before=before,
                     after={"commission_id": commission.id, **parsed.as_dict()})
    return commission


COUPON_PAGE_SIZE = 25


@dataclass(frozen=True)
class CouponPage:
    coupons: list[Coupon]
    page: int
    has_more: bool


def list_coupons(page: int = 1) -> CouponPage:
    """One page of coupons and offers, newest first."""
    page = max(page, 1)
    rows = list(db.session.scalars(select(Coupon).order_by(Coupon.id.desc())
                                   .offset((page - 1) * COUPON_PAGE_SIZE).limit(COUPON_PAGE_SIZE + 1)))
    return CouponPage(rows[:COUPON_PAGE_SIZE], page, len(rows) > COUPON_PAGE_SIZE)


def create_coupon(admin: User, *, code: str, usage: str, discount_type: str, amount_minor: int | None,
                  percent_bp: int | None, max_discount_amount_minor: int | None, currency: str | None,
                  valid_from: datetime | None, valid_until: datetime | None, max_total_uses: int | None,
                  now: datetime, name: str = "", audience: str = "", tutor_email: str = "",
                  recipient_emails: str = "", auto_apply: bool = False) -> Coupon:
    """Create a coupon, or a special offer when it has an audience; the domain checks the terms make sense."""
    _admin(admin)
    target = _target(name, audience, tutor_email, recipient_emails, auto_apply)
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
                    max_total_uses=terms.max_total_uses, active=True, created_at=now, name=target.name,
                    audience=target.audience, audience_tutor_id=target.tutor_id, auto_apply=target.auto_apply)
    db.session.add(coupon)
    try:
        # Every flush sits inside the guard: the code's unique key (a code in use, or the same form sent twice at
        # once) may refuse the first one, which for chosen users is the one that gives the coupon its id.
        if target.recipient_ids:
            db.session.flush()
            db.session.add_all(OfferRecipient(coupon_id=coupon.id, user_id=uid) for uid in target.recipient_ids)
        db.session.flush()
        audit.record(admin, "offer.create" if target.audience else "coupon.create", "coupon", coupon.id,
                     f"Created {'special offer ' + repr(target.name) if target.audience else 'coupon'} {terms.code}",
                     now, after=_described(coupon, len(target.recipient_ids)))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError("A coupon with that code already exists.", {"code": "Already exists."}) from None
    return coupon


@dataclass(frozen=True)
class _Target:
    name: str | None
    audience: str | None
    tutor_id: int | None
    recipient_ids: tuple[int, ...]
    auto_apply: bool


def _target(name: str, audience: str, tutor_email: str, recipient_emails: str, auto_apply: bool) -> _Target:
    """The offer's audience read from the form, or a ValidationError naming the field in words."""
    name = (name or "").strip()
    if not audience:
        if auto_apply:
            raise ValidationError("Choose who the offer is for to apply it automatically.",
                                  {"audience": "Choose an audience."})
        return _Target(name[:120] or None, None, None, (), False)
    try:
        kind = Audience(audience)
    except ValueError:
        raise ValidationError("Choose who the offer is for.", {"audience": "Choose an audience."}) from None
    if not name or len(name) > 120:
        raise ValidationError("Give the offer a name of up to 120 characters: students see it at checkout.",
                              {"name": "Enter a name (up to 120 characters)."})
    tutor_id, recipients = None, ()
    if kind is Audience.TUTOR_STUDENTS:
        tutor_id = db.session.scalar(select(User.id).where(func.lower(User.email) == tutor_email.strip().lower(),
                                                           User.role == Role.TUTOR.value))
        if tutor_id is None:
            raise ValidationError("Enter the email address of a tutor.", {"tutor_email": "No tutor has that email."})
    if kind is Audience.CHOSEN_USERS:
        emails = sorted({e.strip().lower() for e in recipient_emails.replace(",", " ").split() if e.strip()})
        if not emails:
            raise ValidationError("List the email addresses of the users the offer is for.",
                                  {"recipient_emails": "Enter at least one email address."})
        found = dict(db.session.execute(select(func.lower(User.email), User.id)
                                        .where(func.lower(User.email).in_(emails))).all())
        unknown = [e for e in emails if e not in found]
        if unknown:
            message = "No account has the email " + ", ".join(unknown[:5]) + ("…" if len(unknown) > 5 else "") + "."
            raise ValidationError(message, {"recipient_emails": message})
        recipients = tuple(found[e] for e in emails)
    return _Target(name, kind.value, tutor_id, recipients, bool(auto_apply))


def set_coupon_active(admin: User, coupon_id: int, active: bool, now: datetime) -> Coupon:
    """Switch a coupon on or off."""
    _admin(admin)
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise ValidationError("No such coupon.")
    before = coupon.active
    coupon.active = active
    audit.record(admin, "coupon.activate" if active else "coupon.deactivate", "coupon", coupon.id,
                 f"{'Activated' if active else 'Deactivated'} {coupon.code}", now, before={"active": before},
                 after={"active": active})
    db.session.commit()
    return coupon


@dataclass(frozen=True)
class OfferUsage:
    """One offer's confirmed uses, discount given and revenue (paid less refunded) in one currency, from the rows."""

    currency: str
    uses: int
    discount_minor: int
    revenue_minor: int


def offer_usage(coupon_ids: list[int] | None = None) -> dict[int, list[OfferUsage]]:
    """Usage and revenue per coupon and currency (of `coupon_ids`, else all): confirmed coupon uses joined to their
    bookings' receipts."""
    query = (
        select(CouponUse.coupon_id, PaymentReceipt.currency, func.count(CouponUse.id),
               func.coalesce(func.sum(CouponUse.discount_minor), 0),
               func.coalesce(func.sum(PaymentReceipt.amount_minor - PaymentReceipt.refunded_minor), 0))
        .join(PaymentReceipt, PaymentReceipt.booking_id == CouponUse.booking_id)
        .where(CouponUse.confirmed.is_(True)))
    if coupon_ids is not None:
        query = query.where(CouponUse.coupon_id.in_(coupon_ids))
    rows = db.session.execute(
        query
        .group_by(CouponUse.coupon_id, PaymentReceipt.currency).order_by(PaymentReceipt.currency))
    usage: dict[int, list[OfferUsage]] = {}
    for coupon_id, currency, uses, discount, revenue in rows:
        usage.setdefault(coupon_id, []).append(OfferUsage(currency, uses, int(discount), int(revenue)))
    return usage


def _described(coupon: Coupon, recipients: int) -> dict:
    """A coupon's terms and audience as the audit log keeps them."""
    return {"code": coupon.code, "name": coupon.name, "audience": coupon.audience,
            "audience_tutor_id": coupon.audience_tutor_id, "recipients": recipients, "auto_apply": coupon.auto_apply,
            "usage": coupon.usage, "discount_type": coupon.discount_type, "amount_minor": coupon.amount_minor,
            "percent_bp": coupon.percent_bp, "max_discount_amount_minor": coupon.max_discount_amount_minor,
            "currency": coupon.currency, "max_total_uses": coupon.max_total_uses,
            "valid_from": coupon.valid_from.isoformat() if coupon.valid_from else None,
            "valid_until": coupon.valid_until.isoformat() if coupon.valid_until else None}
