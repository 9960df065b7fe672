"""Server-side SVG charts, returned as Jinja-safe markup. No JavaScript, no inline styles.

A chart is a ``<figure class="chart">`` holding two SVGs of the same pixel height side by
side: a narrow one with the value axis labels, and the plot. The plot has no viewBox: x
positions are percentages of its width and y positions are pixels, so the chart stretches
to any width while text stays at its real size (readable at 390 px as at 1400 px). The
line of a line chart sits in a nested SVG whose viewBox is stretched
(``preserveAspectRatio="none"``) with ``vector-effect="non-scaling-stroke"``.

Colours come only from CSS classes (static/css/dashboard.css maps them to the design
tokens of app.css), so both themes work; the Content-Security-Policy forbids ``style=``.
Every text and attribute value passes through :func:`markupsafe.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

HEIGHT = 200  # px, both SVGs
TOP = 14  # room above the highest grid line for its label
PLOT = 150  # px between the highest grid line and the baseline
BASELINE = TOP + PLOT
TICKS = 4  # grid lines above the baseline
CHAR_PX = 7  # width of one value-axis digit at the label size, rounded up


@dataclass(frozen=True, slots=True)
class Segment:
    value: int
    css: str  # class of the rect: "bar-critical"...
    label: str  # for the tooltip: "critical"


@dataclass(frozen=True, slots=True)
class Bar:
    tooltip: str  # "Tue 4 Mar, 14:00 to 15:00 UTC"
    segments: tuple[Segment, ...]
    label: str = ""  # under the axis; "" for none
    minor: bool = False  # a label hidden on narrow screens

    @property
    def total(self) -> int:
        return sum(s.value for s in self.segments)


@dataclass(frozen=True, slots=True)
class Point:
    tooltip: str
    value: int
    label: str = ""
    minor: bool = False


@dataclass(frozen=True, slots=True)
class Series:
    css: str
    label: str


def nice_scale(highest: float) -> tuple[int, int]:
    """(top, step): ``TICKS`` steps of 1, 2 or 5 x 10^k that reach at least ``highest``."""
    if highest <= 0:
        return TICKS, 1
    raw = highest / TICKS
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(1, math.ceil(step))
    return step * TICKS, step


def format_count(value: int) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k".replace(".0k", "k")
    return str(value)


def _attrs(attrs: Mapping[str, object]) -> str:
    # Plain string building: Markup.format costs ~10 us per call, and a month's chart has
    # a few thousand attributes (it was most of the dashboard's rendering time).
    return "".join(f' {escape(k)}="{escape(v)}"' for k, v in attrs.items())


_TAGS = frozenset({"svg", "g", "rect", "line", "polyline", "polygon", "circle", "text", "title", "figure",
                   "div", "ul", "li"})


def el(tag: str, attrs: Mapping[str, object], *children: Markup | str) -> Markup:
    """One element; attribute values and text children are escaped (Markup children are not)."""
    if tag not in _TAGS:
        raise ValueError(f"not a chart element: {tag!r}")
    # Safe to mark: the tag is one of _TAGS, attribute names and values and text children
    # are escaped above and in _attrs, and Markup children are markup already.
    attributes = _attrs(attrs)
    if not children:
        return Markup(f"<{tag}{attributes}/>")  # noqa: S704
    inner = "".join(c if isinstance(c, Markup) else escape(c) for c in children)
    return Markup(f"<{tag}{attributes}>{inner}</{tag}>")  # noqa: S704


def _pct(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "%"


def _y(value: float, top: int) -> float:
    return round(BASELINE - PLOT * value / top, 2)


def _value_axis(top: int, step: int) -> Markup:
    labels = [format_count(step * i) for i in range(TICKS + 1)]
    width = CHAR_PX * max(len(x) for x in labels) + 8
    texts = [el("text", {"x": width - 6, "y": _y(step * i, top) + 4, "text-anchor": "end",
                         "class": "chart-label"}, labels[i]) for i in range(TICKS + 1)]
    return el("svg", {"class": "chart-axis", "width": width, "height": HEIGHT, "aria-hidden": "true"}, *texts)


def _grid(top: int, step: int) -> list[Markup]:
    return [el("line", {"x1": 0, "x2": "100%", "y1": _y(step * i, top), "y2": _y(step * i, top),
                        "class": "chart-grid" if i else "chart-baseline"}) for i in range(TICKS + 1)]


def _category_labels(items: Sequence[Bar | Point]) -> list[Markup]:
    slot = 100 / max(1, len(items))
    return [el("text", {"x": _pct((i + 0.5) * slot), "y": HEIGHT - 12, "text-anchor": "middle",
                        "class": "chart-label is-minor" if item.minor else "chart-label"}, item.label)
            for i, item in enumerate(items) if item.label]


def _empty_note(message: str) -> Markup:
    return el("text", {"x": "50%", "y": TOP + PLOT / 2, "text-anchor": "middle", "class": "chart-empty"},
              message)


def _figure(caption: str, summary: str, top: int, step: int, plot: Iterable[Markup],
            legend: Sequence[Series]) -> Markup:
    svg = el("svg", {"class": "chart-plot", "width": "100%", "height": HEIGHT, "role": "img",
                     "aria-label": f"{caption}: {summary}"}, el("title", {}, caption), *plot)
    body = el("div", {"class": "chart-body"}, _value_axis(top, step), svg)
    swatch = {"class": "chart-swatch", "width": 10, "height": 10, "aria-hidden": "true"}
    items = [el("li", {}, el("svg", swatch, el("rect", {"class": s.css, "width": 10, "height": 10, "rx": 2})),
                s.label) for s in legend]
    parts = [body]
    if items:
        parts.append(el("ul", {"class": "chart-legend"}, *items))
    return el("figure", {"class": "chart"}, *parts)


def bar_chart(bars: Sequence[Bar], *, caption: str, legend: Sequence[Series], empty: str) -> Markup:
    """Stacked bars, one per category, segments bottom-up in the order given."""
    top, step = nice_scale(max((b.total for b in bars), default=0))
    slot = 100 / max(1, len(bars))
    width = slot * (0.72 if len(bars) > 12 else 0.6)
    plot = _grid(top, step)
    for i, bar in enumerate(bars):
        x, level, rects = _pct(i * slot + (slot - width) / 2), 0, []
        for seg in bar.segments:
            if seg.value <= 0:
                continue
            y0, y1 = _y(level, top), _y(level + seg.value, top)
            rects.append(el("rect", {"x": x, "width": _pct(width), "y": y1, "height": round(y0 - y1, 2),
                                     "class": seg.css}))
            level += seg.value
        if rects:
            detail = ", ".join(f"{s.value} {s.label}" for s in bar.segments if s.value > 0)
            plot.append(el("g", {"class": "chart-bar"}, el("title", {}, f"{bar.tooltip}: {detail}"), *rects))
    plot += _category_labels(bars)
    total = sum(b.total for b in bars)
    if not total:
        plot.append(_empty_note(empty))
    return _figure(caption, f"{total} in total", top, step, plot, legend)


def line_chart(points: Sequence[Point], *, caption: str, series: Series, empty: str) -> Markup:
    """One series as a line over a light area, with a dot (and tooltip) per point."""
    top, step = nice_scale(max((p.value for p in points), default=0))
    n = max(1, len(points))
    plot = _grid(top, step)
    coords = [(i + 0.5, round(PLOT * (1 - p.value / top), 2)) for i, p in enumerate(points)]
    if coords:
        line = " ".join(f"{x},{y}" for x, y in coords)
        area = f"{coords[0][0]},{PLOT} {line} {coords[-1][0]},{PLOT}"
        plot.append(el("svg", {"x": 0, "y": TOP, "width": "100%", "height": PLOT,
                               "viewBox": f"0 0 {n} {PLOT}", "preserveAspectRatio": "none",
                               "class": series.css, "aria-hidden": "true"},
                       el("polygon", {"points": area, "class": "chart-area"}),
                       el("polyline", {"points": line, "class": "chart-line",
                                       "vector-effect": "non-scaling-stroke"})))
    for i, p in enumerate(points):
        if p.value == 0 and n > 14:  # a row of dots on the baseline is noise, not information
            continue
        plot.append(el("circle", {"cx": _pct((i + 0.5) * 100 / n), "cy": _y(p.value, top), "r": 3,
                                  "class": f"chart-dot {series.css}"},
                       el("title", {}, f"{p.tooltip}: {p.value} {series.label}")))
    plot += _category_labels(points)
    total = sum(p.value for p in points)
    if not total:
        plot.append(_empty_note(empty))
    return _figure(caption, f"{total} in total", top, step, plot, [series])
