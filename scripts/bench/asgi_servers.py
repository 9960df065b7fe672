"""uvicorn or granian's embedded server? Throughput and latency on a tiny Litestar app.

Each server runs in its own subprocess on 127.0.0.1 with one worker (one Python
interpreter) and serves two routes shaped like our ingest endpoints:

- ``GET /reply``: a small JSON reply like an ingest response;
- ``POST /ingest``: reads a ~1 KB JSON body (an Alertmanager-like payload), parses it
  with orjson, answers the same small JSON.

Servers (``--servers``, comma-separated, default all):

- ``uvicorn``: uvicorn + httptools + uvloop (what ``uvicorn[standard]`` gives);
- ``uvicorn-asyncio``: uvicorn + httptools on the stdlib asyncio loop: what
  ``signalcraft serve`` runs today (``asyncio.run(runtime.serve(...))`` never installs uvloop);
- ``granian``: ``granian.server.embed.Server`` (ASGI) inside a uvloop event loop;
- ``granian-asyncio``: the same inside the stdlib asyncio loop.

Load: ``wrk`` (``apt-get install wrk``) with keep-alive, fixed concurrency and duration,
after a short warm-up; without wrk, a raw-socket asyncio client in this file. With 2+ CPUs
the server is pinned to CPU 0 and the load generator to CPU 1, so every server gets the
same single core. Besides req/s and latency it reports the server's CPU time (all its
threads) per request, the figure that stays meaningful on a machine shared with other work.

    .venv/bin/python scripts/bench/asgi_servers.py [--duration 10] [--concurrency 32]

Loopback only; every run is bounded by ``--duration`` and the server is stopped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from litestar import Litestar, Request, Response, get, post

HOST = "127.0.0.1"
SERVERS = ("uvicorn", "uvicorn-asyncio", "granian", "granian-asyncio")
WARMUP_SECONDS = 2
PAYLOAD = orjson.dumps(
    {
        "receiver": "signalcraft",
        "status": "firing",
        "groupKey": '{}:{alertname="HighLatency"}',
        "version": "4",
        "externalURL": "http://alertmanager.example.com:9093",
        "commonLabels": {"alertname": "HighLatency", "severity": "page", "service": "checkout"},
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "HighLatency", "instance": f"web-{i}:9100", "severity": "page"},
                "annotations": {"summary": "p99 latency above 2 s for 10 minutes on the checkout service"},
                "startsAt": "2030-01-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=latency",
                "fingerprint": f"{i:016x}",
            }
            for i in range(3)
        ],
    }
)


# --- the app and the server side (runs in the subprocess) ----------------------------------


def build_app() -> Litestar:
    @get("/reply", sync_to_thread=False)
    def reply() -> Response[dict[str, Any]]:
        return Response({"status": "success", "alerts": 3, "ignored": 0}, status_code=200)

    @post("/ingest")
    async def ingest(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
        payload = orjson.loads(await request.body())
        return Response(
            {"status": "success", "alerts": len(payload["alerts"]), "ignored": 0}, status_code=200
        )

    return Litestar([reply, ingest], logging_config=None)


def serve(kind: str, port: int, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # before any thread exists: every thread inherits it
    app = build_app()
    if kind.startswith("uvicorn"):
        import uvicorn

        loop = "asyncio" if kind.endswith("-asyncio") else "uvloop"
        config = uvicorn.Config(
            app, host=HOST, port=port, loop=loop, http="httptools", log_level="warning", access_log=False
        )
        uvicorn.Server(config).run()
        return
    from granian.constants import Interfaces
    from granian.server.embed import Server

    server = Server(app, address=HOST, port=port, interface=Interfaces.ASGI, log_enabled=False)
    if kind.endswith("-asyncio"):
        asyncio.run(server.serve())
    else:
        import uvloop

        uvloop.run(server.serve())


# --- load generation (runs in the parent) ------------------------------------------------


@dataclass
class Result:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us_per_request: float = 0.0  # server CPU (all its threads, user + system) per request


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads included (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_serving(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"GET /reply HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if sock.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise SystemExit("server did not start in time")


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, *, post: bool, duration: int, concurrency: int, cpu: int | None) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        args = ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", url]
        if post:
            script = Path(tmp) / "post.lua"
            body = PAYLOAD.decode().replace("\\", "\\\\").replace('"', '\\"')
            lua = f'wrk.method = "POST"\nwrk.body = "{body}"\n'
            script.write_text(lua + 'wrk.headers["Content-Type"] = "application/json"\n')
            args[1:1] = ["-s", str(script)]
        out = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None,
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses:\s+(\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return Result(rps, p50, p99, errors)


async def _client(
    port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


def run_python_client(port: int, *, post: bool, duration: int, concurrency: int, cpu: int | None) -> Result:
    """Fallback when wrk is missing: keep-alive connections from one asyncio loop."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    if post:
        head = "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        request = f"{head}Content-Length: {len(PAYLOAD)}\r\n\r\n".encode() + PAYLOAD
    else:
        request = b"GET /reply HTTP/1.1\r\nHost: x\r\n\r\n"
    latencies: list[float] = []
    errors: list[int] = []

    async def drive() -> None:
        stop_at = time.perf_counter() + duration
        await asyncio.gather(
            *(_client(port, request, stop_at, latencies, errors) for _ in range(concurrency))
        )

    started = time.perf_counter()
    asyncio.run(drive())
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return Result(
        len(ordered) / elapsed,
        ordered[len(ordered) // 2] * 1000,
        ordered[int(len(ordered) * 0.99)] * 1000,
        len(errors),
    )


def bench_server(
    kind: str, args: argparse.Namespace, cpus: tuple[int | None, int | None]
) -> dict[str, Result]:
    port = free_port()
    server_cpu, client_cpu = cpus
    cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
    if server_cpu is not None:
        cmd += ["--cpu", str(server_cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    results: dict[str, Result] = {}
    try:
        wait_until_serving(port, proc)
        for route, post in (("GET /reply", False), ("POST /ingest", True)):
            url = f"http://{HOST}:{port}{'/ingest' if post else '/reply'}"
            for seconds in (WARMUP_SECONDS, args.duration):  # the first run only warms up
                cpu_before = cpu_seconds(proc.pid)
                if shutil.which("wrk"):
                    result = run_wrk(
                        url, post=post, duration=seconds, concurrency=args.concurrency, cpu=client_cpu
                    )
                else:
                    result = run_python_client(
                        port, post=post, duration=seconds, concurrency=args.concurrency, cpu=client_cpu
                    )
                served = result.requests_per_second * seconds
                result.cpu_us_per_request = (cpu_seconds(proc.pid) - cpu_before) / max(served, 1) * 1e6
            results[route] = result
            print_result(kind, route, result)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    return results


def median_of(results: list[Result]) -> Result:
    return Result(
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.errors for r in results),
        statistics.median(r.cpu_us_per_request for r in results),
    )


def print_result(kind: str, route: str, result: Result) -> None:
    rate = f"{result.requests_per_second:>9.0f} req/s"
    print(
        f"  {kind:16} {route:13} {rate}   p50 {result.p50_ms:6.2f} ms   p99 {result.p99_ms:6.2f} ms"
        f"   CPU {result.cpu_us_per_request:4.0f} us/req   errors {result.errors}",
        flush=True,
    )


def compare(table: dict[str, dict[str, Result]], candidate: str, baseline: str, note: str) -> None:
    if candidate not in table or baseline not in table:
        return
    print(f"\n{candidate} / {baseline} ({note}):")
    for route, c in table[candidate].items():
        b = table[baseline][route]
        print(
            f"  {route:13} throughput x{c.requests_per_second / b.requests_per_second:.2f}"
            f"   p50 x{c.p50_ms / b.p50_ms:.2f}   p99 x{c.p99_ms / b.p99_ms:.2f}"
            f"   CPU per request x{c.cpu_us_per_request / b.cpu_us_per_request:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement (default 10)")
    parser.add_argument("--concurrency", type=int, default=32, help="open keep-alive connections (32)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat all servers, interleaved; report medians"
    )
    parser.add_argument("--no-pin", action="store_true", help="let the OS place the server and the client")
    parser.add_argument("--servers", default=",".join(SERVERS), help=f"comma-separated subset of {SERVERS}")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cpu", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.cpu)
        return
    kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    if not kinds or any(k not in SERVERS for k in kinds):
        parser.error(f"--servers: choose from {', '.join(SERVERS)}")
    if not 1 <= args.duration <= 120 or not 1 <= args.concurrency <= 1024 or not 1 <= args.rounds <= 10:
        parser.error("keep it bounded: 1 <= duration <= 120, 1 <= concurrency <= 1024, 1 <= rounds <= 10")

    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    cpus: tuple[int | None, int | None] = (0, 1) if pin else (None, None)
    client = "wrk -t1" if shutil.which("wrk") else "built-in asyncio client"
    print(
        f"{len(kinds)} servers x 2 routes x {args.rounds} round(s), {args.duration} s each after "
        f"{WARMUP_SECONDS} s warm-up, {args.concurrency} keep-alive connections, client: {client}, "
        f"pinning: {'server CPU 0, client CPU 1' if pin else 'none'}"
    )
    runs: dict[str, dict[str, list[Result]]] = {kind: {} for kind in kinds}
    for n in range(args.rounds):
        print(f"round {n + 1}:")
        for kind in kinds:
            for route, result in bench_server(kind, args, cpus).items():
                runs[kind].setdefault(route, []).append(result)
    table = {kind: {route: median_of(rs) for route, rs in routes.items()} for kind, routes in runs.items()}
    if args.rounds > 1:
        print(f"\nmedians of {args.rounds} rounds (errors: total):")
        for kind, routes in table.items():
            for route, result in routes.items():
                print_result(kind, route, result)

    compare(table, "granian", "uvicorn", "both on uvloop")
    compare(
        table,
        "granian-asyncio",
        "uvicorn-asyncio",
        "both on the stdlib asyncio loop, as signalcraft runs today",
    )


if __name__ == "__main__":
    main()
