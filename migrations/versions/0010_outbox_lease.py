"""outbox lease: sending_until

Revision ID: 0010_outbox_lease
Revises: 0009_slot_picker_indexes
Create Date: 2026-12-02 11:10:00

A message claimed for sending holds a lease; past it the message is claimed again, so a sender that died never
strands it. Rows left `sending` by the code before this (no lease) count as expired and are retried.
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_outbox_lease'
down_revision = '0009_slot_picker_indexes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sending_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('sending_until')
