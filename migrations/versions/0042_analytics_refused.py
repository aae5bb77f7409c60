"""analytics events Mixpanel refused as invalid a few times are marked refused and never sent again

Revision ID: 0042_analytics_refused
Revises: 0041_subscription_changes
Create Date: 2026-12-03 08:55:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0042_analytics_refused'
down_revision = '0041_subscription_changes'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('analytics_events') as batch:
        batch.add_column(sa.Column('refused', sa.Boolean(), server_default=sa.text('false'), nullable=False))


def downgrade():
    with op.batch_alter_table('analytics_events') as batch:
        batch.drop_column('refused')
