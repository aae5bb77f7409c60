"""Small helpers every view shares: render a page or its HTMX partial, role guards, the clock."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps

from flask import abort, flash, make_response, redirect, render_template, request, send_file
from flask_login import current_user, login_required

from ..services.errors import ServiceError


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
        wrapped.required_roles = frozenset(roles)  # read by the audit walk test: staff-only routes must audit
        return wrapped
    return decorator


def form_errors(form) -> dict[str, str]:
    """WTForms errors as field → first message."""
    return {name: messages[0] for name, messages in form.errors.items() if messages}


def apply_service_errors(form, fields: dict[str, str], message: str | None = None,
                         aliases: dict[str, str] | None = None) -> None:
    """Show every one of a service's field messages beside its form field (`aliases` maps the last part of a
    service's field name to the form's field); messages for no field, or a `message` without fields, go to the
    form's error summary (form.form_errors); a `message` with fields heads that summary."""
    unplaced = []
    for name, text in fields.items():
        last = name.split(".")[-1]
        target = (aliases or {}).get(last, last)
        field = getattr(form, target, None)
        if field is not None and hasattr(field, "errors") and getattr(field, "type", "") != "HiddenField":
            if text not in field.errors:
                field.errors = list(field.errors) + [text]
        else:
            unplaced.append(text)
    if message and not fields:
        unplaced.append(message)
    elif message and message not in fields.values():
        form.error_heading = message  # the service's own words head the summary ("That date is in the past.")
    # (A message that is also a field's own is said beside the field and in the list: not a third time as heading.)
    form.form_errors = list(form.form_errors) + [t for t in unplaced if t not in form.form_errors]


def perform(action, success, target: str):
    """A POST button: run one service call, flash its outcome in words (`success`, or a function of what the call
    returned), and go back to `target` (303)."""
    try:
        result = action()
        flash(success(result) if callable(success) else success, "success")
    except ServiceError as exc:
        flash(exc.message, "error")
    return redirect(target, code=303)


def send_stored_file(row, path):
    """Send an uploaded file (a note's or a ticket's) always as a download: never sniffed, never run, never cached."""
    response = send_file(path, mimetype=row.content_type, as_attachment=True, download_name=row.original_name,
                         conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
