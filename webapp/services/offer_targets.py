"""Who a special offer is for: a student's standing (paid before, with which tutors, chosen for which offers) and the
users an announcement goes to."""
from __future__ import annotations

from sqlalchemy import exists, select

from ..domain.offers import Audience, Standing
from ..domain.roles import Role
from ..extensions import db
from ..models import Booking, Coupon, Lesson, OfferRecipient, PaymentReceipt, User


def standing_of(user: User) -> Standing:
    """What targeting needs to know about this booker, read from the payment receipts and the offers' recipients."""
    tutor_ids = frozenset(db.session.scalars(
        select(Lesson.tutor_id).join(Booking, Booking.lesson_id == Lesson.id)
        .join(PaymentReceipt, PaymentReceipt.booking_id == Booking.id).where(Booking.booker_id == user.id).distinct()))
    chosen = frozenset(db.session.scalars(select(OfferRecipient.coupon_id).where(OfferRecipient.user_id == user.id)))
    return Standing(has_paid_booking=bool(tutor_ids), paid_tutor_ids=tutor_ids, chosen_for=chosen)


def audience_query(coupon: Coupon):
    """A SELECT of the ids of the bookers (students and parents) an offer is for, in id order."""
    paid = (select(Booking.id).join(PaymentReceipt, PaymentReceipt.booking_id == Booking.id)
            .where(Booking.booker_id == User.id))
    query = select(User.id).where(User.role.in_([Role.STUDENT.value, Role.PARENT.value])).order_by(User.id)
    audience = Audience(coupon.audience) if coupon.audience else Audience.EVERYONE
    if audience is Audience.NEW_STUDENTS:
        query = query.where(~exists(paid))
    elif audience is Audience.TUTOR_STUDENTS:
        query = query.where(exists(paid.join(Lesson, Lesson.id == Booking.lesson_id)
                                   .where(Lesson.tutor_id == coupon.audience_tutor_id)))
    elif audience is Audience.CHOSEN_USERS:
        query = query.where(exists(select(OfferRecipient.user_id).where(
            OfferRecipient.coupon_id == coupon.id, OfferRecipient.user_id == User.id)))
    return query
