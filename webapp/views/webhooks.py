"""The Stripe and PayPal webhooks: raw body, verified, stored by event id, applied once by a job."""
from flask import Blueprint, jsonify, request

from ..extensions import csrf
from ..services import paypal_events, stripe_events
from .common import now_utc

bp = Blueprint("webhooks", __name__)


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook():
    """Receive one Stripe event (400 for a bad signature, 200 for everything we accept, replays included)."""
    outcome = stripe_events.receive_webhook(request.get_data(cache=False), request.headers.get("Stripe-Signature"),
                                       now_utc())
    return jsonify({"received": True, "outcome": outcome})


@bp.post("/webhooks/paypal")
@csrf.exempt
def paypal_webhook():
    """Receive one PayPal event (400 when it does not verify, 503 when PayPal cannot verify it now, 200 otherwise)."""
    outcome = paypal_events.receive_webhook(request.get_data(cache=False), request.headers, now_utc())
    return jsonify({"received": True, "outcome": outcome})
