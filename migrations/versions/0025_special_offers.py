"""special offers: a coupon targeted at an audience (everyone, new students, a tutor's students, chosen users), applied
automatically at checkout; users who unsubscribed from offer announcements

Revision ID: 0025_special_offers
Revises: 0024_minute_payouts
Create Date: 2026-12-02 16:45:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0025_special_offers'
down_revision = '0024_minute_payouts'
branch_labels = None
depends_on = None

# Audience as of this revision (a migration keeps its own copy: the enum may grow, with a migration).
AUDIENCES = ('EVERYONE', 'NEW_STUDENTS', 'TUTOR_STUDENTS', 'CHOSEN_USERS')


def upgrade():
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('audience', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('audience_tutor_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('auto_apply', sa.Boolean(), server_default=sa.text('false'), nullable=False))
        batch_op.add_column(sa.Column('announce_requested_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(op.f('fk_coupons_audience_tutor_id_users'), 'users', ['audience_tutor_id'], ['id'])
        batch_op.create_check_constraint(
            op.f('ck_coupons_audience_known'),
            sa.text("audience IS NULL OR audience IN ({})".format(",".join(f"'{a}'" for a in AUDIENCES))))
    op.create_table(
        'offer_recipients',
        sa.Column('coupon_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_offer_recipients_coupon_id_coupons'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_offer_recipients_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('coupon_id', 'user_id', name=op.f('pk_offer_recipients')),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offer_emails_opt_out', sa.Boolean(), server_default=sa.text('false'),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('offer_emails_opt_out')
    op.drop_table('offer_recipients')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_coupons_audience_known'), type_='check')
        batch_op.drop_constraint(op.f('fk_coupons_audience_tutor_id_users'), type_='foreignkey')
        for column in ('announce_requested_at', 'auto_apply', 'audience_tutor_id', 'audience', 'name'):
            batch_op.drop_column(column)
