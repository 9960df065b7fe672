"""Ingest throughput and latency: SignalCraft next to Debian's Alertmanager, same load, same body.

Both peers receive the Alertmanager API v2 body (a JSON array of ``{labels, annotations,
startsAt, endsAt, generatorURL}``): Alertmanager at ``POST /api/v2/alerts``, SignalCraft at
``POST /ingest/<token>/api/v2/alerts`` of a ``prometheus`` integration. Both servers run for
the whole comparison, but load goes to one at a time, and they take turns scenario by
scenario, so the two runs being compared are seconds apart on a machine whose load drifts.
Scenarios:

- ``closed`` (a): closed loop, ``--connections`` keep-alive connections, one alert per request
  drawn at random from ``--labelsets`` fixed label sets (all sent once before, so nearly
  every request is a duplicate), as fast as the peer answers. Requests/s, p50, p99.
- ``open`` (a): open loop at ``--rate`` requests/s for ``--seconds``; latency is measured from
  the *scheduled* send time, so a stall is not hidden by the generator waiting for it
  (no coordinated omission); requests still unanswered 5 s after the last scheduled send
  count as errors (timeouts). Achieved rate, p50, p99.
- ``batch`` (b): closed loop, ``--batch`` alerts per request (the same label sets). Alerts/s.

Each run also reports the server's CPU time per request (user + system, all threads, from
``/proc``): on a shared machine it moves less than the rates do.

Load generators: ``wrk`` (C, with a Lua script that pre-formats every request) for the
closed loops, so the generator takes as little of the 2 cores as possible; a small asyncio
generator on raw HTTP/1.1 keep-alive connections for the open loop. Every non-2xx reply or
socket error is counted and shown; a run with any is flagged.

SignalCraft runs as ``python -m signalcraft serve`` on a fresh data directory, set up with
``signalcraft init`` and ``signalcraft apikey create``; the integration is created through the
HTTP API. Its per-integration rate limit is raised to 1,000,000/min for the run (the default,
6,000/min, would answer 429 long before throughput is measured; Alertmanager has none).
SignalCraft replies only after the commit (``synchronous = normal``, WAL); Alertmanager keeps
alerts in memory only.

    .venv/bin/python scripts/bench/ingest_vs_alertmanager.py [--seconds 10] [--connections 64]
        [--rate 1000] [--only alertmanager|signalcraft] [--sc-loop asyncio|uvloop]
        [--sc-http httptools|h11] [--sc-switch-ms 5]

``--sc-loop``/``--sc-http``/``--sc-switch-ms`` start SignalCraft through a small launcher that
selects the event loop / uvicorn HTTP parser / the GIL switch interval, to measure those
choices without changing the code. ``--sc-http httptools`` is uvicorn's own protocol: every
request through the ASGI app, without ``serve``'s ingest protocol (``web/ingest/protocol.py``).
Bounded: every run stops after ``--seconds`` (open loop: plus at most 5 s to drain), and
each server is stopped at the end (SIGTERM, then SIGKILL after 20 s).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ALERTMANAGER_BIN = "prometheus-alertmanager"
WRK_BIN = "wrk"
DRAIN_SECONDS = 5.0
STARTUP_SECONDS = 30.0

# --- payloads ------------------------------------------------------------------------------


def label_sets(n: int) -> list[dict[str, str]]:
    """``n`` distinct label sets shaped like node-exporter alerts (50 alert names)."""
    severities = ("critical", "warning", "info")
    return [
        {
            "alertname": f"BenchAlert{i % 50}",
            "instance": f"host-{i:04d}.example.net:9100",
            "job": "node",
            "severity": severities[i % 3],
            "team": f"team-{i % 7}",
        }
        for i in range(n)
    ]


def postable(labels: dict[str, str], now: dt.datetime) -> dict[str, object]:
    """One alert as Prometheus posts it: firing, ``endsAt`` ahead of now."""
    return {
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} on {labels['instance']}",
            "description": "Load average above 4 for 5 minutes.",
        },
        "startsAt": (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "endsAt": (now + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "generatorURL": "http://prometheus.example.net:9090/graph?g0.expr=node_load1+%3E+4&g0.tab=1",
    }


@dataclass(frozen=True)
class Bodies:
    single: list[bytes]  # one alert each, one per label set
    batches: list[bytes]  # ``batch`` alerts each, covering every label set

    @classmethod
    def make(cls, n: int, batch: int) -> Bodies:
        now = dt.datetime.now(dt.UTC)
        alerts = [postable(labels, now) for labels in label_sets(n)]
        single = [json.dumps([a], separators=(",", ":")).encode() for a in alerts]
        batches = [
            json.dumps(alerts[i : i + batch], separators=(",", ":")).encode() for i in range(0, n, batch)
        ]
        return cls(single, [b for b in batches if b.count(b'"labels"') == batch] or batches[:1])


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} was not ready after {STARTUP_SECONDS:.0f} s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class Peer:
    name: str
    base: str  # http://127.0.0.1:port
    path: str  # the API v2 alerts path
    pid: int
    note: str = ""

    @property
    def url(self) -> str:
        return self.base + self.path


@contextmanager
def alertmanager(workdir: Path) -> Iterator[Peer]:
    port = free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: blackhole\n  group_by: [alertname]\nreceivers:\n  - name: blackhole\n"
    )
    (workdir / "am-data").mkdir()
    cmd = [
        ALERTMANAGER_BIN,
        f"--config.file={config}",
        f"--storage.path={workdir / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=warn",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/-/ready", proc, "alertmanager")
        version = subprocess.run([ALERTMANAGER_BIN, "--version"], capture_output=True, text=True, check=False)
        first = (version.stdout + version.stderr).strip().splitlines() or ["alertmanager"]
        note = f"{first[0]}; in memory, a route to a receiver with no notifier"
        yield Peer("alertmanager", base, "/api/v2/alerts", proc.pid, note)
    finally:
        stop_process(proc)


# Selects the event loop and uvicorn HTTP parser without touching the code under test.
_LAUNCHER = """
import asyncio, sys
loop, http, switch = sys.argv[1], sys.argv[2], sys.argv[3]
if switch != "default":
    sys.setswitchinterval(float(switch) / 1000)
import uvicorn
_init = uvicorn.Config.__init__
def _config(self, *a, **kw):
    if http != "default":  # default: what serve uses (httptools with the ingest protocol)
        kw["http"] = http
    _init(self, *a, **kw)
uvicorn.Config.__init__ = _config
import uvloop
if loop == "asyncio":  # `signalcraft serve` runs on uvloop.run: swap in asyncio's loop
    uvloop.run = lambda main, **kw: asyncio.run(main)
from signalcraft.cli import main
sys.exit(main(sys.argv[4:]))
"""


def _cli(*args: str, config: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "signalcraft", *args, "--config", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"signalcraft {' '.join(args)} failed: {done.stderr.strip()}")
    return dict(json.loads(done.stdout))


@contextmanager
def signalcraft(workdir: Path, *, loop: str, http: str, switch_ms: float | None = None) -> Iterator[Peer]:
    port = free_port()
    config = workdir / "signalcraft.toml"
    data = workdir / "sc-data"
    _cli(
        "init", "--email", "bench@example.net", "--workspace", "bench", "--data-dir", str(data), config=config
    )
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[data]\ndir = "{data}"\n'
        '[log]\nlevel = "warning"\n'
        "[ingest]\nrate_limit_per_minute = 1000000\n"
    )
    key = str(
        _cli("apikey", "create", "--workspace", "bench", "--role", "admin", "--name", "bench", config=config)[
            "key"
        ]
    )
    if loop == "default" and http == "default" and switch_ms is None:
        cmd = [sys.executable, "-m", "signalcraft", "serve", "--config", str(config)]
        note = "python -m signalcraft serve (uvloop, httptools with the ingest protocol)"
    else:
        use_loop = "uvloop" if loop == "default" else loop
        use_http = "httptools with the ingest protocol" if http == "default" else http
        switch = "default" if switch_ms is None else f"{switch_ms:g}"
        cmd = [sys.executable, "-c", _LAUNCHER, use_loop, http, switch, "serve", "--config", str(config)]
        note = f"launcher: {use_loop} loop, uvicorn http={use_http}, GIL switch interval {switch} ms"
    proc = subprocess.Popen(cmd, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", proc, "signalcraft")
        reply = httpx.post(
            f"{base}/api/v1/workspaces/bench/integrations",
            json={"type": "prometheus", "name": "bench"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        if reply.status_code != 201:
            raise SystemExit(f"creating the integration failed: {reply.status_code} {reply.text}")
        token = reply.json()["credential"]["token"]
        yield Peer(
            "signalcraft", base, f"/ingest/{token}/api/v2/alerts", proc.pid, note + "; reply after commit"
        )
    finally:
        stop_process(proc)


# --- closed loop: wrk --------------------------------------------------------------------------


def _lua_long_string(data: bytes) -> str:
    text = data.decode()
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


WRK_LUA = """
local bodies = {%(bodies)s}
local path = %(path)s
local requests = {}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(%(seed)d + (tid or 0))
  local headers = {["Content-Type"] = "application/json"}
  for i, body in ipairs(bodies) do
    requests[i] = wrk.format("POST", path, headers, body)
  end
end
function request()
  return requests[math.random(#requests)]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests": %%d, "duration_us": %%d, "connect": %%d, "read": %%d, "write": %%d,'
    .. ' "status": %%d, "timeout": %%d, "p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class RunResult:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    scheduled: int = 0
    alerts_per_request: int = 1
    detail: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # the server's, during the run
    reopened: int = 0  # open loop: idle keep-alive connections the server had closed

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def alerts_per_second(self) -> float:
        return self.rps * self.alerts_per_request


def wrk_run(
    peer: Peer,
    bodies: list[bytes],
    *,
    seconds: float,
    connections: int,
    threads: int,
    workdir: Path,
    alerts_per_request: int,
) -> RunResult:
    script = workdir / f"wrk-{peer.name}-{len(bodies)}.lua"
    script.write_text(
        WRK_LUA
        % {
            "bodies": ",\n".join(_lua_long_string(b) for b in bodies),
            "path": json.dumps(peer.path),
            "seed": random.randrange(1 << 20),
        }
    )
    cmd = [
        WRK_BIN,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        peer.base,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK-RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    r = json.loads(line.removeprefix("WRK-RESULT "))
    errors = {k: int(r[k]) for k in ("connect", "read", "write", "status", "timeout") if r[k]}
    # wrk counts a request as done when its reply arrived; errors.status = replies >= 400.
    return RunResult(
        requests=int(r["requests"]) - errors.get("status", 0),
        seconds=r["duration_us"] / 1e6,
        errors=sum(errors.values()),
        p50_ms=r["p50_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        alerts_per_request=alerts_per_request,
        detail=errors,
    )


# --- open loop: asyncio, raw HTTP/1.1 keep-alive ---------------------------------------------


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> int:
        """Send one request, read the whole reply; the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lowered = name.strip().lower()
            if lowered == b"content-length":
                length = int(value)
            elif lowered == b"transfer-encoding":
                raise RuntimeError("chunked replies are not expected here")
        if length:
            await self.reader.readexactly(length)
        return status


async def _open_loop(
    host: str, port: int, requests: list[bytes], *, rate: float, seconds: float, max_connections: int
) -> RunResult:
    idle: list[_Conn] = []
    opened = 0
    waiters: asyncio.Queue[None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    pending: set[asyncio.Task[None]] = set()
    last_done = [0.0]
    reopened = 0

    async def connection() -> _Conn:
        # An idle keep-alive connection the server closed (uvicorn after 5 s idle; a burst
        # opens connections that the steady rate then leaves idle) is dropped before use, as
        # HTTP clients do, instead of failing the request sent on it.
        nonlocal opened, reopened
        while True:
            while idle:
                conn = idle.pop()
                if not conn.reader.at_eof():
                    return conn
                conn.writer.close()
                opened -= 1
                reopened += 1
            if opened < max_connections:
                opened += 1
                reader, writer = await asyncio.open_connection(host, port)
                writer.transport.get_extra_info("socket").setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
                )
                return _Conn(reader, writer)
            await waiters.get()

    async def one(scheduled: float, request: bytes) -> None:
        nonlocal opened
        try:
            conn = await connection()
        except OSError:
            errors["connect"] = errors.get("connect", 0) + 1
            return
        try:
            status = await conn.exchange(request)
        except (OSError, asyncio.IncompleteReadError, RuntimeError, ValueError):
            errors["read"] = errors.get("read", 0) + 1
            opened -= 1
            conn.writer.close()
            waiters.put_nowait(None)
            return
        finished = time.perf_counter()
        last_done[0] = max(last_done[0], finished)
        if 200 <= status < 300:
            latencies.append(finished - scheduled)
        else:
            errors["status"] = errors.get("status", 0) + 1
        idle.append(conn)
        waiters.put_nowait(None)

    total = int(rate * seconds)
    interval = 1.0 / rate
    rng = random.Random(7)
    start = time.perf_counter() + 0.05
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due = min(total, int((now - start) / interval) + 1) if now >= start else 0
        while sent < due:
            task = asyncio.create_task(one(start + sent * interval, requests[rng.randrange(len(requests))]))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        next_at = start + sent * interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    if pending:
        _, late = await asyncio.wait(set(pending), timeout=DRAIN_SECONDS)
        for task in late:
            task.cancel()
        errors["timeout"] = len(late)
    for conn in idle:
        conn.writer.close()
    latencies.sort()
    end = last_done[0] or time.perf_counter()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    errors = {k: v for k, v in errors.items() if v}
    return RunResult(
        requests=len(latencies),
        seconds=end - start,
        errors=sum(errors.values()),
        p50_ms=pct(50),
        p99_ms=pct(99),
        scheduled=total,
        detail=errors,
        reopened=reopened,
    )


def open_loop_run(
    peer: Peer, bodies: list[bytes], *, rate: float, seconds: float, max_connections: int
) -> RunResult:
    host, port = peer.base.removeprefix("http://").rsplit(":", 1)
    requests = [
        (
            f"POST {peer.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    run = _open_loop(host, int(port), requests, rate=rate, seconds=seconds, max_connections=max_connections)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run)
    return uvloop.run(run)


# --- the comparison ---------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Scenario:
    key: str
    title: str


SCENARIOS = (
    Scenario("closed", "(a) closed loop, 1 alert/request"),
    Scenario("open", "(a) open loop, 1 alert/request"),
    Scenario("batch", "(b) closed loop, batch of alerts/request"),
)


def prime(peer: Peer, bodies: Bodies) -> None:
    """Every label set once, so the measured runs are (nearly all) duplicates, not creations."""
    with httpx.Client(timeout=30) as client:
        for body in bodies.batches:
            reply = client.post(peer.url, content=body, headers={"Content-Type": "application/json"})
            if reply.status_code != 200:
                raise SystemExit(f"{peer.name} refused the priming batch: {reply.status_code} {reply.text}")


def run_scenario(
    peer: Peer, scenario: str, bodies: Bodies, args: argparse.Namespace, workdir: Path
) -> RunResult:
    print(f"[{peer.name}] {scenario} {args.seconds:g} s", file=sys.stderr, flush=True)
    before = process_cpu_seconds(peer.pid)
    if scenario == "open":
        result = open_loop_run(
            peer, bodies.single, rate=args.rate, seconds=args.seconds, max_connections=args.open_connections
        )
    else:
        single = scenario == "closed"
        result = wrk_run(
            peer,
            bodies.single if single else bodies.batches,
            seconds=args.seconds,
            connections=args.connections if single else args.batch_connections,
            threads=args.threads,
            workdir=workdir,
            alerts_per_request=1 if single else args.batch,
        )
    result.cpu_seconds = process_cpu_seconds(peer.pid) - before
    return result


def _err(run: RunResult) -> str:
    return "0" if not run.errors else f"{run.errors} " + ",".join(f"{k}={v}" for k, v in run.detail.items())


def report(
    results: dict[str, dict[str, RunResult]], peers: list[Peer], args: argparse.Namespace, command: str
) -> None:
    am, sc = results.get("alertmanager"), results.get("signalcraft")
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, get: Callable[[dict[str, RunResult]], object], fmt: str, ratio: bool = False) -> None:
        a = get(am) if am else None
        s = get(sc) if sc else None
        ratio_text = ""
        if ratio and isinstance(a, float) and isinstance(s, float) and a:
            ratio_text = f"{s / a:.2f}x"
        rows.append(
            (
                label,
                fmt.format(a) if a is not None else "-",
                fmt.format(s) if s is not None else "-",
                ratio_text,
            )
        )

    rate = f"{args.rate:g}/s"
    row("(a) closed loop: requests/s", lambda r: r["closed"].rps, "{:,.0f}", ratio=True)
    row("(a) closed loop: p50 ms", lambda r: r["closed"].p50_ms, "{:.2f}")
    row("(a) closed loop: p99 ms", lambda r: r["closed"].p99_ms, "{:.2f}")
    row("(a) closed loop: server CPU ms/request", lambda r: r["closed"].cpu_ms_per_request, "{:.3f}")
    row("(a) closed loop: errors", lambda r: _err(r["closed"]), "{}")
    row(f"(a) open loop {rate}: achieved req/s", lambda r: r["open"].rps, "{:,.0f}")
    row(f"(a) open loop {rate}: p50 ms", lambda r: r["open"].p50_ms, "{:.2f}")
    row(f"(a) open loop {rate}: p99 ms", lambda r: r["open"].p99_ms, "{:.2f}")
    row(f"(a) open loop {rate}: errors", lambda r: _err(r["open"]), "{}")
    row(f"(a) open loop {rate}: idle connections closed by the server", lambda r: r["open"].reopened, "{}")
    row(f"(b) {args.batch}/request: alerts/s", lambda r: r["batch"].alerts_per_second, "{:,.0f}", ratio=True)
    row(f"(b) {args.batch}/request: requests/s", lambda r: r["batch"].rps, "{:,.0f}")
    row(f"(b) {args.batch}/request: p50 ms", lambda r: r["batch"].p50_ms, "{:.2f}")
    row(f"(b) {args.batch}/request: p99 ms", lambda r: r["batch"].p99_ms, "{:.2f}")
    row(f"(b) {args.batch}/request: server CPU ms/request", lambda r: r["batch"].cpu_ms_per_request, "{:.3f}")
    row(f"(b) {args.batch}/request: errors", lambda r: _err(r["batch"]), "{}")

    head = ("metric", "alertmanager", "signalcraft", "sc/am")
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(4)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    rule = "  ".join("-" * w for w in widths)
    print()
    print(f"command: {command}")
    print(
        f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; "
        f"{args.labelsets} label sets; "
        f"closed loops: wrk -t{args.threads} -c{args.connections} (batch: -c{args.batch_connections}); "
        f"open loop: asyncio, up to {args.open_connections} connections; {args.seconds:g} s per run, "
        "peers alternate run by run"
    )
    for peer in peers:
        print(f"{peer.name}: {peer.note}")
    print()
    print(line(head))
    print(rule)
    for cells in rows:
        print(line(cells))
    print(rule)
    if am and sc:
        checks = [
            ("(a) requests/s >= 0.5x alertmanager", sc["closed"].rps >= 0.5 * am["closed"].rps),
            (
                f"(a) p99 < 50 ms at {rate} (achieved >= 95% of it, no errors)",
                sc["open"].p99_ms < 50 and sc["open"].rps >= 0.95 * args.rate and not sc["open"].errors,
            ),
            (
                "(b) alerts/s >= 1.0x alertmanager",
                sc["batch"].alerts_per_second >= am["batch"].alerts_per_second,
            ),
        ]
        for text, ok in checks:
            print(f"target {text}: {'met' if ok else 'NOT met'}")
    if any(run.errors for runs in results.values() for run in runs.values()):
        print("warning: some runs had errors (see the errors rows); their rates count only 2xx replies")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measured run")
    p.add_argument("--warmup", type=float, default=2.0, help="closed-loop warm-up before measuring")
    p.add_argument("--connections", type=int, default=64, help="closed loop (a) connections")
    p.add_argument("--batch-connections", type=int, default=16, help="closed loop (b) connections")
    p.add_argument("--threads", type=int, default=1, help="wrk threads")
    p.add_argument("--rate", type=float, default=1000.0, help="open loop requests/s")
    p.add_argument("--open-connections", type=int, default=64, help="open loop connection cap")
    p.add_argument("--labelsets", type=int, default=500)
    p.add_argument("--batch", type=int, default=50, help="alerts per request in (b)")
    p.add_argument("--only", choices=["alertmanager", "signalcraft"], default=None)
    p.add_argument("--sc-loop", choices=["default", "asyncio", "uvloop"], default="default")
    p.add_argument("--sc-http", choices=["default", "httptools", "h11"], default="default")
    p.add_argument(
        "--sc-switch-ms", type=float, default=None, help="sys.setswitchinterval for SignalCraft, in ms"
    )
    args = p.parse_args(argv)
    if not 1 <= args.seconds <= 30 or not 0 <= args.warmup <= 10:
        p.error("--seconds must be 1..30 and --warmup 0..10 (the whole run stays under 3 minutes)")
    for tool in (WRK_BIN, *([] if args.only == "signalcraft" else [ALERTMANAGER_BIN])):
        if shutil.which(tool) is None:
            p.error(f"{tool} is not installed (apt-get install -y {'wrk' if tool == WRK_BIN else tool})")
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    bodies = Bodies.make(args.labelsets, args.batch)
    results: dict[str, dict[str, RunResult]] = {}
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        peers: list[Peer] = []
        # Both run for the whole comparison (an idle peer costs nothing) and take turns, so
        # the two runs of each scenario are seconds apart on a machine whose load drifts.
        if args.only in (None, "alertmanager"):
            (root / "am").mkdir()
            peers.append(stack.enter_context(alertmanager(root / "am")))
        if args.only in (None, "signalcraft"):
            (root / "sc").mkdir()
            peers.append(
                stack.enter_context(
                    signalcraft(
                        root / "sc", loop=args.sc_loop, http=args.sc_http, switch_ms=args.sc_switch_ms
                    )
                )
            )
        for peer in peers:
            prime(peer, bodies)
            if args.warmup:
                print(f"[{peer.name}] warm-up {args.warmup:g} s", file=sys.stderr, flush=True)
                wrk_run(
                    peer,
                    bodies.single,
                    seconds=args.warmup,
                    connections=args.connections,
                    threads=args.threads,
                    workdir=root,
                    alerts_per_request=1,
                )
        for scenario in SCENARIOS:
            for peer in peers:
                results.setdefault(peer.name, {})[scenario.key] = run_scenario(
                    peer, scenario.key, bodies, args, root
                )
    report(results, peers, args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
