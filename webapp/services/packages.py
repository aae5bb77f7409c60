"""Tutors' packages of prepaid hours: a tutor offers them, a student buys one on Stripe Checkout or with PayPal
(`package_paypal`; taken at once either way), and the payment grants its minutes on the ledger, once, keyed on the
outside id (the Checkout Session id, the PayPal capture id) through `grant_purchase`.

Prices come from domain/packages.py (the tutor's highest active rate less the package's discount) and are frozen on
the purchase row when the student presses Buy. Stripe is called outside any write transaction, with an idempotency
key from the purchase's id; the purchase row is found again by the Buy form's one-time key, so a double click is
one purchase and one Checkout page. A Checkout nobody paid ends expired: by Stripe's checkout.session.expired event,
or by `expire_abandoned_checkouts`, which asks Stripe about purchases whose page has lapsed.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.analytics import EventName, dedupe_id
from ..domain.money import Money
from ..domain.packages import (MAX_ACTIVE_PACKAGES, PurchaseMethod, PurchaseState, Rate, package_price,
                               package_problems, package_rate)
from ..domain.roles import Role
from ..extensions import db
from ..filters import local
from ..models import MinuteLot, PackagePurchase, Teach, TutorPackage, User
from . import outbox, wallet
from .analytics import record_event
from .errors import Conflict, Forbidden, NotFound, PaymentFailed, ValidationError
from .locks import LOCK_TUTOR_PACKAGES
from .urls import public_url

FORM_KEY_LENGTH = 64
CHECKOUT_LIFETIME = timedelta(hours=24)  # Stripe's longest: a purchase from before we stored expires_at is past it


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
    purchase = purchase_for(student, package_id, form_key, now, PurchaseMethod.CARD)
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
            row.expires_at = datetime.fromtimestamp(checkout.expires_at, UTC)
    return purchase, checkout.url


def purchase_for(student: User, package_id: int, form_key: str | None, now: datetime,
                 method: PurchaseMethod) -> PackagePurchase:
    """The purchase this Buy form made, or a new one priced now, paid by ``method`` (a lost race for the same key
    finds the winner's). A form already used to pay the other way, or whose payment page lapsed or was cancelled,
    is refused in words: one purchase is paid one way, on one page."""
    if student.role not in (Role.STUDENT, Role.PARENT):
        raise Forbidden("Only students and parents buy packages.")
    key = (form_key or "").strip()[:FORM_KEY_LENGTH] or secrets.token_urlsafe(16)
    existing = db.session.scalar(select(PackagePurchase).where(PackagePurchase.student_id == student.id,
                                                               PackagePurchase.form_key == key))
    if existing is not None:
        if existing.package_id != package_id:
            raise Conflict("This form was already used for another package. Reload the page and try again.")
        if existing.state in (PurchaseState.EXPIRED, PurchaseState.CANCELLED):
            raise Conflict("That payment was closed without paying, so nothing was charged. Choose the package "
                           "again to buy it.")
        if existing.method != method and existing.state == PurchaseState.OPEN:
            way = "PayPal" if existing.method == PurchaseMethod.PAYPAL else "a card"
            raise Conflict(f"This form was already used to pay with {way}. Reload the page to choose another way "
                           "to pay.")
        return existing
    return _new_purchase(student, package_id, key, now, method)


def _new_purchase(student: User, package_id: int, key: str, now: datetime, method: PurchaseMethod) -> PackagePurchase:
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
                                       method=method,
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
    pi = session_obj.get("payment_intent")
    pi = pi if isinstance(pi, str) else (pi or {}).get("id")
    if pi and not purchase.payment_intent_id:  # what a refund of the purchase names (and charge.refunded finds)
        purchase.payment_intent_id = pi
    return grant_purchase(purchase, source_ref=session_obj["id"], amount_minor=session_obj.get("amount_total"),
                          currency=str(session_obj.get("currency", "")), now=now)


def grant_purchase(purchase: PackagePurchase, *, source_ref: str, amount_minor: object, currency: str,
                   now: datetime) -> str:
    """The purchase was paid (``source_ref``: the Checkout Session or PayPal capture that took the money): grant its
    minutes once, mark it paid and email the receipt, in the caller's write (which holds the buyer's wallet lock).
    Money taken always grants, even for a purchase closed as expired or cancelled meanwhile."""
    if amount_minor != purchase.price_minor or currency.upper() != purchase.currency:
        current_app.logger.error("package purchase %s: paid %s %s but priced %s %s", purchase.id, amount_minor,
                                 currency, purchase.price_minor, purchase.currency)
        return "ignored-mismatch"
    if purchase.state == PurchaseState.PAID:
        lot_ref = db.session.scalar(select(MinuteLot.source_ref).where(MinuteLot.id == purchase.lot_id))
        if lot_ref != source_ref:  # cannot happen: one open payment page per purchase; say so rather than grant
            current_app.logger.error("package purchase %s paid twice (%s, %s)", purchase.id, lot_ref, source_ref)
        return "already-applied"
    days = current_app.config["MINUTES_EXPIRE_AFTER_DAYS"]
    lot = wallet.grant_lot(db.session, user_id=purchase.student_id, tutor_id=purchase.tutor_id,
                           minutes=purchase.minutes, source="package", source_ref=source_ref,
                           expires_at=now + timedelta(days=days), paid_minor=purchase.price_minor,
                           currency=purchase.currency)
    purchase.state = PurchaseState.PAID
    purchase.paid_at = now
    purchase.lot_id = lot.id
    if purchase.method == PurchaseMethod.CARD:
        purchase.checkout_session_id = purchase.checkout_session_id or source_ref
    record_event(db.session, EventName.PACKAGE_BOUGHT, dedupe=dedupe_id(EventName.PACKAGE_BOUGHT, purchase.id), at=now,
                 user_id=purchase.student_id, tutor_id=purchase.tutor_id, minutes=purchase.minutes,
                 amount_minor=purchase.price_minor, currency=purchase.currency)
    _email_receipt(purchase, lot)
    return "minutes-granted"


def _email_receipt(purchase: PackagePurchase, lot: MinuteLot) -> None:
    """The buyer's receipt for a package (through the outbox, in the grant's transaction, once per purchase)."""
    student = db.session.get(User, purchase.student_id)
    tutor = db.session.get(User, purchase.tutor_id)
    outbox.enqueue_email("package_receipt", student.email, {
        "recipient_name": student.name, "purchase_id": purchase.id, "tutor_name": tutor.name,
        "hours": purchase.minutes // 60, "minutes": purchase.minutes,
        "amount": Money(purchase.price_minor, purchase.currency).format(),
        "paid_with": "PayPal" if purchase.method == PurchaseMethod.PAYPAL else "card",
        "expires": local(lot.expires_at, student.timezone, "%d %B %Y") if lot.expires_at else None,
        "zone": student.timezone, "balance": wallet.balance(purchase.student_id, purchase.tutor_id).available,
        "minutes_url": public_url("/minutes"), "book_url": public_url(f"/tutors/{purchase.tutor_id}"),
    }, dedupe_key=f"package-receipt:{purchase.id}")


def on_checkout_expired(session_obj: dict, now: datetime) -> str:
    """checkout.session.expired for a package: the purchase's page lapsed unpaid, so it ends expired (only if that
    session is still the purchase's page: a newer one may have replaced it)."""
    purchase = db.session.get(PackagePurchase, purchase_id_of(session_obj), populate_existing=True)
    if purchase is None or purchase.checkout_session_id != session_obj.get("id"):
        return "ignored"
    return "purchase-expired" if close_unpaid(purchase, PurchaseState.EXPIRED, now) else "already-applied"


def close_unpaid(purchase: PackagePurchase, state: PurchaseState, now: datetime) -> bool:
    """An open purchase ends unpaid (expired or cancelled), in the caller's write; False when it is not open."""
    if purchase.state != PurchaseState.OPEN:
        return False
    purchase.state = state
    purchase.closed_at = now
    return True


def purchases_of(student: User) -> list[PackagePurchase]:
    """A student's package purchases, newest first, for their minutes page."""
    return list(db.session.scalars(select(PackagePurchase).where(PackagePurchase.student_id == student.id)
                                   .order_by(PackagePurchase.created_at.desc(), PackagePurchase.id.desc())))


def lapsed(method: PurchaseMethod, now: datetime, limit: int = 200) -> list[int]:
    """Open purchases paid by ``method`` whose payment page has lapsed (oldest first); the sweeps ask the provider
    about each outside any transaction."""
    return list(db.session.scalars(
        select(PackagePurchase.id).where(
            PackagePurchase.state == PurchaseState.OPEN, PackagePurchase.method == method,
            or_(PackagePurchase.expires_at <= now,
                and_(PackagePurchase.expires_at.is_(None), PackagePurchase.created_at <= now - CHECKOUT_LIFETIME)))
        .order_by(PackagePurchase.id).limit(limit)))


def expire_abandoned_checkouts(now: datetime) -> int:
    """Job: close card purchases whose Checkout lapsed unpaid as expired, asking Stripe outside any transaction
    (the backstop for a lost checkout.session.expired; a session Stripe says was paid is granted instead, and one
    Stripe still shows open past its time is expired there first). Returns how many were closed."""
    closed = 0
    for purchase_id in lapsed(PurchaseMethod.CARD, now):
        session_id = db.session.scalar(select(PackagePurchase.checkout_session_id)
                                       .where(PackagePurchase.id == purchase_id))
        end_read()
        checkout = None
        if session_id:
            try:
                checkout = gateway.retrieve_checkout_session(session_id)
                if checkout.status == "open":
                    checkout = gateway.expire_checkout_session(session_id)
            except gateway.InvalidRequest as exc:
                # Stripe has no such session (test data cleared, another account's key): nothing there can be paid,
                # so it is closed like a lapsed one rather than shown "waiting for payment" for ever.
                if checkout is not None or getattr(exc, "http_status", None) != 404:
                    current_app.logger.warning("package purchase %s: Checkout %s not settled yet: %s", purchase_id,
                                               session_id, exc)
                    continue
            except gateway.PaymentError as exc:
                # Stripe down, or the session paid the moment we asked: the next run (or the webhook) settles it.
                current_app.logger.warning("package purchase %s: Checkout %s not settled yet: %s", purchase_id,
                                           session_id, exc)
                continue
        student_id = db.session.scalar(select(PackagePurchase.student_id).where(PackagePurchase.id == purchase_id))
        end_read()
        with serialized_write(wallet.wallet_lock(student_id)) as session:
            purchase = session.get(PackagePurchase, purchase_id, populate_existing=True)
            if purchase.checkout_session_id != session_id:
                continue  # a newer Checkout replaced it meanwhile: a later run looks at that one
            if checkout is not None and checkout.status == "complete":
                on_checkout_completed(checkout.to_dict(), now)
            elif checkout is None or checkout.status == "expired":
                closed += close_unpaid(purchase, PurchaseState.EXPIRED, now)
    return closed
