"""Rescheduling a lesson: propose a new time, answer in the app, or answer from a signed email link."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..services import lessons, reschedules, signed_links
from ..services.errors import ServiceError, ValidationError
from . import params
from .common import now_utc, render

bp = Blueprint("lessons", __name__)
# What a date the browser could not read gets (its field is named "Date"; the parser's message names the parameter).
BAD_DATE = "That is not a date we can read: choose one in the Date field, such as 2027-03-28."


def _free_times(lesson, day, zone) -> list[datetime]:
    """Free starts on one local date for moving this lesson (its place and travel included)."""
    return reschedules.free_times(lesson, day, zone, now_utc())


@bp.route("/lessons/<id:lesson_id>/reschedule", methods=["GET", "POST"])
@login_required
def reschedule(lesson_id: int):
    """Propose a new time (72 h+ ahead, a free slot), or answer / withdraw a standing proposal."""
    now = now_utc()
    lesson = lessons.get_lesson(current_user, lesson_id)
    zone = ZoneInfo(current_user.timezone)
    error = None
    if request.method == "POST":
        try:
            start = params.parse_instant(request.form.get("suggested_start"), "suggested_start")
            reschedules.propose(current_user, lesson.id, start, None, now)
        except ServiceError as exc:
            error = exc.message
        else:
            flash("Your proposal is sent. The lesson keeps its time until it is accepted.", "success")
            return redirect(url_for("lessons.reschedule", lesson_id=lesson.id), code=303)
    lesson = lessons.get_lesson(current_user, lesson_id)
    day = (lesson.start_at.astimezone(zone) + timedelta(days=1)).date()
    if request.args.get("date"):
        try:
            day = params.parse_date(request.args["date"], "date")
        except ValidationError:  # a hand-edited address: the page, with the reason, not an error page
            error = error or BAD_DATE
    can_propose = reschedules.can_propose(current_user, lesson, now)
    outcome = None
    if can_propose or lesson.state == "RESCHEDULE" and lesson.reschedule_by_id == current_user.id:
        outcome = reschedules.outcome_if_declined(current_user, lesson, now)
    elif lesson.state == "RESCHEDULE":
        outcome = reschedules.decline_outcome(current_user, lesson, now)
    return render("lessons/reschedule.html", lesson=lesson, now=now, error=error, day=day,
                  times=_free_times(lesson, day, zone) if can_propose else [], can_propose=can_propose,
                  outcome=outcome, reschedule_notice=reschedules.NOTICE, status=422 if error else 200)


@bp.get("/lessons/<id:lesson_id>/reschedule/times")
@login_required
def reschedule_times(lesson_id: int):
    """The free times on one date (HTMX partial for the date picker)."""
    lesson = lessons.get_lesson(current_user, lesson_id)
    zone = ZoneInfo(current_user.timezone)
    error, times = None, []
    try:
        day = params.parse_date(request.args.get("date"), "date")
        times = _free_times(lesson, day, zone)
    except ValidationError:
        error, day = BAD_DATE, None
    return render("lessons/reschedule.html", partial="lessons/_times.html", lesson=lesson, times=times, day=day,
                  error=error, now=now_utc(), can_propose=True, reschedule_notice=reschedules.NOTICE,
                  status=422 if error else 200)


@bp.post("/lessons/<id:lesson_id>/reschedule/respond")
@login_required
def respond(lesson_id: int):
    """Accept or decline the standing proposal from inside the app."""
    accept = request.form.get("answer") == "accept"
    try:
        version = params.required_int(request.form, "version", "version")
        lesson = reschedules.respond(current_user, lesson_id, version, accept, now_utc())
        flash("The lesson has moved to the new time." if accept else
              f"Declined. {reschedules.cancelled_outcome(lesson)}", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("lessons.reschedule", lesson_id=lesson_id), code=303)


@bp.post("/lessons/<id:lesson_id>/reschedule/withdraw")
@login_required
def withdraw(lesson_id: int):
    """Take your own proposal back."""
    try:
        reschedules.withdraw(current_user, lesson_id, now_utc())
        flash("Proposal withdrawn; the lesson keeps its time.", "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(url_for("lessons.reschedule", lesson_id=lesson_id), code=303)


USED_LINK_WORDS = {
    "accept": "This link was used already: the new time was accepted with it. Nothing more to do.",
    "decline": "This link was used already: the new time was declined with it. Nothing more to do.",
}


@bp.route("/links/reschedule/<action>/<token>", methods=["GET", "POST"])
def reschedule_link(action: str, token: str):
    """A signed Accept/Decline link from the email: GET only shows what it would do; POST does it."""
    now = now_utc()
    try:
        user, lesson, claims = reschedules.read_link(action, token, now)
    except signed_links.LinkError as exc:
        if exc.reason == "used" and action in USED_LINK_WORDS:
            # Most often the answerer's own refresh or second click: say what the link did, not only that it is spent.
            return _link_refused(USED_LINK_WORDS[action], exc.data.get("lesson"), 200, used=True)
        return _link_refused(exc.message, exc.data.get("lesson"), 400)
    if request.method == "POST":
        try:
            reschedules.respond(user, lesson.id, claims.data["v"], action == "accept", now, link=claims)
        except (ServiceError, signed_links.LinkError) as exc:
            return _link_refused(exc.message, lesson.id, 409)
        done = lessons.get_lesson(user, lesson.id)
        return render("lessons/link_done.html", lesson=done, action=action, user=user,
                      outcome=reschedules.cancelled_outcome(done) if action != "accept" else None)
    return render("lessons/link_confirm.html", lesson=lesson, action=action, user=user, token=token,
                  outcome=reschedules.decline_outcome(user, lesson, now) if action != "accept" else None)


def _link_refused(message: str, lesson_id, status: int, used: bool = False):
    """The refusal page, with the way to the lesson (where it stands now) when the link named one we trust."""
    lesson_url = url_for("lessons.reschedule", lesson_id=lesson_id) if isinstance(lesson_id, int) else None
    return render("lessons/link_refused.html", message=message, lesson_url=lesson_url, status=status, used=used)
