"""minutes ledger: double-entry transactions, entries, cached student balances and granted lots

Revision ID: 0016_minutes_ledger
Revises: 0015_calendar_sources
Create Date: 2026-12-02 16:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0016_minutes_ledger'
down_revision = '0015_calendar_sources'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'minute_lots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('source_ref', sa.String(length=255), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('minutes > 0', name=op.f('ck_minute_lots_lot_minutes_positive')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_minute_lots_user_id_users')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_minute_lots_tutor_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_minute_lots')),
        sa.UniqueConstraint('source_ref', name=op.f('uq_minute_lots_source_ref')),
    )
    op.create_index(op.f('ix_minute_lots_user_id'), 'minute_lots', ['user_id'])
    op.create_index(op.f('ix_minute_lots_expires_at'), 'minute_lots', ['expires_at'])
    op.create_table(
        'ledger_transactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('move', sa.String(length=16), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.Column('lot_id', sa.Integer(), nullable=True),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('minutes > 0', name=op.f('ck_ledger_transactions_minutes_positive')),
        sa.CheckConstraint("move IN ('grant','hold','post','void','refund','expire')",
                           name=op.f('ck_ledger_transactions_move_known')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ledger_transactions_user_id_users')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_ledger_transactions_tutor_id_users')),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'],
                                name=op.f('fk_ledger_transactions_booking_id_bookings')),
        sa.ForeignKeyConstraint(['lot_id'], ['minute_lots.id'], name=op.f('fk_ledger_transactions_lot_id_minute_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
        sa.UniqueConstraint('key', name=op.f('uq_ledger_transactions_key')),
    )
    op.create_index(op.f('ix_ledger_transactions_user_id'), 'ledger_transactions', ['user_id'])
    op.create_index(op.f('ix_ledger_transactions_booking_id'), 'ledger_transactions', ['booking_id'])
    op.create_index(op.f('ix_ledger_transactions_lot_id'), 'ledger_transactions', ['lot_id'])
    op.create_table(
        'ledger_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('transaction_id', sa.Integer(), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('currency', sa.String(length=32), nullable=False),
        sa.Column('amount', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'],
                                name=op.f('fk_ledger_entries_transaction_id_ledger_transactions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    )
    op.create_index(op.f('ix_ledger_entries_transaction_id'), 'ledger_entries', ['transaction_id'])
    op.create_index('ix_ledger_entries_account_currency', 'ledger_entries', ['account', 'currency'])
    op.create_table(
        'ledger_balances',
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('currency', sa.String(length=32), nullable=False),
        sa.Column('balance', sa.Integer(), nullable=False),
        sa.CheckConstraint('balance >= 0', name=op.f('ck_ledger_balances_balance_not_negative')),
        sa.PrimaryKeyConstraint('account', 'currency', name=op.f('pk_ledger_balances')),
    )


def downgrade():
    op.drop_table('ledger_balances')
    op.drop_index('ix_ledger_entries_account_currency', table_name='ledger_entries')
    op.drop_index(op.f('ix_ledger_entries_transaction_id'), table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index(op.f('ix_ledger_transactions_lot_id'), table_name='ledger_transactions')
    op.drop_index(op.f('ix_ledger_transactions_booking_id'), table_name='ledger_transactions')
    op.drop_index(op.f('ix_ledger_transactions_user_id'), table_name='ledger_transactions')
    op.drop_table('ledger_transactions')
    op.drop_index(op.f('ix_minute_lots_expires_at'), table_name='minute_lots')
    op.drop_index(op.f('ix_minute_lots_user_id'), table_name='minute_lots')
    op.drop_table('minute_lots')
