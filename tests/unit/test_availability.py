"""Availability engine: open hours, DST, student zones, overrides, notice, horizon, busy time, buffers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from webapp.domain.availability import (
    DEFAULT_DURATION,
    MAX_DURATION,
    MIN_DURATION,
    SLOT_GRID_MINUTES,
    AvailabilityError,
    BusyInterval,
    DateOverride,
    SlotQuery,
    WeeklyWindow,
    free_intervals,
    free_slots,
    naive_free_slots,
    slots_by_local_date,
    utc_slots_by_local_date,
)
from webapp.domain.travel import Coordinates, StraightLineEstimator

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
# Monday 7 June 2027: an ordinary summer week, far from any DST change.
JUNE_7 = date(2027, 6, 7)


def utc(y, mo, d, h=0, mi=0):
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def hm(h, m=0):
    return h * 60 + m


def every_day(start, end):
    return tuple(WeeklyWindow(day, start, end) for day in range(7))


def query(**overrides) -> SlotQuery:
    """A UTC tutor, open 09:00-17:00 every day, asked about Monday 7 June 2027 for an hour's lesson."""
    fields = dict(
        tutor_zone="UTC",
        weekly=every_day(hm(9), hm(17)),
        overrides=(),
        busy=(),
        range_start=utc(2027, 6, 7),
        range_end=utc(2027, 6, 8),
        duration_minutes=DEFAULT_DURATION,
        now=utc(2027, 6, 1),
    )
    fields.update(overrides)
    return SlotQuery(**fields)


def slots(**overrides) -> list[datetime]:
    """free_slots, checked against the naive reference on every example for good measure."""
    q = query(**overrides)
    result = free_slots(q)
    assert result == naive_free_slots(q)
    return result


def quarter_hours(start: datetime, last: datetime) -> list[datetime]:
    out = []
    while start <= last:
        out.append(start)
        start += timedelta(minutes=SLOT_GRID_MINUTES)
    return out


# --------------------------------------------------------------------------- ordinary week


def test_constants_match_the_product_rules():
    assert (SLOT_GRID_MINUTES, MIN_DURATION, MAX_DURATION, DEFAULT_DURATION) == (15, 15, 120, 60)


def test_ordinary_day_offers_every_quarter_hour_start_that_fits_before_closing():
    result = slots(weekly=(WeeklyWindow(MON, hm(9), hm(12)),))
    assert result == quarter_hours(utc(2027, 6, 7, 9), utc(2027, 6, 7, 11))


def test_slots_are_utc_and_sorted():
    result = slots(range_end=utc(2027, 6, 14))
    assert result == sorted(result)
    assert all(s.tzinfo is UTC for s in result)


def test_ordinary_week_follows_each_weekdays_hours():
    weekly = (WeeklyWindow(MON, hm(9), hm(10)), WeeklyWindow(WED, hm(14), hm(15, 30)), WeeklyWindow(SAT, hm(8), hm(9)))
    result = slots(weekly=weekly, range_end=utc(2027, 6, 14))
    assert result == [
        utc(2027, 6, 7, 9),
        utc(2027, 6, 9, 14), utc(2027, 6, 9, 14, 15), utc(2027, 6, 9, 14, 30),
        utc(2027, 6, 12, 8),
    ]


def test_touching_windows_merge_so_a_lesson_can_span_the_seam():
    weekly = (WeeklyWindow(MON, hm(9), hm(12)), WeeklyWindow(MON, hm(12), hm(13)))
    assert utc(2027, 6, 7, 11, 30) in slots(weekly=weekly)
    assert free_intervals(query(weekly=weekly)) == [(utc(2027, 6, 7, 9), utc(2027, 6, 7, 13))]


def test_overlapping_windows_merge_without_duplicate_slots():
    weekly = (WeeklyWindow(MON, hm(9), hm(11)), WeeklyWindow(MON, hm(10), hm(12)))
    result = slots(weekly=weekly)
    assert result == quarter_hours(utc(2027, 6, 7, 9), utc(2027, 6, 7, 11))


def test_end_minute_1440_runs_to_local_midnight_and_a_lesson_may_cross_into_the_next_day():
    weekly = (WeeklyWindow(MON, hm(22), 1440), WeeklyWindow(TUE, 0, hm(1)))
    result = slots(weekly=weekly, range_end=utc(2027, 6, 9))
    assert result == quarter_hours(utc(2027, 6, 7, 22), utc(2027, 6, 8, 0))


def test_window_shorter_than_the_lesson_offers_nothing():
    assert slots(weekly=(WeeklyWindow(MON, hm(9), hm(9, 45)),)) == []


def test_lists_are_accepted_and_frozen_into_tuples():
    q = query(weekly=[WeeklyWindow(MON, hm(9), hm(10))], overrides=[], busy=[])
    assert q.weekly == (WeeklyWindow(MON, hm(9), hm(10)),)
    assert free_slots(q) == [utc(2027, 6, 7, 9)]


# --------------------------------------------------------------------------- DST in the tutor's zone


def test_london_hours_stay_local_across_march_2027_change():
    # Clocks go forward at 01:00 UTC on Sunday 28 March 2027.
    q = query(tutor_zone="Europe/London", range_start=utc(2027, 3, 27), range_end=utc(2027, 3, 30),
              now=utc(2027, 3, 1))
    by_london_date = slots_by_local_date(free_slots(q), "Europe/London")
    for d in (date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 29)):
        assert by_london_date[d][0].strftime("%H:%M") == "09:00"
        assert by_london_date[d][-1].strftime("%H:%M") == "16:00"
    assert by_london_date[date(2027, 3, 27)][0] == utc(2027, 3, 27, 9)  # GMT
    assert by_london_date[date(2027, 3, 29)][0] == utc(2027, 3, 29, 8)  # BST
    assert free_slots(q) == naive_free_slots(q)


def test_london_hours_stay_local_across_october_2027_change():
    # Clocks go back at 01:00 UTC on Sunday 31 October 2027.
    q = query(tutor_zone="Europe/London", range_start=utc(2027, 10, 30), range_end=utc(2027, 11, 2),
              now=utc(2027, 10, 1))
    result = free_slots(q)
    assert result == naive_free_slots(q)
    firsts = [day[0] for day in slots_by_local_date(result, "Europe/London").values()]
    assert [f.strftime("%H:%M") for f in firsts] == ["09:00", "09:00", "09:00"]
    assert [f.astimezone(UTC).hour for f in firsts] == [8, 9, 9]


def test_tokyo_viewer_sees_london_hours_shift_an_hour_in_march_2027():
    q = query(tutor_zone="Europe/London", range_start=utc(2027, 3, 26), range_end=utc(2027, 3, 30),
              now=utc(2027, 3, 1))
    by_london_date = slots_by_local_date(free_slots(q), "Europe/London")
    tokyo = ZoneInfo("Asia/Tokyo")
    # Friday 09:00 GMT is 18:00 in Tokyo; Monday 09:00 BST is 17:00 (Japan has no DST).
    assert by_london_date[date(2027, 3, 26)][0].astimezone(tokyo).strftime("%H:%M") == "18:00"
    assert by_london_date[date(2027, 3, 29)][0].astimezone(tokyo).strftime("%H:%M") == "17:00"


def test_new_york_hours_stay_local_across_march_2027_change_seen_in_utc():
    # US clocks go forward on Sunday 14 March 2027: 09:00 EST is 14:00 UTC, 09:00 EDT is 13:00 UTC.
    q = query(tutor_zone="America/New_York", range_start=utc(2027, 3, 13), range_end=utc(2027, 3, 16),
              now=utc(2027, 3, 1))
    result = free_slots(q)
    assert result == naive_free_slots(q)
    in_utc = slots_by_local_date(result, "UTC")
    assert in_utc[date(2027, 3, 13)][0] == utc(2027, 3, 13, 14)
    assert in_utc[date(2027, 3, 15)][0] == utc(2027, 3, 15, 13)
    in_new_york = slots_by_local_date(result, "America/New_York")
    assert {day[0].strftime("%H:%M") for day in in_new_york.values()} == {"09:00"}


def test_new_york_hours_stay_local_across_november_2027_change_seen_in_tokyo():
    # US clocks go back on Sunday 7 November 2027: 09:00 EDT is 22:00 JST, 09:00 EST is 23:00 JST.
    q = query(tutor_zone="America/New_York", range_start=utc(2027, 11, 5, 12), range_end=utc(2027, 11, 9, 12),
              now=utc(2027, 11, 1))
    result = free_slots(q)
    assert result == naive_free_slots(q)
    by_new_york_date = slots_by_local_date(result, "America/New_York")
    tokyo = ZoneInfo("Asia/Tokyo")
    assert by_new_york_date[date(2027, 11, 6)][0].astimezone(tokyo).strftime("%H:%M") == "22:00"
    assert by_new_york_date[date(2027, 11, 8)][0].astimezone(tokyo).strftime("%H:%M") == "23:00"
    assert {day[0].strftime("%H:%M") for day in by_new_york_date.values()} == {"09:00"}


def test_window_starting_in_the_spring_forward_gap_starts_at_the_first_valid_instant():
    # 01:30 does not exist in London on 28 March 2027; the clock jumps from 01:00 GMT to 02:00 BST.
    q = query(tutor_zone="Europe/London", weekly=(WeeklyWindow(SUN, hm(1, 30), hm(3)),),
              range_start=utc(2027, 3, 27), range_end=utc(2027, 3, 29), duration_minutes=30,
              now=utc(2027, 3, 1))
    assert free_intervals(q) == [(utc(2027, 3, 28, 1), utc(2027, 3, 28, 2))]  # 02:00-03:00 BST
    assert free_slots(q) == [utc(2027, 3, 28, 1), utc(2027, 3, 28, 1, 15), utc(2027, 3, 28, 1, 30)]
    assert free_slots(q) == naive_free_slots(q)


def test_window_wholly_inside_the_spring_forward_gap_is_empty():
    q = query(tutor_zone="Europe/London", weekly=(WeeklyWindow(SUN, hm(1), hm(2)),),
              range_start=utc(2027, 3, 27), range_end=utc(2027, 3, 29), duration_minutes=15,
              now=utc(2027, 3, 1))
    assert free_slots(q) == []
    assert free_intervals(q) == []


def test_window_ending_in_the_spring_forward_gap_ends_when_the_clock_jumps():
    q = query(tutor_zone="Europe/London", weekly=(WeeklyWindow(SUN, hm(0), hm(1, 30)),),
              range_start=utc(2027, 3, 27), range_end=utc(2027, 3, 29), duration_minutes=60,
              now=utc(2027, 3, 1))
    assert free_intervals(q) == [(utc(2027, 3, 28, 0), utc(2027, 3, 28, 1))]


def test_ambiguous_fall_back_times_use_their_first_occurrence():
    # 01:30 happens twice in London on 31 October 2027: first as 00:30 UTC (BST), then 01:30 UTC (GMT).
    q = query(tutor_zone="Europe/London", weekly=(WeeklyWindow(SUN, hm(1, 30), hm(3)),),
              range_start=utc(2027, 10, 30), range_end=utc(2027, 11, 1), now=utc(2027, 10, 1))
    # 01:30 BST to 03:00 GMT: two and a half real hours for a wall-clock window of an hour and a half.
    assert free_intervals(q) == [(utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 3))]
    assert free_slots(q) == naive_free_slots(q)


def test_busy_time_given_in_local_time_across_the_fall_back_hour_is_compared_as_real_instants():
    # 7 November 2027, New York: 01:41 EDT (05:41 UTC) to the second 01:00, in EST (06:00 UTC). Both ends share one
    # ZoneInfo, so comparing them by wall clock (01:41 > 01:00) would call a 19-minute meeting reversed.
    busy = BusyInterval(datetime(2027, 11, 7, 1, 41, tzinfo=NEW_YORK), datetime(2027, 11, 7, 1, 0, fold=1, tzinfo=NEW_YORK))
    assert (busy.start, busy.end) == (utc(2027, 11, 7, 5, 41), utc(2027, 11, 7, 6))
    q = query(tutor_zone="America/New_York", weekly=every_day(hm(0), hm(3)), busy=(busy,), duration_minutes=15,
              range_start=utc(2027, 11, 7, 5), range_end=utc(2027, 11, 7, 7), now=utc(2027, 11, 1))
    free = free_slots(q)
    assert utc(2027, 11, 7, 5, 15) in free and utc(2027, 11, 7, 6) in free
    assert utc(2027, 11, 7, 5, 30) not in free and utc(2027, 11, 7, 5, 45) not in free  # the meeting, in real time
    assert free == naive_free_slots(q)


def test_lord_howe_half_hour_dst_keeps_local_hours():
    # Lord Howe Island moves by 30 minutes (+10:30 to +11:00) on Sunday 3 October 2027.
    q = query(tutor_zone="Australia/Lord_Howe", range_start=utc(2027, 10, 1, 12), range_end=utc(2027, 10, 5, 12),
              now=utc(2027, 9, 1))
    result = free_slots(q)
    assert result == naive_free_slots(q)
    local = slots_by_local_date(result, "Australia/Lord_Howe")
    assert {day[0].strftime("%H:%M") for day in local.values()} == {"09:00"}
    assert local[date(2027, 10, 2)][0].astimezone(UTC).strftime("%H:%M") == "22:30"
    assert local[date(2027, 10, 4)][0].astimezone(UTC).strftime("%H:%M") == "22:00"


# --------------------------------------------------------------------------- student zones


def test_kolkata_student_sees_half_hour_starts_grouped_by_their_own_date():
    # A New York tutor teaching 20:00-22:00 on Monday evening is Tuesday morning in Kolkata (+05:30).
    q = query(tutor_zone="America/New_York", weekly=(WeeklyWindow(MON, hm(20), hm(22)),),
              range_start=utc(2027, 6, 7), range_end=utc(2027, 6, 9))
    grouped = slots_by_local_date(free_slots(q), "Asia/Kolkata")
    assert list(grouped) == [date(2027, 6, 8)]
    assert [s.strftime("%H:%M") for s in grouped[date(2027, 6, 8)]] == ["05:30", "05:45", "06:00", "06:15", "06:30"]
    assert all(s.utcoffset() == timedelta(hours=5, minutes=30) for s in grouped[date(2027, 6, 8)])


def test_kathmandu_student_sees_quarter_to_starts():
    q = query(tutor_zone="Europe/London", weekly=(WeeklyWindow(MON, hm(9), hm(10, 30)),))
    grouped = slots_by_local_date(free_slots(q), "Asia/Kathmandu")
    # 09:00 BST is 08:00 UTC is 13:45 in Kathmandu (+05:45).
    assert [s.strftime("%H:%M") for s in grouped[JUNE_7]] == ["13:45", "14:00", "14:15"]


def test_a_day_of_slots_can_span_two_student_dates():
    q = query(weekly=(WeeklyWindow(MON, hm(17), hm(20)),))
    grouped = slots_by_local_date(free_slots(q), "Asia/Kathmandu")  # 17:00 UTC is 22:45 NPT
    assert list(grouped) == [date(2027, 6, 7), date(2027, 6, 8)]
    assert grouped[date(2027, 6, 7)][0].strftime("%H:%M") == "22:45"
    assert grouped[date(2027, 6, 8)][-1].strftime("%H:%M") == "00:45"


def test_slots_by_local_date_accepts_a_fixed_offset_for_clients_that_send_one():
    grouped = slots_by_local_date([utc(2027, 6, 7, 20)], timezone(timedelta(hours=5, minutes=30)))
    assert grouped == {date(2027, 6, 8): [utc(2027, 6, 7, 20)]}
    assert grouped[date(2027, 6, 8)][0].strftime("%H:%M") == "01:30"


def test_slots_by_local_date_refuses_unknown_zones_and_naive_slots():
    with pytest.raises(AvailabilityError, match="Unknown time zone: Mars/Olympus"):
        slots_by_local_date([utc(2027, 6, 7, 9)], "Mars/Olympus")
    with pytest.raises(AvailabilityError):
        slots_by_local_date([datetime(2027, 6, 7, 9)], "UTC")


# --------------------------------------------------------------------------- overrides


def test_day_off_override_removes_that_dates_weekly_hours():
    result = slots(overrides=(DateOverride(JUNE_7, None, None),), range_end=utc(2027, 6, 9))
    assert result and all(s.date() == date(2027, 6, 8) for s in result)


def test_override_hours_replace_the_weekly_hours_for_that_date_only():
    result = slots(overrides=(DateOverride(JUNE_7, hm(18), hm(19, 30)),), range_end=utc(2027, 6, 9))
    assert [s for s in result if s.date() == JUNE_7] == [utc(2027, 6, 7, 18), utc(2027, 6, 7, 18, 15), utc(2027, 6, 7, 18, 30)]
    assert [s for s in result if s.date() == date(2027, 6, 8)][0] == utc(2027, 6, 8, 9)


def test_several_override_rows_on_one_date_all_count():
    overrides = (DateOverride(JUNE_7, hm(8), hm(9)), DateOverride(JUNE_7, hm(20), hm(21)))
    assert slots(overrides=overrides) == [utc(2027, 6, 7, 8), utc(2027, 6, 7, 20)]


def test_override_opens_a_date_that_has_no_weekly_hours():
    weekly = (WeeklyWindow(TUE, hm(9), hm(17)),)
    assert slots(weekly=weekly, overrides=(DateOverride(JUNE_7, hm(10), hm(11)),)) == [utc(2027, 6, 7, 10)]


def test_override_dates_are_tutor_local_dates():
    # 7 June in Kolkata runs 18:30 UTC on 6 June to 18:30 UTC on 7 June.
    q = query(tutor_zone="Asia/Kolkata", weekly=(), overrides=(DateOverride(JUNE_7, hm(0), hm(1)),),
              range_start=utc(2027, 6, 6), range_end=utc(2027, 6, 8))
    assert free_slots(q) == [utc(2027, 6, 6, 18, 30)]


# --------------------------------------------------------------------------- notice, horizon, range


def test_minimum_notice_pushes_the_first_slot_to_the_next_quarter_hour():
    result = slots(now=utc(2027, 6, 7, 8, 50), min_notice_minutes=120)
    assert result[0] == utc(2027, 6, 7, 11)


def test_now_between_quarter_hours_rounds_up_to_the_grid():
    assert slots(now=datetime(2027, 6, 7, 9, 7, 30, tzinfo=UTC))[0] == utc(2027, 6, 7, 9, 15)


def test_slot_exactly_at_now_plus_notice_is_allowed():
    assert slots(now=utc(2027, 6, 7, 9), min_notice_minutes=60)[0] == utc(2027, 6, 7, 10)


def test_horizon_allows_starts_up_to_exactly_that_many_days_ahead():
    result = slots(now=utc(2027, 6, 7, 9), horizon_days=1, range_end=utc(2027, 6, 20))
    assert result[-1] == utc(2027, 6, 8, 9)


def test_zero_day_horizon_leaves_only_a_slot_starting_now():
    assert slots(now=utc(2027, 6, 7, 9), horizon_days=0) == [utc(2027, 6, 7, 9)]


def test_range_is_half_open_on_starts_but_slots_may_end_after_it():
    result = slots(range_start=utc(2027, 6, 7, 10, 10), range_end=utc(2027, 6, 7, 12))
    assert result == quarter_hours(utc(2027, 6, 7, 10, 15), utc(2027, 6, 7, 11, 45))


def test_nothing_is_offered_once_notice_passes_the_range_end():
    assert slots(now=utc(2027, 6, 7, 20)) == []


# --------------------------------------------------------------------------- busy time


def test_calendar_events_block_their_time():
    busy = (BusyInterval(utc(2027, 6, 7, 10), utc(2027, 6, 7, 11)),)
    result = slots(busy=busy, weekly=(WeeklyWindow(MON, hm(9), hm(12)),))
    assert result == [utc(2027, 6, 7, 9), utc(2027, 6, 7, 11)]


def test_a_slot_may_start_when_a_lesson_ends_and_end_when_the_next_begins():
    busy = (BusyInterval(utc(2027, 6, 7, 9), utc(2027, 6, 7, 10)), BusyInterval(utc(2027, 6, 7, 11), utc(2027, 6, 7, 12)))
    result = slots(busy=busy, weekly=(WeeklyWindow(MON, hm(9), hm(12)),))
    assert result == [utc(2027, 6, 7, 10)]


def test_overlapping_busy_intervals_block_their_union():
    busy = (BusyInterval(utc(2027, 6, 7, 10), utc(2027, 6, 7, 11)), BusyInterval(utc(2027, 6, 7, 10, 30), utc(2027, 6, 7, 12)))
    q = query(busy=busy, weekly=(WeeklyWindow(MON, hm(9), hm(13)),))
    assert free_intervals(q) == [(utc(2027, 6, 7, 9), utc(2027, 6, 7, 10)), (utc(2027, 6, 7, 12), utc(2027, 6, 7, 13))]
    assert slots(busy=busy, weekly=(WeeklyWindow(MON, hm(9), hm(13)),)) == [utc(2027, 6, 7, 9), utc(2027, 6, 7, 12)]


def test_busy_time_off_the_grid_pushes_the_next_slot_to_the_next_quarter_hour():
    busy = (BusyInterval(utc(2027, 6, 7, 9), utc(2027, 6, 7, 10, 5)),)
    assert slots(busy=busy, weekly=(WeeklyWindow(MON, hm(9), hm(11, 30)),)) == [utc(2027, 6, 7, 10, 15), utc(2027, 6, 7, 10, 30)]


def test_busy_intervals_in_any_zone_are_compared_as_instants():
    # 11:00-12:00 in New York (EDT) is 15:00-16:00 UTC.
    busy = (BusyInterval(datetime(2027, 6, 7, 11, tzinfo=NEW_YORK), datetime(2027, 6, 7, 12, tzinfo=NEW_YORK)),)
    result = slots(busy=busy, weekly=(WeeklyWindow(MON, hm(14), hm(17)),))
    assert result == [utc(2027, 6, 7, 14), utc(2027, 6, 7, 16)]


def test_busy_interval_covering_several_days_blocks_them_all():
    busy = (BusyInterval(utc(2027, 6, 6, 12), utc(2027, 6, 9, 12)),)
    assert slots(busy=busy, range_end=utc(2027, 6, 10))[0] == utc(2027, 6, 9, 12)


def test_zero_length_busy_interval_blocks_nothing():
    busy = (BusyInterval(utc(2027, 6, 7, 10, 30), utc(2027, 6, 7, 10, 30)),)
    assert slots(busy=busy) == slots()


# --------------------------------------------------------------------------- travel buffers


HOME = Coordinates(51.5074, -0.1278)
ELSEWHERE = Coordinates(51.4613, -0.3037)


@dataclass(frozen=True)
class OneWayStreets:
    """An estimator whose answer depends on direction, to prove which leg each buffer uses."""

    to_elsewhere: int = 20
    from_elsewhere: int = 35

    def minutes(self, origin: Coordinates, destination: Coordinates) -> int:
        return self.to_elsewhere if destination == ELSEWHERE else self.from_elsewhere


def in_person_lesson(start: datetime, end: datetime, location: Coordinates | None = ELSEWHERE) -> BusyInterval:
    return BusyInterval(start, end, in_person=True, location=location)


def test_in_person_request_next_to_in_person_lesson_uses_estimated_travel_each_way():
    busy = (in_person_lesson(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    q = query(busy=busy, in_person=True, location=HOME, estimator=OneWayStreets(), default_buffer_minutes=5,
              weekly=(WeeklyWindow(MON, hm(9), hm(17)),))
    # Travel there (20 min) must fit before 12:00; travel back (35 min) after 13:00.
    assert free_intervals(q) == [(utc(2027, 6, 7, 9), utc(2027, 6, 7, 11, 40)), (utc(2027, 6, 7, 13, 35), utc(2027, 6, 7, 17))]
    result = free_slots(q)
    assert result == naive_free_slots(q)
    assert utc(2027, 6, 7, 10, 30) in result and utc(2027, 6, 7, 10, 45) not in result
    assert utc(2027, 6, 7, 13, 30) not in result and utc(2027, 6, 7, 13, 45) in result


def test_straight_line_estimator_buffers_an_in_person_request():
    estimator = StraightLineEstimator()
    travel = estimator.minutes(HOME, ELSEWHERE)
    busy = (in_person_lesson(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    q = query(busy=busy, in_person=True, location=HOME, estimator=estimator)
    free = free_intervals(q)
    assert free[0][1] == utc(2027, 6, 7, 12) - timedelta(minutes=travel)
    assert free[1][0] == utc(2027, 6, 7, 13) + timedelta(minutes=travel)


def test_unknown_coordinates_fall_back_to_the_default_buffer():
    busy = (in_person_lesson(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13), location=None),)
    q = query(busy=busy, in_person=True, location=HOME, estimator=OneWayStreets(), default_buffer_minutes=15)
    assert free_intervals(q)[0][1] == utc(2027, 6, 7, 11, 45)
    assert free_intervals(q)[1][0] == utc(2027, 6, 7, 13, 15)


def test_no_estimator_falls_back_to_the_default_buffer():
    busy = (in_person_lesson(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    q = query(busy=busy, in_person=True, location=HOME, default_buffer_minutes=30)
    assert free_intervals(q)[0][1] == utc(2027, 6, 7, 11, 30)


def test_online_request_next_to_online_lesson_gets_no_buffer():
    busy = (BusyInterval(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    result = slots(busy=busy, default_buffer_minutes=30, estimator=OneWayStreets())
    assert utc(2027, 6, 7, 11) in result and utc(2027, 6, 7, 13) in result


def test_online_request_next_to_in_person_lesson_gets_the_default_buffer():
    busy = (in_person_lesson(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    result = slots(busy=busy, default_buffer_minutes=30, estimator=OneWayStreets())
    assert utc(2027, 6, 7, 10, 30) in result and utc(2027, 6, 7, 10, 45) not in result
    assert utc(2027, 6, 7, 13, 15) not in result and utc(2027, 6, 7, 13, 30) in result


def test_in_person_request_next_to_calendar_event_gets_the_default_buffer():
    busy = (BusyInterval(utc(2027, 6, 7, 12), utc(2027, 6, 7, 13)),)
    result = slots(busy=busy, in_person=True, location=HOME, estimator=OneWayStreets(), default_buffer_minutes=15)
    assert utc(2027, 6, 7, 10, 45) in result and utc(2027, 6, 7, 11) not in result
    assert utc(2027, 6, 7, 13) not in result and utc(2027, 6, 7, 13, 15) in result


# --------------------------------------------------------------------------- invalid input


@pytest.mark.parametrize("minutes", [0, 10, 50, 135, 150, -60, 60.0, True])
def test_duration_outside_15_to_120_in_quarter_hours_is_refused(minutes):
    with pytest.raises(AvailabilityError, match="Lesson length"):
        free_slots(query(duration_minutes=minutes))


@pytest.mark.parametrize("minutes", [15, 45, 90, 120])
def test_durations_from_15_to_120_in_quarter_hours_are_accepted(minutes):
    assert free_slots(query(duration_minutes=minutes))


def test_unknown_time_zone_is_refused_by_name():
    with pytest.raises(AvailabilityError, match="^Unknown time zone: Mars/Olympus$"):
        free_slots(query(tutor_zone="Mars/Olympus"))
    with pytest.raises(AvailabilityError, match="Unknown time zone"):
        free_slots(query(tutor_zone="../../etc/passwd"))


@pytest.mark.parametrize("field", ["range_start", "range_end", "now"])
def test_naive_datetimes_are_refused(field):
    with pytest.raises(AvailabilityError, match="timezone-aware"):
        free_slots(query(**{field: datetime(2027, 6, 7, 12)}))


def test_naive_busy_interval_is_refused():
    with pytest.raises(AvailabilityError, match="timezone-aware"):
        BusyInterval(datetime(2027, 6, 7, 10), utc(2027, 6, 7, 11))


def test_busy_interval_ending_before_it_starts_is_refused():
    with pytest.raises(AvailabilityError):
        BusyInterval(utc(2027, 6, 7, 11), utc(2027, 6, 7, 10))


@pytest.mark.parametrize("end", [utc(2027, 6, 7), utc(2027, 6, 6)])
def test_range_that_ends_at_or_before_its_start_is_refused(end):
    with pytest.raises(AvailabilityError, match="range_end"):
        free_slots(query(range_end=end))


@pytest.mark.parametrize("field", ["min_notice_minutes", "horizon_days", "default_buffer_minutes"])
def test_negative_notice_horizon_or_buffer_is_refused(field):
    with pytest.raises(AvailabilityError, match=field):
        query(**{field: -1})


def test_availability_error_is_a_value_error():
    assert issubclass(AvailabilityError, ValueError)


@pytest.mark.parametrize(
    "args, message",
    [
        ((7, 0, 60), "weekday"),
        ((0, 60, 60), "before"),
        ((0, 120, 60), "before"),
        ((0, 10, 60), "multiple of 15"),
        ((0, 0, 1455), "between 0 and 1440"),
        ((0, -15, 60), "between 0 and 1440"),
    ],
)
def test_invalid_weekly_windows_are_refused_with_a_clear_message(args, message):
    with pytest.raises(ValueError, match=message):
        WeeklyWindow(*args)


def test_override_needs_both_times_or_neither():
    with pytest.raises(ValueError, match="both"):
        DateOverride(JUNE_7, hm(9), None)
    with pytest.raises(ValueError, match="multiple of 15"):
        DateOverride(JUNE_7, hm(9), hm(9, 20))
    assert DateOverride(JUNE_7, None, None).is_day_off


def test_busy_time_read_from_storage_is_the_same_interval_and_an_inverted_one_blocks_nothing():
    start = datetime(2027, 3, 1, 10, tzinfo=UTC)
    stored = BusyInterval.from_storage(start, start + timedelta(hours=1), True, None)
    assert stored == BusyInterval(start, start + timedelta(hours=1), True, None)
    assert BusyInterval.from_storage(start, start - timedelta(hours=1)).end == start


def test_grouping_by_the_viewers_local_date_keeps_utc_starts_and_agrees_with_the_converted_grouping():
    # New York's clocks go forward on 14 March 2027: a day of 23 hours, seen from Tokyo and from New York.
    q = query(tutor_zone="America/New_York", range_start=utc(2027, 3, 12), range_end=utc(2027, 3, 17),
              now=utc(2027, 3, 1))
    result = free_slots(q)
    for zone in ("Asia/Tokyo", "America/New_York", NEW_YORK):
        grouped = utc_slots_by_local_date(list(reversed(result)), zone)
        converted = slots_by_local_date(result, zone)
        assert list(grouped) == list(converted)  # the same local days, in date order
        for day, starts in grouped.items():
            assert all(s.tzinfo == UTC for s in starts) and starts == sorted(starts)
            assert starts == converted[day]  # the same instants, only not yet converted
        assert sum(len(starts) for starts in grouped.values()) == len(result)
