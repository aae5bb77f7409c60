"""The frame of the hosted pages (checkout, 3-D Secure, Connect onboarding).
"""
from __future__ import annotations

import html

from aiohttp import web


PAGE_STYLE = """
body{font-family:system-ui,sans-serif;background:#f6f8fa;color:#1a1f36;margin:0}
main{max-width:26rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
.test{background:#ffde92;color:#8a4b00;font-size:.75rem;font-weight:600;padding:.2rem .5rem;border-radius:4px}
label{display:block;margin-top:.8rem;font-size:.9rem}
input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;border:1px solid #c6cbd2;border-radius:4px}
button{margin-top:1.2rem;width:100%;padding:.7rem;font-size:1rem;border:0;border-radius:4px;
background:#0074d4;color:#fff;cursor:pointer}
button.secondary{background:#6b7280}
.error{color:#b3093c;font-weight:600}
.amount{font-size:2rem;font-weight:700;margin:.3rem 0}
.row{display:flex;gap:.8rem}.row>div{flex:1}
"""


def html_page(title: str, body: str, status: int = 200) -> web.Response:
    document = (f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<link rel=\"icon\" href=\"data:,\">"  # no /favicon.ico request, which the API would answer 401
                f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>\n"
                f"<body><main><p><span class=\"test\">TEST MODE</span> local Stripe</p>\n{body}\n"
                f"</main></body></html>\n")
    return web.Response(text=document, status=status, content_type="text/html", charset="utf-8")


def not_found_page() -> web.Response:
    return html_page("Not found", "<h1>Something went wrong</h1><p>The page you were looking for could not be "
                                  "found.</p>", status=404)
