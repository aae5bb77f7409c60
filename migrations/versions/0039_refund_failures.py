"""a refund that fails after the provider accepted it keeps when and why (Stripe's failure_reason), for the booking
timeline, the staff's notice and the payout hold

Revision ID: 0039_refund_failures
Revises: 0038_set_local_questions
Create Date: 2026-12-03 08:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0039_refund_failures'
down_revision = '0038_set_local_questions'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('refunds', 'package_refunds'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
            batch.add_column(sa.Column('failure_reason', sa.String(100), nullable=True))
    with op.batch_alter_table('subscriptions') as batch:
        batch.add_column(sa.Column('duplicate_refund_failed_ids', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('subscriptions') as batch:
        batch.drop_column('duplicate_refund_failed_ids')
    for table in ('refunds', 'package_refunds'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('failure_reason')
            batch.drop_column('failed_at')
