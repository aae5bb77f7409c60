"""Mixpanel through its official library: one batch of events (at most 50) to /track, each with our `$insert_id`."""
from __future__ import annotations

from dataclasses import dataclass

from mixpanel import BufferedConsumer, Mixpanel, MixpanelException

MAX_BATCH = 50  # Mixpanel's limit per /track request


class MixpanelDown(Exception):
    """Mixpanel did not take the batch (unreachable, an error status, or it refused the batch)."""


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
    try:
        for event in events:
            client.track(event.distinct_id, event.name, event.properties)
        consumer.flush()
    except MixpanelException as exc:
        raise MixpanelDown(str(exc)) from exc
