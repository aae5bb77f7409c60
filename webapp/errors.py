"""Errors as users see them: JSON with a message under /api, a page in words elsewhere."""
from __future__ import annotations

from flask import Flask, g, has_request_context, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from .extensions import db
from .services.errors import ServiceError

_MESSAGES = {
    400: "That request was not understood.",
    401: "Please log in first.",
    403: "You are not allowed to do that.",
    404: "We could not find that.",
    405: "That action is not available here.",
    409: "That conflicts with something that just changed.",
    413: "That upload is too large.",
    429: "Too many attempts. Please wait a minute and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}
# When the request had already committed something, "nothing was changed" would be a lie (and a retry could do it
# twice): say so and send the user to look first.
_AFTER_COMMIT_500 = ("Something went wrong on our side after part of your request was saved. Please reload the "
                     "page to see what was saved before trying again.")
_COMMITTED = "lessonbook_committed"


# Paths called by scripts (mobile clients, Stripe, the push script) answer errors in the API's JSON shape.
JSON_PATHS = ("/api/", "/stripe/", "/push/")


def wants_json() -> bool:
    """API paths and JSON clients get JSON errors."""
    return request.path.startswith(JSON_PATHS) or request.accept_mimetypes.best == "application/json"


def error_response(status: int, message: str, fields: dict | None = None, details: dict | None = None):
    """Build the error answer in the right format."""
    if wants_json():
        body = {"error": {**(details or {}), "status": status, "message": message}}
        if fields:
            body["error"]["fields"] = fields
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message, fields=fields or {}), status


def _note_commit(_session) -> None:
    if has_request_context():
        setattr(g, _COMMITTED, True)


def init_app(app: Flask) -> None:
    """Register the handlers."""
    if not event.contains(Session, "after_commit", _note_commit):
        event.listen(Session, "after_commit", _note_commit)

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError):
        return error_response(exc.status, exc.message, exc.fields, exc.details)

    @app.errorhandler(CSRFError)
    def _csrf_error(exc: CSRFError):
        return error_response(400, "Your session form token is missing or expired. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        message = _MESSAGES.get(status, exc.description or "Request failed.")
        if status == 429:
            message = _MESSAGES[429]
        response = make_response(error_response(status, message))
        # Keep the headers the exception carries (Allow on a 405, Retry-After, WWW-Authenticate): only the body
        # is ours. Its Content-Type is werkzeug's HTML one, which our JSON or page replaces.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        app.logger.exception("Unhandled error")
        db.session.rollback()
        return error_response(500, _AFTER_COMMIT_500 if g.get(_COMMITTED) else _MESSAGES[500])
