"""Headers every response carries: no MIME sniffing, no framing, and no signed-link tokens in Referer headers."""
from flask import Flask

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Signed Accept/Decline links carry their token in the path; never hand it to another site.
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response (a view may set its own first)."""

    @app.after_request
    def _secure(response):
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
