"""Server-side SVG for uptime: latency sparklines, 90-day uptime bars, and badges.

Elements come from :func:`signalcraft.web.charts.el` (every value escaped). Sparklines and
bars are drawn inside pages, so their colours are CSS classes (static/css/uptime.css): the
Content-Security-Policy forbids ``style=``. A badge is a standalone image (embedded in
READMEs and wikis, where our CSS does not apply), so it carries its colours as presentation
attributes (``fill=``), which the policy allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from markupsafe import Markup, escape

from signalcraft.uptime.stats import DayBar, format_percent
from signalcraft.web.charts import el

SPARK_W, SPARK_H = 120, 24
BAR_W, BAR_GAP, BAR_H = 6, 2, 28
BADGE_COLOURS = {"up": "#2e7d32", "down": "#c62828", "pending": "#6b7280", "paused": "#6b7280"}
_CHAR_PX = 6.6  # Verdana 11px, average advance: badges need no font metrics to look right


def sparkline(values: Sequence[int | None], *, label: str) -> Markup:
    """A line of recent latencies (None: no data that hour). Built as text, not with
    :func:`~signalcraft.web.charts.el`: the list page draws a thousand of them, and every value
    but the (escaped) label is a number this function formatted itself. Cached: the data
    changes once an hour."""
    return _sparkline(tuple(values), label)


@lru_cache(maxsize=8192)
def _sparkline(values: tuple[int | None, ...], label: str) -> Markup:
    known = [v for v in values if v is not None]
    if not known:
        return Markup(
            '<svg class="spark is-empty" width="{0}" height="{1}" role="img" aria-label="{2}: no data">'
            "<title>{2}: no data</title></svg>"
        ).format(SPARK_W, SPARK_H, label)
    top = max(known) or 1
    step = SPARK_W / max(1, len(values) - 1)
    runs: list[list[str]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(f"{i * step:.1f},{SPARK_H - 2 - (SPARK_H - 4) * value / top:.1f}")
    shapes = "".join(
        f'<polyline class="spark-line" fill="none" points="{" ".join(run)}"/>'
        if len(run) > 1
        else '<circle class="spark-dot" r="1.5" cx="{}" cy="{}"/>'.format(*run[0].split(","))
        for run in runs
        if run
    )
    summary = escape(f"{label}: latest {known[-1]} ms, highest {top} ms")
    return Markup(  # noqa: S704 (numbers formatted just above; the label is escaped)
        f'<svg class="spark" width="{SPARK_W}" height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}"'
        f' role="img" aria-label="{summary}"><title>{summary}</title>{shapes}</svg>'
    )


def bar_class(percent: float | None) -> str:
    if percent is None:
        return "ubar-none"
    if percent >= 99.9:
        return "ubar-up"
    if percent >= 95.0:
        return "ubar-degraded"
    return "ubar-down"


def uptime_bars(bars: Sequence[DayBar], *, label: str) -> Markup:
    """One bar per day, oldest first; each has a tooltip with the date and uptime."""
    width = len(bars) * (BAR_W + BAR_GAP) - BAR_GAP
    rects = [
        el(
            "rect",
            {
                "x": i * (BAR_W + BAR_GAP),
                "y": 0,
                "width": BAR_W,
                "height": BAR_H,
                "rx": 1.5,
                "class": bar_class(bar.percent),
            },
            el("title", {}, f"{bar.day.isoformat()}: {_day_text(bar)}"),
        )
        for i, bar in enumerate(bars)
    ]
    return el(
        "svg",
        {
            "class": "ubars",
            "viewBox": f"0 0 {width} {BAR_H}",
            "preserveAspectRatio": "none",
            "role": "img",
            "aria-label": f"{label}: uptime per day, last {len(bars)} days",
        },
        *rects,
    )


def _day_text(bar: DayBar) -> str:
    if bar.percent is None:
        return "no data"
    down = round(bar.tally.down / 60)
    return f"{format_percent(bar.percent)} up" + (f", down {down} min" if down else "")


def _text_width(text: str) -> int:
    return int(len(text) * _CHAR_PX) + 12


def badge(label: str, value: str, colour: str) -> str:
    """A shields.io-style flat badge as a standalone SVG document."""
    left, right = _text_width(label), _text_width(value)
    total = left + right
    texts = [
        el("text", {"x": left / 2, "y": 14, "fill": "#fff", "text-anchor": "middle"}, label),
        el("text", {"x": left + right / 2, "y": 14, "fill": "#fff", "text-anchor": "middle"}, value),
    ]
    body = el(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "width": total,
            "height": 20,
            "role": "img",
            "aria-label": f"{label}: {value}",
        },
        el("title", {}, f"{label}: {value}"),
        el("rect", {"width": left, "height": 20, "fill": "#555"}),
        el("rect", {"x": left, "width": right, "height": 20, "fill": colour}),
        el("g", {"font-family": "Verdana,DejaVu Sans,sans-serif", "font-size": 11}, *texts),
    )
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + str(body)
