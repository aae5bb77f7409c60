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


def _values(svg: str) -> list[tuple[float, str]]:
    import re
    return [(float(x), t) for x, t in re.findall(r'<text class="chart-value" x="([\d.]+)"[^>]*>([^<]*)</text>', svg)]


def test_values_that_would_run_into_each_other_write_the_biggest_and_none_is_cut_off():
    from webapp.domain.charts import CHAR_WIDTH, VALUE_FONT
    bars = [Bar(f"{d:02d} Mar", v, f"£{v}.00") for d, v in enumerate([120, 119, 0, 45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 80],
                                                                      1)]
    svg = bar_chart("Revenue", bars, chart_id="c", width=420)
    written = _values(svg)
    assert "£120.00" in dict((t, x) for x, t in written) and "£80.00" in [t for _, t in written]
    assert "£119.00" not in [t for _, t in written]  # beside the peak, it would overlap: its data-value stays
    assert 'data-value="119"' in svg
    spans = sorted((x - len(t) * VALUE_FONT * CHAR_WIDTH / 2, x + len(t) * VALUE_FONT * CHAR_WIDTH / 2)
                   for x, t in written)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # no two values overlap
    assert spans[0][0] >= 0 and spans[-1][1] <= 420  # the last day's value is inside the chart, not cut off


def test_labels_are_thinned_so_they_never_touch():
    import re
    svg = bar_chart("Days", [Bar(f"{d:02d} Mar", 1) for d in range(1, 32)], chart_id="c", width=420)
    xs = [float(x) for x in re.findall(r'<text class="chart-label" x="([\d.]+)"', svg)]
    assert 3 <= len(xs) < 31 and all(b - a >= 6 * 13 * 0.6 for a, b in zip(xs, xs[1:]))
    assert ">31 Mar</text>" in svg  # the latest day is always labelled
