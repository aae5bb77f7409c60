"""How a booking is paid for: the value stored on each booking, which picks its funding strategy
(services/funding.py)."""
from __future__ import annotations

from enum import StrEnum


class Funding(StrEnum):
    """How a booking is paid for."""

    CARD = "card"  # a Stripe card authorization, captured at the tutor's approval
    MINUTES = "minutes"  # prepaid minutes with the tutor, held on the ledger, posted at the tutor's approval
    PAYPAL = "paypal"  # a PayPal order's authorization, captured at the tutor's approval


def authorization_name(funding: str | None) -> str:
    """What a booking's uncaptured payment is called in words: a card's or PayPal's authorization."""
    return "PayPal authorization" if funding == Funding.PAYPAL else "card authorization"
