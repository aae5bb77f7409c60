"""bookings.state may hold only the states of the transition table (as lessons.state already does)

Revision ID: 0007_booking_state_check
Revises: 0006_checkout_attempts
Create Date: 2026-12-02 11:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_booking_state_check'
down_revision = '0006_checkout_attempts'
branch_labels = None
depends_on = None

# BookingState as of this revision (a migration keeps its own copy: the enum may grow later, with a migration).
STATES = ('AWAITING_PAYMENT', 'REQUIRES_CAPTURE', 'PAID', 'REFUNDED', 'PARTIAL_REFUNDED', 'EXPIRED', 'DECLINED',
          'CANCELLED')
CHECK = "state IN ({})".format(",".join(f"'{s}'" for s in STATES))


def upgrade():
    # Say which rows stand in the way instead of failing on an anonymous constraint violation half-way.
    unknown = op.get_bind().execute(sa.text(
        "SELECT state, COUNT(*) FROM bookings WHERE state IS NULL OR state NOT IN ({}) GROUP BY state".format(
            ",".join(f"'{s}'" for s in STATES)))).all()
    if unknown:
        found = ", ".join(f"{state!r} ({count} rows)" for state, count in unknown)
        raise RuntimeError(f"bookings hold states outside the transition table: {found}; fix them, then upgrade")
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_bookings_state_known'), sa.text(CHECK))


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_bookings_state_known'), type_='check')
