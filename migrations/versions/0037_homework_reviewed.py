"""a draft homework set remembers when its tutor reviewed it, so saving the note again keeps the tutor's changes

Revision ID: 0037_homework_reviewed
Revises: 0036_package_refunds
Create Date: 2026-12-02 22:55:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0037_homework_reviewed'
down_revision = '0036_package_refunds'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('homework_sets') as batch:
        batch.add_column(sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('homework_sets') as batch:
        batch.drop_column('reviewed_at')
