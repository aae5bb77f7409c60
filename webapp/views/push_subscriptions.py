"""Web Push for the browser: the service worker script, the VAPID public key, subscribe and unsubscribe (JSON)."""
from flask import Blueprint, abort, current_app, jsonify, request, send_from_directory
from flask_login import current_user

from ..services import push_subscriptions
from ..services.errors import ServiceError, ValidationError

bp = Blueprint("push_subscriptions", __name__)


class MalformedJson(ServiceError):
    status = 400


@bp.get("/service-worker.js")
def service_worker():
    """The service worker, served from the site root so its scope may be the whole site."""
    response = send_from_directory(current_app.static_folder, "service-worker.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"  # browsers then see a new worker as soon as it is deployed
    return response


@bp.get("/push/vapid-public-key")
def vapid_public_key():
    """The server's VAPID public key, which browsers subscribe with (applicationServerKey)."""
    return jsonify(publicKey=push_subscriptions.application_server_key())


@bp.post("/push/subscribe")
def subscribe():
    """Register this browser's PushSubscription (JSON) for the signed-in user; CSRF in the X-CSRFToken header."""
    subscription = push_subscriptions.subscribe(_signed_in_user(), _json_body())
    return jsonify(subscribed=True, endpoint=subscription.endpoint), 201


@bp.post("/push/unsubscribe")
def unsubscribe():
    """Stop pushing to this browser ({"endpoint": ...}); only the user it belongs to may."""
    push_subscriptions.unsubscribe(_signed_in_user(), _json_body().get("endpoint"))
    return jsonify(subscribed=False)


def _signed_in_user():
    if not current_user.is_authenticated:
        abort(401)
    return current_user._get_current_object()


def _json_body() -> dict:
    data = request.get_json(force=True, silent=True)  # whatever the Content-Type says
    if data is None:
        raise MalformedJson("The request body is not valid JSON.", {"body": "Send a JSON object."})
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.", {"body": "Send a JSON object."})
    return data


