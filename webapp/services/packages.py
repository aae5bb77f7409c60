"""Tutors' packages of prepaid hours: a tutor offers them, a student buys one on Stripe Checkout (taken at once),
and the checkout.session.completed webhook grants its minutes on the ledger, once, keyed on the session id.

Prices come from domain/packages.py (the tutor's highest active rate less the package's discount) and are frozen on
the purchase row when the student presses Buy. Stripe is called outside any write transaction, with an idempotency
key from the purchase's id; the purchase row is found again by the Buy form's one-time key, so a double click is
one purchase and one Checkout page.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.analytics import EventName, dedupe_id
from ..domain.money import Money
from ..domain.packages import (MAX_ACTIVE_PACKAGES, PurchaseState, Rate, package_price, package_problems,
                               package_rate)
from ..domain.roles import Role
from ..extensions import db
from ..models import MinuteLot, PackagePurchase, Teach, TutorPackage, User
from . import wallet
from .analytics import record_event
from .errors import Conflict, Forbidden, NotFound, PaymentFailed, ValidationError
from .locks import LOCK_TUTOR_PACKAGES

FORM_KEY_LENGTH = 64


@dataclass(frozen=True)
class PackageOffer:
    """A package as shown: its terms, and its price now at the tutor's package rate (None without a rate)."""

    id: int
    hours: int
    discount_percent: int
    price: Money | None
    full_price: Money | None  # the same hours at the rate without the discount

    @property
    def minutes(self) -> int:
        return self.hours * 60


def tutor_rate(tutor_id: int) -> Rate | None:
    """The rate the tutor's packages are priced at (domain/packages.py: their highest active rate)."""
    rows = db.session.execute(select(Teach.hourly_rate_minor, Teach.currency)
                              .where(Teach.tutor_id == tutor_id, Teach.active.is_(True)).order_by(Teach.id)).all()
    return package_rate([Rate(rate, currency) for rate, currency in rows])


def _offer(package: TutorPackage, rate: Rate | None) -> PackageOffer:
    if rate is None:
        return PackageOffer(package.id, package.hours, package.discount_percent, None, None)
    return PackageOffer(package.id, package.hours, package.discount_percent,
                        Money(package_price(rate.hourly_rate_minor, package.hours, package.discount_percent),
                              rate.currency),
                        Money(package_price(rate.hourly_rate_minor, package.hours, 0), rate.currency))


def offers(tutor_id: int) -> list[PackageOffer]:
    """A tutor's active packages, smallest first, priced at their rate now."""
    rate = tutor_rate(tutor_id)
    packages = db.session.scalars(select(TutorPackage).where(TutorPackage.tutor_id == tutor_id,
                                                             TutorPackage.active.is_(True))
                                  .order_by(TutorPackage.hours, TutorPackage.id))
    return [_offer(package, rate) for package in packages]


# --- the tutor's side ----------------------------------------------------------------------------

def add_package(tutor: User, hours: object, discount_percent: object) -> TutorPackage:
    """Offer a new package (whole hours 1–100, discount 0–50 %), at most a few at once and one per number of
    hours."""
    if tutor.role != Role.TUTOR:
        raise Forbidden("Only tutors offer packages.")
    problems = package_problems(hours, discount_percent)
    if problems:
        raise ValidationError(next(iter(problems.values())), problems)
    with serialized_write((LOCK_TUTOR_PACKAGES, tutor.id)) as session:
        active = list(session.scalars(select(TutorPackage).where(TutorPackage.tutor_id == tutor.id,
                                                                 TutorPackage.active.is_(True))))
        if any(package.hours == hours for package in active):
            message = f"You already offer a package of {hours} hours. Remove it first to change its discount."
            raise ValidationError(message, {"hours": message})
        if len(active) >= MAX_ACTIVE_PACKAGES:
            message = f"You can offer up to {MAX_ACTIVE_PACKAGES} packages. Remove one to add another."
            raise ValidationError(message, {"hours": message})
        package = TutorPackage(tutor_id=tutor.id, hours=hours, discount_percent=discount_percent)
        session.add(package)
    return package


def remove_package(tutor: User, package_id: int) -> None:
    """Stop offering a package (minutes already bought stay; a second click is harmless)."""
    with serialized_write((LOCK_TUTOR_PACKAGES, tutor.id)) as session:
        package = session.get(TutorPackage, package_id)
        if package is None or package.tutor_id != tutor.id:
            raise NotFound("We could not find that package.")
        package.active = False


# --- buying ---------------------------------------------------------------------------------------

def start_purchase(student: User, package_id: int, form_key: str | None, now: datetime, *, success_url: str,
                   cancel_url: str) -> tuple[PackagePurchase, str | None]:
    """Open Stripe Checkout for a package; returns the purchase and the page to send the student to (None when it
    is already paid). The same form sent twice (a double click) finds the same purchase and the same page.

    ``success_url`` and ``cancel_url`` may contain ``{PURCHASE_ID}``, filled in here."""
    if student.role not in (Role.STUDENT, Role.PARENT):
        raise Forbidden("Only students and parents buy packages.")
    key = (form_key or "").strip()[:FORM_KEY_LENGTH] or secrets.token_urlsafe(16)
    purchase = _purchase_for(student, package_id, key, now)
    if purchase.state == PurchaseState.PAID:
        return purchase, None
    previous = _retrieve(purchase.checkout_session_id) if purchase.checkout_session_id else None
    if previous is not None:
        if previous.status == "complete":
            return purchase, None  # paid: the webhook is on its way
        if previous.status == "open" and previous.url:
            return purchase, previous.url
    # Both clicks of a double click must send Stripe the same parameters under the same key, or Stripe refuses the
    # second: the key names the session this one replaces, and the expiry is anchored on what they share.
    replaces = previous.id if previous is not None else purchase.checkout_session_id or "first"
    anchor = datetime.fromtimestamp(previous.expires_at, UTC) if previous is not None else purchase.created_at
    session_length = timedelta(minutes=current_app.config["CHECKOUT_MIN_MINUTES"] + 1)
    expires_at = anchor + session_length
    if expires_at < now + session_length - timedelta(minutes=1):
        expires_at = now.replace(second=0, microsecond=0) + session_length + timedelta(minutes=1)
    tutor = db.session.get(User, purchase.tutor_id)
    product = f"{purchase.minutes // 60} hours of lessons with {tutor.name}"
    end_read()
    try:
        checkout = gateway.create_package_checkout_session(
            amount_minor=purchase.price_minor, currency=purchase.currency, product_name=product,
            purchase_id=purchase.id, customer_email=student.email,
            success_url=success_url.replace("{PURCHASE_ID}", str(purchase.id)),
            cancel_url=cancel_url.replace("{PURCHASE_ID}", str(purchase.id)),
            expires_at=int(expires_at.timestamp()), idempotency_key=f"package-purchase:{purchase.id}:after:{replaces}")
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not open the payment page. Nothing was charged; please try again.") from exc
    with serialized_write() as session:
        row = session.get(PackagePurchase, purchase.id, populate_existing=True)
        if row.state == PurchaseState.OPEN:
            row.checkout_session_id = checkout.id
    return purchase, checkout.url


def _purchase_for(student: User, package_id: int, key: str, now: datetime) -> PackagePurchase:
    """The purchase this Buy form made, or a new one priced now (a lost race for the same key finds the winner's)."""
    existing = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id,
                                                               PackagePurchase.form_key == key))
    if existing is not None:
        if existing.package_id != package_id:
            raise Conflict("This form was already used for another package. Reload the page and try again.")
        return existing
    package = db.session.get(TutorPackage, package_id)
    if package is None or not package.active:
        raise NotFound("This package is no longer offered.")
    rate = tutor_rate(package.tutor_id)
    if rate is None:
        raise Conflict("This tutor has no subjects on offer at the moment, so their packages cannot be bought.")
    try:
        with serialized_write() as session:
            purchase = PackagePurchase(package_id=package.id, tutor_id=package.tutor_id, student_id=student.id,
                                       minutes=package.hours * 60, currency=rate.currency, form_key=key,
                                       price_minor=package_price(rate.hourly_rate_minor, package.hours,
                                                                 package.discount_percent), created_at=now)
            session.add(purchase)
    except IntegrityError:
        db.session.rollback()  # the other click of a double click made it first
        purchase = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id,
                                                                   PackagePurchase.form_key == key))
    return purchase


def _retrieve(session_id: str):
    """The purchase's Checkout Session; if Stripe cannot say, nothing new is opened (a second open page could be
    paid twice)."""
    try:
        return gateway.retrieve_checkout_session(session_id)
    except gateway.PaymentError as exc:
        raise PaymentFailed("We could not reach the payment page. Nothing was charged; please try again.") from exc


def get_purchase(student: User, purchase_id: int) -> PackagePurchase:
    """One of the student's own purchases, or NotFound."""
    purchase = db.session.get(PackagePurchase, purchase_id)
    if purchase is None or purchase.student_id != student.id:
        raise NotFound("We could not find that purchase.")
    return purchase


# --- the webhook ----------------------------------------------------------------------------------

def purchase_id_of(session_obj: dict) -> int | None:
    """The package purchase a Checkout Session (as sent in an event) is for, if it is one."""
    value = str((session_obj.get("metadata") or {}).get("package_purchase_id") or "")
    return int(value) if value.isdigit() else None


def event_locks(session_obj: dict) -> list[tuple[int, int]]:
    """The locks applying a package's Checkout event takes: the buyer's wallet."""
    purchase_id = purchase_id_of(session_obj)
    student_id = db.session.scalar(select(PackagePurchase.student_id).where(PackagePurchase.id == purchase_id)) \
        if purchase_id else None
    return [wallet.wallet_lock(student_id)] if student_id else []


def on_checkout_completed(session_obj: dict, now: datetime) -> str:
    """Grant the purchase's minutes, once per Checkout Session id, when the session was paid in full (inside the
    dispatcher's transaction)."""
    purchase = db.session.get(PackagePurchase, purchase_id_of(session_obj), populate_existing=True)
    if purchase is None:
        return "ignored"
    if session_obj.get("payment_status") != "paid":
        return "ignored-unpaid"
    if (session_obj.get("amount_total") != purchase.price_minor
            or str(session_obj.get("currency", "")).upper() != purchase.currency):
        current_app.logger.error("package purchase %s: paid %s %s but priced %s %s", purchase.id,
                                 session_obj.get("amount_total"), session_obj.get("currency"), purchase.price_minor,
                                 purchase.currency)
        return "ignored-mismatch"
    if purchase.state == PurchaseState.PAID:
        lot_ref = db.session.scalar(select(MinuteLot.source_ref).where(MinuteLot.id == purchase.lot_id))
        if lot_ref != session_obj["id"]:  # cannot happen: one open session per purchase; say so rather than grant
            current_app.logger.error("package purchase %s paid twice (%s, %s)", purchase.id, lot_ref,
                                     session_obj["id"])
        return "already-applied"
    days = current_app.config["MINUTES_EXPIRE_AFTER_DAYS"]
    lot = wallet.grant_lot(db.session, user_id=purchase.student_id, tutor_id=purchase.tutor_id,
                           minutes=purchase.minutes, source="package", source_ref=session_obj["id"],
                           expires_at=now + timedelta(days=days), paid_minor=purchase.price_minor,
                           currency=purchase.currency)
    purchase.state = PurchaseState.PAID
    purchase.paid_at = now
    purchase.lot_id = lot.id
    purchase.checkout_session_id = purchase.checkout_session_id or session_obj["id"]
    record_event(db.session, EventName.PACKAGE_BOUGHT, dedupe=dedupe_id(EventName.PACKAGE_BOUGHT, purchase.id), at=now,
                 user_id=purchase.student_id, tutor_id=purchase.tutor_id, minutes=purchase.minutes,
                 amount_minor=purchase.price_minor, currency=purchase.currency)
    return "minutes-granted"
