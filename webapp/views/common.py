"""Small helpers every view shares: render a page or its HTMX partial, role guards, the clock."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps

from flask import abort, flash, make_response, redirect, render_template, request
from flask_login import current_user, login_required


def is_htmx() -> bool:
    """Whether htmx sent this request (it then wants the partial only)."""
    return request.headers.get("HX-Request") == "true"


def render(page: str, partial: str | None = None, status: int = 200, **context):
    """Render the full page, or only `partial` for an HTMX request; always Vary on HX-Request."""
    template = partial if partial and is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def now_utc() -> datetime:
    """The current instant (the shells own the clock; services receive it)."""
    return datetime.now(UTC)


def role_required(*roles: str):
    """Only signed-in users with one of `roles` may use the view."""
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorator


def form_errors(form) -> dict[str, str]:
    """WTForms errors as field → first message."""
    return {name: messages[0] for name, messages in form.errors.items() if messages}


def apply_service_errors(form, fields: dict[str, str]) -> None:
    """Show a service's field messages next to the matching form fields."""
    for name, message in fields.items():
        field = getattr(form, name.split(".")[-1], None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors) + [message]


def perform(action, success: str, target: str):
    """A POST button: run one service call, flash its outcome in words, and go back to `target` (303)."""
    from ..services.errors import ServiceError
    try:
        action()
        flash(success, "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(target, code=303)
