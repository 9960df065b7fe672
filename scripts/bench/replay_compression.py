"""Session replay figures: compression ratio and bytes stored per recorded minute, on real
rrweb recordings of eleven different local pages, with and without a trained zstd
dictionary; then chunk ingest throughput.

    .venv/bin/python scripts/bench/replay_compression.py [--seconds 40] [--parallel 4]
        [--chunks 3000] [--concurrency 16]

What it does, all on loopback:

1. Starts ``signalcraft serve`` on a temporary data directory (workspace and recorder key
   written in-process first) and a "shop" server on another port whose pages carry the
   one-tag recorder (static/replay/recorder.js), exactly as a team's site would.
2. Drives each page in Debian's Chromium for ``--seconds`` with a scripted visitor
   (mouse, scrolling, typing, clicks, drags; one page also updates itself twice a second).
3. Finalizes every session with the periodic task's function (``now`` moved past the
   inactivity window) and reads what was stored: raw JSON size, file size, duration.
4. Recompresses each session at other zstd levels, and with a dictionary trained on the
   *other* sessions (leave-one-out, so a session never helps compress itself), for whole
   sessions and for "small" ones (their first 10 seconds).
5. Posts ``--chunks`` chunks cut from the recordings over ``--concurrency`` connections and
   reports chunks per second (each one: a database write and an fsynced append).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.server
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import zstandard
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, async_playwright

from signalcraft.config import load_settings
from signalcraft.db import Database
from signalcraft.db.queries import accounts as q
from signalcraft.db.queries import replays as rq
from signalcraft.replay.ids import new_public_key
from signalcraft.replay.service import finalize_inactive, store_for
from signalcraft.replay.storage import ZSTD_LEVEL

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SMALL_MS = 10_000

# --- the pages ------------------------------------------------------------------------------

PAGES_DIR = Path(__file__).resolve().parent / "replay_pages"
PAGES = sorted(p.stem for p in PAGES_DIR.glob("*.html"))
SCRIPT_TAG = '<script src="{sc}/static/replay/recorder.js" data-key="{key}"></script>'


def page_html(name: str, sc: str, key: str) -> str:
    """A page of replay_pages/, with the one-tag recorder where it says ``<!-- recorder -->``."""
    html = (PAGES_DIR / f"{name}.html").read_text()
    return html.replace("<!-- recorder -->", SCRIPT_TAG.format(sc=sc, key=key))


class Shop:
    """The team's site, on its own port; ``sc`` and ``key`` are filled in once SignalCraft runs."""

    def __init__(self) -> None:
        self.sc = self.key = ""
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.split("#")[0].strip("/").removesuffix(".html")
                if self.path == "/base.css":
                    data, kind = (PAGES_DIR / "base.css").read_bytes(), "text/css"
                elif name in PAGES:
                    data, kind = page_html(name, shop.sc, shop.key).encode(), "text/html"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"


# --- the visitor ------------------------------------------------------------------------------

ACTIONS: dict[str, list[tuple[str, str]]] = {
    "article": [("scroll", "")],
    "signup": [("type", "input"), ("click", "#go")],
    "table": [("click", "th"), ("type", "#q")],
    "shop": [("click", ".add"), ("scroll", "")],
    "dashboard": [("wander", "")],
    "spa": [("click", "nav a")],
    "widgets": [("click", "#tabs button"), ("click", "#open"), ("click", "#close")],
    "feed": [("scroll", ""), ("click", "article button")],
    "docs": [("scroll", "")],
    "kanban": [("drag", ".item")],
    "chat": [("chat", "#msg")],
}


async def act(page: Page, kind: str, selector: str, step: int) -> None:
    if kind == "scroll":
        await page.mouse.wheel(0, 350 if step % 7 else -900)
    elif kind == "click":
        items = page.locator(selector)
        count = await items.count()
        if count:
            target = items.nth(step % count)
            if await target.is_visible():
                await target.click(timeout=5000)
    elif kind == "type":
        items = page.locator(selector)
        count = await items.count()
        if count:
            await items.nth(step % count).click(timeout=5000)
            await page.keyboard.type(f"value {step}", delay=40)
    elif kind == "drag":
        items = page.locator(selector)
        if await items.count():
            box = await items.first.bounding_box()
            if box:
                await page.mouse.move(box["x"] + 10, box["y"] + 10)
                await page.mouse.down()
                await page.mouse.move(300 + (step % 3) * 300, 250, steps=12)
                await page.mouse.up()
    elif kind == "chat":
        await page.click(selector)
        await page.keyboard.type(f"My order {step} has not arrived yet", delay=35)
        await page.keyboard.press("Enter")


async def visit(browser: Any, url: str, name: str, seconds: float) -> str:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto(url)
    await page.wait_for_function("window.SignalCraftReplay && window.SignalCraftReplay.recording")
    session = await page.evaluate("window.SignalCraftReplay.sessionId")
    deadline, step = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        kind, selector = ACTIONS[name][step % len(ACTIONS[name])]
        await page.mouse.move(100 + (step * 97) % 1000, 100 + (step * 53) % 600, steps=10)
        with contextlib.suppress(PlaywrightError):  # a click that did not land (busy page): move on
            await act(page, kind, selector, step)
        await page.wait_for_timeout(600)
        step += 1
    await page.evaluate("window.SignalCraftReplay.flush()")
    await context.close()
    return str(session)


async def record_all(shop: Shop, seconds: float, parallel: int) -> dict[str, str]:
    sessions: dict[str, str] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        names = list(PAGES)
        for i in range(0, len(names), parallel):
            batch = names[i : i + parallel]
            found = await asyncio.gather(
                *(visit(browser, f"{shop.origin}/{n}.html", n, seconds) for n in batch)
            )
            sessions.update(zip(batch, found, strict=True))
        await browser.close()
    return sessions


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Stored:
    name: str
    replay: rq.Replay
    events: list[dict[str, Any]]
    raw: bytes


def ratio(raw: int, packed: int) -> float:
    return raw / packed if packed else 0.0


def per_minute(size: int, duration_ms: int) -> float:
    return size / max(duration_ms / 60000.0, 1e-9)


def report_sessions(stored: list[Stored]) -> None:
    print(
        f"\n{'page':<10} {'minutes':>7} {'events':>7} {'raw KB':>8} {'file KB':>8} {'ratio':>6} {'KB/min':>7}"
    )
    for s in stored:
        r = s.replay
        rate = per_minute(r.compressed_bytes, r.duration_ms) / 1024
        print(
            f"{s.name:<10} {r.duration_ms / 60000:7.2f} {r.event_count:7d} {r.raw_bytes / 1024:8.1f} "
            f"{r.compressed_bytes / 1024:8.1f} {r.ratio:6.1f} {rate:7.1f}"
        )
    raw = sum(s.replay.raw_bytes for s in stored)
    packed = sum(s.replay.compressed_bytes for s in stored)
    minutes = sum(s.replay.duration_ms for s in stored) / 60000
    rates = [per_minute(s.replay.compressed_bytes, s.replay.duration_ms) / 1024 for s in stored]
    print(
        f"\nall {len(stored)} sessions (zstd level {ZSTD_LEVEL}, as stored): "
        f"ratio {ratio(raw, packed):.1f}:1, "
        f"{packed / 1024 / minutes:.1f} KB per recorded minute overall "
        f"(per session: median {statistics.median(rates):.1f}, max {max(rates):.1f}); "
        f"targets: >= 8:1 and <= 300 KB/min"
    )


def report_levels(stored: list[Stored]) -> None:
    raw = sum(len(s.raw) for s in stored)
    print("\nzstd level   ratio   compress MB/s")
    for level in (3, 6, 9, 12, 19):
        cctx = zstandard.ZstdCompressor(level=level)
        t0 = time.perf_counter()
        packed = sum(len(cctx.compress(s.raw)) for s in stored)
        took = time.perf_counter() - t0
        print(f"{level:>10} {ratio(raw, packed):7.1f} {raw / took / 1e6:15.1f}")


def event_samples(stored: list[Stored]) -> list[bytes]:
    return [orjson.dumps(e) for s in stored for e in s.events]


def first_ms(events: list[dict[str, Any]], ms: int) -> bytes:
    start = min(e["timestamp"] for e in events)
    return orjson.dumps([e for e in events if e["timestamp"] - start <= ms])


def report_dictionary(stored: list[Stored], dict_size: int = 112_640) -> None:
    """Leave-one-out: the dictionary for a session is trained on every other session's events."""
    rows = []
    for i, s in enumerate(stored):
        others = [o for j, o in enumerate(stored) if j != i]
        trained = zstandard.train_dictionary(dict_size, event_samples(others), level=ZSTD_LEVEL)
        plain = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        with_dict = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=trained)
        small = first_ms(s.events, SMALL_MS)
        rows.append(
            (
                len(s.raw),
                len(plain.compress(s.raw)),
                len(with_dict.compress(s.raw)),
                len(small),
                len(plain.compress(small)),
                len(with_dict.compress(small)),
            )
        )
    sums = [sum(r[k] for r in rows) for k in range(6)]
    print(f"\ndictionary ({dict_size // 1024} KB, trained leave-one-out on the other sessions' events):")
    print(
        f"  whole sessions:   ratio {ratio(sums[0], sums[1]):.1f}:1 without, "
        f"{ratio(sums[0], sums[2]):.1f}:1 with"
    )
    print(
        f"  first {SMALL_MS // 1000} s only:  ratio {ratio(sums[3], sums[4]):.1f}:1 without, "
        f"{ratio(sums[3], sums[5]):.1f}:1 with "
        f"({sums[4] / len(rows) / 1024:.1f} KB vs {sums[5] / len(rows) / 1024:.1f} KB a session)"
    )


# --- ingest throughput ---------------------------------------------------------------------------


def chunk_bodies(stored: list[Stored], count: int, flush_ms: int = 5000) -> list[tuple[str, bytes]]:
    """(session id, body) pairs as the recorder batches them (what 5 s of a recording holds),
    spread over 30 sessions with their sequence numbers in order."""
    pieces: list[list[dict[str, Any]]] = []
    for s in stored:
        windows: dict[int, list[dict[str, Any]]] = {}
        for event in s.events:
            windows.setdefault(event["timestamp"] // flush_ms, []).append(event)
        pieces.extend(windows[w] for w in sorted(windows))
    out = []
    for n in range(count):
        session, seq = f"bench{n % 30:027d}", n // 30
        out.append((session, orjson.dumps({"seq": seq, "events": pieces[n % len(pieces)]})))
    return out


async def post_all(
    url: str, key: str, origin: str, bodies: list[tuple[str, bytes]], concurrency: int
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    latencies: list[float] = []

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            session, data = queue.get_nowait()
            t0 = time.perf_counter()
            r = await client.post(
                f"{url}/replay/{key}/sessions/{session}/chunks",
                content=data,
                headers={"Origin": origin, "Content-Type": "text/plain"},
            )
            latencies.append(time.perf_counter() - t0)
            if r.status_code != 202:
                raise SystemExit(f"chunk refused: {r.status_code} {r.text}")

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies


# --- setup ---------------------------------------------------------------------------------------


def prepare(workdir: Path, port: int, origin: str) -> tuple[Path, str]:
    config = workdir / "signalcraft.toml"
    config.write_text(
        f'[server]\nport = {port}\n[data]\ndir = "{workdir / "data"}"\n'
        '[log]\nlevel = "warning"\n[replay]\nquota_mb_per_workspace = 100000\n'
    )
    settings = load_settings(config, env={})
    db = Database.from_settings(settings)
    db.open()
    key = new_public_key()
    now = time.time()

    def setup(conn: Any) -> None:
        ws = q.create_workspace(conn, "bench", "Bench", now)
        rq.save_recorder(conn, ws.id, key, (origin,), 100, now)

    db.write(setup)
    db.close()
    return config, key


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def finalize_and_read(config: Path, sessions: dict[str, str]) -> tuple[list[Stored], float]:
    settings = load_settings(config, env={})
    db = Database.from_settings(settings)
    db.open()
    store = store_for(settings)
    try:
        t0 = time.perf_counter()
        finalize_inactive(db, store, settings.replay, time.time() + 3600)
        took = time.perf_counter() - t0
        stored = []
        for name, sid in sessions.items():
            replay = db.read(lambda c, s=sid: rq.replay_by_session(c, 1, s))  # type: ignore[misc]
            if replay is None or replay.status != "ready":
                print(f"{name}: no replay stored", file=sys.stderr)
                continue
            raw = b"".join(store.read_events(replay.file_path))
            stored.append(Stored(name, replay, orjson.loads(raw), raw))
    finally:
        db.close()
    return stored, took


def wait_ready(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit("signalcraft serve did not become ready")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="length of each recorded visit")
    parser.add_argument("--parallel", type=int, default=4, help="visits recorded at the same time")
    parser.add_argument("--chunks", type=int, default=3000, help="chunks posted for the throughput run")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="replay-bench-") as tmp:
        workdir, port = Path(tmp), free_port()
        shop = Shop()
        config, key = prepare(workdir, port, shop.origin)
        url = f"http://127.0.0.1:{port}"
        shop.sc, shop.key = url, key
        server = subprocess.Popen(
            [sys.executable, "-m", "signalcraft", "serve", "--config", str(config)],
            cwd=workdir,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url)
            print(f"recording {len(PAGES)} visits of {args.seconds:.0f} s in Chromium ...", flush=True)
            sessions = asyncio.run(record_all(shop, args.seconds, args.parallel))
            time.sleep(1.0)  # the last keepalive sends
            stored, finalize_took = finalize_and_read(config, sessions)
            report_sessions(stored)
            print(f"finalizing {len(stored)} sessions took {finalize_took:.2f} s")
            report_levels(stored)
            report_dictionary(stored)
            bodies = chunk_bodies(stored, args.chunks)
            took, lat = asyncio.run(post_all(url, key, shop.origin, bodies, args.concurrency))
            size = sum(len(b) for _, b in bodies)
            lat.sort()
            print(
                f"\ningest: {len(bodies)} chunks ({size / len(bodies) / 1024:.1f} KB average) over "
                f"{args.concurrency} connections in {took:.2f} s: {len(bodies) / took:.0f} chunks/s, "
                f"{size / took / 1e6:.1f} MB/s; latency p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
                f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms"
            )
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
