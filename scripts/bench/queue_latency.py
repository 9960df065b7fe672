"""Queue latency while idle: the time from ``enqueue`` to the task starting.

Runs a real consumer with 2 thread workers on a temporary SQLite queue file, lets it sit
idle for a few seconds, then enqueues ``--n`` tasks ``--interval`` seconds apart; each task
records when it started. Then the same with stock Huey: ``huey.storage.SqliteStorage`` and
a default ``huey.consumer.Consumer`` (workers poll, backing off 0.1 s x 1.15 up to 10 s).

    .venv/bin/python scripts/bench/queue_latency.py [--n 50] [--interval 0.3] [--idle 3]

Bounded: at most ``n`` tasks per run, and each run gives up 30 s after its last enqueue.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from huey import SqliteHuey
from huey.consumer import Consumer

from signalcraft.queue import QueueConsumer, create_huey

WORKERS = 2
GIVE_UP_SECONDS = 30.0


@dataclass
class Setup:
    label: str
    make_huey: Callable[[Path], SqliteHuey]
    start: Callable[[SqliteHuey], Callable[[], None]]  # starts a consumer, returns its stop


def start_ours(huey: SqliteHuey) -> Callable[[], None]:
    consumer = QueueConsumer(huey, workers=WORKERS, shutdown_timeout=10.0)
    consumer.start()
    return consumer.stop


def start_stock(huey: SqliteHuey) -> Callable[[], None]:
    consumer = Consumer(huey, workers=WORKERS, worker_type="thread")  # Huey's defaults otherwise
    consumer.start()
    return lambda: consumer.stop(graceful=True)


def stock_huey(path: Path) -> SqliteHuey:
    return SqliteHuey(name="bench", filename=str(path), results=False, utc=True)


SETUPS = {
    "ours": Setup("signalcraft (wake on enqueue)", create_huey, start_ours),
    "stock": Setup("stock huey (poll + backoff)", stock_huey, start_stock),
}


def measure(setup: Setup, *, n: int, interval: float, idle: float) -> list[float]:
    """Seconds from just before each enqueue to the start of that task."""
    latencies: dict[int, float] = {}
    lock = threading.Lock()
    all_done = threading.Event()
    with tempfile.TemporaryDirectory() as tmp:
        huey = setup.make_huey(Path(tmp) / "queue.db")

        @huey.task(name="probe")
        def probe(i: int, enqueued_at: float) -> None:
            started = time.perf_counter()
            with lock:
                latencies[i] = started - enqueued_at
                if len(latencies) == n:
                    all_done.set()

        stop = setup.start(huey)
        try:
            time.sleep(idle)  # the point: workers have been idle when the first task arrives
            for i in range(n):
                probe(i, time.perf_counter())
                time.sleep(interval)
            all_done.wait(GIVE_UP_SECONDS)
        finally:
            stop()
    with lock:
        if len(latencies) < n:
            print(f"  warning: {setup.label}: only {len(latencies)} of {n} tasks ran")
        return [latencies[i] for i in sorted(latencies)]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=50, help="tasks per run (default 50)")
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between enqueues (0.3)")
    parser.add_argument("--idle", type=float, default=3.0, help="idle seconds before the first task (3)")
    args = parser.parse_args()
    if not 1 <= args.n <= 1000 or not 0 < args.interval <= 60 or not 0 <= args.idle <= 120:
        parser.error("keep it bounded: 1 <= n <= 1000, 0 < interval <= 60, 0 <= idle <= 120")

    print(
        f"enqueue -> task start, {WORKERS} thread workers, N={args.n}, one every "
        f"{args.interval * 1000:.0f} ms after {args.idle:g} s idle"
    )
    results: dict[str, dict[str, float]] = {}
    for key, setup in SETUPS.items():
        print(f"  running {setup.label} ...", flush=True)
        results[key] = summary(measure(setup, n=args.n, interval=args.interval, idle=args.idle))

    columns = ("p50", "p95", "p99", "max")
    print(f"\n{'':32}" + "".join(f"{c:>11}" for c in columns))
    for key, setup in SETUPS.items():
        print(f"{setup.label:32}" + "".join(f"{results[key][c] * 1000:>8.2f} ms" for c in columns))
    ratios = [results["stock"][c] / max(results["ours"][c], 1e-9) for c in columns]
    print(f"{'ratio stock / ours':32}" + "".join(f"{r:>10.0f}x" for r in ratios))


if __name__ == "__main__":
    main()
