"""mixpanel delivery: each analytics event's claim lease, sent marker and attempts; users who opted out of analytics

Revision ID: 0030_mixpanel_delivery
Revises: 0029_tutor_approval
Create Date: 2026-12-02 17:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0030_mixpanel_delivery'
down_revision = '0029_tutor_approval'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('skipped', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('analytics_opt_out', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('analytics_opt_out')
    with op.batch_alter_table('analytics_events', schema=None) as batch_op:
        for column in ('last_error', 'attempts', 'skipped', 'sent_at', 'sending_until'):
            batch_op.drop_column(column)
