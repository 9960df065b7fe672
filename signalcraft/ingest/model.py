"""The normalized alert every source parser produces.

Parsers are pure: ``parse(payload, headers) -> ParseResult``. They never touch the
database or the clock; the pipeline does the rest (fingerprint, dedup, group, state).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JSONValue = Any  # a decoded JSON document: dict | list | str | int | float | bool | None


class Severity(enum.IntEnum):
    """One scale for every source. Larger is worse; the names follow PagerDuty's."""

    INFO = 1
    WARNING = 2
    ERROR = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class AlertStatus(enum.StrEnum):
    """What the source says about the alert in this event."""

    FIRING = "firing"
    RESOLVED = "resolved"
    ACKNOWLEDGED = "acknowledged"


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class StackFrame:
    filename: str
    function: str
    lineno: int | None = None
    module: str = ""
    in_app: bool = False
    context_line: str = ""


@dataclass(frozen=True, slots=True)
class StackTrace:
    exception_type: str
    exception_value: str
    frames: tuple[StackFrame, ...] = ()


@dataclass(frozen=True, slots=True)
class RawAlert:
    """One alert event as a source reported it, normalized.

    ``dedup_key`` is the source's own identity for the alert when it has one
    (Alertmanager ``fingerprint``, PagerDuty ``dedup_key``, Opsgenie ``alias``,
    Datadog ``$ALERT_CYCLE_KEY``, Sentry's grouping hash). ``None`` means the
    pipeline derives a fingerprint from configured fields (never the title alone).
    ``group_labels`` are the labels the source grouped by, if any (Alertmanager
    ``groupLabels``). ``raw`` is the part of the payload this alert came from,
    kept unchanged.
    """

    source: str
    title: str
    status: AlertStatus
    severity: Severity
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    occurred_at: datetime | None = None
    ended_at: datetime | None = None
    dedup_key: str | None = None
    service: str = ""
    group_labels: dict[str, str] = field(default_factory=dict)
    stacktrace: StackTrace | None = None
    raw: JSONValue = None


@dataclass(frozen=True, slots=True)
class DeployEvent:
    """A change event (PagerDuty ``/v2/change/enqueue``): stored, shown next to alerts."""

    source: str
    summary: str
    occurred_at: datetime | None = None
    component: str = ""
    custom_details: dict[str, JSONValue] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    raw: JSONValue = None


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A cron check-in (Sentry ``check_in`` item, heartbeat ping) for the uptime monitors."""

    monitor_slug: str
    status: str  # in_progress | ok | error
    check_in_id: str = ""
    duration: float | None = None
    monitor_config: dict[str, JSONValue] = field(default_factory=dict)
    raw: JSONValue = None


@dataclass(frozen=True, slots=True)
class ParseResult:
    alerts: tuple[RawAlert, ...] = ()
    deploys: tuple[DeployEvent, ...] = ()
    check_ins: tuple[CheckIn, ...] = ()
    # Items accepted and acknowledged but not acted on (Sentry transactions, sessions...)
    ignored_items: int = 0


class PayloadError(ValueError):
    """The payload is malformed. ``field`` names the offending path (e.g. ``alerts[0].labels``).

    Mapped to a 400 that names the field: a 5xx would make the sender retry forever.
    """

    def __init__(self, field_path: str, message: str) -> None:
        super().__init__(f"{field_path}: {message}" if field_path else message)
        self.field = field_path
        self.message = message
