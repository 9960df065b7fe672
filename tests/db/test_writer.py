"""The single write path: group commit, isolation of failures, full disk, readers not blocked."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import wait
from pathlib import Path

import apsw
import pytest

from signalcraft.db import Database
from signalcraft.db.connection import scalar
from signalcraft.errors import StorageError, StorageFull


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = Database(tmp_path / "t.db")
    database.open()
    database.write(lambda c: c.execute("CREATE TABLE t (v INTEGER NOT NULL UNIQUE)"))
    yield database
    database.close()


def insert(v: int):  # type: ignore[no-untyped-def]
    return lambda c: c.execute("INSERT INTO t(v) VALUES (?)", (v,))


def test_many_concurrent_writes_are_grouped_into_few_transactions(db: Database) -> None:
    gate = threading.Event()
    db.writer.submit(lambda c: gate.wait(5))  # hold the writer so the rest queue up
    futures = [db.writer.submit(insert(i)) for i in range(200)]
    before = db.writer.stats.transactions
    gate.set()
    wait(futures, timeout=10)
    assert all(f.exception() is None for f in futures)
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM t")) == 200
    assert db.writer.stats.transactions - before <= 3


def test_a_failing_write_fails_alone_and_its_neighbours_commit(db: Database) -> None:
    gate = threading.Event()
    db.writer.submit(lambda c: gate.wait(5))
    ok1 = db.writer.submit(insert(1))
    dup = db.writer.submit(
        lambda c: (c.execute("INSERT INTO t(v) VALUES (2)"), c.execute("INSERT INTO t(v) VALUES (1)"))
    )
    ok3 = db.writer.submit(insert(3))
    gate.set()
    ok1.result(5)
    with pytest.raises(apsw.ConstraintError):
        dup.result(5)
    ok3.result(5)
    # the failing write's first statement (v=2) was rolled back with it
    assert db.read(lambda c: [r[0] for r in c.execute("SELECT v FROM t ORDER BY v")]) == [1, 3]


def test_a_full_disk_fails_the_write_with_a_clear_error_and_stores_nothing_half(db: Database) -> None:
    pages = db.write(lambda c: scalar(c, "PRAGMA page_count"))
    db.write(lambda c: scalar(c, f"PRAGMA max_page_count = {pages + 1}"))
    big = "x" * 200_000

    def too_big(c: apsw.Connection) -> None:
        c.execute("CREATE TABLE IF NOT EXISTS blobs (b TEXT)")
        c.execute("INSERT INTO t(v) VALUES (99)")
        c.execute("INSERT INTO blobs(b) VALUES (?)", (big,))

    with pytest.raises(StorageFull, match="disk is full"):
        db.write(too_big)
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM t WHERE v = 99")) == 0
    # the writer keeps working for writes that fit
    db.write(insert(7))
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM t WHERE v = 7")) == 1


def test_readers_do_not_wait_for_a_long_write(db: Database) -> None:
    db.write(insert(1))
    in_write, release = threading.Event(), threading.Event()

    def slow(c: apsw.Connection) -> None:
        c.execute("INSERT INTO t(v) VALUES (2)")
        in_write.set()
        release.wait(5)

    future = db.writer.submit(slow)
    assert in_write.wait(5)
    # the write transaction is open and holds the write lock; a read still answers, from the
    # last committed state
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM t")) == 1
    release.set()
    future.result(5)
    assert db.read(lambda c: scalar(c, "SELECT count(*) FROM t")) == 2


def test_a_write_after_stop_is_refused_clearly(tmp_path: Path) -> None:
    database = Database(tmp_path / "s.db")
    database.open()
    database.close()
    with pytest.raises(StorageError, match="not running"):
        database.write(lambda c: None)


def test_a_corrupt_database_file_is_refused_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="bad.db: not a SignalCraft database or corrupt"):
        Database(path).open()


# --- callers on an event loop (Writer.arun) -----------------------------------------------------


def test_concurrent_awaited_writes_commit_in_one_transaction_and_each_gets_its_own_result(
    db: Database,
) -> None:
    running, gate = threading.Event(), threading.Event()
    held = db.writer.submit(lambda c: (running.set(), gate.wait(5)))
    assert running.wait(5)  # the writer is inside the held write: the awaited writes queue up

    async def scenario() -> list[int]:
        def insert_and_return(v: int):  # type: ignore[no-untyped-def]
            return lambda c: (c.execute("INSERT INTO t(v) VALUES (?)", (v,)), c.last_insert_rowid())[1]

        tasks = [asyncio.create_task(db.awrite(insert_and_return(v))) for v in range(20)]
        await asyncio.sleep(0)  # every task has queued its write and now waits for it
        before = (db.writer.stats.transactions, db.writer.stats.writes)
        gate.set()
        results = await asyncio.gather(*tasks)
        held.result(5)
        after = (db.writer.stats.transactions, db.writer.stats.writes)
        # the held write's own transaction, then one for all twenty
        assert after[0] - before[0] == 2
        assert after[1] - before[1] == 21
        return results

    rowids = asyncio.run(scenario())
    assert len(set(rowids)) == 20
    assert db.read(lambda c: [r[0] for r in c.execute("SELECT v FROM t ORDER BY rowid")]) == list(range(20))


def test_a_caller_cancelled_before_its_write_started_stores_nothing_and_the_writer_goes_on(
    db: Database,
) -> None:
    gate = threading.Event()
    db.writer.submit(lambda c: gate.wait(5))

    async def scenario() -> None:
        doomed = asyncio.create_task(db.awrite(insert(1)))
        await asyncio.sleep(0)  # queued behind the held write
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        gate.set()
        await db.awrite(insert(2))  # the writer still works, and skipped the cancelled write

    asyncio.run(scenario())
    assert db.read(lambda c: [r[0] for r in c.execute("SELECT v FROM t")]) == [2]


def test_a_caller_cancelled_while_its_write_runs_gets_it_stored_exactly_once(db: Database) -> None:
    started, release = threading.Event(), threading.Event()

    def slow_insert(c: apsw.Connection) -> None:
        started.set()
        release.wait(5)
        c.execute("INSERT INTO t(v) VALUES (1)")

    async def scenario() -> None:
        task = asyncio.create_task(db.awrite(slow_insert))
        while not started.is_set():  # the writer thread is inside the write now
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        await db.awrite(insert(2))  # settles after the cancelled write's commit
        # the result of the cancelled write arrives for nobody, without an error on the loop

    errors: list[dict[str, object]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _loop, context: errors.append(context))
        await scenario()

    asyncio.run(main())
    assert db.read(lambda c: [r[0] for r in c.execute("SELECT v FROM t ORDER BY v")]) == [1, 2]
    assert errors == []
    assert db.writer.alive
