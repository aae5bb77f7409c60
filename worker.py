"""Background processes: the RQ worker and the rq-scheduler that feeds it periodic jobs.

    python worker.py worker [--burst]      run jobs from the queues in QUEUE_NAMES
    python worker.py scheduler [--burst]   register PERIODIC_JOBS, then move due jobs onto their queues

This is the only place that builds the app for RQ and registers scheduled jobs.
"""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from datetime import UTC, datetime
from typing import NamedTuple

from flask import Flask
from rq import Worker
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from webapp import create_app
from webapp.adapters.queue import QUEUE_NAMES, JSONJob, get_redis, make_queue
from webapp.extensions import db


class PeriodicJob(NamedTuple):
    id: str  # fixed, so re-registering replaces instead of doubling
    func: str  # dotted path of a function in webapp.jobs
    every: str | int  # a cron string (rq-scheduler reads it in the machine's local time) or an interval in seconds
    description: str
    queue: str = "default"
    timeout: int = 240  # seconds; below the period so one run ends before the next is due


# rq-scheduler asks crontab for the next run with a naive local time; crontab warns about a default it
# has announced changing for years. The times are right (naive local, converted to UTC), so keep logs quiet.
warnings.filterwarnings("ignore", category=FutureWarning, module="rq_scheduler.utils")

PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("periodic-expire-stale-holds", "webapp.jobs.expire_stale_holds", "*/5 * * * *",
                "Expire unpaid booking holds and free their slots"),
    PeriodicJob("periodic-expire-unapproved", "webapp.jobs.expire_unapproved_bookings", "*/15 * * * *",
                "Release authorizations tutors did not approve in time"),
    PeriodicJob("periodic-send-to-mixpanel", "webapp.jobs.send_to_mixpanel", "* * * * *",
                "Send analytics events to Mixpanel (only with MIXPANEL_TOKEN)"),
    PeriodicJob("periodic-record-held-lessons", "webapp.jobs.record_held_lessons", "*/15 * * * *",
                "Record the lesson-held analytics event for lessons that ended and took place"),
    PeriodicJob("periodic-announce-offers", "webapp.jobs.announce_offers", "*/15 * * * *",
                "Finish requested special-offer announcement emails"),
    PeriodicJob("periodic-send-pending-payouts", "webapp.jobs.send_pending_payouts", "*/15 * * * *",
                "Transfer settled tutor payouts (SendPendingPayouts)"),
    PeriodicJob("periodic-reverse-overpaid-transfers", "webapp.jobs.reverse_overpaid_transfers", "*/5 * * * *",
                "Take back the tutor's share of refunds made after their payout"),
    PeriodicJob("periodic-deliver-outbox", "webapp.jobs.deliver_outbox", "* * * * *",
                "Deliver due emails from the outbox"),
    PeriodicJob("periodic-apply-stripe-events", "webapp.jobs.apply_stripe_events", "* * * * *",
                "Apply stored Stripe webhook events that no job has applied yet"),
    PeriodicJob("periodic-apply-paypal-events", "webapp.jobs.apply_paypal_events", "* * * * *",
                "Apply stored PayPal webhook events that no job has applied yet"),
    PeriodicJob("periodic-sync-meetings", "webapp.jobs.sync_meetings", "* * * * *",
                "Create, move or delete the video meetings of lessons whose meeting is not in step"),
    PeriodicJob("periodic-confirm-pending-refunds", "webapp.jobs.confirm_pending_refunds", "*/5 * * * *",
                "Book refunds whose answer from Stripe or PayPal was lost; drop those Stripe never received"),
    # Seed 004. The daily ones also run every 15 minutes and act from 10:00 (UTC, or the tutor's zone) on, once a
    # day by their dedupe keys: a cron "0 10 * * *" would mean 10:00 in the machine's zone, and one missed run
    # would lose the day. "*/15" fires at the same instants in every zone whose offset is whole quarter-hours.
    PeriodicJob("periodic-check-lesson-status", "webapp.jobs.check_lesson_status", "*/15 * * * *",
                "Cancel reschedule proposals nobody answered in time (CheckLessonStatus)"),
    PeriodicJob("periodic-lesson-reminders", "webapp.jobs.send_lesson_reminders", "*/15 * * * *",
                "Reminders 24 h and 2 h before each lesson (SendLessonReminderPushNotification)"),
    PeriodicJob("periodic-summary-note-reminders", "webapp.jobs.send_summary_note_reminders", "*/15 * * * *",
                "From 10:00 tutor time: notes for yesterday's lessons (SendSummaryNoteNotification)"),
    PeriodicJob("periodic-review-requests", "webapp.jobs.send_review_requests", "*/15 * * * *",
                "From 10:00 UTC: review requests for yesterday's lessons (SendReviewTutorNotification)"),
    PeriodicJob("periodic-sync-calendars", "webapp.jobs.sync_calendars", "*/15 * * * *",
                "Read tutors' connected calendars and replace their busy time"),
    PeriodicJob("periodic-sweep-orphaned-uploads", "webapp.jobs.sweep_orphaned_uploads", "7 * * * *",
                "Delete uploaded files no attachment points at"),
    PeriodicJob("periodic-expire-abandoned-purchases", "webapp.jobs.expire_abandoned_purchases", "*/15 * * * *",
                "Close package purchases whose Checkout or PayPal order lapsed unpaid as expired"),
    PeriodicJob("periodic-expire-minute-lots", "webapp.jobs.expire_minute_lots", "41 * * * *",
                "Record the unused minutes of expired packages as expired"),
    PeriodicJob("periodic-purge-ended-sessions", "webapp.jobs.purge_ended_sessions", "23 3 * * *",
                "Forget log-ins past their lifetime and expired API tokens"),
    # Sunday 17:00 in each parent's own zone: a cron "0 17 * * 0" would be 17:00 in the machine's zone for everyone.
    PeriodicJob("periodic-homework-digests", "webapp.jobs.send_homework_digests", "*/15 * * * *",
                "Weekly homework digest to parents, from Sunday 17:00 in each parent's time zone"),
)
# Scheduled jobs whose id has this prefix but are no longer in the table get removed at start-up.
PERIODIC_PREFIX = "periodic-"  # (RQ job ids allow only letters, digits, "_" and "-")


class AppWorker(Worker):
    """An RQ worker that runs each job inside an app context of the one app built at start-up."""

    def __init__(self, *args, app: Flask, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app

    def perform_job(self, job, queue, *args, **kwargs):
        with self.app.app_context():
            # The job runs in a forked work horse: never reuse pooled DB connections inherited from the parent.
            db.engine.dispose(close=False)
            return super().perform_job(job, queue, *args, **kwargs)


def run_worker(app: Flask, burst: bool) -> bool:
    """Work the queues until stopped (or until they are empty, with --burst)."""
    import webapp.jobs  # noqa: F401  (fail fast on a broken import; forked horses inherit the loaded module)

    with app.app_context():
        connection = get_redis()
    queues = [make_queue(name, connection) for name in QUEUE_NAMES]
    worker = AppWorker(queues, connection=connection, serializer=JSONSerializer, job_class=JSONJob, app=app)
    return worker.work(burst=burst, logging_level="INFO")


def _matches(job, spec: PeriodicJob) -> bool:
    meta = job.meta or {}
    when = meta.get("cron_string") if isinstance(spec.every, str) else meta.get("interval")
    return (job.func_name == spec.func and when == spec.every and job.origin == spec.queue
            and job.timeout == spec.timeout and job.description == spec.description)


def register_periodic_jobs(scheduler: Scheduler) -> list[str]:
    """Make the scheduler hold exactly PERIODIC_JOBS, each once, under its fixed id; returns what changed."""
    changes = []
    wanted = {spec.id for spec in PERIODIC_JOBS}
    for job in scheduler.get_jobs():
        if job.id.startswith(PERIODIC_PREFIX) and job.id not in wanted:
            scheduler.cancel(job)
            job.delete()
            changes.append(f"removed {job.id}")
    scheduled = {job.id: job for job in scheduler.get_jobs() if job.id in wanted}
    for spec in PERIODIC_JOBS:
        existing = scheduled.get(spec.id)
        if existing is not None and _matches(existing, spec):
            continue  # unchanged: keep its next run time
        scheduler.cancel(spec.id)
        common = {"id": spec.id, "queue_name": spec.queue, "timeout": spec.timeout, "description": spec.description}
        if isinstance(spec.every, str):
            scheduler.cron(spec.every, spec.func, **common)
        else:
            scheduler.schedule(datetime.now(UTC), spec.func, interval=spec.every, **common)
        changes.append(f"{'updated' if existing is not None else 'added'} {spec.id} ({spec.every})")
    return changes


def run_scheduler(app: Flask, burst: bool, interval: float) -> None:
    """Register the periodic jobs, then enqueue due jobs every `interval` seconds (once, with --burst)."""
    with app.app_context():
        connection = get_redis()
    scheduler = Scheduler(connection=connection, interval=interval, job_class=JSONJob)
    log = logging.getLogger("lessonbook.scheduler")
    for change in register_periodic_jobs(scheduler):
        log.info("periodic job %s", change)
    log.info("%d periodic job(s) scheduled: %s", len(PERIODIC_JOBS), ", ".join(spec.id for spec in PERIODIC_JOBS))
    scheduler.run(burst=burst)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run an RQ worker over: " + ", ".join(QUEUE_NAMES))
    worker.add_argument("--burst", action="store_true", help="quit when the queues are empty")
    scheduler = sub.add_parser("scheduler", help="register periodic jobs and run rq-scheduler")
    scheduler.add_argument("--burst", action="store_true", help="enqueue what is due once, then quit")
    scheduler.add_argument("--interval", type=float, default=15.0, help="seconds between checks (default 15)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    if args.command == "worker":
        run_worker(app, burst=args.burst)
    else:
        run_scheduler(app, burst=args.burst, interval=args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
