"""Meeting links: one stored meeting per approved online lesson, made by an idempotent job, moved with the lesson
(a provider that lost the room gets a new one), deleted on cancel; a provider or Redis outage only delays it; emails
and the booking page show the stored record and nothing else."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from standins.daily import DailyStandIn
from tests import factories
from tests.conftest import login
from webapp import jobs
from webapp.adapters.meetings import MeetingProviderUnavailable
from webapp.adapters.queue import get_queue
from webapp.domain.states import BookingState, LessonState
from webapp.extensions import db
from webapp.models import Booking, Lesson, Meeting, OutboxMessage
from webapp.services import approvals, cancellations, meetings, reschedules

from .test_payments import authorize, book

pytestmark = pytest.mark.integration


def now() -> datetime:
    return datetime.now(UTC)


def on_grid(at: datetime) -> datetime:
    at = at.replace(second=0, microsecond=0)
    return at + timedelta(minutes=(15 - at.minute % 15) % 15)


def paid_online_lesson(days_ahead: float = 5, **kwargs) -> Lesson:
    return factories.lesson_at(on_grid(now() + timedelta(days=days_ahead)), **kwargs)


def meeting_of(lesson_id: int) -> Meeting | None:
    db.session.rollback()
    return db.session.scalar(select(Meeting).where(Meeting.lesson_id == lesson_id))


def link_mails(lesson_id: int) -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "meeting_link", OutboxMessage.channel == "email",
        OutboxMessage.context["lesson_id"].as_integer() == lesson_id)
        .order_by(OutboxMessage.id)))


def move(lesson: Lesson, by: timedelta) -> None:
    """The lesson's times change, as an accepted reschedule leaves them (the reschedule tests cover that flow)."""
    lesson = db.session.get(Lesson, lesson.id)
    lesson.start_at, lesson.finish_at = lesson.start_at + by, lesson.finish_at + by
    lesson.reschedule_version = (lesson.reschedule_version or 0) + 1
    db.session.commit()


@pytest.fixture
def daily(app):
    """The app on MEETING_PROVIDER=daily, pointed at the Daily stand-in."""
    stand_in = DailyStandIn(api_key="daily_test_key")
    saved = {k: app.config.get(k) for k in ("MEETING_PROVIDER", "DAILY_API_KEY", "DAILY_API_BASE")}
    app.config.update(MEETING_PROVIDER="daily", DAILY_API_KEY="daily_test_key", DAILY_API_BASE=stand_in.url)
    yield stand_in
    app.config.update(saved)
    stand_in.close()


def token_of(daily: DailyStandIn, url: str) -> dict:
    token = url.split("?t=", 1)[1]
    return requests.get(f"{daily.url}/meeting-tokens/{token}", headers={"Authorization": "Bearer daily_test_key"},
                        timeout=5).json()


# --- creating: once, whatever runs it ----------------------------------------------------------------

def test_jitsi_the_job_stores_one_unguessable_room_and_running_it_again_changes_nothing(app):
    lesson = paid_online_lesson()
    assert jobs.sync_meeting(lesson.id) == "created"
    meeting = meeting_of(lesson.id)
    assert (meeting.provider, meeting.status) == ("jitsi", "active")
    assert meeting.join_url == meeting.participant_join_url == f"https://meet.jit.si/{meeting.external_id}"
    assert re.fullmatch(rf"lesson-{lesson.id}-[A-Za-z0-9]{{24}}", meeting.external_id)  # 144 random bits
    assert (meeting.start_at, meeting.finish_at) == (lesson.start_at, lesson.finish_at)
    assert jobs.sync_meeting(lesson.id) == "unchanged"
    assert jobs.sync_meetings() == 0  # nothing is due
    db.session.rollback()
    assert db.session.scalar(select(func.count(Meeting.id))) == 1
    assert meeting_of(lesson.id).external_id == meeting.external_id
    # Each side is sent its link once, built from the stored record.
    mails = link_mails(lesson.id)
    assert sorted(m.to_address for m in mails) == sorted([lesson.tutor.email, lesson.students[0].email])
    assert {m.context["meeting_url"] for m in mails} == {meeting.join_url}


def test_daily_a_private_room_with_the_lessons_window_and_an_owner_token_for_the_tutor_only(app, daily):
    lesson = paid_online_lesson()
    assert meetings.create_or_update(lesson.id, now()) == "created"
    assert meetings.create_or_update(lesson.id, now()) == "unchanged"  # run twice: one room
    meeting = meeting_of(lesson.id)
    rooms = daily.live_rooms()
    assert list(rooms) == [meeting.external_id]
    room = rooms[meeting.external_id]
    assert room["privacy"] == "private"
    assert room["config"] == {"nbf": int((lesson.start_at - timedelta(minutes=15)).timestamp()),
                              "exp": int((lesson.finish_at + timedelta(minutes=30)).timestamp())}
    assert meeting.join_url.startswith(room["url"] + "?t=") and meeting.participant_join_url.startswith(room["url"])
    assert token_of(daily, meeting.join_url) == {"room_name": room["name"], "is_owner": True}
    assert token_of(daily, meeting.participant_join_url) == {"room_name": room["name"], "is_owner": False}
    sent = [r for r in daily.requests if r["method"] == "POST" and r["path"] == "/v1/rooms"]
    assert len(sent) == 1 and sent[0]["headers"]["Authorization"] == "Bearer daily_test_key"
    tutor_mail = next(m for m in link_mails(lesson.id) if m.to_address == lesson.tutor.email)
    assert tutor_mail.context["meeting_url"] == meeting.join_url  # the tutor hosts
    assert all(m.context["meeting_url"] == meeting.participant_join_url for m in link_mails(lesson.id)
               if m.to_address != lesson.tutor.email)


def test_a_lost_answer_from_daily_is_retried_with_the_same_room_name_and_makes_no_second_room(app, daily):
    lesson = paid_online_lesson()
    daily.fail_with = 503
    with pytest.raises(MeetingProviderUnavailable):
        meetings.create_or_update(lesson.id, now())
    reserved = meeting_of(lesson.id)
    assert reserved.status == "pending" and reserved.join_url is None
    # Daily made the room but its answer never arrived: the stand-in holds it, our record does not know.
    daily.fail_with = None
    requests.post(f"{daily.url}/rooms", json={"name": reserved.external_id, "privacy": "private"},
                  headers={"Authorization": "Bearer daily_test_key"}, timeout=5)
    assert meetings.create_or_update(lesson.id, now() + timedelta(hours=1)) == "created"
    assert list(daily.live_rooms()) == [reserved.external_id]
    assert meeting_of(lesson.id).status == "active"


def test_in_person_and_unapproved_lessons_get_no_meeting(app):
    unapproved = paid_online_lesson(booking_state="REQUIRES_CAPTURE")
    assert jobs.sync_meeting(unapproved.id) == "not-needed"
    past = factories.finished_lesson()
    assert jobs.sync_meeting(past.id) == "not-needed"
    lesson = paid_online_lesson()
    db.session.get(Lesson, lesson.id).in_person = True
    db.session.commit()
    assert jobs.sync_meeting(lesson.id) == "not-needed"
    assert db.session.scalar(select(func.count(Meeting.id))) == 0


# --- moving and cancelling ---------------------------------------------------------------------------

def test_a_reschedule_moves_the_daily_room_and_keeps_its_links(app, daily):
    lesson = paid_online_lesson()
    meetings.create_or_update(lesson.id, now())
    m = meeting_of(lesson.id)
    before = (m.external_id, m.join_url, m.participant_join_url)
    move(lesson, timedelta(days=1))
    assert meetings.due_lesson_ids(now()) == [lesson.id]
    assert jobs.sync_meetings() == 1
    after = meeting_of(lesson.id)
    assert (after.external_id, after.join_url, after.participant_join_url) == before
    moved = db.session.get(Lesson, lesson.id)
    assert after.start_at == moved.start_at
    assert daily.live_rooms()[after.external_id]["config"]["exp"] == \
        int((moved.finish_at + timedelta(minutes=30)).timestamp())
    assert len(link_mails(lesson.id)) == 2  # the same links: nobody is emailed again


def test_a_room_the_provider_lost_is_replaced_on_reschedule_and_the_new_links_are_emailed(app, daily):
    lesson = paid_online_lesson()
    meetings.create_or_update(lesson.id, now())
    old_name, old_url = meeting_of(lesson.id).external_id, meeting_of(lesson.id).join_url
    daily.forget(old_name)  # expired or deleted in Daily's dashboard
    move(lesson, timedelta(hours=26))
    assert meetings.create_or_update(lesson.id, now()) == "recreated"
    new = meeting_of(lesson.id)
    assert new.status == "active" and new.external_id != old_name and new.join_url != old_url
    assert list(daily.live_rooms()) == [new.external_id]
    assert db.session.scalar(select(func.count(Meeting.id))) == 1  # one row per lesson, updated
    replaced = [m for m in link_mails(lesson.id) if m.context["replaced"]]
    assert {m.context["meeting_url"] for m in replaced} == {new.join_url, new.participant_join_url}
    assert len(replaced) == 2


def test_a_cancelled_lesson_has_its_room_deleted_once(app, daily):
    lesson = paid_online_lesson()
    meetings.create_or_update(lesson.id, now())
    name = meeting_of(lesson.id).external_id
    db.session.get(Lesson, lesson.id).state = LessonState.CANCELLED
    db.session.get(Lesson, lesson.id).booking.state = BookingState.REFUNDED
    db.session.commit()
    assert meetings.due_lesson_ids(now()) == [lesson.id]
    assert jobs.sync_meeting(lesson.id) == "deleted"
    assert meeting_of(lesson.id).status == "deleted" and daily.live_rooms() == {}
    assert jobs.sync_meeting(lesson.id) == "unchanged"  # run again: nothing more is called
    assert [r["method"] for r in daily.requests if r["path"] == f"/v1/rooms/{name}"] == ["DELETE"]


def test_deleting_a_room_daily_already_dropped_is_fine(app, daily):
    lesson = paid_online_lesson()
    meetings.create_or_update(lesson.id, now())
    daily.forget(meeting_of(lesson.id).external_id)
    db.session.get(Lesson, lesson.id).state = LessonState.CANCELLED
    db.session.commit()
    assert meetings.create_or_update(lesson.id, now()) == "deleted"


# --- outages: delayed, never lost --------------------------------------------------------------------

def test_provider_down_the_job_fails_and_the_sweep_retries_after_the_backoff(app, client, daily):
    lesson = paid_online_lesson()
    daily.fail_with = 503
    with pytest.raises(MeetingProviderUnavailable):
        jobs.sync_meeting(lesson.id)  # RQ records the failure; the work stays in the database
    failed = meeting_of(lesson.id)
    assert failed.status == "pending" and failed.attempts == 1 and "503" in failed.last_error
    assert jobs.sync_meetings() == 0  # still down: the sweep logs it and goes on (no exception escapes)
    # The booking page still answers, and says the link is on its way.
    login(client, lesson.students[0].email, factories.PASSWORD)
    page = client.get(f"/bookings/{lesson.booking.id}")
    assert page.status_code == 200 and "The link to join online is being prepared" in page.text
    daily.fail_with = None
    assert meetings.due_lesson_ids(now()) == []  # waiting for its retry time
    later = (now() + timedelta(minutes=5)).isoformat()
    assert jobs.sync_meetings(later) == 1
    assert meeting_of(lesson.id).status == "active" and meeting_of(lesson.id).last_error is None


def test_redis_down_at_approval_delays_the_meeting_until_the_sweep(app, client, stripe_world, redis_outage):
    booking = authorize(stripe_world, client, book())
    redis_outage.kill()
    approved = approvals.approve(booking.lesson.tutor, booking.id, now())  # no error: the enqueue is best effort
    assert approved.state == BookingState.PAID
    redis_outage.start()
    assert len(get_queue()) == 0  # the job was never queued ...
    assert meetings.due_lesson_ids(now()) == [booking.lesson_id]  # ... but the database says what is due
    assert jobs.sync_meetings() == 1
    assert meeting_of(booking.lesson_id).status == "active"


# --- approval, emails, pages -------------------------------------------------------------------------

def test_approval_queues_the_job_and_lesson_booked_says_the_link_follows_until_the_meeting_exists(
        app, client, stripe_world):
    booking = authorize(stripe_world, client, book())
    approvals.approve(booking.lesson.tutor, booking.id, now())
    queued = [j for j in get_queue().get_jobs() if j.func_name == "webapp.jobs.sync_meeting"]
    assert [list(j.args) for j in queued] == [[booking.lesson_id]]
    db.session.rollback()
    booked = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == "lesson_booked",
                                                                 OutboxMessage.channel == "email")))
    assert len(booked) == 2 and all(m.context["meeting_pending"] and m.context["meeting_url"] is None for m in booked)
    # The follow-up carries the link once the provider made it.
    jobs.sync_meeting(booking.lesson_id)
    meeting = meeting_of(booking.lesson_id)
    assert {m.to_address: m.context["meeting_url"] for m in link_mails(booking.lesson_id)} == {
        booking.lesson.tutor.email: meeting.join_url, booking.booker.email: meeting.participant_join_url}


def test_the_lesson_booked_email_carries_the_stored_link_when_the_meeting_already_exists(app):
    from webapp.services.lesson_messages import meeting_fields
    lesson = paid_online_lesson()
    assert meeting_fields(lesson, for_tutor=False) == {"meeting_url": None, "meeting_pending": True}
    jobs.sync_meeting(lesson.id)
    meeting = meeting_of(lesson.id)
    lesson = db.session.get(Lesson, lesson.id)
    assert meeting_fields(lesson, for_tutor=True) == {"meeting_url": meeting.join_url, "meeting_pending": False}


def test_the_booking_page_shows_join_only_within_the_window_and_only_to_the_lessons_people(app, client):
    soon = on_grid(now() + timedelta(minutes=1))  # within 15 minutes of the start: the room is open
    lesson = factories.lesson_at(soon, booked_at=soon - timedelta(days=3))
    later = paid_online_lesson(days_ahead=3, teacher=lesson.tutor, booker=lesson.students[0])
    for each in (lesson, later):
        jobs.sync_meeting(each.id)
    meeting = meeting_of(lesson.id)
    student = lesson.students[0]
    login(client, student.email, factories.PASSWORD)
    page = client.get(f"/bookings/{lesson.booking.id}").text
    assert 'id="join-lesson"' in page and meeting.participant_join_url in page
    assert meeting.join_url not in page or meeting.join_url == meeting.participant_join_url
    far = client.get(f"/bookings/{later.booking.id}").text
    assert 'id="join-lesson"' not in far and 'id="join-later"' in far

    tutor_client = app.test_client()
    login(tutor_client, lesson.tutor.email, factories.PASSWORD)
    assert meeting.join_url in tutor_client.get(f"/bookings/{lesson.booking.id}").text
    stranger = app.test_client()
    login(stranger, factories.user("student").email, factories.PASSWORD)
    assert meeting.participant_join_url not in stranger.get(f"/bookings/{lesson.booking.id}").text


# --- through the real flows: reschedule answered, lesson cancelled ------------------------------------

def _approved(world, client, days_ahead: int = 10) -> Booking:
    booking = authorize(world, client, book(days_ahead=days_ahead))
    return approvals.approve(booking.lesson.tutor, booking.id, now())


def _run_queued(app) -> list[str]:
    """Run the meeting jobs on the queue, as `worker.py worker` would, and empty it."""
    queue = get_queue()
    done = [job.perform() for job in queue.get_jobs() if job.func_name == "webapp.jobs.sync_meeting"]
    queue.empty()
    return done


def test_an_accepted_reschedule_queues_the_job_that_moves_the_room(app, client, stripe_world, daily):
    booking = _approved(stripe_world, client)
    assert _run_queued(app) == ["created"]
    lesson, tutor = booking.lesson, booking.lesson.tutor
    target = lesson.start_at + timedelta(hours=3)
    reschedules.propose(tutor, lesson.id, target, None, now())
    assert _run_queued(app) == []  # only a proposal: the lesson has not moved
    reschedules.respond(booking.booker, lesson.id, 1, True, now())
    assert _run_queued(app) == ["updated"]
    meeting = meeting_of(lesson.id)
    assert meeting.start_at == target
    assert daily.live_rooms()[meeting.external_id]["config"]["nbf"] == \
        int((target - timedelta(minutes=15)).timestamp())


def test_cancelling_an_approved_lesson_queues_the_job_that_deletes_the_room(app, client, stripe_world, daily):
    booking = _approved(stripe_world, client)
    _run_queued(app)
    name = meeting_of(booking.lesson_id).external_id
    cancellations.cancel_booking(booking.booker, booking.id, "Ill", now())
    assert _run_queued(app) == ["deleted"]
    assert meeting_of(booking.lesson_id).status == "deleted" and name not in daily.live_rooms()
    # The booking page no longer offers a way in.
    login(client, booking.booker.email, factories.PASSWORD)
    assert "Join the lesson" not in client.get(f"/bookings/{booking.id}").text


def test_jobs_running_at_once_leave_one_meeting_and_one_room(app, daily):
    lesson = paid_online_lesson()
    db.session.remove()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def run() -> None:
        with app.app_context():
            barrier.wait()
            try:
                outcomes.append(meetings.create_or_update(lesson.id, now()))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(outcomes) == 4 and "created" in outcomes
    assert db.session.scalar(select(func.count(Meeting.id))) == 1
    assert list(daily.live_rooms()) == [meeting_of(lesson.id).external_id]
    assert len(link_mails(lesson.id)) == 2  # each side told once


def test_the_lesson_room_offers_each_side_its_own_stored_link_and_admins_none(app, client, daily):
    soon = on_grid(now() + timedelta(minutes=1))
    lesson = factories.lesson_at(soon, booked_at=soon - timedelta(days=3))
    jobs.sync_meeting(lesson.id)
    meeting = meeting_of(lesson.id)
    assert meeting.join_url != meeting.participant_join_url  # Daily: the tutor's token is the owner's
    login(client, lesson.students[0].email, factories.PASSWORD)
    room = client.get(f"/lessons/{lesson.id}/room").text
    assert 'id="join-lesson"' in room and meeting.participant_join_url in room and meeting.join_url not in room
    tutor_client = app.test_client()
    login(tutor_client, lesson.tutor.email, factories.PASSWORD)
    room = tutor_client.get(f"/lessons/{lesson.id}/room").text
    assert meeting.join_url in room and meeting.participant_join_url not in room
    admin_client = app.test_client()
    login(admin_client, factories.user("admin").email, factories.PASSWORD)
    room = admin_client.get(f"/lessons/{lesson.id}/room")
    assert room.status_code == 200 and 'id="join-lesson"' not in room.text
