"""Generic JSON webhook: any payload, mapped to an alert by per-integration field paths.

Paths are a tiny dotted syntax with list indexes: ``title``, ``data.items[0].name``,
``[0].labels``. They are checked when the mapping is saved (:meth:`FieldMapping.validate`)
and resolved leniently at parse time: a missing step gives "absent", never a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from signalcraft.ingest.fields import (
    MAX_ALERTS,
    as_list,
    check_count,
    clip,
    scalar_str,
    severity_from,
    str_map,
)
from signalcraft.ingest.model import AlertStatus, JSONValue, ParseResult, PayloadError, RawAlert
from signalcraft.ingest.normalize import alert_to_dict

MAX_PATH_STEPS = 32
_STEP = re.compile(r"(?P<dot>\.)?(?P<name>[^.\[\]\s]+)|\[(?P<index>\d{1,6})\]")
_PATH_FIELDS = ("title", "severity", "dedup_key", "status", "description", "labels", "alerts")


@dataclass(frozen=True, slots=True)
class Path:
    """A parsed field path: names (object keys) and indexes (array positions)."""

    text: str
    steps: tuple[str | int, ...]

    def resolve(self, document: JSONValue) -> JSONValue:
        """The value at this path, or ``None`` when any step is missing or mistyped."""
        node = document
        for step in self.steps:
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    return None
                node = node[step]
            elif isinstance(node, dict):
                node = node.get(step)
            else:
                return None
        return node


@lru_cache(maxsize=1024)
def parse_path(text: str) -> Path:
    """Parse ``data.items[0].name``; raise ValueError saying what is wrong and where."""
    if not text:
        raise ValueError("a path cannot be empty")
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        first = not steps
        if match is None or (match["name"] is not None and bool(match["dot"]) == first):
            want = "a name or [index]" if first else "'.name' or '[index]'"
            raise ValueError(f"invalid path {text!r}: expected {want} at character {pos + 1}")
        steps.append(match["name"] if match["name"] is not None else int(match["index"]))
        pos = match.end()
    if len(steps) > MAX_PATH_STEPS:
        raise ValueError(f"invalid path {text!r}: more than {MAX_PATH_STEPS} steps")
    return Path(text, tuple(steps))


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Where a webhook's payload keeps each alert field (paths relative to one alert).

    ``alerts`` is the path to a list of alerts; ``None`` means the body is one alert.
    A ``status`` value (lower-cased) in ``resolved_values`` resolves, in
    ``acknowledged_values`` acknowledges; anything else fires.
    """

    title: str
    severity: str | None = None
    dedup_key: str | None = None
    status: str | None = None
    description: str | None = None
    labels: str | None = None
    alerts: str | None = None
    resolved_values: tuple[str, ...] = ("resolved", "ok", "recovered", "closed", "inactive")
    acknowledged_values: tuple[str, ...] = ("acknowledged", "ack")

    def validate(self) -> None:
        """Raise ValueError naming the first bad field (``"labels: invalid path ..."``)."""
        for name in _PATH_FIELDS:
            try:
                self.path(name)
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None

    def path(self, name: str) -> Path | None:
        text = getattr(self, name)
        return None if text is None else parse_path(text)


def parse(payload: JSONValue, headers: Mapping[str, str], mapping: FieldMapping) -> ParseResult:
    """Parse ``payload`` with ``mapping`` (which must have passed :meth:`validate`)."""
    alerts_path = mapping.path("alerts")
    if alerts_path is None:
        return ParseResult(alerts=(_alert(payload, "", mapping),))
    items = as_list(_require(alerts_path.resolve(payload), alerts_path.text), alerts_path.text)
    check_count(items, MAX_ALERTS, alerts_path.text)
    return ParseResult(
        alerts=tuple(_alert(item, f"{alerts_path.text}[{i}]", mapping) for i, item in enumerate(items))
    )


def preview(payload: JSONValue, mapping: FieldMapping) -> list[dict[str, JSONValue]]:
    """The alerts ``payload`` would give, as JSON-safe dicts for the mapping editor."""
    return [alert_to_dict(alert) for alert in parse(payload, {}, mapping).alerts]


def _alert(item: JSONValue, prefix: str, mapping: FieldMapping) -> RawAlert:
    def text(name: str) -> str:
        path = mapping.path(name)
        return "" if path is None else scalar_str(path.resolve(item), _where(prefix, path))

    title_path = parse_path(mapping.title)
    title = text("title")
    if not title.strip():
        raise PayloadError(_where(prefix, title_path), "is missing or blank (mapped as the title)")
    labels_path = mapping.path("labels")
    status = text("status").strip().lower()
    return RawAlert(
        source="webhook",
        title=clip(title),
        status=_status(status, mapping),
        severity=severity_from(text("severity")),
        description=text("description"),
        labels={} if labels_path is None else str_map(labels_path.resolve(item), _where(prefix, labels_path)),
        dedup_key=clip(text("dedup_key")) or None,
        raw=item,
    )


def _status(value: str, mapping: FieldMapping) -> AlertStatus:
    if value in (v.lower() for v in mapping.resolved_values):
        return AlertStatus.RESOLVED
    if value in (v.lower() for v in mapping.acknowledged_values):
        return AlertStatus.ACKNOWLEDGED
    return AlertStatus.FIRING


def _where(prefix: str, path: Path) -> str:
    """The path as the sender sees it: ``alerts[2].title``."""
    if not prefix:
        return path.text
    return prefix + path.text if path.text.startswith("[") else f"{prefix}.{path.text}"


def _require(value: JSONValue, path: str) -> JSONValue:
    if value is None:
        raise PayloadError(path, "is missing (mapped as the list of alerts)")
    return value
