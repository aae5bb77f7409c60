"""Announcing a special offer by email: an admin asks once, a job writes one outbox email per user of the audience in
batches (each user at most once, by dedupe key), skipping users who unsubscribed through the signed link."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import String, cast, exists, literal, select

from ..adapters.queue import get_queue
from ..domain.coupons import DiscountType
from ..domain.money import Money
from ..extensions import db
from ..models import Coupon, OutboxMessage, User
from . import audit, outbox, signed_links
from .errors import Forbidden, NotFound, ValidationError
from .offer_targets import audience_query
from .urls import public_url

UNSUBSCRIBE_PURPOSE = "offer-unsubscribe"
UNSUBSCRIBE_LIFETIME = timedelta(days=365)
BATCH = 200


def _dedupe_prefix(coupon_id: int) -> str:
    return f"offer:{coupon_id}:announce:"


def request_announcement(admin: User, coupon_id: int, now: datetime) -> Coupon:
    """Record that the offer's audience is to be emailed, then ask a worker (the sweep does it if Redis is down)."""
    if not admin.is_admin:
        raise Forbidden("Only admins announce offers.")
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None or coupon.audience is None:
        raise NotFound("No such special offer.")
    if not coupon.active or (coupon.valid_until is not None and coupon.valid_until <= now):
        raise ValidationError("This offer is not running, so it cannot be announced.")
    before = coupon.announce_requested_at.isoformat() if coupon.announce_requested_at else None
    coupon.announce_requested_at = coupon.announce_requested_at or now
    audit.record(admin, "offer.announce", "coupon", coupon.id, f"Asked to email the audience of {coupon.name!r}", now,
                 before={"announce_requested_at": before},
                 after={"announce_requested_at": coupon.announce_requested_at.isoformat()})
    db.session.commit()
    try:
        get_queue().enqueue("webapp.jobs.announce_offer", coupon.id)
    except Exception:  # noqa: BLE001 — Redis down: the periodic sweep writes the emails
        current_app.logger.warning("could not enqueue the announcement of offer %s; the sweep will do it", coupon.id)
    return coupon


def announced_count(coupon_id: int) -> int:
    """How many announcement emails this offer has written to the outbox."""
    return len(db.session.scalars(select(OutboxMessage.id).where(
        OutboxMessage.dedupe_key.startswith(_dedupe_prefix(coupon_id)))).all())


def announce(coupon_id: int, now: datetime, batch: int = BATCH) -> int:
    """Write the announcement for every user of the audience not yet emailed and not unsubscribed; one commit a batch."""
    coupon = db.session.get(Coupon, coupon_id)
    if (coupon is None or coupon.announce_requested_at is None or not coupon.active
            or (coupon.valid_until is not None and coupon.valid_until <= now)):
        return 0
    emailed = exists(select(OutboxMessage.id).where(
        OutboxMessage.dedupe_key == literal(_dedupe_prefix(coupon.id)) + cast(User.id, String)))
    pending = audience_query(coupon).where(User.offer_emails_opt_out.is_(False), ~emailed).limit(batch)
    written = 0
    while ids := list(db.session.scalars(pending)):
        for user in db.session.scalars(select(User).where(User.id.in_(ids))):
            token = signed_links.make_token(UNSUBSCRIBE_PURPOSE, {"u": user.id}, now + UNSUBSCRIBE_LIFETIME)
            written += outbox.enqueue_email("offer_announcement", user.email, {
                "name": user.name, "offer_name": coupon.name, "code": coupon.code,
                "discount": _discount_words(coupon), "automatic": coupon.auto_apply,
                "until": coupon.valid_until.date().isoformat() if coupon.valid_until else None,
                "browse_url": public_url("/tutors"), "unsubscribe_url": public_url(f"/offers/unsubscribe/{token}")},
                dedupe_key=_dedupe_prefix(coupon.id) + str(user.id)) is not None  # None: another run wrote it
        db.session.commit()
    return written


def announce_requested(now: datetime) -> int:
    """The sweep: finish every requested announcement of a running offer (say the job was lost with Redis)."""
    ids = list(db.session.scalars(select(Coupon.id).where(Coupon.announce_requested_at.is_not(None),
                                                          Coupon.active.is_(True))))
    return sum(announce(coupon_id, now) for coupon_id in ids)


def _discount_words(coupon: Coupon) -> str:
    if coupon.discount_type == DiscountType.DISCOUNT_TYPE_AMOUNT:
        return f"{Money(coupon.amount_minor, coupon.currency).format()} off"
    words = f"{coupon.percent_bp / 100:g}% off"
    if coupon.max_discount_amount_minor:
        words += f" (up to {Money(coupon.max_discount_amount_minor, coupon.currency).format()})"
    return words


def read_unsubscribe_link(token: str, now: datetime) -> tuple[User, signed_links.LinkClaims]:
    """The account an unsubscribe link is for, if the link is genuine, unexpired and unused."""
    claims = signed_links.read_token(UNSUBSCRIBE_PURPOSE, token, now)
    user = db.session.get(User, claims.data.get("u")) if isinstance(claims.data.get("u"), int) else None
    if user is None:
        raise signed_links.LinkError("This link is not valid.")
    return user, claims


def unsubscribe(token: str, now: datetime) -> User:
    """Stop offer announcements to the link's account (the link is used up; unsubscribing again changes nothing)."""
    user, claims = read_unsubscribe_link(token, now)
    user.offer_emails_opt_out = True
    try:
        signed_links.consume(claims, now)
    except signed_links.LinkError:
        db.session.rollback()
        raise
    db.session.commit()
    return user
