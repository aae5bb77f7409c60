"""analytics events: each key action recorded with its dedupe id in the action's own transaction

Revision ID: 0028_analytics_events
Revises: 0027_support_tickets
Create Date: 2026-12-02 17:05:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0028_analytics_events'
down_revision = '0027_support_tickets'
branch_labels = None
depends_on = None

# EventName as of this revision (a migration keeps its own copy: the enum may grow, with a migration).
EVENT_NAMES = ('tutor_viewed', 'slots_viewed', 'booking_created', 'booking_paid', 'booking_approved',
               'booking_declined', 'booking_cancelled', 'lesson_rescheduled', 'lesson_held', 'message_sent',
               'review_left', 'package_bought', 'subscription_bought')


def upgrade():
    op.create_table(
        'analytics_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('dedupe_id', sa.String(length=120), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('properties', sa.JSON(), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("name IN ({})".format(",".join(f"'{n}'" for n in EVENT_NAMES)),
                           name=op.f('ck_analytics_events_name_known')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_analytics_events_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_events')),
        sa.UniqueConstraint('dedupe_id', name=op.f('uq_analytics_events_dedupe_id')),
    )
    op.create_index(op.f('ix_analytics_events_user_id'), 'analytics_events', ['user_id'])
    op.create_index('ix_analytics_events_name_occurred', 'analytics_events', ['name', 'occurred_at'])


def downgrade():
    op.drop_index('ix_analytics_events_name_occurred', table_name='analytics_events')
    op.drop_index(op.f('ix_analytics_events_user_id'), table_name='analytics_events')
    op.drop_table('analytics_events')
