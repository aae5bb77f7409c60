"""support tickets: a threaded conversation per ticket with attachments and internal notes, and canned replies

Revision ID: 0027_support_tickets
Revises: 0026_homework
Create Date: 2026-12-02 17:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0027_support_tickets'
down_revision = '0026_homework'
branch_labels = None
depends_on = None

# TicketStatus and TicketPriority as of this revision (a migration keeps its own copy).
STATUSES = ('new', 'open', 'pending', 'solved', 'closed')
PRIORITIES = ('low', 'normal', 'high', 'urgent')


def _one_of(column, values):
    return "{} IN ({})".format(column, ",".join(f"'{v}'" for v in values))


def upgrade():
    op.create_table(
        'support_tickets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requester_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('priority', sa.String(length=10), nullable=False),
        sa.Column('assignee_id', sa.Integer(), nullable=True),
        sa.Column('booking_id', sa.Integer(), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('form_key', sa.String(length=64), nullable=True),
        sa.CheckConstraint(_one_of('status', STATUSES), name=op.f('ck_support_tickets_status_known')),
        sa.CheckConstraint(_one_of('priority', PRIORITIES), name=op.f('ck_support_tickets_priority_known')),
        sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_support_tickets_requester_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_support_tickets_assignee_id_users'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_support_tickets_booking_id_bookings')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_tickets')),
        sa.UniqueConstraint('form_key', name=op.f('uq_support_tickets_form_key')),
    )
    with op.batch_alter_table('support_tickets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_support_tickets_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_tickets_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_support_tickets_booking_id'), ['booking_id'], unique=False)
    op.create_table(
        'ticket_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False),
        sa.Column('via', sa.String(length=10), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'],
                                name=op.f('fk_ticket_messages_ticket_id_support_tickets'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_ticket_messages_author_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_messages')),
    )
    with op.batch_alter_table('ticket_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_messages_ticket_id'), ['ticket_id'], unique=False)
    op.create_table(
        'ticket_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('original_name', sa.String(length=255), nullable=False),
        sa.Column('stored_name', sa.String(length=100), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['ticket_messages.id'],
                                name=op.f('fk_ticket_attachments_message_id_ticket_messages'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_attachments')),
        sa.UniqueConstraint('stored_name', name=op.f('uq_ticket_attachments_stored_name')),
    )
    with op.batch_alter_table('ticket_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ticket_attachments_message_id'), ['message_id'], unique=False)
    op.create_table(
        'canned_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_replies')),
        sa.UniqueConstraint('title', name=op.f('uq_canned_replies_title')),
    )


def downgrade():
    op.drop_table('canned_replies')
    op.drop_table('ticket_attachments')
    op.drop_table('ticket_messages')
    op.drop_table('support_tickets')
