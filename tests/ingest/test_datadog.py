"""Datadog webhook: the shipped template and its parser."""

from __future__ import annotations

import json
import re

import pytest

from signalcraft.ingest.datadog import TEMPLATE, parse
from signalcraft.ingest.model import AlertStatus, PayloadError, Severity

DOCUMENTED = {
    "$ALERT_CYCLE_KEY",
    "$ALERT_TRANSITION",
    "$ALERT_STATUS",
    "$ALERT_TITLE",
    "$ALERT_PRIORITY",
    "$ALERT_SCOPE",
    "$TAGS",
    "$LINK",
    "$EVENT_MSG",
    "$DATE",
    "$ID",
    "$AGGREG_KEY",
    "$HOSTNAME",
    "$ALERT_TYPE",
}


def filled(**values: str) -> dict[str, object]:
    text = re.sub(r"\$[A-Z_]+", lambda m: values.get(m.group(0)[1:], m.group(0)), TEMPLATE)
    return json.loads(text)  # type: ignore[no-any-return]


def test_template_uses_the_documented_variables() -> None:
    assert set(re.findall(r"\$[A-Z_]+", TEMPLATE)) >= DOCUMENTED


def test_template_filled_in_is_an_alert() -> None:
    body = filled(
        ALERT_TITLE="Load high",
        ALERT_CYCLE_KEY="c1",
        ALERT_TRANSITION="Triggered",
        ALERT_PRIORITY="P1",
        TAGS="env:prod,service:api",
        DATE="1795795200000",
    )
    alert = parse(body, {}).alerts[0]
    assert (alert.title, alert.dedup_key, alert.severity) == ("Load high", "c1", Severity.CRITICAL)
    assert alert.labels == {"env": "prod", "service": "api"}
    assert alert.service == "api"


def test_unfilled_variables_count_as_absent() -> None:
    alert = parse(filled(ALERT_TITLE="t"), {}).alerts[0]
    assert alert.dedup_key is None
    assert alert.labels == {}
    assert alert.occurred_at is None


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        ("Recovered", AlertStatus.RESOLVED),
        ("Triggered", AlertStatus.FIRING),
        ("Re-Triggered", AlertStatus.FIRING),
        ("Warn", AlertStatus.FIRING),
        ("No Data", AlertStatus.FIRING),
        ("Renotify", AlertStatus.FIRING),
    ],
)
def test_transitions(transition: str, status: AlertStatus) -> None:
    body = filled(ALERT_TITLE="t", ALERT_TRANSITION=transition)
    assert parse(body, {}).alerts[0].status is status


def test_aggregation_key_is_the_fallback_dedup_key() -> None:
    assert parse(filled(ALERT_TITLE="t", AGGREG_KEY="agg"), {}).alerts[0].dedup_key == "agg"


def test_missing_title_is_a_400_not_a_500() -> None:
    with pytest.raises(PayloadError) as err:
        parse(filled(), {})
    assert err.value.field == "title"
