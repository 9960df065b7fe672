"""Uptime engine: CPU, start lateness, storage, and the monitor list's render time.

Scenarios (each on a fresh data directory, loopback only, bounded in time):

- ``http``: ``--http`` HTTP monitors at a 30 s interval against a local keep-alive HTTP server
  (a separate process, so its CPU is not counted) for ``--seconds``. The probe loop runs as in
  ``signalcraft serve`` (``ProbeLoop.run``), database writes included. Prints the process's
  CPU use as % of one core over the measured window (after one interval of warm-up), checks
  per second, and how late checks started against their due time (p50/p99/max).
- ``tcp``: the same with ``--tcp`` TCP monitors at 60 s against a local listener.
- ``storage``: ``--store-monitors`` monitors checked every 30 s for ``--days`` simulated days
  (time is a parameter: results are fed to the same write path the engine uses, 1% failing
  in bursts so state changes happen), with the engine's hourly rollups and retention. Prints
  the database size per monitor per day (all days, and the last day's growth: steady state).
- ``list``: ``--list-monitors`` monitors with 24 hours of rollups and some state changes; the
  monitor list page rendered in-process 7 times. Prints server time p50 and max.

    .venv/bin/python scripts/bench/uptime_engine.py [--only http,tcp,storage,list]
        [--seconds 75] [--http 1000] [--tcp 5000] [--store-monitors 50] [--days 3]
        [--list-monitors 1000]

Targets (issue): engine <= 15% of one core and check start within 2 s of due (p99) with
1,000 HTTP monitors at 30 s; 5,000 TCP monitors at 60 s; <= 0.02 MB per monitor per day;
list of 1,000 monitors in < 300 ms server time.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from signalcraft.config import DataConfig, Settings, load_settings, with_overrides
from signalcraft.db.queries import uptime as uq
from signalcraft.runtime import Parts, build
from signalcraft.uptime import samples
from signalcraft.uptime.model import CheckResult
from signalcraft.uptime.record import Outcome, record_results

TARGET_SERVER = r"""
import asyncio, sys
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
async def http(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    writer.close()
async def tcp(reader, writer):
    writer.close()
async def main():
    a = await asyncio.start_server(http, "127.0.0.1", 0, backlog=4096)
    b = await asyncio.start_server(tcp, "127.0.0.1", 0, backlog=4096)
    print(a.sockets[0].getsockname()[1], b.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(float(sys.argv[1]))
asyncio.run(main())
"""


def settings_in(tmp: Path) -> Settings:
    base = load_settings(None, env={})
    return with_overrides(
        base, data=DataConfig(dir=str(tmp)), uptime=dataclasses.replace(base.uptime, max_concurrency=200)
    )


def add_monitors(parts: Parts, count: int, kind: str, interval: int, settings: dict[str, Any]) -> None:
    """Bulk insert (the service path validates each; the same rows, faster for thousands)."""
    from signalcraft.db.queries import accounts as aq

    db, now = parts.ctx.db, parts.ctx.now()
    ws = db.write(lambda c: aq.workspace_by_slug(c, "bench") or aq.create_workspace(c, "bench", "Bench", now))
    values = uq.MonitorValues(kind, "m", settings, interval, 5, 3, 1)

    def insert(conn: Any, start: int, n: int) -> None:
        for i in range(start, start + n):
            uq.insert_monitor(
                conn,
                ws.id,
                dataclasses.replace(values, name=f"{kind} {i:05d}"),
                f"pub{kind}{i}",
                None,
                None,
                now,
            )

    for start in range(0, count, 500):
        db.write(lambda c, s=start: insert(c, s, min(500, count - s)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_engine(kind: str, count: int, interval: int, seconds: float) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", TARGET_SERVER, str(seconds + 60)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    http_port, tcp_port = (int(p) for p in server.stdout.readline().split())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            parts = build(settings_in(Path(tmp)))
            parts.ctx.db.open()
            target = (
                {"url": f"http://127.0.0.1:{http_port}/health"}
                if kind == "http"
                else {"host": "127.0.0.1", "port": tcp_port}
            )
            add_monitors(parts, count, kind, interval, target)
            figures = asyncio.run(_measure(parts, seconds, warmup=float(interval)))
            parts.ctx.db.close()
    finally:
        server.kill()
        server.wait()
    cpu, wall, checks, late = figures
    print(f"{kind}: {count} monitors every {interval} s, measured {wall:.0f} s after {interval} s of warm-up")
    print(f"  CPU (whole process: probes, writer, readers) {100 * cpu / wall:6.1f} % of one core")
    print(f"  checks started                               {checks / wall:6.1f} /s")
    print(
        f"  start after due time  p50 {1000 * percentile(late, 0.5):7.1f} ms   p99 "
        f"{1000 * percentile(late, 0.99):7.1f} ms   max {1000 * max(late):7.1f} ms   (n={len(late)})"
    )


async def _measure(parts: Parts, seconds: float, warmup: float) -> tuple[float, float, int, list[float]]:
    stop = asyncio.Event()
    task = asyncio.create_task(parts.probes.run(stop))
    await asyncio.sleep(warmup)
    engine = parts.probes.engine
    engine.stats.lateness.clear()
    started_checks, cpu0, wall0 = engine.stats.started, time.process_time(), time.monotonic()
    await asyncio.sleep(seconds - warmup)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    checks = engine.stats.started - started_checks
    late = list(engine.stats.lateness)
    stop.set()
    await task
    return cpu, wall, checks, late


def storage(monitors: int, days: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        parts = build(settings_in(Path(tmp)))
        parts.ctx.db.open()
        add_monitors(parts, monitors, "http", 30, {"url": "http://127.0.0.1:9/", "cert_expiry_days": 0})
        db, cfg = parts.ctx.db, parts.ctx.settings.uptime
        version = {m.id: m.updated_at for m in db.read(lambda c: uq.monitors_of_kind(c, True))}
        engine = parts.probes.engine
        start = parts.ctx.now()
        sizes = [_db_size(db)]
        for day in range(days):
            for hour_start in range(0, 86400, 3600):
                steps = []
                for step in range(hour_start, hour_start + 3600, 30):
                    now = start + day * 86400 + step
                    failing = hour_start == 5 * 3600 and step % 3600 < 150  # a 2.5-minute outage a day
                    steps.append(
                        (
                            now,
                            [
                                Outcome(
                                    i,
                                    version[i],
                                    now,
                                    CheckResult(
                                        not failing,
                                        40 + (i + step) % 20,
                                        "HTTP 500" if failing else "HTTP 200",
                                    ),
                                )
                                for i in version
                            ],
                        )
                    )

                def hour(conn: Any, steps: list[tuple[float, list[Outcome]]] = steps) -> None:
                    for at, batch in steps:
                        record_results(conn, batch, cfg, at, 3600.0)

                db.write(hour)
                asyncio.run(engine.roll_up(start + day * 86400 + hour_start + 3600 + 600))
            asyncio.run(engine.prune(start + (day + 1) * 86400))
            sizes.append(_db_size(db))
        parts.ctx.db.close()
    per_day = [(b - a) / monitors / 1e6 for a, b in itertools.pairwise(sizes)]
    overall = (sizes[-1] - sizes[0]) / monitors / days / 1e6
    print(
        f"storage: {monitors} monitors every 30 s for {days} simulated days "
        f"(raw samples kept {cfg.raw_retention_days} days)"
    )
    print(f"  per monitor per day, all days      {overall:.4f} MB")
    print("  growth per monitor, day by day     " + "  ".join(f"{d:.4f}" for d in per_day) + " MB")


def _db_size(db: Any) -> int:
    """Bytes of the database's pages in use (free pages left by retention are not stored data)."""

    def used(conn: Any) -> int:
        pages = conn.execute("PRAGMA page_count").fetchall()[0][0]
        free = conn.execute("PRAGMA freelist_count").fetchall()[0][0]
        return int((pages - free) * conn.execute("PRAGMA page_size").fetchall()[0][0])

    return int(db.read(used))


def monitor_list(count: int) -> None:
    from litestar.testing import TestClient

    from signalcraft.auth.rbac import Role
    from tests.helpers import member

    with tempfile.TemporaryDirectory() as tmp:
        parts = build(settings_in(Path(tmp)))
        parts.ctx.db.open()
        who = member(parts.ctx.db, "bench@example.com", Role.OWNER, "bench", parts.ctx.now())
        add_monitors(parts, count, "http", 60, {"url": "https://example.com/health"})
        now = parts.ctx.now()
        hour = samples.hour_of(now)

        def history(conn: Any) -> None:
            rows = [
                (m, h, 60, m % 3, 40 + h % 7, 90) for m in range(1, count + 1) for h in range(hour - 25, hour)
            ]
            uq.save_rollups(conn, rows)
            for m in range(1, count + 1, 10):
                uq.add_event(conn, m, now - 3600, "down", "HTTP 500")
                uq.add_event(conn, m, now - 3000, "up", "")

        parts.ctx.db.write(history)
        times = []
        with TestClient(app=parts.app, base_url="http://127.0.0.1:8080") as client:
            client.cookies.set("sc_session", who.session_token)
            for _ in range(7):
                t0 = time.perf_counter()
                response = client.get("/w/bench/monitors")
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200, response.text[:200]
        parts.ctx.db.close()
    print(f"list: /w/<slug>/monitors with {count} monitors ({len(response.text) // 1024} KB of HTML)")
    print(
        f"  server time  p50 {1000 * statistics.median(times):.0f} ms   max {1000 * max(times):.0f} ms "
        f"(first: {1000 * times[0]:.0f} ms, cold template cache)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="http,tcp,storage,list")
    parser.add_argument("--seconds", type=float, default=75.0)
    parser.add_argument("--http", type=int, default=1000)
    parser.add_argument("--tcp", type=int, default=5000)
    parser.add_argument("--store-monitors", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--list-monitors", type=int, default=1000)
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    if "http" in chosen:
        run_engine("http", args.http, 30, args.seconds)
    if "tcp" in chosen:
        run_engine("tcp", args.tcp, 60, max(args.seconds, 90.0))
    if "storage" in chosen:
        storage(args.store_monitors, args.days)
    if "list" in chosen:
        monitor_list(args.list_monitors)


if __name__ == "__main__":
    main()
