"""tutors' monthly plans and students' Stripe subscriptions to them

Revision ID: 0023_subscriptions
Revises: 0022_suspension_roles_audit
Create Date: 2026-12-02 16:45:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0023_subscriptions'
down_revision = '0022_suspension_roles_audit'
branch_labels = None
depends_on = None

# SubscriptionStatus as of this revision (a migration keeps its own copy).
STATUSES = ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'unpaid', 'canceled', 'paused')


def upgrade():
    op.create_table(
        'subscription_plans',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('price_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('minutes > 0', name=op.f('ck_subscription_plans_plan_minutes_positive')),
        sa.CheckConstraint('price_minor > 0', name=op.f('ck_subscription_plans_plan_price_positive')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_subscription_plans_tutor_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_plans')),
    )
    op.create_index(op.f('ix_subscription_plans_tutor_id'), 'subscription_plans', ['tutor_id'])
    op.create_table(
        'subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stripe_subscription_id', sa.String(length=255), nullable=False),
        sa.Column('stripe_item_id', sa.String(length=255), nullable=True),
        sa.Column('stripe_product_id', sa.String(length=255), nullable=True),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('plan_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('billing_anchor', sa.DateTime(timezone=True), nullable=False),
        sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=False),
        sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancel_at_period_end', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ({})".format(",".join(f"'{s}'" for s in STATUSES)),
                           name=op.f('ck_subscriptions_status_known')),
        sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_subscriptions_student_id_users')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_subscriptions_tutor_id_users')),
        sa.ForeignKeyConstraint(['plan_id'], ['subscription_plans.id'],
                                name=op.f('fk_subscriptions_plan_id_subscription_plans')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions')),
        sa.UniqueConstraint('stripe_subscription_id', name=op.f('uq_subscriptions_stripe_subscription_id')),
    )
    op.create_index(op.f('ix_subscriptions_student_id'), 'subscriptions', ['student_id'])


def downgrade():
    op.drop_index(op.f('ix_subscriptions_student_id'), table_name='subscriptions')
    op.drop_table('subscriptions')
    op.drop_index(op.f('ix_subscription_plans_tutor_id'), table_name='subscription_plans')
    op.drop_table('subscription_plans')
