"""Every response carries a strict Content-Security-Policy, and no page relies on inline script or style."""
import re
from pathlib import Path

from tests import factories
from tests.conftest import login

TEMPLATES = Path(__file__).resolve().parents[2] / "webapp" / "templates"


def _policy(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in (p.strip() for p in header.split(";")) if d}


def test_every_kind_of_response_carries_the_strict_policy(client):
    t, _ = factories.tutor()
    responses = [client.get("/"), client.get("/login"), client.get("/no-such-page"),
                 client.get("/static/app.js"), client.get("/api/openapi.json")]
    login(client, t.email, factories.PASSWORD)
    responses.append(client.get("/tutor/"))
    for response in responses:
        policy = _policy(response)
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"
        assert policy["style-src"] == "'self'"
        assert policy["object-src"] == "'none'"
        assert policy["base-uri"] == "'none'"
        assert policy["frame-ancestors"] == "'none'"
        assert policy["form-action"].startswith("'self'")
        assert "unsafe" not in response.headers["Content-Security-Policy"]


def test_forms_may_lead_to_the_stripe_servers_hosted_pages(app, client):
    form_action = _policy(client.get("/"))["form-action"].split()
    base = app.config["STRIPE_API_BASE"]
    assert base.rstrip("/").rsplit("/", 1)[0] in form_action or base.rstrip("/") in form_action
    assert "https://checkout.stripe.com" in form_action


def test_no_template_has_inline_styles_scripts_or_handlers(app):
    email = TEMPLATES / "email"
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if email in path.parents:
            continue  # emails are read in mail clients, which need inline styles
        html = path.read_text()
        if re.search(r"\sstyle=|<script(?![^>]*\ssrc=)|\son[a-z]+=|\shx-on|<style", html):
            offenders.append(str(path.relative_to(TEMPLATES)))
    assert offenders == []


def test_htmx_is_told_not_to_evaluate_code_or_inject_styles(client):
    page = client.get("/login").get_data(as_text=True)
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'', page).group(1)
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config
