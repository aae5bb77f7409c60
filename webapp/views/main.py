"""The front page and the support contact page."""
from urllib.parse import quote

from flask import Blueprint, current_app, redirect, request, url_for
from flask_login import current_user

from .common import render

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Landing page: find a tutor, or go to your own dashboard."""
    if current_user.is_authenticated and current_user.is_tutor:
        return redirect(url_for("tutor_dashboard.lessons"))
    return render("main/home.html")


@bp.get("/support")
def support():
    """How to get help (a lesson that went wrong, a refund question): for now an email to support."""
    booking_id = request.args.get("booking", "")
    booking_id = booking_id if booking_id.isdigit() else ""
    subject = f"Problem with booking #{booking_id}" if booking_id else "Help with Lessonbook"
    address = current_app.config["SUPPORT_EMAIL"]
    return render("main/support.html", address=address, subject=subject, booking_id=booking_id,
                  mailto=f"mailto:{address}?subject={quote(subject)}")


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico get the site icon (pages link the SVG)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
