"""The Huey task queue on its own SQLite file, consumed by threads inside this process.

Two changes from a stock Huey consumer:

- Workers block on a condition that ``enqueue`` signals, instead of polling with Huey's
  backoff (up to 10 s by default), so a task queued while idle starts within milliseconds.
  The storage reports ``blocking = True``, which tells Huey's worker loop not to sleep.
- The consumer installs no signal handlers: the runtime owns SIGTERM/SIGINT and stops the
  consumer itself, after the web server has drained.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from huey import SqliteHuey
from huey import signals as huey_signals
from huey.consumer import Consumer
from huey.storage import SqliteStorage

from signalcraft.metrics import Metrics

IDLE_WAIT_SECONDS = 1.0  # how long an idle worker blocks before re-checking (and the stop flag)


class WakeableSqliteStorage(SqliteStorage):
    blocking = True

    def __init__(self, *args: Any, idle_wait: float = IDLE_WAIT_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_wait = idle_wait
        self._cond = threading.Condition()
        self._generation = 0

    def enqueue(self, data: bytes, priority: float | None = None) -> None:
        super().enqueue(data, priority)
        with self._cond:
            self._generation += 1
            self._cond.notify()

    def dequeue(self) -> bytes | None:
        with self._cond:
            seen = self._generation
        data: bytes | None = super().dequeue()
        if data is not None:
            return data
        with self._cond:
            if self._generation == seen:  # nothing enqueued since we looked: wait for a signal
                self._cond.wait(self.idle_wait)
        result: bytes | None = super().dequeue()
        return result


class _QuietConsumer(Consumer):
    def _set_signal_handlers(self) -> None:
        """The runtime handles signals; Huey must not take over SIGTERM/SIGINT."""


def create_huey(path: Path, *, immediate: bool = False) -> SqliteHuey:
    return SqliteHuey(
        name="signalcraft",
        filename=str(path),
        storage_class=WakeableSqliteStorage,
        immediate=immediate,
        results=False,
        utc=True,
    )


def instrument(huey: SqliteHuey, metrics: Metrics) -> None:
    """Count task runs and time them; expose queue depth at scrape time."""
    started: dict[str, float] = {}
    lock = threading.Lock()

    @huey.signal(huey_signals.SIGNAL_EXECUTING)
    def _executing(signal: str, task: Any) -> None:
        with lock:
            started[task.id] = time.perf_counter()

    @huey.signal(huey_signals.SIGNAL_COMPLETE, huey_signals.SIGNAL_ERROR)
    def _finished(signal: str, task: Any, exc: BaseException | None = None) -> None:
        with lock:
            t0 = started.pop(task.id, None)
        outcome = "ok" if signal == huey_signals.SIGNAL_COMPLETE else "error"
        metrics.task_runs.labels(task.name, outcome).inc()
        if t0 is not None:
            metrics.task_duration.labels(task.name).observe(time.perf_counter() - t0)

    metrics.gauge_callback(
        "signalcraft_queue_depth", "Tasks waiting in the queue.", lambda: float(huey.pending_count())
    )
    metrics.gauge_callback(
        "signalcraft_queue_scheduled", "Tasks scheduled for later.", lambda: float(huey.scheduled_count())
    )


class QueueConsumer:
    """Huey's consumer with thread workers and its periodic scheduler, started and stopped
    by the runtime."""

    def __init__(self, huey: SqliteHuey, *, workers: int, shutdown_timeout: float) -> None:
        self.huey = huey
        self._consumer = _QuietConsumer(
            huey,
            workers=workers,
            worker_type="thread",
            periodic=True,
            initial_delay=0.05,
            backoff=1.15,
            max_delay=IDLE_WAIT_SECONDS,
            scheduler_interval=1,
            check_worker_health=True,
            health_check_interval=5,
            shutdown_timeout=shutdown_timeout,
        )
        self._started = False

    @property
    def alive(self) -> bool:
        if not self._started:
            return False
        threads = [p for _, p in self._consumer.worker_threads] + [self._consumer.scheduler]
        return all(t.is_alive() for t in threads)

    def start(self) -> None:
        self._consumer.start()
        self._started = True

    def stop(self) -> None:
        """Let running tasks finish (up to the shutdown timeout), then stop."""
        if self._started:
            self._consumer.stop(graceful=True)
            self._started = False
