"""transfer reversals: refunds made after a tutor's payout take the tutor's share back from the transfer

Revision ID: 0021_transfer_reversals
Revises: 0020_paypal_funding
Create Date: 2026-12-02 16:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0021_transfer_reversals'
down_revision = '0020_paypal_funding'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payment_receipts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transferred_minor', sa.Integer(), nullable=True))
    # Transfers sent before this column existed sent the tutor's share as it stood then; refunds since then are
    # unknown here, so the share as it stands now is the best record (nothing is reversed for them).
    op.execute("UPDATE payment_receipts SET transferred_minor = tutor_payout_minor WHERE transfer_id IS NOT NULL")
    op.create_table(
        'transfer_reversals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('transfer_id', sa.String(length=255), nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=False),
        sa.Column('stripe_reversal_id', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_transfer_reversals_reversal_positive')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_transfer_reversals_booking_id_bookings')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transfer_reversals')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_transfer_reversals_idempotency_key')),
        sa.UniqueConstraint('stripe_reversal_id', name=op.f('uq_transfer_reversals_stripe_reversal_id')),
    )
    op.create_index(op.f('ix_transfer_reversals_booking_id'), 'transfer_reversals', ['booking_id'])


def downgrade():
    op.drop_index(op.f('ix_transfer_reversals_booking_id'), table_name='transfer_reversals')
    op.drop_table('transfer_reversals')
    with op.batch_alter_table('payment_receipts', schema=None) as batch_op:
        batch_op.drop_column('transferred_minor')
