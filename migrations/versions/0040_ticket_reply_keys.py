"""ticket reply keys: each reply form carries a one-time key, so a reply sent twice at once (a double click) is posted once

Revision ID: 0040_ticket_reply_keys
Revises: 0039_refund_failures
Create Date: 2026-12-03 08:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0040_ticket_reply_keys'
down_revision = '0039_refund_failures'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ticket_messages') as batch:
        batch.add_column(sa.Column('form_key', sa.String(length=64), nullable=True))
        batch.create_unique_constraint('uq_ticket_messages_form_key', ['form_key'])


def downgrade():
    with op.batch_alter_table('ticket_messages') as batch:
        batch.drop_constraint('uq_ticket_messages_form_key', type_='unique')
        batch.drop_column('form_key')
