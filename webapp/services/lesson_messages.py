"""What lesson emails say: one context per recipient (their zone), calendar attachments, and the standard notices."""
from __future__ import annotations


from flask import current_app
from sqlalchemy import select

from ..domain.calendar_entry import Attendee, CalendarEntry
from ..domain.fees import FeeBreakdown
from ..domain.funding import Funding, authorization_name
from ..domain.labels import total_label
from ..domain.states import BookingState
from ..domain.money import Money
from ..extensions import db
from ..filters import lesson_with, local
from ..models import Booking, Lesson, Meeting, User
from . import outbox, wallet
from .lessons import Recipient, other_side, room_path, student_side, tutor_side
from .notify import notify
from .urls import public_url


def lesson_context(lesson: Lesson, zone: str, viewer: User | None = None) -> dict:
    """The facts every lesson email shows, with times in the recipient's zone; `with_name` is whom the lesson is
    with as the recipient (`viewer`) sees it: the learners for the tutor, the tutor for everyone else."""
    learners = [c.name for c in lesson.children] + [s.name for s in lesson.students]
    address = lesson.address
    return {
        "lesson_id": lesson.id, "subject": lesson.subject.name, "level": lesson.level.name,
        "tutor_name": lesson.tutor.name, "learners": ", ".join(learners),
        "with_name": lesson_with(lesson, viewer),
        "when": local(lesson.start_at, zone), "until": local(lesson.finish_at, zone, "%H:%M"), "zone": zone,
        "duration": lesson.duration_minutes,
        "where": f"{address.line1}, {address.city}".strip(", ") if address else "Online",
        "lesson_url": public_url(f"/bookings/{lesson.booking.id}" if lesson.booking else "/"),
        "room_url": public_url(room_path(lesson)),
    }


def lesson_entry(lesson: Lesson, cancelled: bool = False, attendees: tuple[Attendee, ...] = (),
                 viewer: User | None = None) -> CalendarEntry:
    """A lesson as a calendar entry: the same UID and SEQUENCE in emailed files and in the subscribed feed; its title
    names whom the lesson is with as `viewer` sees it (the learners in the tutor's calendar, else the tutor)."""
    return CalendarEntry(
        uid=f"lesson-{lesson.id}@lessonbook", start=lesson.start_at, end=lesson.finish_at,
        summary=f"{lesson.subject.name} lesson with {lesson_with(lesson, viewer)}",
        location="Online" if lesson.address is None else lesson.address.line1,
        # Each move or cancellation must outrank the last version a calendar saw.
        sequence=(lesson.reschedule_version or 0) + (1 if cancelled else 0), cancelled=cancelled,
        attendees=attendees)


def calendar_attachment(lesson: Lesson, cancelled: bool = False, viewer: User | None = None) -> dict:
    """The calendar entry for a lesson as `viewer` gets it, as JSON the outbox turns into an .ics file when it sends."""
    people = [tutor_side(lesson), *student_side(lesson)]
    attendees = tuple(dict.fromkeys(Attendee(p.user.email, p.user.name) for p in people))  # a parent of two: once
    return lesson_entry(lesson, cancelled, attendees, viewer).to_json()


def attach_calendar(context: dict, lesson: Lesson, cancelled: bool = False, viewer: User | None = None) -> dict:
    """Add the lesson's calendar entry, titled for the email's recipient (`viewer`), to an email context."""
    context["ics"] = calendar_attachment(lesson, cancelled, viewer)
    return context


def meeting_fields(lesson: Lesson, for_tutor: bool) -> dict:
    """What a lesson email says about the video meeting, from the stored record only (one the provider confirmed):
    the recipient's link (the tutor's hosts), or, until the room is made, that the link will follow by email."""
    if lesson.in_person:
        return {}
    meeting = db.session.scalar(select(Meeting).where(Meeting.lesson_id == lesson.id))
    if meeting is None or meeting.status != "active":
        return {"meeting_url": None, "meeting_pending": True}
    return {"meeting_url": meeting.join_url if for_tutor else meeting.participant_join_url, "meeting_pending": False}


def tell_booked(lesson: Lesson) -> None:
    """LessonBooked: the learner's side hears that the tutor confirmed, with a calendar entry and the meeting link
    (or word that it follows)."""
    for person in [*student_side(lesson), tutor_side(lesson)]:
        context = attach_calendar(lesson_context(lesson, person.zone, person.user), lesson, viewer=person.user)
        context.update(meeting_fields(lesson, for_tutor=person.user.id == lesson.tutor_id))
        notify(person.user, kind="lesson_booked", title=f"{context['subject']} on {context['when']} is confirmed",
               body=f"With {context['with_name']} ({person.zone}).", url=room_path(lesson),
               dedupe_key=f"lesson-booked:{lesson.id}:{person.user.id}", email_template="lesson_booked",
               email_context={**context, "recipient_name": person.user.name})


def tell_receipt(booking: Booking) -> None:
    """Payment receipt to the booker once the card (or PayPal) payment is authorized."""
    receipt = booking.receipt
    lines = [(label, amount.format()) for label, amount in _student_lines(receipt)]
    context = lesson_context(booking.lesson, booking.booker.timezone)
    context.update(recipient_name=booking.booker.name, lines=lines, booking_id=booking.id,
                   total=Money(receipt.amount_minor, receipt.currency).format(),
                   held_by="Your PayPal payment is" if receipt.provider == "paypal" else "Your card is",
                   offer_name=(receipt.coupon.name or receipt.coupon.code) if receipt.coupon else None)
    outbox.enqueue_email("payment_receipt", booking.booker.email, context, dedupe_key=f"receipt:{booking.id}")


def tell_minutes_receipt(booking: Booking, held: int, left: int, other_held: int) -> None:
    """Receipt to the booker once a booking is paid with prepaid minutes: what is held, and what is left."""
    context = lesson_context(booking.lesson, booking.booker.timezone)
    context.update(recipient_name=booking.booker.name, booking_id=booking.id, held=held, left=left,
                   other_held=other_held)
    outbox.enqueue_email("minutes_receipt", booking.booker.email, context,
                         dedupe_key=f"minutes-receipt:{booking.id}")


def _student_lines(receipt):
    return FeeBreakdown.from_dict(receipt.breakdown).student_lines(total_label(BookingState.REQUIRES_CAPTURE))


def tell_not_booked(booking: Booking, expired: bool = False) -> None:
    """BookingDeclined: the booker and the learner's side hear the lesson is not booked and nothing was charged
    (the tutor declined, or did not approve in time)."""
    lesson = booking.lesson
    people = student_side(lesson)
    if all(p.user.id != booking.booker_id for p in people):
        people.append(Recipient(booking.booker, booking.booker.timezone, booking.booker.name))
    receipt = booking.receipt
    released = Money(receipt.amount_minor, receipt.currency).format() if receipt else None
    if booking.funding == Funding.MINUTES:
        held = wallet.booking_minutes(db.session, booking.id)[0]
        released_words = (f"The {held} minutes held for it are back in your balance; nothing was spent." if held
                          else "Nothing was spent.")
    else:
        released_words = (f"The {authorization_name(booking.funding)} of {released} was released; you were not "
                          "charged." if released else "You were not charged.")
    reason = (f"{lesson.tutor.name} did not approve in time, so" if expired else f"{lesson.tutor.name} declined, so")
    short = "not approved in time" if expired else "declined by the tutor"
    for person in people:
        context = lesson_context(lesson, person.zone)
        context.update(recipient_name=person.user.name, reason=reason, reason_short=short, released=released,
                       released_words=released_words, rebook_url=public_url(f"/tutors/{lesson.tutor_id}"))
        body = f"{reason} it is not booked. {released_words}"
        notify(person.user, kind="booking_declined",
               title=f"Not booked: {context['subject']} on {context['when']} ({short})", body=body,
               url=_path(lesson), dedupe_key=f"booking-not-booked:{booking.id}:{person.user.id}",
               email_template="booking_declined", email_context=context)


def tell_cancelled(lesson: Lesson, by: User, note: str, refund: Money | None, everyone: bool = False,
                   refund_words: str | None = None) -> None:
    """LessonCancelled to the other party (both sides when an admin or a job cancels), BCC the internal team.
    ``refund_words`` says what came back when it was not money (prepaid minutes)."""
    everyone = everyone or by.is_admin
    people: list[Recipient] = [*student_side(lesson), tutor_side(lesson)] if everyone else other_side(by, lesson)
    for person in people:
        if person.user.id == by.id and not everyone:
            continue
        context = attach_calendar(lesson_context(lesson, person.zone, person.user), lesson, cancelled=True,
                                  viewer=person.user)
        context.update(recipient_name=person.user.name, cancelled_by=by.name, note=note,
                       refund=refund_words or (refund.format() if refund and refund.amount_minor else None))
        outcome = (f"Refund: {refund_words}." if refund_words
                   else f"{refund.format()} is refunded." if refund and refund.amount_minor else "")
        notify(person.user, kind="lesson_cancelled", title=f"{context['subject']} on {context['when']} is cancelled",
               body=" ".join(part for part in (note, outcome) if part), url=_path(lesson), dedupe_key=f"lesson-cancelled:{lesson.id}:{person.user.id}",
               email_template="lesson_cancelled", email_context=context,
               bcc=[current_app.config["INTERNAL_TEAM_EMAIL"]])


def _path(lesson: Lesson) -> str:
    return f"/bookings/{lesson.booking.id}" if lesson.booking else "/"


def tell_minutes_refunded(booking: Booking, minutes: int, available_after: int, dedupe_key: str) -> None:
    """MinutesRefunded: the booker hears that staff returned some of a lesson's minutes to their balance (written
    in the refund's own transaction, once per refund)."""
    context = lesson_context(booking.lesson, booking.booker.timezone)
    context.update(recipient_name=booking.booker.name, booking_id=booking.id, minutes=minutes,
                   available=available_after)
    outbox.enqueue_email("minutes_refunded", booking.booker.email, context, dedupe_key=f"{dedupe_key}:email")
