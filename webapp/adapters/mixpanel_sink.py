"""Mixpanel through its official library: one batch of events (at most 50) to /track, each with our `$insert_id`."""
from __future__ import annotations

from dataclasses import dataclass

from mixpanel import BufferedConsumer, Mixpanel, MixpanelException

MAX_BATCH = 50  # Mixpanel's limit per /track request
REFUSAL_STATUSES = {200, 400, 413}


class MixpanelDown(Exception):
    """Mixpanel did not take the batch (unreachable, an error status, or it refused the batch)."""


class MixpanelRefused(MixpanelDown):
    """Mixpanel answered and refused the batch as invalid (`status: 0`); `reason` is its own words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OutgoingEvent:
    """One event as Mixpanel gets it."""

    distinct_id: str
    name: str
    properties: dict


def send_batch(token: str, track_url: str, events: list[OutgoingEvent], timeout: float) -> None:
    """Send the batch in one request; MixpanelDown if it was not accepted (then none of it counts as sent)."""
    if not 0 < len(events) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} events, not {len(events)}")
    consumer = BufferedConsumer(max_size=MAX_BATCH, events_url=track_url, request_timeout=timeout, retry_limit=2)
    client = Mixpanel(token, consumer=consumer)
    statuses: list[int] = []  # the HTTP status of each answer, to tell a refusal from an outage
    # The library keeps its requests session private and offers no hook of its own. Should a release rename it, no
    # status is seen and every failure counts as an outage: events wait and are retried, never marked refused or lost.
    session = getattr(getattr(consumer, "_consumer", None), "_session", None)
    if session is not None:
        session.hooks["response"].append(lambda response, *a, **k: statuses.append(response.status_code))
    try:
        for event in events:
            client.track(event.distinct_id, event.name, event.properties)
        consumer.flush()
    except MixpanelException as exc:
        message = str(exc)
        # The library says "Mixpanel error: <reason>" when Mixpanel answered {"status": 0}; that is a refusal of the
        # batch only with 200, 400 or 413 (a 5xx or 429 is an outage, 401/403 a wrong token: those keep waiting).
        if message.startswith("Mixpanel error: ") and statuses and statuses[-1] in REFUSAL_STATUSES:
            raise MixpanelRefused(message.removeprefix("Mixpanel error: ")) from exc
        raise MixpanelDown(message) from exc
