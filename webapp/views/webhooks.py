"""The Stripe webhook: raw body, signature verified, stored by event id, applied once."""
from flask import Blueprint, jsonify, request

from ..extensions import csrf
from ..services import stripe_events
from .common import now_utc

bp = Blueprint("webhooks", __name__)


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    """Receive one Stripe event (400 for a bad signature, 200 for everything we accept, replays included)."""
    outcome = stripe_events.receive_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"),
                                       now_utc())
    return jsonify({"received": True, "outcome": outcome})
