"""Connect: accounts and account links (the API) and the hosted onboarding page behind an account link's URL.
"""
from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from localstripe.resources import store

from .base import (COUNTRY_CURRENCY, ApiError, as_bool, as_str, as_url, expand_list, list_object, merge_metadata,
                   missing_param, now, parse_currency, parse_metadata, reject_unknown, request_base_url)
from .objects import Account, AccountLink
from .events import emit
from .pages import html_page, not_found_page


def _capabilities(raw: Any) -> list[str]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="capabilities", code="parameter_invalid_object")
    requested = []
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise ApiError(400, "Invalid object", param=f"capabilities[{name}]", code="parameter_invalid_object")
        reject_unknown(settings, {"requested"}, f"capabilities[{name}]")
        if as_bool(settings.get("requested", "false"), f"capabilities[{name}][requested]"):
            requested.append(name)
    return requested


def _business_profile(raw: Any) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param="business_profile", code="parameter_invalid_object")
    reject_unknown(raw, {"name", "url", "mcc", "product_description", "support_email", "support_phone",
                          "support_url"}, "business_profile")
    return {k: v for k, v in raw.items() if v != ""}


def create_account(request: web.Request, params: dict) -> Account:
    reject_unknown(params, {"type", "country", "email", "capabilities", "metadata", "business_type",
                             "business_profile", "default_currency"})
    account_type = params.get("type", "express")
    if account_type not in ("express", "custom", "standard"):
        raise ApiError(400, "Invalid type: must be one of custom, express, or standard", param="type")
    country = as_str(params.get("country", "US"), "country").upper()
    if len(country) != 2 or not country.isalpha():
        raise ApiError(400, f"Country '{country}' is unknown. Try using a 2-character alphanumeric country code "
                            f"instead, such as 'US', 'EG', or 'GB'.", param="country")
    email = params.get("email") or None
    if email is not None and "@" not in as_str(email, "email"):
        raise ApiError(400, "Invalid email address: " + email, param="email", code="email_invalid")
    business_type = params.get("business_type") or None
    if business_type not in (None, "individual", "company", "non_profit", "government_entity"):
        raise ApiError(400, "Invalid business_type", param="business_type")
    currency = (parse_currency(params["default_currency"], "default_currency") if params.get("default_currency")
                else COUNTRY_CURRENCY.get(country, "usd"))
    return Account(type=account_type, country=country, email=email,
                   capabilities=_capabilities(params.get("capabilities")),
                   metadata=parse_metadata(params.get("metadata")), business_type=business_type,
                   business_profile=_business_profile(params.get("business_profile")), default_currency=currency)


def retrieve_account(request: web.Request, params: dict, id: str) -> Account:
    reject_unknown(params, set())
    return Account._get(id, param="account")


def update_account(request: web.Request, params: dict, id: str) -> Account:
    reject_unknown(params, {"email", "metadata", "business_profile", "capabilities"})
    account = Account._get(id, param="account")
    before = account._export()
    if "email" in params:
        account.email = params["email"] or None
    if "metadata" in params:
        account.metadata = merge_metadata(account.metadata, params["metadata"])
    if "business_profile" in params:
        account.business_profile.update(_business_profile(params["business_profile"]))
    for name in _capabilities(params.get("capabilities")):
        account.capabilities.setdefault(name, "active" if account.details_submitted else "inactive")
    after = account._export()
    changed = {k: before[k] for k in after if before.get(k) != after[k]}
    if changed:
        emit("account.updated", account, previous_attributes=changed)
    return account


def list_accounts(request: web.Request, params: dict) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "expand"})
    return list_object("/v1/accounts", Account._all(), params, expand_list(params.get("expand")))


def create_account_link(request: web.Request, params: dict) -> AccountLink:
    reject_unknown(params, {"account", "type", "refresh_url", "return_url", "collect", "collection_options"})
    if not params.get("account"):
        raise missing_param("account")
    if not params.get("type"):
        raise missing_param("type")
    if params["type"] not in ("account_onboarding", "account_update"):
        raise ApiError(400, "Invalid type: must be one of account_onboarding or account_update", param="type")
    account = Account._get(as_str(params["account"], "account"), param="account", status=400)
    refresh_url = as_url(params["refresh_url"], "refresh_url") if params.get("refresh_url") else None
    return_url = as_url(params["return_url"], "return_url") if params.get("return_url") else None
    return AccountLink(base_url=request_base_url(request), account=account.id, type=params["type"],
                       refresh_url=refresh_url, return_url=return_url)


def _hosted_link(request: web.Request) -> AccountLink | None:
    return store.get(f"account_link:{request.match_info['token']}")


def _link_gone(link: AccountLink) -> web.StreamResponse:
    if link.refresh_url:
        raise web.HTTPFound(link.refresh_url)
    return html_page("Link expired", "<h1>This link has expired</h1><p>Ask the platform for a new link.</p>", 410)


async def onboarding_page(request: web.Request) -> web.StreamResponse:
    link = _hosted_link(request)
    if link is None:
        return not_found_page()
    if link.used or now() > link.expires_at:
        return _link_gone(link)
    account = Account._get(link.account)
    e = html.escape
    leave = (f'<p><a href="{e(link.return_url)}">Return without completing</a></p>' if link.return_url else "")
    return html_page("Connect onboarding", f"""<h1>Set up payouts</h1>
<p>Account <code>{e(account.id)}</code>{' for ' + e(account.email) if account.email else ''} ({e(account.country)}).</p>
<p>This local test page stands in for Stripe's hosted onboarding: completing it submits the account's details and
enables charges, payouts and the requested capabilities.</p>
<form method="post" action="/connect/setup/{e(link.id)}">
<button type="submit">Complete onboarding</button>
</form>
{leave}""")


async def onboarding_submit(request: web.Request) -> web.StreamResponse:
    link = _hosted_link(request)
    if link is None:
        return not_found_page()
    if link.used or now() > link.expires_at:
        return _link_gone(link)
    account = Account._get(link.account)
    link.used = True
    previous = account._complete_onboarding()
    emit("account.updated", account, previous_attributes=previous)
    if link.return_url:
        raise web.HTTPSeeOther(link.return_url)
    return html_page("Onboarding complete", "<h1>You're all set</h1><p>You can close this window.</p>")
