"""Parse results as JSON-safe dicts: for storage, the UI preview and expected-result fixtures."""

from __future__ import annotations

from datetime import UTC, datetime

from signalcraft.ingest.model import (
    CheckIn,
    DeployEvent,
    JSONValue,
    Link,
    ParseResult,
    RawAlert,
    StackTrace,
)


def alert_to_dict(alert: RawAlert) -> dict[str, JSONValue]:
    """``severity`` as its label, ``status`` as its value, times as RFC 3339 ``Z`` strings,
    ``links`` as ``[{url, text}]``, ``stacktrace`` as a dict or null, ``raw`` unchanged."""
    return {
        "source": alert.source,
        "title": alert.title,
        "status": alert.status.value,
        "severity": alert.severity.label,
        "description": alert.description,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "links": links_to_list(alert.links),
        "occurred_at": rfc3339(alert.occurred_at),
        "ended_at": rfc3339(alert.ended_at),
        "dedup_key": alert.dedup_key,
        "service": alert.service,
        "group_labels": dict(alert.group_labels),
        "stacktrace": stacktrace_to_dict(alert.stacktrace),
        "raw": alert.raw,
    }


def deploy_to_dict(deploy: DeployEvent) -> dict[str, JSONValue]:
    return {
        "source": deploy.source,
        "summary": deploy.summary,
        "occurred_at": rfc3339(deploy.occurred_at),
        "component": deploy.component,
        "custom_details": dict(deploy.custom_details),
        "links": links_to_list(deploy.links),
        "raw": deploy.raw,
    }


def check_in_to_dict(check_in: CheckIn) -> dict[str, JSONValue]:
    return {
        "monitor_slug": check_in.monitor_slug,
        "status": check_in.status,
        "check_in_id": check_in.check_in_id,
        "duration": check_in.duration,
        "monitor_config": dict(check_in.monitor_config),
        "raw": check_in.raw,
    }


def result_to_dict(result: ParseResult) -> dict[str, JSONValue]:
    """A whole ParseResult: ``{alerts, deploys, check_ins, ignored_items}``."""
    return {
        "alerts": [alert_to_dict(a) for a in result.alerts],
        "deploys": [deploy_to_dict(d) for d in result.deploys],
        "check_ins": [check_in_to_dict(c) for c in result.check_ins],
        "ignored_items": result.ignored_items,
    }


def stacktrace_to_dict(trace: StackTrace | None) -> dict[str, JSONValue] | None:
    if trace is None:
        return None
    return {
        "exception_type": trace.exception_type,
        "exception_value": trace.exception_value,
        "frames": [
            {
                "filename": f.filename,
                "function": f.function,
                "lineno": f.lineno,
                "module": f.module,
                "in_app": f.in_app,
                "context_line": f.context_line,
            }
            for f in trace.frames
        ],
    }


def links_to_list(links: tuple[Link, ...]) -> list[JSONValue]:
    return [{"url": link.url, "text": link.text} for link in links]


def rfc3339(moment: datetime | None) -> str | None:
    """``2026-11-27T19:31:44.834229Z``: UTC with a ``Z``, microseconds only when non-zero."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
