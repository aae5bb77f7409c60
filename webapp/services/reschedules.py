"""Rescheduling (seed 004): propose a new time with 72 h notice, answer within 24 h by signed link or in the app.

Accept moves the lesson; decline cancels it with the refund the cancellation policy gives; CheckLessonStatus
cancels proposals nobody answered in time (or whose proposed time has passed).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

from flask import current_app
from sqlalchemy import select

from ..adapters.database import serialized_write
from ..domain import labels
from ..domain.analytics import EventName, dedupe_id
from ..domain.availability import slots_by_local_date
from ..domain.travel import Coordinates
from ..domain.states import BookingState, LessonState, next_lesson_state
from ..extensions import db
from ..filters import local
from ..models import Lesson, User
from . import availability, cancellations, lesson_messages, meetings, signed_links
from .analytics import record_event
from .errors import Conflict, Forbidden, ServiceError, ValidationError
from .lessons import get_lesson, is_tutor_of, other_side, student_side, tutor_side
from .locks import LOCK_CHILD, LOCK_TUTOR, LOCK_USER
from .notify import notify
from .urls import public_url

NOTICE = timedelta(hours=72)
RESPONSE_WINDOW = timedelta(hours=24)
MOVABLE_BOOKINGS = (BookingState.REQUIRES_CAPTURE, BookingState.PAID)
PURPOSE_ACCEPT, PURPOSE_DECLINE = "reschedule-accept", "reschedule-decline"


def _party(user: User, lesson: Lesson) -> bool:
    """The tutor or the learner's side (student, parent, booker) may propose and answer; admins may not."""
    return is_tutor_of(user, lesson) or any(r.user.id == user.id for r in student_side(lesson)) or \
        (lesson.booking is not None and lesson.booking.booker_id == user.id)


def can_propose(user: User, lesson: Lesson, now: datetime) -> bool:
    """Whether to offer the reschedule button."""
    return _party(user, lesson) and lesson.state == LessonState.ACTIVE and lesson.start_at - now >= NOTICE \
        and lesson.booking is not None and lesson.booking.state in MOVABLE_BOOKINGS


def responder_for(proposer: User, lesson: Lesson) -> User:
    """Who answers a proposal by `proposer` (and whose silence cancels the lesson)."""
    return other_side(proposer, lesson)[0].user


def outcome_if_declined(proposer: User, lesson: Lesson, now: datetime) -> str:
    """What the proposer is told before sending: a decline or no answer cancels the lesson, with this refund."""
    responder = responder_for(proposer, lesson)
    plan = cancellations.preview_for(responder, lesson.booking, now)
    return (f"If {responder.name} declines, or does not answer within 24 hours, the lesson is cancelled and "
            f"{cancellations.refund_words(plan)}.")


def decline_outcome(responder: User, lesson: Lesson, now: datetime) -> str:
    """What the person answering is told before declining."""
    plan = cancellations.preview_for(responder, lesson.booking, now)
    return f"Declining cancels the lesson: {cancellations.refund_words(plan)}."


def cancelled_outcome(lesson: Lesson) -> str:
    """After a decline: the lesson is cancelled, and where the money stands."""
    receipt = lesson.booking.receipt
    money = labels.payment_words(lesson.booking.state, receipt.amount_minor if receipt else None,
                                 receipt.refunded_minor if receipt else 0, lesson.booking.currency)
    return f"The lesson is cancelled. Payment: {money}."


def propose(user: User, lesson_id: int, suggested_start: datetime, suggested_finish: datetime | None,
            now: datetime) -> Lesson:
    """Propose a new time: it must be 72 h+ before the original start and free for tutor and student."""
    lesson = get_lesson(user, lesson_id)
    if not _party(user, lesson):
        raise Forbidden("Only the tutor or the student's side can reschedule this lesson.")
    if lesson.state == LessonState.RESCHEDULE:
        raise Conflict("A new time has already been proposed; it must be answered first.")
    if lesson.state != LessonState.ACTIVE or lesson.booking is None or lesson.booking.state not in MOVABLE_BOOKINGS:
        raise Conflict("Only a paid, active lesson can be rescheduled.")
    if lesson.start_at - now < NOTICE:
        raise ValidationError("Rescheduling needs at least 72 hours' notice before the lesson starts; you can cancel "
                              "instead.", {"suggested_start": "Less than 72 hours before the lesson."})
    if suggested_start.tzinfo is None:
        raise ValidationError("Send the new time with its zone or offset.", {"suggested_start": "Include an offset."})
    duration = timedelta(minutes=lesson.duration_minutes)
    suggested_finish = suggested_finish or suggested_start + duration
    if suggested_finish - suggested_start != duration:
        message = f"Keep the lesson's length: {lesson.duration_minutes} minutes."
        raise ValidationError(message, {"suggested_finish": message})
    if suggested_start == lesson.start_at:
        raise ValidationError("That is the lesson's current time.", {"suggested_start": "Choose a different time."})
    child = lesson.children[0] if lesson.children else None
    locks = [(LOCK_TUTOR, lesson.tutor_id), (LOCK_CHILD, child.id) if child else
             (LOCK_USER, lesson.students[0].id if lesson.students else user.id)]
    with serialized_write(*locks) as session:
        lesson = session.get(Lesson, lesson_id)
        if lesson.state != LessonState.ACTIVE:
            raise Conflict("This lesson changed meanwhile; reload it.")
        _require_free(lesson, suggested_start, now)
        lesson.state = next_lesson_state(lesson.state, LessonState.RESCHEDULE)
        lesson.suggested_start_at, lesson.suggested_finish_at = suggested_start, suggested_finish
        lesson.reschedule_by_id = user.id
        lesson.reschedule_version = (lesson.reschedule_version or 0) + 1
        lesson.reschedule_deadline = min(now + RESPONSE_WINDOW, suggested_start)
        for recipient in other_side(user, lesson):
            _ask(recipient, lesson, user)
    return lesson


def _slot_request(lesson: Lesson, range_start: datetime, range_end: datetime) -> availability.SlotRequest:
    """A slot search for moving this lesson: its tutor, length and place (its geocoded address, so the tutor's
    travel is estimated rather than given the unknown-place buffer), its own current time not counted as busy."""
    address = lesson.address
    location = None
    if address is not None and address.latitude is not None and address.longitude is not None:
        location = Coordinates(address.latitude, address.longitude)
    return availability.SlotRequest(lesson.tutor_id, lesson.teach_id, range_start, range_end, lesson.duration_minutes,
                                    lesson.in_person, location, ignore_lesson_id=lesson.id)


def free_times(lesson: Lesson, day: date, zone: tzinfo, now: datetime) -> list[datetime]:
    """Free starts on one local date for moving this lesson (the same search a proposal is checked against)."""
    start, end = availability.date_range_in_zone(day, day, zone)
    slots = availability.find_slots(_slot_request(lesson, start, end), now).slots
    return slots_by_local_date(slots, zone).get(day, [])


def _require_free(lesson: Lesson, start: datetime, now: datetime) -> None:
    """The proposed time must be a free slot for the tutor (travel included) and the student."""
    request = _slot_request(lesson, start, start + timedelta(minutes=1))
    if start not in availability.find_slots(request, now).slots:
        raise ValidationError("The tutor is not free at that time. Pick one of the free times.",
                              {"suggested_start": "Not a free slot for the tutor."})
    child = lesson.children[0] if lesson.children else None
    student = lesson.students[0] if lesson.students else None
    if availability.student_overlaps(student.id if student else None, child.id if child else None, start,
                                     start + timedelta(minutes=lesson.duration_minutes), now, lesson.id):
        raise ValidationError("The student already has a lesson at that time.",
                              {"suggested_start": "The student is busy then."})


def _ask(recipient, lesson: Lesson, proposer: User) -> None:
    """Tell the other party, with signed Accept and Decline links valid for the response window."""
    data = {"lesson": lesson.id, "v": lesson.reschedule_version, "user": recipient.user.id}
    accept = signed_links.make_token(PURPOSE_ACCEPT, data, lesson.reschedule_deadline)
    decline = signed_links.make_token(PURPOSE_DECLINE, data, lesson.reschedule_deadline)
    context = lesson_messages.lesson_context(lesson, recipient.zone)
    context.update(
        proposer_name=proposer.name, learner=recipient.learner,
        new_when=local(lesson.suggested_start_at, recipient.zone), deadline=local(lesson.reschedule_deadline,
                                                                                   recipient.zone),
        accept_url=public_url(f"/links/reschedule/accept/{accept}"),
        decline_url=public_url(f"/links/reschedule/decline/{decline}"),
        page_url=public_url(f"/lessons/{lesson.id}/reschedule"))
    notify(recipient.user, kind="reschedule_request", title=f"{proposer.name} asks to move {context['subject']}",
           body=f"New time: {context['new_when']} ({recipient.zone}). Answer by {context['deadline']}.",
           url=f"/lessons/{lesson.id}/reschedule",
           dedupe_key=f"reschedule:{lesson.id}:{lesson.reschedule_version}:{recipient.user.id}",
           email_template="lesson_reschedule", email_context=context)


def respond(user: User, lesson_id: int, version: int, accept: bool, now: datetime,
            link: signed_links.LinkClaims | None = None) -> Lesson:
    """The other party answers a standing proposal: accept moves the lesson, decline cancels it (policy refund)."""
    lesson = get_lesson(user, lesson_id)
    if lesson.state != LessonState.RESCHEDULE or lesson.reschedule_version != version:
        raise Conflict("This proposal is no longer open: it was answered, withdrawn or replaced.")
    if lesson.reschedule_by_id == user.id:
        raise Forbidden("You proposed this time; the other side answers it.")
    if not _party(user, lesson):
        raise Forbidden("Only the tutor or the student's side can answer.")
    if lesson.reschedule_deadline <= now or lesson.suggested_start_at <= now:
        raise Conflict("The time to answer has passed; the lesson is being cancelled.")
    proposer = db.session.get(User, lesson.reschedule_by_id)
    if not accept:
        # Cancel first (Stripe refund), then spend the link and tell everyone in one transaction; a replay
        # meanwhile finds the lesson cancelled and changes nothing.
        plan = cancellations.preview_for(user, lesson.booking, now)
        cancelled = cancellations.cancel_booking(user, lesson.booking.id, "Declined the proposed new time.", now,
                                                 tell_others=False)
        with serialized_write((LOCK_TUTOR, lesson.tutor_id)):
            if link:
                signed_links.consume(link, now)
            _tell_declined(cancelled.lesson, proposer, user, plan)
        return cancelled.lesson
    with serialized_write((LOCK_TUTOR, lesson.tutor_id)) as session:
        lesson = session.get(Lesson, lesson_id)
        if lesson.state != LessonState.RESCHEDULE or lesson.reschedule_version != version:
            raise Conflict("This proposal is no longer open.")
        if link:
            signed_links.consume(link, now)
        lesson.start_at, lesson.finish_at = lesson.suggested_start_at, lesson.suggested_finish_at
        lesson.suggested_start_at = lesson.suggested_finish_at = lesson.reschedule_deadline = None
        lesson.state = next_lesson_state(lesson.state, LessonState.ACTIVE)
        record_event(session, EventName.LESSON_RESCHEDULED, at=now, user_id=user.id, lesson_id=lesson.id,
                     dedupe=dedupe_id(EventName.LESSON_RESCHEDULED, lesson.id, version), tutor_id=lesson.tutor_id)
        booking = lesson.booking
        if booking.approval_deadline and booking.approval_deadline > lesson.start_at:
            booking.approval_deadline = lesson.start_at
        _tell(proposer, lesson, "reschedule_accepted", f"{user.name} accepted the new time")
        # Everyone else in the lesson (say the student when a parent answered) hears it moved.
        for person in [*student_side(lesson), tutor_side(lesson)]:
            if person.user.id not in (proposer.id, user.id):
                _tell(person.user, lesson, "reschedule_accepted", "Your lesson has moved")
    meetings.request_sync(lesson_id)  # moved: its meeting's room follows (a lost room is replaced)
    return lesson


def _tell(person: User, lesson: Lesson, template: str, title: str) -> None:
    context = lesson_messages.lesson_context(lesson, person.timezone, person)
    if template == "reschedule_accepted":
        lesson_messages.attach_calendar(context, lesson, viewer=person)
    elif template == "reschedule_declined":  # a declined proposal cancels the lesson: take it off the calendar
        lesson_messages.attach_calendar(context, lesson, cancelled=True, viewer=person)
    notify(person, kind=template, title=title, body=f"{context['subject']}: {context['when']} ({person.timezone}).",
           url=f"/lessons/{lesson.id}/reschedule",
           dedupe_key=f"{template}:{lesson.id}:{lesson.reschedule_version}:{person.id}",
           email_template=template, email_context={**context, "title": title, "recipient_name": person.name})


def _tell_declined(lesson: Lesson, proposer: User, decliner: User, plan) -> None:
    """Everyone in the lesson hears the outcome: the proposed time was declined, so the lesson is cancelled, with
    the refund in money (the proposer by the reschedule_declined email, the others by the cancellation email)."""
    money = cancellations.refund_words(plan)
    for person in [*student_side(lesson), tutor_side(lesson)]:
        context = lesson_messages.attach_calendar(lesson_messages.lesson_context(lesson, person.zone, person.user),
                                                  lesson, cancelled=True, viewer=person.user)
        declined_by = "You" if person.user.id == decliner.id else decliner.name
        title = f"Cancelled: {context['subject']} on {context['when']}"
        body = (f"{declined_by} declined the proposed new time, so the lesson is cancelled; "
                f"{money}.")
        context.update(title=title, recipient_name=person.user.name, declined_by=declined_by,
                       proposer_name=proposer.name, refund=money, explanation=plan.explanation,
                       cancelled_by=decliner.name, note="Declined the proposed new time.",
                       refund_money=plan.refund.format() if plan.kind == "refund" and plan.refund.amount_minor
                       else None)
        template = "reschedule_declined" if person.user.id == proposer.id else "lesson_cancelled"
        if template == "lesson_cancelled":
            context["refund"] = context.pop("refund_money")
        notify(person.user, kind="reschedule_declined", title=title, body=body, url=f"/bookings/{lesson.booking.id}",
               dedupe_key=f"reschedule_declined:{lesson.id}:{lesson.reschedule_version}:{person.user.id}",
               email_template=template, email_context=context)


def withdraw(user: User, lesson_id: int, now: datetime) -> Lesson:
    """The proposer takes the proposal back; the lesson stays at its time."""
    lesson = get_lesson(user, lesson_id)
    if lesson.state != LessonState.RESCHEDULE or lesson.reschedule_by_id != user.id:
        raise Conflict("There is no proposal of yours to withdraw.")
    with serialized_write((LOCK_TUTOR, lesson.tutor_id)) as session:
        lesson = session.get(Lesson, lesson_id)
        lesson.suggested_start_at = lesson.suggested_finish_at = lesson.reschedule_deadline = None
        lesson.state = next_lesson_state(lesson.state, LessonState.ACTIVE)
    return lesson


def expire_unanswered(now: datetime) -> int:
    """CheckLessonStatus: cancel proposals not answered in time (or whose time has passed), with the policy refund,
    and tell both parties. Safe to run twice: a cancelled lesson is no longer RESCHEDULE."""
    ids = list(db.session.scalars(select(Lesson.id).where(
        Lesson.state == LessonState.RESCHEDULE,
        (Lesson.reschedule_deadline <= now) | (Lesson.suggested_start_at <= now))))
    db.session.commit()
    cancelled = 0
    for lesson_id in ids:
        lesson = db.session.get(Lesson, lesson_id)
        if lesson.state != LessonState.RESCHEDULE:
            continue
        proposer = db.session.get(User, lesson.reschedule_by_id)
        # Whoever did not answer is the canceller for the refund policy.
        silent = other_side(proposer, lesson)[0].user
        try:
            cancellations.cancel_booking(silent, lesson.booking.id,
                                         "Cancelled automatically: the proposed new time was not answered in time.",
                                         now, tell_everyone=True)
        except Exception:  # noqa: BLE001 — Stripe down: leave it for the next run, keep going with the rest
            current_app.logger.exception("could not auto-cancel lesson %s", lesson_id)
            db.session.rollback()
            continue
        cancelled += 1
    return cancelled


def read_link(action: str, token: str, now: datetime) -> tuple[User, Lesson, signed_links.LinkClaims]:
    """Who a signed Accept/Decline link speaks for, and for which standing proposal; LinkError in words otherwise."""
    purpose = {"accept": PURPOSE_ACCEPT, "decline": PURPOSE_DECLINE}.get(action)
    if purpose is None:
        raise signed_links.LinkError("This link is not valid.")
    claims = signed_links.read_token(purpose, token, now)
    try:
        user = db.session.get(User, int(claims.data["user"]))
        lesson = get_lesson(user, int(claims.data["lesson"])) if user else None
    except (KeyError, TypeError, ValueError, ServiceError):
        lesson = None
    if lesson is None:
        raise signed_links.LinkError("This link is not valid.")
    if lesson.reschedule_version != claims.data.get("v") or lesson.suggested_start_at is None:
        raise signed_links.LinkError("This proposal has already been answered or replaced.", claims.data)
    return user, lesson, claims
