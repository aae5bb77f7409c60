"""How a request becomes a user: the session cookie (Flask-Login) or an API bearer token."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, g, make_response, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from .errors import error_response, wants_json
from .extensions import login_manager
from .models import User
from .services.sessions import end_session, start_session, token_for, user_for_session


def init_app(app: Flask) -> None:
    """Register the Flask-Login loaders."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"

    @login_manager.unauthorized_handler
    def unauthorized():
        """Pages redirect to the login form; htmx is told to do the same; the API answers 401 in JSON."""
        target = url_for("auth.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
        if wants_json():
            return error_response(401, "Please log in first.")
        if request.headers.get("HX-Request") == "true":
            response = make_response("", 401)
            response.headers["HX-Redirect"] = target  # htmx then loads the login page as a whole page
            return response
        return redirect(target)

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        """The session (or remember-me) cookie's user, while that log-in has not been ended server-side."""
        return user_for_session(session_id, datetime.now(UTC))

    @login_manager.request_loader
    def load_user_from_bearer(req) -> User | None:
        header = req.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_bearer(token.strip())


def user_for_bearer(raw: str) -> User | None:
    """The live API token's user; the token row is kept on `g.api_token` (so DELETE /api/auth/token can revoke it)."""
    token = token_for(raw, datetime.now(UTC))
    g.api_token = token
    return token.user if token else None


def log_in(user: User, remember: bool = False) -> None:
    """Log this browser in: a new server-side session whose key the session (and remember-me) cookie carries."""
    if current_user.is_authenticated:  # logging in again (perhaps as someone else) ends the log-in it replaces
        end_session(current_user._get_current_object())
    start_session(user, datetime.now(UTC), request.headers.get("User-Agent", ""))
    login_user(user, remember=remember)


def log_out() -> None:
    """End this browser's session server-side, then forget it in the cookie."""
    if current_user.is_authenticated:
        end_session(current_user._get_current_object())
    logout_user()


def bearer_authenticated() -> bool:
    """True when this request carries an Authorization: Bearer header (CSRF does not apply then)."""
    return request.headers.get("Authorization", "").lower().startswith("bearer ")
