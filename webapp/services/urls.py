"""Absolute links for emails and jobs."""
from __future__ import annotations

from flask import current_app, has_request_context, request


def public_url(path: str) -> str:
    """An absolute link: PUBLIC_BASE_URL, else the current request's host (jobs have no request)."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base and has_request_context():
        base = request.host_url
    return (base or "http://127.0.0.1:5000").rstrip("/") + path
