"""The objects localstripe lacks, in Stripe's wire shape: Checkout Sessions, Connect accounts and account links,
transfers and their reversals.
"""
from __future__ import annotations

from .base import ACCOUNT_LINK_SECONDS, SETUP_REQUIREMENTS, apply_expand, LocalObject, now, random_id


class CheckoutSession(LocalObject):
    object = "checkout.session"
    _id_prefix = "cs_test_"
    _id_length = 58
    _noun = "checkout.session"

    def __init__(self, *, base_url: str, line_items: list[dict], currency: str, expires_at: int,
                 success_url: str | None, cancel_url: str | None, metadata: dict, client_reference_id: str | None,
                 customer: str | None, customer_email: str | None, payment_intent_data: dict, locale: str | None,
                 mode: str = "payment", subscription_metadata: dict | None = None):
        super().__init__()
        self.mode = mode
        self.subscription_metadata = subscription_metadata or {}
        self.subscription: str | None = None
        self.invoice: str | None = None
        self.setup_intent: str | None = None
        self.setup_intent_metadata: dict = {}
        self.line_items = line_items
        self.currency = currency
        self.amount_subtotal = sum(item["amount_subtotal"] for item in line_items)
        self.amount_total = self.amount_subtotal
        self.expires_at = expires_at
        self.success_url = success_url
        self.cancel_url = cancel_url
        self.metadata = metadata
        self.client_reference_id = client_reference_id
        self.customer = customer
        self.customer_email = customer_email
        self.customer_details: dict | None = None
        self.payment_intent_data = payment_intent_data
        self.locale = locale
        self.status = "open"
        self.payment_status = "unpaid"
        self.payment_intent: str | None = None
        self.url: str | None = f"{base_url}/c/pay/{self.id}"

    @property
    def _product_names(self) -> list[str]:
        return [item["description"] for item in self.line_items]

    def _line_items_list(self, params: dict | None = None, expand: list[str] | None = None) -> dict:
        return {"object": "list", "data": [dict(item) for item in self.line_items], "has_more": False,
                "url": f"/v1/checkout/sessions/{self.id}/line_items"}

    def _export(self, expand: list[str] | None = None) -> dict:
        expand = list(expand or [])
        data = self._data()
        if "line_items" in expand:
            expand.remove("line_items")
            data["line_items"] = self._line_items_list()
        return apply_expand(data, expand)

    def _data(self) -> dict:
        return {
            "id": self.id, "object": self.object, "adaptive_pricing": {"enabled": False},
            "after_expiration": None, "allow_promotion_codes": None,
            "amount_subtotal": self.amount_subtotal, "amount_total": self.amount_total,
            "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
            "billing_address_collection": None, "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id, "client_secret": None,
            "collected_information": None, "consent": None, "consent_collection": None, "created": self.created,
            "currency": self.currency, "currency_conversion": None, "custom_fields": [],
            "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                            "terms_of_service_acceptance": None},
            "customer": self.customer, "customer_creation": None if self.customer else "if_required",
            "customer_details": dict(self.customer_details) if self.customer_details else None,
            "customer_email": self.customer_email, "discounts": [], "expires_at": self.expires_at,
            "invoice": self.invoice, "invoice_creation": {"enabled": False, "invoice_data": {
                "account_tax_ids": None, "custom_fields": None, "description": None, "footer": None,
                "issuer": None, "metadata": {}, "rendering_options": None}},
            "livemode": False, "locale": self.locale, "metadata": dict(self.metadata), "mode": self.mode,
            "payment_intent": self.payment_intent, "payment_link": None,
            "payment_method_collection": "if_required", "payment_method_configuration_details": None,
            "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"], "payment_status": self.payment_status,
            "phone_number_collection": {"enabled": False}, "recovered_from": None,
            "saved_payment_method_options": None, "setup_intent": self.setup_intent, "shipping_address_collection": None,
            "shipping_cost": None, "shipping_options": [], "status": self.status, "submit_type": None,
            "subscription": self.subscription, "success_url": self.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": self.url,
        }


class Account(LocalObject):
    object = "account"
    _id_prefix = "acct_"
    _id_length = 16

    def __init__(self, *, type: str, country: str, email: str | None, capabilities: list[str], metadata: dict,
                 business_type: str | None, business_profile: dict, default_currency: str):
        super().__init__()
        self.type = type
        self.country = country
        self.email = email
        self.capabilities = {name: "inactive" for name in capabilities}
        self.metadata = metadata
        self.business_type = business_type
        self.business_profile = business_profile
        self.default_currency = default_currency
        self.details_submitted = False
        self.charges_enabled = False
        self.payouts_enabled = False
        self.tos_accepted_at: int | None = None

    def _complete_onboarding(self) -> dict:
        """Stripe's hosted onboarding finished: everything enabled; returns the previous attributes."""
        previous = {"details_submitted": self.details_submitted, "charges_enabled": self.charges_enabled,
                    "payouts_enabled": self.payouts_enabled, "capabilities": dict(self.capabilities),
                    "requirements": self._requirements()}
        self.details_submitted = self.charges_enabled = self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities}
        self.tos_accepted_at = now()
        self.business_type = self.business_type or "individual"
        return previous

    def _requirements(self) -> dict:
        due = [] if self.details_submitted else list(SETUP_REQUIREMENTS)
        return {"alternatives": [], "current_deadline": None, "currently_due": due,
                "disabled_reason": None if self.details_submitted else "requirements.past_due", "errors": [],
                "eventually_due": list(due), "past_due": list(due), "pending_verification": []}

    def _data(self) -> dict:
        empty_list = {"object": "list", "data": [], "has_more": False, "total_count": 0}
        profile = {"annual_revenue": None, "estimated_worker_count": None, "mcc": None, "name": None,
                   "product_description": None, "support_address": None, "support_email": None,
                   "support_phone": None, "support_url": None, "url": None}
        profile.update(self.business_profile)
        requirements = self._requirements()
        return {
            "id": self.id, "object": self.object, "business_profile": profile,
            "business_type": self.business_type, "capabilities": dict(self.capabilities),
            "charges_enabled": self.charges_enabled,
            "controller": {"fees": {"payer": "application_express" if self.type == "express" else "application"},
                           "is_controller": True, "losses": {"payments": "application"},
                           "requirement_collection": "stripe",
                           "stripe_dashboard": {"type": "express" if self.type == "express" else "none"},
                           "type": "application"},
            "country": self.country, "created": self.created, "default_currency": self.default_currency,
            "details_submitted": self.details_submitted, "email": self.email,
            "external_accounts": dict(empty_list, url=f"/v1/accounts/{self.id}/external_accounts"),
            "future_requirements": dict(requirements, currently_due=[], eventually_due=[], past_due=[],
                                        disabled_reason=None),
            "livemode": False, "login_links": dict(empty_list, url=f"/v1/accounts/{self.id}/login_links"),
            "metadata": dict(self.metadata), "payouts_enabled": self.payouts_enabled,
            "requirements": requirements,
            "settings": {"payouts": {"debit_negative_balances": True, "schedule": {"delay_days": 7,
                                                                                    "interval": "daily"},
                                     "statement_descriptor": None}},
            "tos_acceptance": {"date": self.tos_accepted_at}, "type": self.type,
        }


class AccountLink(LocalObject):
    object = "account_link"
    _id_prefix = "alink_"
    _id_length = 32

    def __init__(self, *, base_url: str, account: str, type: str, refresh_url: str | None, return_url: str | None):
        super().__init__()
        self.account = account
        self.type = type
        self.refresh_url = refresh_url
        self.return_url = return_url
        self.expires_at = self.created + ACCOUNT_LINK_SECONDS
        self.used = False
        self.url = f"{base_url}/connect/setup/{self.id}"

    def _data(self) -> dict:
        return {"object": self.object, "created": self.created, "expires_at": self.expires_at, "url": self.url}


class Transfer(LocalObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, *, amount: int, currency: str, destination: str, transfer_group: str | None,
                 source_transaction: str | None, metadata: dict, description: str | None):
        super().__init__()
        self.amount = amount
        self.currency = currency
        self.destination = destination
        self.transfer_group = transfer_group
        self.source_transaction = source_transaction
        self.metadata = metadata
        self.description = description
        self.destination_payment = "py_" + random_id(24)

    @property
    def _reversals(self) -> list[TransferReversal]:
        return [r for r in TransferReversal._all() if r.transfer == self.id]

    @property
    def _amount_reversed(self) -> int:
        return sum(r.amount for r in self._reversals)

    def _data(self) -> dict:
        reversals = self._reversals
        return {
            "id": self.id, "object": self.object, "amount": self.amount, "amount_reversed": self._amount_reversed,
            "balance_transaction": None, "created": self.created, "currency": self.currency,
            "description": self.description, "destination": self.destination,
            "destination_payment": self.destination_payment, "livemode": False, "metadata": dict(self.metadata),
            "reversals": {"object": "list", "data": [r._export() for r in reversals[:10]],
                          "has_more": len(reversals) > 10, "total_count": len(reversals),
                          "url": f"/v1/transfers/{self.id}/reversals"},
            "reversed": self._amount_reversed >= self.amount, "source_transaction": self.source_transaction,
            "source_type": "card", "transfer_group": self.transfer_group,
        }


class TransferReversal(LocalObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, *, transfer: Transfer, amount: int, metadata: dict):
        super().__init__()
        self.transfer = transfer.id
        self.amount = amount
        self.currency = transfer.currency
        self.metadata = metadata

    def _data(self) -> dict:
        return {"id": self.id, "object": self.object, "amount": self.amount, "balance_transaction": None,
                "created": self.created, "currency": self.currency, "destination_payment_refund": None,
                "metadata": dict(self.metadata), "source_refund": None, "transfer": self.transfer}
