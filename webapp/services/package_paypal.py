"""Buying a package of minutes with PayPal: an order with intent CAPTURE that the student approves on PayPal's page;
back on our site we capture it (outside any transaction, with a PayPal-Request-Id from our ids) and grant the
minutes once, keyed on the capture id, through `packages.grant_purchase` (the same grant as a card Checkout).

The webhook is the backstop and may come first, twice or instead of the return (the tab was closed):
CHECKOUT.ORDER.APPROVED captures an approved order nobody came back for, PAYMENT.CAPTURE.COMPLETED grants from the
capture itself. Our PayPalOrder row only moves forward (`paypal_orders`), and a purchase is granted once whichever
of these arrives first. An order nobody approved within ORDER_LIFETIME is closed as expired by
`expire_abandoned_orders`, which asks PayPal outside any transaction first (an approval found then is captured).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..adapters import paypal
from ..adapters.database import end_read, serialized_write
from ..domain.packages import PurchaseMethod, PurchaseState
from ..extensions import db
from ..models import PackagePurchase, PayPalOrder, User
from . import packages, wallet
from .errors import Conflict, NotFound, PaymentFailed
from .paypal_orders import advance, order_row

# PayPal's approval link lasts about three hours; an order not approved by then is closed as expired.
ORDER_LIFETIME = timedelta(hours=3)
OPEN = ("CREATED", "APPROVED")


def available() -> bool:
    """Whether packages can be bought with PayPal here (it is configured)."""
    return paypal.configured()


def _request_id(purchase_id: int, what: str) -> str:
    return f"package-purchase:{purchase_id}:paypal-{what}"


def start(student: User, package_id: int, form_key: str | None, now: datetime, *, return_url: str,
          cancel_url: str) -> tuple[PackagePurchase, str | None]:
    """Open (or reopen) the purchase's PayPal order; returns the purchase and PayPal's approval page (None when it
    is paid already). A double click is one purchase and one order (the same PayPal-Request-Id).

    ``return_url`` and ``cancel_url`` may contain ``{PURCHASE_ID}``, filled in here."""
    if not available():
        raise Conflict("PayPal is not available here; please pay by card.")
    purchase = packages.purchase_for(student, package_id, form_key, now, PurchaseMethod.PAYPAL)
    if purchase.state == PurchaseState.PAID:
        return purchase, None
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.purchase_id == purchase.id)
                            .order_by(PayPalOrder.id.desc()).limit(1))
    if row is not None:
        if row.status in OPEN and row.approve_url:
            return purchase, row.approve_url
        return purchase, None  # captured: its status page shows the grant arriving
    tutor = db.session.get(User, purchase.tutor_id)
    purchase_id, amount, currency = purchase.id, purchase.price_minor, purchase.currency
    description = f"{purchase.minutes // 60} hours of lessons with {tutor.name}"
    end_read()  # PayPal is called outside any transaction
    try:
        order = paypal.client().create_order(
            intent="CAPTURE", amount_minor=amount, currency=currency, custom_id=f"package_purchase:{purchase_id}",
            invoice_id=f"lessonbook-package-{purchase_id}", description=description,
            return_url=return_url.replace("{PURCHASE_ID}", str(purchase_id)),
            cancel_url=cancel_url.replace("{PURCHASE_ID}", str(purchase_id)),
            request_id=_request_id(purchase_id, "order"))
    except paypal.PayPalError as exc:
        raise PaymentFailed("We could not open PayPal. Nothing was charged; please try again.") from exc
    try:
        with serialized_write() as session:
            session.add(PayPalOrder(order_id=order.id, purchase_id=purchase_id, status="CREATED",
                                    request_id=_request_id(purchase_id, "order"), amount_minor=amount,
                                    currency=currency, approve_url=order.approve_url, created_at=now,
                                    updated_at=now))
            row = session.get(PackagePurchase, purchase_id, populate_existing=True)
            row.expires_at = row.expires_at or now + ORDER_LIFETIME
    except IntegrityError:
        db.session.rollback()  # the other click of a double click recorded this very order (same PayPal-Request-Id)
    return db.session.get(PackagePurchase, purchase_id), order.approve_url


def _own_order(student: User, purchase_id: int, order_id: str | None) -> tuple[PackagePurchase, PayPalOrder]:
    """The student's purchase and the PayPal order of it named in the return URL, or NotFound."""
    purchase = packages.get_purchase(student, purchase_id)
    row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.order_id == (order_id or ""),
                                                      PayPalOrder.purchase_id == purchase.id))
    if row is None:
        raise NotFound("We could not find that PayPal payment.")
    return purchase, row


def finish(student: User, purchase_id: int, order_id: str | None, now: datetime) -> PackagePurchase:
    """Back from PayPal having approved: capture the order and grant the minutes (a reload, or the webhook having
    done it first, finds it done)."""
    purchase, row = _own_order(student, purchase_id, order_id)
    if purchase.state == PurchaseState.PAID or row.status == "CAPTURED":
        return purchase  # granted, or captured and waiting for PayPal to complete it: the status page says which
    if purchase.state != PurchaseState.OPEN or row.status not in OPEN:
        raise Conflict("This PayPal payment was closed before you approved it (it expired or was cancelled), so "
                       "nothing was taken. Choose the package again to buy it.")
    capture(purchase.id, row.order_id, now)
    db.session.expire_all()
    return packages.get_purchase(student, purchase_id)


def capture(purchase_id: int, order_id: str, now: datetime) -> str:
    """Capture an approved order (outside any transaction; PayPal-Request-Id from our ids, so a double click or a
    retry captures once) and record it; an order captured before (by the other click, or the webhook's backstop)
    is read back instead."""
    end_read()
    api = paypal.client()
    try:
        taken = api.capture_order(order_id, request_id=_request_id(purchase_id, f"capture:{order_id}"))
    except paypal.PayPalRefused as exc:
        if exc.issue == "ORDER_NOT_APPROVED":
            raise Conflict("PayPal has not confirmed your approval, so nothing was taken. Use Pay with PayPal "
                           "again.") from exc
        if exc.issue != "ORDER_ALREADY_CAPTURED":
            raise PaymentFailed(f"PayPal refused the payment, so nothing was taken. ({exc})") from exc
        try:
            taken = paypal.capture_from(api.get_order(order_id)["purchase_units"][0]["payments"]["captures"][0])
        except (paypal.PayPalError, KeyError, IndexError) as lookup:
            raise PaymentFailed("PayPal could not be reached to confirm the payment; reload this page to try "
                                "again.") from lookup
    except paypal.PayPalError as exc:
        raise PaymentFailed("PayPal could not be reached to confirm the payment. Reload this page to try "
                            "again; you will not be charged twice.") from exc
    student_id = db.session.scalar(select(PackagePurchase.student_id).where(PackagePurchase.id == purchase_id))
    end_read()
    with serialized_write(wallet.wallet_lock(student_id)):
        return record_capture(order_row(order_id), taken, now)


def record_capture(row: PayPalOrder, taken: paypal.Capture, now: datetime) -> str:
    """Inside the buyer's wallet lock: the order's money was captured (`taken`): record it on our row and, once it
    is COMPLETED, grant the purchase's minutes keyed on the capture id (a PENDING capture waits for
    PAYMENT.CAPTURE.COMPLETED)."""
    if row.capture_id is None:
        row.capture_id = taken.id
    elif row.capture_id != taken.id:
        current_app.logger.error("paypal order %s: second capture %s (first %s)", row.order_id, taken.id,
                                 row.capture_id)
        return "ignored"
    advance(row, "CAPTURED", now)
    if taken.status != "COMPLETED":
        return f"capture-{taken.status.lower()}"
    purchase = db.session.get(PackagePurchase, row.purchase_id, populate_existing=True)
    return packages.grant_purchase(purchase, source_ref=taken.id, amount_minor=taken.amount_minor,
                                   currency=taken.currency, now=now)


def cancel(student: User, purchase_id: int, order_id: str | None, now: datetime) -> PackagePurchase:
    """Back from PayPal having pressed Cancel: the order is closed on our side (never captured, so nothing is
    taken even if it is approved later in another tab) and the purchase ends cancelled, unless it was paid
    meanwhile."""
    purchase, row = _own_order(student, purchase_id, order_id)
    with serialized_write(wallet.wallet_lock(student.id)) as session:
        row = session.get(PayPalOrder, row.id, populate_existing=True)
        purchase = session.get(PackagePurchase, purchase.id, populate_existing=True)
        if row.status in OPEN and row.capture_id is None:
            advance(row, "CANCELLED", now)
            packages.close_unpaid(purchase, PurchaseState.CANCELLED, now)
    return purchase


def order_approved(row: PayPalOrder, now: datetime, after: list) -> str:
    """CHECKOUT.ORDER.APPROVED for a package order (inside the event's write): capture it after the commit when
    the student never came back to our return page."""
    if not advance(row, "APPROVED", now):
        return "already-applied"
    after.append(lambda pid=row.purchase_id, oid=row.order_id: capture_if_waiting(pid, oid, now))
    return "approved"


def capture_if_waiting(purchase_id: int, order_id: str, now: datetime) -> None:
    """The backstop's capture: only while the purchase is open and its order not closed (a Conflict is logged; a
    PayPal outage raises, so the event stays unapplied for the sweep to retry)."""
    purchase = db.session.get(PackagePurchase, purchase_id, populate_existing=True)
    row = order_row(order_id)
    if purchase is None or row is None or purchase.state != PurchaseState.OPEN or row.status not in OPEN:
        return
    try:
        capture(purchase_id, order_id, now)
    except Conflict as exc:
        current_app.logger.info("paypal order %s not captured by the backstop: %s", order_id, exc)


def capture_completed(row: PayPalOrder, resource: dict, now: datetime) -> str:
    """PAYMENT.CAPTURE.COMPLETED for a package order (inside the event's write, under the buyer's wallet lock):
    grant from the capture itself, whether or not our return page got there first."""
    try:
        taken = paypal.capture_from(resource)
    except (KeyError, ValueError, TypeError):
        return "ignored-unreadable"
    return record_capture(row, taken, now)


def expire_abandoned_orders(now: datetime) -> int:
    """Job: close PayPal purchases nobody approved in time as expired, asking PayPal about each outside any
    transaction: an order approved but never captured (the tab closed and the webhook was lost) is captured and
    granted instead, one already captured is granted. Returns how many were closed."""
    closed = 0
    for purchase_id in packages.lapsed(PurchaseMethod.PAYPAL, now):
        row = db.session.scalar(select(PayPalOrder).where(PayPalOrder.purchase_id == purchase_id)
                                .order_by(PayPalOrder.id.desc()).limit(1))
        order_id = row.order_id if row is not None else None
        end_read()
        status, captured = None, None
        if order_id:
            try:
                order = paypal.client().get_order(order_id)
                status = order.get("status")
                captures = ((order.get("purchase_units") or [{}])[0].get("payments") or {}).get("captures") or []
                captured = paypal.capture_from(captures[0]) if captures else None
            except paypal.PayPalRefused as exc:
                if exc.status != 404:
                    current_app.logger.warning("paypal order %s not settled yet: %s", order_id, exc)
                    continue
                status = "GONE"  # PayPal forgets orders nobody approved
            except paypal.PayPalError as exc:
                current_app.logger.warning("paypal order %s not settled yet: %s", order_id, exc)
                continue
        if status == "APPROVED":
            try:
                capture(purchase_id, order_id, now)
            except (Conflict, PaymentFailed) as exc:
                current_app.logger.warning("paypal order %s not captured by the sweep: %s", order_id, exc)
            continue
        student_id = db.session.scalar(select(PackagePurchase.student_id).where(PackagePurchase.id == purchase_id))
        end_read()
        with serialized_write(wallet.wallet_lock(student_id)) as session:
            purchase = session.get(PackagePurchase, purchase_id, populate_existing=True)
            row = order_row(order_id)
            if captured is not None and row is not None:
                record_capture(row, captured, now)
            elif status in (None, "GONE", "CREATED", "PAYER_ACTION_REQUIRED", "SAVED", "VOIDED"):
                if row is not None and row.status in OPEN:
                    advance(row, "CANCELLED", now)
                closed += packages.close_unpaid(purchase, PurchaseState.EXPIRED, now)
    return closed
