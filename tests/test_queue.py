"""The task queue: workers wake on enqueue instead of polling, the consumer runs real tasks
on a real SQLite file, stops gracefully, leaves signals to the runtime; and the
housekeeping task does its work when called."""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from huey import SqliteHuey

from signalcraft.auth.rbac import Role
from signalcraft.auth.secrets import new_token, token_hash
from signalcraft.db.connection import rows
from signalcraft.db.queries import accounts as q
from signalcraft.queue import QueueConsumer, WakeableSqliteStorage, create_huey
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, member

JOIN_TIMEOUT = 10.0  # generous; without the wake-up a blocked dequeue would take idle_wait (60 s)


class ObservedCondition(threading.Condition):
    """A Condition that tells the test when someone has started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()  # the lock is held until super().wait() releases it: no lost notify
        return super().wait(timeout)


def storage(tmp_path: Path, idle_wait: float) -> WakeableSqliteStorage:
    return WakeableSqliteStorage(name="t", filename=str(tmp_path / "queue.db"), idle_wait=idle_wait)


def dequeue_in_thread(store: WakeableSqliteStorage) -> tuple[threading.Thread, list[bytes | None]]:
    got: list[bytes | None] = []
    thread = threading.Thread(target=lambda: got.append(store.dequeue()), daemon=True)
    thread.start()
    return thread, got


# --- the wake-up ----------------------------------------------------------------------------


def test_a_blocked_dequeue_returns_as_soon_as_something_is_enqueued(tmp_path: Path) -> None:
    store = storage(tmp_path, idle_wait=60.0)
    cond = ObservedCondition()
    store._cond = cond
    thread, got = dequeue_in_thread(store)
    assert cond.waiting.wait(JOIN_TIMEOUT), "the dequeue never blocked"
    store.enqueue(b"payload")
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), "dequeue still blocked: enqueue did not wake it"
    assert got == [b"payload"]


def test_a_dequeue_with_work_waiting_returns_it_without_blocking(tmp_path: Path) -> None:
    store = storage(tmp_path, idle_wait=60.0)
    store._cond = cond = ObservedCondition()
    store.enqueue(b"first")
    assert store.dequeue() == b"first"
    assert not cond.waiting.is_set()


def test_an_idle_dequeue_gives_up_after_idle_wait_so_the_worker_can_see_the_stop_flag(tmp_path: Path) -> None:
    store = storage(tmp_path, idle_wait=0.05)
    thread, got = dequeue_in_thread(store)
    thread.join(JOIN_TIMEOUT)
    assert got == [None]


def test_the_storage_reports_blocking_so_huey_workers_do_not_add_their_own_backoff(tmp_path: Path) -> None:
    huey = create_huey(tmp_path / "queue.db")
    assert isinstance(huey.storage, WakeableSqliteStorage) and huey.storage.blocking is True


# --- a real consumer ------------------------------------------------------------------------


@pytest.fixture
def huey(tmp_path: Path) -> SqliteHuey:
    return create_huey(tmp_path / "queue.db")


@pytest.fixture
def consumer(huey: SqliteHuey) -> Iterator[QueueConsumer]:
    running = QueueConsumer(huey, workers=2, shutdown_timeout=10.0)
    yield running
    running.stop()


def test_a_task_enqueued_after_the_workers_sat_idle_runs(huey: SqliteHuey, consumer: QueueConsumer) -> None:
    ran = threading.Event()

    @huey.task()
    def mark(value: str) -> None:
        if value == "after idle":
            ran.set()

    consumer.start()
    assert consumer.alive
    time.sleep(3.0)  # a real idle period: both workers block (or, with Huey's backoff, would sleep)
    mark("after idle")
    assert ran.wait(JOIN_TIMEOUT), "the task did not run"


def test_stop_lets_a_running_task_finish(huey: SqliteHuey, consumer: QueueConsumer) -> None:
    started, finished = threading.Event(), threading.Event()

    @huey.task()
    def slow() -> None:
        started.set()
        time.sleep(0.5)  # the task's own work, still running when stop() is called
        finished.set()

    consumer.start()
    slow()
    assert started.wait(JOIN_TIMEOUT)
    consumer.stop()
    assert finished.is_set(), "stop() returned before the running task finished"
    assert not consumer.alive


def test_the_consumer_installs_no_signal_handlers(consumer: QueueConsumer) -> None:
    signums = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in signums}
    consumer.start()
    assert {s: signal.getsignal(s) for s in signums} == before


# --- housekeeping ---------------------------------------------------------------------------


def _call(parts: Parts, name: str) -> Any:
    task: Any = parts.ctx.extras["tasks"][name]
    return task.call_local()


def test_housekeeping_is_due_every_fifteen_minutes(parts: Parts) -> None:
    def due(minute: int) -> bool:
        names = [t.name for t in parts.ctx.huey.read_periodic(dt.datetime(2030, 1, 1, 10, minute))]
        return "housekeeping" in names

    assert due(0) and due(15) and due(45)
    assert not due(7)


def test_housekeeping_deletes_expired_and_idle_sessions_and_old_login_failures(
    parts: Parts, clock: FakeClock
) -> None:
    db, auth, now = parts.ctx.db, parts.ctx.settings.auth, clock()
    live = member(db, "live@example.com", Role.VIEWER, "acme", now)
    idle_seconds, window = auth.session_idle_minutes * 60.0, auth.login_window_minutes * 60.0

    def seed(conn: Any) -> None:
        uid = live.user.id
        # expired: past its absolute end; idle: not seen for longer than the idle limit
        q.create_session(conn, token_hash(new_token()), uid, "c", now - 3600, now - 1, "127.0.0.1", "expired")
        q.create_session(
            conn, token_hash(new_token()), uid, "c", now - idle_seconds - 60, now + 86400, "", "idle"
        )
        q.record_login_failure(conn, "live@example.com", "10.0.0.1", now - window - 1)
        q.record_login_failure(conn, "live@example.com", "10.0.0.2", now - 10)

    db.write(seed)
    _call(parts, "housekeeping")
    sessions = db.read(lambda c: rows(c, "SELECT user_agent FROM sessions ORDER BY id"))
    failures = db.read(lambda c: rows(c, "SELECT ip FROM login_failures"))
    assert sessions == [("t",)]  # the one member() opened just now
    assert failures == [("10.0.0.2",)]
