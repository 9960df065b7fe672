"""What the schedule pages show, computed without I/O: the timeline (one row per layer, the
overrides, and the final "who is paged" row, as SVG percentages), and the schedule editor's
form <-> layer documents (see :mod:`signalcraft.oncall.store` for the document)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from signalcraft.oncall import store
from signalcraft.oncall.schedule import Schedule, Shift, shifts
from signalcraft.web.routing_forms import FormData

ROTATIONS = {  # form choice -> (unit, fixed count or None for "every N")
    "daily": ("days", 1),
    "weekly": ("weeks", 1),
    "hours": ("hours", None),
    "days": ("days", None),
    "weeks": ("weeks", None),
}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
PALETTE = 8  # CSS classes p0..p7 in static/css/schedules.css
LABEL_EVERY_DAY_UP_TO = 15 * 86400.0  # seconds of timeline whose days are all labelled
# A name is written inside its bar only where it fits: at the chart's narrowest (its CSS
# min-width, a phone) with the bold 11px label font, about this many pixels a character plus
# the padding. static/js/schedules.js measures the real widths and adjusts on wider screens.
NARROWEST_CHART_PX = 640
LABEL_CHAR_PX = 7.0
LABEL_PADDING_PX = 8
LAYER_FIELDS = (
    "name",
    "rotation",
    "every",
    "start_date",
    "handoff",
    "timezone",
    "participants",
    "restrict_days",
    "restrict_start",
    "restrict_end",
)


# --- timeline ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    x: float  # percent of the width
    width: float
    label: str  # the name as it fits the bar on the narrowest chart: in full, initials, or ""
    title: str  # the tooltip: who, from, to
    css: str
    name: str = ""  # the name in full
    short: str = ""  # its initials, for a bar too short for the name


@dataclass(frozen=True, slots=True)
class Person:
    """A legend entry: a person's name and colour class."""

    name: str
    css: str


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    bars: list[Bar]
    css: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str
    weekend: bool


@dataclass(frozen=True, slots=True)
class Timeline:
    start: float
    end: float
    ticks: list[Tick]
    rows: list[Row]
    now_x: float | None
    people: list[Person] = field(default_factory=list)


def _local(epoch: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(epoch, zone).strftime("%a %d %b %H:%M")


def initials(name: str) -> str:
    """``"Ana Lima"`` -> ``"AL"``, ``"owner"`` -> ``"O"``: what fits a short bar."""
    words = re.split(r"[\s._@-]+", name.strip())
    return "".join(w[0] for w in words if w)[:2].upper()


def fitting_label(name: str, width_percent: float) -> str:
    """The name, its initials, or "" — the longest that fits a bar of that width on the
    narrowest chart."""
    room = width_percent / 100 * NARROWEST_CHART_PX - LABEL_PADDING_PX
    for label in (name, initials(name)):
        if len(label) * LABEL_CHAR_PX <= room:
            return label
    return ""


def _bars(
    found: Sequence[Shift],
    start: float,
    end: float,
    names: Mapping[int, str],
    colour: Mapping[int, int],
    zone: ZoneInfo,
    css: str = "",
) -> list[Bar]:
    span = end - start
    bars = []
    for s in found:
        name, width = names.get(s.user_id, f"user {s.user_id}"), round((s.end - s.start) / span * 100, 3)
        bars.append(
            Bar(
                round((s.start - start) / span * 100, 3),
                width,
                fitting_label(name, width),
                f"{name}: {_local(s.start, zone)} to {_local(s.end, zone)}",
                f"p{colour.get(s.user_id, 0) % PALETTE}{' ' + css if css else ''}",
                name,
                initials(name),
            )
        )
    return bars


def timeline(schedule: Schedule, start: float, end: float, names: Mapping[int, str], now: float) -> Timeline:
    """Rows: each layer (labelled by name), the overrides, then the final rotation."""
    zone = ZoneInfo(schedule.timezone)
    layer_rows = store.layer_shifts(schedule, start, end)
    people = [u for layer in schedule.layers for u in layer.participants] + [
        o.user_id for o in schedule.overrides
    ]
    colour = {u: i for i, u in enumerate(dict.fromkeys(people))}
    overrides = [
        Shift(max(o.start, start), min(o.end, end), o.user_id, f"override:{o.id}")
        for o in schedule.overrides
        if o.end > start and o.start < end
    ]
    rows = [
        Row(f"Layer {i + 1}", _bars(found, start, end, names, colour, zone))
        for i, found in enumerate(layer_rows)
    ]
    rows.append(Row("Overrides", _bars(overrides, start, end, names, colour, zone, "is-override")))
    rows.append(
        Row("On call", _bars(shifts(schedule, start, end), start, end, names, colour, zone), "is-final")
    )
    day = dt.datetime.fromtimestamp(start, zone).date()
    labelled_every_day = end - start <= LABEL_EVERY_DAY_UP_TO  # past that, day labels overlap: Mondays only
    ticks = []
    while (moment := dt.datetime.combine(day, dt.time(), zone).timestamp()) < end:
        if moment >= start:
            ticks.append(
                Tick(
                    round((moment - start) / (end - start) * 100, 3),
                    day.strftime("%a %d") if labelled_every_day or day.weekday() == 0 else "",
                    day.weekday() >= 5,
                )
            )
        day += dt.timedelta(days=1)
    now_x = (now - start) / (end - start) * 100 if start <= now < end else None
    shown = {b.name for row in rows for b in row.bars}
    legend = [
        Person(names.get(u, f"user {u}"), f"p{i % PALETTE}")
        for u, i in colour.items()
        if names.get(u, f"user {u}") in shown
    ]
    return Timeline(start, end, ticks, rows, now_x, legend)


# --- the editor ----------------------------------------------------------------------------


@dataclass
class LayerValues:
    """One layer as the form shows it (strings, as typed)."""

    name: str = ""
    rotation: str = "weekly"
    every: str = "1"
    start_date: str = ""
    handoff: str = "09:00"
    timezone: str = ""
    participants: str = ""  # one e-mail per line, in rotation order
    restrict_days: list[str] = field(default_factory=list)
    restrict_start: str = ""
    restrict_end: str = ""


def layer_values(doc: Mapping[str, Any], emails: Mapping[int, str]) -> LayerValues:
    start = dt.datetime.fromisoformat(doc["start"])
    unit, count = doc["unit"], doc["count"]
    rotation = {("days", 1): "daily", ("weeks", 1): "weekly"}.get((unit, count), unit)
    r = doc.get("restriction") or {}
    return LayerValues(
        doc.get("name", ""),
        rotation,
        str(count),
        start.date().isoformat(),
        start.strftime("%H:%M"),
        doc.get("timezone", ""),
        "\n".join(emails.get(u, str(u)) for u in doc["participants"]),
        [str(d) for d in r.get("weekdays", [])],
        r.get("start", ""),
        r.get("end", ""),
    )


def layers_from_form(form: FormData, count: int) -> list[LayerValues]:
    out = []
    for i in range(count):
        get = lambda name, i=i: form.get(f"layer{i}_{name}", 4000)  # noqa: E731
        out.append(
            LayerValues(
                get("name"),
                get("rotation"),
                get("every"),
                get("start_date"),
                get("handoff"),
                get("timezone"),
                get("participants"),
                form.getall(f"layer{i}_restrict_days"),
                get("restrict_start"),
                get("restrict_end"),
            )
        )
    return out


class FormError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def layer_doc(values: LayerValues, index: int, ids_by_email: Mapping[str, int]) -> dict[str, Any]:
    """The layer document the store validates; FormError for what only the form can get wrong."""
    people = [p.strip().lower() for p in re.split(r"[\s,;]+", values.participants) if p.strip()]
    unknown = [p for p in people if p not in ids_by_email]
    if unknown:
        raise FormError(f"layer{index}_participants", f"not a member of this workspace: {', '.join(unknown)}")
    if values.rotation not in ROTATIONS:
        raise FormError(f"layer{index}_rotation", "choose a rotation")
    unit, fixed = ROTATIONS[values.rotation]
    try:
        count = fixed or int(values.every)
    except ValueError:
        raise FormError(f"layer{index}_every", "a whole number") from None
    restriction = None
    if values.restrict_days or values.restrict_start or values.restrict_end:
        days = [int(d) for d in values.restrict_days if d.isdigit()]
        restriction = {"weekdays": days, "start": values.restrict_start, "end": values.restrict_end}
    return {
        "name": values.name,
        "unit": unit,
        "count": count,
        "start": f"{values.start_date}T{values.handoff}" if values.start_date and values.handoff else "",
        "timezone": values.timezone or None,
        "participants": [ids_by_email[p] for p in people],
        "restriction": restriction,
    }


FIELD_OF = {
    "unit": "rotation",
    "count": "every",
    "start": "start_date",
    "end": "start_date",
    "participants": "participants",
    "timezone": "timezone",
    "restriction": "restrict_days",
    "name": "name",
}


def form_field(path: str | None, kept: Sequence[int]) -> str:
    """The form field a store error names: ``layers[1].restriction.start`` -> ``layer<n>_restrict_days``
    where <n> is the form block the kept layer 1 came from."""
    found = re.match(r"layers\[(\d+)\]\.(\w+)", path or "")
    if not found:
        return f"layer{kept[0] if kept else 0}_participants" if path == "layers" else (path or "")
    return f"layer{kept[int(found.group(1))]}_{FIELD_OF.get(found.group(2), 'participants')}"
