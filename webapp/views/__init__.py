"""HTTP shells: one blueprint per area."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from . import account, admin, api, auth, bookings, main, tutor_dashboard, tutors, webhooks
    for module in (main, auth, account, tutors, bookings, tutor_dashboard, admin, webhooks, api):
        app.register_blueprint(module.bp)
