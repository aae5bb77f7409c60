"""slot picker indexes: proposed lesson times, calendar events by end

Revision ID: 0009_slot_picker_indexes
Revises: 0008_sessions_and_tokens
Create Date: 2026-12-02 11:30:00

The slot picker loads lessons starting in a bounded range (by start, and by proposed start) and calendar
events ending after the range's start, so a tutor's years of history are never scanned. Events are looked
up by their end because they have no longest length; their start index is replaced (nothing else used it).
The proposal index is partial (only lessons with a proposal), which also keeps the planner from taking it
for the start_at lookup.
"""
import sqlalchemy as sa
from alembic import op


revision = '0009_slot_picker_indexes'
down_revision = '0008_sessions_and_tokens'
branch_labels = None
depends_on = None


def upgrade():
    proposals_only = sa.text('suggested_start_at IS NOT NULL')
    op.create_index('ix_lessons_tutor_suggested_start', 'lessons', ['tutor_id', 'suggested_start_at'],
                    sqlite_where=proposals_only, postgresql_where=proposals_only)
    op.drop_index('ix_calendar_events_tutor_start', table_name='calendar_events')
    op.create_index('ix_calendar_events_tutor_finish', 'calendar_events', ['tutor_id', 'finish_at'])


def downgrade():
    op.drop_index('ix_calendar_events_tutor_finish', table_name='calendar_events')
    op.create_index('ix_calendar_events_tutor_start', 'calendar_events', ['tutor_id', 'start_at'])
    op.drop_index('ix_lessons_tutor_suggested_start', table_name='lessons')
