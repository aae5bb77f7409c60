"""Turning a postal address into coordinates: one small interface, and an adapter for Nominatim's HTTP API.

Nominatim (OpenStreetMap's geocoder; self-hosted, or a compatible service such as LocationIQ's) answers
``GET {base}/search?street=…&postalcode=…&city=…&format=jsonv2&limit=1`` with a JSON array of places, each with
``lat`` and ``lon`` as decimal strings. Callers must not hold a write transaction while this runs: it is a
network call that may take up to ``timeout`` seconds.
"""
from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

import requests

from ..domain.travel import Coordinates


@dataclass(frozen=True)
class PostalAddress:
    """What a user types: the street line, postcode and city (any may be empty but the line)."""

    line1: str
    postcode: str = ""
    city: str = ""


class GeocoderUnavailable(Exception):
    """The geocoder could not answer now (network, timeout, HTTP error, a reply we cannot read)."""


class Geocoder(Protocol):
    """Anything that can place an address on the map."""

    def locate(self, address: PostalAddress) -> Coordinates | None:
        """The address's coordinates, None when the geocoder knows no such place; GeocoderUnavailable on failure."""
        ...


class NominatimGeocoder:
    """Nominatim's structured search over HTTP, with a small in-process cache of answers (the booker asks again for
    the same address as a user changes the month or the duration)."""

    CACHE_SIZE = 512
    CACHE_SECONDS = 24 * 3600

    def __init__(self, base_url: str, user_agent: str, timeout: float = 5.0, country_codes: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.user_agent = user_agent  # Nominatim's usage policy requires an identifying User-Agent
        self.timeout = timeout
        self.country_codes = country_codes
        self._cache: OrderedDict[tuple, tuple[float, Coordinates | None]] = OrderedDict()
        self._lock = threading.Lock()

    def locate(self, address: PostalAddress) -> Coordinates | None:
        """Coordinates of the best match, or None when nothing matches."""
        key = (address.line1.strip().lower(), address.postcode.strip().lower(), address.city.strip().lower())
        cached = self._cached(key)
        if cached is not None:
            return cached[1]
        params = {"format": "jsonv2", "limit": "1", "street": address.line1.strip()}
        if address.postcode.strip():
            params["postalcode"] = address.postcode.strip()
        if address.city.strip():
            params["city"] = address.city.strip()
        if self.country_codes:
            params["countrycodes"] = self.country_codes
        try:
            response = requests.get(f"{self.base_url}/search", params=params, timeout=self.timeout,
                                    headers={"User-Agent": self.user_agent, "Accept": "application/json"})
            response.raise_for_status()
            places = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise GeocoderUnavailable(f"The geocoder did not answer: {exc}") from exc
        found = _first_place(places)
        self._remember(key, found)
        return found

    def _cached(self, key: tuple) -> tuple[float, Coordinates | None] | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None or entry[0] < time.monotonic():
                return None
            self._cache.move_to_end(key)
            return entry

    def _remember(self, key: tuple, found: Coordinates | None) -> None:
        with self._lock:
            self._cache[key] = (time.monotonic() + self.CACHE_SECONDS, found)
            self._cache.move_to_end(key)
            while len(self._cache) > self.CACHE_SIZE:
                self._cache.popitem(last=False)


def _first_place(places) -> Coordinates | None:
    """The first place of a Nominatim reply as coordinates; a reply of any other shape is unreadable."""
    if not isinstance(places, list):
        raise GeocoderUnavailable("The geocoder's reply is not a list of places.")
    if not places:
        return None
    first = places[0]
    try:
        lat, lon = float(first["lat"]), float(first["lon"])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError
        return Coordinates(lat, lon)
    except (KeyError, TypeError, ValueError) as exc:
        raise GeocoderUnavailable(f"The geocoder's reply has no usable lat/lon: {first!r}") from exc


_instances: dict[tuple, NominatimGeocoder] = {}
_instances_lock = threading.Lock()


def geocoder_for(url: str | None, user_agent: str, timeout: float = 5.0,
                 country_codes: str | None = None) -> Geocoder | None:
    """The geocoder for these settings (one per setting, so its cache lives on), or None when no URL is set."""
    if not url:
        return None
    key = (url, user_agent, timeout, country_codes)
    with _instances_lock:
        if key not in _instances:
            _instances[key] = NominatimGeocoder(url, user_agent, timeout, country_codes)
        return _instances[key]
