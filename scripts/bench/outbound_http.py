"""Outbound HTTP: client CPU per notification-sized POST, SignalCraft's guarded client
(`signalcraft.notify.http.OutboundHttp`, on aiohttp) next to a plain `httpx.AsyncClient`
(the engine it used before), against the same keep-alive receiver.

The receiver (the one of ``notify_latency.py``: ThreadingHTTPServer on 127.0.0.2) runs in
a second process, so the figure is the client's own CPU (``time.process_time()`` of this
process) divided by the requests. Each client sends ``--n`` POSTs of 1.5 KB with 1, 4 and 16 in flight.

    .venv/bin/python scripts/bench/outbound_http.py [--n 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import threading
import time
from collections.abc import Awaitable, Callable
from multiprocessing.queues import Queue
from typing import Any

import httpx

from signalcraft.notify.http import NOTIFY_POLICY, OutboundHttp

RECEIVER_HOST = "127.0.0.2"
# Shaped like a webhook notification (the receiver reads these two fields), about 1.5 KB.
BODY = b'{"idempotency_key": "k", "group": {"labels": {}}, "text": "' + b"x" * 1450 + b'"}'
HEADERS = {"Content-Type": "application/json"}


def receiver_process(url_out: Queue[str]) -> None:
    """The notification bench's receiver (keep-alive, TCP_NODELAY), in this process."""
    from notify_latency import Arrivals, receiver  # the sibling script (sys.path[0] is its folder)

    with receiver(Arrivals()) as url:
        url_out.put(url)
        threading.Event().wait()


async def measure(send: Callable[[], Awaitable[Any]], n: int, in_flight: int) -> tuple[float, float]:
    """(client CPU ms per request, requests/s)."""
    await send()  # connect first
    limit = asyncio.Semaphore(in_flight)

    async def one() -> None:
        async with limit:
            await send()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return (time.process_time() - cpu) / n * 1000, n / (time.perf_counter() - wall)


async def guarded(url: str, n: int, in_flight: int) -> tuple[float, float]:
    http = OutboundHttp(policy=NOTIFY_POLICY.with_allowed([f"{RECEIVER_HOST}/32"]))
    try:
        return await measure(lambda: http.request("POST", url, headers=HEADERS, content=BODY), n, in_flight)
    finally:
        await http.aclose()


async def plain_httpx(url: str, n: int, in_flight: int) -> tuple[float, float]:
    async with httpx.AsyncClient(trust_env=False) as client:
        return await measure(lambda: client.post(url, headers=HEADERS, content=BODY), n, in_flight)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="POSTs per client and concurrency (1000)")
    args = parser.parse_args()
    if not 10 <= args.n <= 20_000:
        parser.error("keep it bounded: 10 <= n <= 20000")
    urls: Queue[str] = multiprocessing.get_context("spawn").Queue()
    peer = multiprocessing.get_context("spawn").Process(target=receiver_process, args=(urls,), daemon=True)
    peer.start()
    url = f"{urls.get(timeout=30)}/hook"
    try:
        print(f"{args.n} POSTs of {len(BODY)} bytes per row; client CPU per request")
        for in_flight in (1, 4, 16):
            ours = asyncio.run(guarded(url, args.n, in_flight))
            theirs = asyncio.run(plain_httpx(url, args.n, in_flight))
            print(
                f"{in_flight:>2} in flight: OutboundHttp (aiohttp) {ours[0]:.2f} ms ({ours[1]:.0f}/s)"
                f"   httpx.AsyncClient {theirs[0]:.2f} ms ({theirs[1]:.0f}/s)"
                f"   ratio {ours[0] / theirs[0]:.2f}x the CPU"
            )
    finally:
        peer.terminate()
        peer.join(5)


if __name__ == "__main__":
    main()
