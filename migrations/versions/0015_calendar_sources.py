"""calendars: secret feed addresses (export) and external calendar sources whose syncs write calendar_events

Revision ID: 0015_calendar_sources
Revises: 0014_meetings
Create Date: 2026-12-02 16:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0015_calendar_sources'
down_revision = '0014_meetings'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'calendar_feeds',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    )
    op.create_table(
        'calendar_sources',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('label', sa.String(length=80), nullable=False),
        sa.Column('url', sa.Text(), nullable=True),
        sa.Column('credentials', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_synced_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('event_count', sa.Integer(), server_default='0', nullable=False),
        sa.CheckConstraint("kind IN ('ics','google')", name=op.f('ck_calendar_sources_kind_known')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_calendar_sources_tutor_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_sources')),
    )
    with op.batch_alter_table('calendar_sources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_sources_tutor_id'), ['tutor_id'], unique=False)
    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_calendar_events_source_id_calendar_sources'), 'calendar_sources',
                                    ['source_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_calendar_events_source_id'), ['source_id'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_events_source_id'))
        batch_op.drop_constraint(batch_op.f('fk_calendar_events_source_id_calendar_sources'), type_='foreignkey')
        batch_op.drop_column('source_id')
    with op.batch_alter_table('calendar_sources', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_sources_tutor_id'))
    op.drop_table('calendar_sources')
    op.drop_table('calendar_feeds')
