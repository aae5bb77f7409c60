"""lot paid amounts: what a student paid for each lot of minutes (tutor payouts for subscription minutes)

Revision ID: 0031_lot_paid_amounts
Revises: 0030_mixpanel_delivery
Create Date: 2026-12-02 21:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0031_lot_paid_amounts'
down_revision = '0030_mixpanel_delivery'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('minute_lots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid_minor', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('currency', sa.String(length=3), nullable=True))
        batch_op.create_check_constraint(op.f('ck_minute_lots_lot_paid_not_negative'),
                                        sa.text('paid_minor IS NULL OR paid_minor >= 0'))
    # Package lots: the price frozen on their purchase. Subscription lots granted before this revision stay NULL
    # (the invoice's amount was not kept); payouts value only lots whose price is known.
    op.execute("UPDATE minute_lots SET paid_minor = (SELECT p.price_minor FROM package_purchases p "
               "WHERE p.lot_id = minute_lots.id), currency = (SELECT p.currency FROM package_purchases p "
               "WHERE p.lot_id = minute_lots.id) WHERE source = 'package'")


def downgrade():
    with op.batch_alter_table('minute_lots', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_minute_lots_lot_paid_not_negative'), type_='check')
        batch_op.drop_column('currency')
        batch_op.drop_column('paid_minor')
