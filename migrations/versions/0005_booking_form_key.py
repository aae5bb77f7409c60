"""booking form idempotency key

Revision ID: 0005_booking_form_key
Revises: 0004_retired_teaches
Create Date: 2026-12-02 11:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_booking_form_key'
down_revision = '0004_retired_teaches'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_bookings_booker_form_key', ['booker_id', 'form_key'])


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint('uq_bookings_booker_form_key', type_='unique')
        batch_op.drop_column('form_key')
