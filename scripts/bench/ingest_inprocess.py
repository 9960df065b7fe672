"""The ingest work of one request, measured alone: no sockets, no HTTP, no load generator.

With the bodies of ``ingest_vs_alertmanager.py`` (single alerts and 50-alert batches of
re-sends, 500 label sets stored once first), on a fresh database in a temporary directory:

- ``parse+prepare``: :func:`parse_api_v2_body` and :func:`prepare` (the event loop's part),
  process CPU per request, best of 5;
- ``writer``: compress and :func:`apply` through the real writer thread, 8 requests per
  transaction (as the server groups them), commits included; the writer thread's CPU per
  request, alone and then next to a thread spinning in Python (one GIL for both), twice;
  then SQLite's own time per statement (its profile hook), per request.

Compare these with the server's CPU per request (``ingest_vs_alertmanager.py``): the
difference is what serving costs beyond the work itself.

    .venv/bin/python scripts/bench/ingest_inprocess.py
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import apsw

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_vs_alertmanager as bench

from signalcraft.auth.secrets import new_token
from signalcraft.config import DataConfig, load_settings, with_overrides
from signalcraft.db import Database
from signalcraft.db.queries import accounts, integrations
from signalcraft.db.queries import alerts as aq
from signalcraft.ingest.alertmanager import parse_api_v2_body
from signalcraft.pipeline.process import RawBody, apply, prepare
from signalcraft.web.ingest.common import new_request_id

Job = Callable[[apsw.Connection], object]


def print_statements(db: Database, batch: list[Job]) -> None:
    """SQLite's own time per statement (its profile hook), per request, largest first."""
    spent: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def hook(sql: str, nanoseconds: int) -> None:
        entry = spent[" ".join(sql.split())[:70]]
        entry[0] += 1
        entry[1] += nanoseconds

    db.writer.run(lambda conn: conn.set_profile(hook))
    try:
        for i in range(0, len(batch), 8):
            for future in [db.writer.submit(job) for job in batch[i : i + 8]]:
                future.result()
    finally:
        db.writer.run(lambda conn: conn.set_profile(None))
    for sql, (calls, ns) in sorted(spent.items(), key=lambda item: -item[1][1])[:8]:
        print(f"    {ns / 1000 / len(batch):7.1f} us/request {calls:6} calls  {sql}")


def main() -> int:
    print(f"load average at start: {os.getloadavg()}")
    bodies = bench.Bodies.make(500, 50)
    now = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="ingest-inprocess-") as tmp:
        settings = with_overrides(load_settings(None, env={}), data=DataConfig(dir=tmp))
        db = Database.from_settings(settings)
        db.open()
        try:
            stamp = time.time()
            ws = db.write(lambda c: accounts.create_workspace(c, "bench", "Bench", stamp))
            integration = db.write(
                lambda c: integrations.create(c, ws.id, "prometheus", "bench", new_token(), {}, stamp)
            )

            def jobs(batch: list[bytes], rounds: int) -> list[Job]:
                made: list[Job] = []
                for _ in range(rounds):
                    for body in batch:
                        result = parse_api_v2_body(body, {}, now=now)
                        prepared = prepare(result, integration)

                        def store(  # type: ignore[no-untyped-def]
                            conn: apsw.Connection, body: bytes = body, prepared=prepared, result=result
                        ) -> object:
                            raw = RawBody("application/json", len(body), aq.compress(body))
                            return apply(
                                conn, integration, prepared, result.deploys, raw,
                                request_id=new_request_id(), now=time.time(), window_seconds=300,
                            )  # fmt: skip

                        made.append(store)
                return made

            def writer_cpu_ms(batch: list[Job]) -> float:
                marks: list[float] = []
                db.writer.run(lambda _c: marks.append(time.thread_time()))
                for i in range(0, len(batch), 8):
                    for future in [db.writer.submit(job) for job in batch[i : i + 8]]:
                        future.result()
                db.writer.run(lambda _c: marks.append(time.thread_time()))
                return (marks[1] - marks[0]) / len(batch) * 1000

            def parse_prepare_ms(batch: list[bytes], rounds: int) -> float:
                started = time.process_time()
                for _ in range(rounds):
                    for body in batch:
                        prepare(parse_api_v2_body(body, {}, now=now), integration)
                return (time.process_time() - started) / (rounds * len(batch)) * 1000

            for job in jobs(bodies.batches, 1):  # every label set stored once: the rest are re-sends
                db.writer.run(job)
            stop = threading.Event()

            def spin() -> None:
                x = 0
                while not stop.is_set():
                    for i in range(1000):
                        x += i

            for name, batch, rounds in (("single", bodies.single, 1), ("batch50", bodies.batches, 4)):
                best = min(parse_prepare_ms(batch, rounds * 6) for _ in range(5))
                print(f"{name:8} parse+prepare {best:.3f} ms/request (best of 5)")
                for beside in ("alone", "spinning thread", "alone", "spinning thread"):
                    made = jobs(batch, rounds)
                    spinner = threading.Thread(target=spin) if beside != "alone" else None
                    if spinner is not None:
                        stop.clear()
                        spinner.start()
                    ms = writer_cpu_ms(made)
                    if spinner is not None:
                        stop.set()
                        spinner.join()
                    print(f"{name:8} writer, {beside:16} {ms:.3f} ms/request")
                print_statements(db, jobs(batch, rounds))
        finally:
            db.close()
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
