"""The front page (support lives in views/support.py)."""
from flask import Blueprint, redirect, url_for
from flask_login import current_user

from .common import render

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    """Landing page: find a tutor, or go to your own dashboard."""
    if current_user.is_authenticated and current_user.is_tutor:
        return redirect(url_for("tutor_dashboard.lessons"))
    return render("main/home.html")


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for /favicon.ico get the site icon (pages link the SVG)."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
