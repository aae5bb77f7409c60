"""The chat's pure rules: the window a lesson's chat is open in, what a message may be, and how one reader's stream
merges backfill, doorbell reloads and same-process deliveries into each message once, in order."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from webapp.domain.chat import MAX_MESSAGE_BYTES, ChatWindow, Stream, chat_window, message_problem

START = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # the night the UK clocks go forward: UTC arithmetic is unaffected
FINISH = START + timedelta(minutes=60)


@pytest.mark.parametrize(("now", "state"), [
    (START - timedelta(minutes=16), ChatWindow.NOT_YET_OPEN),
    (START - timedelta(minutes=15), ChatWindow.OPEN),  # opens exactly 15 minutes before the start
    (START + timedelta(minutes=30), ChatWindow.OPEN),
    (FINISH + timedelta(minutes=29, seconds=59), ChatWindow.OPEN),
    (FINISH + timedelta(minutes=30), ChatWindow.CLOSED),  # closes exactly 30 minutes after the end
    (FINISH + timedelta(days=300), ChatWindow.CLOSED),
])
def test_the_default_window_opens_15_minutes_before_and_closes_30_after(now, state):
    assert chat_window(START, FINISH, 15, 30).state(now) is state


def test_the_window_follows_its_configuration_including_fractions_and_negative_values():
    window = chat_window(START, FINISH, 0.5, -45)
    assert window.opens_at == START - timedelta(seconds=30)
    assert window.closes_at == FINISH - timedelta(minutes=45)


def test_a_window_that_would_close_before_it_opens_is_empty():
    window = chat_window(START, FINISH, -90, -60)  # opens 30 min after the end, "closes" at the start
    assert window.opens_at == window.closes_at
    assert {window.state(START + timedelta(minutes=m)) for m in range(-10, 200, 5)} <= {
        ChatWindow.NOT_YET_OPEN, ChatWindow.CLOSED}


def test_message_limits_are_counted_in_utf8_bytes_after_trimming():
    assert message_problem("  hello  ") is None
    assert message_problem("a" * MAX_MESSAGE_BYTES) is None
    assert "too long" in message_problem("a" * (MAX_MESSAGE_BYTES + 1))
    assert "too long" in message_problem("é" * (MAX_MESSAGE_BYTES // 2 + 1))  # 2 bytes each
    assert message_problem("   \n ") == "Write a message first."
    assert message_problem(None) == "Write a message first."


def test_backfill_then_doorbell_hands_on_each_message_once_in_order():
    stream = Stream(last=2)
    # The doorbell's reload arrives before the backfill it overlaps: nothing can go out past the missing 3.
    assert stream.take([(5, "e"), (6, "f")]) == []
    assert stream.has_gap
    assert stream.take([(3, "c"), (4, "d"), (5, "e")]) == ["c", "d", "e", "f"]
    assert not stream.has_gap
    assert stream.take([(1, "a"), (6, "f"), (4, "d")]) == []  # all seen: duplicates are dropped
    assert stream.take([(7, "g")]) == ["g"] and stream.last == 7


@given(st.integers(min_value=0, max_value=20), st.integers(min_value=1, max_value=40), st.randoms())
def test_any_mix_of_overlapping_deliveries_gives_every_message_once_and_in_order(last_seen, total, rnd):
    messages = [(seq, f"m{seq}") for seq in range(1, last_seen + total + 1)]
    # Several sources, each a contiguous run (backfill, reloads, own deliveries), overlapping and shuffled.
    batches = [messages[last_seen:]]
    for _ in range(rnd.randint(0, 6)):
        a = rnd.randint(0, len(messages) - 1)
        batches.append(messages[a:rnd.randint(a + 1, len(messages))])
    rnd.shuffle(batches)
    stream, out = Stream(last=last_seen), []
    for batch in batches:
        out += stream.take(batch)
    assert out == [text for seq, text in messages if seq > last_seen]
    assert not stream.has_gap


def test_a_real_random_interleaving_never_reorders():
    rnd = random.Random(7)
    stream, out = Stream(), []
    pending = list(range(1, 101))
    arrived = []
    while pending:
        arrived.append(pending.pop(rnd.randrange(min(3, len(pending)))))  # mostly in order, sometimes overtaken
        out += stream.take([(arrived[-1], arrived[-1])])
    assert out == list(range(1, 101))
