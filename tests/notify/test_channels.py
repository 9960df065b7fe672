"""Each channel's request, as a local stand-in for the service receives it (HTTP on 127.0.0.2,
allow-listed; 127.0.0.1 stays refused): Slack Block Kit by webhook and by bot (posted, then
updated on acknowledge), the Teams Adaptive Card envelope, Discord embeds, ntfy headers, the
signed generic webhook, Apprise; how HTTP outcomes are classified; and the save-time checks.

The receiver and the fixtures here are imported by the other notification tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from signalcraft.db import Database
from signalcraft.db.queries import alerts as aq
from signalcraft.db.queries import channels as cq
from signalcraft.db.queries import integrations as iq
from signalcraft.errors import InvalidInput
from signalcraft.notify import outbox
from signalcraft.notify.base import (
    NotifyDeps,
    TransportError,
    raise_for_outcome,
    retry_after_seconds,
    split_secrets,
)
from signalcraft.notify.deliver import Notifier
from signalcraft.notify.http import NOTIFY_POLICY, FetchResult, OutboundHttp
from signalcraft.notify.message import AlertMessage, MessageRenderer, sample_message
from signalcraft.notify.registry import TRANSPORTS
from signalcraft.notify.tasks import build_notifier
from signalcraft.paths import templates_dir
from signalcraft.runtime import Parts
from tests.helpers import FakeClock, workspace

RECEIVER_HOST = "127.0.0.2"
SLACK_POSTED = {"ok": True, "channel": "C0123", "ts": "1800000000.000100"}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """A stand-in for Slack, Teams, Discord, ntfy or a webhook receiver: records every request
    and answers with scripted replies (per path, in order), else 200 "ok"."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: dict[str, list[Reply]] = {}
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = receiver.next_reply(self.path)
                time.sleep(reply.delay)
                with receiver.arrived:
                    receiver.requests.append(
                        Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver.arrived.notify_all()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((RECEIVER_HOST, 0), Handler)
        self.url = f"http://{RECEIVER_HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reply(self, path: str, *replies: Reply) -> None:
        self.replies.setdefault(path, []).extend(replies)

    def next_reply(self, path: str) -> Reply:
        queued = self.replies.get(path.split("?", 1)[0])
        return queued.pop(0) if queued else Reply()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Recorded]:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.requests) >= count, timeout), (
                f"{len(self.requests)} of {count} requests arrived"
            )
            return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def receiving() -> Iterator[Receiver]:
    """A receiver for the test's duration (the other notification tests make fixtures of it)."""
    found = Receiver()
    yield found
    found.close()


def notifying(parts: Parts) -> Iterator[Notifier]:
    """The process's notifier, with the receivers' address allow-listed."""
    found = parts.ctx.extras["notifier"] = build_notifier(parts.ctx, http=allowing_receivers())
    yield found
    found.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiving()


@pytest.fixture
def notifier(parts: Parts) -> Iterator[Notifier]:
    yield from notifying(parts)


def allowing_receivers(timeout: float = 2.0) -> OutboundHttp:
    return OutboundHttp(policy=NOTIFY_POLICY.with_allowed([f"{RECEIVER_HOST}/32"]), timeout=timeout)


@pytest.fixture(scope="module")
def runner() -> Iterator[Notifier]:
    """A notifier without a database, to drive transports directly (its clock: FakeClock())."""
    deps = NotifyDeps(allowing_receivers(timeout=1.0), MessageRenderer(templates_dir()), FakeClock())
    found = Notifier(None, deps, "http://127.0.0.1:8080")
    yield found
    found.close()


def alert_group(
    db: Database, slug: str, now: float, title: str = "Disk full on db-1", severity: int = 4
) -> int:
    """An alert group in workspace ``slug`` (with the integration it needs)."""
    ws = workspace(db, slug, now)

    def create(conn: Any) -> int:
        integration = iq.create(conn, ws.id, "alertmanager", "prod", f"tok{now}{title}", {}, now)
        return aq.insert_group(
            conn,
            ws.id,
            integration.id,
            "k",
            severity,
            title,
            "alertmanager",
            "db",
            {"alertname": "DiskFull"},
            now,
        )

    return db.write(create)


def create_channel(
    notifier: Notifier, slug: str, kind: str, config: dict[str, Any], name: str = "ops"
) -> int:
    """A saved channel (checked and split as the API does), for delivery tests."""
    transport = TRANSPORTS[kind]
    public, secret = split_secrets(transport, notifier.run(transport.check_config(config, notifier.deps)))
    now = notifier.clock()
    ws = workspace(notifier.db, slug, now)
    return notifier.db.write(lambda c: cq.create(c, ws.id, kind, name, public, secret, now).id)


def enqueue(db: Database, channel_id: int, group_id: int | None, kind: str, now: float) -> int:
    """An outbox row, as routing writes it."""

    def write(conn: Any) -> int:
        channel = cq.by_id(conn, channel_id)
        assert channel is not None
        return outbox.enqueue(
            conn,
            workspace_id=channel.workspace_id,
            channel_id=channel_id,
            group_id=group_id,
            event_kind=kind,
            now=now,
        )

    return db.write(write)


def message(kind: str = "triggered", **changes: Any) -> AlertMessage:
    base = sample_message("acme", "Acme", "http://127.0.0.1:8080", 1_800_000_000.0, kind=kind, key="ntf_k1")
    fields = {
        "group_id": 7,
        "title": "Disk full on db-1",
        "severity": "critical",
        "status": "triggered",
        "link": "http://127.0.0.1:8080/w/acme/alerts/7",
        "description": "Only 2% left on /var",
    }
    return dataclasses.replace(base, **{**fields, **changes})


def send(notifier: Notifier, kind: str, config: dict[str, Any], msg: AlertMessage | None = None) -> Any:
    transport = TRANSPORTS[kind]
    clean = notifier.run(transport.check_config(config, notifier.deps))
    return notifier.run(transport.send(msg or message(), clean, notifier.deps))


# --- Slack --------------------------------------------------------------------------------


def test_slack_webhook_receives_block_kit_with_header_text_context_and_a_button(
    runner: Notifier, receiver: Receiver
) -> None:
    send(
        runner,
        "slack",
        {"webhook_url": f"{receiver.url}/services/T0/B0/x"},
        message(description="load < 1 & disk > 98%"),
    )
    [request] = receiver.wait_for(1)
    assert request.path == "/services/T0/B0/x" and request.headers["content-type"] == "application/json"
    body = request.json
    assert body["text"] == "[Triggered] [CRITICAL] Disk full on db-1"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context", "actions"]
    header, section, _context, actions = body["blocks"]
    assert header["text"]["type"] == "plain_text" and len(header["text"]["text"]) <= 150
    assert section["text"]["type"] == "mrkdwn"
    assert "load &lt; 1 &amp; disk &gt; 98%" in section["text"]["text"]  # Slack's escaping
    button = actions["elements"][0]
    assert button["type"] == "button" and button["url"] == "http://127.0.0.1:8080/w/acme/alerts/7"


def test_slack_bot_posts_with_the_token_then_updates_that_message_when_acknowledged(
    parts: Parts, notifier: Notifier, receiver: Receiver, clock: FakeClock
) -> None:
    db = parts.ctx.db
    group_id = alert_group(db, "acme", clock())
    config = {"bot_token": "xoxb-1-2-3", "channel": "#ops", "api_url": f"{receiver.url}/api"}
    channel_id = create_channel(notifier, "acme", "slack", config)
    receiver.reply("/api/chat.postMessage", Reply(body=orjson.dumps(SLACK_POSTED)))
    receiver.reply("/api/chat.update", Reply(body=orjson.dumps(SLACK_POSTED)))

    for kind in ("triggered", "acknowledged"):
        nid = enqueue(db, channel_id, group_id, kind, clock())
        assert notifier.run(notifier.deliver(nid)) == "delivered"

    posted, updated = receiver.wait_for(2)
    assert posted.path == "/api/chat.postMessage" and posted.headers["authorization"] == "Bearer xoxb-1-2-3"
    assert posted.json["channel"] == "#ops" and posted.json["blocks"][0]["type"] == "header"
    assert updated.path == "/api/chat.update"
    assert (updated.json["channel"], updated.json["ts"]) == ("C0123", "1800000000.000100")
    assert updated.json["text"].startswith("[Acknowledged]")


def test_slack_bot_errors_that_a_retry_cannot_fix_are_permanent(runner: Notifier, receiver: Receiver) -> None:
    receiver.reply(
        "/api/chat.postMessage",
        Reply(body=b'{"ok": false, "error": "channel_not_found"}'),
        Reply(body=b'{"ok": false, "error": "ratelimited"}'),
    )
    config = {"bot_token": "xoxb-1", "channel": "#gone", "api_url": f"{receiver.url}/api"}
    with pytest.raises(TransportError, match="channel_not_found") as gone:
        send(runner, "slack", config)
    assert gone.value.permanent
    with pytest.raises(TransportError, match="ratelimited") as later:
        send(runner, "slack", config)
    assert not later.value.permanent


# --- Teams, Discord -----------------------------------------------------------------------


def test_teams_receives_one_adaptive_card_in_the_workflow_message_envelope(
    runner: Notifier, receiver: Receiver
) -> None:
    send(runner, "teams", {"webhook_url": f"{receiver.url}/workflows/abc"})
    body = receiver.wait_for(1)[0].json
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0] == {
        "type": "TextBlock",
        "text": "[Triggered] [CRITICAL] Disk full on db-1",
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
        "color": "Attention",
    }
    assert {f["title"] for f in card["body"][2]["facts"]} == {"Severity", "Status", "Source", "Since"}
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open in SignalCraft",
            "url": "http://127.0.0.1:8080/w/acme/alerts/7",
        }
    ]


def test_discord_receives_an_embed_and_pings_nobody(runner: Notifier, receiver: Receiver) -> None:
    send(runner, "discord", {"webhook_url": f"{receiver.url}/api/webhooks/1/tok"}, message(kind="resolved"))
    body = receiver.wait_for(1)[0].json
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "[Resolved] [CRITICAL] Disk full on db-1" and len(embed["title"]) <= 256
    assert embed["url"] == "http://127.0.0.1:8080/w/acme/alerts/7"
    assert embed["color"] == 0x3BB273 and "Only 2% left" in embed["description"]
    assert [f["name"] for f in embed["fields"]] == ["Severity", "Status", "Source"]
    assert embed["timestamp"] == "2027-01-15T08:00:00Z"


# --- ntfy, webhook, Apprise ---------------------------------------------------------------


def test_ntfy_sends_the_text_as_body_and_title_priority_tags_click_as_headers(
    runner: Notifier, receiver: Receiver
) -> None:
    send(
        runner,
        "ntfy",
        {"server": receiver.url, "topic": "ops-alerts", "token": "tk_secret"},
        message(title="Disque plein sur db-1 ⚠ " + "é" * 80),  # long: several encoded words
    )
    [request] = receiver.wait_for(1)
    assert request.path == "/ops-alerts"
    headers = request.headers
    assert "\n" not in headers["title"]
    title = str(make_header(decode_header(headers["title"])))
    assert title == "[Triggered] [CRITICAL] Disque plein sur db-1 ⚠ " + "é" * 80
    assert headers["priority"] == "5"
    assert headers["tags"].split(",") == ["rotating_light", "critical", "signalcraft"]
    assert headers["click"] == "http://127.0.0.1:8080/w/acme/alerts/7"
    assert headers["authorization"] == "Bearer tk_secret"
    assert request.body.decode().startswith("Only 2% left on /var")


def test_the_generic_webhook_body_is_signed_and_carries_an_idempotency_key(
    runner: Notifier, receiver: Receiver
) -> None:
    secret = "a-long-shared-secret"
    send(runner, "webhook", {"url": f"{receiver.url}/hook", "secret": secret})
    [request] = receiver.wait_for(1)
    body = request.json
    assert body["schema_version"] == 1 and body["type"] == "signalcraft.notification"
    assert body["event"] == "triggered" and body["idempotency_key"] == "ntf_k1"
    assert request.headers["idempotency-key"] == "ntf_k1"
    assert body["group"]["id"] == 7 and body["group"]["severity"] == "critical"
    assert body["group"]["url"] == "http://127.0.0.1:8080/w/acme/alerts/7"
    stamp, v1 = (part.split("=", 1)[1] for part in request.headers["x-signalcraft-signature"].split(","))
    assert int(stamp) == int(runner.clock())
    expected = hmac.new(secret.encode(), f"{stamp}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)


def test_apprise_delivers_through_a_json_url(runner: Notifier, receiver: Receiver) -> None:
    host_port = receiver.url.removeprefix("http://")
    send(runner, "apprise", {"urls": [f"json://{host_port}/apprise"]})
    [request] = receiver.wait_for(1)
    assert request.path == "/apprise"
    assert request.json["title"] == "[Triggered] [CRITICAL] Disk full on db-1"
    assert "http://127.0.0.1:8080/w/acme/alerts/7" in request.json["message"]


# --- outcomes ------------------------------------------------------------------------------


def outcome(status: int, headers: dict[str, str] | None = None) -> TransportError | None:
    try:
        raise_for_outcome(FetchResult(status, headers or {}, b"no_team", "http://x/", 0.01), 1_800_000_000.0)
    except TransportError as exc:
        return exc
    return None


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_2xx_is_delivered(status: int) -> None:
    assert outcome(status) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_statuses_a_retry_cannot_fix_are_permanent(status: int) -> None:
    found = outcome(status)
    assert found is not None and found.permanent and found.status_code == status
    assert found.message == f"HTTP {status}: no_team"


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"retry-after": "30"}, 30.0),
        (429, {}, None),
        (503, {"retry-after": "Fri, 15 Jan 2027 08:02:00 GMT"}, 120.0),  # an HTTP date: 2 min after now
        (500, {}, None),
        (408, {}, None),
    ],
)
def test_rate_limits_and_server_errors_are_retried_honouring_retry_after(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    found = outcome(status, headers)
    assert found is not None and not found.permanent and found.retry_after == retry_after


def test_retry_after_garbage_is_ignored() -> None:
    assert retry_after_seconds("soon", 0.0) is None and retry_after_seconds("-5", 0.0) == 0.0


def test_a_timeout_is_retryable(runner: Notifier, receiver: Receiver) -> None:
    receiver.reply("/slow", Reply(delay=1.5))
    with pytest.raises(TransportError, match="no answer") as slow:
        send(runner, "discord", {"webhook_url": f"{receiver.url}/slow"})
    assert not slow.value.permanent


# --- save-time checks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("slack", {"webhook_url": "http://169.254.169.254/latest/meta-data/"}, "config.webhook_url"),
        (
            "slack",
            {"bot_token": "xoxb-1", "channel": "#x", "api_url": "http://[::ffff:169.254.169.254]/"},
            "config.api_url",
        ),
        ("teams", {"webhook_url": "https://127.0.0.1/workflows"}, "config.webhook_url"),
        (
            "discord",
            {"webhook_url": "http://2852039166/"},
            "config.webhook_url",
        ),  # 169.254.169.254 in decimal
        ("webhook", {"url": "http://10.0.0.5/hook", "secret": "x" * 16}, "config.url"),
        ("ntfy", {"server": "http://192.168.1.10", "topic": "t"}, "config.server"),
        (
            "email",
            {"host": "169.254.169.254", "to": ["a@example.com"], "from_address": "s@example.com"},
            "config.host",
        ),
        ("apprise", {"urls": ["json://169.254.169.254/x"]}, "config.urls[0]"),
        ("apprise", {"urls": ["gotify://10.1.2.3/token"]}, "config.urls[0]"),
    ],
)
def test_a_destination_on_a_refused_network_is_rejected_at_save_time_naming_the_field(
    runner: Notifier, kind: str, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        runner.run(TRANSPORTS[kind].check_config(config, runner.deps))
    assert refused.value.field == field and "not reach" in refused.value.message


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("slack", {}, "config.webhook_url"),
        ("slack", {"bot_token": "xoxp-user", "channel": "#x"}, "config.bot_token"),
        ("slack", {"webhook_url": "ftp://hooks.example.com/x"}, "config.webhook_url"),
        ("webhook", {"url": "https://93.184.216.34/", "secret": "short"}, "config.secret"),
        ("ntfy", {"topic": "no spaces please"}, "config.topic"),
        ("email", {"host": "93.184.216.34", "security": "ssl", "to": ["a@b.c"]}, "config.security"),
        (
            "email",
            {"host": "93.184.216.34", "to": ["not-an-address"], "from_address": "s@b.c"},
            "config.to[0]",
        ),
        ("apprise", {"urls": ["nonsense://x"]}, "config.urls[0]"),
        ("apprise", {"urls": ["dbus://"]}, "config.urls[0]"),
        ("discord", {"webhook_url": "https://93.184.216.34/", "template": "{{ title }"}, "config.template"),
        (
            "teams",
            {"webhook_url": "https://93.184.216.34/", "template": "{{ no_such_field }}"},
            "config.template",
        ),
        ("teams", {"webhook_url": "https://93.184.216.34/", "colour": "red"}, "config"),
    ],
)
def test_bad_configuration_is_rejected_at_save_time_naming_the_field(
    runner: Notifier, kind: str, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        runner.run(TRANSPORTS[kind].check_config(config, runner.deps))
    assert refused.value.field == field


def test_a_custom_template_replaces_the_text_and_sees_labels(runner: Notifier, receiver: Receiver) -> None:
    template = "{{ title }} on {{ labels.instance }} ({{ severity }})"
    send(
        runner,
        "discord",
        {"webhook_url": f"{receiver.url}/d", "template": template},
        message(labels={"instance": "db-1:9100"}),
    )
    assert (
        receiver.wait_for(1)[0].json["embeds"][0]["description"]
        == "Disk full on db-1 on db-1:9100 (critical)"
    )


def test_apprise_notify_types_are_apprises_own_values() -> None:
    import apprise

    from signalcraft.notify import apprise_channel

    kinds = {*apprise_channel.NOTIFY_TYPES.values(), apprise_channel.WARNING, apprise_channel.FAILURE}
    assert {apprise.NotifyType(k) for k in kinds} == set(apprise.NotifyType)
