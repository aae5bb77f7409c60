"""HTTP shells: one blueprint per area."""
from flask import Flask
from werkzeug.routing import IntegerConverter


class IdConverter(IntegerConverter):
    """Database ids in URLs: positive and within a 32-bit column, so a huge number is a 404, not an error."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2**31 - 1)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app."""
    app.url_map.converters["id"] = IdConverter
    from . import account, admin, api, auth, bookings, main, tutor_dashboard, tutors, webhooks
    for module in (main, auth, account, tutors, bookings, tutor_dashboard, admin, webhooks, api):
        app.register_blueprint(module.bp)
