"""Fan-out of lesson chat to the WebSockets of this process.

Redis `PUBLISH lesson:<id>` is only a doorbell ("something new in lesson <id>"): the rows are the truth. Each web
process runs ONE subscriber thread (pattern `lesson:*`); on a doorbell for a lesson with sockets here it loads the
rows after the process's cursor for that lesson and hands them to each socket's queue. Every socket has exactly one
writer, the thread that drains its queue, so frames never interleave. The thread that stored a message also hands
it to this process's sockets at once, so same-process chat works with Redis down; the doorbell then only repeats
it (the socket's `Stream` drops the duplicate). When the subscription comes back after an outage, every lesson with
sockets here is reloaded from its cursor, so what other processes stored meanwhile arrives late but arrives.

Presence and typing are droppable: short-lived Redis sorted sets (member → expiry), announced with a doorbell of
their own, never stored in the database.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Callable, Iterable

from redis import Redis, RedisError

from ..domain.chat import Stream

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "lesson:"
MESSAGES = "m"  # doorbell payloads: new messages, or a change in presence/typing
PEOPLE = "p"
PRESENCE_SECONDS = 60  # a socket refreshes its presence with every frame it receives (pings included)
TYPING_SECONDS = 5
QUEUE_LIMIT = 500  # a socket this far behind is closed; its page reconnects and backfills
_CLOSE = object()

# (lesson_id, after_seq) -> [(seq, message)] in sequence order; the message is whatever the loader's caller renders.
Loader = Callable[[int, int], list[tuple[int, dict]]]


class Listener:
    """One WebSocket's place in the hub: a queue of things to send, drained by the socket's only writer."""

    def __init__(self, lesson_id: int, user_id: int, after: int):
        self.lesson_id, self.user_id = lesson_id, user_id
        self.stream = Stream(last=after)
        self.queue: queue.Queue = queue.Queue(maxsize=QUEUE_LIMIT)
        self.closed = threading.Event()

    def offer_messages(self, messages: list[tuple[int, dict]]) -> None:
        self._offer(("messages", messages))

    def offer_event(self, event: dict) -> None:
        self._offer(("event", event))

    def _offer(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except queue.Full:  # a reader this slow is dropped; its page reconnects with the last sequence it saw
            self.close()

    def close(self) -> None:
        self.closed.set()
        try:
            self.queue.put_nowait(_CLOSE)
        except queue.Full:
            pass

    def pump(self, send: Callable[[str], None], render: Callable[[dict], dict]) -> None:
        """The socket's writer loop: messages in sequence order, each once; events as they come; until closed."""
        while not self.closed.is_set():
            item = self.queue.get()
            if item is _CLOSE:
                return
            kind, payload = item
            if kind == "messages":
                for message in self.stream.take(payload):
                    send(json.dumps(render(message)))
            else:
                send(json.dumps(payload))


class Hub:
    """This process's lesson sockets, its subscriber thread, and the doorbells it rings."""

    def __init__(self, redis_url: str | None, load: Loader, connect_timeout: float | None = 2):
        self._redis = Redis.from_url(redis_url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout,
                                     health_check_interval=30) if redis_url else None
        self._redis_url, self._connect_timeout = redis_url, connect_timeout
        self._load = load
        self._lock = threading.Lock()
        self._rooms: dict[int, set[Listener]] = {}
        self._cursors: dict[int, int] = {}  # per lesson: every message up to here was handed to every listener
        self._lesson_locks: dict[int, threading.Lock] = {}
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.subscribed = threading.Event()  # set while the subscription is live (tests and the bench wait on it)

    # --- sockets -------------------------------------------------------------------------------------------

    def join(self, listener: Listener) -> None:
        """Subscribe a socket (before its backfill is loaded, so nothing falls between the two)."""
        with self._lock:
            self._rooms.setdefault(listener.lesson_id, set()).add(listener)
            self._lesson_locks.setdefault(listener.lesson_id, threading.Lock())
            cursor = self._cursors.get(listener.lesson_id)
            self._cursors[listener.lesson_id] = listener.stream.last if cursor is None else \
                min(cursor, listener.stream.last)
        self._start()

    def leave(self, listener: Listener) -> None:
        listener.close()
        with self._lock:
            room = self._rooms.get(listener.lesson_id)
            if room is not None:
                room.discard(listener)
                if not room:
                    del self._rooms[listener.lesson_id]
                    self._cursors.pop(listener.lesson_id, None)

    def listeners(self, lesson_id: int) -> list[Listener]:
        with self._lock:
            return list(self._rooms.get(lesson_id, ()))

    def socket_count(self, user_id: int | None = None) -> int:
        """Sockets open in this process (only `user_id`'s, when given)."""
        with self._lock:
            return sum(1 for room in self._rooms.values() for listener in room
                       if user_id is None or listener.user_id == user_id)

    # --- messages ------------------------------------------------------------------------------------------

    def deliver(self, lesson_id: int) -> None:
        """Load the lesson's rows after this process's cursor and hand them to its sockets here (if any)."""
        with self._lock:
            lesson_lock = self._lesson_locks.get(lesson_id) if lesson_id in self._rooms else None
        if lesson_lock is None:
            return
        with lesson_lock:  # one load per lesson at a time, so the cursor only moves forward over handed-on rows
            with self._lock:
                cursor = self._cursors.get(lesson_id)
            if cursor is None:
                return
            rows = self._load(lesson_id, cursor)
            if not rows:
                return
            for listener in self.listeners(lesson_id):
                listener.offer_messages(rows)
            with self._lock:
                if lesson_id in self._cursors:
                    self._cursors[lesson_id] = max(self._cursors[lesson_id], rows[-1][0])

    def ring(self, lesson_id: int, kind: str = MESSAGES) -> bool:
        """Tell every process something changed in the lesson; False (and logged) when Redis cannot be reached."""
        if self._redis is None:
            return False
        try:
            self._redis.publish(f"{CHANNEL_PREFIX}{lesson_id}", kind)
            return True
        except RedisError as exc:
            log.warning("chat doorbell for lesson %s not rung (Redis: %s); other processes catch up later",
                        lesson_id, exc)
            return False

    # --- presence and typing (droppable) -------------------------------------------------------------------

    def mark(self, lesson_id: int, what: str, member: str, seconds: int) -> None:
        """Note `member` as present/typing for `seconds` (a Redis sorted set of member → expiry); best effort."""
        if self._redis is None:
            return
        key = f"{CHANNEL_PREFIX}{lesson_id}:{what}"
        try:
            pipe = self._redis.pipeline()
            pipe.zadd(key, {member: time.time() + seconds})
            pipe.expire(key, seconds * 2)
            pipe.execute()
        except RedisError:
            pass

    def unmark(self, lesson_id: int, what: str, member: str) -> None:
        if self._redis is None:
            return
        try:
            self._redis.zrem(f"{CHANNEL_PREFIX}{lesson_id}:{what}", member)
        except RedisError:
            pass

    def people(self, lesson_id: int) -> dict[str, list[str]]:
        """Who is here and who is typing right now (empty when Redis is down)."""
        found: dict[str, list[str]] = {"here": [], "typing": []}
        if self._redis is None:
            return found
        try:
            for what in found:
                members = self._redis.zrangebyscore(f"{CHANNEL_PREFIX}{lesson_id}:{what}", time.time(), "+inf")
                found[what] = sorted(m.decode() for m in members)
        except RedisError:
            pass
        return found

    def tell_people(self, lesson_id: int) -> None:
        """Hand the current presence and typing to this process's sockets in the lesson."""
        targets = self.listeners(lesson_id)
        if targets:
            event = {"type": "people", **self.people(lesson_id)}
            for listener in targets:
                listener.offer_event(event)

    # --- the subscriber thread -----------------------------------------------------------------------------

    def _start(self) -> None:
        if self._redis is None:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._subscribe_forever, name="chat-subscriber", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def _subscribe_forever(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            client = Redis.from_url(self._redis_url, socket_connect_timeout=self._connect_timeout,
                                    health_check_interval=30)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.psubscribe(f"{CHANNEL_PREFIX}*")
                pubsub.get_message(timeout=self._connect_timeout)  # the psubscribe confirmation
                self.subscribed.set()
                backoff = 0.2
                self._catch_up(self._lessons())  # whatever other processes stored while we were not listening
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._on_doorbell(message)
            except RedisError as exc:
                if self.subscribed.is_set():
                    log.warning("chat subscription lost (%s); same-process chat goes on, retrying", exc)
                self.subscribed.clear()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception:  # a bad row or loader failure must not end fan-out for the whole process
                log.exception("chat subscriber failed; restarting it")
                self.subscribed.clear()
                self._stopping.wait(backoff)
            finally:
                try:
                    pubsub.close()
                    client.close()
                except RedisError:
                    pass
        self.subscribed.clear()

    def _lessons(self) -> list[int]:
        with self._lock:
            return list(self._rooms)

    def _catch_up(self, lesson_ids: Iterable[int]) -> None:
        for lesson_id in lesson_ids:
            self.deliver(lesson_id)

    def _on_doorbell(self, message: dict) -> None:
        channel = message.get("channel", b"")
        channel = channel.decode() if isinstance(channel, bytes) else str(channel)
        suffix = channel.removeprefix(CHANNEL_PREFIX)
        if not suffix.isdigit():
            return
        lesson_id = int(suffix)
        data = message.get("data", b"")
        kind = data.decode() if isinstance(data, bytes) else str(data)
        if kind == PEOPLE:
            self.tell_people(lesson_id)
        else:
            self.deliver(lesson_id)
