"""The single write path: one thread, one connection, group commit.

Every write in the process is a function ``fn(conn) -> T`` submitted here. The writer
thread takes whatever is queued (up to ``batch_max``), runs each in its own SAVEPOINT
inside one ``BEGIN IMMEDIATE`` transaction, commits once, and only then resolves the
futures. So a caller that awaits its future knows its write is durable, and a hundred
small concurrent writes cost one fsync instead of a hundred. A failing write rolls back
to its savepoint and fails alone; a failing COMMIT (disk full) fails the whole batch and
leaves nothing half-written.

Callers on an event loop (:meth:`Writer.arun`) wait on an asyncio future of their own loop;
the writer settles all of a batch's asyncio futures with one ``call_soon_threadsafe`` per
loop, so a batch of a hundred requests wakes the loop once, not a hundred times.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import apsw

from signalcraft.db.connection import open_connection
from signalcraft.errors import StorageError, StorageFull

T = TypeVar("T")
WriteFn = Callable[[apsw.Connection], T]

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(slots=True)
class _Job:
    """One write; exactly one of ``future`` (threads) and ``waiter`` (an event loop) is set."""

    fn: Callable[[apsw.Connection], Any]
    future: Future[Any] | None = None
    waiter: asyncio.Future[Any] | None = None

    def claim(self) -> bool:
        """False if the caller gave up (cancelled) before the write started: skip it."""
        if self.future is not None:
            return self.future.set_running_or_notify_cancel()
        assert self.waiter is not None
        return not self.waiter.cancelled()

    def done(self) -> bool:
        return self.future.done() if self.future is not None else self.waiter is None or self.waiter.done()


Outcome = tuple[_Job, bool, Any]  # the job, whether it succeeded, its value or exception


def _settle_waiters(outcomes: list[Outcome]) -> None:
    """On the waiters' event loop: hand each its result (unless it was cancelled meanwhile)."""
    for job, ok, value in outcomes:
        waiter = job.waiter
        if waiter is None or waiter.done():
            continue
        if ok:
            waiter.set_result(value)
        else:
            waiter.set_exception(value)


@dataclass(slots=True)
class WriterStats:
    transactions: int = 0
    writes: int = 0
    failures: int = 0
    last_commit_seconds: float = 0.0


def _storage_error(exc: apsw.Error) -> StorageError:
    if isinstance(exc, apsw.FullError):
        return StorageFull("the disk is full: the write was not stored; free space and retry")
    if isinstance(exc, apsw.ReadOnlyError):
        return StorageError("the database is read-only: the write was not stored")
    return StorageError(f"the database write failed: {exc}")


class Writer:
    """Owns the only read-write connection. Start with :meth:`start`, stop with :meth:`stop`."""

    def __init__(
        self, path: Path, *, busy_timeout_ms: int = 5000, synchronous: str = "normal", batch_max: int = 512
    ) -> None:
        self._path = path
        self._busy = busy_timeout_ms
        self._sync = synchronous
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: apsw.Connection | None = None
        self.stats = WriterStats()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._conn = open_connection(self._path, busy_timeout_ms=self._busy, synchronous=self._sync)
        self._thread = threading.Thread(target=self._run, name="signalcraft-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish everything queued, then close the connection."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def submit(self, fn: WriteFn[T]) -> Future[T]:
        future: Future[T] = Future()
        if self._thread is None:
            future.set_exception(StorageError("the database writer is not running"))
            return future
        self._queue.put(_Job(fn, future=future))
        return future

    def run(self, fn: WriteFn[T], timeout: float | None = 60.0) -> T:
        """Submit and wait: for CLI commands, tasks and tests."""
        return self.submit(fn).result(timeout)

    async def arun(self, fn: WriteFn[T]) -> T:
        """Submit and await without blocking the event loop."""
        if self._thread is None:
            raise StorageError("the database writer is not running")
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put(_Job(fn, waiter=waiter))
        return await waiter

    def _take_batch(self) -> tuple[list[_Job], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        batch: list[_Job] = [first]  # type: ignore[list-item]
        stop = False
        while len(batch) < self._batch_max:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stop = True
                break
            batch.append(item)  # type: ignore[arg-type]
        return batch, stop

    def _run(self) -> None:
        stop = False
        while not stop:
            batch, stop = self._take_batch()
            if batch:
                self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Job]) -> None:
        conn = self._conn
        assert conn is not None
        results: list[Outcome] = []
        started = time.perf_counter()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except apsw.Error as exc:
            self._settle([(job, False, _storage_error(exc)) for job in batch])
            return
        for job in batch:
            if not job.claim():
                continue
            conn.execute("SAVEPOINT w")
            try:
                value = job.fn(conn)
            except BaseException as exc:  # the caller gets its own exception back
                if not self._rollback_savepoint(conn):
                    # SQLite rolled the whole transaction back (disk full, I/O error):
                    # nothing of this batch is stored, so every caller is told so.
                    self._fail_all(batch, _storage_error(exc) if isinstance(exc, apsw.Error) else exc)
                    return
                results.append((job, False, _storage_error(exc) if isinstance(exc, apsw.FullError) else exc))
                continue
            conn.execute("RELEASE w")
            results.append((job, True, value))
        try:
            conn.execute("COMMIT")
        except apsw.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            err = _storage_error(exc)
            log.error("commit of %d writes failed: %s", len(results), err.message)
            self._fail_all([job for job, _, _ in results], err)
            return
        self.stats.transactions += 1
        self.stats.writes += len(results)
        self.stats.last_commit_seconds = time.perf_counter() - started
        self.stats.failures += sum(1 for _, ok, _ in results if not ok)
        self._settle(results)

    @staticmethod
    def _settle(outcomes: list[Outcome]) -> None:
        """Resolve thread futures here and each event loop's waiters with one wake-up."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
        for outcome in outcomes:
            job, ok, value = outcome
            if job.future is not None:
                if not job.future.done():
                    if ok:
                        job.future.set_result(value)
                    else:
                        job.future.set_exception(value)
            elif job.waiter is not None:
                by_loop.setdefault(job.waiter.get_loop(), []).append(outcome)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_waiters, settled)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                log.debug("%d writes finished after their event loop closed", len(settled))

    @staticmethod
    def _rollback_savepoint(conn: apsw.Connection) -> bool:
        if not conn.in_transaction:
            return False
        try:
            conn.execute("ROLLBACK TO w")
            conn.execute("RELEASE w")
        except apsw.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return False
        return True

    def _fail_all(self, jobs: list[_Job], err: BaseException) -> None:
        self.stats.failures += len(jobs)
        self._settle([(job, False, err) for job in jobs if not job.done()])
