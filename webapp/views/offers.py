"""Special offers seen from an email: the signed unsubscribe link of an offer announcement."""
from __future__ import annotations

from flask import Blueprint, request

from ..services import offer_announcements, signed_links
from .common import now_utc, render

bp = Blueprint("offers", __name__, url_prefix="/offers")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET asks to confirm; POST stops offer announcements to the link's account (the link works once)."""
    now = now_utc()
    try:
        user, _ = offer_announcements.read_unsubscribe_link(token, now)
        if request.method == "POST":
            offer_announcements.unsubscribe(token, now)
            return render("offers/unsubscribed.html", email=user.email)
    except signed_links.LinkError as exc:
        return render("offers/unsubscribe.html", message=exc.message, status=400)
    return render("offers/unsubscribe.html", email=user.email, message=None)
