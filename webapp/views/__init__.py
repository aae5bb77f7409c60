"""HTTP shells: one blueprint per area."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
    from . import account, api, auth, bookings, main, tutor_dashboard, tutors
    for module in (main, auth, account, tutors, bookings, tutor_dashboard, api):
        app.register_blueprint(module.bp)
