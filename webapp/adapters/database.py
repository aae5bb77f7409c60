"""Database engine tuning and the serialized write transaction used by booking and money writes.

Rule (README, "Transactions and the outside world"): no network call inside a write transaction. A service
reads, calls out with an idempotency key from our ids, then records the result in a short `serialized_write`
that re-checks the state (or records the intent, commits, calls, and records the result).

SQLite and concurrent writers. SQLite has one write lock for the whole file. A transaction that began with a plain
(deferred) BEGIN reads from a snapshot; when it then writes and another connection has committed since the
snapshot, SQLite refuses the lock upgrade at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) instead of
waiting, because waiting could never help. So every transaction that writes must hold the write lock from its
start. `configure_engine` makes that the rule for the whole app: the first INSERT/UPDATE/DELETE/DDL statement of a
transaction that has only read so far ends that read-only transaction and starts `BEGIN IMMEDIATE` (which waits
up to the busy timeout for the lock), then runs the statement. Nothing has been written yet, so nothing is lost;
the write sees rows committed meanwhile, exactly as PostgreSQL's READ COMMITTED does, and checks that must not
interleave with other writes use `serialized_write`, which takes the lock before its re-check reads.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ..extensions import db

_BEGIN_IMMEDIATE: ContextVar[bool] = ContextVar("begin_immediate", default=False)
_WRITE_LOCKED = "lessonbook.write_locked"  # connection info: this transaction holds SQLite's write lock
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
SQLITE_BUSY_TIMEOUT_MS = 30000  # how long a writer waits for the write lock before "database is locked"


def configure_engine(engine: Engine) -> None:
    """SQLite: foreign keys, WAL, a busy timeout, and transactions that hold the write lock before they write."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so our BEGIN statements are the ones that run.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = _BEGIN_IMMEDIATE.get()
        conn.info[_WRITE_LOCKED] = immediate
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _take_write_lock_before_first_write(conn, cursor, statement, _parameters, _context, _executemany):
        if conn.info.get(_WRITE_LOCKED, True) or not _is_write(statement) or conn.in_nested_transaction():
            return  # (a COMMIT would also end an open SAVEPOINT: those transactions keep SQLite's own upgrade)
        raw = conn.connection.driver_connection
        if raw.in_transaction:
            # Only reads so far: end the read snapshot and wait for the write lock (busy timeout) instead of
            # failing the upgrade at once.
            raw.execute("COMMIT")
        raw.execute("BEGIN IMMEDIATE")
        conn.info[_WRITE_LOCKED] = True


def _is_write(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)
    return bool(head) and head[0].upper() in _WRITES


_FLUSHED = "lessonbook.flushed"


@event.listens_for(Session, "after_flush")
def _remember_flush(session, _context):
    # A flushed change is invisible to session.new/dirty but is still uncommitted work in the transaction.
    session.info[_FLUSHED] = True


@event.listens_for(Session, "after_transaction_end")
def _forget_flush(session, transaction):
    if transaction.parent is None:
        session.info.pop(_FLUSHED, None)


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def insert_unless_present(session: Session, model, key: str, **values):
    """INSERT … ON CONFLICT (key) DO NOTHING in the session's transaction; the new row's id, or None when a row with
    that key exists (or another transaction committed one meanwhile: PostgreSQL waits for it, then does nothing).

    For rows written at most once by a key (dedupe keys): two writers at the same moment end with one row and
    neither transaction fails, where a check-then-add would fail the second on the unique index."""
    insert = _INSERTS[session.get_bind().dialect.name]
    return session.scalar(insert(model).values(**values).on_conflict_do_nothing(index_elements=[key])
                          .returning(model.id))


class ForeignChanges(RuntimeError):
    """serialized_write was entered with changes some earlier code left in the session (a bug, not user input)."""


def has_pending_changes(session: Session) -> bool:
    """Whether the session holds changes not yet committed: unflushed objects, or flushed writes."""
    if session.new or session.deleted or session.info.get(_FLUSHED):
        return True
    return any(session.is_modified(obj) for obj in session.dirty)


def end_read() -> None:
    """End the session's read-only transaction before a network call (no transaction stays open across it).

    Refuses (ForeignChanges) when the session holds changes: committing them here would be an accident."""
    session = db.session()
    if has_pending_changes(session):
        raise ForeignChanges("a network call was about to run with uncommitted changes in the session")
    if session.in_transaction():
        session.commit()  # nothing to write: this only ends the snapshot


@contextmanager
def serialized_write(*lock_keys: tuple[int, int]):
    """Run the block in one transaction that no other booking write interleaves with, then commit.

    SQLite: BEGIN IMMEDIATE takes the database write lock before the re-check reads.
    PostgreSQL: transaction-scoped advisory locks on the given (namespace, id) keys; the exclusion
    constraint on lessons stays the final guard.
    Refuses (raises ForeignChanges) when the session already holds changes it did not make: committing them
    here would write them outside the lock and without the re-check, or after a network call.
    """
    session = db.session()  # the real Session behind the scoped proxy
    if has_pending_changes(session):
        raise ForeignChanges("serialized_write was entered with uncommitted changes it did not make; "
                             "commit or discard them first")
    if session.in_transaction():
        session.commit()  # end the read transaction the request opened so the write one starts fresh
    token = _BEGIN_IMMEDIATE.set(True)
    try:
        connection = session.connection()
    finally:
        _BEGIN_IMMEDIATE.reset(token)
    try:
        if connection.dialect.name == "postgresql":
            for namespace, key in sorted(set(lock_keys)):
                session.execute(select(func.pg_advisory_xact_lock(namespace, key)))
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
