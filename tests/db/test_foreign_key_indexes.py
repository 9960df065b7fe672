"""Every foreign key can be followed backwards through an index.

When a parent row is deleted, SQLite looks up the rows that reference it (to cascade, set
NULL or refuse) with ``SELECT ... FROM child WHERE fk = ?``. Without an index whose leading
columns are the foreign key, that lookup scans the child table once per deleted parent:
retention deleting thousands of resolved groups would scan every referencing table thousands
of times. The check asks SQLite's own planner, so a partial index counts only where that lookup
can use it (``WHERE fk IS NOT NULL`` can; a condition on another column cannot).
"""

from __future__ import annotations

from pathlib import Path

import apsw
import pytest

from signalcraft.db import migrate
from signalcraft.db.connection import open_connection, rows

# Foreign keys deliberately without an index, all in released migrations (0009 and earlier).
# Each parent is deleted rarely and one row at a time, so a scan per deletion costs less than
# an index kept up on every write (several of these tables take a row per ingested alert).
_NO_USER_DELETE = "users are never deleted by the application (accounts are disabled), only by hand"
_WORKSPACE_DELETE = (
    "a workspace is deleted by its owner, one at a time: one scan per table, no index to keep up on "
    "the ingest path"
)
UNINDEXED: dict[tuple[str, tuple[str, ...]], str] = {
    ("alert_groups", ("assignee_user_id",)): _NO_USER_DELETE,
    ("alert_notes", ("user_id",)): _NO_USER_DELETE,
    ("api_keys", ("created_by",)): _NO_USER_DELETE,
    ("audit_log", ("actor_user_id",)): _NO_USER_DELETE,
    ("one_time_tokens", ("created_by",)): _NO_USER_DELETE,
    ("one_time_tokens", ("user_id",)): _NO_USER_DELETE,
    ("saved_views", ("user_id",)): _NO_USER_DELETE,
    ("sso_settings", ("break_glass_user_id",)): _NO_USER_DELETE + "; one row per workspace",
    (
        "deploy_events",
        ("integration_id",),
    ): "integrations are revoked, never deleted (only with the workspace)",
    ("alert_notes", ("workspace_id",)): _WORKSPACE_DELETE,
    ("heartbeat_pings", ("workspace_id",)): _WORKSPACE_DELETE,
    ("ingest_log", ("workspace_id",)): _WORKSPACE_DELETE,
    ("notifications", ("workspace_id",)): _WORKSPACE_DELETE,
    ("raw_payloads", ("workspace_id",)): _WORKSPACE_DELETE,
    ("routing_decisions", ("workspace_id",)): _WORKSPACE_DELETE,
    ("sso_requests", ("workspace_id",)): _WORKSPACE_DELETE + "; rows expire within minutes",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> apsw.Connection:
    conn = open_connection(Path(tmp_path_factory.mktemp("fk")) / "db")
    migrate.apply(conn)
    return conn


def foreign_keys(conn: apsw.Connection) -> list[tuple[str, tuple[str, ...], str]]:
    """(table, its columns, parent table) of every foreign key of every table."""
    found = []
    tables = rows(conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    for (table,) in tables:
        keys: dict[int, list[tuple[int, str, str]]] = {}
        for key_id, seq, parent, column, *_ in rows(conn, f"PRAGMA foreign_key_list('{table}')"):
            keys.setdefault(key_id, []).append((seq, column, parent))
        for parts in keys.values():
            parts.sort()
            found.append((table, tuple(c for _, c, _ in parts), parts[0][2]))
    return found


def lookup_uses_an_index(conn: apsw.Connection, table: str, columns: tuple[str, ...]) -> bool:
    """Whether the lookup SQLite runs for a deleted parent searches an index rather than scans."""
    where = " AND ".join(f'"{c}" = ?' for c in columns)
    plan = rows(conn, f'EXPLAIN QUERY PLAN SELECT 1 FROM "{table}" WHERE {where}', tuple(1 for _ in columns))
    details = [str(r[3]) for r in plan]
    return any(d.startswith("SEARCH") and ("INDEX" in d or "PRIMARY KEY" in d) for d in details)


def test_the_schema_has_foreign_keys_to_check(schema: apsw.Connection) -> None:
    found = {(t, c) for t, c, _ in foreign_keys(schema)}
    assert ("escalation_notices", ("group_id",)) in found and len(found) > 50


def test_every_foreign_key_leads_an_index_or_is_a_listed_exception(schema: apsw.Connection) -> None:
    missing = [
        f"{table}({', '.join(columns)}) -> {parent}"
        for table, columns, parent in foreign_keys(schema)
        if (table, columns) not in UNINDEXED and not lookup_uses_an_index(schema, table, columns)
    ]
    assert not missing, (
        "foreign keys without an index (deleting a parent scans the table):\n  " + "\n  ".join(missing)
    )


def test_every_listed_exception_is_still_a_foreign_key_without_an_index(schema: apsw.Connection) -> None:
    keys = {(table, columns) for table, columns, _ in foreign_keys(schema)}
    stale = [key for key in UNINDEXED if key not in keys or lookup_uses_an_index(schema, *key)]
    assert not stale, f"exceptions that no longer apply, remove them: {stale}"


def test_a_partial_index_on_another_column_does_not_count(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db")
    conn.execute(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), kind TEXT,"
        " other_id INTEGER REFERENCES parent(id));"
        "CREATE INDEX child_kind ON child(parent_id, kind) WHERE kind IS NOT NULL;"
        "CREATE INDEX child_other ON child(other_id) WHERE other_id IS NOT NULL;"
    )
    assert not lookup_uses_an_index(conn, "child", ("parent_id",))
    assert lookup_uses_an_index(conn, "child", ("other_id",))
    conn.execute("CREATE INDEX child_parent ON child(parent_id, kind)")
    assert lookup_uses_an_index(conn, "child", ("parent_id",))
