"""tutor approval: only approved tutors are listed and bookable; every existing tutor (demo data included) is approved

Revision ID: 0029_tutor_approval
Revises: 0028_analytics_events
Create Date: 2026-12-02 17:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0029_tutor_approval'
down_revision = '0028_analytics_events'
branch_labels = None
depends_on = None

APPROVALS = ('pending', 'approved', 'refused')


def upgrade():
    with op.batch_alter_table('tutor_profiles', schema=None) as batch_op:
        # server_default 'approved': the tutors who are bookable today stay bookable.
        batch_op.add_column(sa.Column('approval', sa.String(length=10), server_default='approved', nullable=False))
        batch_op.add_column(sa.Column('approval_reason', sa.Text(), server_default='', nullable=False))
        batch_op.create_check_constraint(op.f('ck_tutor_profiles_approval_known'), sa.text(
            "approval IN ({})".format(",".join(f"'{a}'" for a in APPROVALS))))


def downgrade():
    with op.batch_alter_table('tutor_profiles', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_tutor_profiles_approval_known'), type_='check')
        batch_op.drop_column('approval_reason')
        batch_op.drop_column('approval')
