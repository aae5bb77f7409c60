"""The meeting providers: Jitsi makes an unguessable room URL with no call; Daily speaks Daily's REST API (run against
the Daily stand-in, standins/daily.py) and maps its answers to created, not found, or unavailable."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from standins.daily import DailyStandIn
from webapp.adapters.meetings import (DailyProvider, JitsiProvider, MeetingNotFound, MeetingProviderUnavailable,
                                      MeetingSpec, new_room_name, provider_for)

START = datetime(2027, 3, 1, 10, tzinfo=UTC)
SPEC = MeetingSpec(name="lesson-7-abcdefgh", opens_at=START - timedelta(minutes=15),
                   closes_at=START + timedelta(minutes=90))


@pytest.fixture
def daily():
    server = DailyStandIn(api_key="k_test")
    server.clock_offset = -10 ** 9  # the fixed 2027 window must not count as past
    yield server
    server.close()


def test_room_names_are_unguessable_and_url_safe():
    names = {new_room_name(7) for _ in range(200)}
    assert len(names) == 200
    assert all(re.fullmatch(r"lesson-7-[A-Za-z0-9]{24}", n) for n in names)


def test_jitsi_gives_one_url_on_its_base_for_both_sides_and_needs_no_server():
    jitsi = JitsiProvider("https://meet.example.org/")
    room = jitsi.create(SPEC)
    assert room.join_url == room.participant_join_url == "https://meet.example.org/lesson-7-abcdefgh"
    assert room.external_id == SPEC.name and room.password is None
    assert jitsi.update(room.external_id, SPEC) is None and jitsi.delete(room.external_id) is None


def test_daily_create_sends_a_private_room_with_nbf_and_exp_and_two_tokens(daily):
    room = DailyProvider("k_test", daily.url).create(SPEC)
    [create, owner, guest] = daily.requests
    assert (create["method"], create["path"]) == ("POST", "/v1/rooms")
    assert json.loads(create["body"]) == {"name": SPEC.name, "privacy": "private", "properties": {
        "nbf": int(SPEC.opens_at.timestamp()), "exp": int(SPEC.closes_at.timestamp())}}
    assert create["headers"]["Authorization"] == "Bearer k_test"
    assert json.loads(owner["body"]) == {"properties": {"room_name": SPEC.name, "is_owner": True}}
    assert json.loads(guest["body"]) == {"properties": {"room_name": SPEC.name, "is_owner": False}}
    assert room.join_url.startswith(f"https://lessonbook-dev.daily.co/{SPEC.name}?t=")
    assert room.participant_join_url.startswith(f"https://lessonbook-dev.daily.co/{SPEC.name}?t=")
    assert room.join_url != room.participant_join_url


def test_daily_create_after_a_lost_answer_takes_the_existing_room(daily):
    provider = DailyProvider("k_test", daily.url)
    provider.create(SPEC)
    again = provider.create(SPEC)  # "a room named … already exists": ours, from the first try
    assert again.external_id == SPEC.name and list(daily.rooms) == [SPEC.name]


def test_daily_update_moves_the_window_and_a_missing_room_is_not_found(daily):
    provider = DailyProvider("k_test", daily.url)
    provider.create(SPEC)
    later = MeetingSpec(SPEC.name, SPEC.opens_at + timedelta(days=1), SPEC.closes_at + timedelta(days=1))
    provider.update(SPEC.name, later)
    assert daily.rooms[SPEC.name]["config"]["exp"] == int(later.closes_at.timestamp())
    with pytest.raises(MeetingNotFound):
        provider.update("lesson-7-gone", later)


def test_daily_delete_removes_the_room_and_a_missing_one_is_fine(daily):
    provider = DailyProvider("k_test", daily.url)
    provider.create(SPEC)
    provider.delete(SPEC.name)
    assert daily.rooms == {}
    provider.delete(SPEC.name)  # already gone: what we wanted


def test_daily_outages_and_refusals_are_unavailable_not_crashes(daily):
    daily.fail_with = 503
    with pytest.raises(MeetingProviderUnavailable, match="503"):
        DailyProvider("k_test", daily.url).create(SPEC)
    daily.fail_with = None
    with pytest.raises(MeetingProviderUnavailable, match="authentication-error"):
        DailyProvider("wrong", daily.url).create(SPEC)
    with pytest.raises(MeetingProviderUnavailable, match="did not answer"):
        DailyProvider("k_test", "http://127.0.0.1:9/v1", timeout=1).create(SPEC)


def test_the_configuration_picks_the_provider():
    assert isinstance(provider_for({"MEETING_PROVIDER": "jitsi", "JITSI_BASE_URL": "https://j.example"}), JitsiProvider)
    daily = provider_for({"MEETING_PROVIDER": "jitsi", "DAILY_API_KEY": "k", "JITSI_BASE_URL": "x"}, "daily")
    assert isinstance(daily, DailyProvider)  # a stored meeting keeps its own provider
    with pytest.raises(ValueError):
        provider_for({"MEETING_PROVIDER": "zoom"})
