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
    from . import (account, admin, admin_jobs, admin_tickets, admin_topics, admin_users, api, auth, bookings, calendars, homework,
                   lesson_room, lessons, main, notes, notifications, offers, paypal, push_subscriptions, reviews,
                   subscriptions, support, tutor_dashboard, tutors, wallet, webhooks)
    for module in (main, auth, account, tutors, bookings, lessons, lesson_room, notes, homework, reviews,
                   notifications, push_subscriptions, support, tutor_dashboard, calendars, wallet, subscriptions,
                   paypal, offers, admin, admin_jobs, admin_users, admin_tickets, admin_topics, webhooks, api):
        app.register_blueprint(module.bp)
    if app.config["ENV_NAME"] != "production":
        from . import dev_mail
        app.register_blueprint(dev_mail.bp)
