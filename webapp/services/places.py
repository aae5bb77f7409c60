"""Where in-person lessons happen: postal addresses placed on the map by the configured geocoder, if any."""
from __future__ import annotations

import logging

from flask import current_app

from ..adapters.geocoder import GeocoderUnavailable, PostalAddress, geocoder_for
from ..domain.travel import Coordinates

log = logging.getLogger(__name__)


def locate(line1: str, postcode: str = "", city: str = "") -> Coordinates | None:
    """Coordinates for an address from the geocoder, or None when none is configured, it knows no such place, or
    it is down (the address is then kept without coordinates and travel gets the conservative buffer).
    A network call: callers run it before they open a write transaction."""
    cfg = current_app.config
    geocoder = geocoder_for(cfg.get("GEOCODER_URL"), cfg["GEOCODER_USER_AGENT"], cfg["GEOCODER_TIMEOUT_SECONDS"],
                            cfg.get("GEOCODER_COUNTRY_CODES"))
    if geocoder is None or not (line1 or "").strip():
        return None
    try:
        return geocoder.locate(PostalAddress((line1 or "").strip(), (postcode or "").strip(), (city or "").strip()))
    except GeocoderUnavailable as exc:
        log.warning("geocoding failed; keeping the address without coordinates: %s", exc)
        return None
