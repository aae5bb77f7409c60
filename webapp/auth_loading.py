"""How a request becomes a user: the session cookie (Flask-Login) or an API bearer token."""
from __future__ import annotations

from flask import Flask, request

from .extensions import db, login_manager
from .models import User


def init_app(app: Flask) -> None:
    """Register the Flask-Login loaders."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"

    @login_manager.unauthorized_handler
    def unauthorized():
        """Pages redirect to the login form; htmx is told to do the same; the API answers 401 in JSON."""
        from flask import make_response, redirect, url_for

        from .errors import error_response, wants_json
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        if wants_json():
            return error_response(401, "Please log in first.")
        if request.headers.get("HX-Request") == "true":
            response = make_response("", 401)
            response.headers["HX-Redirect"] = target  # htmx then loads the login page as a whole page
            return response
        return redirect(target)

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        return db.session.get(User, int(user_id)) if user_id.isdigit() else None

    @login_manager.request_loader
    def load_user_from_bearer(req) -> User | None:
        from .services.accounts import user_for_token
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_token(token.strip())


def bearer_authenticated() -> bool:
    """True when this request carries an Authorization: Bearer header (CSRF does not apply then)."""
    return request.headers.get("Authorization", "").lower().startswith("bearer ")
