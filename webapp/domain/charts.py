"""Server-rendered SVG bar charts: a pure function from labelled numbers to SVG text (no script, no inline style, so
the Content-Security-Policy needs nothing; colours come from classes in app.css).

Each bar carries its value in ``data-value``, and as visible text wherever it fits (past ten bars zeros are left
unwritten; where values would run into each other the biggest are written), and labels are thinned so none touch."""
from __future__ import annotations

from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Bar:
    """One bar: its label under the axis, its value, and how the value is written on it."""

    label: str
    value: int
    text: str | None = None


# Text sizes in the chart's own units (app.css sets the same), and how wide a character is drawn at most, on
# average, in the sans-serif fonts pages use: enough to keep one text from running into the next.
VALUE_FONT, LABEL_FONT, CHAR_WIDTH = 14, 13, 0.6


def _text_width(text: str, font: int) -> float:
    return len(text) * font * CHAR_WIDTH


def bar_chart(title: str, bars: list[Bar], *, chart_id: str, width: int = 420, height: int = 220) -> str:
    """An SVG bar chart of non-negative values, bars left to right, scaled to the largest.

    The default size reads at phone width (about 330 px: text stays over 10 px) and on a desktop card alike.
    Values are written biggest first wherever they do not run into one already written (so the peaks always
    are), kept inside the chart; labels under the axis are thinned to every n-th so they never touch."""
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
    for bar in bars:
        if bar.value < 0:
            raise ValueError(f"bar values are not negative: {bar.label}={bar.value}")
    texts = [bar.text if bar.text is not None else str(bar.value) for bar in bars]
    centres = [side + (i + 0.5) * slot for i in range(len(bars))]
    # Where each value is written (its centre), or None: biggest first, never overlapping another, never cut off.
    placed: list[tuple[float, float]] = []
    value_at: dict[int, float] = {}
    for i in sorted(range(len(bars)), key=lambda i: (-bars[i].value, i)):
        if bars[i].value == 0 and len(bars) > 10:
            continue  # many bars: zeros stay unwritten
        half = _text_width(texts[i], VALUE_FONT) / 2
        x = min(max(centres[i], side + half), width - side - half)
        if all(x + half + 4 <= left or x - half - 4 >= right for left, right in placed):
            placed.append((x - half, x + half))
            value_at[i] = x
    widest = max((_text_width(b.label, LABEL_FONT) for b in bars), default=0)
    label_every = max(1, int(-(-(widest + 6) // slot)))  # ceil: a label and a gap fit in n slots
    # Labels every n-th bar counted from the last (the latest day is always labelled), placed right to left so one
    # pulled inside the edge never runs into its neighbour.
    label_at: dict[int, float] = {}
    label_left = float("inf")
    for i in range(len(bars) - 1, -1, -1):
        half = _text_width(bars[i].label, LABEL_FONT) / 2
        lx = min(max(centres[i], side + half), width - side - half)
        if (len(bars) - 1 - i) % label_every == 0 and lx + half + 6 <= label_left:
            label_at[i] = lx
            label_left = lx - half
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / peak
        w = slot * 0.7
        x = centres[i] - w / 2
        y = top + plot_h - h
        label = (f'<text class="chart-label" x="{label_at[i]:.1f}" y="{top + plot_h + 18:.1f}" '
                 f'text-anchor="middle">{escape(bar.label)}</text>') if i in label_at else ""
        parts.append(f'<g class="chart-bar" data-label="{escape(bar.label)}" data-value="{bar.value}">'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"/>'
                     + (f'<text class="chart-value" x="{value_at[i]:.1f}" y="{y - 4:.1f}" '
                        f'text-anchor="middle">{escape(texts[i])}</text>' if i in value_at else "")
                     + label + "</g>")
    parts.append("</svg>")
    return "".join(parts)
