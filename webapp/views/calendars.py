"""Calendars: the secret feed of a user's lessons (export) and a tutor's connected calendars (import)."""
from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, flash, redirect, request, session, url_for
from flask_login import current_user

from ..extensions import limiter
from ..forms import CalendarSourceForm
from ..models import Role
from ..services import calendar_feeds, calendar_sync
from ..services.errors import ServiceError, ValidationError
from ..services.urls import public_url
from .common import apply_service_errors, now_utc, perform, render, role_required

bp = Blueprint("calendars", __name__)


def _feed_limit() -> str:
    return current_app.config["CALENDAR_FEED_RATE_LIMIT"]


def _feed_key() -> str:
    """Rate-limit key per feed address (calendar apps fetch from shared servers, so not per client address)."""
    token = (request.view_args or {}).get("token", "")
    return "calendar-feed:" + hashlib.sha256(token.encode()).hexdigest()[:32]


@bp.get("/calendar/<token>.ics")
@limiter.limit(_feed_limit, key_func=_feed_key)
def feed(token: str):
    """The user's lessons as iCalendar, for calendar apps (no log-in: the secret address is the credential)."""
    body = calendar_feeds.feed_ics(token, now_utc())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="lessonbook.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _sources_page(form=None, status: int = 200):
    """The tutor's calendars page, or its list alone (HTMX polls it while a first sync is on its way)."""
    now = now_utc()
    sources = calendar_sync.sources(current_user._get_current_object(), now)
    return render("tutor/calendars.html", partial="tutor/_calendar_sources.html", status=status,
                  form=form or CalendarSourceForm(formdata=None), sources=sources, now=now,
                  google_enabled=calendar_sync.google_settings() is not None,
                  google_connected=any(s.source.kind == "google" for s in sources))


@bp.route("/tutor/calendars", methods=["GET", "POST"])
@role_required(Role.TUTOR)
def sources():
    """Connect a calendar by its secret iCal address, and see how each one syncs."""
    form = CalendarSourceForm()
    if form.validate_on_submit():
        try:
            calendar_sync.add_ics_source(current_user._get_current_object(), form.url.data, form.label.data,
                                         now_utc())
        except ValidationError as exc:
            apply_service_errors(form, exc.fields, None if exc.fields else exc.message)
        else:
            return redirect(url_for("calendars.sources"), code=303)
    return _sources_page(form=form if form.is_submitted() else None, status=422 if form.errors else 200)


@bp.get("/tutor/calendars/list")
@role_required(Role.TUTOR)
def source_list():
    """The list of connected calendars alone (polled while a sync is on its way)."""
    return render("tutor/_calendar_sources.html", sources=calendar_sync.sources(current_user._get_current_object(),
                                                                                now_utc()), now=now_utc())


def _user_key() -> str:
    """Rate-limit key per signed-in user (anonymous requests are refused by the role check anyway)."""
    return f"calendar-sync:{getattr(current_user, 'id', None) or request.remote_addr}"


@bp.post("/tutor/calendars/<id:source_id>/sync")
@limiter.limit("20 per hour", key_func=_user_key)
@role_required(Role.TUTOR)
def sync_now(source_id: int):
    """Sync one of your calendars now (the worker does it within seconds)."""
    return perform(lambda: calendar_sync.request_sync(current_user._get_current_object(), source_id),
                   "Syncing: the status below updates when it is done.", url_for("calendars.sources"))


@bp.post("/tutor/calendars/<id:source_id>/remove")
@role_required(Role.TUTOR)
def remove(source_id: int):
    """Disconnect one of your calendars (its busy time no longer blocks your hours)."""
    try:
        calendar_sync.remove_source(current_user._get_current_object(), source_id)
    except ServiceError:
        pass  # already gone (a double click): the list says so by its absence
    return redirect(url_for("calendars.sources"), code=303)


_GOOGLE_SESSION_KEY = "google_calendar_oauth"  # the state and PKCE verifier between leaving for Google and returning


def _google_callback_url() -> str:
    return public_url(url_for("calendars.google_callback"))


@bp.get("/tutor/calendars/google")
@role_required(Role.TUTOR)
def google_connect():
    """Leave for Google to allow Lessonbook to read your free/busy times."""
    start = calendar_sync.start_google(current_user._get_current_object(), _google_callback_url())
    session[_GOOGLE_SESSION_KEY] = {"state": start.state, "verifier": start.verifier}
    return redirect(start.url, code=303)


@bp.get("/tutor/calendars/google/callback")
@role_required(Role.TUTOR)
def google_callback():
    """Google sends you back here: store the access and sync at once (or say why not)."""
    kept = session.pop(_GOOGLE_SESSION_KEY, None) or {}
    try:
        calendar_sync.finish_google(current_user._get_current_object(), code=request.args.get("code"),
                                    state=request.args.get("state"), error=request.args.get("error"),
                                    expected_state=kept.get("state"), verifier=kept.get("verifier"),
                                    redirect_uri=_google_callback_url(), now=now_utc())
    except ServiceError as exc:
        flash(exc.message, "error")
    else:
        flash("Google Calendar connected: its busy times are being read now.", "success")
    return redirect(url_for("calendars.sources"), code=303)
