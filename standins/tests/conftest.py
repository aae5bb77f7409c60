"""Fixtures for the stand-ins' own tests: each stand-in on a free port of 127.0.0.1, no app needed."""
from __future__ import annotations

import pytest

from standins.daily import DailyStandIn
from standins.geocoder import NominatimStandIn
from standins.google_calendar import GoogleCalendarStandIn
from standins.paypal import PayPalStandIn
from tests.stripe_fixtures import local_stripe_server, stripe_client, webhook_receiver  # noqa: F401 (fixtures)


@pytest.fixture
def nominatim():
    """The Nominatim stand-in on its own."""
    server = NominatimStandIn()
    yield server
    server.close()


@pytest.fixture
def daily():
    """The Daily REST API stand-in on its own (API key `daily_test_key`)."""
    server = DailyStandIn(api_key="daily_test_key")
    yield server
    server.close()


@pytest.fixture
def paypal():
    """The PayPal REST API stand-in on its own (client paypal_test_client / paypal_test_secret)."""
    server = PayPalStandIn()
    yield server
    server.close()


@pytest.fixture
def google():
    """The Google OAuth and Calendar free/busy stand-in on its own."""
    server = GoogleCalendarStandIn(client_id="client-1", client_secret="secret-1")
    yield server
    server.close()
