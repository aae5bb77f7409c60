"""A local stand-in for a Nominatim server: GET /search answers in Nominatim's jsonv2 wire format.

Nominatim cannot be installed here (it needs a planet import), so the tests run the geocoder adapter against this
small HTTP server instead. It knows a handful of addresses (PLACES), records every request, and can be told to fail.

Run it:      python -m standins.geocoder --port 8421   (`make run` does, when GEOCODER_URL is not set)
Or import:   stand_in = NominatimStandIn(); stand_in.url; stand_in.requests; stand_in.close()
             (tests: the `geocoder` fixture in tests/conftest.py points the app at one)
"""
from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# (street, postcode) as a user might type them (case-insensitive) → (lat, lon, display name)
PLACES = {
    ("221b baker street", "nw1 6xe"): ("51.5237629", "-0.1584743", "221B, Baker Street, Marylebone, London, NW1 6XE"),
    ("1 camden high street", "nw1 7je"): ("51.5352868", "-0.1404216", "1, Camden High Street, London, NW1 7JE"),
    ("10 downing street", "sw1a 2aa"): ("51.5033635", "-0.1276248", "10, Downing Street, London, SW1A 2AA"),
    ("broad street", "ox1 3bd"): ("51.7546407", "-1.2560066", "Broad Street, Oxford, OX1 3BD"),
}


class NominatimStandIn:
    """The server, in a background thread; `requests` holds each query's parameters and headers."""

    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.fail_with: int | None = None  # an HTTP status to answer with instead of places
        self.reply_body: str | None = None  # a raw body to send instead (e.g. not JSON)
        self.probe = None  # called while a request is being answered (to look at the database meanwhile)
        self.probe_results: list = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                stand_in.requests.append({"path": parts.path, "params": query, "headers": dict(self.headers)})
                if stand_in.probe is not None:
                    stand_in.probe_results.append(stand_in.probe())
                if stand_in.fail_with:
                    self._send(stand_in.fail_with, json.dumps({"error": "Service unavailable"}))
                    return
                if stand_in.reply_body is not None:
                    self._send(200, stand_in.reply_body)
                    return
                if parts.path != "/search" or query.get("format") not in ("json", "jsonv2"):
                    self._send(400, json.dumps({"error": {"code": 400, "message": "Parameter 'format' invalid."}}))
                    return
                self._send(200, json.dumps(stand_in.search(query)))

            def _send(self, status: int, body: str):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def search(self, query: dict) -> list[dict]:
        """Nominatim's structured search: street + postalcode (city only narrows); [] when nothing matches."""
        street = " ".join(query.get("street", "").lower().replace(",", " ").split())
        postcode = " ".join(query.get("postalcode", "").lower().split())
        found = PLACES.get((street, postcode))
        if found is None:
            return []
        lat, lon, name = found
        return [{
            "place_id": 100000 + list(PLACES).index((street, postcode)), "licence":
                "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
            "osm_type": "way", "osm_id": 4256245, "lat": lat, "lon": lon, "category": "building", "type": "house",
            "place_rank": 30, "importance": 0.00000999999999995449, "addresstype": "building", "name": "",
            "display_name": name, "boundingbox": [lat, lat, lon, lon]}]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()



def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Nominatim-compatible geocoder (GET /search) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8421)
    args = parser.parse_args(argv)
    stand_in = NominatimStandIn(args.port)
    print(f"local geocoder on {stand_in.url} (knows: " + "; ".join(f"{s}, {p}" for s, p in PLACES) + ")", flush=True)
    try:
        stand_in.thread.join()
    except KeyboardInterrupt:
        stand_in.close()


if __name__ == "__main__":
    main()
