"""Storage: one SQLite file, one writer thread, readers on their own connections."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import apsw

from signalcraft.config import Settings
from signalcraft.db import migrate
from signalcraft.db.connection import ReaderPool, open_connection
from signalcraft.db.writer import Writer
from signalcraft.errors import StorageError

T = TypeVar("T")


class Database:
    """The database as the rest of the code sees it: ``write``/``awrite`` and ``read``/``aread``.

    Reads run on a small thread pool (each thread has its own connection) so a slow query
    never blocks the event loop or waits on the writer.
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout_ms: int = 5000,
        synchronous: str = "normal",
        batch_max: int = 512,
        read_threads: int = 4,
    ) -> None:
        self.path = path
        self.writer = Writer(
            path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous, batch_max=batch_max
        )
        self.readers = ReaderPool(path, busy_timeout_ms=busy_timeout_ms)
        self._busy = busy_timeout_ms
        self._pool = ThreadPoolExecutor(max_workers=read_threads, thread_name_prefix="signalcraft-read")

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(
            settings.data.database_path,
            busy_timeout_ms=settings.database.busy_timeout_ms,
            synchronous=settings.database.synchronous,
            batch_max=settings.database.writer_batch_max,
        )

    def open(self, *, create: bool = True) -> None:
        """Create the directory if allowed, migrate to the latest schema, start the writer."""
        if not self.path.exists():
            if not create:
                raise StorageError(f"{self.path}: database file not found")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"{self.path.parent}: cannot create data directory ({exc.strerror})"
                ) from None
        conn = open_connection(self.path, busy_timeout_ms=self._busy)
        try:
            migrate.apply(conn)
        finally:
            conn.close()
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self._pool.shutdown(wait=True)
        self.readers.close()

    def write(self, fn: Callable[[apsw.Connection], T], timeout: float | None = 60.0) -> T:
        return self.writer.run(fn, timeout)

    async def awrite(self, fn: Callable[[apsw.Connection], T]) -> T:
        return await self.writer.arun(fn)

    def read(self, fn: Callable[[apsw.Connection], T]) -> T:
        """Run ``fn`` on this thread's read connection inside one read transaction."""
        with self.readers.snapshot() as conn:
            return fn(conn)

    async def aread(self, fn: Callable[[apsw.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self.read, fn)
