"""tutors' packages of prepaid hours, their purchases, and how each booking is funded (card or minutes)

Revision ID: 0019_packages_and_funding
Revises: 0018_chat_messages
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0019_packages_and_funding'
down_revision = '0018_chat_messages'
branch_labels = None
depends_on = None

# Funding and PurchaseState as of this revision (a migration keeps its own copy: the enums may grow, with a migration).
FUNDING = ('card', 'minutes')
PURCHASE_STATES = ('open', 'paid')


def _one_of(column, values):
    return "{} IN ({})".format(column, ",".join(f"'{v}'" for v in values))


def upgrade():
    op.create_table(
        'tutor_packages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('hours', sa.Integer(), nullable=False),
        sa.Column('discount_percent', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('hours BETWEEN 1 AND 100', name=op.f('ck_tutor_packages_hours_range')),
        sa.CheckConstraint('discount_percent BETWEEN 0 AND 50', name=op.f('ck_tutor_packages_discount_range')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_tutor_packages_tutor_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tutor_packages')),
    )
    op.create_index(op.f('ix_tutor_packages_tutor_id'), 'tutor_packages', ['tutor_id'])
    op.create_table(
        'package_purchases',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('package_id', sa.Integer(), nullable=False),
        sa.Column('tutor_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('price_minor', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=False),
        sa.Column('checkout_session_id', sa.String(length=255), nullable=True),
        sa.Column('lot_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint('minutes > 0', name=op.f('ck_package_purchases_purchase_minutes_positive')),
        sa.CheckConstraint('price_minor >= 0', name=op.f('ck_package_purchases_purchase_price_not_negative')),
        sa.CheckConstraint(_one_of('state', PURCHASE_STATES), name=op.f('ck_package_purchases_state_known')),
        sa.ForeignKeyConstraint(['package_id'], ['tutor_packages.id'],
                                name=op.f('fk_package_purchases_package_id_tutor_packages')),
        sa.ForeignKeyConstraint(['tutor_id'], ['users.id'], name=op.f('fk_package_purchases_tutor_id_users')),
        sa.ForeignKeyConstraint(['student_id'], ['users.id'], name=op.f('fk_package_purchases_student_id_users')),
        sa.ForeignKeyConstraint(['lot_id'], ['minute_lots.id'], name=op.f('fk_package_purchases_lot_id_minute_lots')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_package_purchases')),
        sa.UniqueConstraint('checkout_session_id', name=op.f('uq_package_purchases_checkout_session_id')),
        sa.UniqueConstraint('student_id', 'form_key', name='uq_package_purchases_student_form_key'),
    )
    op.create_index(op.f('ix_package_purchases_student_id'), 'package_purchases', ['student_id'])
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funding', sa.String(length=16), server_default='card', nullable=False))
        batch_op.create_check_constraint(op.f('ck_bookings_funding_known'), sa.text(_one_of('funding', FUNDING)))


def downgrade():
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_bookings_funding_known'), type_='check')
        batch_op.drop_column('funding')
    op.drop_index(op.f('ix_package_purchases_student_id'), table_name='package_purchases')
    op.drop_table('package_purchases')
    op.drop_index(op.f('ix_tutor_packages_tutor_id'), table_name='tutor_packages')
    op.drop_table('tutor_packages')
