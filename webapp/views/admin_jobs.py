"""Admin page for the background jobs: queues, workers, periodic jobs and failures (with a requeue button)."""
from __future__ import annotations

from flask import Blueprint, url_for
from flask_login import current_user

from ..models import Role
from ..services import job_monitor
from .common import now_utc, perform, render, role_required

bp = Blueprint("admin_jobs", __name__, url_prefix="/admin/jobs")


@bp.get("/")
@role_required(Role.ADMIN)
def index():
    """Queue counts, live workers and schedulers, the periodic jobs with their next run, and recent failures."""
    overview = job_monitor.overview()
    if overview is None:
        return render("admin/jobs_unavailable.html")
    return render("admin/jobs.html", overview=overview)


@bp.post("/failed/<queue_name>/<job_id>/requeue")
@role_required(Role.ADMIN)
def requeue(queue_name: str, job_id: str):
    """Put a failed job back on its queue (audited)."""
    return perform(lambda: job_monitor.requeue_failed(current_user, queue_name, job_id, now_utc()), f"Job {job_id} is queued again.",
                   url_for("admin_jobs.index"))
