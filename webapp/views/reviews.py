"""Reviews: the learner's side reviews a tutor after a lesson and rates the experience; admins manage criteria."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from ..domain.limits import parse_id
from ..models import Lesson, Role
from ..services import reviews
from ..services.errors import Conflict, ServiceError, ValidationError
from ..services.lessons import get_lesson
from .common import is_htmx, now_utc, render, role_required

bp = Blueprint("reviews", __name__)


@bp.app_template_global("lesson_follow_up")
def lesson_follow_up(lesson: Lesson) -> reviews.FollowUp:
    """For templates: what the signed-in user can do about a lesson once it is over."""
    return reviews.follow_up(current_user, lesson, now_utc())


@bp.route("/lessons/<id:lesson_id>/review", methods=["GET", "POST"])
@login_required
def review(lesson_id: int):
    """The review form for the lesson's student (or the child's parent); shows the review once left."""
    now = now_utc()
    error, fields = None, {}
    if request.method == "POST":
        ratings = {key.removeprefix("rating-"): value for key, value in request.form.items()
                   if key.startswith("rating-")}
        try:
            reviews.submit_review(current_user, lesson_id, ratings, request.form.get("comment"), now)
        except Conflict as exc:  # a double submit: the first one counted
            flash(exc.message, "info")
            return redirect(url_for("reviews.review", lesson_id=lesson_id), code=303)
        except ValidationError as exc:
            error, fields = exc.message, exc.fields
        else:
            flash("Thank you: your review is on the tutor's profile.", "success")
            return redirect(url_for("reviews.review", lesson_id=lesson_id), code=303)
    page = reviews.review_page(current_user, lesson_id, now)
    return render("reviews/review.html", view=page, lesson=page.lesson, error=error, fields=fields,
                  form=request.form if request.method == "POST" else {}, max_comment=reviews.MAX_COMMENT,
                  status=422 if error else 200)


@bp.post("/lessons/<id:lesson_id>/experience")
@login_required
def experience(lesson_id: int):
    """Rate the overall experience of a lesson 1–5 (HTMX swaps the form; otherwise back to the booking)."""
    now = now_utc()
    try:
        reviews.set_experience_rating(current_user, lesson_id, request.form.get("experience_rating"), now)
        error = None
    except ValidationError as exc:
        error = exc.message
    lesson = get_lesson(current_user, lesson_id)
    if is_htmx():
        return render("reviews/_experience.html", partial="reviews/_experience.html", lesson=lesson,
                      follow=reviews.follow_up(current_user, lesson, now), error=error, saved=error is None,
                      status=422 if error else 200)
    flash(error or "Thanks: your rating is saved.", "error" if error else "success")
    target = url_for("bookings.detail", booking_id=lesson.booking.id) if lesson.booking \
        else url_for("notes.page", lesson_id=lesson.id)
    return redirect(target, code=303)


@bp.route("/admin/rating-criteria", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def criteria():
    """List the rating criteria; add one, or rename, reorder and (de)activate one."""
    error = None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("action") == "update":
                criterion_id = form.get("criteria_id", "")
                if not parse_id(criterion_id):
                    raise ValidationError("Choose a criterion to change.")
                reviews.update_criterion(current_user, parse_id(criterion_id), form.get("name"), form.get("position"),
                                         form.get("active") == "1", now_utc())
                flash("Criterion saved.", "success")
            else:
                reviews.add_criterion(current_user, form.get("name"), form.get("position"), now_utc())
                flash("Criterion added: reviewers rate it from now on.", "success")
        except ServiceError as exc:
            error = exc.message
        else:
            return redirect(url_for("reviews.criteria"), code=303)
    return render("reviews/criteria.html", criteria=reviews.list_criteria(), error=error,
                  form=request.form, status=422 if error else 200)
