"""bookings may be funded by a PayPal authorization: 'paypal' joins the funding check

Revision ID: 0020_paypal_funding
Revises: 0019_packages_and_funding
Create Date: 2026-12-02 16:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0020_paypal_funding'
down_revision = '0019_packages_and_funding'
branch_labels = None
depends_on = None

# Funding as of this revision (a migration keeps its own copy: the enum may grow, with a migration).
BEFORE = ('card', 'minutes')
FUNDING = ('card', 'minutes', 'paypal')


def _one_of(column, values):
    return "{} IN ({})".format(column, ",".join(f"'{v}'" for v in values))


def upgrade():
    with op.batch_alter_table('bookings') as batch_op:
        batch_op.drop_constraint(op.f('ck_bookings_funding_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_bookings_funding_known'), sa.text(_one_of('funding', FUNDING)))


def downgrade():
    op.execute("UPDATE bookings SET funding = 'card' WHERE funding = 'paypal'")
    with op.batch_alter_table('bookings') as batch_op:
        batch_op.drop_constraint(op.f('ck_bookings_funding_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_bookings_funding_known'), sa.text(_one_of('funding', BEFORE)))
