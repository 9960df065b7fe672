"""SQLite connections (apsw): WAL, foreign keys, a busy timeout.

One writer connection lives in :mod:`signalcraft.db.writer`; readers get their own
connections (one per thread) so they never wait on the writer (WAL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from signalcraft.errors import StorageError

Row = tuple[Any, ...]

MMAP_BYTES = 256 << 20  # address space, not memory: pages come from the OS page cache
CACHE_KIB = 16 << 10  # per connection (SQLite's default is 2 MiB)


def _open(path: Path, *, busy_timeout_ms: int, synchronous: str, readonly: bool) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    try:
        conn = apsw.Connection(str(path), flags=flags)
        conn.set_busy_timeout(busy_timeout_ms)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
        # Reads of a large database (inbox, dashboard) are mostly page lookups: mapping the
        # file lets them use the OS page cache directly (shared by every connection) instead
        # of copying pages into each connection's own cache.
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        # Probe the file: a corrupt or foreign file fails here, not on the first request.
        conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()
    except (apsw.NotADBError, apsw.CorruptError) as exc:
        raise StorageError(f"{path}: not a SignalCraft database or corrupt ({exc})") from None
    except apsw.CantOpenError:
        raise StorageError(f"{path}: cannot open (missing directory or no permission)") from None
    return conn


def open_connection(
    path: Path, *, busy_timeout_ms: int = 5000, synchronous: str = "normal", readonly: bool = False
) -> apsw.Connection:
    """Open ``path`` with the project's pragmas. Raises StorageError with the path on failure."""
    return _open(path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous, readonly=readonly)


def rows(conn: apsw.Connection, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[Row]:
    return list(conn.execute(sql, params))


def one(conn: apsw.Connection, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Row | None:
    for row in conn.execute(sql, params):
        return tuple(row)
    return None


def scalar(conn: apsw.Connection, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> Any:
    row = one(conn, sql, params)
    return None if row is None else row[0]


class ReaderPool:
    """One read connection per thread, opened lazily; closed together on shutdown."""

    def __init__(self, path: Path, *, busy_timeout_ms: int) -> None:
        self._path = path
        self._busy = busy_timeout_ms
        self._local = threading.local()
        self._all: list[apsw.Connection] = []
        self._lock = threading.Lock()

    def get(self) -> apsw.Connection:
        conn: apsw.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self._path, busy_timeout_ms=self._busy)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def snapshot(self) -> Iterator[apsw.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        conn = self.get()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
