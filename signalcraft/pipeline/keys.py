"""Fingerprints (dedup) and group keys: pure functions of an alert and its integration's settings.

Fingerprint rule, in order:
1. the source's own key (Alertmanager ``fingerprint``, PagerDuty ``dedup_key``, Opsgenie
   ``alias``, Datadog ``$ALERT_CYCLE_KEY``, Sentry's grouping hash), kept readable so an
   Opsgenie close-by-alias finds it (hashed only when longer than 200 characters);
2. else the integration's ``fingerprint_fields`` (label names; ``title``/``service``/
   ``description``/``source`` name those fields);
3. else every label, plus the source; with no labels, source + service + title +
   description. Never the summary text alone: two different alerts that share a summary
   but differ anywhere else stay distinct.

Group key rule: the integration's ``group_by`` label names when set; else the labels the
source grouped by (Alertmanager ``groupLabels``); else ``alertname`` when the alert has
one; else the fingerprint (each alert its own group, like a Sentry issue).
"""

from __future__ import annotations

from collections.abc import Sequence

from signalcraft.ingest.fields import digest
from signalcraft.ingest.model import RawAlert

MAX_KEY = 200
_FIELDS = ("title", "service", "description", "source")


def _field(alert: RawAlert, name: str) -> str:
    if name in _FIELDS:
        return str(getattr(alert, name))
    return alert.labels.get(name, "")


def fingerprint_for(alert: RawAlert, fields: Sequence[str] | None = None) -> str:
    if alert.dedup_key:
        key = alert.dedup_key
        return key if len(key) <= MAX_KEY else "h:" + digest([key], 40)
    if fields:
        return "f:" + digest([f"{name}={_field(alert, name)}" for name in fields], 32)
    if alert.labels:
        parts = [alert.source] + [f"{k}={v}" for k, v in sorted(alert.labels.items())]
        return "l:" + digest(parts, 32)
    return "t:" + digest([alert.source, alert.service, alert.title, alert.description], 32)


def group_key_for(alert: RawAlert, fingerprint: str, group_by: Sequence[str] | None = None) -> str:
    if group_by:
        return "by:" + digest([f"{name}={_field(alert, name)}" for name in group_by], 32)
    if alert.group_labels:
        return "gl:" + digest([f"{k}={v}" for k, v in sorted(alert.group_labels.items())], 32)
    if "alertname" in alert.labels:
        return _alertname_key(alert.labels["alertname"])
    return "fp:" + fingerprint


# Alert names repeat (a rule's every alert, every evaluation), and the group key of one is
# a hash: remembered, bounded, emptied when full.
_BY_ALERTNAME: dict[str, str] = {}
_BY_ALERTNAME_MAX = 4096


def _alertname_key(name: str) -> str:
    key = _BY_ALERTNAME.get(name)
    if key is None:
        if len(_BY_ALERTNAME) >= _BY_ALERTNAME_MAX:
            _BY_ALERTNAME.clear()
        key = _BY_ALERTNAME[name] = "an:" + digest([name], 32)
    return key
