"""Server-rendered SVG charts (domain/charts.py): values written on the bars, text escaped, no inline style."""
import pytest

from webapp.domain.charts import Bar, bar_chart


def test_each_bar_carries_its_value_and_the_tallest_fills_the_plot():
    svg = bar_chart("Bookings", [Bar("01 Mar", 2), Bar("02 Mar", 4, "four")], chart_id="c")
    assert svg.count('class="chart-bar"') == 2 and 'data-value="4"' in svg and ">four</text>" in svg
    assert 'height="160.0"' in svg  # 220 − 24 − 36: the peak bar is the whole plot height
    assert "style=" not in svg and "<script" not in svg


def test_labels_are_escaped_and_negative_values_refused():
    assert "&lt;b&gt;" in bar_chart("t", [Bar("<b>", 1)], chart_id="c")
    with pytest.raises(ValueError):
        bar_chart("t", [Bar("x", -1)], chart_id="c")
    assert "Nothing in this range" in bar_chart("t", [], chart_id="c")


def test_offered_hours_follow_the_tutors_zone_and_overrides_and_clip_to_the_range():
    from datetime import UTC, date, datetime

    from webapp.domain.availability import DateOverride, WeeklyWindow, offered_minutes
    weekly = [WeeklyWindow(weekday, 9 * 60, 12 * 60) for weekday in range(7)]  # 09:00-12:00 every day
    week = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 8, tzinfo=UTC))
    assert offered_minutes("Europe/London", weekly, [], *week) == 7 * 180
    day_off = [DateOverride(date(2027, 3, 3), None, None)]
    assert offered_minutes("Europe/London", weekly, day_off, *week) == 6 * 180
    half = (datetime(2027, 3, 1, 10, tzinfo=UTC), datetime(2027, 3, 1, 11, tzinfo=UTC))
    assert offered_minutes("Europe/London", weekly, [], *half) == 60
