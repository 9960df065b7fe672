"""What a notification says: an :class:`AlertMessage` built from an alert group and an event,
rendered through the templates in ``web/notify/`` (message text never lives in code).

A channel may carry its own message text (``config.template``): it is rendered in Jinja's
sandbox, checked once against a sample when the channel is saved, and at send time falls
back to the default text if it fails on real data (logged), so a template never loses an alert.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import apsw
import orjson
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, Undefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries.notifications import NotificationRow
from signalcraft.errors import InvalidInput
from signalcraft.ingest.model import Severity
from signalcraft.web.templating import _iso as iso_filter
from signalcraft.web.templating import datetime_filter

EVENT_KINDS = ("triggered", "acknowledged", "resolved", "escalated", "test")
CUSTOM_MAX_CHARS = 4000
_MAX_REPEAT = 10_000


@dataclass(frozen=True, slots=True)
class AlertMessage:
    kind: str  # one of EVENT_KINDS
    idempotency_key: str
    workspace_slug: str
    workspace_name: str
    group_id: int | None
    title: str
    status: str
    severity: str  # info, warning, error, critical
    source: str
    service: str
    description: str
    labels: dict[str, str] = field(default_factory=dict)
    alert_count: int = 0
    firing_count: int = 0
    first_seen_at: float = 0.0
    at: float = 0.0  # when the event happened
    actor: str = ""
    link: str = ""

    def context(self) -> dict[str, Any]:
        return asdict(self)


def group_link(public_url: str, slug: str, group_id: int | None) -> str:
    base = f"{public_url}/w/{slug}/alerts"
    return base if group_id is None else f"{base}/{group_id}"


def message_for(conn: apsw.Connection, row: NotificationRow, public_url: str) -> AlertMessage:
    """The message for one outbox row, read from the group as it is now."""
    ws = q.workspace_by_id(conn, row.workspace_id)
    slug, name = (ws.slug, ws.name) if ws else ("", "")
    group = aq.get_group(conn, row.workspace_id, row.group_id) if row.group_id is not None else None
    if group is None:
        return sample_message(
            slug, name, public_url, row.created_at, kind=row.event_kind, key=row.idempotency_key
        )
    newest = aq.alerts_of_group(conn, row.workspace_id, group.id, limit=1)
    actor = {"acknowledged": group.acknowledged_by, "resolved": group.resolved_by}.get(row.event_kind)
    return AlertMessage(
        kind=row.event_kind,
        idempotency_key=row.idempotency_key,
        workspace_slug=slug,
        workspace_name=name,
        group_id=group.id,
        title=group.title,
        status=group.status,
        severity=Severity(group.severity).label,
        source=group.source,
        service=group.service,
        description=newest[0].description if newest else "",
        labels=dict(newest[0].labels) if newest else dict(group.group_labels),
        alert_count=group.alert_count,
        firing_count=group.firing_count,
        first_seen_at=group.first_seen_at,
        at=row.created_at,
        actor=actor or "",
        link=group_link(public_url, slug, group.id),
    )


class _AnyLabels(dict[str, str]):
    """Sample labels for checking a template: any label name the template reads exists."""

    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def sample_message(
    slug: str, name: str, public_url: str, now: float, *, kind: str = "test", key: str = "ntf_sample"
) -> AlertMessage:
    """A message for "send test" and for checking templates at save time."""
    return AlertMessage(
        kind=kind,
        idempotency_key=key,
        workspace_slug=slug,
        workspace_name=name,
        group_id=None,
        title="Test notification from SignalCraft",
        status="triggered",
        severity="warning",
        source="signalcraft",
        service="notifications",
        description="If you can read this, the channel works.",
        labels=_AnyLabels(alertname="SignalCraftTest", instance="signalcraft"),
        alert_count=1,
        firing_count=1,
        first_seen_at=now,
        at=now,
        actor="",
        link=group_link(public_url, slug, None),
    )


# --- rendering ---------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FILTERS: dict[str, Callable[..., str]] = {
    "iso": iso_filter,  # the same filters the pages use
    "datetime": datetime_filter,
    "slack": slack_escape,
}


class _Sandbox(SandboxedEnvironment):
    """The sandbox, also refusing huge repetitions (``"x" * 10**9``)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and right > 64:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(times, int)
                and times * len(seq) > _MAX_REPEAT
            ):
                raise SecurityError("repetition too large")
        return operator.mul(left, right)


def _sandbox(undefined: type[Undefined]) -> _Sandbox:
    env = _Sandbox(undefined=undefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


class MessageRenderer:
    """Renders messages with the templates under ``<templates>/notify``."""

    def __init__(self, templates: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(templates)),
            autoescape=select_autoescape(
                enabled_extensions=("html",), default=False, default_for_string=False
            ),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # shipped files: no stat() per message (it showed in profiles)
        )
        self.env.filters.update(FILTERS)
        self._strict = _sandbox(StrictUndefined)
        self._lenient = _sandbox(Undefined)

    def render(self, name: str, message: AlertMessage, **extra: Any) -> str:
        return self.env.get_template(f"notify/{name}").render(message.context(), **extra).strip()

    def headline(self, message: AlertMessage) -> str:
        return " ".join(self.render("title.txt", message).split())

    def body(self, message: AlertMessage, custom: str = "") -> str:
        """The message text: the channel's own template when it has one, else ``text.txt``."""
        if custom:
            try:
                return self._lenient.from_string(custom).render(message.context()).strip()[:CUSTOM_MAX_CHARS]
            except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
                logging.getLogger(__name__).warning("custom template failed, default text used: %s", exc)
        return self.render("text.txt", message)

    def json(self, name: str, message: AlertMessage, custom: str = "", **extra: Any) -> dict[str, Any]:
        """A JSON body (Block Kit, Adaptive Card, embeds...) from ``<name>.json.j2``."""
        text = self.render(
            f"{name}.json.j2",
            message,
            headline=self.headline(message),
            body=self.body(message, custom),
            **extra,
        )
        payload: dict[str, Any] = orjson.loads(text)
        return payload

    def check_custom(self, source: str, field: str) -> None:
        """Render ``source`` once against a sample; InvalidInput naming ``field`` if it fails."""
        sample = sample_message("acme", "Acme", "https://signalcraft.example.com", 1_700_000_000.0)
        try:
            self._strict.from_string(source).render(sample.context())
        except TemplateError as exc:
            lineno = getattr(exc, "lineno", None)  # syntax errors know their line
            line = f" (line {lineno})" if lineno else ""
            raise InvalidInput(
                f"the template does not render{line}: {exc.message or exc}", field=field
            ) from None
        except (ArithmeticError, TypeError, ValueError) as exc:
            raise InvalidInput(f"the template does not render: {exc}", field=field) from None
