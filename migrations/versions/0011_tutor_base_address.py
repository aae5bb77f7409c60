"""tutor_profiles keep the base address the tutor typed (its coordinates come from the geocoder, if any)

Revision ID: 0011_tutor_base_address
Revises: 0010_outbox_lease
Create Date: 2026-12-02 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_tutor_base_address'
down_revision = '0010_outbox_lease'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tutor_profiles') as batch:
        batch.add_column(sa.Column('base_line1', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('base_postcode', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('base_city', sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table('tutor_profiles') as batch:
        batch.drop_column('base_city')
        batch.drop_column('base_postcode')
        batch.drop_column('base_line1')
