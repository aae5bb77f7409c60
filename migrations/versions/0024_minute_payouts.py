"""tutors' payouts for lessons paid with prepaid minutes (one per booking, transferred once)

Revision ID: 0024_minute_payouts
Revises: 0023_subscriptions
Create Date: 2026-12-02 16:45:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0024_minute_payouts'
down_revision = '0023_subscriptions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'minute_payouts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('value_minor', sa.Integer(), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('transfer_id', sa.String(length=255), nullable=True),
        sa.Column('transfer_error', sa.Text(), nullable=True),
        sa.Column('transferred_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor >= 0 AND amount_minor <= value_minor',
                           name=op.f('ck_minute_payouts_payout_within_value')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_minute_payouts_booking_id_bookings')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_minute_payouts_tutor_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_minute_payouts')),
        sa.UniqueConstraint('booking_id', name=op.f('uq_minute_payouts_booking_id')),
        sa.UniqueConstraint('transfer_id', name=op.f('uq_minute_payouts_transfer_id')),
    )
    op.create_index(op.f('ix_minute_payouts_tutor_id'), 'minute_payouts', ['tutor_id'])


def downgrade():
    op.drop_index(op.f('ix_minute_payouts_tutor_id'), table_name='minute_payouts')
    op.drop_table('minute_payouts')
