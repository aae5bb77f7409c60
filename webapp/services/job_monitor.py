"""What the background machinery is doing, for the admin jobs page: queues, workers, schedulers, periodic jobs and
failed jobs (with their tracebacks), and putting a failed job back on its queue."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import RedisError
from rq import Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.serializers import JSONSerializer
from rq_scheduler import Scheduler

from ..adapters.queue import QUEUE_NAMES, JSONJob, get_redis, make_queue
from ..extensions import db
from ..models import User
from . import audit
from .errors import Forbidden, NotFound, Unavailable

log = logging.getLogger(__name__)
FAILED_SHOWN = 50  # newest failed jobs listed per queue
ERROR_CHARS = 4000  # the end of a traceback is the part that says what went wrong


@dataclass(frozen=True)
class QueueStats:
    name: str
    queued: int
    running: int
    failed: int
    finished: int


@dataclass(frozen=True)
class WorkerInfo:
    name: str
    state: str
    queues: list[str]
    current_job: str | None


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    func: str
    every: str  # the cron string, or "every N s"
    next_run: datetime | None
    description: str
    queue: str


@dataclass(frozen=True)
class FailedJob:
    queue: str
    id: str
    func: str
    arguments: str
    ended_at: datetime | None
    error: str


@dataclass(frozen=True)
class Overview:
    queues: list[QueueStats]
    workers: list[WorkerInfo]
    schedulers_running: int
    periodic: list[PeriodicJob]
    failed: list[FailedJob]


def _aware(dt: datetime | None) -> datetime | None:
    """RQ and rq-scheduler hand back naive UTC in places."""
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def _every(job) -> str:
    meta = job.meta or {}
    if meta.get("cron_string"):
        return meta["cron_string"]
    return f"every {meta['interval']} s" if meta.get("interval") else "once"


def _error(job) -> str:
    result = job.latest_result()
    text = (result.exc_string if result is not None and result.exc_string else "") or "(no traceback stored)"
    return text[-ERROR_CHARS:]


def _arguments(job) -> str:
    try:
        parts = [repr(a) for a in job.args] + [f"{k}={v!r}" for k, v in job.kwargs.items()]
    except Exception:  # noqa: BLE001 — a job whose data cannot be read is still listed
        return "(unreadable)"
    return ", ".join(parts)


def overview() -> Overview | None:
    """Counts per queue, live workers and schedulers, the periodic jobs with their next run, recent failures.

    None while Redis cannot be reached (the page says so; the work itself waits in the database)."""
    try:
        return _overview()
    except (RedisError, RuntimeError) as exc:
        log.warning("job overview unavailable: %s", exc)
        return None


def _overview() -> Overview:
    connection = get_redis()
    queues, failed = [], []
    for name in QUEUE_NAMES:
        queue = make_queue(name, connection)
        registry = queue.failed_job_registry
        queues.append(QueueStats(name, queue.count, queue.started_job_registry.count, registry.count,
                                 queue.finished_job_registry.count))
        ids = registry.get_job_ids(0, FAILED_SHOWN - 1, desc=True)
        for job in JSONJob.fetch_many(ids, connection=connection, serializer=JSONSerializer):
            if job is not None:
                failed.append(FailedJob(name, job.id, job.func_name, _arguments(job), _aware(job.ended_at),
                                        _error(job)))
    workers = [WorkerInfo(w.name, str(w.get_state()), w.queue_names(), w.get_current_job_id())
               for w in Worker.all(connection=connection)]
    schedulers = sum(1 for key in connection.scan_iter(f"{Scheduler.redis_scheduler_namespace_prefix}*")
                     if not connection.hexists(key, "death"))
    scheduler = Scheduler(connection=connection, job_class=JSONJob)
    periodic = [PeriodicJob(job.id, job.func_name, _every(job), _aware(at), job.description or "", job.origin)
                for job, at in scheduler.get_jobs(with_times=True)]
    failed.sort(key=lambda f: f.ended_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return Overview(queues, workers, schedulers, periodic, failed)


def requeue_failed(admin: User, queue_name: str, job_id: str, now: datetime) -> None:
    """Put one failed job back at the end of its queue (a worker runs it again; jobs are safe to run twice).

    The job lives in Redis, which shares no transaction with the database: the audit entry is committed first
    (the intent, so no requeue ever goes unrecorded), and a requeue Redis then refuses gets an entry saying so."""
    if not admin.is_admin:
        raise Forbidden("Only admins requeue jobs.")
    if queue_name not in QUEUE_NAMES:
        raise NotFound("There is no such queue.")
    try:
        connection = get_redis()
        registry = make_queue(queue_name, connection).failed_job_registry
        job = JSONJob.fetch(job_id, connection=connection, serializer=JSONSerializer) if job_id in registry else None
    except NoSuchJobError:
        job = None
    except (RedisError, RuntimeError) as exc:
        raise _redis_down(job_id, exc) from exc
    if job is None:
        raise NotFound("That job is not among the failed jobs any more.")
    what = {"queue": queue_name, "job_id": job_id, "func": job.func_name, "arguments": _arguments(job)[:500]}
    audit.record(admin, "job.requeue", "job", None, f"Requeued failed job {job_id} ({job.func_name}) on {queue_name}",
                 now, before={**what, "status": "failed"}, after={**what, "status": "queued"})
    db.session.commit()
    try:
        registry.requeue(job_id)
    except (InvalidJobOperation, NoSuchJobError, RedisError) as exc:
        gone = not isinstance(exc, RedisError)
        audit.record(admin, "job.requeue_failed", "job", None,
                     f"Requeue of job {job_id} did not happen: " + ("it left the failed jobs meanwhile" if gone
                                                                      else "Redis could not be reached"),
                     now, before={**what, "status": "failed"}, after={**what, "status": "failed"})
        db.session.commit()
        if gone:
            raise NotFound("That job is not among the failed jobs any more.") from exc
        raise _redis_down(job_id, exc) from exc


def _redis_down(job_id: str, exc: Exception) -> Unavailable:
    log.warning("requeue of %s failed: %s", job_id, exc)
    return Unavailable("Redis cannot be reached just now, so the job was not queued again. "
                       "Try again once it is back.")
