"""Sentry: SDK ingest (envelopes, legacy store), grouping, auth, integration webhooks.

- Envelopes: https://develop.sentry.dev/sdk/data-model/envelopes/
- Event payloads: https://develop.sentry.dev/sdk/data-model/event-payloads/
- Grouping and ``{{ default }}``: https://docs.sentry.io/concepts/data-management/event-grouping/
- Cron check-ins: https://develop.sentry.dev/sdk/telemetry/check-ins/
- Integration webhooks: https://docs.sentry.io/organization/integrations/integration-platform/webhooks/
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from signalcraft.ingest.fields import (
    MAX_LABELS,
    JSONObject,
    as_dict,
    as_list,
    check_count,
    clip,
    digest,
    join,
    opt_dict,
    opt_list,
    opt_str,
    parse_time,
    req_dict,
    req_str,
    scalar_str,
    severity_from,
    type_name,
)
from signalcraft.ingest.jsonload import load_json
from signalcraft.ingest.model import (
    AlertStatus,
    CheckIn,
    JSONValue,
    Link,
    ParseResult,
    PayloadError,
    RawAlert,
    Severity,
    StackFrame,
    StackTrace,
)

MAX_ITEMS = 1000
MAX_FRAMES = 256  # the innermost ones are kept
UNLABELED = "<unlabeled event>"  # Sentry's title for an event with no message or exception
_DEFAULT_FINGERPRINT = frozenset(("{{ default }}", "{{default}}"))
_LEVELS = {
    "fatal": Severity.CRITICAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "info": Severity.INFO,
    "debug": Severity.INFO,
}
_CHECK_IN_STATUSES = frozenset(("in_progress", "ok", "error"))
_EVENT_LABELS = ("environment", "release", "server_name", "platform", "logger")


@dataclass(frozen=True, slots=True)
class EnvelopeHeader:
    """The envelope's first line. The route answers ``{"id": event_id}``."""

    event_id: str = ""
    dsn: str = ""
    sent_at: datetime | None = None
    raw: JSONObject = field(default_factory=dict)


# --- envelopes and store -------------------------------------------------------------


def parse_envelope(body: bytes, headers: Mapping[str, str]) -> tuple[EnvelopeHeader, ParseResult]:
    """Parse a (decoded) envelope body; act on ``event`` and ``check_in`` items.

    Every other item type (transaction, attachment, session, client_report, replay...)
    is accepted and counted in ``ignored_items``. Errors name the item: ``items[1].length``.
    """
    first, pos = _line(body, 0)
    if not first.strip():
        raise PayloadError("", "empty envelope: the first line must be the envelope header")
    header = as_dict(_item_json(first, "header"), "header")
    envelope = EnvelopeHeader(
        event_id=opt_str(header, "event_id", "header"),
        dsn=opt_str(header, "dsn", "header"),
        sent_at=parse_time(header.get("sent_at"), "header.sent_at"),
        raw=header,
    )
    alerts: list[RawAlert] = []
    check_ins: list[CheckIn] = []
    ignored = 0
    for path, item_type, payload in _items(body, pos):
        if item_type == "event":
            event = as_dict(_item_json(payload, path), path)
            alerts.append(event_to_alert(event, path=path))
        elif item_type == "check_in":
            check_ins.append(_check_in(as_dict(_item_json(payload, path), path), path))
        else:
            ignored += 1
    result = ParseResult(alerts=tuple(alerts), check_ins=tuple(check_ins), ignored_items=ignored)
    return envelope, result


def _items(body: bytes, pos: int) -> Iterator[tuple[str, str, bytes]]:
    """Yield ``(path, type, payload)`` per item.

    A payload is exactly ``length`` bytes when the item header gives one (it may hold
    newlines or binary), else everything up to the next newline. The newline after the
    last payload is optional; blank lines between items are tolerated.
    """
    index = 0
    while pos < len(body):
        if body[pos] == 0x0A:
            pos += 1
            continue
        path = join("items", index)
        if index >= MAX_ITEMS:
            raise PayloadError("items", f"more than {MAX_ITEMS} items")
        line, pos = _line(body, pos)
        header = as_dict(_item_json(line, path), path)
        item_type = req_str(header, "type", path)
        length = header.get("length")
        if length is None:
            payload, pos = _line(body, pos)
        else:
            payload, pos = _sized(body, pos, length, join(path, "length"))
        yield path, item_type, payload
        index += 1


def _line(body: bytes, pos: int) -> tuple[bytes, int]:
    end = body.find(b"\n", pos)
    if end < 0:
        return body[pos:], len(body)
    return body[pos:end], end + 1


def _sized(body: bytes, pos: int, length: JSONValue, path: str) -> tuple[bytes, int]:
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise PayloadError(path, "must be a non-negative integer")
    end = pos + length
    if end > len(body):
        raise PayloadError(path, f"is {length} but only {len(body) - pos} bytes follow")
    if end < len(body) and body[end] != 0x0A:
        raise PayloadError(path, "payload is not followed by a newline")
    return body[pos:end], end + 1


def _item_json(data: bytes, path: str) -> JSONValue:
    try:
        return load_json(data)
    except PayloadError as exc:
        raise PayloadError(path, exc.message) from None


def _check_in(obj: JSONObject, path: str) -> CheckIn:
    status = req_str(obj, "status", path)
    if status not in _CHECK_IN_STATUSES:
        raise PayloadError(join(path, "status"), "must be in_progress, ok or error")
    duration = obj.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, int | float)):
        raise PayloadError(join(path, "duration"), f"must be a number, not {type_name(duration)}")
    return CheckIn(
        monitor_slug=clip(req_str(obj, "monitor_slug", path)),
        status=status,
        check_in_id=opt_str(obj, "check_in_id", path),
        duration=None if duration is None else float(duration),
        monitor_config=opt_dict(obj, "monitor_config", path),
        raw=obj,
    )


def parse_store(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a legacy ``/api/<project>/store/`` body: one event (transactions are ignored)."""
    event = as_dict(payload, "")
    if event.get("type") == "transaction":
        return ParseResult(ignored_items=1)
    return ParseResult(alerts=(event_to_alert(event),))


# --- events ----------------------------------------------------------------------------


def event_to_alert(event: JSONObject, *, path: str = "") -> RawAlert:
    """An error or message event as a RawAlert; ``dedup_key`` is its grouping hash."""
    exception = _last_exception(event, path)
    stacktrace = _stacktrace(*exception) if exception else None
    message = _message(event, path, formatted_first=True)
    level = opt_str(event, "level", path, "error")
    user = opt_dict(event, "user", path)
    notes = {
        "event_id": opt_str(event, "event_id", path),
        "transaction": opt_str(event, "transaction", path),
        "culprit": opt_str(event, "culprit", path),
        "user.id": scalar_str(user.get("id"), join(path, "user.id")),
        "user.email": opt_str(user, "email", join(path, "user")),
    }
    return RawAlert(
        source="sentry",
        title=clip(_title(stacktrace, message)),
        status=AlertStatus.FIRING,
        severity=_severity(level),
        description=stacktrace.exception_value if stacktrace else message,
        labels=_event_labels(event, path),
        annotations={k: clip(v) for k, v in notes.items() if v},
        occurred_at=parse_time(event.get("timestamp"), join(path, "timestamp")),
        dedup_key="sentry:" + digest(grouping_components(event, path=path), 32),
        stacktrace=stacktrace,
        raw=event,
    )


def _severity(level: str) -> Severity:
    return _LEVELS.get(level.lower()) or severity_from(level)


def _title(stacktrace: StackTrace | None, message: str) -> str:
    """Like Sentry: ``Type: first line of value`` for errors, else the message."""
    if stacktrace:
        first_line = stacktrace.exception_value.strip().split("\n", 1)[0]
        parts = [p for p in (stacktrace.exception_type, first_line) if p]
        if parts:
            return ": ".join(parts)
    return message.strip().split("\n", 1)[0] or UNLABELED


def _event_labels(event: JSONObject, path: str) -> dict[str, str]:
    labels = _tags(event.get("tags"), join(path, "tags"))
    for key in _EVENT_LABELS:
        if value := opt_str(event, key, path):
            labels[key] = clip(value)
    check_count(labels, MAX_LABELS, join(path, "tags"))
    return labels


def _tags(value: JSONValue, path: str) -> dict[str, str]:
    """Tags come as an object or as ``[[key, value], ...]`` (both are in the protocol)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        pairs = [(k, v, join(path, k)) for k, v in value.items()]
    else:
        pairs = [(*_pair(item, join(path, i)), join(path, i)) for i, item in enumerate(as_list(value, path))]
    check_count(pairs, MAX_LABELS, path)
    return {clip(scalar_str(k, p)): clip(scalar_str(v, p)) for k, v, p in pairs}


def _pair(item: JSONValue, path: str) -> tuple[JSONValue, JSONValue]:
    pair = as_list(item, path)
    if len(pair) != 2:
        raise PayloadError(path, "must be a [key, value] pair")
    return pair[0], pair[1]


def _message(event: JSONObject, path: str, *, formatted_first: bool) -> str:
    """The message text: ``logentry`` (or the legacy ``message`` object/string).

    Titles use the formatted text; grouping uses the template (``message``) so that
    ``"user %s not found"`` groups across users, as Sentry does.
    """
    order = ("formatted", "message") if formatted_first else ("message", "formatted")
    for key in ("logentry", "message"):
        value = event.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            for sub in order:
                if text := opt_str(value, sub, join(path, key)):
                    return text
        elif value is not None and not isinstance(value, str):
            raise PayloadError(join(path, key), f"must be an object or string, not {type_name(value)}")
    return ""


def _last_exception(event: JSONObject, path: str) -> tuple[JSONObject, str] | None:
    """The exception that was raised (the last of ``exception.values``), if any."""
    value = event.get("exception")
    if value is None:
        return None
    exc_path = join(path, "exception")
    if isinstance(value, dict):
        values = opt_list(value, "values", exc_path)
        exc_path = join(exc_path, "values")
    else:
        values = as_list(value, exc_path)
    if not values:
        return None
    last = join(exc_path, len(values) - 1)
    return as_dict(values[-1], last), last


def _stacktrace(exc: JSONObject, path: str) -> StackTrace:
    trace_path = join(path, "stacktrace")
    frames = opt_list(opt_dict(exc, "stacktrace", path), "frames", trace_path)
    frames_path = join(trace_path, "frames")
    first = max(0, len(frames) - MAX_FRAMES)
    return StackTrace(
        exception_type=opt_str(exc, "type", path),
        exception_value=opt_str(exc, "value", path),
        frames=tuple(_frame(frames[i], join(frames_path, i)) for i in range(first, len(frames))),
    )


def _frame(value: JSONValue, path: str) -> StackFrame:
    frame = as_dict(value, path)
    lineno = frame.get("lineno")
    if lineno is not None and (isinstance(lineno, bool) or not isinstance(lineno, int)):
        raise PayloadError(join(path, "lineno"), f"must be an integer, not {type_name(lineno)}")
    return StackFrame(
        filename=opt_str(frame, "filename", path) or opt_str(frame, "abs_path", path),
        function=opt_str(frame, "function", path),
        lineno=lineno,
        module=opt_str(frame, "module", path),
        in_app=frame.get("in_app") is True,
        context_line=opt_str(frame, "context_line", path),
    )


def grouping_components(event: JSONObject, *, path: str = "") -> list[str]:
    """What an event is grouped by; the dedup key is a hash of this list.

    The SDK's ``fingerprint`` wins unless it is just ``["{{ default }}"]``; inside a
    fingerprint, ``{{ default }}`` stands for the default components. Default: the
    exception type plus (module or filename, function) of the in-app frames (all
    frames when none is in-app; line numbers are left out so edits elsewhere in a file
    keep the group), else the message template, else the title.
    """
    default = _default_components(event, path)
    entries = [
        scalar_str(e, join(join(path, "fingerprint"), i))
        for i, e in enumerate(opt_list(event, "fingerprint", path))
    ]
    if not entries or all(e in _DEFAULT_FINGERPRINT for e in entries):
        return default
    components: list[str] = []
    for entry in entries:
        components.extend(default if entry in _DEFAULT_FINGERPRINT else [f"fingerprint:{entry}"])
    return components


def _default_components(event: JSONObject, path: str) -> list[str]:
    exception = _last_exception(event, path)
    if exception:
        trace = _stacktrace(*exception)
        in_app = [f for f in trace.frames if f.in_app] or list(trace.frames)
        frames = [f"frame:{f.module or f.filename}:{f.function}" for f in in_app]
        if trace.exception_type or frames:
            return [f"type:{trace.exception_type}", *frames]
    message = _message(event, path, formatted_first=False)
    return [f"message:{message}" if message else f"title:{UNLABELED}"]


# --- auth -------------------------------------------------------------------------------


def parse_auth(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The DSN public key from ``X-Sentry-Auth: Sentry sentry_key=...`` or ``?sentry_key=``.

    Old SDKs put the same ``Sentry ...`` value in ``Authorization``; it is accepted too.
    """
    for name in ("x-sentry-auth", "authorization"):
        value = headers.get(name, "")
        if value[:7].lower() == "sentry ":
            params = dict(p.strip().partition("=")[::2] for p in value[7:].split(","))
            if key := params.get("sentry_key", "").strip():
                return key
    if key := query.get("sentry_key", "").strip():
        return key
    raise PayloadError("sentry_key", "is missing: send X-Sentry-Auth or ?sentry_key=")


def verify_hook_signature(body: bytes, signature_hex: str, client_secret: str) -> bool:
    """``Sentry-Hook-Signature`` is the hex HMAC-SHA256 of the raw body with the client secret."""
    expected = hmac.new(client_secret.encode(), body, hashlib.sha256).hexdigest()
    given = signature_hex.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given)


# --- integration webhooks ------------------------------------------------------------------

_HookParser = Callable[[str, JSONObject, JSONObject], ParseResult]
_ISSUE_STATUSES = {
    "created": AlertStatus.FIRING,
    "unresolved": AlertStatus.FIRING,
    "resolved": AlertStatus.RESOLVED,
}
_METRIC_SEVERITIES = {"critical": Severity.CRITICAL, "warning": Severity.WARNING}


def parse_integration_webhook(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a Sentry integration webhook, by its ``Sentry-Hook-Resource`` header.

    - ``issue``: ``created``/``unresolved`` fire, ``resolved`` resolves; other actions
      (assigned, ignored, archived) are ignored items.
    - ``event_alert`` and ``error``: the event, keyed by its issue, so a later
      ``issue.resolved`` resolves it.
    - ``metric_alert``: ``critical``/``warning`` fire, ``resolved`` resolves, keyed by
      the metric alert (incident) id.
    - Any other resource (installation, comment...): ``ParseResult(ignored_items=1)``.
    """
    body = as_dict(payload, "")
    parser = _HOOKS.get(headers.get("sentry-hook-resource", ""))
    if parser is None:
        return ParseResult(ignored_items=1)
    return parser(opt_str(body, "action"), req_dict(body, "data"), body)


def _issue_hook(action: str, data: JSONObject, body: JSONObject) -> ParseResult:
    status = _ISSUE_STATUSES.get(action)
    if status is None:
        return ParseResult(ignored_items=1)
    issue = req_dict(data, "issue", "data")
    issue_id = _id(issue, "id", "data.issue")
    project = opt_dict(issue, "project", "data.issue")
    labels = {
        "project": opt_str(project, "slug", "data.issue.project"),
        "platform": opt_str(issue, "platform", "data.issue"),
    }
    level = opt_str(issue, "level", "data.issue", "error")
    alert = RawAlert(
        source="sentry",
        title=clip(opt_str(issue, "title", "data.issue") or f"Sentry issue {issue_id}"),
        status=status,
        severity=_severity(level),
        description=opt_str(issue, "culprit", "data.issue"),
        labels={k: clip(v) for k, v in labels.items() if v},
        links=_web_link(issue, "data.issue"),
        occurred_at=parse_time(issue.get("firstSeen"), "data.issue.firstSeen"),
        dedup_key=f"sentry-issue:{issue_id}",
        raw=body,
    )
    return ParseResult(alerts=(alert,))


def _event_hook(key: str) -> _HookParser:
    def parse(action: str, data: JSONObject, body: JSONObject) -> ParseResult:
        path = join("data", key)
        event = req_dict(data, key, "data")
        alert = event_to_alert(event, path=path)
        rule = opt_str(data, "triggered_rule", "data")
        keyed = dataclasses.replace(
            alert,
            annotations=alert.annotations | ({"triggered_rule": clip(rule)} if rule else {}),
            links=_web_link(event, path),
            dedup_key=f"sentry-issue:{_id(event, 'issue_id', path)}",
            raw=body,
        )
        return ParseResult(alerts=(keyed,))

    return parse


def _metric_hook(action: str, data: JSONObject, body: JSONObject) -> ParseResult:
    metric = req_dict(data, "metric_alert", "data")
    rule = opt_dict(metric, "alert_rule", "data.metric_alert")
    title = (
        opt_str(metric, "title", "data.metric_alert")
        or opt_str(rule, "name", "data.metric_alert.alert_rule")
        or opt_str(data, "description_title", "data")
    )
    alert = RawAlert(
        source="sentry",
        title=clip(title or "Sentry metric alert"),
        status=AlertStatus.RESOLVED if action == "resolved" else AlertStatus.FIRING,
        severity=_METRIC_SEVERITIES.get(action, Severity.INFO),
        description=opt_str(data, "description_text", "data"),
        links=_web_link(data, "data"),
        occurred_at=parse_time(metric.get("date_started"), "data.metric_alert.date_started"),
        dedup_key=f"sentry-metric-alert:{_id(metric, 'id', 'data.metric_alert')}",
        raw=body,
    )
    return ParseResult(alerts=(alert,))


def _id(obj: JSONObject, key: str, path: str) -> str:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise PayloadError(join(path, key), "is missing or not an id")
    return clip(str(value))


def _web_link(obj: JSONObject, path: str) -> tuple[Link, ...]:
    url = opt_str(obj, "web_url", path) or opt_str(obj, "permalink", path)
    return (Link(url, "Sentry"),) if url else ()


_HOOKS: dict[str, _HookParser] = {
    "issue": _issue_hook,
    "event_alert": _event_hook("event"),
    "error": _event_hook("error"),
    "metric_alert": _metric_hook,
}
