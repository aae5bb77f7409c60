"""The notification centre: the page, the bell's unread count (an HTMX partial), and marking notifications read."""
from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_required

from ..services import notifications
from .common import is_htmx, now_utc, render

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _bell_count():
    """Templates may ask for the signed-in user's unread count (the nav's bell); only pages that ask pay for it."""
    def unread_notification_count() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        return notifications.unread_count(current_user)
    return {"unread_notification_count": unread_notification_count}


@bp.get("/notifications")
@login_required
def index():
    """Your notifications, newest first, with the unread ones marked (the list is an HTMX partial)."""
    return _centre()


@bp.get("/notifications/bell")
@login_required
def bell():
    """The bell with your unread count, for htmx to refresh; without htmx, the notification centre itself."""
    if not is_htmx():
        return _centre()
    return render("notifications/_bell.html", partial="notifications/_bell.html",
                  unread=notifications.unread_count(current_user))


@bp.post("/notifications/<id:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    """Mark one of your notifications read (anyone else's is not found)."""
    notifications.mark_read(current_user, notification_id, now=now_utc())
    return _changed()


@bp.post("/notifications/read-all")
@login_required
def mark_all_read():
    """Mark all your notifications read."""
    notifications.mark_all_read(current_user, now=now_utc())
    return _changed()


def _before() -> int | None:
    """The page of older notifications being shown (`?before=<id>`), if any."""
    before = request.args.get("before", type=int)
    return before if before is not None and 0 < before < 2**31 else None


def _centre():
    before = _before()
    items = notifications.recent(current_user, before_id=before)
    return render("notifications/index.html", partial="notifications/_list.html", items=items, before=before,
                  more=len(items) == notifications.PAGE_SIZE, unread=notifications.unread_count(current_user))


def _changed():
    """htmx gets the refreshed list and tells the bell to refresh; a plain form post goes back to the page."""
    if not is_htmx():
        return redirect(url_for("notifications.index", before=_before()), code=303)
    response = _centre()
    response.headers["HX-Trigger"] = "notifications-changed"
    return response
