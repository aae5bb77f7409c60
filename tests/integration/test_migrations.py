"""The Alembic migrations build exactly the schema the models describe, on both databases."""
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

import config
from webapp.domain.states import BookingState
from webapp.extensions import db

STATE_CHECK, BEFORE_STATE_CHECK = "0007_booking_state_check", "0006_checkout_attempts"


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_upgrading_a_database_that_holds_bookings_keeps_them(tmp_path, redis_url):
    """Upgrades run on real data too (SQLite rebuilds tables in batch mode; foreign keys must survive)."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from webapp import create_app
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'old.sqlite3'}", REDIS_URL=redis_url,
                     RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        upgrade(revision="0002_money")
        with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO users (id, email, password_hash, name, role, timezone, created_at) VALUES "
                "(1, 't@example.com', 'x', 'T', 'tutor', 'UTC', '2027-01-01 00:00:00'),"
                "(2, 's@example.com', 'x', 'S', 'student', 'UTC', '2027-01-01 00:00:00')",
                "INSERT INTO subjects (id, name, slug) VALUES (1, 'Maths', 'maths')",
                "INSERT INTO levels (id, name, rank) VALUES (1, 'GCSE', 1)",
                "INSERT INTO teaches (id, tutor_id, subject_id, level_id, hourly_rate_minor, currency, online, "
                "in_person) VALUES (1, 1, 1, 1, 4000, 'GBP', 1, 0)",
                "INSERT INTO lessons (id, tutor_id, subject_id, level_id, teach_id, start_at, finish_at, "
                "duration_minutes, state, in_person, created_at) VALUES (1, 1, 1, 1, 1, '2027-03-01 10:00:00', "
                "'2027-03-01 11:00:00', 60, 'ACTIVE', 0, '2027-01-01 00:00:00')",
                "INSERT INTO lesson_user (lesson_id, user_id) VALUES (1, 2)",
                "INSERT INTO bookings (id, lesson_id, booker_id, state, price_minor, currency, note, "
                "cancellation_note, created_at, updated_at) VALUES (1, 1, 2, 'PAID', 4000, 'GBP', '', '', "
                "'2027-01-01 00:00:00', '2027-01-01 00:00:00')",
                "INSERT INTO outbox_messages (id, template, to_address, bcc, context, status, attempts, "
                "next_attempt_at, created_at) VALUES (1, 'payout_status', 'a@example.com', '', '{}', 'pending', 0, "
                "'2027-01-01 00:00:00', '2027-01-01 00:00:00')",
            ):
                conn.execute(text(statement))
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT state, reschedule_version FROM lessons")).all() == [("ACTIVE", 0)]
            assert conn.execute(text("SELECT channel FROM outbox_messages")).scalar() == "email"
            assert conn.execute(text("SELECT lesson_id FROM bookings")).scalar() == 1
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()


@pytest.fixture
def empty_database(backend, tmp_path):
    """The URL of a database with nothing in it, on the current backend (dropped afterwards)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    admin_url = config.test_database_url()
    if not admin_url:
        if config.postgres_required():
            pytest.fail("PostgreSQL is required (LESSONBOOK_REQUIRE_POSTGRES) but TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL not available (set TEST_DATABASE_URL)")
    name = f"lessonbook_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _app_at(url: str, redis_url: str, revision: str, states: list[str]):
    """An app whose database is migrated to `revision` and holds one booking in each of `states`."""
    from flask_migrate import upgrade

    from webapp import create_app
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, REDIS_URL=redis_url, RATELIMIT_STORAGE_URI=redis_url)
    with app.app_context():
        upgrade(revision=revision)
        true = "true" if db.engine.dialect.name == "postgresql" else "1"
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO users (id, email, password_hash, name, role, timezone, created_at) VALUES "
                              "(1, 't@example.com', 'x', 'T', 'tutor', 'UTC', '2027-01-01 00:00:00'),"
                              "(2, 's@example.com', 'x', 'S', 'student', 'UTC', '2027-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO subjects (id, name, slug) VALUES (1, 'Maths', 'maths')"))
            conn.execute(text("INSERT INTO levels (id, name, rank) VALUES (1, 'GCSE', 1)"))
            conn.execute(text("INSERT INTO teaches (id, tutor_id, subject_id, level_id, hourly_rate_minor, currency, "
                              f"online, in_person) VALUES (1, 1, 1, 1, 4000, 'GBP', {true}, {true})"))
            for n, state in enumerate(states, start=1):
                conn.execute(text(
                    "INSERT INTO lessons (id, tutor_id, subject_id, level_id, teach_id, start_at, finish_at, "
                    "duration_minutes, state, in_person, created_at) VALUES (:n, 1, 1, 1, 1, :start, :finish, 60, "
                    f"'CANCELLED', {true}, '2027-01-01 00:00:00')"),
                    {"n": n, "start": f"2027-03-{n:02d} 10:00:00", "finish": f"2027-03-{n:02d} 11:00:00"})
                conn.execute(text(
                    "INSERT INTO bookings (id, lesson_id, booker_id, state, price_minor, currency, note, "
                    "cancellation_note, created_at, updated_at) VALUES (:n, :n, 2, :state, 4000, 'GBP', '', '', "
                    "'2027-01-01 00:00:00', '2027-01-01 00:00:00')"), {"n": n, "state": state})
    return app


def test_bookings_in_every_known_state_survive_the_upgrade_that_checks_them(empty_database, redis_url):
    from flask_migrate import upgrade
    app = _app_at(empty_database, redis_url, BEFORE_STATE_CHECK, list(BookingState))
    with app.app_context():
        upgrade(revision=STATE_CHECK)
        with db.engine.connect() as conn:
            kept = conn.execute(text("SELECT state FROM bookings ORDER BY id")).scalars().all()
        assert kept == list(BookingState)
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(text("UPDATE bookings SET state = 'SETTLED' WHERE id = 1"))
        db.engine.dispose()


def test_the_upgrade_names_booking_states_it_cannot_keep_and_changes_nothing(empty_database, redis_url):
    from alembic import command
    app = _app_at(empty_database, redis_url, BEFORE_STATE_CHECK, ["PAID", "SETTLED", "SETTLED"])
    with app.app_context():
        alembic_config = app.extensions["migrate"].migrate.get_config()  # Alembic's own command raises; Flask's exits
        with pytest.raises(RuntimeError, match=r"'SETTLED' \(2 rows\)"):
            command.upgrade(alembic_config, STATE_CHECK)
        with db.engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == BEFORE_STATE_CHECK
            assert conn.execute(text("SELECT COUNT(*) FROM bookings")).scalar() == 3
        db.engine.dispose()


def test_the_database_refuses_a_booking_state_outside_the_transition_table(app):
    from tests.factories import user
    from tests.integration.test_payments import book
    booking = book(student=user("student"))
    db.session.commit()
    for state in BookingState:
        db.session.execute(text("UPDATE bookings SET state = :s WHERE id = :id"), {"s": str(state), "id": booking.id})
        db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE bookings SET state = 'paid' WHERE id = :id"), {"id": booking.id})
        db.session.flush()
    db.session.rollback()


def test_the_upgrade_names_the_booking_of_webhook_events_already_stored(empty_database, redis_url):
    """Migration 0035: events stored before it get the booking they are about, so old bookings' timelines list them."""
    import json

    from flask_migrate import upgrade
    app = _app_at(empty_database, redis_url, "0034_question_authoring", ["PAID"])
    about = {"data": {"object": {"id": "cs_1", "metadata": {"booking_id": "1"}}}}
    other = {"data": {"object": {"id": "acct_1", "metadata": {}}}}
    with app.app_context():
        with db.engine.begin() as conn:
            for event_id, payload in (("evt_about", about), ("evt_other", other)):
                conn.execute(text("INSERT INTO stripe_events (id, type, payload, received_at, attempts) VALUES "
                                  "(:id, 'checkout.session.completed', :payload, '2027-01-01 00:00:00', 0)"),
                             {"id": event_id, "payload": json.dumps(payload)})
            conn.execute(text("INSERT INTO paypal_events (id, type, payload, received_at, attempts) VALUES "
                              "('WH-1', 'CHECKOUT.ORDER.APPROVED', :payload, '2027-01-01 00:00:00', 0)"),
                         {"payload": json.dumps({"resource": {"id": "ORDER-UNKNOWN"}})})
        upgrade()
        with db.engine.connect() as conn:
            assert dict(conn.execute(text("SELECT id, booking_id FROM stripe_events")).all()) == {
                "evt_about": 1, "evt_other": None}
            assert conn.execute(text("SELECT booking_id FROM paypal_events")).scalar() is None
        db.engine.dispose()
