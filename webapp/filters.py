"""Jinja filters and globals: times in the viewer's zone, money in words."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from .domain.money import Money


def viewer_zone_name() -> str:
    """The signed-in user's zone, else the site default."""
    from flask import current_app
    if getattr(current_user, "is_authenticated", False):
        return current_user.timezone
    return current_app.config["DEFAULT_TIMEZONE"]


def local(dt: datetime | None, zone: str | None = None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """Format an aware datetime in `zone` (default: the viewer's)."""
    if dt is None:
        return ""
    return dt.astimezone(ZoneInfo(zone or viewer_zone_name())).strftime(fmt)


def money(amount_minor: int, currency: str) -> str:
    """Format minor units with the currency symbol."""
    return Money(int(amount_minor), currency).format()


def init_app(app: Flask) -> None:
    """Register filters and template globals."""
    app.jinja_env.filters["local"] = local
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["viewer_zone_name"] = viewer_zone_name
