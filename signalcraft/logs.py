"""Logging: plain text or one JSON object a line, each record carrying the request id."""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import sys

import orjson

from signalcraft.config import LogConfig

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def current_request_id() -> str:
    return _request_id.get()


def set_request_id(value: str) -> contextvars.Token[str]:
    return _request_id.set(value)


def reset_request_id(token: contextvars.Token[str]) -> None:
    _request_id.reset(token)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "")
        if request_id:
            doc["request_id"] = request_id
        for key in ("method", "path", "status", "duration_ms", "client"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s%(rid)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", "")
        record.rid = f" [req {rid}]" if rid else ""
        return super().format(record)


def configure(cfg: LogConfig) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if cfg.format == "json" else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(cfg.level.upper())
    # Our own access log replaces uvicorn's; huey's per-task info lines are noise.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("huey").setLevel(max(logging.WARNING, root.level))
    # httpx logs every request's full URL at info; a Slack or Discord webhook URL is the
    # credential itself (docs/security.md: secrets never reach the log).
    logging.getLogger("httpx").setLevel(logging.WARNING)
