"""The Mixpanel stand-in speaks what the official library sends: batches to /track, deduped on $insert_id."""
import pytest
from mixpanel import BufferedConsumer, Mixpanel, MixpanelException

from standins.mixpanel import MixpanelStandIn


@pytest.fixture
def stand_in():
    server = MixpanelStandIn(token="tok")
    yield server
    server.close()


def test_the_official_library_sends_a_batch_and_a_repeat_is_kept_once(stand_in):
    consumer = BufferedConsumer(max_size=50, events_url=f"{stand_in.url}/track")
    mp = Mixpanel("tok", consumer=consumer)
    for i in range(3):
        mp.track("u1", "booking_created", {"$insert_id": f"booking_created:{i}"})
    consumer.flush()
    mp.track("u1", "booking_created", {"$insert_id": "booking_created:0"})
    consumer.flush()
    assert stand_in.batches == [3, 1] and sorted(stand_in.events) == [f"booking_created:{i}" for i in range(3)]


def test_a_wrong_token_or_an_outage_is_an_error_the_library_raises(stand_in):
    consumer = BufferedConsumer(max_size=50, events_url=f"{stand_in.url}/track")
    Mixpanel("other", consumer=consumer).track("u1", "x", {"$insert_id": "a"})
    with pytest.raises(MixpanelException):
        consumer.flush()
    stand_in.fail_next = 1
    consumer = BufferedConsumer(max_size=50, events_url=f"{stand_in.url}/track")
    Mixpanel("tok", consumer=consumer).track("u1", "x", {"$insert_id": "b"})
    with pytest.raises(MixpanelException):
        consumer.flush()
    assert stand_in.events == {}
