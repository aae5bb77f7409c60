"""meetings: one stored video meeting per online lesson (provider, room, join URLs, status)

Revision ID: 0014_meetings
Revises: 0013_pending_registrations
Create Date: 2026-12-02 16:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0014_meetings'
down_revision = '0013_pending_registrations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'meetings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lesson_id', sa.Integer(), nullable=False),
        sa.Column('provider', sa.String(length=20), nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=False),
        sa.Column('password', sa.String(length=200), nullable=True),
        sa.Column('join_url', sa.String(length=2000), nullable=True),
        sa.Column('participant_join_url', sa.String(length=2000), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finish_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending','active','deleted')", name=op.f('ck_meetings_status_known')),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_meetings_lesson_id_lessons'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings')),
        sa.UniqueConstraint('lesson_id', name=op.f('uq_meetings_lesson_id')),
    )


def downgrade():
    op.drop_table('meetings')
