"""Reading a tutor's calendar file into busy time: recurrence across the 2027 clock changes, exceptions, all-day
events as whole local days, and what never makes anyone busy (cancelled and transparent events)."""
from datetime import UTC, date, datetime, timedelta

import pytest

from tests.ics_samples import AUTUMN_2027, SPRING_2027
from webapp.adapters.ics_import import CalendarFileError, busy_blocks
from webapp.domain.busy_time import BusyBlock, is_stale, local_to_utc, sync_window, whole_days, within


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def spans(blocks):
    return [(b.start, b.end) for b in blocks]


def test_spring_2027_feed_expands_to_the_hand_computed_busy_times():
    blocks = busy_blocks(SPRING_2027.encode(), utc(2027, 3, 1), utc(2027, 4, 10), "Europe/London")
    assert spans(blocks) == [
        (utc(2027, 3, 2, 11), utc(2027, 3, 2, 12)),      # New York 06:00 EST
        (utc(2027, 3, 9, 11), utc(2027, 3, 9, 12)),      # (the cancelled workshop that day blocks nothing)
        (utc(2027, 3, 16, 9), utc(2027, 3, 16, 9, 30)),  # London 09:00 GMT
        (utc(2027, 3, 16, 10), utc(2027, 3, 16, 11)),    # New York 06:00 EDT: an hour earlier in UTC
        (utc(2027, 3, 23, 9), utc(2027, 3, 23, 9, 30)),  # New York's 23 March is excluded (EXDATE)
        (utc(2027, 3, 30, 8), utc(2027, 3, 30, 8, 30)),  # London 09:00 BST
        (utc(2027, 3, 30, 11), utc(2027, 3, 30, 12)),    # the moved instance: 07:00 EDT
        (utc(2027, 4, 5, 23), utc(2027, 4, 6, 23)),      # all-day 6 April: the whole London day (BST)
        (utc(2027, 4, 6, 8), utc(2027, 4, 6, 8, 30)),
        (utc(2027, 4, 6, 10), utc(2027, 4, 6, 11)),
    ]


def test_autumn_2027_feed_in_a_new_york_tutors_zone():
    blocks = busy_blocks(AUTUMN_2027.encode(), utc(2027, 10, 20), utc(2027, 11, 20), "America/New_York")
    assert spans(blocks) == [
        (utc(2027, 10, 25, 13), utc(2027, 10, 25, 14)),  # 14:00 BST
        (utc(2027, 11, 1, 14), utc(2027, 11, 1, 15)),    # 14:00 GMT
        (utc(2027, 11, 7, 4), utc(2027, 11, 8, 5)),      # all-day 7 November: New York's 25-hour day
        (utc(2027, 11, 8, 14), utc(2027, 11, 8, 15)),
    ]


def test_only_busy_time_overlapping_the_window_is_kept():
    blocks = busy_blocks(SPRING_2027.encode(), utc(2027, 3, 16, 9, 15), utc(2027, 3, 23), "Europe/London")
    assert spans(blocks) == [(utc(2027, 3, 16, 9), utc(2027, 3, 16, 9, 30)), (utc(2027, 3, 16, 10), utc(2027, 3, 16, 11))]


def test_each_occurrence_has_its_own_stable_key():
    first = busy_blocks(SPRING_2027.encode(), utc(2027, 3, 1), utc(2027, 4, 10), "Europe/London")
    again = busy_blocks(SPRING_2027.encode(), utc(2027, 3, 1), utc(2027, 4, 10), "Europe/London")
    assert [b.key for b in first] == [b.key for b in again]
    assert len({b.key for b in first}) == len(first)


def test_floating_times_are_read_in_the_tutors_zone():
    ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\nBEGIN:VEVENT\nUID:f\nDTSTAMP:20270101T000000Z\n"
           "DTSTART:20270701T090000\nDTEND:20270701T100000\nEND:VEVENT\nEND:VCALENDAR\n")
    [block] = busy_blocks(ics.encode(), utc(2027, 6, 1), utc(2027, 8, 1), "America/New_York")
    assert (block.start, block.end) == (utc(2027, 7, 1, 13), utc(2027, 7, 1, 14))


def test_a_cancelled_single_instance_of_a_series_blocks_nothing():
    ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
           "BEGIN:VEVENT\nUID:s\nDTSTAMP:20270101T000000Z\nDTSTART:20270301T090000Z\nDTEND:20270301T100000Z\n"
           "RRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT\n"
           "BEGIN:VEVENT\nUID:s\nDTSTAMP:20270101T000000Z\nRECURRENCE-ID:20270302T090000Z\n"
           "DTSTART:20270302T090000Z\nDTEND:20270302T100000Z\nSTATUS:CANCELLED\nEND:VEVENT\nEND:VCALENDAR\n")
    blocks = busy_blocks(ics.encode(), utc(2027, 3, 1), utc(2027, 3, 5), "UTC")
    assert [b.start.day for b in blocks] == [1, 3]


def test_a_calendar_with_too_many_events_is_refused_rather_than_cut_short():
    ics = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\nBEGIN:VEVENT\nUID:m\nDTSTAMP:20270101T000000Z\n"
           "DTSTART:20270301T090000Z\nDTEND:20270301T091000Z\nRRULE:FREQ=MINUTELY;INTERVAL=15\nEND:VEVENT\n"
           "END:VCALENDAR\n")
    with pytest.raises(CalendarFileError, match="more than 100 events"):
        busy_blocks(ics.encode(), utc(2027, 3, 1), utc(2027, 6, 1), "UTC", max_occurrences=100)


@pytest.mark.parametrize("data", [b"", b"<html>Sign in</html>", b"BEGIN:VCALENDAR\nBEGIN:VEVENT\n"])
def test_something_that_is_not_a_calendar_is_an_error_in_words(data):
    with pytest.raises(CalendarFileError, match="calendar"):
        busy_blocks(data, utc(2027, 3, 1), utc(2027, 4, 1), "UTC")


def test_whole_days_follow_the_local_day_across_clock_changes():
    assert whole_days(date(2027, 3, 28), date(2027, 3, 29), "Europe/London") == (utc(2027, 3, 28), utc(2027, 3, 28, 23))
    assert whole_days(date(2027, 3, 14), date(2027, 3, 15), "America/New_York") == (
        utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))
    # An all-day event with no end is one day long.
    assert whole_days(date(2027, 1, 4), date(2027, 1, 4), "UTC") == (utc(2027, 1, 4), utc(2027, 1, 5))


def test_floating_and_aware_times_become_utc():
    assert local_to_utc(datetime(2027, 7, 1, 9), "Europe/London") == utc(2027, 7, 1, 8)
    assert local_to_utc(utc(2027, 7, 1, 9), "America/New_York") == utc(2027, 7, 1, 9)


def test_within_keeps_overlapping_blocks_once_each_in_order():
    a = BusyBlock(utc(2027, 1, 2, 9), utc(2027, 1, 2, 10), "a")
    b = BusyBlock(utc(2027, 1, 1, 9), utc(2027, 1, 1, 10), "b")
    outside = BusyBlock(utc(2027, 1, 5, 9), utc(2027, 1, 5, 10), "c")
    assert within([a, b, a, outside], utc(2027, 1, 1), utc(2027, 1, 3)) == [b, a]


def test_busy_blocks_must_be_aware_and_end_after_they_start():
    with pytest.raises(ValueError):
        BusyBlock(datetime(2027, 1, 1, 9), datetime(2027, 1, 1, 10), "k")
    with pytest.raises(ValueError):
        BusyBlock(utc(2027, 1, 1, 10), utc(2027, 1, 1, 10), "k")


def test_a_source_is_stale_when_never_synced_or_synced_over_the_limit_ago():
    now, hour = utc(2027, 3, 1, 12), timedelta(hours=1)
    assert is_stale(None, now, hour)
    assert not is_stale(now - hour, now, hour)
    assert is_stale(now - hour - timedelta(seconds=1), now, hour)


def test_the_sync_window_runs_from_now_past_the_booking_horizon():
    now = utc(2027, 3, 1)
    assert sync_window(now, 60) == (now, now + timedelta(days=61))
