"""package refunds: refunds of package purchases (admin's or the provider's), the card purchase's PaymentIntent, and
the ledger's withdraw/restore moves

Revision ID: 0036_package_refunds
Revises: 0035_event_bookings
Create Date: 2026-12-02 22:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0036_package_refunds'
down_revision = '0035_event_bookings'
branch_labels = None
depends_on = None

OLD_MOVES = ('grant', 'hold', 'post', 'void', 'refund', 'expire')
MOVES = OLD_MOVES + ('withdraw', 'restore')


def _moves(values):
    return "move IN ({})".format(",".join(f"'{v}'" for v in values))


def upgrade():
    op.create_table(
        'package_refunds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purchase_id', sa.Integer(), nullable=False),
        sa.Column('provider_refund_id', sa.String(length=255), nullable=True),
        sa.Column('idempotency_key', sa.String(length=255), nullable=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('amount_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('shortfall_minutes', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('amount_minor > 0', name=op.f('ck_package_refunds_package_refund_amount_positive')),
        sa.CheckConstraint('minutes >= 0 AND shortfall_minutes >= 0', name=op.f('ck_package_refunds_package_refund_minutes')),
        sa.CheckConstraint("status IN ('pending','succeeded','failed')", name=op.f('ck_package_refunds_package_refund_status')),
        sa.ForeignKeyConstraint(['purchase_id'], ['package_purchases.id'],
                                name=op.f('fk_package_refunds_purchase_id_package_purchases')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_package_refunds_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_package_refunds')),
        sa.UniqueConstraint('provider_refund_id', name=op.f('uq_package_refunds_provider_refund_id')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_package_refunds_idempotency_key')),
    )
    op.create_index(op.f('ix_package_refunds_purchase_id'), 'package_refunds', ['purchase_id'])
    with op.batch_alter_table('package_purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_intent_id', sa.String(length=255), nullable=True))
        batch_op.create_index(op.f('ix_package_purchases_payment_intent_id'), ['payment_intent_id'])
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_transactions_move_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_transactions_move_known'), sa.text(_moves(MOVES)))


def downgrade():
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_ledger_transactions_move_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_ledger_transactions_move_known'), sa.text(_moves(OLD_MOVES)))
    with op.batch_alter_table('package_purchases', schema=None) as batch_op:
        batch_op.drop_index(op.f('ix_package_purchases_payment_intent_id'))
        batch_op.drop_column('payment_intent_id')
    op.drop_index(op.f('ix_package_refunds_purchase_id'), table_name='package_refunds')
    op.drop_table('package_refunds')
