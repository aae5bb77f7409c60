"""question authoring: who owns a question item (NULL = the shared bank), and its versions and copies

Revision ID: 0034_question_authoring
Revises: 0033_one_live_subscription
Create Date: 2026-12-02 21:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0034_question_authoring'
down_revision = '0033_one_live_subscription'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('question_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('previous_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_question_items_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_question_items_owner_id_users'), 'users', ['owner_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_question_items_previous_id_question_items'), 'question_items',
                                    ['previous_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_question_items_source_id_question_items'), 'question_items',
                                    ['source_id'], ['id'])
    # Items a tutor imported before owners existed become that tutor's own; an admin's imports stay in the shared bank.
    op.execute("UPDATE question_items SET owner_id = created_by_id WHERE created_by_id IN "
               "(SELECT id FROM users WHERE role = 'tutor')")


def downgrade():
    with op.batch_alter_table('question_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_question_items_source_id_question_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_question_items_previous_id_question_items'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_question_items_owner_id_users'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_question_items_owner_id'))
        batch_op.drop_column('source_id')
        batch_op.drop_column('previous_id')
        batch_op.drop_column('version')
        batch_op.drop_column('owner_id')
