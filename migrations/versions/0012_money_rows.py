"""money rows: refund intents (status, idempotency key) and stored webhook events applied by a job

Revision ID: 0012_money_rows
Revises: 0011_tutor_base_address
Create Date: 2026-12-02 11:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_money_rows'
down_revision = '0011_tutor_base_address'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=20), server_default='succeeded', nullable=False))
        batch_op.create_unique_constraint(batch_op.f('uq_refunds_idempotency_key'), ['idempotency_key'])
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_stripe_events_processed_at'), ['processed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stripe_events_processed_at'))
        batch_op.drop_column('last_error')
        batch_op.drop_column('attempts')
        batch_op.drop_column('outcome')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_refunds_idempotency_key'), type_='unique')
        batch_op.drop_column('status')
        batch_op.drop_column('idempotency_key')
