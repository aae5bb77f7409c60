"""Lessonbook: the Flask application factory."""
from __future__ import annotations

from flask import Flask

from config import config_for

from .extensions import csrf, db, limiter, login_manager, migrate, sock


def create_app(config_name: str | None = None, **overrides) -> Flask:
    """Build the app for `config_name` (production, development, testing) with optional overrides."""
    app = Flask(__name__, instance_relative_config=False)
    config = config_for(config_name)
    app.config.from_object(config)
    app.config.update(overrides)
    if config.ENV_NAME == "production" and not overrides:
        config.validate()
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        from pathlib import Path
        Path(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config.get("REDIS_URL") or "memory://")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    sock.init_app(app)
    login_manager.init_app(app)

    from .adapters.database import configure_engine
    with app.app_context():
        configure_engine(db.engine)

    from . import auth_loading, errors, filters, security_headers
    auth_loading.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    security_headers.init_app(app)

    # "/tutors/" typed or linked with a trailing slash is the same page, not a 404 (set before any rule is added).
    app.url_map.strict_slashes = False
    from .views import register_blueprints
    register_blueprints(app)

    from .cli import register_cli
    register_cli(app)
    return app


def _migrations_dir():
    from pathlib import Path
    return Path(__file__).resolve().parent.parent / "migrations"
