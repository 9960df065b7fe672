"""The public status page of a workspace: what it may show, and nothing else.

The view is built from scratch out of public pieces (public names chosen by the team, up or
down, uptime per day, notes the team wrote), so the template never holds a monitor row: no
URL, host name, internal name, error message or other monitor can reach the page by mistake.
Settings are validated here too (public names, the logo, notes).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import apsw
from markupsafe import Markup

from signalcraft.db.queries import uptime as uq
from signalcraft.errors import InvalidInput
from signalcraft.uptime import stats, svg

MAX_LOGO_BYTES = 100_000
MAX_PAGE_MONITORS = 100
LOGO_TYPES = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


@dataclass(frozen=True, slots=True)
class PublicMonitor:
    name: str
    status: str  # operational, down, unknown
    uptime_90d: str
    bars: Markup


@dataclass(frozen=True, slots=True)
class PublicNote:
    kind: str
    title: str
    body: str
    starts_at: float
    ends_at: float | None


@dataclass(frozen=True, slots=True)
class StatusPageView:
    title: str
    logo: str  # a data: URI (the CSP allows images from data:) or ""
    overall: str  # operational, partial, outage, unknown
    monitors: list[PublicMonitor]
    down_since: list[tuple[str, float]]  # (public name, since) of what is down now
    incidents: list[PublicNote]
    maintenance: list[PublicNote]
    updated_at: float


def logo_type(data: bytes) -> str:
    """The image type from its first bytes (never from the upload's claimed type); SVG is refused:
    it can carry script."""
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidInput(f"the logo must be at most {MAX_LOGO_BYTES // 1000} KB", field="logo")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, kind in LOGO_TYPES.items():
        if data.startswith(magic):
            return kind
    raise InvalidInput("use a PNG, JPEG, GIF or WebP image", field="logo")


def chosen_monitors(form: Mapping[str, str], monitors: Sequence[uq.MonitorRow]) -> list[tuple[int, str]]:
    """``show_<id>`` checked and ``public_name_<id>`` given, for this workspace's monitors."""
    chosen: list[tuple[int, str]] = []
    for monitor in monitors:
        if form.get(f"show_{monitor.id}") not in ("1", "on", "true"):
            continue
        name = form.get(f"public_name_{monitor.id}", "").strip()
        if not name:
            raise InvalidInput("give each monitor you show a public name", field=f"public_name_{monitor.id}")
        if len(name) > 100:
            raise InvalidInput("at most 100 characters", field=f"public_name_{monitor.id}")
        chosen.append((monitor.id, name))
    if len(chosen) > MAX_PAGE_MONITORS:
        raise InvalidInput(f"at most {MAX_PAGE_MONITORS} monitors on a page", field="monitors")
    return chosen


def _public_status(monitor: uq.MonitorRow) -> str:
    if monitor.paused or monitor.status == "pending":
        return "unknown"
    return "operational" if monitor.status == "up" else "down"


def _overall(statuses: Sequence[str]) -> str:
    if not statuses or all(s == "unknown" for s in statuses):
        return "unknown"
    down = sum(1 for s in statuses if s == "down")
    if not down:
        return "operational"
    return "outage" if down == len([s for s in statuses if s != "unknown"]) else "partial"


def _note(n: uq.NoteRow) -> PublicNote:
    return PublicNote(n.kind, n.title, n.body, n.starts_at, n.ends_at)


def build(conn: apsw.Connection, workspace_id: int, now: float) -> StatusPageView | None:
    """The page's content, or None when the workspace has not enabled it."""
    page = uq.status_page(conn, workspace_id)
    if not page.enabled:
        return None
    shown = uq.page_monitors(conn, workspace_id)
    rows = {
        m.id: m for m in (uq.get_monitor(conn, workspace_id, p.monitor_id) for p in shown) if m is not None
    }
    ids = list(rows)
    start = stats.bar_start(now)
    before = uq.status_before(conn, ids, start)
    changes: dict[int, list[stats.Change]] = {i: [] for i in ids}
    for e in uq.events_since(conn, ids, start):
        changes[e.monitor_id].append((e.at, e.status))
    monitors, down = [], []
    for p in shown:
        monitor = rows.get(p.monitor_id)
        if monitor is None:
            continue
        bars = stats.day_bars(before.get(monitor.id), changes[monitor.id], now)
        known = stats.Tally(sum(b.tally.up for b in bars), sum(b.tally.down for b in bars))
        status = _public_status(monitor)
        monitors.append(
            PublicMonitor(
                p.public_name,
                status,
                stats.format_percent(known.percent),
                svg.uptime_bars(bars, label=p.public_name),
            )
        )
        if status == "down":
            down.append((p.public_name, monitor.status_since or now))
    notes = [_note(n) for n in uq.notes(conn, workspace_id, ending_after=now)]
    logo = ""
    if page.logo:
        logo = f"data:{page.logo_type};base64,{base64.b64encode(page.logo).decode()}"
    return StatusPageView(
        page.title,
        logo,
        _overall([m.status for m in monitors]),
        monitors,
        down,
        [n for n in notes if n.kind == "incident" and n.starts_at <= now],
        sorted((n for n in notes if n.kind == "maintenance"), key=lambda n: n.starts_at),
        now,
    )


def parse_local_time(value: str, field: str) -> float:
    """``2026-05-31T14:00`` from a datetime-local input, read as UTC."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput("use a date and time like 2026-05-31T14:00 (UTC)", field=field) from None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()
