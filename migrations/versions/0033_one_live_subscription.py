"""one live subscription per student and tutor: duplicates recorded (cancelled and refunded), Checkout sessions for
plans (reused or replaced; card updates), the Stripe customer of a subscription

Revision ID: 0033_one_live_subscription
Revises: 0032_package_payments
Create Date: 2026-12-02 21:45:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0033_one_live_subscription'
down_revision = '0032_package_payments'
branch_labels = None
depends_on = None

LIVE = "duplicate_of_id IS NULL AND status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused')"


def upgrade():
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('stripe_customer_id', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_refund_ids', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_refunded_minor', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_subscriptions_duplicate_of_id_subscriptions'), 'subscriptions',
                                    ['duplicate_of_id'], ['id'])
    # Two live subscriptions to one tutor made before this revision: the later is marked a duplicate (the next
    # event about it cancels it at Stripe and refunds it), so the index below can hold.
    op.execute("UPDATE subscriptions SET duplicate_of_id = (SELECT MIN(f.id) FROM subscriptions f "
               "WHERE f.student_id = subscriptions.student_id AND f.tutor_id = subscriptions.tutor_id "
               "AND f.status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused')) "
               "WHERE status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused') AND id > "
               "(SELECT MIN(f.id) FROM subscriptions f WHERE f.student_id = subscriptions.student_id "
               "AND f.tutor_id = subscriptions.tutor_id "
               "AND f.status IN ('active', 'trialing', 'past_due', 'unpaid', 'incomplete', 'paused'))")
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('uq_subscriptions_one_live', ['student_id', 'tutor_id'], unique=True,
                              sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
    op.create_table('subscription_checkouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('student_id', sa.Integer(), nullable=False),
    sa.Column('tutor_id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('subscription_id', sa.Integer(), nullable=True),
    sa.Column('session_id', sa.String(length=255), nullable=False),
    sa.Column('url', sa.String(length=1000), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('subscribe', 'card')", name=op.f('ck_subscription_checkouts_kind_known')),
    sa.ForeignKeyConstraint(['plan_id'], ['subscription_plans.id'],
                            name=op.f('fk_subscription_checkouts_plan_id_subscription_plans')),
    sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_subscription_checkouts_student_id_users')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'],
                            name=op.f('fk_subscription_checkouts_subscription_id_subscriptions')),
    sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_subscription_checkouts_tutor_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_checkouts')),
    sa.UniqueConstraint('session_id', name=op.f('uq_subscription_checkouts_session_id'))
    )
    with op.batch_alter_table('subscription_checkouts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_checkouts_student_id'), ['student_id'], unique=False)


def downgrade():
    with op.batch_alter_table('subscription_checkouts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_checkouts_student_id'))
    op.drop_table('subscription_checkouts')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('uq_subscriptions_one_live', sqlite_where=sa.text(LIVE), postgresql_where=sa.text(LIVE))
        batch_op.drop_constraint(batch_op.f('fk_subscriptions_duplicate_of_id_subscriptions'), type_='foreignkey')
        for column in ('duplicate_closed_at', 'duplicate_refunded_minor', 'duplicate_refund_ids', 'duplicate_of_id',
                       'stripe_customer_id'):
            batch_op.drop_column(column)
