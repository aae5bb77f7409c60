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
