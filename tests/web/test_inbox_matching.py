"""The inbox's search and label filters on a real SQLite file: the same groups in the same order
whichever way the query reaches them (few full-text matches: through the matches; many: by
walking the groups), alert labels as well as group labels, and labels no phrase can stand for."""

from __future__ import annotations

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
    conn: apsw.Connection, gid: int, last_seen: float, group_labels: dict[str, str],
    alerts: list[tuple[str, dict[str, str]]], ws: int = 1,
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
    group(conn, 2, 300, {"service": "api"}, [("Latency on api", {"pod": "api-7", "env": "prod"}),
                                              ("DiskFull on api", {"pod": "api-8", "zone": "zürich"})])
    group(conn, 3, 200, {"service": "db", "pod": "api-7"}, [("ReplicaLag on db", {"env": "staging"})])
    group(conn, 4, 400, {}, [("DiskFull on cache", {"pod": "api-70", "env": "prod"})])
    group(conn, 5, 500, {"service": "db"}, [("DiskFull on db", {"pod": "api-7"})], ws=2)


def ids(conn: apsw.Connection, f: aw.InboxFilter, limit: int = 50) -> list[int]:
    return [r.group.id for r in aw.list_inbox(conn, 1, f, limit=limit)]


@pytest.fixture(params=["few matches", "many matches"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "many matches":
        monkeypatch.setattr(am, "FEW_MATCHES", 0)
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


@pytest.mark.usefixtures("dataset")
def test_a_label_no_phrase_can_stand_for_is_still_found(conn: apsw.Connection) -> None:
    assert am.label_phrase("zone", "zürich") is None
    assert ids(conn, aw.InboxFilter(label=("zone", "zürich"))) == [2]
    assert ids(conn, aw.InboxFilter(label=("zone", "zurich"))) == []


@pytest.mark.parametrize(
    ("key", "value", "phrase"),
    [
        ("pod", "gateway-7", 'labels : "pod gateway 7"'),
        ("app.kubernetes.io/name", "api", 'labels : "app kubernetes io name api"'),
        ("env", "", 'labels : "env"'),
        ("-", "--", None),  # no letters or digits: no tokens
        ("zone", "zürich", None),  # JSON encoders differ on non-ASCII
        ("note", 'say "hi"', None),  # escaped in JSON text
        ("path", "c:\\tmp", None),
        ("tab", "a\tb", None),
    ],
)
def test_a_label_phrase_exists_only_when_the_json_text_holds_key_and_value_verbatim(
    key: str, value: str, phrase: str | None
) -> None:
    assert am.label_phrase(key, value) == phrase


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
