"""Checkout Sessions: the API (create, retrieve, list, expire, line items) and the hosted payment and 3-D Secure
pages behind `session.url`.
"""
from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Charge, Customer, PaymentIntent, PaymentMethod, SetupIntent, store

from .base import (AUTHENTICATION_FAILED, CHECKOUT_EXPIRES_SLACK, CHECKOUT_MAX_SECONDS, CHECKOUT_MIN_SECONDS,
                   DECLINED_CARDS, MINIMUM_CHARGE, ApiError, as_int, as_str, as_url, current_request, expand_list,
                   list_object, missing_param, money, no_such, now, parse_currency, parse_metadata, random_id,
                   reject_unknown, request_base_url)
from .objects import CheckoutSession
from .events import emit
from .pages import html_page, not_found_page
from .subscriptions import recurring_price, start_subscription


def _expire_session(session: CheckoutSession) -> None:
    session.status = "expired"
    session.url = None
    if session.payment_intent:
        pi = PaymentIntent._api_retrieve(session.payment_intent)
        if pi.status in ("requires_payment_method", "requires_confirmation", "requires_action"):
            pi._canceled = True
            pi.next_action = None
            emit("payment_intent.canceled", pi)
    emit("checkout.session.expired", session)


def expire_due_sessions() -> None:
    """Expire open sessions whose expires_at has passed (called on access and by the background sweep)."""
    current = now()
    due = [s for s in CheckoutSession._all() if s.status == "open" and s.expires_at <= current]
    if not due:
        return
    token = current_request.set(None)
    try:
        for session in due:
            _expire_session(session)
    finally:
        current_request.reset(token)


def _line_item(index: int, raw: Any, mode: str = "payment") -> dict:
    prefix = f"line_items[{index}]"
    if not isinstance(raw, dict):
        raise ApiError(400, "Invalid object", param=prefix, code="parameter_invalid_object")
    reject_unknown(raw, {"price_data", "quantity", "price"}, prefix)
    if "price" in raw:
        raise no_such("price", str(raw["price"]), f"{prefix}[price]")
    price_data = raw.get("price_data")
    if not isinstance(price_data, dict):
        raise missing_param(f"{prefix}[price_data]")
    if mode == "subscription":
        return _recurring_line_item(prefix, raw, price_data)
    if "recurring" in price_data:
        raise ApiError(400, "You specified `payment` mode but passed a recurring price. Either switch to "
                            "`subscription` mode or use only one-time prices.", param=f"{prefix}[price_data]")
    reject_unknown(price_data, {"currency", "unit_amount", "product_data", "tax_behavior"}, f"{prefix}[price_data]")
    for name in ("currency", "unit_amount", "product_data"):
        if name not in price_data:
            raise missing_param(f"{prefix}[price_data][{name}]")
    currency = parse_currency(price_data["currency"], f"{prefix}[price_data][currency]")
    unit_amount = as_int(price_data["unit_amount"], f"{prefix}[price_data][unit_amount]", minimum=0)
    product_data = price_data["product_data"]
    if not isinstance(product_data, dict):
        raise ApiError(400, "Invalid object", param=f"{prefix}[price_data][product_data]",
                       code="parameter_invalid_object")
    reject_unknown(product_data, {"name", "description", "metadata", "images"}, f"{prefix}[price_data][product_data]")
    if not product_data.get("name"):
        raise missing_param(f"{prefix}[price_data][product_data][name]")
    if "quantity" not in raw:
        raise missing_param(f"{prefix}[quantity]")
    quantity = as_int(raw["quantity"], f"{prefix}[quantity]", minimum=1)
    product = "prod_" + random_id(14)
    return {
        "id": "li_" + random_id(24), "object": "item", "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity, "amount_tax": 0, "amount_total": unit_amount * quantity,
        "currency": currency, "description": product_data["name"],
        "price": {"id": "price_" + random_id(24), "object": "price", "active": False,
                  "billing_scheme": "per_unit", "created": now(), "currency": currency, "livemode": False,
                  "lookup_key": None, "metadata": {}, "nickname": None, "product": product, "recurring": None,
                  "tax_behavior": price_data.get("tax_behavior", "unspecified"), "tiers_mode": None,
                  "transform_quantity": None, "type": "one_time", "unit_amount": unit_amount,
                  "unit_amount_decimal": str(unit_amount)},
        "quantity": quantity,
    }


def _recurring_line_item(prefix: str, raw: dict, price_data: dict) -> dict:
    """A subscription's line item: price_data with recurring[interval]=month and product_data."""
    product_data = price_data.get("product_data")
    if not isinstance(product_data, dict) or not product_data.get("name"):
        raise missing_param(f"{prefix}[price_data][product_data][name]")
    reject_unknown(product_data, {"name", "description", "metadata", "images"}, f"{prefix}[price_data][product_data]")
    if "quantity" not in raw:
        raise missing_param(f"{prefix}[quantity]")
    if as_int(raw["quantity"], f"{prefix}[quantity]", minimum=1) != 1:
        raise ApiError(400, "This local Stripe server implements subscriptions of quantity 1.",
                       param=f"{prefix}[quantity]")
    price = recurring_price(price_data, f"{prefix}[price_data]", product="prod_" + random_id(14))
    return {"id": "li_" + random_id(24), "object": "item", "amount_discount": 0,
            "amount_subtotal": price["unit_amount"], "amount_tax": 0, "amount_total": price["unit_amount"],
            "currency": price["currency"], "description": product_data["name"], "price": price, "quantity": 1}


def create_checkout_session(request: web.Request, params: dict) -> CheckoutSession:
    reject_unknown(params, {"mode", "line_items", "success_url", "cancel_url", "expires_at", "metadata",
                             "client_reference_id", "customer_email", "customer", "payment_intent_data",
                             "payment_method_types", "locale", "subscription_data", "setup_intent_data",
                             "currency"})
    if "mode" not in params:
        raise missing_param("mode")
    mode = params["mode"]
    if mode not in ("payment", "subscription", "setup"):
        raise ApiError(400, "This local Stripe server implements only mode=payment, subscription and setup.",
                       param="mode")
    if mode == "setup":
        return _create_setup_session(request, params)
    if "setup_intent_data" in params:
        raise ApiError(400, f"You can not pass `setup_intent_data` in `{mode}` mode.", param="setup_intent_data")
    if mode == "subscription" and "payment_intent_data" in params:
        raise ApiError(400, "You can not pass `payment_intent_data` in `subscription` mode.",
                       param="payment_intent_data")
    if mode == "payment" and "subscription_data" in params:
        raise ApiError(400, "You can not pass `subscription_data` in `payment` mode.", param="subscription_data")
    raw_items = params.get("line_items")
    if not raw_items:
        raise missing_param("line_items")
    if not isinstance(raw_items, list):
        raise ApiError(400, "Invalid array", param="line_items", code="parameter_invalid_array")
    if mode == "subscription" and len(raw_items) != 1:
        raise ApiError(400, "This local Stripe server implements subscriptions of exactly one line item.",
                       param="line_items")
    line_items = [_line_item(i, raw, mode) for i, raw in enumerate(raw_items)]
    subscription_data = params.get("subscription_data") or {}
    if not isinstance(subscription_data, dict):
        raise ApiError(400, "Invalid object", param="subscription_data", code="parameter_invalid_object")
    reject_unknown(subscription_data, {"metadata", "description"}, "subscription_data")
    subscription_metadata = parse_metadata(subscription_data.get("metadata"), "subscription_data[metadata]")
    currencies = {item["currency"] for item in line_items}
    if len(currencies) > 1:
        raise ApiError(400, "All line items must use the same currency.", param="line_items")
    currency = currencies.pop()
    total = sum(item["amount_total"] for item in line_items)
    minimum = MINIMUM_CHARGE.get(currency, 50)
    if total < minimum:
        raise ApiError(400, f"The Checkout Session's total amount due must add up to at least "
                            f"{money(minimum, currency)} {currency}", param="line_items", code="amount_too_small")

    created = now()
    expires_at = created + CHECKOUT_MAX_SECONDS
    if "expires_at" in params:
        expires_at = as_int(params["expires_at"], "expires_at")
        if expires_at < created + CHECKOUT_MIN_SECONDS - CHECKOUT_EXPIRES_SLACK:
            raise ApiError(400, "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
                                "creation.", param="expires_at")
        if expires_at > created + CHECKOUT_MAX_SECONDS:
            raise ApiError(400, "The `expires_at` timestamp must be less than 24 hours from Checkout Session "
                                "creation.", param="expires_at")

    success_url = as_url(params["success_url"], "success_url") if params.get("success_url") else None
    cancel_url = as_url(params["cancel_url"], "cancel_url") if params.get("cancel_url") else None
    customer = params.get("customer") or None
    customer_email = params.get("customer_email") or None
    if customer and customer_email:
        raise ApiError(400, "You may only specify one of these parameters: customer, customer_email.",
                       param="customer_email")
    if customer:
        try:
            Customer._api_retrieve(as_str(customer, "customer"))
        except UserError:
            raise no_such("customer", customer, "customer") from None
    if customer_email is not None:
        customer_email = as_str(customer_email, "customer_email")
        if "@" not in customer_email:
            raise ApiError(400, "Invalid email address: " + customer_email, param="customer_email",
                           code="email_invalid")
    client_reference_id = params.get("client_reference_id") or None
    if client_reference_id is not None and len(as_str(client_reference_id, "client_reference_id")) > 200:
        raise ApiError(400, "client_reference_id must be at most 200 characters.", param="client_reference_id")
    methods = params.get("payment_method_types")
    if methods is not None and methods != ["card"]:
        raise ApiError(400, "This local Stripe server supports only payment_method_types=[card].",
                       param="payment_method_types")

    pid = params.get("payment_intent_data") or {}
    if not isinstance(pid, dict):
        raise ApiError(400, "Invalid object", param="payment_intent_data", code="parameter_invalid_object")
    reject_unknown(pid, {"capture_method", "metadata", "transfer_group", "description"}, "payment_intent_data")
    capture_method = pid.get("capture_method", "automatic_async")
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise ApiError(400, "Invalid payment_intent_data[capture_method]: must be one of automatic, "
                            "automatic_async, or manual", param="payment_intent_data[capture_method]")
    payment_intent_data = {
        "capture_method": capture_method,
        "metadata": parse_metadata(pid.get("metadata"), "payment_intent_data[metadata]"),
        "transfer_group": as_str(pid["transfer_group"], "payment_intent_data[transfer_group]")
        if pid.get("transfer_group") else None,
        "description": as_str(pid["description"], "payment_intent_data[description]")
        if pid.get("description") else None,
    }
    return CheckoutSession(
        base_url=request_base_url(request), line_items=line_items, currency=currency, expires_at=expires_at,
        success_url=success_url, cancel_url=cancel_url, metadata=parse_metadata(params.get("metadata")),
        client_reference_id=client_reference_id, customer=customer, customer_email=customer_email,
        payment_intent_data=payment_intent_data, locale=params.get("locale"), mode=mode,
        subscription_metadata=subscription_metadata)


def _create_setup_session(request: web.Request, params: dict) -> CheckoutSession:
    """mode=setup: collect a card for later (no line items, no charge); paying the page makes a succeeded
    SetupIntent whose payment method is attached to `customer`."""
    for name in ("line_items", "payment_intent_data", "subscription_data"):
        if name in params:
            raise ApiError(400, f"You can not pass `{name}` in `setup` mode.", param=name)
    methods = params.get("payment_method_types")
    if methods is not None and methods != ["card"]:
        raise ApiError(400, "This local Stripe server supports only payment_method_types=[card].",
                       param="payment_method_types")
    if methods is None and not params.get("currency"):
        raise ApiError(400, "currency is required in setup mode when payment_method_types is not set.",
                       param="currency")
    if "success_url" not in params:
        raise missing_param("success_url")
    customer = params.get("customer") or None
    if customer:
        try:
            Customer._api_retrieve(as_str(customer, "customer"))
        except UserError:
            raise no_such("customer", customer, "customer") from None
    data = params.get("setup_intent_data") or {}
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid object", param="setup_intent_data", code="parameter_invalid_object")
    reject_unknown(data, {"metadata", "description", "on_behalf_of"}, "setup_intent_data")
    created = now()
    session = CheckoutSession(
        base_url=request_base_url(request), line_items=[],
        currency=parse_currency(params["currency"], "currency") if params.get("currency") else None,
        expires_at=as_int(params.get("expires_at", created + CHECKOUT_MAX_SECONDS), "expires_at"),
        success_url=as_url(params["success_url"], "success_url"),
        cancel_url=as_url(params["cancel_url"], "cancel_url") if params.get("cancel_url") else None,
        metadata=parse_metadata(params.get("metadata")), client_reference_id=params.get("client_reference_id"),
        customer=customer, customer_email=None, payment_intent_data={}, locale=params.get("locale"), mode="setup")
    session.setup_intent_metadata = parse_metadata(data.get("metadata"), "setup_intent_data[metadata]")
    return session


def _set_up(session: CheckoutSession, email: str, number: str) -> web.StreamResponse:
    """Setup mode: the card is checked as Stripe does when saving one (most decline cards are refused now;
    4000000000000341 saves and declines only when charged), attached to the customer, and a succeeded SetupIntent
    completes the session (setup_intent.succeeded, checkout.session.completed)."""
    if number in DECLINED_CARDS and number != "4000000000000341":
        return _checkout_page(session, DECLINED_CARDS[number][2], email)
    customer = session.customer or Customer._api_create(email=email).id
    pm = PaymentMethod(type="card", billing_details={"email": email},
                       card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
    pm.customer = customer
    seti = SetupIntent(customer=customer, usage="off_session", metadata=dict(session.setup_intent_metadata))
    seti.payment_method = pm.id
    seti.status = "succeeded"
    session.customer = customer
    session.setup_intent = seti.id
    session.status = "complete"
    session.url = None
    session.payment_status = "no_payment_required"
    session.customer_details = {"address": None, "email": email, "name": None, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}
    emit("setup_intent.succeeded", seti)
    emit("checkout.session.completed", session)
    return _after_payment(session)


def retrieve_checkout_session(request: web.Request, params: dict, id: str) -> CheckoutSession:
    reject_unknown(params, set())
    return CheckoutSession._get(id)


def expire_checkout_session(request: web.Request, params: dict, id: str) -> CheckoutSession:
    reject_unknown(params, set())
    session = CheckoutSession._get(id)
    if session.status != "open":
        raise ApiError(400, f"Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout "
                            f"Session has a status of \"{session.status}\".", param="session")
    _expire_session(session)
    return session


def list_checkout_sessions(request: web.Request, params: dict) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before", "payment_intent", "status", "customer",
                             "expand"})
    sessions = CheckoutSession._all()
    for name in ("payment_intent", "status", "customer"):
        if params.get(name):
            sessions = [s for s in sessions if getattr(s, name) == params[name]]
    return list_object("/v1/checkout/sessions", sessions, params, expand_list(params.get("expand")))


def list_checkout_line_items(request: web.Request, params: dict, id: str) -> dict:
    reject_unknown(params, {"limit", "starting_after", "ending_before"})
    return CheckoutSession._get(id)._line_items_list()


def _checkout_page(session: CheckoutSession, error: str | None = None, email: str = "") -> web.Response:
    e = html.escape
    if session.status == "expired":
        return html_page("Checkout session expired", "<h1>This Checkout Session has expired</h1>"
                     "<p>This checkout session has expired. Go back and start again to pay.</p>"
                     + (f'<p><a href="{e(session.cancel_url)}">Go back</a></p>' if session.cancel_url else ""))
    if session.status == "complete":
        link = session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id) if session.success_url else None
        return html_page("Payment complete", "<h1>This payment is already complete</h1>"
                     + (f'<p><a href="{e(link)}">Continue</a></p>' if link else ""))
    if session.mode == "setup":
        return _setup_page(session, error, email)
    items = "".join(
        f"<li><span class=\"name\">{e(item['description'])}</span>{_times(item['quantity'])} — "
        f"{e(money(item['amount_total'], item['currency']))}</li>" for item in session.line_items)
    email_value = session.customer_email or email
    readonly = " readonly" if session.customer_email else ""
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    cancel = f'<p><a href="{e(session.cancel_url)}">Cancel and go back</a></p>' if session.cancel_url else ""
    body = f"""<h1>Pay {e(", ".join(session._product_names))}</h1>
<p class="amount" data-testid="product-summary-total-amount">{e(money(session.amount_total, session.currency))}{" per month" if session.mode == "subscription" else ""}</p>
<ul class="items">{items}</ul>
{alert}
<form method="post" action="/c/pay/{e(session.id)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required value="{e(email_value)}"{readonly}>
<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number"
 placeholder="1234 1234 1234 1234" required>
<div class="row"><div><label for="cardExpiry">Expiry</label>
<input id="cardExpiry" name="cardExpiry" autocomplete="cc-exp" placeholder="MM / YY"></div>
<div><label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" autocomplete="cc-csc" placeholder="CVC"></div></div>
<button type="submit" data-testid="hosted-payment-submit-button">{"Subscribe" if session.mode == "subscription" else "Pay"}</button>
</form>
{cancel}"""
    return html_page(f"Pay {money(session.amount_total, session.currency)}", body)


def _setup_page(session: CheckoutSession, error: str | None, email: str) -> web.Response:
    e = html.escape
    if not email and session.customer:  # Stripe fills in the customer's email
        customer = store.get(f"customer:{session.customer}")
        email = getattr(customer, "email", None) or ""
    alert = f'<p class="error" role="alert">{e(error)}</p>' if error else ""
    cancel = f'<p><a href="{e(session.cancel_url)}">Cancel and go back</a></p>' if session.cancel_url else ""
    return html_page("Save your card", f"""<h1>Save a card for future payments</h1>
<p>You will not be charged now.</p>
{alert}
<form method="post" action="/c/pay/{e(session.id)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required value="{e(email)}">
<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number"
 placeholder="1234 1234 1234 1234" required>
<div class="row"><div><label for="cardExpiry">Expiry</label>
<input id="cardExpiry" name="cardExpiry" autocomplete="cc-exp" placeholder="MM / YY"></div>
<div><label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" autocomplete="cc-csc" placeholder="CVC"></div></div>
<button type="submit" data-testid="hosted-payment-submit-button">Save card</button>
</form>
{cancel}""")


def _times(quantity: int) -> str:
    return f" × {quantity}" if quantity > 1 else ""


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        d = int(digit)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _session_pi(session: CheckoutSession) -> PaymentIntent:
    """The session's PaymentIntent, created on the customer's first attempt (as Stripe does since 2022-08-01)."""
    if session.payment_intent:
        return PaymentIntent._api_retrieve(session.payment_intent)
    data = session.payment_intent_data
    pi = PaymentIntent(amount=session.amount_total, currency=session.currency, customer=session.customer,
                       metadata=dict(data["metadata"]), capture_method=data["capture_method"])
    pi.transfer_group = data["transfer_group"]
    pi.description = data["description"]
    session.payment_intent = pi.id
    emit("payment_intent.created", pi)
    return pi


def _attempt(pi: PaymentIntent, pm: PaymentMethod) -> None:
    """Put a fresh payment method on the PaymentIntent, ready to confirm (after an earlier failure too)."""
    pi.payment_method = pm.id
    pi.latest_charge = None
    pi.next_action = None
    pi._authentication_failed = False


def _decline(pi: PaymentIntent, pm: PaymentMethod, code: str, decline_code: str | None, message: str) -> None:
    """A failed charge on the PaymentIntent, leaving it in requires_payment_method, as a real decline does."""
    charge = Charge(amount=pi.amount, currency=pi.currency, customer=pi.customer, source=pm.id, capture=False)
    charge._set_auth_failure()
    charge.failure_code = code
    charge.failure_message = message
    if decline_code:
        charge.outcome = {"network_status": "declined_by_network", "reason": decline_code, "type": "issuer_declined"}
    charge.payment_intent = pi.id
    pi.latest_charge = charge
    emit("payment_intent.payment_failed", pi)


def _complete(session: CheckoutSession, pi: PaymentIntent, email: str) -> None:
    session.status = "complete"
    session.url = None
    session.payment_status = "paid" if pi.status == "succeeded" else "unpaid"
    session.customer_details = {"address": None, "email": email, "name": None, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}
    if pi.latest_charge is not None:
        pi.latest_charge.transfer_group = pi.transfer_group
    if pi.status == "requires_capture":
        emit("payment_intent.amount_capturable_updated", pi)
    emit("checkout.session.completed", session)


def _subscribe(session: CheckoutSession, email: str, number: str) -> web.StreamResponse:
    """Subscription mode: a declined card stays on the page; else customer, subscription and first invoice."""
    if number in DECLINED_CARDS:
        return _checkout_page(session, DECLINED_CARDS[number][2], email)
    pm = PaymentMethod(type="card", billing_details={"email": email},
                       card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
    sub, invoice = start_subscription(email=email, price=session.line_items[0]["price"],
                                      metadata=session.subscription_metadata, card=number,
                                      customer=session.customer, payment_method=pm.id)
    session.customer = sub.customer
    session.subscription = sub.id
    session.invoice = invoice.id
    session.status = "complete"
    session.url = None
    session.payment_status = "paid"
    session.customer_details = {"address": None, "email": email, "name": None, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}
    emit("checkout.session.completed", session)
    return _after_payment(session)


def _after_payment(session: CheckoutSession) -> web.StreamResponse:
    if session.success_url:
        raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
    return html_page("Payment complete", "<h1>Thanks for your payment</h1>")


def _hosted_session(request: web.Request) -> CheckoutSession | None:
    expire_due_sessions()
    return store.get(f"checkout.session:{request.match_info['id']}")


async def checkout_page(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return not_found_page()
    return _checkout_page(session)


async def checkout_pay(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return not_found_page()
    if session.status != "open":
        return _checkout_page(session)
    form = await request.post()
    email = (session.customer_email or form.get("email", "")).strip()
    number = "".join(str(form.get("cardNumber", "")).split())
    if "@" not in email:
        return _checkout_page(session, "Your email address is invalid.", email)
    if not number.isdigit() or len(number) < 12:
        return _checkout_page(session, "Your card number is incomplete.", email)
    if not _luhn_ok(number):
        return _checkout_page(session, "Your card number is invalid.", email)
    if len(number) != 16:
        return _checkout_page(session, "This local test page accepts 16-digit test card numbers only.", email)

    if session.mode == "subscription":
        return _subscribe(session, email, number)
    if session.mode == "setup":
        return _set_up(session, email, number)
    pi = _session_pi(session)
    pm = PaymentMethod(type="card", billing_details={"email": email},
                       card={"number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123"})
    _attempt(pi, pm)
    if number in DECLINED_CARDS:
        _decline(pi, pm, *DECLINED_CARDS[number])
        return _checkout_page(session, DECLINED_CARDS[number][2], email)
    try:
        pi._confirm(on_failure_now=pi._report_failure)
    except UserError as error:
        return _checkout_page(session, error.body["error"].get("message", "Your card was declined."), email)
    if pi.status == "requires_action":
        session._pending_email = email
        raise web.HTTPSeeOther(f"/c/pay/{session.id}/3ds")
    _complete(session, pi, email)
    return _after_payment(session)


def _challenge_pi(session: CheckoutSession | None) -> PaymentIntent | None:
    if session is None or session.status != "open" or not session.payment_intent:
        return None
    pi = PaymentIntent._api_retrieve(session.payment_intent)
    return pi if pi.status == "requires_action" else None


async def challenge_page(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return not_found_page()
    if _challenge_pi(session) is None:
        raise web.HTTPSeeOther(f"/c/pay/{session.id}")
    e = html.escape
    return html_page("3D Secure authentication", f"""<h1>3D Secure test authentication</h1>
<p>Authenticate the payment of {e(money(session.amount_total, session.currency))} to
{e(", ".join(session._product_names))}.</p>
<form method="post" action="/c/pay/{e(session.id)}/3ds">
<button type="submit" name="action" value="complete">Complete authentication</button>
<button type="submit" name="action" value="fail" class="secondary">Fail authentication</button>
</form>""")


async def challenge_answer(request: web.Request) -> web.StreamResponse:
    session = _hosted_session(request)
    if session is None:
        return not_found_page()
    pi = _challenge_pi(session)
    if pi is None:
        raise web.HTTPSeeOther(f"/c/pay/{session.id}")
    form = await request.post()
    email = getattr(session, "_pending_email", "")
    if form.get("action") != "complete":
        PaymentIntent._api_authenticate(pi.id, client_secret=pi.client_secret, success=False)
        emit("payment_intent.payment_failed", pi)
        return _checkout_page(session, AUTHENTICATION_FAILED, email)
    try:
        PaymentIntent._api_authenticate(pi.id, client_secret=pi.client_secret, success=True)
    except UserError as error:  # a 3DS card that is declined after authentication
        return _checkout_page(session, error.body["error"].get("message", "Your card was declined."), email)
    _complete(session, pi, email)
    return _after_payment(session)
