"""Two versions of SignalCraft's ingest, side by side: server CPU per request, runs alternating.

Starts ``signalcraft serve`` twice, with the same body and set-up as
``ingest_vs_alertmanager.py``: once from this checkout and once from another source tree
(``--base``, e.g. ``git archive main | tar -x -C /tmp/sc-base``), then runs wrk closed loops
against them in turn, ``--rounds`` times each (single alerts, then 50-alert batches), and
prints each run's requests/s and server CPU (user + system, all threads, from ``/proc``) per
request, split into the main thread (the event loop) and the two busiest other threads (the
database writer first, in practice), and the best and median per version. CPU per request
moves less than rates on a shared machine, and alternating keeps both versions under the
same drift; the load average is printed at the start and end.

    .venv/bin/python scripts/bench/ingest_ab.py --base /tmp/sc-base [--rounds 4] [--seconds 6]

Both servers run the Python environment of this checkout; the base's package is put first
on ``PYTHONPATH``. Bounded: ``rounds * 2 scenarios * 2 versions * seconds`` plus start-up.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_vs_alertmanager as bench


@contextmanager
def served(workdir: Path, source: Path | None) -> Iterator[bench.Peer]:
    """``bench.signalcraft`` with ``source`` first on the server's import path."""
    original = subprocess.Popen
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source)

    def popen(cmd: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("env", env)
        return original(cmd, **kwargs)

    bench.subprocess.Popen = popen  # type: ignore[misc]
    try:
        with bench.signalcraft(workdir, loop="default", http="default") as peer:
            bench.subprocess.Popen = original  # type: ignore[misc]
            yield peer
    finally:
        bench.subprocess.Popen = original  # type: ignore[misc]


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of ``pid`` so far."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(task.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", type=Path, required=True, help="source tree of the version to compare with")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--batch-connections", type=int, default=16)
    args = p.parse_args(argv)
    if not 1 <= args.rounds <= 10 or not 1 <= args.seconds <= 30:
        p.error("--rounds 1..10, --seconds 1..30")
    if not (args.base / "signalcraft" / "__init__.py").is_file():
        p.error(f"{args.base} has no signalcraft package")
    print(f"load average at start: {os.getloadavg()}", flush=True)
    bodies = bench.Bodies.make(500, 50)
    results: dict[tuple[str, str], list[bench.RunResult]] = {}
    with tempfile.TemporaryDirectory(prefix="ingest-ab-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        peers = {}
        for name, source in (("base", args.base.resolve()), ("this", None)):
            (root / name).mkdir()
            peers[name] = stack.enter_context(served(root / name, source))
            bench.prime(peers[name], bodies)
            bench.wrk_run(
                peers[name], bodies.single, seconds=2, connections=args.connections, threads=1,
                workdir=root, alerts_per_request=1,
            )  # fmt: skip
        for round_ in range(args.rounds):
            order = list(peers.items()) if round_ % 2 == 0 else list(reversed(peers.items()))
            for scenario, body, connections, per in (
                ("single", bodies.single, args.connections, 1),
                ("batch50", bodies.batches, args.batch_connections, 50),
            ):
                for name, peer in order:
                    before = bench.process_cpu_seconds(peer.pid)
                    threads_before = thread_cpu(peer.pid)
                    run = bench.wrk_run(
                        peer, body, seconds=args.seconds, connections=connections, threads=1,
                        workdir=root, alerts_per_request=per,
                    )  # fmt: skip
                    run.cpu_seconds = bench.process_cpu_seconds(peer.pid) - before
                    spent = {
                        tid: cpu - threads_before.get(tid, 0.0) for tid, cpu in thread_cpu(peer.pid).items()
                    }
                    loop_ms = spent.pop(peer.pid, 0.0) * 1000 / max(run.requests, 1)
                    busiest = sorted(spent.values(), reverse=True)[:2]
                    others = ", ".join(f"{cpu * 1000 / max(run.requests, 1):.3f}" for cpu in busiest)
                    results.setdefault((scenario, name), []).append(run)
                    print(
                        f"round {round_ + 1} {scenario:8} {name:5} {run.rps:8.0f} req/s "
                        f"{run.cpu_ms_per_request:7.3f} ms CPU/request (main thread {loop_ms:.3f}, "
                        f"busiest others {others}) errors {run.errors}",
                        flush=True,
                    )
    print(f"load average at end: {os.getloadavg()}")
    for scenario in ("single", "batch50"):
        for name in ("base", "this"):
            cpu = [r.cpu_ms_per_request for r in results[(scenario, name)]]
            rps = [r.rps for r in results[(scenario, name)]]
            print(
                f"{scenario:8} {name:5} CPU ms/request best {min(cpu):.3f} "
                f"median {statistics.median(cpu):.3f}; "
                f"req/s best {max(rps):.0f} median {statistics.median(rps):.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
