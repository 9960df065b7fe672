"""Numbered plain-SQL migrations (``migrations/NNNN_name.sql``), tracked by ``PRAGMA user_version``.

Each migration runs in its own transaction, so a failed one leaves the database at the
previous version. The schema stays within what both apsw's SQLite and the stdlib's
(3.40, used by sqlite-utils for ``signalcraft db``) understand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import apsw

from signalcraft.db.connection import open_connection, scalar
from signalcraft.errors import StorageError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def available() -> list[Migration]:
    """Every migration shipped with this build, in order."""
    found: list[Migration] = []
    for entry in resources.files("signalcraft.db").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, mig in enumerate(found, start=1):
        if mig.version != expected:
            raise RuntimeError(f"migration numbering has a gap or duplicate at {mig.version:04d}")
    return found


def latest_version() -> int:
    return len(available())


def current_version(conn: apsw.Connection) -> int:
    return int(scalar(conn, "PRAGMA user_version"))


def apply(conn: apsw.Connection, *, target: int | None = None) -> list[Migration]:
    """Bring the database to ``target`` (default: latest). Returns what was applied."""
    migrations = available()
    target = len(migrations) if target is None else target
    version = current_version(conn)
    if version > len(migrations):
        raise StorageError(
            f"the database is at schema version {version}, newer than this build knows "
            f"({len(migrations)}): use a newer SignalCraft or restore a backup"
        )
    applied: list[Migration] = []
    for mig in migrations[version:target]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(mig.sql)
            conn.execute(f"PRAGMA user_version={mig.version}")
        except apsw.Error as exc:
            conn.execute("ROLLBACK")
            raise StorageError(f"migration {mig.version:04d}_{mig.name} failed: {exc}") from None
        conn.execute("COMMIT")
        applied.append(mig)
    return applied


def migrate_file(path: Path, *, target: int | None = None) -> list[Migration]:
    """Open ``path`` (creating it), migrate it, close it."""
    conn = open_connection(path)
    try:
        return apply(conn, target=target)
    finally:
        conn.close()
