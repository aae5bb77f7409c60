"""checkout attempts: each Checkout Session a booking opens is numbered, so its idempotency key is its own

Revision ID: 0006_checkout_attempts
Revises: 0005_booking_form_key
Create Date: 2026-12-02 11:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_checkout_attempts'
down_revision = '0005_booking_form_key'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_attempt', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('checkout_attempt')
