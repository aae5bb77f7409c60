"""stored webhook events name their booking, so a booking's timeline lists its Stripe and PayPal events

Revision ID: 0035_event_bookings
Revises: 0034_question_authoring
Create Date: 2026-12-02 21:40:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0035_event_bookings'
down_revision = '0034_question_authoring'
branch_labels = None
depends_on = None

_stripe = sa.table('stripe_events', sa.column('id', sa.String), sa.column('type', sa.String),
                   sa.column('payload', sa.JSON), sa.column('booking_id', sa.Integer))
_paypal = sa.table('paypal_events', sa.column('id', sa.String), sa.column('type', sa.String),
                   sa.column('payload', sa.JSON), sa.column('booking_id', sa.Integer))
_receipts = sa.table('payment_receipts', sa.column('booking_id', sa.Integer), sa.column('charge_id', sa.String),
                     sa.column('payment_intent_id', sa.String))
_orders = sa.table('paypal_orders', sa.column('booking_id', sa.Integer), sa.column('order_id', sa.String),
                   sa.column('capture_id', sa.String))


def _stripe_booking(bind, event_type, obj):
    """The same rule the app applies when it stores an event (stripe_events._event_booking_id)."""
    booking_id = (obj.get('metadata') or {}).get('booking_id') or obj.get('client_reference_id')
    if str(booking_id or '').isdigit() and len(str(booking_id)) < 10:
        return int(booking_id)
    if event_type.startswith('charge.'):
        return bind.scalar(sa.select(_receipts.c.booking_id).where(_receipts.c.charge_id == obj.get('id'))) \
            or bind.scalar(sa.select(_receipts.c.booking_id).where(
                _receipts.c.payment_intent_id == obj.get('payment_intent')))
    return None


def _paypal_booking(bind, event_type, resource):
    """The same rule as paypal_events._booking_of: the order, or the capture a refund belongs to."""
    if event_type.startswith('CHECKOUT.ORDER.'):
        order_id = resource.get('id')
    else:
        order_id = ((resource.get('supplementary_data') or {}).get('related_ids') or {}).get('order_id')
    if order_id:
        return bind.scalar(sa.select(_orders.c.booking_id).where(_orders.c.order_id == order_id))
    for link in resource.get('links') or []:
        if isinstance(link, dict) and link.get('rel') == 'up' and '/captures/' in str(link.get('href')):
            capture_id = str(link['href']).rstrip('/').rsplit('/', 1)[-1]
            return bind.scalar(sa.select(_orders.c.booking_id).where(_orders.c.capture_id == capture_id))
    return None


def upgrade():
    for name in ('stripe_events', 'paypal_events'):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column('booking_id', sa.Integer(), nullable=True))
            batch_op.create_index(f'ix_{name}_booking_id', ['booking_id'], unique=False)
    bind = op.get_bind()
    for table, find, key in ((_stripe, _stripe_booking, lambda p: ((p.get('data') or {}).get('object') or {})),
                             (_paypal, _paypal_booking, lambda p: p.get('resource') or {})):
        last = ''
        while True:  # in pages by id, so a long history is never loaded at once
            rows = bind.execute(sa.select(table.c.id, table.c.type, table.c.payload).where(table.c.id > last)
                                .order_by(table.c.id).limit(500)).all()
            if not rows:
                break
            for row in rows:
                try:
                    booking_id = find(bind, row.type or '', key(row.payload or {}))
                except (AttributeError, TypeError):  # an odd payload: it stays off the timeline
                    booking_id = None
                if booking_id:
                    bind.execute(sa.update(table).where(table.c.id == row.id).values(booking_id=booking_id))
            last = rows[-1].id


def downgrade():
    for name in ('paypal_events', 'stripe_events'):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(f'ix_{name}_booking_id')
            batch_op.drop_column('booking_id')
