"""subscription changes remember the request key that made them, so a replayed request is told apart from a stale one

Revision ID: 0041_subscription_changes
Revises: 0040_ticket_reply_keys
Create Date: 2026-12-03 07:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0041_subscription_changes'
down_revision = '0040_ticket_reply_keys'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'subscription_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('request_key', sa.String(length=64), nullable=False),
        sa.Column('made_by_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['made_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('subscription_id', 'action', 'request_key', name='uq_subscription_changes_request'),
    )
    op.create_index('ix_subscription_changes_subscription_id', 'subscription_changes', ['subscription_id'])


def downgrade():
    op.drop_index('ix_subscription_changes_subscription_id', table_name='subscription_changes')
    op.drop_table('subscription_changes')
