"""Grafana alerting webhook: the Alertmanager shape plus a few Grafana fields.

https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/

Top level adds ``orgId``, ``title``, ``state``, ``message``; each alert adds
``silenceURL``, ``dashboardURL``, ``panelURL``, ``imageURL`` (links) and ``values``
(annotations ``value.<name>``). Everything else is parsed by :mod:`alertmanager`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from signalcraft.ingest import alertmanager
from signalcraft.ingest.fields import (
    MAX_LABELS,
    JSONObject,
    as_dict,
    check_count,
    clip,
    join,
    opt_dict,
    opt_str,
    scalar_str,
)
from signalcraft.ingest.model import JSONValue, Link, ParseResult, RawAlert

_LINK_FIELDS = (
    ("dashboardURL", "Dashboard"),
    ("panelURL", "Panel"),
    ("silenceURL", "Silence"),
    ("imageURL", "Image"),
)


def parse_webhook(payload: JSONValue, headers: Mapping[str, str]) -> ParseResult:
    """Parse a Grafana webhook notification: one alert per ``alerts[]`` entry.

    The notification ``title`` is the title of an alert with neither a ``summary``
    annotation nor an ``alertname`` label.
    """
    title = opt_str(as_dict(payload, ""), "title")
    return alertmanager.parse_group(
        payload,
        source="grafana",
        hook=_add_grafana_fields,
        fallback_title=title,
        external_url_text="Grafana",
    )


def _add_grafana_fields(obj: JSONObject, path: str, alert: RawAlert) -> RawAlert:
    values = opt_dict(obj, "values", path)
    check_count(values, MAX_LABELS, join(path, "values"))
    value_notes = {
        clip(f"value.{name}"): clip(scalar_str(value, join(join(path, "values"), name)))
        for name, value in values.items()
    }
    links = tuple(Link(url, text) for key, text in _LINK_FIELDS if (url := opt_str(obj, key, path)))
    annotations = {k: v for k, v in alert.annotations.items() if k not in dict(_LINK_FIELDS)}
    return dataclasses.replace(
        alert,
        annotations=annotations | value_notes,
        links=alert.links + links,
    )
