"""Tutor payouts for lessons paid with prepaid minutes: run by the payout job beside the card payouts.

There is no charge per lesson to transfer from: the student paid for a package up front, so the tutor's share is
transferred from the platform's balance (a Connect transfer without source_transaction), once per lesson, after the
same settlement period as card lessons. The lesson's value is what its minutes (those posted and not returned by a
refund) cost the student on average over the packages they had paid for with the tutor by the time they paid with
minutes (domain/packages.minutes_value); the platform keeps the active commission's rate, as on a card lesson. The
amount is decided and recorded in a short locked write (a MinutePayout row per booking), Stripe is called outside
it with a key from the booking and amount, and the transfer is recorded in another write that records nothing if a
second worker got there first.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.funding import Funding
from ..domain.money import Money
from ..domain.packages import PurchaseState, minutes_payout, minutes_value
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, Lesson, MinutePayout, PackagePurchase, PayoutAccount
from . import outbox, wallet
from .locks import LOCK_BOOKING
from .quotes import active_commission


def _due_bookings(now: datetime) -> list[int]:
    """Minute-paid lessons that ended a settlement period ago, not yet transferred, of tutors who can be paid."""
    settled_before = now - timedelta(days=current_app.config["SETTLEMENT_DAYS"])
    transferred = select(MinutePayout.booking_id).where(MinutePayout.transfer_id.is_not(None))
    return list(db.session.scalars(
        select(Booking.id).join(Lesson, Lesson.id == Booking.lesson_id)
        .join(PayoutAccount, PayoutAccount.tutor_id == Lesson.tutor_id)
        .where(Booking.funding == Funding.MINUTES,
               Booking.state.in_([BookingState.PAID, BookingState.PARTIAL_REFUNDED]),
               Lesson.finish_at <= settled_before, PayoutAccount.payouts_enabled.is_(True),
               Booking.id.not_in(transferred))
        .order_by(Booking.id)))


def minutes_worth(session, booking: Booking, minutes: int) -> tuple[int, str]:
    """(value in minor units, currency) of ``minutes`` of a minute-paid booking: what they cost the student on
    average over the packages paid for with the tutor by the time the booking was paid (0 when none was)."""
    paid = session.execute(select(PackagePurchase.price_minor, PackagePurchase.minutes, PackagePurchase.currency)
                           .where(PackagePurchase.student_id == booking.booker_id,
                                  PackagePurchase.tutor_id == booking.lesson.tutor_id,
                                  PackagePurchase.state == PurchaseState.PAID,
                                  PackagePurchase.paid_at <= booking.authorized_at)).all()
    currency = paid[0].currency if paid else booking.currency
    return minutes_value([(p.price_minor, p.minutes) for p in paid if p.currency == currency], minutes), currency


def _decide(booking_id: int) -> MinutePayout | None:
    """Record (or find) the booking's payout row, its amount decided under the booking's lock; None when it was
    transferred meanwhile or nothing is owed."""
    with serialized_write((LOCK_BOOKING, booking_id)) as session:
        row = session.scalar(select(MinutePayout).where(MinutePayout.booking_id == booking_id)
                             .execution_options(populate_existing=True))
        if row is not None:
            return None if row.transfer_id or row.amount_minor <= 0 else row
        booking = session.get(Booking, booking_id)
        posted, returned = wallet.booking_minutes(session, booking_id)
        minutes = max(posted - returned, 0)
        value, currency = minutes_worth(session, booking, minutes)
        commission = active_commission()
        amount = minutes_payout(value, commission.commission_fee_bp if commission else 0)
        row = MinutePayout(booking_id=booking_id, tutor_id=booking.lesson.tutor_id, minutes=minutes,
                           value_minor=value, amount_minor=amount, currency=currency)
        session.add(row)
    return row if amount > 0 else None


def send_minute_payouts(now: datetime) -> int:
    """Transfer each settled minute-paid lesson's payout once from the platform's balance; email the team."""
    booking_ids = _due_bookings(now)
    end_read()
    paid = 0
    for booking_id in booking_ids:
        row = _decide(booking_id)
        if row is None:
            continue
        row_id, amount, currency, tutor_id = row.id, row.amount_minor, row.currency, row.tutor_id
        account = db.session.get(PayoutAccount, tutor_id)
        tutor = db.session.get(Booking, booking_id).lesson.tutor
        context = {"booking_id": booking_id, "tutor_id": tutor_id, "tutor_name": tutor.name,
                   "amount": Money(amount, currency).format()}
        destination = account.stripe_account_id
        end_read()  # no transaction stays open across the Stripe call
        try:
            transfer = gateway.create_transfer(amount_minor=amount, currency=currency, destination=destination,
                                               booking_id=booking_id,
                                               idempotency_key=f"booking:{booking_id}:minute-payout:{amount}")
        except gateway.PaymentError as exc:
            message = getattr(exc, "user_message", None) or str(exc)
            with serialized_write((LOCK_BOOKING, booking_id)) as session:
                session.execute(update(MinutePayout).where(MinutePayout.id == row_id,
                                                           MinutePayout.transfer_id.is_(None))
                                .values(transfer_error=message[:1000]))
                outbox.enqueue_email("payout_status", current_app.config["INTERNAL_TEAM_EMAIL"],
                                     {**context, "transfer_id": None, "error": message},
                                     dedupe_key=f"minute-payout-error:{booking_id}:{now.date().isoformat()}")
            continue
        with serialized_write((LOCK_BOOKING, booking_id)) as session:
            moved = session.execute(update(MinutePayout).where(MinutePayout.id == row_id,
                                                               MinutePayout.transfer_id.is_(None))
                                    .values(transfer_id=transfer.id, transfer_error=None, transferred_at=now))
            if moved.rowcount:
                outbox.enqueue_email("payout_status", current_app.config["INTERNAL_TEAM_EMAIL"],
                                     {**context, "transfer_id": transfer.id, "error": None},
                                     dedupe_key=f"minute-payout:{booking_id}")
                paid += 1
    return paid
