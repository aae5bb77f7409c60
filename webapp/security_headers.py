"""Headers every response carries: a strict Content-Security-Policy, no MIME sniffing, no framing, and no
signed-link tokens in Referer headers."""
from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, request

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Signed Accept/Decline links carry their token in the path; never hand it to another site.
    "Referrer-Policy": "same-origin",
}

# Where a form post may end up: Chromium applies form-action to the redirects after a submit, and paying
# (POST /bookings/<id>/pay → 303 to Checkout) and Connect onboarding (POST → 303 to Stripe) leave the site.
STRIPE_FORM_TARGETS = ("https://checkout.stripe.com", "https://connect.stripe.com")
# "Pay with PayPal" (POST → 303 to the order's approve link) leaves the site for PayPal's approval page.
PAYPAL_FORM_TARGETS = ("https://www.paypal.com", "https://www.sandbox.paypal.com")


def content_security_policy(stripe_api_base: str | None = None, data_images: bool = False,
                            paypal_api_base: str | None = None) -> str:
    """The policy: everything from our own origin, no inline script or style, no eval, no plugins, no framing.

    htmx is configured (the htmx-config meta tag in base.html) not to eval and not to inject its indicator
    <style>; templates carry no style= attributes, inline scripts or event handlers. `data_images` lets a page show
    images written as data: URLs (the vendored Swagger UI's stylesheet draws its icons so); scripts stay our files.
    """
    form_targets = ["'self'", *STRIPE_FORM_TARGETS, *PAYPAL_FORM_TARGETS]
    # Local stand-ins serve their hosted pages (Checkout, onboarding, PayPal's approval page) themselves.
    for base in (stripe_api_base, paypal_api_base):
        parts = urlsplit(base or "")
        if parts.netloc and not parts.netloc.endswith("paypal.com"):
            form_targets.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action " + " ".join(form_targets),
        *(["img-src 'self' data:"] if data_images else []),
    ])


@lru_cache(maxsize=16)
def _policy_for(stripe_api_base: str | None, paypal_api_base: str | None) -> str:
    return content_security_policy(stripe_api_base, paypal_api_base=paypal_api_base)


_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def connect_sources(scheme: str, host: str) -> str:
    """`connect-src`: our origin, and the lesson chat's WebSocket on the same host (ws: over http, wss: over https).

    CSP Level 3 lets 'self' cover ws/wss of the same host, but not every browser in use follows it; naming the
    socket's origin costs nothing. Never a bare `ws:`/`wss:`, which would allow sockets to any host."""
    socket_scheme = "wss" if scheme == "https" else "ws"
    if not _HOST.fullmatch(host or ""):  # the Host header is the client's: nothing but a host[:port] goes in
        return "connect-src 'self'"
    return f"connect-src 'self' {socket_scheme}://{host}"


def init_app(app: Flask) -> None:
    """Add the headers to every response (a view may set its own first)."""
    @app.after_request
    def _secure(response):
        # The policy is built from the config (cached per pair of bases), so a test pointing the app at a stand-in
        # of its own gets a policy that lets its forms reach that stand-in.
        policy = _policy_for(app.config.get("STRIPE_API_BASE"), app.config.get("PAYPAL_API_BASE"))
        response.headers.setdefault("Content-Security-Policy",
                                    f"{policy}; {connect_sources(request.scheme, request.host)}")
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if app.config.get("SESSION_COOKIE_SECURE"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
