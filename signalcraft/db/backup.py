"""Online backup and restore of the database, and read-only inspection via sqlite-utils.

Backup uses SQLite's backup API through apsw, so it is consistent while the server keeps
writing. Restore checks the file (integrity, schema version) before replacing anything,
and replaces the database atomically (write beside, fsync, rename).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import apsw
import orjson

from signalcraft.db import migrate
from signalcraft.db.connection import open_connection, scalar
from signalcraft.errors import InvalidInput, NotFound, StorageError

if TYPE_CHECKING:
    import sqlite_utils


# Never printed by `signalcraft db export`: whole tables of credentials, and credential
# columns of tables that are otherwise worth exporting (the backup holds them all).
CREDENTIAL_TABLES = frozenset({"sessions", "one_time_tokens", "api_keys"})
CREDENTIAL_COLUMNS: dict[str, tuple[str, ...]] = {"users": ("password_hash",)}


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    version: int


def backup_database(source: Path, target: Path) -> BackupResult:
    if not source.exists():
        raise NotFound(f"{source}: no database to back up", field="--config")
    if target.exists():
        raise InvalidInput(f"{target} exists already; choose a new file name", field="file")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    src = open_connection(source)
    try:
        dest = apsw.Connection(str(partial))
        try:
            with dest.backup("main", src, "main") as job:
                # One step: a paged copy restarts whenever the server commits and may never end;
                # in WAL mode a single step does not block the writer.
                job.step(-1)
            dest.execute("PRAGMA journal_mode=DELETE")
            version = int(scalar(dest, "PRAGMA user_version"))
        finally:
            dest.close()
    except apsw.Error as exc:
        partial.unlink(missing_ok=True)
        raise StorageError(f"backup failed: {exc}") from None
    finally:
        src.close()
    partial.rename(target)
    return BackupResult(target, target.stat().st_size, version)


def check_backup(path: Path) -> int:
    """The backup's schema version, after an integrity check. Raises InvalidInput if unusable."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file", field="file")
    try:
        conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            result = scalar(conn, "PRAGMA integrity_check")
            version = int(scalar(conn, "PRAGMA user_version"))
            has_core = scalar(conn, "SELECT count(*) FROM sqlite_schema WHERE name = 'workspaces'")
        finally:
            conn.close()
    except apsw.Error as exc:
        raise InvalidInput(f"{path}: not a SignalCraft database ({exc})", field="file") from None
    if result != "ok":
        raise InvalidInput(f"{path}: integrity check failed ({result})", field="file")
    if not has_core:
        raise InvalidInput(f"{path}: not a SignalCraft database (no workspaces table)", field="file")
    if version > migrate.latest_version():
        raise InvalidInput(
            f"{path}: schema version {version} is newer than this build ({migrate.latest_version()})",
            field="file",
        )
    return version


def restore_database(backup: Path, target: Path) -> BackupResult:
    version = check_backup(backup)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + ".restoring")
    staging.write_bytes(backup.read_bytes())
    with staging.open("rb") as fh:
        os.fsync(fh.fileno())
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    staging.replace(target)
    return BackupResult(target, target.stat().st_size, version)


def _stdlib_db(path: Path) -> sqlite_utils.Database:
    if not path.exists():
        raise NotFound(f"{path}: no database", field="--config")
    import sqlite_utils  # only the inspection commands need it: not imported at start

    # Read-only through the stdlib driver: inspection never takes a write lock.
    db = sqlite_utils.Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True))
    try:
        db.execute("SELECT count(*) FROM sqlite_schema").fetchall()
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path}: not a SignalCraft database or corrupt ({exc})") from None
    return db


def table_counts(path: Path) -> dict[str, int]:
    db = _stdlib_db(path)
    return {t.name: t.count for t in db.tables if not t.name.startswith("sqlite_")}


def export_table(path: Path, table: str, *, limit: int = 0) -> Iterator[str]:
    db = _stdlib_db(path)
    if table not in db.table_names():
        raise InvalidInput(f"no table {table!r}; see 'signalcraft db tables'", field="table")
    if table in CREDENTIAL_TABLES:
        raise InvalidInput(f"{table} holds credentials and is not exported", field="table")
    hidden = CREDENTIAL_COLUMNS.get(table, ())
    for n, row in enumerate(db[table].rows, start=1):
        for column in hidden:
            row.pop(column, None)
        yield orjson.dumps(row, default=str).decode()
        if limit and n >= limit:
            break
