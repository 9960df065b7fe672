"""Notification latency: from an alert's commit to the notification request arriving at a receiver.

Two paths, each idle and under load; the receiver is a generic-webhook channel on 127.0.0.2.

- **A. outbox commit -> receiver** (notifications only). The bench writes the outbox row
  itself, as routing does inside its transaction (``outbox.enqueue`` in one
  ``Database.write``), and after that commit wakes a worker as routing does
  (``notify.tasks.dispatch``: in-process). The clock starts when the commit has returned. In
  between: the hand-off to the notify loop, the claim
  (a write), rendering the message from the group, the HMAC signature, the guarded HTTP
  client, the receiver's socket.
- **B. ingest answered -> routing -> receiver** (the whole chain, when routing is built in):
  the workspace's default route notifies the channel; each alert is POSTed as an Alertmanager
  webhook and opens a new group. Idle, the clock starts when the ingest response has arrived
  (it is sent after the commit). Under load the clock starts at the commit as the server saw
  it: the ingest edge publishes each outcome to the live inbox right after its commit
  returned, and the bench wraps that publish to note the time. Then the router thread
  routes the alert with whatever else arrived meanwhile (one write) and hands the outbox rows
  to the notifier as in A. Two more rows under load: the clock at the answer's arrival (the
  load generator, busy in its own process, can see the answer after the notification
  arrived: negative values), checked against the target too; and at the request's send, an
  upper bound that adds the whole ingest request and the load generator's own delays,
  printed for context only.

Idle: after ``--idle`` quiet seconds, ``--n`` notifications (A) or alerts (B), one every
``--interval``. Load: for ``--seconds``, ``--rate`` alerts/s through the real HTTP ingest path
(uvicorn, pipeline, single writer); in A a second thread also commits and dispatches one
notification per alert, in B every alert is a new group, so notifies.

The served instance runs in this process (``runtime.build``, its Huey consumer, uvicorn on a
free port); the receiver (HTTP/1.1, keep-alive) and the ingest load generator run in a second
process, as Slack and Alertmanager would, so they do not share the instance's interpreter
lock. Times on both sides are ``time.perf_counter()`` (CLOCK_MONOTONIC: one clock per
machine). The receiver is on loopback, which notifications may only reach when
``[notify] allowed_networks`` lists it: the bench sets it from
``SIGNALCRAFT_NOTIFY_ALLOWED_NETWORKS`` (the instance's own environment override; default
``127.0.0.2/32``).

    .venv/bin/python scripts/bench/notify_latency.py [--n 100] [--interval 0.1] [--idle 2]
        [--seconds 10] [--rate 100]

Bounded: at most 2 x (n + rate x seconds) notifications; waits at most 30 s for stragglers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import multiprocessing
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import uvicorn

from signalcraft import integrations
from signalcraft.config import DataConfig, IngestConfig, ServerConfig, load_settings, with_overrides
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import audit
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import notifications as nq
from signalcraft.notify import http as outbound_http
from signalcraft.notify import outbox
from signalcraft.notify import tasks as notify_tasks
from signalcraft.notify.base import split_secrets
from signalcraft.notify.registry import TRANSPORTS
from signalcraft.routing import tasks as routing_tasks
from signalcraft.runtime import Parts, build

RECEIVER_HOST = "127.0.0.2"
GIVE_UP_SECONDS = 30.0
SECRET = "bench-secret-bench-secret"
Sent = list[tuple[str, float]]  # (key, when the clock started)


# --- the peer process: the receiver and the ingest load generator ----------------------------


@dataclass
class Arrivals:
    """When each idempotency key (and ``bench_id`` label) first reached the receiver."""

    first: dict[str, float] = field(default_factory=dict)
    duplicates: int = 0
    changed: threading.Condition = field(default_factory=threading.Condition)

    def record(self, keys: list[str], at: float) -> None:
        with self.changed:
            if keys[0] in self.first:
                self.duplicates += 1
            for key in keys:
                self.first.setdefault(key, at)
            self.changed.notify_all()

    def wait_for(self, keys: list[str], timeout: float) -> dict[str, float]:
        with self.changed:
            self.changed.wait_for(lambda: set(keys) <= self.first.keys(), timeout)
            return {k: self.first[k] for k in keys if k in self.first}


@contextmanager
def receiver(arrivals: Arrivals) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the services are

        def setup(self) -> None:
            super().setup()
            # Headers and body are two writes: without this, Nagle holds the body until the
            # client's delayed ACK (40 ms) and the bench measures the receiver, not SignalCraft.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            at = time.perf_counter()
            doc = orjson.loads(body)
            bench_id = doc["group"]["labels"].get("bench_id")
            arrivals.record([doc["idempotency_key"], *([bench_id] if bench_id else [])], at)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{RECEIVER_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()


def alertmanager_body(i: int, unique: str = "") -> bytes:
    """One firing alert. Plain: one of 500 label sets, all in one group (new alerts and
    duplicates, never a new group). With ``unique``: a new alert in a new group, labelled
    ``bench_id=<unique>``, which routing turns into a notification."""
    if unique:
        labels = {"alertname": f"Bench-{unique}", "severity": "critical", "bench_id": unique}
        group_labels, fingerprint = {"alertname": labels["alertname"]}, unique
    else:
        labels = {"alertname": "BenchLoad", "instance": f"node-{i % 500}", "severity": "warning"}
        group_labels, fingerprint = {}, f"{i % 500:016x}"
    started = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"bench alert {i}"},
        "startsAt": started,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    return orjson.dumps(
        {
            "version": "4",
            "groupKey": "bench",
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "signalcraft",
            "groupLabels": group_labels,
            "commonLabels": labels,
            "commonAnnotations": {},
            "externalURL": "",
            "alerts": [alert],
        }
    )


@dataclass
class IngestRun:
    sent: int = 0
    failed: int = 0
    answered: Sent = field(default_factory=list)  # (bench_id, when its 2xx arrived)
    posted: Sent = field(default_factory=list)  # (bench_id, when its request was sent)


async def ingest_load(url: str, rate: float, seconds: float, unique: str) -> IngestRun:
    """Open loop: one alert per request at ``rate``/s for ``seconds``."""
    run = IngestRun(sent=int(rate * seconds))
    # aiohttp, not httpx: at 64 connections httpx's pool costs several ms of CPU per request,
    # which in this busy process delayed the answers by seconds (the load generator's delay).
    connector = aiohttp.TCPConnector(limit=64)
    budget = aiohttp.ClientTimeout(total=10.0)
    async with aiohttp.ClientSession(connector=connector, timeout=budget) as client:

        async def one(i: int) -> None:
            bench_id = f"{unique}{i}" if unique else ""
            posted = time.perf_counter()
            try:
                async with client.post(
                    url, data=alertmanager_body(i, bench_id), headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                run.failed += 1
                return
            if status >= 300:
                run.failed += 1
            elif bench_id:
                run.answered.append((bench_id, time.perf_counter()))
                run.posted.append((bench_id, posted))

        start = time.perf_counter()
        pending = []
        for i in range(run.sent):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pending.append(asyncio.create_task(one(i)))
        await asyncio.gather(*pending)
    return run


def peer_main(conn: Connection) -> None:
    """Serve commands from the bench: ("load", url, rate, seconds, unique), ("wait", keys), ("stop",)."""
    arrivals = Arrivals()
    with receiver(arrivals) as url:
        conn.send(url)
        while True:
            command, *args = conn.recv()
            if command == "load":
                conn.send(asdict(asyncio.run(ingest_load(*args))))
            elif command == "wait":
                conn.send((arrivals.wait_for(args[0], GIVE_UP_SECONDS), arrivals.duplicates))
            else:
                return


class Peer:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=peer_main, args=(child,), name="bench-peer", daemon=True)
        self.process.start()
        self.url: str = self.conn.recv()
        self.duplicates = 0

    def load(self, url: str, *, rate: float, seconds: float, unique: str = "") -> IngestRun:
        self.conn.send(("load", url, rate, seconds, unique))
        found = self.conn.recv()
        return IngestRun(
            found["sent"],
            found["failed"],
            [tuple(a) for a in found["answered"]],
            [tuple(a) for a in found["posted"]],
        )

    def latencies(self, sent: Sent) -> tuple[list[float], int]:
        """Arrival minus start for each key (waiting up to 30 s); and how many never arrived."""
        self.conn.send(("wait", [k for k, _ in sent]))
        arrived, self.duplicates = self.conn.recv()
        found = [arrived[k] - t0 for k, t0 in sent if k in arrived]
        return found, len(sent) - len(found)

    def close(self) -> None:
        self.conn.send(("stop",))
        self.process.join(10)


# --- the served instance ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    parts: Parts
    base_url: str
    ingest_token: str
    workspace_id: int
    channel_id: int
    group_id: int

    @property
    def ingest_url(self) -> str:
        return f"{self.base_url}/ingest/{self.ingest_token}"


@contextmanager
def served(data_dir: Path, receiver_url: str) -> Iterator[Instance]:
    """build() + the Huey consumer + uvicorn, in this process."""
    port = free_port()
    allowed = os.environ.get("SIGNALCRAFT_NOTIFY_ALLOWED_NETWORKS", f"{RECEIVER_HOST}/32")
    settings = with_overrides(
        load_settings(None, env={"SIGNALCRAFT_NOTIFY_ALLOWED_NETWORKS": allowed}),
        data=DataConfig(dir=str(data_dir)),
        server=ServerConfig(host="127.0.0.1", port=port),
        ingest=IngestConfig(rate_limit_per_minute=1_000_000),  # measure latency, not the limiter
    )
    parts = build(settings)
    ctx = parts.ctx
    ctx.db.open()
    if "deliver_notification" not in ctx.extras["tasks"]:  # until runtime.build registers them
        ctx.extras["tasks"] |= notify_tasks.register(ctx.huey, ctx)  # type: ignore[arg-type]
    notifier = notify_tasks.notifier_of(ctx)
    now = ctx.now()
    webhook = TRANSPORTS["webhook"]
    public, secret = split_secrets(
        webhook,
        notifier.run(webhook.check_config({"url": f"{receiver_url}/hook", "secret": SECRET}, notifier.deps)),
    )

    def setup(conn: Any) -> tuple[str, int, int, int]:
        ws = q.create_workspace(conn, "bench", "Bench", now)
        created = integrations.create(conn, ws.id, "alertmanager", "bench", {}, audit.CLI, now)
        channel = cq.create(conn, ws.id, "webhook", "bench", public, secret, now)
        group = aq.insert_group(
            conn, ws.id, created.integration.id, "bench", 4, "Bench alert", "alertmanager", "", {}, now
        )
        return created.token, ws.id, channel.id, group

    token, ws_id, channel_id, group_id = ctx.db.write(setup)
    parts.consumer.start()
    router = routing_tasks.start_router(ctx)  # as runtime.serve does
    server = uvicorn.Server(
        uvicorn.Config(
            parts.app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False
        )
    )
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    outbound_http.warm_up()  # as runtime.serve does once it is up
    try:
        yield Instance(parts, base, token, ws_id, channel_id, group_id)
    finally:
        server.should_exit = True
        thread.join(20)
        router.stop()
        parts.consumer.stop()
        notifier.close()
        ctx.db.close()


def notify_once(instance: Instance) -> tuple[str, float]:
    """Commit one outbox row, wake a worker; returns its key and when the commit returned."""
    ctx = instance.parts.ctx

    def write(conn: Any) -> str:
        nid = outbox.enqueue(
            conn,
            workspace_id=instance.workspace_id,
            channel_id=instance.channel_id,
            group_id=instance.group_id,
            event_kind="triggered",
            now=ctx.now(),
        )
        row = nq.get(conn, nid)
        assert row is not None
        return f"{nid}:{row.idempotency_key}"

    nid_key = ctx.db.write(write)
    committed = time.perf_counter()
    nid, key = nid_key.split(":", 1)
    notify_tasks.dispatch(ctx, [int(nid)])
    return key, committed


def run_idle(
    instance: Instance, peer: Peer, *, n: int, interval: float, idle: float
) -> tuple[list[float], int]:
    time.sleep(idle)
    sent = []
    for _ in range(n):
        sent.append(notify_once(instance))
        time.sleep(interval)
    return peer.latencies(sent)


def run_load(
    instance: Instance, peer: Peer, *, rate: float, seconds: float
) -> tuple[list[float], int, IngestRun]:
    sent: Sent = []

    def notifications() -> None:
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
            sent.append(notify_once(instance))

    thread = threading.Thread(target=notifications, name="bench-notify")
    thread.start()
    ingest = peer.load(instance.ingest_url, rate=rate, seconds=seconds)
    thread.join(seconds + GIVE_UP_SECONDS)
    return *peer.latencies(sent), ingest


def route_everything_to_the_channel(instance: Instance) -> bool:
    """Set the workspace's default route to notify the bench channel, if routing is built in."""
    ctx = instance.parts.ctx
    try:
        from signalcraft.routing import service
    except ImportError:
        return False
    if "route_ingest" not in ctx.extras["tasks"]:
        return False
    doc = {"notify": [instance.channel_id]}
    ctx.db.write(lambda c: service.save_default(c, instance.workspace_id, doc, audit.CLI, ctx.now()))
    return True


def run_e2e_idle(
    instance: Instance, peer: Peer, *, n: int, interval: float, idle: float
) -> tuple[list[float], int]:
    time.sleep(idle)
    sent = []
    with httpx.Client(timeout=10.0) as client:
        for i in range(n):
            bench_id = f"idle{i}"
            response = client.post(
                instance.ingest_url,
                content=alertmanager_body(i, bench_id),
                headers={"Content-Type": "application/json"},
            )
            if response.status_code < 300:
                sent.append((bench_id, time.perf_counter()))
            time.sleep(interval)
    return peer.latencies(sent)


class CommitClock:
    """Wraps the instance's alert bus: the ingest edge publishes each outcome right after its
    commit returned, so the time of ``publish`` is the commit as the server saw it."""

    def __init__(self, instance: Instance) -> None:
        self.ctx = instance.parts.ctx
        self.workspace_id = instance.workspace_id
        self.bus = self.ctx.extras["alert_bus"]
        self.seen: list[tuple[list[int], float]] = []

    def publish(self, workspace_id: int, change: Any) -> None:
        self.seen.append((sorted(getattr(change, "group_ids", ())), time.perf_counter()))
        self.bus.publish(workspace_id, change)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    @contextmanager
    def installed(self) -> Iterator[CommitClock]:
        self.ctx.extras["alert_bus"] = self
        try:
            yield self
        finally:
            self.ctx.extras["alert_bus"] = self.bus

    def committed(self) -> Sent:
        """(bench_id, when its ingest commit returned), from the groups each publish named."""
        bench_ids = dict(
            self.ctx.db.read(
                lambda c: list(
                    c.execute(
                        "SELECT group_id, json_extract(labels, '$.bench_id') FROM alerts"
                        " WHERE workspace_id = ? AND json_extract(labels, '$.bench_id') IS NOT NULL",
                        (self.workspace_id,),
                    )
                )
            )
        )
        return [(bench_ids[g], at) for groups, at in self.seen for g in groups if g in bench_ids]


def run_e2e_load(
    instance: Instance, peer: Peer, *, rate: float, seconds: float
) -> tuple[list[tuple[list[float], int]], IngestRun]:
    """Latencies with the clock started at the commit (server side), at the ingest answer
    (client side), and (an upper bound) at the ingest request's send."""
    with CommitClock(instance).installed() as clock:
        run = peer.load(instance.ingest_url, rate=rate, seconds=seconds, unique="load")
    committed = [(k, t) for k, t in clock.committed() if k.startswith("load")]
    return [peer.latencies(committed), peer.latencies(run.answered), peer.latencies(run.posted)], run


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def line(label: str, latencies: list[float], missing: int) -> str:
    if not latencies:
        return f"{label:34} no notification arrived ({missing} missing)"
    cells = "".join(f"{percentile(latencies, p) * 1000:>9.1f} ms" for p in (50, 95, 99))
    return f"{label:34}{cells}{max(latencies) * 1000:>9.1f} ms{len(latencies):>7}{missing:>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100, help="idle: notifications or alerts (100)")
    parser.add_argument("--interval", type=float, default=0.1, help="idle: seconds between them (0.1)")
    parser.add_argument("--idle", type=float, default=2.0, help="idle: quiet seconds first (2)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load: duration (10)")
    parser.add_argument("--rate", type=float, default=100.0, help="load: alerts/s (100)")
    args = parser.parse_args()
    if not (
        1 <= args.n <= 2000
        and 0 < args.interval <= 10
        and 0 <= args.idle <= 60
        and 1 <= args.seconds <= 120
        and 1 <= args.rate <= 1000
    ):
        parser.error("keep it bounded: n <= 2000, interval <= 10, idle <= 60, seconds <= 120, rate <= 1000")

    results: list[tuple[str, list[float], int]] = []
    informative: list[tuple[str, list[float], int]] = []  # printed, not held to the target
    ingest_runs: list[IngestRun] = []
    every = f"one every {args.interval * 1000:.0f} ms after {args.idle:g} s quiet"
    load = f"{args.rate:g} alerts/s through HTTP ingest for {args.seconds:g} s"
    peer = Peer()  # before the instance starts its threads
    try:
        with tempfile.TemporaryDirectory() as tmp, served(Path(tmp) / "data", peer.url) as instance:
            print(f"notification latency to a receiver on {RECEIVER_HOST} (generic webhook channel)")
            print(f"A. outbox commit -> receiver; idle: {args.n} notifications, {every}")
            results.append(
                ("A idle", *run_idle(instance, peer, n=args.n, interval=args.interval, idle=args.idle))
            )
            print(f"A. outbox commit -> receiver; load: {load}, plus {args.rate:g} notifications/s")
            latencies, missing, ingest = run_load(instance, peer, rate=args.rate, seconds=args.seconds)
            results.append((f"A under {args.rate:g} alerts/s", latencies, missing))
            ingest_runs.append(ingest)
            if route_everything_to_the_channel(instance):
                print(f"B. ingest answered -> routing -> receiver; idle: {args.n} alerts, {every}")
                idle_b = run_e2e_idle(instance, peer, n=args.n, interval=args.interval, idle=args.idle)
                results.append(("B idle", *idle_b))
                print(f"B. ingest answered -> routing -> receiver; load: {load}, each a new group")
                (committed, answered, posted), ingest = run_e2e_load(
                    instance, peer, rate=args.rate, seconds=args.seconds
                )
                results.append((f"B under {args.rate:g} alerts/s", *committed))
                results.append(("B same, clock from answer received", *answered))
                informative.append(("B same, clock from request sent", *posted))
                ingest_runs.append(ingest)
            else:
                print("B. skipped: routing is not built in (signalcraft.routing with the route_ingest task)")
    finally:
        peer.close()
    header = "".join(f"{c:>12}" for c in ("p50", "p95", "p99", "max")) + f"{'count':>7}{'missing':>8}"
    print(f"\n{'':34}{header}")
    for label, values, gone in results + informative:
        print(line(label, values, gone))
    sent, failed = sum(r.sent for r in ingest_runs), sum(r.failed for r in ingest_runs)
    print(f"\ningest requests: {sent} sent, {failed} failed; duplicate deliveries: {peer.duplicates}")
    worst = max((percentile(v, 99) if v else math.inf) for _, v, _ in results)
    verdict = "met" if worst <= 1.0 and not any(gone for _, _, gone in results) else "NOT met"
    print(f"target p99 <= 1000 ms: {verdict} (worst p99 {worst * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
