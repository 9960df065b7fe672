"""The inbox's search and label filters on a real SQLite file: the same groups in the same order
whichever way the query reaches them (few full-text matches or label candidates: through them;
many: by walking the groups), alert labels as well as group labels, looked up through
``label_groups`` and checked exactly."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import apsw
import orjson
import pytest

from signalcraft.db import migrate
from signalcraft.db.connection import open_connection
from signalcraft.db.queries import alert_match as am
from signalcraft.db.queries import alert_work as aw


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[apsw.Connection]:
    c = open_connection(tmp_path / "db")
    migrate.apply(c)
    c.execute("INSERT INTO workspaces(id, slug, name, created_at) VALUES (1, 'a', 'A', 0), (2, 'b', 'B', 0)")
    for ws in (1, 2):
        c.execute(
            "INSERT INTO integrations(id, workspace_id, type, name, token_hash, token_hint, created_at)"
            " VALUES (?, ?, 'webhook', 'w', ?, 'x', 0)",
            (ws, ws, f"h{ws}"),
        )
    yield c
    c.close()


def group(
    conn: apsw.Connection,
    gid: int,
    last_seen: float,
    group_labels: dict[str, str],
    alerts: list[tuple[str, dict[str, str]]],
    ws: int = 1,
) -> None:
    """A group last seen at ``last_seen`` with (title, labels) alerts."""
    conn.execute(
        "INSERT INTO alert_groups(id, workspace_id, integration_id, group_key, status, severity, title,"
        " source, group_labels, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, 'triggered', 3, ?,"
        " 'webhook', ?, 0, ?)",
        (gid, ws, ws, f"k{gid}", f"group {gid}", orjson.dumps(group_labels).decode(), last_seen),
    )
    for n, (title, labels) in enumerate(alerts):
        conn.execute(
            "INSERT INTO alerts(workspace_id, integration_id, group_id, fingerprint, status, severity, title,"
            " source, labels, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, 'firing', 3, ?, 'webhook', ?,"
            " 0, ?)",
            (ws, ws, gid, f"{gid}.{n}", title, orjson.dumps(labels).decode(), last_seen),
        )


@pytest.fixture
def dataset(conn: apsw.Connection) -> None:
    group(conn, 1, 100, {"service": "db"}, [("DiskFull on db", {"pod": "db-1", "env": "prod"})])
    group(
        conn,
        2,
        300,
        {"service": "api"},
        [
            ("Latency on api", {"pod": "api-7", "env": "prod"}),
            ("DiskFull on api", {"pod": "api-8", "zone": "zürich"}),
        ],
    )
    group(conn, 3, 200, {"service": "db", "pod": "api-7"}, [("ReplicaLag on db", {"env": "staging"})])
    group(conn, 4, 400, {}, [("DiskFull on cache", {"pod": "api-70", "env": "prod"})])
    group(conn, 5, 500, {"service": "db"}, [("DiskFull on db", {"pod": "api-7"})], ws=2)


def ids(conn: apsw.Connection, f: aw.InboxFilter, limit: int = 50) -> list[int]:
    return [r.group.id for r in aw.list_inbox(conn, 1, f, limit=limit)]


@pytest.fixture(params=["few matches", "many matches"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "many matches":
        monkeypatch.setattr(am, "FEW_MATCHES", 0)
        monkeypatch.setattr(am, "FEW_GROUPS", 0)
    return str(request.param)


@pytest.mark.usefixtures("dataset", "path")
def test_search_finds_groups_by_any_of_their_alerts_newest_activity_first(conn: apsw.Connection) -> None:
    assert ids(conn, aw.InboxFilter(search="DiskFull")) == [4, 2, 1]
    assert ids(conn, aw.InboxFilter(search="diskfull db")) == [1]
    assert ids(conn, aw.InboxFilter(search="DiskFull"), limit=2) == [4, 2]
    assert ids(conn, aw.InboxFilter(search="nothing")) == []


@pytest.mark.usefixtures("dataset", "path")
def test_a_label_matches_on_the_group_or_on_any_of_its_alerts(conn: apsw.Connection) -> None:
    # api-7: an alert of group 2, and group 3's own labels; not api-70, not the other workspace.
    assert ids(conn, aw.InboxFilter(label=("pod", "api-7"))) == [2, 3]
    assert ids(conn, aw.InboxFilter(label=("service", "db"))) == [3, 1]
    assert ids(conn, aw.InboxFilter(label=("env", "prod"))) == [4, 2, 1]
    assert ids(conn, aw.InboxFilter(label=("env", "prod")), limit=1) == [4]
    assert ids(conn, aw.InboxFilter(label=("pod", "api"))) == []
    assert ids(conn, aw.InboxFilter(label=("env", "prod"), search="latency")) == [2]


@pytest.mark.usefixtures("dataset", "path")
def test_a_label_outside_ascii_is_found(conn: apsw.Connection) -> None:
    assert ids(conn, aw.InboxFilter(label=("zone", "zürich"))) == [2]
    assert ids(conn, aw.InboxFilter(label=("zone", "zurich"))) == []


@pytest.mark.usefixtures("dataset", "path")
def test_a_label_an_alert_no_longer_has_stops_matching(conn: apsw.Connection) -> None:
    conn.execute("UPDATE alerts SET labels = ? WHERE fingerprint = '2.0'", ('{"pod": "api-9"}',))
    assert ids(conn, aw.InboxFilter(label=("pod", "api-7"))) == [3]
    assert ids(conn, aw.InboxFilter(label=("pod", "api-9"))) == [2]
    conn.execute("DELETE FROM alerts WHERE fingerprint = '2.1'")
    assert ids(conn, aw.InboxFilter(label=("zone", "zürich"))) == []


@pytest.mark.usefixtures("dataset")
def test_a_deleted_group_takes_its_labels_with_it(conn: apsw.Connection) -> None:
    assert label_rows(conn, 2) > 0
    conn.execute("DELETE FROM alert_groups WHERE id = 2")
    assert label_rows(conn, 2) == 0


def label_rows(conn: apsw.Connection, group_id: int) -> int:
    return int(next(conn.execute("SELECT count(*) FROM label_groups WHERE group_id = ?", (group_id,)))[0])


@pytest.mark.usefixtures("path")
def test_the_label_filter_agrees_with_reading_every_alert(conn: apsw.Connection) -> None:
    """Random groups and labels, some changed after the fact: for every label pair, the inbox
    lists what checking every group's and every alert's labels lists."""
    rnd = random.Random(5)
    values = {"pod": ["a-1", "a-2", "b-1"], "env": ["prod", "dev"], "k.8s/x": ["1", "ü"], "n": ["5"]}
    for gid in range(1, 61):
        own = {"env": rnd.choice(values["env"])} if rnd.random() < 0.3 else {}
        alerts = [("t", pick(rnd, values)) for _ in range(rnd.randrange(0, 5))]
        group(conn, gid, rnd.randrange(1000), own, alerts, ws=1 + (gid % 7 == 0))
    conn.execute("UPDATE alerts SET labels = json_set(labels, '$.pod', 'b-1') WHERE id % 5 = 0")
    conn.execute("UPDATE alerts SET labels = json_set(labels, '$.n', 5) WHERE id % 3 = 0")  # a number
    conn.execute("DELETE FROM alerts WHERE id % 11 = 0")
    for key, choices in values.items():
        for value in choices:
            expected = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM alert_groups g WHERE workspace_id = 1"
                    " AND (json_extract(group_labels, ?) = ? OR EXISTS (SELECT 1 FROM alerts a"
                    " WHERE a.group_id = g.id AND json_extract(a.labels, ?) = ?))"
                    " ORDER BY last_seen_at DESC, id DESC",
                    (am.label_path(key), value, am.label_path(key), value),
                )
            ]
            assert ids(conn, aw.InboxFilter(label=(key, value)), limit=100) == expected, (key, value)
    assert ids(conn, aw.InboxFilter(label=("n", "5")), limit=100)  # the text ones still match


def pick(rnd: random.Random, values: dict[str, list[str]]) -> dict[str, str]:
    return {k: rnd.choice(v) for k, v in values.items() if rnd.random() < 0.6}


def test_labels_stored_before_the_upgrade_are_found(tmp_path: Path) -> None:
    c = open_connection(tmp_path / "old")
    migrate.apply(c, target=16)
    c.execute("INSERT INTO workspaces(id, slug, name, created_at) VALUES (1, 'a', 'A', 0)")
    c.execute(
        "INSERT INTO integrations(id, workspace_id, type, name, token_hash, token_hint, created_at)"
        " VALUES (1, 1, 'webhook', 'w', 'h', 'x', 0)"
    )
    group(c, 1, 100, {"service": "db"}, [("DiskFull", {"pod": "db-1"})])
    group(c, 2, 200, {}, [("DiskFull", {"pod": "db-2", "n": 3})])  # type: ignore[dict-item]
    migrate.apply(c)
    assert ids(c, aw.InboxFilter(label=("pod", "db-2"))) == [2]
    assert ids(c, aw.InboxFilter(label=("service", "db"))) == [1]
    assert list(c.execute("SELECT key, value FROM label_groups WHERE group_id = 2")) == [("pod", "db-2")]
    c.close()


def test_after_hours_arithmetic_agrees_with_strftime(conn: apsw.Connection) -> None:
    """The dashboard counts pages outside working hours with integer arithmetic; strftime is
    the reference, including times a fraction of a millisecond before a boundary."""
    from signalcraft.db.queries.stats import AFTER_HOURS

    conn.execute("CREATE TEMP TABLE t(first_seen_at REAL)")
    hours = [1_799_996_400 + h * 3600 for h in range(24 * 8)]  # eight days, every hour
    times = [h + d for h in hours for d in (-0.0006, -0.0005, -0.0004, 0.0, 0.0004, 1799.5, 3599.9)]
    conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in times])
    reference = (
        "strftime('%w', first_seen_at, 'unixepoch') IN ('0', '6')"
        " OR CAST(strftime('%H', first_seen_at, 'unixepoch') AS INTEGER) NOT BETWEEN 9 AND 17"
    )
    found = list(conn.execute(f"SELECT sum(({reference}) IS NOT ({AFTER_HOURS})), sum({AFTER_HOURS}) FROM t"))
    assert found[0][0] == 0
    assert 0 < found[0][1] < len(times)
