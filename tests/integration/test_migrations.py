"""The Alembic migrations build exactly the schema the models describe, on both databases."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from webapp.extensions import db


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
