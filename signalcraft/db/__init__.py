"""Storage: one SQLite file, one writer thread, readers on their own connections."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import apsw

from signalcraft.config import Settings
from signalcraft.db import migrate
from signalcraft.db.connection import ReaderPool, open_connection
from signalcraft.db.writer import Writer
from signalcraft.errors import StorageError

if TYPE_CHECKING:
    from signalcraft.auth.keyring import Keyring

T = TypeVar("T")
log = logging.getLogger(__name__)


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
        master_key: str = "",
    ) -> None:
        from signalcraft.auth.keyring import Keyring  # here: the keyring's queries import this package

        self.path = path
        # Seals secrets stored in this database; master key from config, else beside the file.
        self.keyring: Keyring = Keyring(master_key, path.parent)
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
            master_key=settings.secrets.master_key,
        )

    def open(self, *, create: bool = True, now: float | None = None) -> None:
        """Create the directory if allowed, migrate to the latest schema, start the keyring
        (master key, data keys; seal secrets older versions stored in plaintext), start the writer."""
        from signalcraft.auth import keyring, sealed_rows

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
            now = time.time() if now is None else now
            self.keyring.start(conn, now)
            sealed = sealed_rows.seal_plaintext(conn, self.keyring, now)
            if sealed:
                log.info("sealed the plaintext secrets of %d rows stored by an earlier version", sealed)
        finally:
            conn.close()
        keyring.attach(self.path, self.keyring)
        self.writer.start()

    def close(self) -> None:
        from signalcraft.auth import keyring

        keyring.detach(self.path, self.keyring)
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
