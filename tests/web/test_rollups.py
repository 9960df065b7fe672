"""The dashboard's hourly rollups: figures from rollups plus the rows past them equal a direct
count over the base tables, before the task ran, after it, and after more hours went by; the
task counts every row once; migration 0014 rolls up what an upgraded database holds."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import TypeVar

import apsw
import pytest
from litestar.testing import TestClient

from signalcraft.auth.rbac import Role
from signalcraft.db import migrate
from signalcraft.db.connection import open_connection, rows
from signalcraft.db.queries import rollups as rq
from signalcraft.db.queries import stats
from signalcraft.rollups import CaughtUp, catch_up
from signalcraft.runtime import Parts
from signalcraft.web.dashboard_pages import PERIODS, frame_for
from tests.helpers import FakeClock, Member, member

T = TypeVar("T")
SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "migrations"


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2027, 1, day, hour, minute, tzinfo=dt.UTC).timestamp()


def ordered(cells: list[T]) -> list[T]:
    return sorted(cells, key=dataclasses.astuple)


# --- the figures as the dashboard computed them before rollups: one pass over the base tables


def direct_alerts(conn: apsw.Connection, ws: int, w: stats.Window, size: float) -> list[stats.AlertCell]:
    found = rows(
        conn,
        "SELECT CASE WHEN first_seen_at >= :start THEN CAST((first_seen_at - :start) / :size AS INTEGER)"
        " ELSE -1 END AS b, integration_id, severity, count(*) FROM alerts WHERE workspace_id = :ws"
        " AND last_seen_at >= :start AND first_seen_at <= :end GROUP BY b, integration_id, severity",
        {"ws": ws, "start": w.start, "end": w.end, "size": size},
    )
    return ordered([stats.AlertCell(*(int(v) for v in r)) for r in found])


def direct_ingest(conn: apsw.Connection, ws: int, w: stats.Window, size: float) -> list[stats.IngestCell]:
    found = rows(
        conn,
        "SELECT CAST((received_at - :start) / :size AS INTEGER) AS b, integration_id,"
        " coalesce(sum(CASE WHEN accepted = 1 THEN alerts END), 0), sum(accepted = 1), sum(accepted = 0)"
        " FROM ingest_log WHERE received_at >= :start AND received_at <= :end AND workspace_id = :ws"
        " GROUP BY b, integration_id",
        {"ws": ws, "start": w.start, "end": w.end, "size": size},
    )
    return ordered([stats.IngestCell(*(int(v) for v in r)) for r in found])


def assert_rollups_match(parts: Parts, ws: int, now: float) -> None:
    for period in PERIODS.values():
        frame = frame_for(period, now)
        w, size = frame.current, period.bucket_seconds

        def both(conn: apsw.Connection, w: stats.Window = w, size: int = size) -> tuple[object, ...]:
            return (
                ordered(stats.alerts_by_bucket(conn, ws, w, size)),
                direct_alerts(conn, ws, w, size),
                ordered(stats.ingest_by_bucket(conn, ws, w, size)),
                direct_ingest(conn, ws, w, size),
            )

        alerts, expected_alerts, ingest, expected_ingest = parts.ctx.db.read(both)
        assert alerts == expected_alerts, period.key
        assert ingest == expected_ingest, period.key
        assert expected_alerts or period.key == "24h"  # the comparison is not between two empty lists


# --- a workspace receiving PagerDuty events at set times


@pytest.fixture
def boss(parts: Parts, clock: FakeClock) -> Member:
    clock.t = at(3, 22)
    return member(parts.ctx.db, "boss@example.com", Role.OWNER, "acme", clock.t)


@pytest.fixture
def send(client: TestClient, boss: Member, clock: FakeClock):  # type: ignore[no-untyped-def]
    client.cookies.set("sc_session", boss.session_token)
    made = client.post(
        "/api/v1/workspaces/acme/integrations",
        json={"type": "pagerduty", "name": "pd"},
        headers={"X-CSRF-Token": boss.csrf},
    )
    assert made.status_code == 201, made.text
    key = made.json()["credential"]["routing_key"]

    def pd(when: float, action: str, dedup: str, severity: str = "critical") -> None:
        clock.t = when
        body = {
            "routing_key": key,
            "event_action": action,
            "dedup_key": dedup,
            "payload": {"summary": f"{dedup} is unhappy", "source": "host-1", "severity": severity},
        }
        assert client.post("/v2/enqueue", json=body).status_code == 202

    return pd


def test_rollups_plus_live_rows_equal_a_direct_count_before_and_after_hours_close(
    parts: Parts,
    boss: Member,
    send,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    ws = boss.workspace.id
    # Sunday 3 January 23:00, before the 7-day window: re-sent on Monday, so it counts as touched.
    send(at(3, 23), "trigger", "old")
    send(at(4, 1), "trigger", "old")
    send(at(4, 10), "trigger", "db")
    send(at(4, 10, 30), "trigger", "db")
    send(at(5, 3), "trigger", "disk", "warning")
    send(at(5, 5), "resolve", "disk")
    send(at(10, 19, 10), "trigger", "cpu", "error")
    now = at(10, 19, 40)
    clock.t = now
    assert parts.ctx.db.read(rq.progress) == rq.Progress(0, 0)
    assert_rollups_match(parts, ws, now)  # nothing rolled up: all from the base tables

    done = catch_up(parts.ctx.db, batch=2)  # several batches
    assert done == CaughtUp(alerts=4, requests=7)
    assert_rollups_match(parts, ws, now)  # all from the rollups, the current hour included

    # The hour closes; new alerts and repeats of rolled-up ones arrive in the next one.
    send(at(10, 20, 5), "trigger", "cpu", "error")
    send(at(10, 20, 6), "trigger", "net", "info")
    now = at(10, 20, 30)
    clock.t = now
    assert_rollups_match(parts, ws, now)  # rollups for the old rows, base tables for the new ones

    task = parts.ctx.extras["tasks"]["dashboard_rollups"]
    assert task.call_local() == CaughtUp(alerts=1, requests=2)
    assert task.call_local() == CaughtUp(alerts=0, requests=0)  # nothing counted twice
    assert_rollups_match(parts, ws, now)

    clock.t = now = at(11, 2)  # a new day: the daily buckets move
    assert_rollups_match(parts, ws, now)


def test_the_dashboard_page_shows_the_same_figures_once_rolled_up(
    parts: Parts,
    client: TestClient,
    send,
    clock: FakeClock,  # type: ignore[no-untyped-def]
) -> None:
    send(at(8, 9), "trigger", "db")
    send(at(8, 9, 5), "trigger", "db")
    send(at(9, 14), "trigger", "cpu", "error")
    clock.t = at(10, 12)
    client.cookies.set(
        "sc_session", member(parts.ctx.db, "boss@example.com", Role.OWNER, "acme", clock.t).session_token
    )
    before = client.get("/w/acme/dashboard?period=7d").text
    assert 'data-stat="events"' in before and "in 3 requests" in before
    catch_up(parts.ctx.db)
    after = client.get("/w/acme/dashboard?period=7d").text
    assert after == before


def test_periods_must_start_on_a_whole_hour(parts: Parts) -> None:
    with pytest.raises(ValueError, match="whole hours"):
        parts.ctx.db.read(lambda c: stats.alerts_by_bucket(c, 1, stats.Window(1800.0, 7200.0), 3600))
    with pytest.raises(ValueError, match="whole hours"):
        parts.ctx.db.read(lambda c: stats.ingest_by_bucket(c, 1, stats.Window(0.0, 7200.0), 900))


def test_percentiles_are_nearest_rank() -> None:
    assert stats.nearest_rank([], 50) is None
    assert stats.nearest_rank([5.0], 90) == 5.0
    assert stats.nearest_rank([1.0, 2.0], 50) == 1.0  # rank ceil(0.5 * 2) = 1
    assert [stats.nearest_rank([float(v) for v in range(1, 11)], p) for p in (50, 90)] == [5.0, 9.0]


# --- migration 0014 on a database with data


def max_id(conn: apsw.Connection, table: str) -> int:
    return int(rows(conn, f"SELECT max(id) FROM {table}")[0][0])


def test_migration_rolls_up_existing_alerts_and_requests(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn, target=13)
    for version in range(1, 14):
        seed = SEEDS / f"{version:04d}_seed.sql"
        if seed.exists():
            conn.execute(seed.read_text())
    conn.execute(
        "INSERT INTO alerts(id, workspace_id, integration_id, group_id, fingerprint, status, severity, title,"
        " source, first_seen_at, last_seen_at) VALUES (7, 1, 1, 1, 'fp7', 'resolved', 2, 't', 's', ?, ?)",
        (1700000000 + 100, 1700000000 + 100),
    )
    conn.execute(
        "INSERT INTO ingest_log(id, request_id, workspace_id, integration_id, received_at, accepted, alerts)"
        " VALUES (3, 'a', 1, 1, 1700000000, 1, 4), (4, 'b', 1, 1, 1700000050, 0, 0),"
        " (9, 'c', 1, 1, 1700003700, 1, 2)"
    )
    migrate.apply(conn, target=14)
    expected_alerts = rows(
        conn,
        "SELECT workspace_id, CAST(first_seen_at / 3600 AS INTEGER) * 3600 AS h, integration_id, severity,"
        " count(*) FROM alerts GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
    )
    assert rows(conn, "SELECT * FROM alert_rollups ORDER BY 1, 2, 3, 4") == expected_alerts
    assert sum(r[4] for r in expected_alerts) == len(rows(conn, "SELECT id FROM alerts")) >= 2
    assert rows(conn, "SELECT * FROM ingest_rollups ORDER BY hour") == [
        (1, 1699999200, 1, 4, 1, 1),
        (1, 1700002800, 1, 2, 1, 0),
    ]
    assert rq.progress(conn) == rq.Progress(alerts_done=max_id(conn, "alerts"), ingest_done=9)
    conn.close()
