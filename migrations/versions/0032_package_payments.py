"""package purchases paid with PayPal (method, the order's purchase) and closed unpaid (expired, cancelled)

Revision ID: 0032_package_payments
Revises: 0031_lot_paid_amounts
Create Date: 2026-12-02 21:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0032_package_payments'
down_revision = '0031_lot_paid_amounts'
branch_labels = None
depends_on = None

# PurchaseState and PurchaseMethod as of this revision (a migration keeps its own copy).
OLD_STATES = ('open', 'paid')
STATES = ('open', 'paid', 'expired', 'cancelled')
METHODS = ('card', 'paypal')


def _one_of(column, values):
    return "{} IN ({})".format(column, ",".join(f"'{v}'" for v in values))


def upgrade():
    with op.batch_alter_table('package_purchases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('method', sa.String(length=16), server_default='card', nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_package_purchases_state_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_package_purchases_state_known'), sa.text(_one_of('state', STATES)))
        batch_op.create_check_constraint(op.f('ck_package_purchases_method_known'),
                                         sa.text(_one_of('method', METHODS)))
        batch_op.create_index('ix_package_purchases_open_expiry', ['state', 'expires_at'])
    with op.batch_alter_table('paypal_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purchase_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_paypal_orders_purchase_id_package_purchases'), 'package_purchases',
                                    ['purchase_id'], ['id'])
        batch_op.create_index(op.f('ix_paypal_orders_purchase_id'), ['purchase_id'])
        batch_op.create_check_constraint(op.f('ck_paypal_orders_paypal_pays_for_one'),
                                         sa.text('booking_id IS NULL OR purchase_id IS NULL'))


def downgrade():
    with op.batch_alter_table('paypal_orders', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_paypal_orders_paypal_pays_for_one'), type_='check')
        batch_op.drop_index(op.f('ix_paypal_orders_purchase_id'))
        batch_op.drop_constraint(op.f('fk_paypal_orders_purchase_id_package_purchases'), type_='foreignkey')
        batch_op.drop_column('purchase_id')
    op.execute("UPDATE package_purchases SET state = 'open' WHERE state IN ('expired', 'cancelled')")
    with op.batch_alter_table('package_purchases', schema=None) as batch_op:
        batch_op.drop_index('ix_package_purchases_open_expiry')
        batch_op.drop_constraint(op.f('ck_package_purchases_method_known'), type_='check')
        batch_op.drop_constraint(op.f('ck_package_purchases_state_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_package_purchases_state_known'),
                                         sa.text(_one_of('state', OLD_STATES)))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('method')
