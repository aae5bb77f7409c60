"""Rescheduling with 72 h notice, signed single-use Accept/Decline links, and CheckLessonStatus auto-cancel."""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests import factories
from tests.conftest import csrf_for, csrf_from, login
from tests.integration.test_payments import authorize, book, now
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Lesson, Notification, OutboxMessage
from webapp.services import approvals, availability, bookings, reschedules, signed_links
from webapp.services.bookings import BookingRequest
from webapp.services.errors import Conflict, SlotTaken, ValidationError


def paid(world, client, days_ahead=10) -> Booking:
    booking = authorize(world, client, book(days_ahead=days_ahead))
    return approvals.approve(booking.lesson.tutor, booking.id, now())


def later_slot(lesson, hours=3):
    return lesson.start_at + timedelta(hours=hours)


def mail_to(user, template):
    db.session.rollback()
    return db.session.scalar(select(OutboxMessage).where(OutboxMessage.template == template,
                                                         OutboxMessage.to_address == user.email))


def path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


def test_student_proposes_a_free_time_which_is_held_and_the_tutor_is_asked(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, student, tutor = booking.lesson, booking.booker, booking.lesson.tutor
    new_start = later_slot(lesson)
    moved = reschedules.propose(student, lesson.id, new_start, None, now())
    assert moved.state == LessonState.RESCHEDULE and moved.suggested_start_at == new_start
    assert moved.reschedule_deadline <= now() + timedelta(hours=24)
    mail = mail_to(tutor, "lesson_reschedule")
    assert "/links/reschedule/accept/" in mail.context["accept_url"]
    assert db.session.scalar(select(Notification).where(Notification.user_id == tutor.id,
                                                        Notification.kind == "reschedule_request"))
    # The proposed time is held: nobody else can book it while the proposal stands.
    teach = lesson.teach
    free = availability.find_slots(availability.SlotRequest(tutor.id, teach.id, new_start, new_start +
                                                            timedelta(minutes=1), 60), now()).slots
    assert free == []
    with pytest.raises(SlotTaken):
        bookings.request_booking(factories.user("student"), BookingRequest(tutor.id, teach.id, new_start, 60), now())


def test_rescheduling_needs_72_hours_notice(app, client, stripe_world):
    booking = paid(stripe_world, client, days_ahead=5)
    late = booking.lesson.start_at - timedelta(hours=71)
    with pytest.raises(ValidationError, match="72 hours"):
        reschedules.propose(booking.booker, booking.lesson.id, later_slot(booking.lesson), None, late)


def test_the_proposed_time_must_be_free_for_the_tutor(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson = booking.lesson
    other = book(tutor_teach=(lesson.tutor, lesson.teach), days_ahead=10)
    db.session.rollback()
    other_start = db.session.get(Booking, other.id).lesson.start_at
    if other_start != lesson.start_at:
        with pytest.raises(ValidationError, match="not free"):
            reschedules.propose(booking.booker, lesson.id, other_start, None, now())
    with pytest.raises(ValidationError, match="length"):
        reschedules.propose(booking.booker, lesson.id, later_slot(lesson), later_slot(lesson, 5), now())
    with pytest.raises(Conflict):
        reschedules.propose(booking.booker, lesson.id, later_slot(lesson), None, now())
        reschedules.propose(booking.booker, lesson.id, later_slot(lesson, 6), None, now())


def test_accepting_from_the_email_link_moves_the_lesson_once(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, tutor = booking.lesson, booking.lesson.tutor
    old_start, new_start = lesson.start_at, later_slot(lesson)
    reschedules.propose(booking.booker, lesson.id, new_start, None, now())
    link = path(mail_to(tutor, "lesson_reschedule").context["accept_url"])
    page = client.get(link)  # a mail scanner prefetching the link changes nothing
    assert page.status_code == 200 and "Accept the new time?" in page.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).start_at == old_start
    done = client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert done.status_code == 200 and "The lesson has moved" in done.get_data(as_text=True)
    db.session.rollback()
    moved = db.session.get(Lesson, lesson.id)
    assert (moved.state, moved.start_at, moved.suggested_start_at) == (LessonState.ACTIVE, new_start, None)
    assert mail_to(booking.booker, "reschedule_accepted").context["ics"]["start"] == new_start.isoformat()
    reused = client.post(link, data={"csrf_token": csrf_for(client)})
    # Used up: it says what it did (the new time was accepted) and changes nothing more.
    assert reused.status_code == 200 and "the new time was accepted with it" in reused.get_data(as_text=True)


def test_declining_from_the_email_link_cancels_and_refunds_in_full(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, tutor = booking.lesson, booking.lesson.tutor
    reschedules.propose(booking.booker, lesson.id, later_slot(lesson), None, now())
    link = path(mail_to(tutor, "lesson_reschedule").context["decline_url"])
    page = client.get(link)
    client.post(link, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    db.session.rollback()
    fresh = db.session.get(Booking, booking.id)
    assert fresh.lesson.state == LessonState.CANCELLED and fresh.state == BookingState.REFUNDED
    refunds = stripe_world.client.v1.refunds.list(params={"payment_intent": fresh.payment_intent_id}).data
    assert [r.amount for r in refunds] == [4000]
    # Each calendar file is titled for its recipient: the tutor's names the student (it named the tutor themself).
    student_file = mail_to(booking.booker, "reschedule_declined").context["ics"]
    tutor_file = mail_to(tutor, "lesson_cancelled").context["ics"]
    assert student_file["summary"] == f"{lesson.subject.name} lesson with {tutor.name}"
    assert tutor_file["summary"] == f"{lesson.subject.name} lesson with {booking.booker.name}"
    assert student_file["uid"] == tutor_file["uid"] and tutor_file["cancelled"] is True


@pytest.mark.parametrize("problem", ["tampered", "wrong_purpose", "expired", "stale_version", "unknown_action"])
def test_bad_links_are_refused_with_a_clear_page_and_change_nothing(app, client, stripe_world, problem):
    booking = paid(stripe_world, client)
    lesson, tutor = booking.lesson, booking.lesson.tutor
    reschedules.propose(booking.booker, lesson.id, later_slot(lesson), None, now())
    accept = path(mail_to(tutor, "lesson_reschedule").context["accept_url"])
    token = accept.rsplit("/", 1)[1]
    if problem == "tampered":
        url = accept[:-3] + ("AAA" if not accept.endswith("AAA") else "BBB")
    elif problem == "wrong_purpose":
        url = f"/links/reschedule/decline/{token}"
    elif problem == "expired":
        old = signed_links.make_token(reschedules.PURPOSE_ACCEPT, {"lesson": lesson.id, "v": 1, "user": tutor.id},
                                      now() - timedelta(minutes=1))
        url = f"/links/reschedule/accept/{old}"
    elif problem == "stale_version":
        stale = signed_links.make_token(reschedules.PURPOSE_ACCEPT, {"lesson": lesson.id, "v": 0, "user": tutor.id},
                                        now() + timedelta(hours=1))
        url = f"/links/reschedule/accept/{stale}"
    else:
        url = f"/links/reschedule/maybe/{token}"
    for response in (client.get(url), client.post(url, data={"csrf_token": csrf_for(client)})):
        assert response.status_code == 400
        assert "This link cannot be used" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).state == LessonState.RESCHEDULE


def test_a_refused_link_leads_to_its_lesson_and_the_done_page_names_whom_the_lesson_is_with(
        app, client, stripe_world):
    # Walking it: a reused or expired link said "Open the lesson in Lessonbook" with no link to open; and a tutor who
    # accepted a student's proposal read "Mathematics with <their own name> is now ...".
    booking = paid(stripe_world, client)
    lesson, tutor, student = booking.lesson, booking.lesson.tutor, booking.booker
    reschedules.propose(student, lesson.id, later_slot(lesson), None, now())
    accept = path(mail_to(tutor, "lesson_reschedule").context["accept_url"])
    page = client.get(accept)
    done = client.post(accept, data={"csrf_token": csrf_from(page.get_data(as_text=True))}).get_data(as_text=True)
    assert f"Mathematics with {student.name} is now" in done
    assert f'href="/lessons/{lesson.id}/reschedule"' in done
    for response in (client.get(accept), client.post(accept, data={"csrf_token": csrf_for(client)})):
        html = response.get_data(as_text=True)
        # A refresh or second click after answering: what the link did, not an error.
        assert response.status_code == 200 and "Already answered" in html
        assert "the new time was accepted with it" in html and "cannot be used" not in html
        assert f'<a id="link-lesson" href="/lessons/{lesson.id}/reschedule">Open the lesson</a>' in html
    expired = signed_links.make_token(reschedules.PURPOSE_ACCEPT, {"lesson": lesson.id, "v": 1, "user": tutor.id},
                                      now() - timedelta(minutes=1))
    html = client.get(f"/links/reschedule/accept/{expired}").get_data(as_text=True)
    assert "has expired" in html and f'href="/lessons/{lesson.id}/reschedule"' in html
    tampered = client.get(accept[:-3] + ("AAA" if not accept.endswith("AAA") else "BBB")).get_data(as_text=True)
    assert '<a id="link-lesson" href="/">Open Lessonbook</a>' in tampered  # it names no lesson we can trust


def test_answering_in_the_app_and_withdrawing(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, tutor = booking.lesson, booking.lesson.tutor
    reschedules.propose(tutor, lesson.id, later_slot(lesson), None, now())
    with pytest.raises(Exception):
        reschedules.respond(tutor, lesson.id, 1, True, now())  # the proposer cannot answer themself
    reschedules.withdraw(tutor, lesson.id, now())
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).state == LessonState.ACTIVE
    target = later_slot(lesson, 4)
    reschedules.propose(tutor, lesson.id, target, None, now())
    login(client, booking.booker.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/reschedule").get_data(as_text=True)
    assert "Accept the new time" in page
    client.post(f"/lessons/{lesson.id}/reschedule/respond",
                data={"csrf_token": csrf_for(client), "answer": "accept", "version": "2"})
    db.session.rollback()
    assert db.session.get(Lesson, lesson.id).start_at == target


def test_unanswered_proposals_are_cancelled_with_the_policy_refund_once(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson = booking.lesson
    reschedules.propose(lesson.tutor, lesson.id, later_slot(lesson), None, now())
    assert reschedules.expire_unanswered(now() + timedelta(hours=23)) == 0
    assert reschedules.expire_unanswered(now() + timedelta(hours=25)) == 1
    assert reschedules.expire_unanswered(now() + timedelta(hours=25)) == 0
    db.session.rollback()
    fresh = db.session.get(Booking, booking.id)
    assert fresh.lesson.state == LessonState.CANCELLED and fresh.state == BookingState.REFUNDED
    for person in (fresh.booker, fresh.lesson.tutor):  # both parties hear it, whoever was silent
        mail = mail_to(person, "lesson_cancelled")
        assert mail is not None and "not answered in time" in mail.context["note"]
        assert mail.bcc == app.config["INTERNAL_TEAM_EMAIL"]


def test_the_reschedule_page_lists_free_times_in_the_viewers_zone(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson = booking.lesson
    login(client, booking.booker.email, factories.PASSWORD)
    day = (lesson.start_at + timedelta(days=1)).date().isoformat()
    partial = client.get(f"/lessons/{lesson.id}/reschedule/times?date={day}", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and partial.get_data(as_text=True).lstrip().startswith('<div id="free-times"')
    bad = client.get(f"/lessons/{lesson.id}/reschedule/times?date=soon", headers={"HX-Request": "true"})
    assert bad.status_code == 422
    login(client, factories.user("student").email, factories.PASSWORD)
    assert client.get(f"/lessons/{lesson.id}/reschedule").status_code == 404


def test_a_declined_proposal_tells_both_sides_the_lesson_is_cancelled_and_the_refund(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, tutor, student = booking.lesson, booking.lesson.tutor, booking.booker
    login(client, student.email, factories.PASSWORD)
    before = client.get(f"/lessons/{lesson.id}/reschedule").get_data(as_text=True)
    assert "72 hours from now" not in before
    assert f"If {tutor.name} declines, or does not answer within 24 hours, the lesson is cancelled and £40.00 is " \
           "refunded" in before
    reschedules.propose(student, lesson.id, later_slot(lesson), None, now())
    reschedules.respond(tutor, lesson.id, 1, False, now())
    db.session.rollback()
    for person in (student, tutor):
        notice = db.session.scalar(select(Notification).where(Notification.user_id == person.id,
                                                              Notification.kind == "reschedule_declined"))
        assert notice.title.startswith("Cancelled: Mathematics on ")
        assert "so the lesson is cancelled; £40.00 is refunded." in notice.body
    declined = mail_to(student, "reschedule_declined")
    assert declined.context["refund"] == "£40.00 is refunded" and declined.context["declined_by"] == tutor.name
    assert mail_to(tutor, "lesson_cancelled").context["refund"] == "£40.00"


def test_an_unanswered_proposal_notification_says_cancelled_and_the_refund(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson = booking.lesson
    reschedules.propose(lesson.tutor, lesson.id, later_slot(lesson), None, now())
    reschedules.expire_unanswered(now() + timedelta(hours=25))
    db.session.rollback()
    for person_id in (booking.booker_id, lesson.tutor_id):
        notice = db.session.scalar(select(Notification).where(Notification.user_id == person_id,
                                                              Notification.kind == "lesson_cancelled"))
        assert "is cancelled" in notice.title and notice.body.endswith("£40.00 is refunded.")


def test_answering_no_in_the_app_says_what_happened_to_the_money(app, client, stripe_world):
    booking = paid(stripe_world, client)
    lesson, tutor = booking.lesson, booking.lesson.tutor
    reschedules.propose(booking.booker, lesson.id, later_slot(lesson), None, now())
    login(client, tutor.email, factories.PASSWORD)
    page = client.get(f"/lessons/{lesson.id}/reschedule").get_data(as_text=True)
    assert "Declining cancels the lesson: £40.00 is refunded." in page
    answer = client.post(f"/lessons/{lesson.id}/reschedule/respond", follow_redirects=True,
                         data={"csrf_token": csrf_for(client), "answer": "decline", "version": "1"})
    assert "Declined. The lesson is cancelled. Payment: £40.00 paid, refunded in full." in answer.get_data(as_text=True)
