"""Session replay end to end, in Debian's Chromium: a real ``signalcraft serve``, a shop page
on another loopback origin with the one-tag recorder, a visitor who types and clicks across
two pages, the chunks arriving, the session finalized into its compressed file (through the
task's function with ``now`` moved past the inactivity window: nothing sleeps through it),
the file holding exactly what the browser sent, and the player page replaying it.

Screenshots: test-artifacts/screenshots/replay-*.png.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard

from signalcraft.config import load_settings
from signalcraft.db import Database
from signalcraft.db.queries import replays as rq
from signalcraft.replay.service import finalize_inactive, store_for
from tests.helpers import PASSWORD, free_port
from tests.system.conftest import Served, cli, start, write_config

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
OWNER = "owner@example.com"
SECRET_TYPED = "jane.doe@secret.example"
SHOP_CSS = """
body { font-family: sans-serif; margin: 24px; background: #fdfdfd; }
h1.hero { color: rgb(5, 150, 105); font-size: 40px; margin: 0 0 12px; }
.card { border: 2px solid #4f46e5; border-radius: 8px; padding: 16px; max-width: 520px; }
button { background: rgb(220, 38, 38); color: #fff; border: 0; padding: 8px 16px; margin-top: 8px; }
"""
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/shop.css">
<script src="/capture.js"></script>
<script src="{sc}/static/replay/recorder.js" data-key="{key}"></script>
<script src="/shop.js" defer></script></head>
<body><h1 class="hero">{title}</h1>{body}</body></html>"""
CHECKOUT = """<div class="card">
<p data-private>Card holder: Jane Doe, 4242 4242 4242 4242</p>
<label>Email <input id="email" type="email" autocomplete="off"></label>
<label>Note <textarea id="note"></textarea></label>
<button id="add" type="button">Add to cart</button>
<button id="broken" type="button">Apply coupon</button>
<p id="status"></p></div>"""
SHOP_JS = """
document.addEventListener("DOMContentLoaded", function () {
  var add = document.getElementById("add");
  if (add) add.addEventListener("click", function () {
    var item = document.createElement("li");
    item.textContent = "Blue mug added to the cart";
    document.getElementById("status").appendChild(item);
  });
  var broken = document.getElementById("broken");
  if (broken) broken.addEventListener("click", function () { window.cart.applyCoupon("SAVE10"); });
});
"""


# The test's eyes in the page, loaded before the recorder: every chunk body the recorder hands
# to fetch() is kept in sessionStorage, which outlives the page (pagehide sends are captured
# too, and read back on the next page).
CAPTURE_JS = """
(function () {
  var original = window.fetch;
  window.fetch = function (url, init) {
    if (String(url).indexOf("/chunks") > 0) {
      var kept = JSON.parse(sessionStorage.getItem("captured") || "[]");
      kept.push(new TextDecoder().decode(init.body));
      sessionStorage.setItem("captured", JSON.stringify(kept));
    }
    return original.apply(this, arguments);
  };
})();
"""


class Shop:
    """The team's site: another origin (other port) than SignalCraft, serving two pages."""

    def __init__(self, signalcraft_url: str) -> None:
        self.signalcraft_url = signalcraft_url
        self.key = ""
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                pages = {
                    "/checkout.html": ("Checkout", CHECKOUT),
                    "/thanks.html": ("Thank you", "<p class='card'>Order 1042 is on its way.</p>"),
                }
                if self.path in pages:
                    title, body = pages[self.path]
                    self._send(
                        PAGE.format(title=title, body=body, sc=shop.signalcraft_url, key=shop.key),
                        "text/html",
                    )
                elif self.path == "/shop.css":
                    self._send(SHOP_CSS, "text/css")
                elif self.path == "/shop.js":
                    self._send(SHOP_JS, "text/javascript")
                elif self.path == "/capture.js":
                    self._send(CAPTURE_JS, "text/javascript")
                else:
                    self.send_error(404)

            def _send(self, text: str, kind: str) -> None:
                data = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    port = free_port()
    config = tmp_path / "signalcraft.toml"
    made = cli(
        "init",
        "--config",
        str(config),
        "--email",
        OWNER,
        "--workspace",
        "acme",
        "--password-file",
        "-",
        "--data-dir",
        str(tmp_path / "data"),
        cwd=tmp_path,
        stdin=PASSWORD,
    )
    assert made.returncode == 0, made.stderr
    config = write_config(tmp_path, port)
    served = start(tmp_path, config, port)
    stream = served.proc.stderr
    assert stream is not None
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()  # keep the pipe drained
    yield served, config
    served.stop()


@pytest.fixture
def chromium() -> Iterator[Any]:
    import playwright.sync_api as playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: scripts/test installs it"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def sign_in_and_set_up_the_recorder(page: Any, url: str, shop: Shop) -> str:
    page.goto(f"{url}/login?next=/w/acme/settings/replays")
    page.fill("#login-email", OWNER)
    page.fill("#login-password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url("**/w/acme/settings/replays")
    page.fill("#replay-origins", shop.origin)
    page.click("text=Create the recorder key")
    page.wait_for_selector("[data-replay-key]")
    page.screenshot(path=str(SHOTS / "replay-settings.png"), full_page=True)
    snippet = page.text_content("[data-replay-snippet]")
    assert f'src="{url}/static/replay/recorder.js"' in snippet
    return str(page.text_content("[data-replay-key]")).strip()


def visit_the_shop(visitor: Any, shop: Shop, answers: list[int]) -> tuple[str, list[str]]:
    """Type, click, hit a page error, go to a second page; returns the session id and the
    chunk bodies the recorder sent."""
    visitor.on("response", lambda r: answers.append(r.status) if r.url.endswith("/chunks") else None)
    visitor.goto(f"{shop.origin}/checkout.html")
    visitor.wait_for_function("window.SignalCraftReplay && window.SignalCraftReplay.recording")
    session_id = str(visitor.evaluate("window.SignalCraftReplay.sessionId"))
    visitor.evaluate("window.SignalCraftReplay.identify('customer-42')")
    visitor.click("#email")
    visitor.keyboard.type(SECRET_TYPED, delay=10)
    visitor.fill("#note", "leave it at the door")
    visitor.click("#add")
    visitor.wait_for_selector("text=Blue mug added to the cart")
    visitor.click("#broken")  # TypeError in the page: an "error" mark on the timeline
    visitor.mouse.move(200, 300, steps=8)
    visitor.evaluate("window.SignalCraftReplay.flush()")
    visitor.click("#add")
    visitor.goto(f"{shop.origin}/thanks.html")  # pagehide: the rest goes with keepalive
    visitor.wait_for_function("window.SignalCraftReplay && window.SignalCraftReplay.recording")
    assert visitor.evaluate("window.SignalCraftReplay.sessionId") == session_id  # one session, two pages
    visitor.mouse.move(100, 100, steps=5)
    visitor.evaluate("window.SignalCraftReplay.flush()")  # resolves when its sends are answered
    return session_id, visitor.evaluate("JSON.parse(sessionStorage.getItem('captured'))")


def events_sent(bodies: list[str]) -> list[dict[str, Any]]:
    """What the browser sent, as the server must keep it: by seq, each seq once."""
    chunks: dict[int, list[dict[str, Any]]] = {}
    for raw in bodies:
        chunk = orjson.loads(raw)
        chunks.setdefault(chunk["seq"], chunk["events"])
    return [event for seq in sorted(chunks) for event in chunks[seq]]


def finalize_now(config: Path, session_id: str, chunks: int) -> tuple[list[str], Path]:
    """Once every chunk is in (the last one left with the first page, keepalive), run the
    periodic task's function from this process with ``now`` past the inactivity window."""
    settings = load_settings(config, env={})
    db = Database.from_settings(settings)
    db.open()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = db.read(lambda c: rq.replay_by_session(c, 1, session_id))
            if found is not None and found.chunk_count >= chunks:
                break
            time.sleep(0.05)
        later = time.time() + (settings.replay.inactivity_minutes + 1) * 60.0
        done = finalize_inactive(db, store_for(settings), settings.replay, later)
        replay = db.read(lambda c: rq.replay_by_session(c, 1, session_id))
    finally:
        db.close()
    assert replay is not None
    return done, settings.data.path / "replays" / replay.file_path


def test_a_recorded_session_is_stored_compressed_and_replayed(
    instance: tuple[Served, Path], chromium: Any
) -> None:
    served, config = instance
    SHOTS.mkdir(parents=True, exist_ok=True)
    shop = Shop(served.url)
    admin = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = admin.new_page()
    shop.key = sign_in_and_set_up_the_recorder(page, served.url, shop)

    visitor = chromium.new_context(viewport={"width": 1024, "height": 700}).new_page()
    answers: list[int] = []
    session_id, sent = visit_the_shop(visitor, shop, answers)
    assert len(sent) >= 2 and answers and set(answers) == {202}, answers

    done, path = finalize_now(config, session_id, len({orjson.loads(b)["seq"] for b in sent}))
    assert done == [session_id]
    assert path.name == f"{session_id}.rrweb.zst"
    stored = orjson.loads(zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read())
    expected = events_sent(sent)
    assert stored == expected  # exactly the events the browser sent
    text = orjson.dumps(stored).decode()
    assert SECRET_TYPED not in text and "leave it at the door" not in text  # inputs masked
    # [data-private] text masked (the card number with its space: timestamps may hold "4242")
    assert "4242 4242" not in text and "Jane Doe" not in text
    assert "Blue mug added to the cart" in text
    assert any(e["type"] == 5 and e["data"]["tag"] == "error" for e in stored)

    page.goto(f"{served.url}/w/acme/replays")
    page.wait_for_selector(f"a[href='/w/acme/replays/{session_id}']")
    page.screenshot(path=str(SHOTS / "replay-list.png"), full_page=True)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.goto(f"{served.url}/w/acme/replays/{session_id}")
    page.wait_for_selector("[data-replay-player][data-state=ready]", timeout=15_000)
    frame = page.frame_locator(".replayer-wrapper iframe")
    frame.locator("h1.hero").wait_for()
    assert frame.locator("h1.hero").evaluate("e => getComputedStyle(e).color") == "rgb(5, 150, 105)"
    page.click("[data-seek-ms]")  # jump to the error mark: the checkout page, paused
    frame.locator("text=Blue mug added to the cart").wait_for()
    page.screenshot(path=str(SHOTS / "replay-player.png"), full_page=True)
    page.locator(".rr-controller").screenshot(path=str(SHOTS / "replay-controller.png"))
    page.click(".rr-controller__btns button")  # play
    frame.locator("text=Order 1042 is on its way.").wait_for(timeout=10_000)  # played on to the second page
    assert not [m for m in console if "Content Security Policy" in m or "Refused" in m], console
    assert "customer-42" in page.text_content("main")

    # Sampling: at 0 % a new visitor is not recorded, and rrweb is not even downloaded.
    page.goto(f"{served.url}/w/acme/settings/replays")
    page.fill("#replay-rate", "0")
    page.click("text=Save")
    unsampled = chromium.new_context().new_page()
    unsampled.goto(f"{shop.origin}/checkout.html")
    unsampled.wait_for_load_state("networkidle")
    assert unsampled.evaluate("[window.SignalCraftReplay.recording, typeof window.rrwebRecord]") == [
        False,
        "undefined",
    ]
