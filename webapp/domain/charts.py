"""Server-rendered SVG bar charts: a pure function from labelled numbers to SVG text (no script, no inline style, so
the Content-Security-Policy needs nothing; colours come from classes in app.css).

Each bar carries its value in ``data-value`` and as visible text (past ten bars, zeros are left unwritten and only
every n-th label is shown, so nothing overlaps)."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    """One bar: its label under the axis, its value, and how the value is written on it."""

    label: str
    value: int
    text: str | None = None


def bar_chart(title: str, bars: list[Bar], *, chart_id: str, width: int = 640, height: int = 220) -> str:
    """An SVG bar chart of non-negative values, bars left to right, scaled to the largest."""
    top, bottom, side = 24, 36, 8
    plot_h = height - top - bottom
    count = max(len(bars), 1)
    slot = (width - 2 * side) / count
    peak = max((b.value for b in bars), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" role="img" '
             f'viewBox="0 0 {width} {height}" aria-labelledby="{escape(chart_id)}-title">',
             f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
             f'<line class="chart-axis" x1="{side}" y1="{top + plot_h}" x2="{width - side}" y2="{top + plot_h}"/>']
    if not bars:
        parts.append(f'<text class="chart-empty" x="{width / 2:.1f}" y="{top + plot_h / 2:.1f}" '
                     'text-anchor="middle">Nothing in this range</text>')
    # Past ten bars, label every n-th under the axis so the labels never overlap (each bar still has its value).
    label_every = max(1, -(-len(bars) // 10))
    for i, bar in enumerate(bars):
        if bar.value < 0:
            raise ValueError(f"bar values are not negative: {bar.label}={bar.value}")
        h = plot_h * bar.value / peak
        x = side + i * slot + slot * 0.15
        w = slot * 0.7
        y = top + plot_h - h
        text = escape(bar.text if bar.text is not None else str(bar.value))
        parts.append(f'<g class="chart-bar" data-label="{escape(bar.label)}" data-value="{bar.value}">'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"/>'
                     + (f'<text class="chart-value" x="{x + w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{text}</text>'
                        if bar.value or len(bars) <= 10 else "")  # many bars: zeros stay unwritten, to fit
                     + (f'<text class="chart-label" x="{x + w / 2:.1f}" y="{top + plot_h + 18:.1f}" '
                        f'text-anchor="middle">{escape(bar.label)}</text>' if i % label_every == 0 else "")
                     + "</g>")
    parts.append("</svg>")
    return "".join(parts)
