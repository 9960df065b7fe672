"""Jinja2 rendering with autoescape on, and the globals every page relies on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from signalcraft import __version__


def _iso(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def datetime_filter(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def reltime_filter(epoch: float | None) -> Markup:
    if epoch is None:
        return Markup("—")
    iso = _iso(epoch)
    return Markup('<time datetime="{0}" data-relative title="{1}">{1}</time>').format(
        iso, datetime_filter(epoch))


class Templates:
    def __init__(self, directory: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(directory)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["datetime"] = datetime_filter
        self.env.filters["reltime"] = reltime_filter
        self.env.globals["version"] = __version__
        self.env.globals["static_url"] = lambda path: f"/static/{escape(path)}?v={__version__}"

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        return self.env.get_template(name).render(context)
