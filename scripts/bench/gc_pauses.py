"""How long a full garbage collection pauses the server, with and without ``gc.freeze()``.

The server process holds many long-lived objects (modules, the app and its routes, compiled
templates). A full (generation 2) collection walks every tracked object, and it runs in
whichever request happens to allocate past the threshold: that request's time grows by the
pause. ``signalcraft.runtime.freeze_startup_objects`` moves what start-up allocated out of
the collector's reach.

This script builds the app as ``signalcraft serve`` does, on a data directory (e.g. the UI
bench's), requests the pages once in-process so the templates are compiled, then times
``gc.collect()`` ``--samples`` times unfrozen and frozen, alternating ``--rounds`` times.

    .venv/bin/python scripts/bench/gc_pauses.py --data /tmp/sc-bench-1m [--rounds 3] [--samples 10]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

from litestar.testing import TestClient

from signalcraft.config import DataConfig, load_settings, with_overrides
from signalcraft.runtime import build

PAGES = ("/login", "/readyz", "/healthz", "/w/bench/inbox", "/w/bench/dashboard", "/w/bench/alerts/1")


def pauses(samples: int) -> list[float]:
    found = []
    for _ in range(samples):
        started = time.perf_counter()
        gc.collect()
        found.append((time.perf_counter() - started) * 1000)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="a data directory (the UI bench's)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=10)
    args = parser.parse_args()
    settings = with_overrides(load_settings(None, env={}), data=DataConfig(dir=str(args.data)))
    parts = build(settings)
    parts.ctx.db.open()
    try:
        with TestClient(app=parts.app, base_url="http://127.0.0.1:8080") as client:
            for path in PAGES:  # pages behind a login answer with a redirect; templates still load
                client.get(path)
        gc.collect()  # what the requests left behind, so the samples time a collection of live objects
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        tracked = len(gc.get_objects())
        plain: list[float] = []
        frozen: list[float] = []
        for _ in range(args.rounds):
            plain += pauses(args.samples)
            gc.freeze()
            frozen += pauses(args.samples)
            gc.unfreeze()
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} cores)")
    finally:
        parts.ctx.db.close()
    print(f"\n{tracked:,} objects tracked by the collector after start-up")
    for name, values in (("without gc.freeze()", plain), ("after gc.freeze()", frozen)):
        print(
            f"  full collection {name:20} median {statistics.median(values):6.2f} ms"
            f"  max {max(values):6.2f} ms  ({len(values)} samples)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
