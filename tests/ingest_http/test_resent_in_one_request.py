"""Many alerts in one request: the re-sent ones are counted together, and the result is the
same as counting them one by one.

Prometheus posts every firing alert of a rule each evaluation, so a body of fifty alerts of
one group, nearly all already open, is the common case (these bodies are smaller: the test
app takes at most 4 KB). A request's re-sends are counted at
once and a group's counters written once per request (``refresh_open_alerts``); these pin
the counters, the order and the odd bodies (an alert twice in one body, re-sends mixed with
new and resolved alerts).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from signalcraft.db.connection import rows
from tests.helpers import FakeClock
from tests.ingest_http.test_bad_input import ROUTES, Bench, Credential, open_bench

PROMETHEUS = next(r for r in ROUTES if r.name == "alertmanager-api-v2-prefixed")
RESOLVED = "2000-01-01T00:00:00Z"  # an endsAt in the past: the alert is resolved


def alert(
    instance: str, *, name: str = "DiskFull", severity: str = "warning", **extra: str
) -> dict[str, Any]:
    return {
        "labels": {"alertname": name, "instance": instance, "severity": severity},
        "annotations": {"summary": extra.pop("summary", f"disk full on {instance}")},
        **extra,
    }


def post(bench: Bench, credential: Credential, *alerts: dict[str, Any]) -> None:
    response = bench.send(PROMETHEUS, credential, json.dumps(list(alerts), separators=(",", ":")).encode())
    assert response.status_code == 200, response.text


def table(bench: Bench, sql: str) -> list[tuple[Any, ...]]:
    return bench.parts.ctx.db.read(lambda c: [tuple(r) for r in rows(c, sql)])


def clock(bench: Bench) -> FakeClock:
    now = bench.parts.ctx.clock
    assert isinstance(now, FakeClock)
    return now


def test_thirty_alerts_of_one_group_sent_twice_count_twice_each_and_the_group_sixty(
    tmp_path: Path,
) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        body = [alert(f"db{i}", severity="critical" if i == 7 else "warning") for i in range(30)]
        post(bench, credential, *body)
        clock(bench).advance(30)
        post(bench, credential, *body)
        second = clock(bench)()

        [group] = table(
            bench, "SELECT alert_count, firing_count, event_count, severity, last_seen_at FROM alert_groups"
        )
        assert group == (30, 30, 60, 4, second)  # 4: critical
        alerts = table(bench, "SELECT event_count, last_seen_at FROM alerts")
        assert len(alerts) == 30 and set(alerts) == {(2, second)}


def test_re_sends_of_several_groups_in_one_body_each_count_in_their_own_group(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        body = [alert(f"db{i}", name="DiskFull" if i % 3 else "HostDown") for i in range(9)]
        post(bench, credential, *body)
        post(bench, credential, *body)
        post(bench, credential, *body[:2])  # db0 (HostDown) and db1 (DiskFull) once more

        groups = table(
            bench,
            "SELECT json_extract(group_labels, '$.alertname'), alert_count, event_count"
            " FROM alert_groups ORDER BY 1",
        )
        assert groups == [("DiskFull", 6, 13), ("HostDown", 3, 7)]


def test_the_same_alert_twice_in_one_body_is_one_alert_counted_twice(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        post(bench, credential, alert("db1"), alert("db1"))
        assert table(bench, "SELECT event_count FROM alerts") == [(2,)]
        post(bench, credential, alert("db2"), alert("db1"), alert("db1"))
        assert table(bench, "SELECT event_count FROM alerts ORDER BY id") == [(4,), (1,)]
        assert table(bench, "SELECT alert_count, event_count FROM alert_groups") == [(2, 5)]


def test_a_body_of_re_sends_new_and_resolved_alerts_is_stored_in_its_own_order(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        post(bench, credential, alert("db1"), alert("db2"))
        [(db1,), (db2,)] = table(bench, "SELECT id FROM alerts ORDER BY json_extract(labels, '$.instance')")
        post(bench, credential, alert("db3"), alert("db1"), alert("db2", endsAt=RESOLVED))

        stored = table(
            bench, "SELECT json_extract(labels, '$.instance'), status, event_count FROM alerts ORDER BY id"
        )
        assert stored == [("db1", "firing", 2), ("db2", "resolved", 2), ("db3", "firing", 1)]
        [(first_alert, accepted)] = table(
            bench, "SELECT alert_id, alerts FROM ingest_log ORDER BY id DESC LIMIT 1"
        )
        db3 = db2 + 1
        assert (first_alert, accepted) == (db3, 3) and db1 < db2 < db3
        assert table(bench, "SELECT alert_count, firing_count, event_count FROM alert_groups") == [(3, 2, 5)]


def test_a_re_send_with_a_new_summary_in_a_body_of_many_takes_the_new_title(tmp_path: Path) -> None:
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        post(bench, credential, alert("db1"), alert("db2"))
        post(bench, credential, alert("db1"), alert("db2", summary="disk on db2 is back to 80%"))
        titles = table(bench, "SELECT json_extract(labels, '$.instance'), title FROM alerts ORDER BY id")
        assert titles == [("db1", "disk full on db1"), ("db2", "disk on db2 is back to 80%")]
        found = table(bench, "SELECT count(*) FROM alerts_fts WHERE alerts_fts MATCH '\"back\"'")
        assert found == [(1,)]


def test_a_new_alert_joins_the_group_a_re_send_of_the_same_body_keeps_alive(tmp_path: Path) -> None:
    """Past the group window, a new alert joins its group when an alert re-sent in the same
    body still fires in it, wherever the re-send stands in the body."""
    with open_bench(tmp_path) as bench:
        credential = bench.create(PROMETHEUS)
        window = bench.parts.ctx.settings.ingest.group_window_minutes * 60
        post(bench, credential, alert("db1"))
        clock(bench).advance(window + 60)
        post(bench, credential, alert("db2"), alert("db1"))
        clock(bench).advance(window + 60)
        post(bench, credential, alert("db1"), alert("db3"))
        assert table(bench, "SELECT count(*), sum(alert_count), sum(event_count) FROM alert_groups") == [
            (1, 3, 5)
        ]
