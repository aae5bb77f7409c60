"""paypal: orders we opened and their authorizations/captures, verified webhook events, receipts' provider and
PayPal refund ids

Revision ID: 0017_paypal
Revises: 0016_minutes_ledger
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0017_paypal'
down_revision = '0016_minutes_ledger'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'paypal_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.String(length=64), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.Column('request_id', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('approve_url', sa.String(length=500), nullable=True),
        sa.Column('authorization_id', sa.String(length=64), nullable=True),
        sa.Column('first_authorization_id', sa.String(length=64), nullable=True),
        sa.Column('authorized_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('authorization_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('honor_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('capture_id', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_paypal_orders_paypal_amount_positive')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_paypal_orders_booking_id_bookings')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_paypal_orders')),
        sa.UniqueConstraint('order_id', name=op.f('uq_paypal_orders_order_id')),
        sa.UniqueConstraint('request_id', name=op.f('uq_paypal_orders_request_id')),
        sa.UniqueConstraint('authorization_id', name=op.f('uq_paypal_orders_authorization_id')),
        sa.UniqueConstraint('first_authorization_id', name=op.f('uq_paypal_orders_first_authorization_id')),
        sa.UniqueConstraint('capture_id', name=op.f('uq_paypal_orders_capture_id')),
    )
    op.create_index(op.f('ix_paypal_orders_booking_id'), 'paypal_orders', ['booking_id'])
    op.create_table(
        'paypal_events',
        sa.Column('id', sa.String(length=255), nullable=False),
        sa.Column('type', sa.String(length=100), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outcome', sa.String(length=40), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_paypal_events')),
    )
    op.create_index(op.f('ix_paypal_events_processed_at'), 'paypal_events', ['processed_at'])
    with op.batch_alter_table('payment_receipts') as batch:
        batch.add_column(sa.Column('provider', sa.String(length=10), nullable=False, server_default='stripe'))
    with op.batch_alter_table('refunds') as batch:
        batch.add_column(sa.Column('paypal_refund_id', sa.String(length=255), nullable=True))
        batch.create_unique_constraint(op.f('uq_refunds_paypal_refund_id'), ['paypal_refund_id'])


def downgrade():
    with op.batch_alter_table('refunds') as batch:
        batch.drop_constraint(op.f('uq_refunds_paypal_refund_id'), type_='unique')
        batch.drop_column('paypal_refund_id')
    with op.batch_alter_table('payment_receipts') as batch:
        batch.drop_column('provider')
    op.drop_index(op.f('ix_paypal_events_processed_at'), table_name='paypal_events')
    op.drop_table('paypal_events')
    op.drop_index(op.f('ix_paypal_orders_booking_id'), table_name='paypal_orders')
    op.drop_table('paypal_orders')
