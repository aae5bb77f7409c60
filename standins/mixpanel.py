"""A local stand-in for Mixpanel's ingestion endpoint: POST /track takes the form field `data`, a JSON event or array
of events (what the official `mixpanel` library's Consumer and BufferedConsumer send), and answers as Mixpanel does
with `verbose=1`: {"status": 1, "error": null}, or {"status": 0, "error": "..."} for a bad batch.

Like Mixpanel it dedupes on `$insert_id` (an event sent again is accepted and kept once) and checks each event has a
`token`, `distinct_id` and `time`, and like /track it refuses an event more than 5 days old. It can be told to fail (`fail_next`: answer 503 to that many requests).

Run it:      python -m standins.mixpanel --port 8431
Or import:   stand_in = MixpanelStandIn(); stand_in.url; stand_in.events; stand_in.close()
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class MixpanelStandIn:
    """The server, in a background thread; `events` holds each distinct `$insert_id`'s event once, `batches` each
    accepted request's size."""

    def __init__(self, port: int = 0, token: str | None = None):
        self.events: dict[str, dict] = {}
        self.batches: list[int] = []
        self.fail_next = 0
        self.token = token
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                if self.path.split("?")[0] != "/track":
                    return self._answer(404, {"status": 0, "error": "unknown endpoint"})
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                with stand_in._lock:
                    if stand_in.fail_next > 0:
                        stand_in.fail_next -= 1
                        return self._answer(503, {"status": 0, "error": "service unavailable"})
                try:
                    payload = json.loads(form["data"][0])
                except (KeyError, ValueError):
                    return self._answer(400, {"status": 0, "error": "data is not JSON"})
                batch = payload if isinstance(payload, list) else [payload]
                problem = stand_in._problem(batch)
                if problem:
                    return self._answer(400, {"status": 0, "error": problem})
                with stand_in._lock:
                    for event in batch:
                        stand_in.events.setdefault(event["properties"]["$insert_id"], event)
                    stand_in.batches.append(len(batch))
                return self._answer(200, {"status": 1, "error": None})

            def _answer(self, status: int, body: dict):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _problem(self, batch: list) -> str | None:
        if len(batch) > 50:
            return "at most 50 events per request"
        for event in batch:
            props = event.get("properties") if isinstance(event, dict) else None
            if not isinstance(props, dict) or not event.get("event"):
                return "each event needs `event` and `properties`"
            for key in ("token", "distinct_id", "time", "$insert_id"):
                if key not in props:
                    return f"properties.{key} is missing"
            if self.token is not None and props["token"] != self.token:
                return "token does not match the project"
            if not isinstance(props["time"], (int, float)) or props["time"] < time.time() - 5 * 86400:
                return "'properties.time' is more than 5 days old; use /import for older events"
        return None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8431)
    args = parser.parse_args()
    stand_in = MixpanelStandIn(args.port)
    print(f"Mixpanel stand-in on {stand_in.url}/track", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
