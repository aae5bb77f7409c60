"""The database's plan for a statement (EXPLAIN), for the benchmark and the tests that pin index use."""
from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.sql import Executable

from .extensions import db


def explain(statement: Executable) -> list[str]:
    """The plan lines SQLite (EXPLAIN QUERY PLAN) or PostgreSQL (EXPLAIN) gives for `statement`.

    The statement runs once so SQLAlchemy renders it exactly as the app sends it (expanded IN lists, bound
    types); the SQL and parameters it sent are then explained on the same connection."""
    sent: dict = {}
    engine = db.session.get_bind()

    def capture(_conn, _cursor, sql, parameters, _context, _executemany):
        if sql.lstrip()[:6].upper() == "SELECT":  # not the BEGIN the SQLite engine sends first
            sent.setdefault("sql", sql)
            sent.setdefault("parameters", parameters)

    event.listen(engine, "before_cursor_execute", capture)
    try:
        db.session.execute(statement).all()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    cursor = db.session.connection().connection.cursor()
    try:
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sent["sql"], sent["parameters"])
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN " + sent["sql"], sent["parameters"])
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()
