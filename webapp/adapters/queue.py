"""Redis and RQ queues: the small helpers services use to enqueue work after they commit."""
from __future__ import annotations

from flask import current_app
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

# The queues `python worker.py worker` listens on, in priority order.
QUEUE_NAMES = ("default", "mail")
_EXTENSION_KEY = "lessonbook.redis"


class JSONJob(Job):
    """An RQ job stored as JSON, even where rq-scheduler creates jobs without passing a serializer."""

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None):
        super().__init__(id, connection=connection, serializer=serializer or JSONSerializer)


def redis_from_url(url: str | None, connect_timeout: float | None = None) -> Redis:
    """A Redis client for `url`, with a clear error when Redis is not configured."""
    if not url:
        raise RuntimeError("REDIS_URL is not configured; set it, or use `make run`, which starts a Redis for you")
    # Only the connect is bounded: RQ's workers block on reads for minutes by design.
    return Redis.from_url(url, socket_connect_timeout=connect_timeout)


def get_redis() -> Redis:
    """The current app's Redis client (one connection pool per app, made on first use)."""
    client = current_app.extensions.get(_EXTENSION_KEY)
    if client is None:
        client = current_app.extensions[_EXTENSION_KEY] = redis_from_url(
            current_app.config.get("REDIS_URL"), current_app.config.get("REDIS_CONNECT_TIMEOUT_SECONDS"))
    return client


def make_queue(name: str, connection: Redis) -> Queue:
    """An RQ queue that stores jobs as JSON; jobs must take ids and plain values."""
    if name not in QUEUE_NAMES:
        raise ValueError(f"Unknown queue {name!r}: no worker listens on it (queues: {', '.join(QUEUE_NAMES)})")
    return Queue(name, connection=connection, serializer=JSONSerializer, job_class=JSONJob)


def get_queue(name: str = "default") -> Queue:
    """The named queue on the current app's Redis; enqueue by dotted path after the commit."""
    return make_queue(name, get_redis())
