"""The periodic jobs of seed 004, run at chosen clock times against the real database and Redis: each run twice at the
same time tells nobody twice; the scheduler holds one entry per fixed id; a real RQ worker runs them; admins see
queues, periodic jobs and failures."""
import json
import signal
import threading
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import JobStatus
from rq_scheduler import Scheduler
from sqlalchemy import select

import worker
from tests import factories
from tests.conftest import csrf_from, login
from webapp import jobs
from webapp.adapters.queue import JSONJob, get_queue, get_redis
from webapp.domain.states import BookingState, LessonState, next_booking_state, next_lesson_state
from webapp.extensions import db
from webapp.models import Lesson, Notification, OutboxMessage, Refund, SummaryNote, TutorReview
from webapp.services import outbox, reminders

# rq-scheduler's crontab call warns about a future default on every cron registration (worker.py silences it too).
pytestmark = pytest.mark.filterwarnings("ignore:Version 0.22.0:FutureWarning")

START = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)  # Wednesday; London is on GMT and New York on EST until mid-March


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """RQ's worker and rq-scheduler install their own SIGINT/SIGTERM handlers; give pytest its own back."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run(job, when: datetime) -> int:
    """Run a job function as the worker would, with the clock at `when`."""
    return job(now=when.isoformat())


def notices(kind: str | None = None) -> list[Notification]:
    db.session.commit()  # a fresh snapshot: the jobs write in their own transactions
    query = select(Notification).order_by(Notification.id)
    return list(db.session.scalars(query.where(Notification.kind == kind) if kind else query))


def messages(template: str) -> list[OutboxMessage]:
    return list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.template == template,
                                                               OutboxMessage.channel == "email")
                                   .order_by(OutboxMessage.id)))


def cancel(lesson: Lesson) -> None:
    """Cancel through the transition tables (the refund itself is the refund tests' business)."""
    lesson.state = next_lesson_state(lesson.state, LessonState.CANCELLED)
    if lesson.booking is not None:
        lesson.booking.state = next_booking_state(lesson.booking.state, BookingState.REFUNDED)
    db.session.commit()


def every_quarter_hour(first: datetime, last: datetime):
    at = first
    while at <= last:
        yield at
        at += timedelta(minutes=15)


# --- the pure reminder rule --------------------------------------------------------------------------

@pytest.mark.parametrize(("booked_before", "now_before", "due"), [
    (timedelta(days=3), timedelta(hours=24, minutes=15), None),  # not yet
    (timedelta(days=3), timedelta(hours=24), "24h"),
    (timedelta(days=3), timedelta(hours=3), "24h"),  # a late run still sends the 24 h one
    (timedelta(days=3), timedelta(hours=2), "2h"),
    (timedelta(days=3), timedelta(minutes=5), "2h"),
    (timedelta(days=3), timedelta(0), None),  # started
    (timedelta(hours=3), timedelta(hours=2, minutes=30), None),  # booked 3 h ahead: no 24 h reminder ...
    (timedelta(hours=3), timedelta(hours=2), "2h"),  # ... only the 2 h one
    (timedelta(hours=1), timedelta(minutes=30), None),  # booked 1 h ahead: none
])
def test_due_reminder_rule(booked_before, now_before, due):
    assert reminders.due_reminder(START, START - booked_before, START - now_before) == due


# --- SendLessonReminderPushNotification --------------------------------------------------------------

def test_reminders_go_out_24_hours_and_2_hours_before_once_each(app):
    student = factories.user("student", timezone="Asia/Tokyo")
    teacher, teach = factories.tutor(timezone="Europe/London")
    lesson = factories.lesson_at(START, teacher=teacher, teach=teach, booker=student)

    assert run(jobs.send_lesson_reminders, START - timedelta(hours=24, minutes=15)) == 0
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=24)) == 2
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=24)) == 0  # the same clock time again
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=23, minutes=45)) == 0
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=2, minutes=15)) == 0
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=2)) == 2
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=2)) == 0
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=1, minutes=45)) == 0
    assert run(jobs.send_lesson_reminders, START) == 0

    sent = notices("lesson_reminder")
    assert sorted((n.user_id, n.dedupe_key.split(":")[2]) for n in sent) == sorted(
        [(student.id, "24h"), (teacher.id, "24h"), (student.id, "2h"), (teacher.id, "2h")])
    to_student = next(n for n in sent if n.user_id == student.id)
    # Times in each recipient's zone: 15:00 UTC is midnight in Tokyo, 15:00 in London (GMT in March).
    assert "Thu 11 Mar, 00:00" in to_student.title and "(Asia/Tokyo)" in to_student.body
    assert "Your Mathematics lesson with" in to_student.body
    to_tutor = next(n for n in sent if n.user_id == teacher.id)
    assert "Wed 10 Mar, 15:00" in to_tutor.title and student.name in to_tutor.body
    assert all(n.url == f"/lessons/{lesson.id}/room" for n in sent)  # reminders lead to the lesson room
    # Push, not email (seed 004: push notifications).
    pushes = list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "push")))
    assert sorted(p.user_id for p in pushes) == sorted([student.id, teacher.id] * 2)
    assert not list(db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email")))


def test_a_late_run_sends_the_due_reminder_once_and_never_a_stale_one(app):
    on_time = factories.lesson_at(START)
    missed_24h = factories.lesson_at(START + timedelta(hours=6))
    # The scheduler was down from the 24 h point of both lessons until 5 hours before `on_time`.
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=5)) == 4  # both get their 24 h reminder late
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=5)) == 0
    # Down again until after both 2 h points: only the 2 h reminders, and still once.
    assert run(jobs.send_lesson_reminders, START + timedelta(hours=4, minutes=30)) == 2  # `missed_24h` only
    assert run(jobs.send_lesson_reminders, START + timedelta(hours=5)) == 0
    labels = {(n.dedupe_key.split(":")[1], n.dedupe_key.split(":")[2]) for n in notices("lesson_reminder")}
    assert labels == {(str(on_time.id), "24h"), (str(missed_24h.id), "24h"), (str(missed_24h.id), "2h")}

    # Down from before the 24 h point until 1 hour before the start: the 2 h one only, never a stale 24 h one.
    late = factories.lesson_at(START + timedelta(days=2))
    assert run(jobs.send_lesson_reminders, late.start_at - timedelta(hours=1)) == 2
    assert {n.dedupe_key.split(":")[2] for n in notices() if n.dedupe_key.startswith(f"reminder:{late.id}:")} == {"2h"}


def test_a_lesson_booked_3_hours_ahead_gets_only_the_2_hour_reminder(app):
    short_notice = factories.lesson_at(START, booked_at=START - timedelta(hours=3))
    last_minute = factories.lesson_at(START + timedelta(hours=6), booked_at=START + timedelta(hours=5))
    for at in every_quarter_hour(START - timedelta(hours=3), START + timedelta(hours=6)):
        run(jobs.send_lesson_reminders, at)
    keys = [n.dedupe_key for n in notices("lesson_reminder")]
    assert sorted(k.split(":")[1:3] for k in keys) == [[str(short_notice.id), "2h"]] * 2
    assert not any(f":{last_minute.id}:" in k for k in keys)


def test_reminders_for_a_lesson_cancelled_after_booking_are_never_sent(app):
    cancelled_at_once = factories.lesson_at(START)
    cancelled_after_24h = factories.lesson_at(START + timedelta(hours=3))
    cancel(cancelled_at_once)
    for at in every_quarter_hour(START - timedelta(hours=25), START - timedelta(hours=21)):
        run(jobs.send_lesson_reminders, at)
    assert {n.dedupe_key.split(":")[1] for n in notices()} == {str(cancelled_after_24h.id)}
    cancel(cancelled_after_24h)
    for at in every_quarter_hour(START - timedelta(hours=21), START + timedelta(hours=3)):
        run(jobs.send_lesson_reminders, at)
    assert [n.dedupe_key.split(":")[1:3] for n in notices()] == [[str(cancelled_after_24h.id), "24h"]] * 2


def test_only_confirmed_lessons_are_reminded_including_those_awaiting_a_reschedule_answer(app):
    unpaid = factories.lesson_at(START, booking_state="AWAITING_PAYMENT", booked_at=START - timedelta(hours=25))
    unapproved = factories.lesson_at(START, booking_state="REQUIRES_CAPTURE")
    without_booking = factories.lesson_at(START, booking_state=None)
    partly_refunded = factories.lesson_at(START, booking_state="PARTIAL_REFUNDED")
    awaiting_answer = factories.lesson_at(START)
    awaiting_answer.state = next_lesson_state(awaiting_answer.state, LessonState.RESCHEDULE)
    awaiting_answer.suggested_start_at = START + timedelta(days=3)
    awaiting_answer.suggested_finish_at = START + timedelta(days=3, hours=1)
    db.session.commit()

    assert run(jobs.send_lesson_reminders, START - timedelta(hours=24)) == 6
    reminded = {int(n.dedupe_key.split(":")[1]) for n in notices()}
    assert reminded == {without_booking.id, partly_refunded.id, awaiting_answer.id}
    assert unpaid.id not in reminded and unapproved.id not in reminded

    # Approved later: the reminder still due goes out at the next run, once.
    unapproved.booking.state = next_booking_state(unapproved.booking.state, BookingState.PAID)
    db.session.commit()
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=10)) == 2
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=10)) == 0


def test_a_moved_lesson_is_reminded_of_its_new_time_and_not_of_the_old_one(app):
    lesson = factories.lesson_at(START)
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=24)) == 2
    new_start = START + timedelta(days=2, hours=3)
    lesson.start_at, lesson.finish_at = new_start, new_start + timedelta(hours=1)  # as an accepted reschedule does
    db.session.commit()
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=2)) == 0  # the old time is gone
    assert run(jobs.send_lesson_reminders, new_start - timedelta(hours=24)) == 2
    assert run(jobs.send_lesson_reminders, new_start - timedelta(hours=24)) == 0
    assert run(jobs.send_lesson_reminders, new_start - timedelta(hours=2)) == 2
    stamps = sorted({n.dedupe_key.split(":")[2] + "@" + n.dedupe_key.split(":")[3] for n in notices()})
    assert stamps == ["24h@20270310T1500Z", "24h@20270312T1800Z", "2h@20270312T1800Z"]


def test_a_parent_is_reminded_about_their_child(app):
    parent = factories.user("parent", timezone="America/New_York")
    kid = factories.child(parent, name="Robin")
    teacher, teach = factories.tutor()
    factories.lesson_at(START, teacher=teacher, teach=teach, for_child=kid)
    assert run(jobs.send_lesson_reminders, START - timedelta(hours=2)) == 2
    to_parent = next(n for n in notices() if n.user_id == parent.id)
    assert to_parent.body.startswith("Robin's Mathematics lesson with") and "Wed 10 Mar, 10:00 (America/New_York)" in to_parent.body


def test_two_runs_at_once_remind_once(app):
    for hours in (0, 2, 4):
        factories.lesson_at(START + timedelta(hours=hours))
    results = []

    def runner():
        with app.app_context():
            results.append(run(jobs.send_lesson_reminders, START - timedelta(hours=20)))

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(results) == 6 and len(notices()) == 6


# --- SendSummaryNoteNotification ----------------------------------------------------------------------

def test_summary_note_reminders_come_at_10_in_the_tutors_zone(app):
    kolkata, kolkata_teach = factories.tutor(timezone="Asia/Kolkata")
    new_york, new_york_teach = factories.tutor(timezone="America/New_York")
    # Both finished on Tuesday 13 July 2027 in the tutor's zone (IST +05:30, EDT -04:00).
    in_kolkata = factories.lesson_at(datetime(2027, 7, 13, 4, 30, tzinfo=UTC), teacher=kolkata, teach=kolkata_teach)
    in_new_york = factories.lesson_at(datetime(2027, 7, 13, 19, 0, tzinfo=UTC), teacher=new_york, teach=new_york_teach)

    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 4, 15, tzinfo=UTC)) == 0  # 09:45 in Kolkata
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 4, 30, tzinfo=UTC)) == 1  # 10:00 in Kolkata
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 4, 30, tzinfo=UTC)) == 0
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 13, 45, tzinfo=UTC)) == 0  # 09:45 in New York
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 14, 0, tzinfo=UTC)) == 1  # 10:00 EDT
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 14, 14, 0, tzinfo=UTC)) == 0
    assert run(jobs.send_summary_note_reminders, datetime(2027, 7, 15, 14, 0, tzinfo=UTC)) == 0  # not the next day

    sent = notices("summary_note_reminder")
    assert [(n.user_id, n.dedupe_key) for n in sent] == [
        (kolkata.id, f"summary-note-reminder:{in_kolkata.id}"), (new_york.id, f"summary-note-reminder:{in_new_york.id}")]
    assert sent[0].url == f"/lessons/{in_kolkata.id}/notes"
    emails = messages("summary_note_reminder")
    assert [(m.to_address, m.context["when"]) for m in emails] == [
        (kolkata.email, "Tue 13 Jul 2027, 10:00"), (new_york.email, "Tue 13 Jul 2027, 15:00")]
    subject, text, html = outbox.render_email("summary_note_reminder", emails[0].context)
    assert "Tue 13 Jul 2027, 10:00" in subject and f"/lessons/{in_kolkata.id}/notes" in text and "Asia/Kolkata" in html
    assert {p.user_id for p in db.session.scalars(select(OutboxMessage).where(
        OutboxMessage.template == "summary_note_reminder", OutboxMessage.channel == "push"))} == {kolkata.id, new_york.id}


def test_in_winter_new_york_tutors_hear_at_15_utc(app):
    teacher, teach = factories.tutor(timezone="America/New_York")
    factories.lesson_at(datetime(2027, 1, 12, 20, 0, tzinfo=UTC), teacher=teacher, teach=teach)  # 15:00 EST
    assert run(jobs.send_summary_note_reminders, datetime(2027, 1, 13, 14, 0, tzinfo=UTC)) == 0  # 09:00 EST
    assert run(jobs.send_summary_note_reminders, datetime(2027, 1, 13, 15, 0, tzinfo=UTC)) == 1
    assert run(jobs.send_summary_note_reminders, datetime(2027, 1, 13, 15, 0, tzinfo=UTC)) == 0
    # A late run the same day finds it already sent.
    assert run(jobs.send_summary_note_reminders, datetime(2027, 1, 13, 22, 0, tzinfo=UTC)) == 0


def test_no_summary_note_reminder_for_noted_cancelled_or_older_lessons(app):
    teacher, teach = factories.tutor(timezone="Europe/London")
    day = datetime(2027, 3, 9, 9, 0, tzinfo=UTC)
    noted = factories.lesson_at(day, teacher=teacher, teach=teach)
    cancelled = factories.lesson_at(day + timedelta(hours=2), teacher=teacher, teach=teach)
    factories.lesson_at(day + timedelta(hours=4), teacher=teacher, teach=teach, booking_state="REQUIRES_CAPTURE")
    factories.lesson_at(day - timedelta(days=1), teacher=teacher, teach=teach)  # the day before yesterday
    due = factories.lesson_at(day + timedelta(hours=6), teacher=teacher, teach=teach)
    db.session.add(SummaryNote(lesson_id=noted.id, tutor_id=teacher.id, body="Fractions."))
    cancel(cancelled)
    # A late run (the scheduler was down at 10:00) still sends, once.
    assert run(jobs.send_summary_note_reminders, datetime(2027, 3, 10, 16, 0, tzinfo=UTC)) == 1
    assert run(jobs.send_summary_note_reminders, datetime(2027, 3, 10, 16, 15, tzinfo=UTC)) == 0
    assert [n.dedupe_key for n in notices()] == [f"summary-note-reminder:{due.id}"]


# --- SendReviewTutorNotification ----------------------------------------------------------------------

def test_review_requests_go_out_from_10_utc_once_per_tutor_and_reviewer_a_day(app):
    teacher, teach = factories.tutor()
    other_tutor, other_teach = factories.tutor(subject_name="Physics")
    student = factories.user("student", timezone="Asia/Tokyo")
    parent = factories.user("parent", timezone="Europe/Paris")
    kid = factories.child(parent, name="Robin")
    yesterday = datetime(2027, 3, 9, tzinfo=UTC)
    morning = factories.lesson_at(yesterday + timedelta(hours=9), teacher=teacher, teach=teach, booker=student)
    afternoon = factories.lesson_at(yesterday + timedelta(hours=14), teacher=teacher, teach=teach, booker=student)
    physics = factories.lesson_at(yesterday + timedelta(hours=11), teacher=other_tutor, teach=other_teach,
                                  booker=student)
    for_kid = factories.lesson_at(yesterday + timedelta(hours=16), teacher=teacher, teach=teach, for_child=kid)
    cancelled = factories.lesson_at(yesterday + timedelta(hours=18), teacher=teacher, teach=teach)
    cancel(cancelled)
    two_days_ago = factories.lesson_at(yesterday - timedelta(hours=10), teacher=teacher, teach=teach)
    past_midnight = factories.lesson_at(yesterday + timedelta(hours=23, minutes=30), teacher=teacher, teach=teach)

    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 9, 45, tzinfo=UTC)) == 0
    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 10, 0, tzinfo=UTC)) == 3
    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 10, 0, tzinfo=UTC)) == 0
    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 10, 15, tzinfo=UTC)) == 0
    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 23, 45, tzinfo=UTC)) == 0

    sent = {(n.user_id, n.url) for n in notices("review_request")}
    assert sent == {(student.id, f"/lessons/{afternoon.id}/review"),  # one for both lessons with `teacher`
                    (student.id, f"/lessons/{physics.id}/review"),
                    (parent.id, f"/lessons/{for_kid.id}/review")}  # the parent reviews for the child
    assert not {f"/lessons/{morning.id}/review", f"/lessons/{two_days_ago.id}/review"} & {url for _, url in sent}
    assert all(f":{teacher.id}:{parent.id}:2027-03-09" in n.dedupe_key or n.user_id != parent.id
               for n in notices("review_request"))
    emails = {m.to_address: m for m in messages("review_tutor") if m.context["tutor_name"] == teacher.name}
    assert set(emails) == {student.email, parent.email}
    to_parent = emails[parent.email]
    assert to_parent.context["review_url"].endswith(f"/lessons/{for_kid.id}/review")
    assert to_parent.context["when"] == "Tue 09 Mar 2027, 17:00"  # the child's zone (the parent's here): Paris
    subject, text, html = outbox.render_email("review_tutor", to_parent.context)
    assert teacher.name in subject and "Robin's Mathematics lesson" in text and to_parent.context["review_url"] in html
    assert "your Mathematics lesson" in outbox.render_email("review_tutor", emails[student.email].context)[1]

    # The next day asks about that day's lessons only: `past_midnight` finished on 10 March.
    assert run(jobs.send_review_requests, datetime(2027, 3, 11, 10, 0, tzinfo=UTC)) == 1
    assert notices("review_request")[-1].url == f"/lessons/{past_midnight.id}/review"


def test_a_reviewed_lesson_is_not_asked_about_again(app):
    teacher, teach = factories.tutor()
    student = factories.user("student")
    yesterday = datetime(2027, 3, 9, tzinfo=UTC)
    earlier = factories.lesson_at(yesterday + timedelta(hours=9), teacher=teacher, teach=teach, booker=student)
    later = factories.lesson_at(yesterday + timedelta(hours=14), teacher=teacher, teach=teach, booker=student)
    db.session.add(TutorReview(lesson_id=later.id, tutor_id=teacher.id, reviewer_id=student.id))
    db.session.commit()
    assert run(jobs.send_review_requests, datetime(2027, 3, 10, 12, 0, tzinfo=UTC)) == 1
    assert [n.url for n in notices()] == [f"/lessons/{earlier.id}/review"]


# --- CheckLessonStatus ----------------------------------------------------------------------------------

def test_check_lesson_status_cancels_an_unanswered_proposal_once(app, client, stripe_world):
    from tests.integration.test_payments import now
    from tests.integration.test_refunds_and_payouts import paid_booking
    from webapp.services import reschedules
    booking = paid_booking(stripe_world, client, days_ahead=5)
    lesson = booking.lesson
    reschedules.propose(lesson.tutor, lesson.id, lesson.start_at + timedelta(days=1), None, now())
    db.session.commit()
    assert run(jobs.check_lesson_status, now() + timedelta(hours=23)) == 0  # still time to answer
    assert run(jobs.check_lesson_status, now() + timedelta(hours=25)) == 1
    assert run(jobs.check_lesson_status, now() + timedelta(hours=25)) == 0
    db.session.commit()
    assert db.session.get(Lesson, lesson.id).state == LessonState.CANCELLED
    assert len(list(db.session.scalars(select(Refund).where(Refund.booking_id == booking.id)))) == 1


# --- the real queue, worker and scheduler --------------------------------------------------------------

def test_jobs_enqueued_as_json_run_in_a_real_worker_and_twice_change_nothing(app):
    lesson = factories.lesson_at(START)
    queue = get_queue()
    at = (START - timedelta(hours=24)).isoformat()
    first = queue.enqueue("webapp.jobs.send_lesson_reminders", now=at)
    second = queue.enqueue("webapp.jobs.send_lesson_reminders", now=at)
    raw = get_redis().hget(first.key, "data")
    assert json.loads(zlib.decompress(raw))[0] == "webapp.jobs.send_lesson_reminders"  # JSON, not pickle
    db.session.commit()

    worker.run_worker(app, burst=True)

    first.refresh()
    second.refresh()
    assert (first.get_status(), second.get_status()) == (JobStatus.FINISHED, JobStatus.FINISHED)
    assert (first.return_value(), second.return_value()) == (2, 0)
    assert {n.dedupe_key.split(":")[1] for n in notices("lesson_reminder")} == {str(lesson.id)}
    assert len(notices("lesson_reminder")) == 2


def test_registering_the_periodic_jobs_twice_keeps_one_entry_per_fixed_id(app):
    connection = get_redis()
    first = worker.register_periodic_jobs(Scheduler(connection=connection, job_class=JSONJob))
    assert len(first) == len(worker.PERIODIC_JOBS)
    # A restart, or a second scheduler process: nothing changes.
    assert worker.register_periodic_jobs(Scheduler(connection=connection, job_class=JSONJob)) == []
    worker.run_scheduler(app, burst=True, interval=1)
    scheduled = list(Scheduler(connection=connection, job_class=JSONJob).get_jobs())
    assert sorted(j.id for j in scheduled) == sorted(spec.id for spec in worker.PERIODIC_JOBS)
    expected = {"periodic-check-lesson-status", "periodic-lesson-reminders", "periodic-summary-note-reminders",
                "periodic-review-requests", "periodic-expire-stale-holds", "periodic-expire-unapproved",
                "periodic-send-pending-payouts", "periodic-deliver-outbox", "periodic-sweep-orphaned-uploads",
                "periodic-apply-stripe-events", "periodic-purge-ended-sessions", "periodic-confirm-pending-refunds",
                "periodic-sync-meetings", "periodic-sync-calendars", "periodic-expire-minute-lots",
                "periodic-apply-paypal-events", "periodic-reverse-overpaid-transfers", "periodic-announce-offers",
                "periodic-homework-digests", "periodic-send-to-mixpanel", "periodic-expire-abandoned-purchases",
                "periodic-record-held-lessons"}
    assert {j.id for j in scheduled} == expected
    by_id = {j.id: j for j in scheduled}
    assert by_id["periodic-review-requests"].meta["cron_string"] == "*/15 * * * *"
    assert by_id["periodic-lesson-reminders"].func_name == "webapp.jobs.send_lesson_reminders"
    # Every periodic job names a real function that takes an optional `now`.
    for spec in worker.PERIODIC_JOBS:
        assert callable(getattr(jobs, spec.func.rsplit(".", 1)[1]))


# --- the admin page ------------------------------------------------------------------------------------

def test_the_jobs_page_is_for_admins_and_shows_queues_periodic_jobs_and_failures(app, client):
    admin = factories.user("admin")
    student = factories.user("student")
    worker.register_periodic_jobs(Scheduler(connection=get_redis(), job_class=JSONJob))
    failing = get_queue().enqueue("webapp.jobs.send_lesson_reminders", now="yesterday-ish")
    db.session.commit()
    worker.run_worker(app, burst=True)
    failing.refresh()
    assert failing.get_status() == JobStatus.FAILED

    assert client.get("/admin/jobs/").status_code == 302  # to the login page
    login(client, student.email, factories.PASSWORD)
    assert client.get("/admin/jobs/").status_code == 403

    client = app.test_client()
    login(client, admin.email, factories.PASSWORD)
    page = client.get("/admin/jobs/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="queues"' in html and '<td data-label="Queue">default</td>' in html and '<td data-label="Queue">mail</td>' in html
    assert "periodic-lesson-reminders" in html and "*/15 * * * *" in html
    assert failing.id in html and "Invalid isoformat string" in html
    assert "Background jobs" in client.get("/admin/").get_data(as_text=True)

    url = f"/admin/jobs/failed/default/{failing.id}/requeue"
    assert client.post(url).status_code == 400  # no CSRF token
    response = client.post(url, data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    assert get_queue().count == 1 and get_queue().failed_job_registry.count == 0
    again = client.post(url, data={"csrf_token": csrf_from(html)}, follow_redirects=True)
    assert "not among the failed jobs" in again.get_data(as_text=True)
