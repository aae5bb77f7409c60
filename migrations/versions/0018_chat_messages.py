"""chat messages: a lesson room's chat, numbered per lesson

Revision ID: 0018_chat_messages
Revises: 0017_paypal
Create Date: 2026-12-02 16:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0018_chat_messages'
down_revision = '0017_paypal'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'chat_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('lesson_id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('seq > 0', name=op.f('ck_chat_messages_seq_positive')),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_chat_messages_author_id_users')),
        sa.ForeignKeyConstraint(['lesson_id'], ['lessons.id'], name=op.f('fk_chat_messages_lesson_id_lessons'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_chat_messages')),
        sa.UniqueConstraint('lesson_id', 'seq', name='uq_chat_messages_lesson_seq'),
    )


def downgrade():
    op.drop_table('chat_messages')
