"""Tutor payouts for lessons paid with prepaid minutes (bought in packages or granted by a monthly plan's paid
invoices): run by the payout job beside the card payouts.

There is no charge per lesson to transfer from: the student paid up front, so the tutor's share is transferred from
the platform's balance (a Connect transfer without source_transaction), once per lesson, after the same settlement
period as card lessons. The lesson's minutes (those posted and not returned by a refund) are valued from the rows:
what the student paid for their lots of minutes with the tutor (a package's price, a subscription invoice's amount
paid) less what earlier lessons were valued at, shared over the minutes not valued yet (domain/packages.minutes_value:
a subscriber's minute is worth the plan's price per minute), rounded down; the platform keeps the active
commission's rate, the tutor's share rounded down too, so the payouts never add up to more than was paid less the
platform's take. The amount is decided and recorded in a short locked write (a MinutePayout row per booking), Stripe
is called outside it with a key from the booking and amount, and the transfer is recorded in another write that
records nothing if a second worker got there first.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from ..adapters import stripe_gateway as gateway
from ..adapters.database import end_read, serialized_write
from ..domain.funding import Funding
from ..domain.money import Money
from ..domain.packages import minute_payout_kept, minutes_payout, minutes_value
from ..domain.states import BookingState
from ..extensions import db
from ..models import Booking, Lesson, MinuteLot, MinutePayout, PayoutAccount, TransferReversal
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
    """(value in minor units, currency) of ``minutes`` of a minute-paid booking, from the rows: what the student paid
    for their lots of minutes with the tutor less what earlier lessons were valued at, shared over the minutes not
    valued yet (domain/packages.minutes_value; 0 when no lot's price is known). A lesson valued before counts
    only for the minutes it still keeps."""
    booker_id, tutor_id = booking.booker_id, booking.lesson.tutor_id
    currency = _pool_currency(session, booker_id, tutor_id) or booking.currency
    paid_minor, granted = session.execute(
        select(func.coalesce(func.sum(MinuteLot.paid_minor), 0), func.coalesce(func.sum(MinuteLot.minutes), 0))
        .where(MinuteLot.user_id == booker_id, MinuteLot.tutor_id == tutor_id, MinuteLot.currency == currency,
               MinuteLot.paid_minor.is_not(None))).one()
    valued_minor = valued_minutes = 0
    for payout in _valued_payouts(session, booker_id, tutor_id, currency):
        kept, _ = _kept_minutes(session, payout)
        valued_minutes += kept
        valued_minor += minute_payout_kept(payout.value_minor, payout.minutes, kept)
    return minutes_value(int(paid_minor), int(granted), valued_minor, valued_minutes, minutes), currency


def _valued_payouts(session, booker_id: int, tutor_id: int, currency: str) -> list[MinutePayout]:
    """The student's minute lessons with the tutor that were valued already (in that currency)."""
    return list(session.scalars(select(MinutePayout).join(Booking, Booking.id == MinutePayout.booking_id).where(
        Booking.booker_id == booker_id, MinutePayout.tutor_id == tutor_id, MinutePayout.currency == currency)))


def _kept_minutes(session, payout: MinutePayout) -> tuple[int, bool]:
    """(minutes the valued lesson still counts for, whether a clawback for its refunded minutes is unsettled).

    Minutes refunded after their lesson was valued are back in the student's balance: they count as not valued
    yet, at their value, once their share of the transfer is back (services/transfer_reversals.py). Until Stripe
    has confirmed that, the tutor still holds that money, so they stay valued (valuing them again would pay the
    tutor twice); a clawback Stripe refused stays so (it needs a person), one pending or not yet asked is
    unsettled, and the payout job waits for it rather than value a lesson on a pool that is about to change."""
    posted, returned = wallet.posted_minutes(session, payout.booking_id)
    kept = max(0, min(payout.minutes, posted - returned))
    if payout.transfer_id is None or kept == payout.minutes:
        return kept, False
    statuses = dict(session.execute(
        select(TransferReversal.status, func.coalesce(func.sum(TransferReversal.amount_minor), 0))
        .where(TransferReversal.booking_id == payout.booking_id).group_by(TransferReversal.status)).all())
    if statuses.get("succeeded", 0) >= payout.amount_minor - minute_payout_kept(payout.amount_minor, payout.minutes,
                                                                                 kept):
        return kept, False
    return payout.minutes, "failed" not in statuses


def clawback_unsettled(session, booker_id: int, tutor_id: int, currency: str) -> bool:
    """Whether a lesson of the student's with the tutor had minutes refunded after its payout whose share of the
    transfer is not back yet (pending, or not yet asked for): the next lesson's value waits for it."""
    return any(_kept_minutes(session, payout)[1] for payout in _valued_payouts(session, booker_id, tutor_id, currency))


def _decide(booking_id: int) -> MinutePayout | None:
    """Record (or find) the booking's payout row, its amount decided under the booking's and the student's wallet
    locks (so two lessons of one student are valued one after the other); None when it was transferred meanwhile or
    nothing is owed."""
    booker_id = db.session.scalar(select(Booking.booker_id).where(Booking.id == booking_id))
    end_read()
    with serialized_write((LOCK_BOOKING, booking_id), wallet.wallet_lock(booker_id)) as session:
        row = session.scalar(select(MinutePayout).where(MinutePayout.booking_id == booking_id)
                             .execution_options(populate_existing=True))
        if row is not None:
            return None if row.transfer_id or row.amount_minor <= 0 else row
        booking = session.get(Booking, booking_id)
        tutor_id = booking.lesson.tutor_id
        posted, returned = wallet.booking_minutes(session, booking_id)
        minutes = max(posted - returned, 0)
        currency = _pool_currency(session, booking.booker_id, tutor_id) or booking.currency
        if clawback_unsettled(session, booking.booker_id, tutor_id, currency):
            return None  # a later run values it, once the refunded minutes' clawback is settled
        value, currency = minutes_worth(session, booking, minutes)
        commission = active_commission()
        amount = minutes_payout(value, commission.commission_fee_bp if commission else 0)
        row = MinutePayout(booking_id=booking_id, tutor_id=tutor_id, minutes=minutes,
                           value_minor=value, amount_minor=amount, currency=currency)
        session.add(row)
    return row if amount > 0 else None


def _pool_currency(session, student_id: int, tutor_id: int) -> str | None:
    """The currency the student paid for their minutes with the tutor in (their first priced lot's)."""
    return session.scalar(select(MinuteLot.currency).where(MinuteLot.user_id == student_id,
                                                           MinuteLot.tutor_id == tutor_id,
                                                           MinuteLot.paid_minor.is_not(None))
                          .order_by(MinuteLot.id).limit(1))


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
