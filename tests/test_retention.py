"""Retention of what ingest leaves behind: raw payloads and ingest log lines older than
``[ingest] raw_retention_days`` are deleted nightly, batch by batch; alerts stay.

Payloads arrive through the real ingest routes at FakeClock times; the nightly task is run
with ``call_local()`` after moving the clock, never by waiting.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft import integrations as svc
from signalcraft.auth.rbac import Role
from signalcraft.db import Database
from signalcraft.db.connection import rows, scalar
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.retention import (
    BATCH,
    DAY_SECONDS,
    RetentionResult,
    apply_history_retention,
    apply_retention,
    cutoff_for,
)
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, member, workspace
from tests.ingest_http.conftest import sample

JSON = {"Content-Type": "application/json"}


def integration(parts: Parts, type_: str, now: float) -> str:
    """A new integration in workspace acme; returns its credential."""
    ws = workspace(parts.ctx.db, "acme", now)
    created = parts.ctx.db.write(lambda c: svc.create(c, ws.id, type_, type_, {}, audit.SYSTEM, now))
    return created.token


def run_retention(parts: Parts) -> RetentionResult:
    task: Any = parts.ctx.extras["tasks"]["retention"]
    result = task.call_local()
    assert isinstance(result, RetentionResult)
    return result


def ids(db: Database, sql: str) -> list[Any]:
    return [r[0] for r in db.read(lambda c: rows(c, sql))]


def count(db: Database, table: str) -> int:
    return int(db.read(lambda c: scalar(c, f"SELECT count(*) FROM {table}")))


# --- the policy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "age_days", "kept"),
    [(30, 29.9, True), (30, 30.0, True), (30, 30.001, False), (1, 2, False), (3650, 3000, True)],
)
def test_a_row_is_past_retention_only_when_older_than_the_window(
    days: int, age_days: float, kept: bool
) -> None:
    now = 1_800_000_000.0
    received = now - age_days * DAY_SECONDS
    assert (received >= cutoff_for(now, days)) is kept


def test_retention_is_due_nightly_at_03_17_utc(parts: Parts) -> None:
    huey: Any = parts.ctx.huey

    def due(hour: int, minute: int) -> bool:
        names = [t.name for t in huey.read_periodic(dt.datetime(2030, 1, 1, hour, minute))]
        return "retention" in names

    assert due(3, 17)
    assert not any(due(h, m) for h, m in ((3, 16), (3, 18), (4, 17), (15, 17), (0, 0)))


# --- through real ingest --------------------------------------------------------------------------


def test_old_raw_payloads_and_log_lines_go_newer_ones_stay_and_alerts_keep_their_data(
    parts: Parts, client: TestClient, clock: FakeClock
) -> None:
    db, days = parts.ctx.db, parts.ctx.settings.ingest.raw_retention_days
    am, pd = integration(parts, "alertmanager", clock()), integration(parts, "pagerduty", clock())
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    assert client.post(f"/ingest/{am}", content=firing, headers=JSON).status_code == 200
    change = {**json.loads(sample("pagerduty", "005-change-event.json")), "routing_key": pd}
    assert client.post("/v2/change/enqueue", json=change).status_code == 202
    bad = sample("alertmanager", "900-labels-not-an-object.json")
    assert client.post(f"/ingest/{am}", content=bad, headers=JSON).status_code == 400  # a refused line
    old_raw = ids(db, "SELECT id FROM raw_payloads")
    old_alerts = db.read(lambda c: aq.recent_alerts(c, 1))
    assert len(old_raw) == 2 and len(old_alerts) == 2 and all(a.raw_id == old_raw[0] for a in old_alerts)

    clock.advance((days - 10) * DAY_SECONDS)
    newer = sample("alertmanager", "003-no-fingerprint-extra-fields.json")
    assert client.post(f"/ingest/{am}", content=newer, headers=JSON).status_code == 200
    (new_raw,) = set(ids(db, "SELECT id FROM raw_payloads")) - set(old_raw)
    new_log = ids(db, f"SELECT id FROM ingest_log WHERE received_at = {clock()}")

    clock.advance(10 * DAY_SECONDS + 1)  # the first requests are now one second past the window
    result = run_retention(parts)

    assert (result.raw_payloads, result.ingest_log) == (2, 3)
    assert ids(db, "SELECT id FROM raw_payloads") == [new_raw]
    assert ids(db, "SELECT id FROM ingest_log") == new_log
    kept = {a.id: a for a in db.read(lambda c: aq.recent_alerts(c, 1))}
    for before in old_alerts:  # every alert stays, with all of its normalized data
        assert kept[before.id] == replace(before, raw_id=None)
    assert {a.raw_id for a in kept.values() if a.id not in {b.id for b in old_alerts}} == {new_raw}
    (deploy,) = db.read(lambda c: rows(c, "SELECT summary, raw_id FROM deploy_events"))
    assert deploy == (change["payload"]["summary"], None)
    assert count(db, "alert_groups") >= 1 and count(db, "alert_events") >= 3


def test_the_api_answers_404_for_a_raw_payload_past_retention_and_the_alert_still_opens(
    parts: Parts, client: TestClient, clock: FakeClock
) -> None:
    token = integration(parts, "alertmanager", clock())
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    assert client.post(f"/ingest/{token}", content=firing, headers=JSON).status_code == 200
    (raw_id,) = ids(parts.ctx.db, "SELECT id FROM raw_payloads")
    clock.advance(parts.ctx.settings.ingest.raw_retention_days * DAY_SECONDS + 1)
    run_retention(parts)
    owner = member(parts.ctx.db, "owner@example.com", Role.OWNER, "acme", clock())  # a session of today
    client.cookies.set("sc_session", owner.session_token)
    gone = client.get(f"/api/v1/workspaces/acme/raw-payloads/{raw_id}")
    assert gone.status_code == 404, gone.text
    (group,) = client.get("/api/v1/workspaces/acme/alert-groups").json()["groups"]
    detail = client.get(f"/api/v1/workspaces/acme/alert-groups/{group['id']}")
    assert detail.status_code == 200 and all(a["raw_id"] is None for a in detail.json()["alerts"])


# --- batch by batch -------------------------------------------------------------------------------


def fill(db: Database, *, raw: int, log: int, at: float) -> None:
    """``raw`` raw payloads and ``log`` ingest log lines received at ``at``, written in one go."""
    ws = workspace(db, "acme", at)
    created = db.write(lambda c: svc.create(c, ws.id, "alertmanager", "bulk", {}, audit.SYSTEM, at))
    iid, body = created.integration.id, aq.compress(b"{}")

    def insert(conn: Any) -> None:
        first = scalar(conn, "SELECT coalesce(max(id), 0) FROM ingest_log")
        for _ in range(raw):
            aq.insert_raw(conn, ws.id, iid, at, "application/json", 2, body)
        for n in range(log):
            aq.log_ingest(conn, f"bulk-{at}-{first + n}", ws.id, iid, at, True, "1 created", 1)

    db.write(insert)


def test_the_task_deletes_batch_by_batch_each_batch_its_own_write(parts: Parts, clock: FakeClock) -> None:
    db, days = parts.ctx.db, parts.ctx.settings.ingest.raw_retention_days
    fill(db, raw=2 * BATCH + 201, log=BATCH + 100, at=clock())
    clock.advance(days * DAY_SECONDS)
    fill(db, raw=7, log=3, at=clock())  # a month newer: kept
    clock.advance(1)
    writes, transactions = db.writer.stats.writes, db.writer.stats.transactions

    result = apply_retention(db, parts.ctx.settings.ingest, clock())

    # log lines: 500 + 100 (short: done); raw payloads: 500 + 500 + 201 (short: done)
    assert result == RetentionResult(ingest_log=BATCH + 100, raw_payloads=2 * BATCH + 201, batches=5)
    assert db.writer.stats.writes - writes == result.batches  # one write per batch ...
    assert db.writer.stats.transactions - transactions == result.batches  # ... each committed on its own
    assert (count(db, "raw_payloads"), count(db, "ingest_log")) == (7, 3)
    # nothing left: one empty batch per table (2 for ingest, 4 for history; audit_days=0 keeps the log)
    assert run_retention(parts) == RetentionResult(batches=6)


def unindexed_references_to(conn: Any, parent: str) -> list[str]:
    """Columns holding a foreign key to ``parent`` that no index starts with."""
    missing = []
    for (table,) in rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        leading = {
            r[0]
            for r in rows(
                conn,
                "SELECT ii.name FROM pragma_index_list(?) il, pragma_index_info(il.name) ii"
                " WHERE ii.seqno = 0",
                (table,),
            )
        }
        for (column,) in rows(
            conn, 'SELECT "from" FROM pragma_foreign_key_list(?) WHERE "table" = ?', (table, parent)
        ):
            if column not in leading:
                missing.append(f"{table}.{column}")
    return missing


def test_every_reference_to_a_raw_payload_is_indexed_so_a_batch_never_scans_a_table(parts: Parts) -> None:
    """Deleting a raw payload sets every ``raw_id`` pointing at it to NULL. Without an index on
    that column SQLite scans the whole table once per deleted row: with 100,000 alerts one
    batch of 500 held the writer for about a minute instead of a few milliseconds."""
    assert parts.ctx.db.read(lambda c: unindexed_references_to(c, "raw_payloads")) == []


def test_a_smaller_batch_only_means_more_writes(parts: Parts, clock: FakeClock) -> None:
    db = parts.ctx.db
    fill(db, raw=23, log=0, at=clock())
    clock.advance(2 * DAY_SECONDS)
    config = replace(parts.ctx.settings.ingest, raw_retention_days=1)
    result = apply_retention(db, config, clock(), batch=5)
    assert result == RetentionResult(ingest_log=0, raw_payloads=23, batches=1 + 5)
    assert count(db, "raw_payloads") == 0


# --- resolved alerts, notifications, the audit log ----------------------------------------------


def resolve_all(parts: Parts, now: float) -> None:
    parts.ctx.db.write(
        lambda c: c.execute("UPDATE alert_groups SET status = 'resolved', resolved_at = ?", (now,))
    )


def fts_hits(db: Database, word: str) -> int:
    return int(
        db.read(lambda c: scalar(c, "SELECT count(*) FROM alerts_fts WHERE alerts_fts MATCH ?", (word,)))
    )


def test_resolved_groups_go_with_their_alerts_events_and_search_rows_open_and_newer_ones_stay(
    parts: Parts, client: TestClient, clock: FakeClock
) -> None:
    db, days = parts.ctx.db, parts.ctx.settings.retention.resolved_alert_days
    token = integration(parts, "alertmanager", clock())
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    assert client.post(f"/ingest/{token}", content=firing, headers=JSON).status_code == 200
    resolve_all(parts, clock())
    old_alerts = count(db, "alerts")
    word = db.read(lambda c: scalar(c, "SELECT title FROM alerts LIMIT 1")).split()[0]
    assert old_alerts >= 1 and fts_hits(db, word) == old_alerts
    clock.advance(days * DAY_SECONDS + 1)
    newer = sample("alertmanager", "003-no-fingerprint-extra-fields.json")
    assert client.post(f"/ingest/{token}", content=newer, headers=JSON).status_code == 200  # open: stays
    groups_before, events_before = count(db, "alert_groups"), count(db, "alert_events")

    result = run_retention(parts)

    assert result.alert_groups == 1 and result.alerts == old_alerts
    assert count(db, "alert_groups") == groups_before - 1
    assert 0 < count(db, "alert_events") < events_before  # the alerts' events went with them
    orphans = "SELECT count(*) FROM alert_events WHERE group_id NOT IN (SELECT id FROM alert_groups)"
    assert db.read(lambda c: scalar(c, orphans)) == 0
    assert fts_hits(db, word) == 0  # the search index follows
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM alerts_fts")) == count(db, "alerts")
    (entry,) = db.read(lambda c: audit.entries(c, None, action_prefix="retention."))
    assert entry.actor == "system" and entry.detail["alert_groups"] == 1


def test_finished_notifications_past_their_days_go_pending_ones_stay(parts: Parts, clock: FakeClock) -> None:
    db, days = parts.ctx.db, parts.ctx.settings.retention.notification_log_days
    ws = workspace(db, "acme", clock())

    def seed(conn: Any) -> None:
        conn.execute(
            "INSERT INTO channels(workspace_id, kind, name, config, secret_config, created_at, updated_at)"
            " VALUES (?, 'webhook', 'c', '{}', '{}', ?, ?)",
            (ws.id, clock(), clock()),
        )
        channel = conn.last_insert_rowid()
        for n, status in enumerate(("delivered", "failed", "pending", "delivered")):
            conn.execute(
                "INSERT INTO notifications(workspace_id, channel_id, event_kind, idempotency_key, status,"
                " next_attempt_at, created_at) VALUES (?, ?, 'test', ?, ?, 0, ?)",
                (ws.id, channel, f"k{n}", status, clock() + (days * DAY_SECONDS if n == 3 else 0)),
            )
            conn.execute(
                "INSERT INTO notification_attempts(notification_id, at, outcome) VALUES (?, ?, 'x')",
                (conn.last_insert_rowid(), clock()),
            )

    db.write(seed)
    clock.advance(days * DAY_SECONDS + 1)
    assert run_retention(parts).notifications == 2
    assert ids(db, "SELECT status FROM notifications ORDER BY id") == ["pending", "delivered"]
    assert count(db, "notification_attempts") == 2  # the deleted ones' attempts cascade


def test_the_audit_log_is_kept_forever_by_default_and_only_retention_deletes_from_it(
    parts: Parts, clock: FakeClock
) -> None:
    db = parts.ctx.db
    db.write(lambda c: audit.record(c, audit.CLI, "user.create", clock(), target="a@example.com"))
    clock.advance(10 * 365 * DAY_SECONDS)
    assert run_retention(parts).audit == 0 and count(db, "audit_log") == 1
    with pytest.raises(Exception, match="append-only"):
        db.write(lambda c: c.execute("UPDATE audit_log SET actor = 'x'"))
    with pytest.raises(Exception, match="deleted only by retention"):
        db.write(lambda c: c.execute("DELETE FROM audit_log"))

    config = replace(parts.ctx.settings.retention, audit_days=30)
    result = apply_history_retention(db, config, clock())
    assert result.audit == 1 and count(db, "audit_log") == 0
    assert count(db, "audit_purge_permit") == 0  # the permit does not outlive its write


def test_retention_of_a_backlog_never_holds_ingest_up_for_more_than_one_batch(
    parts: Parts, client: TestClient, clock: FakeClock
) -> None:
    """Batches are separate writes: an ingest request queued meanwhile is served between two."""
    db = parts.ctx.db
    fill(db, raw=3 * BATCH, log=0, at=clock())
    clock.advance(parts.ctx.settings.ingest.raw_retention_days * DAY_SECONDS + 1)
    token = integration(parts, "alertmanager", clock())
    firing = sample("alertmanager", "001-firing-two-alerts-same-summary.json")
    order: list[str] = []
    done = threading.Event()

    def ingest_while_deleting() -> None:
        order.append(
            "ingest"
            if client.post(f"/ingest/{token}", content=firing, headers=JSON).status_code == 200
            else "ingest failed"
        )
        done.set()

    before = db.writer.stats.transactions
    thread = threading.Thread(target=ingest_while_deleting)
    thread.start()
    result = apply_retention(db, parts.ctx.settings.ingest, clock(), batch=50)
    thread.join(10)
    assert done.is_set() and order == ["ingest"]
    assert result.raw_payloads == 3 * BATCH and result.batches == 1 + 3 * BATCH // 50 + 1
    assert db.writer.stats.transactions - before >= result.batches  # every batch committed on its own
