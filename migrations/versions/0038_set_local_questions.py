"""a tutor's edit of a draft set's question stays private to that set unless saved to their bank

Revision ID: 0038_set_local_questions
Revises: 0037_homework_reviewed
Create Date: 2026-12-03 08:00:00

Earlier set edits were stored as ordinary own items and cannot be told apart from copies the tutor made on purpose
(both carry source_id), so they stay in their tutor's bank.
"""
from alembic import op
import sqlalchemy as sa

revision = '0038_set_local_questions'
down_revision = '0037_homework_reviewed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('question_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('local_to_set_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_question_items_local_to_set_id'), ['local_to_set_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_question_items_local_to_set_id_homework_sets'), 'homework_sets',
                                    ['local_to_set_id'], ['id'])


def downgrade():
    with op.batch_alter_table('question_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_question_items_local_to_set_id_homework_sets'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_question_items_local_to_set_id'))
        batch_op.drop_column('local_to_set_id')
