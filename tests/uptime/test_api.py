"""The monitors JSON API: create, read, update, pause, run now, delete; and every bad input
refused with a 400 naming the field, with nothing stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from litestar.testing import TestClient

from signalcraft.config import with_overrides
from signalcraft.db.connection import scalar
from signalcraft.runtime import Parts
from tests.conftest import signed_in
from tests.helpers import Member
from tests.uptime.conftest import Target

API = "/api/v1/workspaces/acme/monitors"


@pytest.fixture
def api(client: TestClient, owner: Member) -> TestClient:
    signed_in(client, owner)
    client.headers["X-CSRF-Token"] = owner.csrf
    return client


def count(parts: Parts, table: str = "monitors") -> int:
    return int(parts.ctx.db.read(lambda c: scalar(c, f"SELECT count(*) FROM {table}")))


def test_create_read_update_pause_run_and_delete(api: TestClient, parts: Parts, target: Target) -> None:
    created = api.post(
        API,
        json={
            "kind": "http",
            "name": "Web",
            "interval_seconds": 60,
            "settings": {"url": target.url, "keyword": "ok"},
        },
    )
    assert created.status_code == 201, created.text
    monitor = created.json()
    assert monitor["status"] == "pending" and monitor["badge_url"].endswith(
        f"/badge/{monitor['public_id']}.svg"
    )
    run = api.post(f"{API}/{monitor['id']}/run")
    assert run.status_code == 200 and run.json()["ok"] is True
    detail = api.get(f"{API}/{monitor['id']}").json()
    assert detail["monitor"]["status"] == "up" and detail["monitor"]["last_latency_ms"] is not None
    assert [e["status"] for e in detail["events"]] == ["up", "pending"]
    assert sum(h["checks"] for h in detail["latency"]) == 1
    patched = api.patch(
        f"{API}/{monitor['id']}", json={"settings": {"keyword": "healthy"}, "interval_seconds": 120}
    )
    assert patched.status_code == 200, patched.text
    assert (
        patched.json()["settings"]["keyword"] == "healthy" and patched.json()["settings"]["url"] == target.url
    )
    assert api.patch(f"{API}/{monitor['id']}", json={"paused": True}).json()["status"] == "paused"
    refused = api.post(f"{API}/{monitor['id']}/run")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "monitor"
    assert api.patch(f"{API}/{monitor['id']}", json={"paused": False}).json()["status"] == "pending"
    assert [m["name"] for m in api.get(API).json()] == ["Web"]
    assert api.delete(f"{API}/{monitor['id']}").status_code == 204
    assert api.get(f"{API}/{monitor['id']}").status_code == 404
    assert count(parts, "monitor_events") == 0


def test_a_heartbeat_gets_its_ping_urls(api: TestClient) -> None:
    found = api.post(API, json={"kind": "heartbeat", "name": "Cron", "settings": {"cron": "@daily"}}).json()
    assert found["ping_url"].startswith("http://127.0.0.1:8080/ping/")
    assert "/api/push/" in found["push_url"]
    assert (
        api.post(f"{API}/{found['id']}/run")
        .json()["error"]["message"]
        .startswith("a heartbeat is not checked")
    )


BAD: list[tuple[dict[str, Any], str, str]] = [
    ({"kind": "http", "settings": {"url": "not a url"}}, "settings.url", "unsupported scheme 'none'"),
    ({"kind": "http", "settings": {"url": "ftp://example.com/"}}, "settings.url", "unsupported scheme 'ftp'"),
    ({"kind": "http", "settings": {"url": "http://"}}, "settings.url", "the URL has no host"),
    ({"kind": "http", "settings": {"url": "http://exa mple.com/"}}, "settings.url", "cannot contain spaces"),
    ({"kind": "http", "settings": {"url": "http://exa_|mple.com/"}}, "settings.url", "not a host name"),
    ({"kind": "http", "settings": {"url": "http://example.com:99999/"}}, "settings.url", "not a valid URL"),
    (
        {"kind": "http", "settings": {"url": "http://169.254.169.254/latest/"}},
        "settings.url",
        "cloud metadata",
    ),
    (
        {"kind": "http", "settings": {"url": "https://x.test", "expected_status": "2xx"}},
        "settings.expected_status",
        "use status codes and ranges",
    ),
    (
        {"kind": "http", "settings": {"url": "https://x.test", "headers": {"Bad Header": "x"}}},
        "settings.headers",
        "is not a header name",
    ),
    (
        {"kind": "http", "settings": {"url": "https://x.test", "json_path": "a..b"}},
        "settings.json_path",
        "invalid path",
    ),
    (
        {"kind": "http", "settings": {"url": "https://x.test"}, "interval_seconds": 1},
        "interval_seconds",
        "the shortest interval allowed here is 30 s",
    ),
    (
        {
            "kind": "http",
            "settings": {"url": "https://x.test"},
            "interval_seconds": 60,
            "timeout_seconds": 90,
        },
        "timeout_seconds",
        "must not be longer than the interval",
    ),
    ({"kind": "tcp", "settings": {"host": "db.internal"}}, "settings.port", "is required"),
    (
        {"kind": "tcp", "settings": {"host": "db.internal", "port": 70000}},
        "settings.port",
        "between 1 and 65535",
    ),
    (
        {"kind": "dns", "settings": {"hostname": "x.test", "expected": "::1"}},
        "settings.expected",
        "an A record holds an IPv4 address",
    ),
    ({"kind": "heartbeat", "settings": {"cron": "0 0 30 2 *"}}, "settings.cron", "never fires"),
    ({"kind": "heartbeat", "settings": {"cron": "0 3 * *"}}, "settings.cron", "expected 5 fields"),
    (
        {"kind": "heartbeat", "settings": {"cron": "0 3 * * *", "timezone": "Nowhere/City"}},
        "settings.timezone",
        "unknown time zone",
    ),
    ({"kind": "heartbeat", "settings": {"period_seconds": 5}}, "settings.period_seconds", "between 60"),
    ({"kind": "ping", "settings": {}}, "kind", "one of http, tcp, dns, tls, heartbeat"),
    ({"kind": "http", "name": "", "settings": {"url": "https://x.test"}}, "name", "is required"),
]


def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(api: TestClient, parts: Parts) -> None:
    for body, field, message in BAD:
        response = api.post(API, json={"name": "Bad", **body})
        assert response.status_code == 400, (body, response.text)
        error = response.json()["error"]
        assert (error["field"], message in error["message"]) == (field, True), (body, error)
    assert count(parts) == 0
    assert count(parts, "audit_log") == 0


def test_the_configured_minimum_interval_holds_for_updates_too(api: TestClient, parts: Parts) -> None:
    parts.ctx.settings = with_overrides(
        parts.ctx.settings, uptime=dataclasses.replace(parts.ctx.settings.uptime, min_interval_seconds=300)
    )
    created = api.post(
        API, json={"kind": "tcp", "name": "db", "settings": {"host": "db.internal", "port": 5432}}
    )
    assert created.json()["interval_seconds"] == 300
    response = api.patch(f"{API}/{created.json()['id']}", json={"interval_seconds": 1})
    assert response.status_code == 400 and response.json()["error"]["field"] == "interval_seconds"
    assert api.patch(f"{API}/{created.json()['id']}", json={"kind": "http"}).status_code == 400


def test_metadata_addresses_may_be_allow_listed(api: TestClient, parts: Parts) -> None:
    parts.ctx.settings = with_overrides(
        parts.ctx.settings,
        uptime=dataclasses.replace(parts.ctx.settings.uptime, allowed_networks=("169.254.169.254/32",)),
    )
    response = api.post(
        API, json={"kind": "http", "name": "imds", "settings": {"url": "http://169.254.169.254/"}}
    )
    assert response.status_code == 201


def test_unknown_monitors_are_not_found(api: TestClient) -> None:
    for url in (f"{API}/999", f"{API}/abc", f"{API}/999/pings"):
        assert api.get(url).status_code == 404
