"""Migrations: each one applies from an empty database and from the version before it
(with data from tests/fixtures/migrations/NNNN_seed.sql where present), keeps integrity and
foreign keys, and leaves a schema the stdlib sqlite3 (used by sqlite-utils) can read."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from signalcraft.db import migrate
from signalcraft.db.connection import open_connection, rows, scalar
from signalcraft.errors import StorageError

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "migrations"
VERSIONS = [m.version for m in migrate.available()]


def seed(conn, version: int) -> None:  # type: ignore[no-untyped-def]
    """Data as a database at ``version`` would hold it."""
    path = SEEDS / f"{version:04d}_seed.sql"
    if path.exists():
        conn.execute(path.read_text())


@pytest.mark.parametrize("version", VERSIONS)
def test_migration_applies_from_empty(tmp_path: Path, version: int) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn, target=version)
    assert migrate.current_version(conn) == version
    assert scalar(conn, "PRAGMA integrity_check") == "ok"
    conn.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_migration_applies_from_the_previous_version_with_data(tmp_path: Path, version: int) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn, target=version - 1)
    for v in range(1, version):
        seed(conn, v)
    migrate.apply(conn, target=version)
    seed(conn, version)
    assert migrate.current_version(conn) == version
    assert rows(conn, "PRAGMA foreign_key_check") == []
    assert scalar(conn, "PRAGMA integrity_check") == "ok"
    conn.close()


def test_latest_schema_is_readable_by_stdlib_sqlite_and_sqlite_utils(tmp_path: Path) -> None:
    migrate.migrate_file(tmp_path / "db")
    db = sqlite_utils.Database(sqlite3.connect(tmp_path / "db"))
    names = set(db.table_names())
    assert {"workspaces", "users", "memberships", "sessions", "api_keys", "audit_log"} <= names
    for table in db.tables:
        table.count  # noqa: B018  (reads every table through the stdlib driver)


def test_applying_twice_is_a_no_op(tmp_path: Path) -> None:
    assert migrate.migrate_file(tmp_path / "db")
    assert migrate.migrate_file(tmp_path / "db") == []


def test_a_database_newer_than_the_build_is_refused(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn)
    conn.execute(f"PRAGMA user_version = {len(VERSIONS) + 5}")
    with pytest.raises(StorageError, match="newer than this build"):
        migrate.apply(conn)
    conn.close()


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    conn = open_connection(tmp_path / "db")
    migrate.apply(conn)
    conn.execute("INSERT INTO audit_log(actor, action, at) VALUES ('cli', 'x', 1)")
    with pytest.raises(Exception, match="append-only"):
        conn.execute("UPDATE audit_log SET action = 'y'")
    conn.close()
